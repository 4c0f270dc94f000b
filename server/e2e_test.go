package server

import (
	"io"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// embeddedOptions are the embedded path's options equal to the API spec
// {strategy, n, seed} with every other default.
func embeddedOptions(strategy labeler.Strategy, n int, seed int64) rollout.JobOptions {
	return rollout.JobOptions{ID: "label", Strategy: strategy, N: n, Seed: seed,
		Params: rollout.SamplingParams{Temperature: DefaultJobTemperature, TopP: DefaultJobTopP, MaxTokens: DefaultJobMaxTokens},
		Reuse:  true, Window: DefaultWindow}
}

// TestLabelsMatchEmbeddedPath labels a data set through the service, with
// workers on the Redis queue, and checks every record against the
// embedded path's (in-process queue, same seed and spec).
func TestLabelsMatchEmbeddedPath(t *testing.T) {
	h := newHarness(t)
	h.startWorker(sim.Options{})
	h.startWorker(sim.Options{})
	ts := h.startServer(Options{})
	problems, prepared := simProblems(t, 3, 15, 4)

	for _, tc := range []struct {
		name     string
		strategy shepherdv1.Strategy
		stream   bool // LabelSolutions instead of SubmitJob + StreamLabels
	}{
		{"exhaustive", shepherdv1.Strategy_STRATEGY_EXHAUSTIVE, false},
		{"binary", shepherdv1.Strategy_STRATEGY_BINARY, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			spec := &shepherdv1.JobSpec{Strategy: tc.strategy, N: proto.Int32(4), Seed: 7}
			var got streamed
			if tc.stream {
				st, err := ts.client.LabelSolutions(ctx, &shepherdv1.LabelSolutionsRequest{RequestId: "e2e-" + tc.name, Model: simModel, Spec: spec, Problems: problems})
				if err != nil {
					t.Fatal(err)
				}
				first := true
				for {
					msg, err := st.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					switch e := msg.Event.(type) {
					case *shepherdv1.LabelSolutionsResponse_Job:
						if first && (e.Job.Id == "" || msg.Cursor != "") {
							t.Fatalf("first message: job %v, cursor %q", e.Job, msg.Cursor)
						}
						if !isLive(e.Job.State) {
							got.final = e.Job
						}
					case *shepherdv1.LabelSolutionsResponse_Record:
						if first {
							t.Fatal("first message is a record, want the job")
						}
						got.records = append(got.records, e.Record)
					}
					first = false
				}
			} else {
				resp, err := ts.client.SubmitJob(ctx, submitReq("e2e-"+tc.name, problems, spec))
				if err != nil {
					t.Fatal(err)
				}
				if resp.Job.State != shepherdv1.JobState_JOB_STATE_QUEUED && resp.Job.State != shepherdv1.JobState_JOB_STATE_RUNNING {
					t.Fatalf("submitted job is %v", resp.Job.State)
				}
				if got, err = collect(t, ctx, ts.client, resp.Job.Id, "", 0); err != nil {
					t.Fatal(err)
				}
			}
			want := embeddedLabels(t, prepared, embeddedOptions(strategyOf(tc.strategy), 4, 7))
			compareWithEmbedded(t, got.records, want)
			f := got.final
			if f == nil || f.State != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("final snapshot %v, want SUCCEEDED", f)
			}
			if f.SolutionsDone != int64(len(prepared)) || f.SolutionsTotal != int64(len(prepared)) || f.TasksTotal == 0 ||
				f.TasksDone != f.TasksTotal || f.Rollouts == 0 || f.CompletionTokens == 0 || f.FinishTime == nil || f.Error != "" {
				t.Errorf("final counts: %v", f)
			}
			if f.Spec.GetN() != 4 || f.Spec.GetMaxTokens() != DefaultJobMaxTokens || f.Spec.GetTemperature() != DefaultJobTemperature ||
				!f.Spec.GetReuse() || f.Spec.GetSplit() != shepherdv1.SplitMode_SPLIT_MODE_AUTO || f.Spec.GetMaxSteps() != labeler.DefaultMaxSteps {
				t.Errorf("effective spec: %v", f.Spec)
			}
		})
	}
}

// TestSubmitIdempotent: a retry returns the first call's job; the same
// request id with another request is ALREADY_EXISTS.
func TestSubmitIdempotent(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{})
	ctx := testCtx(t)
	problems, _ := simProblems(t, 1, 2, 2)
	req := submitReq("idem-1", problems, &shepherdv1.JobSpec{N: proto.Int32(2)})
	a, err := ts.client.SubmitJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.client.SubmitJob(ctx, proto.Clone(req).(*shepherdv1.SubmitJobRequest))
	if err != nil {
		t.Fatal(err)
	}
	if a.Job.Id != b.Job.Id {
		t.Fatalf("retry created job %s, first call %s", b.Job.Id, a.Job.Id)
	}
	// LabelSolutions with the same request finds the same job.
	st, err := ts.client.LabelSolutions(ctx, &shepherdv1.LabelSolutionsRequest{RequestId: req.RequestId, Model: req.Model, Spec: req.Spec, Problems: req.Problems})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if msg.GetJob().GetId() != a.Job.Id {
		t.Fatalf("LabelSolutions retry gave job %v, want %s", msg.GetJob(), a.Job.Id)
	}
	other := proto.Clone(req).(*shepherdv1.SubmitJobRequest)
	other.Spec.N = proto.Int32(3)
	_, err = ts.client.SubmitJob(ctx, other)
	wantCode(t, err, "ALREADY_EXISTS", "request_id")
	list, err := ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Jobs) != 1 {
		t.Fatalf("%d jobs listed, want 1", len(list.Jobs))
	}
}

// TestStreamResume reads part of a finished job's stream, then resumes
// from the last cursor: together they are the whole stream, in order.
func TestStreamResume(t *testing.T) {
	_, ts, ctx := withServer(t, sim.Options{}, Options{})
	problems, prepared := simProblems(t, 5, 6, 3)
	id := ts.submit(t, ctx, submitReq("resume", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	// Mid-job: stop after a few records, resume while the job runs.
	part := mustCollect(t, ctx, ts.client, id, "", 3)
	rest := mustCollect(t, ctx, ts.client, id, part.cursors[len(part.cursors)-1], 0)
	all := mustCollect(t, ctx, ts.client, id, "", 0)
	if len(all.records) != len(prepared) || rest.final == nil {
		t.Fatalf("full stream: %d records, want %d; final %v", len(all.records), len(prepared), rest.final)
	}
	joined := append(part.cursors, rest.cursors...)
	if len(joined) != len(all.cursors) {
		t.Fatalf("resumed stream has %d records, full stream %d", len(joined), len(all.cursors))
	}
	for i := range joined {
		if joined[i] != all.cursors[i] {
			t.Fatalf("record %d: cursor %s, full stream %s", i, joined[i], all.cursors[i])
		}
	}
	// Resuming from the last cursor gives only the final snapshot.
	tail := mustCollect(t, ctx, ts.client, id, all.cursors[len(all.cursors)-1], 0)
	if len(tail.records) != 0 || tail.final == nil {
		t.Fatalf("tail: %d records, final %v", len(tail.records), tail.final)
	}
	// A cursor of another job is refused.
	other, err := ts.client.SubmitJob(ctx, submitReq("resume-other", problems[:1], &shepherdv1.JobSpec{N: proto.Int32(1)}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = collect(t, ctx, ts.client, other.Job.Id, all.cursors[0], 0)
	wantCode(t, err, "INVALID_ARGUMENT", "another job")
	_, err = collect(t, ctx, ts.client, id, "garbage", 0)
	wantCode(t, err, "INVALID_ARGUMENT", "cursor")
}

// TestServerRestartMidJob stops the server while a job runs (gracefully,
// and as a crash without releasing the lease) and starts another on the
// same Redis: the job completes, and a client that resumes its stream from
// its last cursor sees every record exactly once, in order, with the
// labels of the embedded path.
func TestServerRestartMidJob(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "graceful"
		if crash {
			name = "crash"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.startWorker(sim.Options{Latency: 15 * time.Millisecond})
			ctx := testCtx(t)
			problems, prepared := simProblems(t, 9, 12, 4)
			a := h.startServer(Options{Window: 8})
			id := a.submit(t, ctx, submitReq("restart", problems, &shepherdv1.JobSpec{N: proto.Int32(3), Seed: 11}))
			first := mustCollect(t, ctx, a.client, id, "", 5)
			if crash {
				a.conn.Close()
				a.crash()
				<-a.served
			} else {
				a.stop()
			}
			mid, err := h.store().get(ctx, id)
			if err != nil || mid.State != shepherdv1.JobState_JOB_STATE_RUNNING {
				t.Fatalf("after stop: job %v, %v; want RUNNING", mid, err)
			}
			if mid.SolutionsDone >= int64(len(prepared)) {
				t.Fatalf("job finished before the restart (%d solutions done); slow the workers down", mid.SolutionsDone)
			}
			b := h.startServer(Options{Window: 8})
			restarted := time.Now()
			rest := mustCollect(t, ctx, b.client, id, first.cursors[len(first.cursors)-1], 0)
			t.Logf("%d of %d solutions done at the restart; the new server finished the job in %v with %d progress snapshots",
				mid.SolutionsDone, len(prepared), time.Since(restarted).Round(time.Millisecond), rest.snaps-1)
			if rest.snaps < 2 {
				t.Errorf("no progress snapshot while the job ran")
			}
			if rest.final == nil || rest.final.State != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
				t.Fatalf("final %v, want SUCCEEDED", rest.final)
			}
			got := append(first.records, rest.records...)
			opt := embeddedOptions(labeler.Exhaustive, 3, 11)
			opt.Model = simModel
			want, stats := simtest.Label(testCtx(t), t, simtest.Pool(t, sim.Options{}), prepared, opt)
			compareWithEmbedded(t, got, want)
			// Sharing is counted from the committed records, not again for
			// the solutions the new scheduler took over.
			if rest.final.SharedRollouts != int64(stats.SharedSamples) || rest.final.Rollouts != int64(stats.Samples) {
				t.Errorf("rollouts %d (%d shared), want %d (%d shared) as without the restart",
					rest.final.Rollouts, rest.final.SharedRollouts, stats.Samples, stats.SharedSamples)
			}
			if rest.final.SolutionsDone != int64(len(prepared)) {
				t.Errorf("solutions_done %d, want %d", rest.final.SolutionsDone, len(prepared))
			}
		})
	}
}

func (h *harness) store() *store { return &store{rdb: h.rdb, ttl: time.Hour, now: time.Now} }

// TestCancel stops a running job: it becomes CANCELLED, its stream ends
// after the records produced before, and cancelling again changes
// nothing.
func TestCancel(t *testing.T) {
	h, ts, ctx := withServer(t, sim.Options{Latency: 20 * time.Millisecond}, Options{Window: 4})
	problems, prepared := simProblems(t, 4, 10, 4)
	id := ts.submit(t, ctx, submitReq("cancel", problems, &shepherdv1.JobSpec{N: proto.Int32(4)}))
	if _, err := collect(t, ctx, ts.client, id, "", 2); err != nil {
		t.Fatal(err)
	}
	c, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	if c.Job.State != shepherdv1.JobState_JOB_STATE_CANCELLED || c.Job.FinishTime == nil {
		t.Fatalf("cancelled job: %v", c.Job)
	}
	all := mustCollect(t, ctx, ts.client, id, "", 0)
	if all.final == nil || all.final.State != shepherdv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("final %v, want CANCELLED", all.final)
	}
	if len(all.records) >= len(prepared) || int64(len(all.records)) != all.final.SolutionsDone {
		t.Fatalf("%d records after cancel of %d, solutions_done %d", len(all.records), len(prepared), all.final.SolutionsDone)
	}
	time.Sleep(300 * time.Millisecond) // no record is committed after the cancel
	again, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	if again.Job.State != shepherdv1.JobState_JOB_STATE_CANCELLED || again.Job.SolutionsDone != c.Job.SolutionsDone {
		t.Fatalf("second cancel: %v", again.Job)
	}
	if ts.localRunner(id) != nil {
		t.Error("the scheduler still runs after the cancel")
	}
	if n, _ := h.rdb.SIsMember(ctx, liveKey, id).Result(); n {
		t.Error("cancelled job still in the live set")
	}
}

// TestDeadLetterPartial: every rollout request gets a 400, so every task is
// dead-lettered; the job still ends, PARTIAL, with the steps listed.
func TestDeadLetterPartial(t *testing.T) {
	_, ts, ctx := withServer(t, sim.Options{FailFirst: 1 << 30, FailStatus: 400}, Options{})
	problems, prepared := simProblems(t, 2, 3, 2)
	id := ts.submit(t, ctx, submitReq("dead", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	got := mustCollect(t, ctx, ts.client, id, "", 0)
	if len(got.records) != len(prepared) {
		t.Fatalf("%d records, want %d", len(got.records), len(prepared))
	}
	for _, r := range got.records {
		if len(r.FailedSteps) != len(r.Completions)-1 {
			t.Errorf("%s: failed steps %v of %d steps", r.SolutionId, r.FailedSteps, len(r.Completions))
		}
	}
	f := got.final
	if f == nil || f.State != shepherdv1.JobState_JOB_STATE_PARTIAL || f.TasksFailed == 0 || f.TasksFailed != f.TasksTotal {
		t.Fatalf("final %v, want PARTIAL with every task failed", f)
	}
	if !contains(f.Error, "failed permanently") || !contains(f.Error, "400") {
		t.Errorf("error %q does not explain the failure", f.Error)
	}
}

// TestFailedJob: a scheduler error that recurs (here a corrupt result: one
// sample for a task that asked for two) fails the job after RunAttempts,
// the attempts a pause apart (1s on the server's clock, a fake one here:
// the job stays RUNNING until it moves).
func TestFailedJob(t *testing.T) {
	h := newHarness(t)
	clk := clock.NewFake()
	ts := h.startServer(Options{RunAttempts: 2, Clock: clk})
	ctx := testCtx(t)
	problems, _ := simProblems(t, 3, 1, 1)
	id := ts.submit(t, ctx, submitReq("fail", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	q := redisq.New(h.rdb, h.qopt)
	tasks, err := q.Reserve(ctx, simModel, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Complete(ctx, tasks[0], rollout.TaskResult{Samples: []rollout.SampleResult{{Text: "x"}}}); err != nil {
		t.Fatal(err)
	}
	for clk.Waiters() == 0 { // the first attempt failed; the pause begins
		if ctx.Err() != nil {
			t.Fatal("the scheduler did not pause after its first error")
		}
		time.Sleep(time.Millisecond)
	}
	if j, err := ts.client.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: id}); err != nil || j.Job.State != shepherdv1.JobState_JOB_STATE_RUNNING {
		t.Fatalf("during the pause the job is %v (%v), want RUNNING", j.GetJob().GetState(), err)
	}
	clk.Advance(time.Second)
	got := mustCollect(t, ctx, ts.client, id, "", 0)
	if got.final.GetState() != shepherdv1.JobState_JOB_STATE_FAILED || !contains(got.final.GetError(), "asked for 2") {
		t.Fatalf("final %v, want FAILED with the scheduler's error", got.final)
	}
}
