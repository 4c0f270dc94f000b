package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"google.golang.org/protobuf/proto"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Bounds of one job submitted by label --server: the input is sent in
// jobs of at most this many problems and about this many bytes of input,
// one after the other (the server's defaults accept 10000 problems and 64
// MiB per request).
const (
	serverBatchProblems = 1000
	serverBatchBytes    = 16 << 20
)

// labelServerFlags are label's flags for labeling through a shepherd
// server (`shepherd serve` and its workers) instead of in-process.
type labelServerFlags struct {
	addr            string
	token           string
	tlsCA           string
	tlsCert, tlsKey string
	insecure        bool
	maxOutage       time.Duration
}

func (r *labelServerFlags) register(fs *flag.FlagSet) {
	r.registerFor(fs, "label through the shepherd server at host:port instead of in-process: its workers run the rollouts on their backends (no --backend here) and it sets the window; records and summary are the same")
}

// registerFor adds --server with the given usage and the connection flags
// that go with it.
func (r *labelServerFlags) registerFor(fs *flag.FlagSet, serverUsage string) {
	fs.StringVar(&r.addr, "server", "", serverUsage)
	fs.StringVar(&r.token, "token", "", "--server: bearer token (prefer SHEPHERD_TOKEN: command lines are visible to other users)")
	fs.StringVar(&r.tlsCA, "tls-ca", "", "--server: PEM CA bundle that signs the server's certificate (default: the system roots)")
	fs.StringVar(&r.tlsCert, "tls-client-cert", "", "--server: PEM client certificate, for a server that requires mutual TLS")
	fs.StringVar(&r.tlsKey, "tls-client-key", "", "--server: PEM key of --tls-client-cert")
	fs.BoolVar(&r.insecure, "insecure", false, "--server: connect without TLS (plaintext)")
	fs.DurationVar(&r.maxOutage, "max-outage", 2*time.Minute, "--server: give up (exit non-zero) when the server cannot be reached for this long; a server refusing new work for now (RESOURCE_EXHAUSTED) is waited for")
}

// connect dials the server, reporting the first retry of an outage on
// stderr under the command's name.
func (r *labelServerFlags) connect(ctx context.Context, e env, cmd string) (*client.Client, error) {
	if r.insecure && (r.tlsCA != "" || r.tlsCert != "" || r.tlsKey != "") {
		return nil, usageErrorf("--insecure excludes --tls-ca, --tls-client-cert and --tls-client-key")
	}
	if r.maxOutage <= 0 {
		return nil, usageErrorf("--max-outage must be positive, got %v", r.maxOutage)
	}
	opt := client.Options{
		Token: r.token, Insecure: r.insecure, CAFile: r.tlsCA, CertFile: r.tlsCert, KeyFile: r.tlsKey,
		MaxOutage: r.maxOutage,
		OnRetry: func(err error, attempt int, wait time.Duration) {
			switch {
			case status.Code(err) == codes.ResourceExhausted:
				fmt.Fprintf(e.stderr, "shepherd %s: the server refuses new work for now (%s); retrying in %v\n", cmd, status.Convert(err).Message(), wait.Round(time.Millisecond))
			case attempt == 1:
				fmt.Fprintf(e.stderr, "shepherd %s: lost the server (%v); reconnecting for up to %v (--max-outage)\n", cmd, err, r.maxOutage)
			}
		},
	}
	if opt.TokenInPlaintext() {
		fmt.Fprintf(e.stderr, "shepherd %s: warning: --insecure sends the bearer token in plaintext: anyone on the network path to %s can read it (use TLS, or --insecure only on loopback or a trusted network)\n", cmd, r.addr)
	}
	c, err := client.Dial(ctx, r.addr, opt)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// dial is connect for callers that only need the raw API.
func (r *labelServerFlags) dial(ctx context.Context, e env, cmd string) (shepherdv1.ShepherdServiceClient, func(), error) {
	c, err := r.connect(ctx, e, cmd)
	if err != nil {
		return nil, nil, err
	}
	return c.API(), func() { c.Close() }, nil
}

// runLabelServer is label's --server path: it reads and validates the
// input like the embedded path, sends the solutions not yet in --out to
// the server in jobs, and writes each job's records as they stream in
// (resuming the stream across server restarts), then prints the same
// summary line. An interrupted run cancels the job it was following.
func runLabelServer(ctx context.Context, e env, f *labelFlags, strategy labeler.Strategy, mode labeler.SplitMode,
	limits labeler.InputLimits, in *problemReader, sink *exportSink, done map[solutionKey]bool) error {
	r := &f.remote
	switch {
	case len(f.backend.backends) > 0:
		return usageErrorf("--backend does not go with --server: the server's workers run the rollouts on their backends")
	case f.backend.model == "":
		return usageErrorf("--model is required with --server (a model the server's workers serve, e.g. sim)")
	}
	c, err := r.connect(ctx, e, "label")
	if err != nil {
		return err
	}
	defer c.Close()

	temp, topP, reuse := f.temp, f.topP, f.reuse
	spec := &shepherdv1.JobSpec{
		Strategy: convert.StrategyProto(strategy), N: proto.Int32(int32(f.n)), Seed: f.seed,
		Temperature: &temp, TopP: &topP, MaxTokens: int32(f.maxTokens), Stop: f.stop,
		Split: convert.SplitModeProto(mode), SplitTag: f.splitTag, MaxSteps: int32(f.maxSteps), Reuse: &reuse,
	}
	src := &problemBatches{in: in, limits: limits, skip: done}
	bar := newProgress(e, f.progress, f.in)
	start := time.Now()
	var tot remoteTotals
	for {
		batch, err := src.next()
		if err != nil {
			bar.finish()
			return err
		}
		if len(batch) == 0 {
			break
		}
		if err := tot.runJob(ctx, e, c, client.Request{Model: f.backend.model, Spec: spec, Problems: batch}, sink, bar); err != nil {
			bar.finish()
			return err
		}
	}
	bar.finish()
	if err := sink.Close(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	cached := 0.0
	if tot.promptTokens > 0 {
		cached = 100 * float64(tot.cachedTokens) / float64(tot.promptTokens)
	}
	dest := f.out
	if dest == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(e.stderr, "labelled %d solutions (%d steps, %d skipped as done) with %d rollouts (%d shared), %d completion + %d prompt tokens (%.0f%% prompt cache hits) in %.1fs; %d failed tasks, %d solutions with failed steps; labels in %s\n",
		tot.solutions, tot.steps, src.skipped, tot.rollouts, tot.shared, tot.completionTokens, tot.promptTokens, cached, secs, tot.failedTasks, tot.withFailed, dest)
	if tot.failedTasks > 0 || tot.withFailed > 0 {
		tot.errors.print(e.stderr, "jobs")
		return partialError{fmt.Sprintf("partial result: %d of %d solutions have failed steps (null labels there; left out of trainer formats)", tot.withFailed, tot.solutions)}
	}
	return nil
}

// remoteTotals add up the jobs of one label --server run.
type remoteTotals struct {
	solutions, steps, withFailed                 int
	rollouts, shared, failedTasks                int64
	promptTokens, completionTokens, cachedTokens int64
	errors                                       failureTally // the servers' messages of partial jobs
}

// runJob submits one job, writes its records as they arrive and adds its
// final counts.
func (t *remoteTotals) runJob(ctx context.Context, e env, c *client.Client, req client.Request, sink *exportSink, bar *progress) error {
	s := c.LabelSolutions(ctx, req)
	defer s.Close()
	for s.Next() {
		ev := s.Event()
		if rec := ev.Record; rec != nil {
			if err := sink.Write(*rec); err != nil {
				return err
			}
			t.solutions++
			t.steps += len(rec.Completions)
			if len(rec.FailedSteps) > 0 {
				t.withFailed++
			}
		}
		if j := ev.Job; j != nil {
			bar.update(rollout.JobStats{Solutions: t.solutions, Samples: int(t.rollouts + j.GetRollouts()),
				CompletionTokens: int(t.completionTokens + j.GetCompletionTokens())})
		}
	}
	if n := s.Dropped(); n > 0 {
		fmt.Fprintf(e.stderr, "shepherd label: job %s: the server sent %d records again (its Redis lost them in a restart and they were labelled again); kept the first of each\n", s.JobID(), n)
	}
	if err := s.Err(); err != nil {
		if id := s.JobID(); id != "" && ctx.Err() != nil {
			// Interrupted: stop spending rollouts on a job nobody reads.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, cerr := c.Cancel(cctx, id); cerr == nil {
				fmt.Fprintf(e.stderr, "shepherd label: cancelled job %s (rerun with --resume to go on)\n", id)
			}
			cancel()
		}
		if id := s.JobID(); id != "" {
			return fmt.Errorf("job %s: %w", id, err)
		}
		return err
	}
	j := s.Job()
	switch j.GetState() {
	case shepherdv1.JobState_JOB_STATE_SUCCEEDED, shepherdv1.JobState_JOB_STATE_PARTIAL:
	default:
		return fmt.Errorf("job %s ended %s: %s", j.GetId(), client.StateName(j.GetState()), j.GetError())
	}
	if j.GetState() == shepherdv1.JobState_JOB_STATE_PARTIAL && j.GetError() != "" {
		t.errors.add(j.GetError())
	}
	t.rollouts += j.GetRollouts()
	t.shared += j.GetSharedRollouts()
	t.failedTasks += j.GetTasksFailed()
	t.promptTokens += j.GetPromptTokens()
	t.completionTokens += j.GetCompletionTokens()
	t.cachedTokens += j.GetCachedTokens()
	return nil
}

// problemBatches reads input problems, checks them as the embedded path
// does short of splitting them (same ids, same errors; the server splits),
// leaves out the solutions already done, and yields them in batches that
// fit one job.
type problemBatches struct {
	in      *problemReader
	limits  labeler.InputLimits
	skip    map[solutionKey]bool
	skipped int
	held    *labeler.Problem // read but not fitting the previous batch
	heldLen int
	eof     bool
}

// next returns the next batch; an empty one at the end of the input.
func (b *problemBatches) next() ([]labeler.Problem, error) {
	var batch []labeler.Problem
	size := 0
	for len(batch) < serverBatchProblems {
		if b.held == nil {
			p, n, err := b.read()
			if err != nil {
				return nil, err
			}
			if p == nil {
				break
			}
			b.held, b.heldLen = p, n
		}
		if len(batch) > 0 && size+b.heldLen > serverBatchBytes {
			break
		}
		batch = append(batch, *b.held)
		size += b.heldLen
		b.held = nil
	}
	return batch, nil
}

// read returns the next problem with solutions left to label and the
// size of its input line; nil at the end.
func (b *problemBatches) read() (*labeler.Problem, int, error) {
	for !b.eof {
		p, err := b.in.next()
		if errors.Is(err, io.EOF) {
			b.eof = true
			break
		}
		if err != nil {
			return nil, 0, err
		}
		// The ids the embedded path gives, made explicit so the server's
		// records carry them too; the server splits the solutions.
		checked, err := p.Check(p.defaultID, b.limits)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %v", p.where, err)
		}
		out := checked
		out.Solutions = nil
		for _, s := range checked.Solutions {
			if b.skip[solutionKey{out.ID, s.ID}] {
				b.skipped++
				continue
			}
			out.Solutions = append(out.Solutions, s)
		}
		if len(out.Solutions) > 0 {
			return &out, p.size, nil
		}
	}
	return nil, 0, nil
}
