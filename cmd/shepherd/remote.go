package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

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

// serverFlags are the flags of a command working through a shepherd
// server (`shepherd serve` and its workers) instead of in-process: --server
// and the connection flags that go with it.
type serverFlags struct {
	addr            string
	token           string
	tlsCA           string
	tlsCert, tlsKey string
	insecure        bool
	maxOutage       time.Duration
}

func (r *serverFlags) register(fs *flag.FlagSet) {
	r.registerFor(fs, "label through the shepherd server at host:port instead of in-process: its workers run the rollouts on their backends (no --backend here) and it sets the window; records and summary are the same")
}

// registerFor adds --server with the given usage and the connection flags
// that go with it.
func (r *serverFlags) registerFor(fs *flag.FlagSet, serverUsage string) {
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
func (r *serverFlags) connect(ctx context.Context, e env, cmd string) (*client.Client, error) {
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
func (r *serverFlags) dial(ctx context.Context, e env, cmd string) (shepherdv1.ShepherdServiceClient, func(), error) {
	c, err := r.connect(ctx, e, cmd)
	if err != nil {
		return nil, nil, err
	}
	return c.API(), func() { c.Close() }, nil
}

// labelRemote is label's --server path: it reads and validates the
// input like the embedded path, sends the solutions not yet in --out to
// the server in jobs, and writes each job's records as they stream in
// (resuming the stream across server restarts). An interrupted run
// cancels the job it was following.
func (f *labelFlags) labelRemote(ctx context.Context, e env, in io.Reader, sink *exportSink, done map[solutionKey]bool) (*labelSummary, error) {
	sum := &labelSummary{failuresIn: "jobs"}
	switch {
	case len(f.backend.backends) > 0:
		return sum, usageErrorf("--backend does not go with --server: the server's workers run the rollouts on their backends")
	case f.backend.model == "":
		return sum, usageErrorf("--model is required with --server (a model the server's workers serve, e.g. sim)")
	}
	c, err := f.remote.connect(ctx, e, "label")
	if err != nil {
		return sum, err
	}
	defer c.Close()
	src := &problemBatches{r: newLineReader(in), limits: f.limits, skip: done}
	bar := newProgress(e, f.progress, f.in)
	defer bar.finish()
	sum.start = time.Now()
	spec := f.jobSpec()
	for {
		batch, err := src.next()
		if err != nil || len(batch) == 0 {
			sum.skipped = src.skipped
			return sum, err
		}
		if err := sum.runJob(ctx, e, c, client.Request{Model: f.backend.model, Spec: spec, Problems: batch}, sink, bar); err != nil {
			return sum, err
		}
	}
}

// jobSpec is the job the flags describe, as the server takes it.
func (f *labelFlags) jobSpec() *shepherdv1.JobSpec {
	sp := f.sampling
	return &shepherdv1.JobSpec{
		Strategy: convert.StrategyProto(f.strat), N: proto.Int32(int32(sp.n)), Seed: sp.seed,
		Temperature: &sp.temp, TopP: &sp.topP, MaxTokens: int32(sp.maxTokens), Stop: f.stop,
		Split: convert.SplitModeProto(f.limits.Mode), SplitTag: f.limits.Tag, MaxSteps: int32(f.limits.MaxSteps), Reuse: &sp.reuse,
	}
}

// runJob submits one job, writes its records as they arrive and adds its
// final counts.
func (t *labelSummary) runJob(ctx context.Context, e env, c *client.Client, req client.Request, sink *exportSink, bar *progress) error {
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
		t.failures.add(j.GetError())
	}
	t.rollouts += j.GetRollouts()
	t.shared += j.GetSharedRollouts()
	t.failedTasks += j.GetTasksFailed()
	t.promptTokens += j.GetPromptTokens()
	t.completionTokens += j.GetCompletionTokens()
	t.cachedTokens += j.GetCachedTokens()
	return nil
}

// problemBatches reads input problems, validates and splits them as the
// embedded path does (same ids, same errors), leaves out the solutions
// already done, and yields them in batches that fit one job.
type problemBatches struct {
	r       *lineReader
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
		line, n, err := b.r.next()
		if errors.Is(err, io.EOF) {
			b.eof = true
			break
		}
		if err != nil {
			return nil, 0, err
		}
		var p labeler.Problem
		if err := json.Unmarshal(line, &p); err != nil {
			return nil, 0, fmt.Errorf("input line %d: %v", n, err)
		}
		sols, err := p.Prepare("line"+strconv.Itoa(n), b.limits)
		if err != nil {
			return nil, 0, fmt.Errorf("input line %d: %v", n, err)
		}
		// The ids the embedded path gives, made explicit so the server's
		// records carry them too.
		out := labeler.Problem{ID: sols[0].ProblemID, Question: p.Question, Answer: p.Answer}
		for i, s := range p.Solutions {
			sid := sols[i].SolutionID
			if b.skip[solutionKey{out.ID, sid}] {
				b.skipped++
				continue
			}
			out.Solutions = append(out.Solutions, labeler.SolutionInput{ID: sid, Text: s.Text, Steps: s.Steps})
		}
		if len(out.Solutions) > 0 {
			return &out, len(line), nil
		}
	}
	return nil, 0, nil
}
