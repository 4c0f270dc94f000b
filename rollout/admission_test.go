package rollout_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// countingQueue is a memory queue that tracks the samples of tasks enqueued
// and not yet answered, and the most there ever were.
type countingQueue struct {
	*rollout.MemQueue
	mu                      sync.Mutex
	inflight, peak, total   int
	enqueuedTasks, answered int
	tasks                   []rollout.Task   // every task enqueued
	batches                 [][]rollout.Task // the same, by Enqueue call
}

func (q *countingQueue) Enqueue(ctx context.Context, tasks ...rollout.Task) error {
	q.mu.Lock()
	for _, t := range tasks {
		q.inflight += t.N
		q.total += t.N
		q.enqueuedTasks++
		q.tasks = append(q.tasks, t)
	}
	q.batches = append(q.batches, append([]rollout.Task(nil), tasks...))
	q.peak = max(q.peak, q.inflight)
	q.mu.Unlock()
	return q.MemQueue.Enqueue(ctx, tasks...)
}

func (q *countingQueue) Complete(ctx context.Context, t rollout.Task, r rollout.TaskResult) error {
	q.mu.Lock()
	q.inflight -= t.N
	q.answered++
	q.mu.Unlock()
	return q.MemQueue.Complete(ctx, t, r)
}

// labelWithCapacity labels sols on a simulated backend through a queue
// reporting capacity samples.
// runSimWorker runs a worker with concurrency slots for q on a simulator
// answering in 2ms, and returns its grader and a function that stops it.
func runSimWorker(t *testing.T, q rollout.Queue, concurrency int) (*grade.Grader, func()) {
	t.Helper()
	pool := simtest.Pool(t, sim.Options{Model: simtest.Model, Latency: 2 * time.Millisecond})
	grader := grade.New(grade.Options{})
	return grader, simtest.RunWorker(t, &rollout.Worker{Queue: q, Generator: pool, Grader: grader, Model: simtest.Model, Concurrency: concurrency})
}

func labelWithCapacity(t *testing.T, sols []labeler.PreparedSolution, capacity int, opt rollout.JobOptions) ([]labeler.Record, *countingQueue) {
	t.Helper()
	q := &countingQueue{MemQueue: rollout.NewMemQueue(0)}
	defer q.Close()
	q.SetCapacity(func() int { return capacity })
	grader, stop := runSimWorker(t, q, 64)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opt.Model = simtest.Model
	opt.Params = rollout.SamplingParams{Temperature: 1, TopP: 1, MaxTokens: 512}
	var recs []labeler.Record
	if _, err := rollout.RunJob(ctx, q, grader, opt, simtest.Source(sols), func(r labeler.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(sols) {
		t.Fatalf("%d records for %d solutions", len(recs), len(sols))
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].SolutionID < recs[j].SolutionID })
	return recs, q
}

// On a saturated fleet (capacity far below the job's work) the job keeps
// about Oversubscribe x capacity samples in flight, never the whole job;
// on an idle one (capacity above it) it admits everything at once. The
// labels are the same either way.
func TestAdmissionFollowsCapacity(t *testing.T) {
	sols := simtest.Dataset(5, 12, 3)
	opt := rollout.JobOptions{Strategy: labeler.Exhaustive, N: 4, Seed: 9}
	maxSolution := 0 // the most samples one solution asks for at once
	for _, s := range sols {
		maxSolution = max(maxSolution, (len(s.Solution.Steps)-1)*opt.N)
	}

	const capacity = 8
	saturated, sq := labelWithCapacity(t, sols, capacity, opt)
	// Admission stops once in flight reaches 1.5 x capacity; the solution
	// admitted last may add its probes on top.
	if limit := int(rollout.DefaultOversubscribe*capacity) + maxSolution; sq.peak > limit {
		t.Errorf("saturated fleet: %d samples in flight at most, want at most %d", sq.peak, limit)
	}
	if sq.peak >= sq.total {
		t.Errorf("saturated fleet: the whole job (%d samples) was in flight at once", sq.total)
	}

	idle, iq := labelWithCapacity(t, sols, 1_000_000, opt)
	if iq.peak != iq.total {
		t.Errorf("idle fleet: %d of the job's %d samples in flight at most, want all at once", iq.peak, iq.total)
	}

	// The window stays an upper bound.
	capped := opt
	capped.Window = 1
	_, wq := labelWithCapacity(t, sols, 1_000_000, capped)
	if wq.peak > maxSolution {
		t.Errorf("--window 1: %d samples in flight, want one solution's (at most %d)", wq.peak, maxSolution)
	}

	sameLabels(t, "saturated", saturated, "idle", idle)
}

// sameLabels checks two runs of one job gave the same labels, record by
// record.
func sameLabels(t *testing.T, aName string, a []labeler.Record, bName string, b []labeler.Record) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d records %s, %d %s", len(a), aName, len(b), bName)
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.SolutionID != y.SolutionID || len(x.Labels) != len(y.Labels) {
			t.Fatalf("record %d: %s vs %s", i, x.SolutionID, y.SolutionID)
		}
		for k := range x.Labels {
			if x.Labels[k] != y.Labels[k] {
				t.Errorf("%s step %d: label %v %s, %v %s", x.SolutionID, k, x.Labels[k], aName, y.Labels[k], bName)
			}
		}
	}
}

// With slots to spare, binary search asks a probe's later batches at once
// (more samples, fewer rounds); saturated, it asks only what the search
// needs. The labels are the same.
func TestBinarySpeculatesOnlyWhenIdle(t *testing.T) {
	sols := simtest.Dataset(8, 12, 3)
	opt := rollout.JobOptions{Strategy: labeler.Binary, N: 8, Seed: 4}
	idle, iq := labelWithCapacity(t, sols, 1_000_000, opt)
	saturated, sq := labelWithCapacity(t, sols, 1, opt)
	if iq.total <= sq.total {
		t.Errorf("idle fleet asked %d samples, saturated %d: want more with speculation", iq.total, sq.total)
	}
	if sq.peak > 2*opt.N { // admission stops at 2 samples in flight; later batches stay within N
		t.Errorf("saturated fleet: %d samples in flight", sq.peak)
	}
	sameLabels(t, "idle", idle, "saturated", saturated)
}

// Once the source is exhausted and the job's samples in flight leave slots
// idle, binary search asks for whole steps ahead (the midpoints it may
// visit next); when in flight fills the fleet it asks for none. The labels
// are the same either way.
func TestLookaheadOnlyFillsIdleSlots(t *testing.T) {
	sols := simtest.Dataset(8, 12, 3)
	opt := rollout.JobOptions{Strategy: labeler.Binary, N: 8, Seed: 4}
	// Binary search itself asks a step's samples in batches of 1, 1, 2, 4:
	// a task for samples [0, N) of a step is asked ahead.
	count := func(q *countingQueue) int {
		n := 0
		for _, id := range q.tasks {
			if id.From == 0 && id.N == opt.N {
				n++
			}
		}
		return n
	}
	idle, iq := labelWithCapacity(t, sols, 1_000_000, opt)
	saturated, sq := labelWithCapacity(t, sols, 1, opt)
	if got := count(iq); got == 0 {
		t.Error("idle fleet: no step asked for ahead")
	}
	if got := count(sq); got != 0 {
		t.Errorf("saturated fleet: %d steps asked for ahead", got)
	}
	if iq.total <= sq.total {
		t.Errorf("idle fleet asked %d samples, saturated %d: want more with lookahead", iq.total, sq.total)
	}
	sameLabels(t, "idle", idle, "saturated", saturated)
}

// watchSource records, at each solution it yields, whether tasks had been
// enqueued already.
type watchSource struct {
	src       rollout.Source
	q         *countingQueue
	yielded   int
	seenTasks int // solutions yielded after the first tasks were enqueued
	firstAt   int // solutions yielded when the first tasks were seen enqueued
}

func (w *watchSource) Next() (labeler.PreparedSolution, error) {
	sol, err := w.src.Next()
	if err == nil {
		w.yielded++
		w.q.mu.Lock()
		if w.q.enqueuedTasks > 0 {
			w.seenTasks++
			if w.firstAt == 0 {
				w.firstAt = w.yielded
			}
		}
		w.q.mu.Unlock()
	}
	return sol, err
}

// runWatchedJob labels sols exhaustively with one sample a step on q,
// through a watchSource that notes when tasks reach q.
func runWatchedJob(t *testing.T, q *countingQueue, grader *grade.Grader, sols []labeler.PreparedSolution) *watchSource {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src := &watchSource{src: simtest.Source(sols), q: q}
	n := 0
	opt := rollout.JobOptions{Model: simtest.Model, Strategy: labeler.Exhaustive, N: 1, Seed: 3,
		Params: rollout.SamplingParams{Temperature: 1, TopP: 1, MaxTokens: 512}}
	if _, err := rollout.RunJob(ctx, q, grader, opt, src, func(labeler.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(sols) {
		t.Fatalf("%d records for %d solutions", n, len(sols))
	}
	return src
}

// Admission hands tasks to the queue once it has enough to busy half the
// fleet, instead of after it has read and planned every solution it admits.
func TestAdmissionStartsTheFleetEarly(t *testing.T) {
	sols := simtest.Dataset(40, 30, 3) // 90 solutions, some 350 one-sample tasks
	q := &countingQueue{MemQueue: rollout.NewMemQueue(0)}
	defer q.Close()
	// Admission goes on while fewer than 2.5 x 200 samples are in flight,
	// so it admits every solution at once; tasks go out 100 at a time.
	q.SetCapacity(func() int { return 200 })
	grader, stop := runSimWorker(t, q, 16)
	defer stop()
	src := runWatchedJob(t, q, grader, sols)
	if src.seenTasks == 0 {
		t.Errorf("no task was enqueued before the last of %d solutions was admitted", src.yielded)
	}
}

// The first hand-off is a few tasks, not half the fleet's worth: on a big
// fleet (here 2,000 slots, hand-offs of up to 1,000 tasks) the first tasks
// reach the idle backends while the rest of the first admission is read
// and planned. Hand-offs then double, so a large admission is still handed
// on in a few calls.
func TestAdmissionHandsOnTheFirstTasksAtOnce(t *testing.T) {
	sols := simtest.Dataset(40, 30, 3) // 90 solutions, some 350 one-sample tasks
	q := &countingQueue{MemQueue: rollout.NewMemQueue(0)}
	defer q.Close()
	q.SetCapacity(func() int { return 2000 })
	pool := simtest.Pool(t, sim.Options{Model: simtest.Model, Latency: 2 * time.Millisecond})
	grader := grade.New(grade.Options{})
	stop := simtest.RunWorker(t, &rollout.Worker{Queue: q, Generator: pool, Grader: grader, Model: simtest.Model, Concurrency: 16})
	defer stop()
	src := runWatchedJob(t, q, grader, sols)
	// Every solution has at least one task (exhaustive, N=1): the first
	// 8 tasks are out by the 8th solution, so the 9th sees them.
	if src.firstAt == 0 || src.firstAt > 9 {
		t.Errorf("first tasks seen enqueued at solution %d of %d, want by the 9th", src.firstAt, src.yielded)
	}
}

// Lookahead asks for the steps with the longest continuations first (the
// most of their solution after the prefix): they are done by the time the
// fleet drains, and what runs last is short. Each lookahead is handed on
// in one Enqueue; within it, the steps asked ahead (all N samples from 0)
// come longest first. An idle fleet takes every step asked ahead at once.
func TestLookaheadAsksLongContinuationsFirst(t *testing.T) {
	sols := simtest.Dataset(8, 12, 3)
	opt := rollout.JobOptions{Strategy: labeler.Binary, N: 8, Seed: 4}
	// How much of its solution follows each prefix; a prefix shared by
	// solutions of different lengths is ambiguous and not checked.
	remaining := map[string]int{}
	for _, sol := range sols {
		for k := range sol.Solution.Steps {
			key := sol.Question + "\x00" + sol.Solution.Prefix(k)
			r := len(sol.Solution.Text) - len(sol.Solution.Prefix(k))
			if old, ok := remaining[key]; ok && old != r {
				r = -1
			}
			remaining[key] = r
		}
	}
	_, q := labelWithCapacity(t, sols, 1_000_000, opt)
	checked := 0
	for _, batch := range q.batches {
		prev := -1
		for _, task := range batch {
			if task.From != 0 || task.N != opt.N {
				prev = -1 // not asked ahead: a new run of lookahead tasks
				continue
			}
			r := remaining[task.Question+"\x00"+task.Prefix]
			if r < 0 {
				prev = -1
				continue
			}
			if prev >= 0 {
				checked++
				if r > prev {
					t.Errorf("lookahead asked a prefix with %d bytes after it after one with %d", r, prev)
				}
			}
			prev = r
		}
	}
	if checked == 0 {
		t.Fatal("no two steps asked ahead in the same hand-off")
	}
}
