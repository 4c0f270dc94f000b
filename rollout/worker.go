package rollout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

// DefaultDrainTimeout bounds how long a stopping worker lets its in-flight
// tasks finish before handing them back.
const DefaultDrainTimeout = 30 * time.Second

// Worker pulls rollout tasks for one model, generates them on a Generator,
// grades every sample and reports the result. It pulls only as many tasks
// as it has free slots, so a slow backend pushes back on the queue instead
// of piling up leased work.
type Worker struct {
	Queue        Queue
	Generator    Generator
	Grader       *grade.Grader
	Model        string
	Concurrency  int           // tasks in flight; default 16
	DrainTimeout time.Duration // default DefaultDrainTimeout
	// OnResult, when set, sees every task outcome (for progress and metrics).
	OnResult func(Task, TaskResult, error)
	// OnQueueError, when set, sees every failed attempt to reserve tasks.
	OnQueueError func(error)
	// Observer sees graded samples, finished, redelivered and lost tasks
	// and queue errors (nil: none).
	Observer Observer
	// NoBackendTimeout is how long the worker waits, taking no tasks, for
	// a usable backend when its Generator has none (a BackendHealth
	// reports it) before Run gives up with ErrNoUsableBackend; 0 waits
	// until ctx ends.
	NoBackendTimeout time.Duration
	// OnBackendHealth, when set, hears when the worker stops taking tasks
	// for want of a usable backend (usable false, with the reasons) and
	// when it starts again.
	OnBackendHealth func(usable bool, reasons []string)

	unusable atomic.Bool
}

// BackendHealth is implemented by Generators that know whether they can
// run tasks at all (*Pool).
type BackendHealth interface {
	// Usable reports whether some backend is in rotation.
	Usable() bool
	// Recheck probes backends out of rotation and reports Usable.
	Recheck(ctx context.Context) bool
	// OutReasons says why each backend out of rotation is out.
	OutReasons() []string
}

// Usable reports whether the worker is taking tasks: false while it waits
// for a usable backend.
func (w *Worker) Usable() bool { return !w.unusable.Load() }

// recheckEvery paces the probes of a worker waiting for a usable backend.
const recheckEvery = 250 * time.Millisecond

// waitUsable blocks while h has no usable backend, taking no tasks. It
// returns nil once one is back, ctx's error when ctx ends first, or an
// error wrapping ErrNoUsableBackend after NoBackendTimeout.
func (w *Worker) waitUsable(ctx context.Context, h BackendHealth) error {
	if h.Usable() {
		return nil
	}
	reasons := h.OutReasons()
	w.unusable.Store(true)
	if w.OnBackendHealth != nil {
		w.OnBackendHealth(false, reasons)
	}
	var deadline <-chan time.Time
	if w.NoBackendTimeout > 0 {
		t := time.NewTimer(w.NoBackendTimeout)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(recheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("%w for %v: %s", ErrNoUsableBackend, w.NoBackendTimeout, strings.Join(h.OutReasons(), "; "))
		case <-tick.C:
		}
		if h.Recheck(ctx) {
			w.unusable.Store(false)
			if w.OnBackendHealth != nil {
				w.OnBackendHealth(true, nil)
			}
			return nil
		}
	}
}

// queueBackoff paces a worker's attempts to reach its queue during an outage.
var queueBackoff = Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second}

// Run works until ctx is cancelled, then stops pulling, gives in-flight
// tasks DrainTimeout to finish and hands back the rest. It returns nil after
// a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	slots := w.Concurrency
	if slots <= 0 {
		slots = 16
	}
	drain := w.DrainTimeout
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	obs := observerOr(w.Observer)
	// Tasks run under their own context so that stopping the worker does not
	// abort generations that are about to finish.
	taskCtx, cancelTasks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTasks()

	free := make(chan struct{}, slots)
	for range slots {
		free <- struct{}{}
	}
	var wg sync.WaitGroup
	held := newHeldSet()
	if l, ok := w.Queue.(Leaser); ok {
		hbCtx, stopHB := context.WithCancel(taskCtx)
		defer stopHB()
		go w.heartbeat(hbCtx, l, held, obs)
	}
	health, _ := w.Generator.(BackendHealth)
	var err error
	outage := 0
	for err == nil {
		if health != nil {
			if err = w.waitUsable(ctx, health); err != nil {
				continue
			}
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
			continue
		case <-free:
		}
		n := 1
		for len(free) > 0 && n < slots { // take every other free slot too
			<-free
			n++
		}
		var tasks []Task
		tasks, err = w.Queue.Reserve(ctx, w.Model, n)
		for range n - len(tasks) {
			free <- struct{}{}
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
			// The queue is unreachable (a Redis restart, say): keep the
			// worker alive and try again with backoff.
			if w.OnQueueError != nil {
				w.OnQueueError(err)
			}
			obs.QueueError()
			outage++
			if SleepCtx(ctx, queueBackoff.Delay(min(outage, 8))) == nil {
				err = nil
			}
			continue
		}
		outage = 0
		if health != nil && !health.Usable() && len(tasks) > 0 {
			// The backends went away while this worker waited for tasks:
			// give them straight back.
			for _, t := range tasks {
				w.handBack(ctx, t, nil)
				free <- struct{}{}
			}
			continue
		}
		for _, t := range tasks {
			if t.Deliveries > 1 {
				obs.Redelivered()
			}
			wg.Add(1)
			held.add(t)
			go func() {
				defer wg.Done()
				defer func() { free <- struct{}{} }()
				defer held.remove(t)
				w.process(taskCtx, t, obs)
			}()
		}
	}
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(drain):
		cancelTasks() // in-flight tasks are handed back by process
		<-stopped
	}
	if w.unusable.Load() && !errors.Is(err, ErrNoUsableBackend) {
		// Stopped while it could not work: say so.
		return fmt.Errorf("%w: %s", ErrNoUsableBackend, strings.Join(health.OutReasons(), "; "))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

// handBack returns a task the worker cannot run for want of a backend,
// without counting the delivery where the queue allows it.
func (w *Worker) handBack(ctx context.Context, t Task, cause error) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if r, ok := w.Queue.(Releaser); ok {
		_ = r.Release(qctx, t)
		return
	}
	if cause == nil {
		cause = ErrNoUsableBackend
	}
	_ = w.Queue.Retry(qctx, t, cause)
}

func (w *Worker) process(ctx context.Context, t Task, obs Observer) {
	start := time.Now()
	res, err := w.Generator.Generate(ctx, GenerateRequest{
		Question: t.Question,
		Prefix:   t.Prefix,
		N:        t.N,
		Seed:     t.Seed + int64(t.From),
		Params:   t.Params,
		RouteKey: t.RouteKey,
	})
	// Queue calls use a fresh context: the result must be recorded even when
	// the worker is stopping.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var tr TaskResult
	result := TaskCompleted
	switch {
	case err == nil:
		tr = w.grade(t, res)
		tr.WorkSeconds = time.Since(start).Seconds()
		for _, s := range tr.Samples {
			obs.Rollout(RolloutResult(s))
		}
		if err = w.Queue.Complete(qctx, t, tr); err != nil {
			result = TaskRetried // redelivered once its lease expires
		}
	case IsBackendFault(err):
		// Not the task's fault: another worker may run it.
		result = TaskRetried
		w.handBack(ctx, t, err)
	case IsPermanent(err):
		result = TaskFailed
		tr = TaskResult{Failed: true, Error: err.Error()}
		_ = w.Queue.Fail(qctx, t, err)
	default:
		result = TaskRetried
		_ = w.Queue.Retry(qctx, t, err)
	}
	obs.TaskDone(result, time.Since(start))
	if w.OnResult != nil {
		w.OnResult(t, tr, err)
	}
}

// grade turns generated samples into graded ones. A sample cut off by
// max_tokens never reached a final answer, so it counts as incorrect even
// if its last number happens to equal the gold answer.
func (w *Worker) grade(t Task, res GenerateResult) TaskResult {
	tr := TaskResult{
		TaskID:           t.ID,
		JobID:            t.JobID,
		Samples:          make([]SampleResult, len(res.Samples)),
		PromptTokens:     res.PromptTokens,
		CompletionTokens: res.CompletionTokens,
		CachedTokens:     res.CachedTokens,
		Backend:          res.Backend,
	}
	for i, s := range res.Samples {
		sr := SampleResult{Text: s.Text, FinishReason: s.FinishReason}
		if s.FinishReason != "length" {
			v := w.Grader.Grade(t.Gold, s.Text)
			sr.Answer, sr.Found, sr.Correct = v.Answer, v.Found, v.Correct
		}
		tr.Samples[i] = sr
	}
	return tr
}

// heartbeat extends the leases of held tasks at a third of their TTL, so
// two missed beats still leave the lease alive.
func (w *Worker) heartbeat(ctx context.Context, l Leaser, held *heldSet, obs Observer) {
	clock.Every(ctx, max(l.LeaseTTL()/3, 10*time.Millisecond), func() {
		if tasks := held.list(); len(tasks) > 0 {
			// A lost lease is harmless: the task's writes are idempotent and
			// the new holder computes the same samples.
			lost, _ := l.Extend(ctx, tasks)
			for _, t := range lost {
				if held.markLost(t) {
					obs.LeaseLost()
				}
			}
		}
	})
}

// heldSet is the tasks a worker is running, for heartbeats.
type heldSet struct {
	mu    sync.Mutex
	tasks map[string]Task
	lost  map[string]bool // held tasks whose lease was lost, reported once
}

func newHeldSet() *heldSet { return &heldSet{tasks: map[string]Task{}, lost: map[string]bool{}} }

func (h *heldSet) key(t Task) string { return t.JobID + "\x00" + t.ID + "\x00" + t.Receipt }

func (h *heldSet) add(t Task) {
	h.mu.Lock()
	h.tasks[h.key(t)] = t
	h.mu.Unlock()
}

func (h *heldSet) remove(t Task) {
	h.mu.Lock()
	delete(h.tasks, h.key(t))
	delete(h.lost, h.key(t))
	h.mu.Unlock()
}

// markLost notes that a held task's lease is lost and reports whether that
// is news.
func (h *heldSet) markLost(t Task) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := h.key(t)
	if _, held := h.tasks[k]; !held || h.lost[k] {
		return false
	}
	h.lost[k] = true
	return true
}

func (h *heldSet) list() []Task {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Task, 0, len(h.tasks))
	for _, t := range h.tasks {
		out = append(out, t)
	}
	return out
}
