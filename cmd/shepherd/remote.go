package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

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

// labelRemote is label's --server path: it reads and validates the
// input like the embedded path, sends the solutions not yet in --out to
// the server in jobs, and writes each job's records as they stream in
// (resuming the stream across server restarts). An interrupted run
// cancels the job it was following.
func (f *labelFlags) labelRemote(ctx context.Context, e env, in *problemReader, sink *exportSink, done map[solutionKey]bool) (*labelSummary, error) {
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
	src := &problemBatches{in: in, limits: f.limits, skip: done}
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
	return t.addServerJob(s.Job())
}

// addServerJob adds the final counts of a server job that ended; an error for a job
// that did not succeed, even in part.
func (t *labelSummary) addServerJob(j *shepherdv1.Job) error {
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
