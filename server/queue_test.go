package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// memQueue is a Queue with no Redis in it: the in-process MemQueue plus
// the counters the server reads, kept the way the Redis queue keeps them
// (each task counted once, however often it is completed).
type memQueue struct {
	*rollout.MemQueue

	mu        sync.Mutex
	enqueued  map[string]map[string]bool // task ids, by job
	finished  map[string]map[string]bool // task ids, by job
	inQueue   map[string]int64           // tasks enqueued and not finished, by model
	stats     map[string]rollout.JobCounters
	opened    int
	forgotten []string
}

func newMemQueue() *memQueue {
	return &memQueue{MemQueue: rollout.NewMemQueue(0), enqueued: map[string]map[string]bool{},
		finished: map[string]map[string]bool{}, inQueue: map[string]int64{}, stats: map[string]rollout.JobCounters{}}
}

var _ Queue = (*memQueue)(nil)

// Open returns the queue itself: MemQueue's results go to one reader,
// and the test runs one scheduler at a time.
func (q *memQueue) Open() rollout.Queue {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.opened++
	return q
}

func (q *memQueue) Enqueue(ctx context.Context, tasks ...rollout.Task) error {
	q.mu.Lock()
	for _, t := range tasks {
		if q.enqueued[t.JobID] == nil {
			q.enqueued[t.JobID] = map[string]bool{}
		}
		if !q.enqueued[t.JobID][t.ID] {
			q.enqueued[t.JobID][t.ID] = true
			q.inQueue[t.Model]++
		}
	}
	q.mu.Unlock()
	return q.MemQueue.Enqueue(ctx, tasks...)
}

// finish counts a task's first result.
func (q *memQueue) finish(t rollout.Task, r rollout.TaskResult, failed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.finished[t.JobID] == nil {
		q.finished[t.JobID] = map[string]bool{}
	}
	if q.finished[t.JobID][t.ID] {
		return
	}
	q.finished[t.JobID][t.ID] = true
	q.inQueue[t.Model]--
	st := q.stats[t.JobID]
	if failed {
		st.TasksFailed++
	} else {
		st.TasksDone++
		st.Samples += int64(len(r.Samples))
		st.PromptTokens += int64(r.PromptTokens)
		st.CompletionTokens += int64(r.CompletionTokens)
		st.CachedTokens += int64(r.CachedTokens)
	}
	q.stats[t.JobID] = st
}

func (q *memQueue) Complete(ctx context.Context, t rollout.Task, r rollout.TaskResult) error {
	q.finish(t, r, false)
	return q.MemQueue.Complete(ctx, t, r)
}

func (q *memQueue) Fail(ctx context.Context, t rollout.Task, cause error) error {
	q.finish(t, rollout.TaskResult{}, true)
	return q.MemQueue.Fail(ctx, t, cause)
}

func (q *memQueue) Pending(_ context.Context, model string) (rollout.PendingStats, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return rollout.PendingStats{Length: q.inQueue[model]}, nil
}

func (q *memQueue) Stats(_ context.Context, jobID string) (rollout.JobCounters, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats[jobID], nil
}

func (q *memQueue) Enqueued(_ context.Context, jobID string) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(len(q.enqueued[jobID])), nil
}

func (q *memQueue) ForgetJob(_ context.Context, jobID string, _ time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.forgotten = append(q.forgotten, jobID)
	return nil
}

// Close leaves the MemQueue open: the test's worker reads it until the
// test ends.
func (q *memQueue) Close() error { return nil }

// TestServerOnAnotherQueue runs a job through a server whose work queue is
// not Redis (Options.WorkQueue): the server needs nothing of the queue but
// the Queue interface, and labels exactly as the embedded path does.
func TestServerOnAnotherQueue(t *testing.T) {
	h := newHarness(t) // the job store stays on Redis
	q := newMemQueue()
	t.Cleanup(q.MemQueue.Close)
	simtest.RunWorker(t, &rollout.Worker{Queue: q, Generator: simtest.Pool(t, sim.Options{}), Grader: grade.New(grade.Options{}),
		Model: simModel, Concurrency: 16})
	ts := h.startServer(Options{WorkQueue: q})
	ctx := testCtx(t)
	problems, prepared := simProblems(t, 6, 5, 3)
	resp, err := ts.client.SubmitJob(ctx, submitReq("memqueue", problems, &shepherdv1.JobSpec{N: proto.Int32(4), Seed: 7}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, ctx, ts.client, resp.Job.Id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	compareWithEmbedded(t, got.records, embeddedLabels(t, prepared, embeddedOptions(labeler.Exhaustive, 4, 7)))
	f := got.final
	if f == nil || f.State != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("final snapshot %v, want SUCCEEDED", f)
	}
	st, _ := q.Stats(ctx, resp.Job.Id)
	enq, _ := q.Enqueued(ctx, resp.Job.Id)
	if f.TasksTotal != enq || f.TasksDone != st.TasksDone || f.Rollouts != st.Samples || f.CompletionTokens != st.CompletionTokens || enq == 0 {
		t.Errorf("final counts %v, want the queue's: %d enqueued, %+v", f, enq, st)
	}
	jk, mk := rediskeys.OfJob(resp.Job.Id), rediskeys.OfModel(simModel)
	if n, _ := h.rdb.Exists(ctx, mk.Work, jk.Results(), jk.ResultStream(), jk.Stats()).Result(); n != 0 {
		t.Errorf("%d Redis queue keys exist: the Redis queue was used", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		opened, forgotten := q.opened, q.forgotten
		q.mu.Unlock()
		if len(forgotten) > 0 {
			if opened == 0 || forgotten[0] != resp.Job.Id {
				t.Errorf("queue opened %d times, forgot %v; want a scheduler's queue opened and job %s forgotten", opened, forgotten, resp.Job.Id)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the finished job was not forgotten by the queue")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
