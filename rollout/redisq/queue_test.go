package redisq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

func ids(rs []rollout.TaskResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.TaskID)
	}
	return out
}

// collect calls Results until it has want results or ctx ends.
func collect(t *testing.T, ctx context.Context, q *Queue, job string, want int) []rollout.TaskResult {
	t.Helper()
	var all []rollout.TaskResult
	for len(all) < want {
		rs, err := q.Results(ctx, job)
		if err != nil {
			t.Fatalf("results after %v: %v", ids(all), err)
		}
		all = append(all, rs...)
	}
	return all
}

// expectNoResults checks that no further result arrives for a while.
func expectNoResults(t *testing.T, q *Queue, job string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	rs, err := q.Results(ctx, job)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unexpected results %v (err %v)", ids(rs), err)
	}
}

// expectDrained checks that model m's work stream is empty (finished tasks
// are deleted, none re-added) and that job j has no result left to read.
func expectDrained(t *testing.T, ctx context.Context, q *Queue) {
	t.Helper()
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 0 {
		t.Fatalf("work stream not drained: %+v", ps)
	}
	expectNoResults(t, q, "j")
}

func reserveN(t *testing.T, ctx context.Context, q *Queue, model string, n int) []rollout.Task {
	t.Helper()
	var out []rollout.Task
	for len(out) < n {
		ts, err := q.Reserve(ctx, model, n-len(out))
		if err != nil {
			t.Fatalf("reserve: got %d of %d: %v", len(out), n, err)
		}
		out = append(out, ts...)
	}
	return out
}

func TestRoundTripInCompletionOrder(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{})
	in := tasks("j1", "m", 5)
	enqueue(t, ctx, q, in...)
	got := reserveN(t, ctx, q, "m", 5)
	for i, tk := range got {
		if tk.ID != in[i].ID || tk.Prefix != in[i].Prefix || tk.Deliveries != 1 || tk.Receipt == "" || tk.Model != "m" {
			t.Fatalf("reserved %d: %+v", i, tk)
		}
	}
	order := []int{3, 1, 4, 0, 2}
	for _, i := range order {
		complete(t, ctx, q, got[i], result(2))
	}
	rs := collect(t, ctx, q, "j1", 5)
	for k, i := range order {
		if rs[k].TaskID != in[i].ID || rs[k].JobID != "j1" || len(rs[k].Samples) != 2 {
			t.Fatalf("result %d: %+v, want task %s", k, rs[k], in[i].ID)
		}
	}
	st, err := q.Stats(ctx, "j1")
	if err != nil {
		t.Fatal(err)
	}
	if want := (rollout.JobCounters{TasksDone: 5, Samples: 10, PromptTokens: 50, CompletionTokens: 100, CachedTokens: 25}); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	ps, err := q.Pending(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if ps.Length != 0 || ps.Pending != 0 {
		t.Fatalf("work stream not emptied: %+v", ps)
	}
}

func TestCompleteIsIdempotent(t *testing.T) {
	ctx, a, b := consumersAB(t, Options{LeaseTTL: 150 * time.Millisecond}, Options{LeaseTTL: 150 * time.Millisecond})
	enqueue(t, ctx, a, task("j", "t1", "m"), task("j", "t2", "m"))
	ts := reserveN(t, ctx, a, "m", 2)
	// The same consumer completes t1 twice.
	for range 2 {
		complete(t, ctx, a, ts[0], result(2))
	}
	// t2's lease expires; b reclaims it, and both complete it.
	tb := reserveN(t, ctx, b, "m", 1)[0]
	if tb.ID != "t2" || tb.Deliveries != 2 {
		t.Fatalf("b reclaimed %+v", tb)
	}
	complete(t, ctx, b, tb, result(2))
	if err := a.Complete(ctx, ts[1], result(2)); err != nil { // the stale holder, late
		t.Fatal(err)
	}
	rs := collect(t, ctx, a, "j", 2)
	if got := strings.Join(ids(rs), ","); got != "t1,t2" {
		t.Fatalf("results %s", got)
	}
	expectNoResults(t, a, "j")
	st, err := a.Stats(ctx, "j")
	if err != nil {
		t.Fatal(err)
	}
	if st.TasksDone != 2 || st.Samples != 4 || st.PromptTokens != 20 {
		t.Fatalf("stats counted twice: %+v", st)
	}
}

func TestEnqueueIsIdempotent(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{})
	t1 := task("j", "t1", "m")
	for range 3 {
		enqueue(t, ctx, q, t1, t1)
	}
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 1 {
		t.Fatalf("work stream holds %d entries, want 1", ps.Length)
	}
	got := reserveN(t, ctx, q, "m", 1)[0]
	// Re-enqueued while leased: still not added.
	enqueue(t, ctx, q, t1)
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 1 || ps.Pending != 1 {
		t.Fatalf("pending %+v, want 1 entry on lease", ps)
	}
	complete(t, ctx, q, got, result(2))
	if rs := collect(t, ctx, q, "j", 1); rs[0].TaskID != "t1" {
		t.Fatalf("results %v", ids(rs))
	}
	// A finished task asked for again is not rerun; its result comes back.
	enqueue(t, ctx, q, t1)
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 0 {
		t.Fatalf("finished task re-added: %+v", ps)
	}
	rs := collect(t, ctx, q, "j", 1)
	if rs[0].TaskID != "t1" || len(rs[0].Samples) != 2 {
		t.Fatalf("re-published %+v", rs[0])
	}
	if st, _ := q.Stats(ctx, "j"); st.TasksDone != 1 {
		t.Fatalf("re-publication counted: %+v", st)
	}
}

func TestLeaseExpiryIsReclaimed(t *testing.T) {
	ttl := 200 * time.Millisecond
	ctx, a, b := consumersAB(t, Options{LeaseTTL: ttl}, Options{LeaseTTL: ttl, Block: 50 * time.Millisecond})
	enqueue(t, ctx, a, task("j", "t1", "m"))
	ta := reserveN(t, ctx, a, "m", 1)[0]
	start := time.Now()
	tb := reserveN(t, ctx, b, "m", 1)[0] // a never extends
	if waited := time.Since(start); waited < ttl-20*time.Millisecond {
		t.Fatalf("reclaimed after %v, before the lease expired", waited)
	}
	if tb.ID != "t1" || tb.Deliveries != 2 || tb.Receipt != ta.Receipt {
		t.Fatalf("reclaimed %+v", tb)
	}
	lost, err := a.Extend(ctx, []rollout.Task{ta})
	if err != nil || len(lost) != 1 {
		t.Fatalf("old holder's extend: lost %v, err %v", lost, err)
	}
	if lost, err := b.Extend(ctx, []rollout.Task{tb}); err != nil || len(lost) != 0 {
		t.Fatalf("new holder's extend: lost %v, err %v", lost, err)
	}
}

func TestExtendKeepsLeaseAlive(t *testing.T) {
	ttl := 200 * time.Millisecond
	ctx, a, b := consumersAB(t, Options{LeaseTTL: ttl}, Options{LeaseTTL: ttl, Block: 50 * time.Millisecond})
	enqueue(t, ctx, a, task("j", "t1", "m"))
	ta := reserveN(t, ctx, a, "m", 1)[0]
	stop := make(chan struct{})
	beat := make(chan error, 1)
	go func() {
		tick := time.NewTicker(ttl / 4)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				beat <- nil
				return
			case <-tick.C:
			}
			if lost, err := a.Extend(ctx, []rollout.Task{ta}); err != nil || len(lost) > 0 {
				beat <- fmt.Errorf("extend: lost %v, err %v", lost, err)
				return
			}
		}
	}()
	short, cancel := context.WithTimeout(ctx, 4*ttl)
	ts, err := b.Reserve(short, "m", 1)
	cancel()
	close(stop)
	if err := <-beat; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b took an extended lease: %+v, %v", ts, err)
	}
	// Heartbeats stopped: the lease now expires.
	tb := reserveN(t, ctx, b, "m", 1)[0]
	if tb.ID != "t1" || tb.Deliveries != 2 {
		t.Fatalf("reclaimed %+v", tb)
	}
}

func TestExtendByNonOwnerIsLost(t *testing.T) {
	ctx, a, b := consumersAB(t, Options{}, Options{})
	enqueue(t, ctx, a, task("j", "t1", "m"), task("j", "t2", "m"))
	ts := reserveN(t, ctx, a, "m", 2)
	lost, err := b.Extend(ctx, ts)
	if err != nil || len(lost) != 2 {
		t.Fatalf("non-owner extend: lost %d, err %v", len(lost), err)
	}
	if lost, err := a.Extend(ctx, ts); err != nil || len(lost) != 0 {
		t.Fatalf("owner's extend after a non-owner's: lost %v, err %v", lost, err)
	}
	// A finished task's lease is lost too.
	complete(t, ctx, a, ts[0], result(2))
	if lost, _ := a.Extend(ctx, ts); len(lost) != 1 || lost[0].ID != "t1" {
		t.Fatalf("extend after complete: lost %v", lost)
	}
}

func TestRetryUpToMaxDeliveriesThenDeadLetter(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{MaxDeliveries: 3})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	for d := 1; d <= 3; d++ {
		tk := reserveN(t, ctx, q, "m", 1)[0]
		if tk.Deliveries != d || tk.ID != "t1" {
			t.Fatalf("delivery %d: %+v", d, tk)
		}
		if err := q.Retry(ctx, tk, errors.New("backend 503")); err != nil {
			t.Fatal(err)
		}
	}
	rs := collect(t, ctx, q, "j", 1)
	if !rs[0].Failed || !strings.Contains(rs[0].Error, "gave up after 3 deliveries: backend 503") {
		t.Fatalf("result %+v", rs[0])
	}
	dl, err := q.DeadLetters(ctx, "m", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Task.ID != "t1" || dl[0].Deliveries != 3 || !strings.Contains(dl[0].Cause, "backend 503") || dl[0].At.IsZero() {
		t.Fatalf("dead letters %+v", dl)
	}
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 0 || ps.Pending != 0 {
		t.Fatalf("work stream %+v", ps)
	}
	if st, _ := q.Stats(ctx, "j"); st.TasksFailed != 1 || st.TasksDone != 0 {
		t.Fatalf("stats %+v", st)
	}
	expectNoResults(t, q, "j")
}

func TestRetryByLostHolderDoesNothing(t *testing.T) {
	ctx, a, b := consumersAB(t, Options{LeaseTTL: 100 * time.Millisecond}, Options{LeaseTTL: 100 * time.Millisecond})
	enqueue(t, ctx, a, task("j", "t1", "m"))
	ta := reserveN(t, ctx, a, "m", 1)[0]
	tb := reserveN(t, ctx, b, "m", 1)[0]
	if err := a.Retry(ctx, ta, errors.New("late")); err != nil {
		t.Fatal(err)
	}
	if err := a.Fail(ctx, ta, errors.New("late and permanent")); err != nil {
		t.Fatal(err)
	}
	if ps, _ := a.Pending(ctx, "m"); ps.Length != 1 || ps.Pending != 1 {
		t.Fatalf("work stream %+v, want b's lease only", ps)
	}
	complete(t, ctx, b, tb, result(2))
	if rs := collect(t, ctx, a, "j", 1); rs[0].Failed {
		t.Fatalf("a stale holder failed the task: %+v", rs[0])
	}
	if dl, _ := a.DeadLetters(ctx, "m", 10); len(dl) != 0 {
		t.Fatalf("dead letters %+v", dl)
	}
}

func TestFailDeadLetters(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{DeadLetterMax: 5})
	enqueue(t, ctx, q, task("j", "t1", "m"), task("j", "t2", "m"))
	ts := reserveN(t, ctx, q, "m", 2)
	if err := q.Fail(ctx, ts[0], errors.New("400: context too long")); err != nil {
		t.Fatal(err)
	}
	complete(t, ctx, q, ts[1], result(2))
	// A failed task completed late by someone changes nothing.
	complete(t, ctx, q, ts[0], result(2))
	rs := collect(t, ctx, q, "j", 2)
	if !rs[0].Failed || rs[0].TaskID != "t1" || rs[0].Error != "400: context too long" || rs[1].Failed {
		t.Fatalf("results %+v", rs)
	}
	dl, err := q.DeadLetters(ctx, "m", 10)
	if err != nil || len(dl) != 1 || dl[0].Cause != "400: context too long" || dl[0].Task.Prefix != ts[0].Prefix || dl[0].Consumer != q.Options().Consumer {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}
	expectDrained(t, ctx, q)
}

func TestDeadLetterStreamIsBounded(t *testing.T) {
	ctx, rdb, q := queueFor(t, 30*time.Second, Options{DeadLetterMax: 10})
	const n = 500
	in := tasks("j", "m", n)
	enqueue(t, ctx, q, in...)
	for _, tk := range reserveN(t, ctx, q, "m", n) {
		if err := q.Fail(ctx, tk, errors.New("bad")); err != nil {
			t.Fatal(err)
		}
	}
	l, err := rdb.XLen(ctx, rediskeys.OfModel("m").Dead).Result()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole radix tree nodes (100 entries by default).
	if l >= n || l < 10 {
		t.Fatalf("dead-letter stream holds %d entries", l)
	}
	if rs := collect(t, ctx, q, "j", n); len(rs) != n {
		t.Fatalf("%d failed results", len(rs))
	}
}

func TestReclaimPastMaxDeliveriesDeadLetters(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 20*time.Second)
	opt := Options{LeaseTTL: 100 * time.Millisecond, MaxDeliveries: 2, Block: 50 * time.Millisecond}
	mk := func(c string) *Queue { o := opt; o.Consumer = c; return newQueue(t, rdb, o) }
	a, b, c := mk("a"), mk("b"), mk("c")
	enqueue(t, ctx, a, task("j", "t1", "m"))
	reserveN(t, ctx, a, "m", 1) // holders that die without a word
	if tk := reserveN(t, ctx, b, "m", 1)[0]; tk.Deliveries != 2 {
		t.Fatalf("second delivery %+v", tk)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if ts, err := c.Reserve(short, "m", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third delivery handed out: %+v %v", ts, err)
	}
	rs := collect(t, ctx, a, "j", 1)
	if !rs[0].Failed || !strings.Contains(rs[0].Error, "lease expired") {
		t.Fatalf("result %+v", rs[0])
	}
	if dl, _ := a.DeadLetters(ctx, "m", 1); len(dl) != 1 || dl[0].Consumer != "c" {
		t.Fatalf("dead letters %+v", dl)
	}
}

func TestModelsHaveTheirOwnStreams(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{})
	var in []rollout.Task
	for i := range 4 {
		in = append(in, task("j", fmt.Sprint("a", i), "model-a"), task("j", fmt.Sprint("b", i), "model-b"))
	}
	enqueue(t, ctx, q, in...)
	for _, m := range []string{"model-a", "model-b"} {
		ts := reserveN(t, ctx, q, m, 4)
		for _, tk := range ts {
			if tk.Model != m || tk.ID[0] != m[len(m)-1] {
				t.Fatalf("worker of %s got %+v", m, tk)
			}
		}
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		extra, err := q.Reserve(short, m, 10)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: extra tasks %+v, %v", m, extra, err)
		}
	}
}

func TestResultsWakesOnNewResult(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 20*time.Second)
	q := newQueue(t, rdb, Options{Block: 10 * time.Second}) // no polling: XREAD must wake
	enqueue(t, ctx, q, task("j", "t1", "m"))
	tk := reserveN(t, ctx, q, "m", 1)[0]
	got := make(chan []rollout.TaskResult, 1)
	go func() {
		rs, err := q.Results(ctx, "j")
		if err != nil {
			t.Error(err)
		}
		got <- rs
	}()
	time.Sleep(200 * time.Millisecond)
	done := time.Now()
	complete(t, ctx, q, tk, result(2))
	select {
	case rs := <-got:
		if len(rs) != 1 || rs[0].TaskID != "t1" {
			t.Fatalf("results %+v", rs)
		}
		if d := time.Since(done); d > time.Second {
			t.Fatalf("woke %v after the result", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Results did not wake")
	}
}

func TestResultsEndsWithContextAndClose(t *testing.T) {
	rdb := startRedis(t)
	q := newQueue(t, rdb, Options{Block: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(150 * time.Millisecond); cancel() }()
	if _, err := q.Results(ctx, "j"); !errors.Is(err, context.Canceled) {
		t.Fatalf("results: %v", err)
	}
	go func() { time.Sleep(150 * time.Millisecond); _ = q.Close() }()
	if _, err := q.Results(context.Background(), "j"); !errors.Is(err, rollout.ErrClosed) {
		t.Fatalf("results after close: %v", err)
	}
	if _, err := q.Reserve(context.Background(), "m", 1); !errors.Is(err, rollout.ErrClosed) {
		t.Fatalf("reserve after close: %v", err)
	}
}

// TestRestartedSchedulerGetsEveryResult plays a scheduler that restarts: a
// new queue instance re-enqueues every task it needs. Results finished
// before the restart come back by re-publication; a result published
// between the re-enqueue and the first Results call is not missed.
func TestRestartedSchedulerGetsEveryResult(t *testing.T) {
	ctx, rdb, worker := queueFor(t, 20*time.Second, Options{Consumer: "w"})
	old := newQueue(t, rdb, Options{Consumer: "s1"})
	all := []rollout.Task{task("j", "t1", "m"), task("j", "t2", "m"), task("j", "t3", "m")}
	enqueue(t, ctx, old, all...)
	ts := reserveN(t, ctx, worker, "m", 3)
	complete(t, ctx, worker, ts[0], result(2))
	if rs := collect(t, ctx, old, "j", 1); rs[0].TaskID != "t1" {
		t.Fatalf("before restart %v", ids(rs))
	}
	// t2 finishes while no scheduler runs.
	complete(t, ctx, worker, ts[1], result(2))
	_ = old.Close()

	restarted := newQueue(t, rdb, Options{Consumer: "s2"})
	enqueue(t, ctx, restarted, all...)
	// t3 finishes after the re-enqueue, before the first Results call.
	complete(t, ctx, worker, ts[2], result(2))
	rs := collect(t, ctx, restarted, "j", 3)
	if got := strings.Join(ids(rs), ","); got != "t1,t2,t3" {
		t.Fatalf("after restart: %s", got)
	}
	expectDrained(t, ctx, restarted)
}

// TestResultsFirstStartsAtStreamEnd: a queue whose first call for a job is
// Results does not replay the job's history.
func TestResultsFirstStartsAtStreamEnd(t *testing.T) {
	ctx, rdb, q := queueFor(t, 20*time.Second, Options{})
	enqueue(t, ctx, q, task("j", "t1", "m"), task("j", "t2", "m"))
	ts := reserveN(t, ctx, q, "m", 2)
	complete(t, ctx, q, ts[0], result(1))
	fresh := newQueue(t, rdb, Options{})
	expectNoResults(t, fresh, "j")
	complete(t, ctx, q, ts[1], result(1))
	if rs := collect(t, ctx, fresh, "j", 1); len(rs) != 1 || rs[0].TaskID != "t2" {
		t.Fatalf("results %v", ids(rs))
	}
}

func TestForgetJobDropsResults(t *testing.T) {
	ctx, rdb, q := queueFor(t, 20*time.Second, Options{})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	tk := reserveN(t, ctx, q, "m", 1)[0]
	complete(t, ctx, q, tk, result(1))
	if err := q.ForgetJob(ctx, "j", time.Hour); err != nil {
		t.Fatal(err)
	}
	// Only a live job's scheduler needs the results: they go at once, the
	// counters stay until the TTL.
	jk := rediskeys.OfJob("j")
	if n, _ := rdb.Exists(ctx, jk.Results(), jk.ResultStream(), jk.Enqueued()).Result(); n != 0 {
		t.Fatalf("%d result keys left", n)
	}
	if ttl, err := rdb.TTL(ctx, jk.Stats()).Result(); err != nil || ttl <= 0 {
		t.Fatalf("%s: ttl %v, %v", jk.Stats(), ttl, err)
	}
	if err := q.ForgetJob(ctx, "j", 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, rediskeys.OfJob("j").Queue()...).Result(); n != 0 {
		t.Fatalf("%d job keys left", n)
	}
}

func TestBadInput(t *testing.T) {
	ctx, _, q := queueFor(t, 5*time.Second, Options{})
	for _, tk := range []rollout.Task{task("j{x}", "t", "m"), task("j", "t", ""), task("j", "", "m")} {
		if err := q.Enqueue(ctx, tk); err == nil {
			t.Errorf("enqueue accepted %+v", tk)
		}
	}
	if _, err := q.Reserve(ctx, "m", 0); err == nil || !strings.Contains(err.Error(), "max") {
		t.Errorf("reserve max 0: %v", err)
	}
}

func TestUndecodableEntryIsDeadLettered(t *testing.T) {
	ctx, rdb, q := queueFor(t, 20*time.Second, Options{})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: rediskeys.OfModel("m").Work, Values: []any{fieldTask, "{not json", fieldPrior, 0}}).Err(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, ctx, q, task("j", "t2", "m"))
	ts := reserveN(t, ctx, q, "m", 2)
	if ts[0].ID != "t1" || ts[1].ID != "t2" {
		t.Fatalf("reserved %+v", ts)
	}
	dl, _ := q.DeadLetters(ctx, "m", 5)
	if len(dl) != 1 || !strings.Contains(dl[0].Cause, "undecodable") {
		t.Fatalf("dead letters %+v", dl)
	}
}

// TestWorkSurvivesRedisRestart: with AOF on, queued work and consumer
// group survive a Redis restart.
func TestWorkSurvivesRedisRestart(t *testing.T) {
	// started through redistest directly for Restart
	s := startRedisServer(t, "--appendonly", "yes", "--appendfsync", "always")
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: 20, MinRetryBackoff: 10 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := ctxFor(t, 30*time.Second)
	q := newQueue(t, rdb, Options{LeaseTTL: 200 * time.Millisecond})
	enqueue(t, ctx, q, task("j", "t1", "m"), task("j", "t2", "m"))
	t1 := reserveN(t, ctx, q, "m", 1)[0]
	s.Restart()
	// t1's lease survives the restart and expires; t2 was never delivered.
	ts := reserveN(t, ctx, q, "m", 2)
	for _, tk := range ts {
		complete(t, ctx, q, tk, result(1))
	}
	if ts[0].ID == ts[1].ID || (ts[0].Receipt != t1.Receipt && ts[1].Receipt != t1.Receipt) {
		t.Fatalf("after restart: %+v", ts)
	}
	if rs := collect(t, ctx, q, "j", 2); len(rs) != 2 {
		t.Fatalf("results %v", ids(rs))
	}
}

// TestLostGroupIsRecreated: a work stream deleted under a running queue
// (or lost by Redis) gets its consumer group back.
func TestLostGroupIsRecreated(t *testing.T) {
	ctx, rdb, q := queueFor(t, 20*time.Second, Options{})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	reserveN(t, ctx, q, "m", 1)
	if err := rdb.Del(ctx, rediskeys.OfModel("m").Work).Err(); err != nil {
		t.Fatal(err)
	}
	enqueue(t, ctx, q, task("j", "t2", "m"))
	if tk := reserveN(t, ctx, q, "m", 1)[0]; tk.ID != "t2" {
		t.Fatalf("reserved %+v", tk)
	}
}

func TestOldestTaskAge(t *testing.T) {
	ctx, _, q := queueFor(t, 10*time.Second, Options{})
	if age, err := q.OldestTaskAge(ctx, "m"); err != nil || age != 0 {
		t.Fatalf("empty stream: %v, %v; want 0", age, err)
	}
	enqueue(t, ctx, q, task("j", "a", "m"))
	time.Sleep(50 * time.Millisecond)
	enqueue(t, ctx, q, task("j", "b", "m"))
	age, err := q.OldestTaskAge(ctx, "m")
	if err != nil || age < 40*time.Millisecond || age > 5*time.Second {
		t.Fatalf("age %v, %v; want that of the first task (~50ms)", age, err)
	}
	// Leased tasks count until they are finished.
	ts := reserveN(t, ctx, q, "m", 2)
	for _, tk := range ts {
		complete(t, ctx, q, tk, result(2))
	}
	if age, err := q.OldestTaskAge(ctx, "m"); err != nil || age != 0 {
		t.Fatalf("drained stream: %v, %v; want 0", age, err)
	}
	if _, err := q.OldestTaskAge(ctx, "{bad}"); err == nil {
		t.Error("a model with braces is accepted")
	}
}

// TestOpenIsARestartedScheduler: Open gives a scheduler a queue of its own
// on the same Redis and options, whose results cursor starts fresh (a job
// re-enqueued there gets its finished results again) and whose consumer
// name is its own.
func TestOpenIsARestartedScheduler(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{Group: "g", Block: 50 * time.Millisecond})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	complete(t, ctx, q, reserveN(t, ctx, q, "m", 1)[0], result(2))
	collect(t, ctx, q, "j", 1)
	expectNoResults(t, q, "j")

	opened, ok := q.Open().(*Queue)
	if !ok {
		t.Fatalf("Open returned %T", q.Open())
	}
	t.Cleanup(func() { _ = opened.Close() })
	if o := opened.Options(); o.Group != "g" || o.Block != 50*time.Millisecond || o.Consumer == q.Options().Consumer {
		t.Errorf("opened queue's options %+v, want group g, block 50ms and a consumer other than %q", o, q.Options().Consumer)
	}
	enqueue(t, ctx, opened, task("j", "t1", "m"))
	if rs := collect(t, ctx, opened, "j", 1); rs[0].TaskID != "t1" || len(rs[0].Samples) != 2 {
		t.Fatalf("re-published %+v", rs[0])
	}
}
