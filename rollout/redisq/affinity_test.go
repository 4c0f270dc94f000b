package redisq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

func routedTask(job, id, model, key string) rollout.Task {
	t := task(job, id, model)
	t.RouteKey = key
	return t
}

// registeredPair starts two workers, worker-a and worker-b, registered
// for model "m" with capacity 8 each.
func registeredPair(t *testing.T, ctx context.Context, rdb redis.UniversalClient, opt Options) (a, b *Queue) {
	t.Helper()
	a = newQueue(t, rdb, withConsumer(opt, "worker-a"))
	b = newQueue(t, rdb, withConsumer(opt, "worker-b"))
	for _, w := range []*Queue{a, b} {
		if err := w.Register(ctx, "m", 8); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// scheduler is a scheduler's queue whose cache of registered workers
// follows a fake clock, so that a test moves past routesTTL at once.
func scheduler(t *testing.T, rdb redis.UniversalClient, opt Options) (*Queue, *clock.Fake) {
	t.Helper()
	q := newQueue(t, rdb, withConsumer(opt, "scheduler"))
	clk := clock.NewFake()
	q.now = clk.Now
	return q, clk
}

// TestTasksReachTheirWorker checks that every task of a route key goes to
// one registered worker, that keys spread over the workers, and that
// Capacity sums the registered capacities.
func TestTasksReachTheirWorker(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 30*time.Second)
	opt := Options{LeaseTTL: 2 * time.Second}
	a, b := registeredPair(t, ctx, rdb, opt)
	pure := opt
	pure.LoadBound = -1 // no spill-over: every key stays on its worker
	sched := newQueue(t, rdb, withConsumer(pure, "scheduler"))
	if c, err := sched.Capacity(ctx, "m"); err != nil || c != 16 {
		t.Fatalf("capacity %d, %v; want 16", c, err)
	}
	const keys, perKey = 20, 4
	var in []rollout.Task
	for k := range keys {
		for i := range perKey {
			in = append(in, routedTask("j", fmt.Sprintf("t%d-%d", k, i), "m", fmt.Sprint("problem-", k)))
		}
	}
	enqueue(t, ctx, sched, in...)
	// Backlog and lag see the workers' streams.
	if ps, err := sched.Pending(ctx, "m"); err != nil || ps.Length != int64(len(in)) {
		t.Errorf("pending %+v, %v; want %d entries", ps, err, len(in))
	}
	time.Sleep(20 * time.Millisecond)
	if age, err := sched.OldestTaskAge(ctx, "m"); err != nil || age < 10*time.Millisecond {
		t.Errorf("oldest task age %v, %v", age, err)
	}
	owner := map[string]string{}
	got := 0
	for _, w := range []*Queue{a, b} {
		for {
			ts, err := w.Reserve(ctxFor(t, 500*time.Millisecond), "m", 100)
			if err != nil {
				break
			}
			for _, tk := range ts {
				got++
				if o, ok := owner[tk.RouteKey]; ok && o != w.opt.Consumer {
					t.Errorf("key %s reached %s and %s", tk.RouteKey, o, w.opt.Consumer)
				}
				owner[tk.RouteKey] = w.opt.Consumer
				complete(t, ctx, w, tk, result(2))
			}
		}
	}
	if got != len(in) {
		t.Fatalf("reserved %d of %d tasks", got, len(in))
	}
	per := map[string]int{}
	for _, o := range owner {
		per[o]++
	}
	if per["worker-a"] == 0 || per["worker-b"] == 0 {
		t.Fatalf("keys per worker %v", per)
	}
}

// TestDeadWorkerIsTakenOver kills a registered worker that holds leased
// tasks and has more waiting in its stream: the surviving worker must run
// every task once its registration and leases expire, new tasks of the
// dead worker's keys must go to the survivor, the drained stream must be
// dropped, and the job's counters must count each task once.
func TestDeadWorkerIsTakenOver(t *testing.T) {
	rs := startRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := ctxFor(t, 60*time.Second)
	opt := Options{LeaseTTL: time.Second, Block: 100 * time.Millisecond}

	// The doomed worker has its own connection, closed to kill it: its
	// heartbeats stop and it never deregisters.
	deadConn := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1})
	dead := New(deadConn, withConsumer(opt, "doomed"))
	if err := dead.Register(ctx, "m", 8); err != nil {
		t.Fatal(err)
	}
	live := newQueue(t, rdb, withConsumer(opt, "survivor"))
	if err := live.Register(ctx, "m", 8); err != nil {
		t.Fatal(err)
	}
	sched, clk := scheduler(t, rdb, opt)
	var in []rollout.Task
	for k := range 40 {
		in = append(in, routedTask("j", fmt.Sprint("t", k), "m", fmt.Sprint("problem-", k%10)))
	}
	enqueue(t, ctx, sched, in...)
	held, err := dead.Reserve(ctx, "m", 3)
	if err != nil || len(held) == 0 {
		t.Fatalf("the doomed worker reserved %d tasks: %v", len(held), err)
	}
	deadKeys := map[string]bool{}
	for _, tk := range held {
		deadKeys[tk.RouteKey] = true
	}
	deadConn.Close()
	_ = dead.Close()

	done := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for len(done) < len(in) && time.Now().Before(deadline) {
		ts, err := live.Reserve(ctxFor(t, time.Second), "m", 50)
		if err != nil {
			continue
		}
		for _, tk := range ts {
			done[tk.ID]++
			complete(t, ctx, live, tk, result(2))
		}
	}
	if len(done) != len(in) {
		t.Fatalf("survivor ran %d of %d tasks", len(done), len(in))
	}
	if c, err := sched.Capacity(ctx, "m"); err != nil || c != 8 {
		t.Errorf("capacity %d, %v; want 8 (the survivor's)", c, err)
	}

	// The dead worker's keys now route to the survivor.
	clk.Advance(routesTTL)
	var again []rollout.Task
	for k := range deadKeys {
		again = append(again, routedTask("j", "again-"+k, "m", k))
	}
	enqueue(t, ctx, sched, again...)
	mk := rediskeys.OfModel("m")
	if n, _ := rdb.XLen(ctx, mk.WorkOf("survivor")).Result(); n != int64(len(again)) {
		t.Errorf("survivor's stream holds %d entries, want %d", n, len(again))
	}
	for _, tk := range reserveN(t, ctx, live, "m", len(again)) {
		complete(t, ctx, live, tk, result(2))
	}
	if n, _ := rdb.Exists(ctx, mk.WorkOf("doomed")).Result(); n != 0 {
		t.Errorf("the dead worker's drained stream is still there")
	}
	if ok, _ := rdb.HExists(ctx, mk.Workers, "doomed").Result(); ok {
		t.Errorf("the dead worker is still registered")
	}
	st, err := sched.Stats(ctx, "j")
	if err != nil || st.TasksDone != int64(len(in)+len(again)) {
		t.Errorf("stats %+v (%v), want %d tasks done", st, err, len(in)+len(again))
	}
}

// TestSpillOverUnderSkewedLoad sends every task to one route key: with a
// load bound, the key's worker keeps tasks only up to the bound and the
// rest spill to the other worker; without one, all stay on it.
func TestSpillOverUnderSkewedLoad(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 30*time.Second)
	opt := Options{LeaseTTL: 2 * time.Second}
	for _, w := range []string{"worker-a", "worker-b"} {
		if err := newQueue(t, rdb, withConsumer(opt, w)).Register(ctx, "m", 8); err != nil {
			t.Fatal(err)
		}
	}
	mk := rediskeys.OfModel("m")
	backlog := func() (a, b int64) {
		a, _ = rdb.XLen(ctx, mk.WorkOf("worker-a")).Result()
		b, _ = rdb.XLen(ctx, mk.WorkOf("worker-b")).Result()
		return a, b
	}
	hot := func(job string) []rollout.Task {
		var in []rollout.Task
		for i := range 40 {
			in = append(in, routedTask(job, fmt.Sprint("t", i), "m", "hot-problem"))
		}
		return in
	}

	pure := opt
	pure.LoadBound = -1
	if err := newQueue(t, rdb, withConsumer(pure, "s1")).Enqueue(ctx, hot("j1")...); err != nil {
		t.Fatal(err)
	}
	a, b := backlog()
	if a+b != 40 || (a != 0 && b != 0) {
		t.Fatalf("without a bound: backlogs %d and %d, want all 40 on one worker", a, b)
	}
	owner, other := "worker-a", "worker-b"
	if b > 0 {
		owner, other = other, owner
	}

	// The owner holds 40 already; 40 more of its key with a bound of 1.25:
	// it may hold up to 1.25 x half of the 80, so 50, and the rest (30)
	// spill to the other worker.
	bounded := opt
	bounded.LoadBound = 1.25
	if err := newQueue(t, rdb, withConsumer(bounded, "s2")).Enqueue(ctx, hot("j2")...); err != nil {
		t.Fatal(err)
	}
	ho, _ := rdb.XLen(ctx, mk.WorkOf(owner)).Result()
	hs, _ := rdb.XLen(ctx, mk.WorkOf(other)).Result()
	if ho != 50 || hs != 30 {
		t.Fatalf("with bound 1.25: %s holds %d, %s %d; want 50 and 30", owner, ho, other, hs)
	}
}

// TestCapacityFollowsRegistrations checks the capacity a job admits
// against: the live registrations' sum, which drops when a worker leaves.
func TestCapacityFollowsRegistrations(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 20*time.Second)
	opt := Options{LeaseTTL: 2 * time.Second}
	sched, clk := scheduler(t, rdb, opt)
	reporter := sched.CapacityOf("m")
	if c := reporter.Capacity(); c != 0 {
		t.Fatalf("capacity %d before any worker registered, want 0 (unknown)", c)
	}
	a := New(rdb, withConsumer(opt, "worker-a"))
	b := newQueue(t, rdb, withConsumer(opt, "worker-b"))
	if err := a.Register(ctx, "m", 64); err != nil {
		t.Fatal(err)
	}
	if err := b.Register(ctx, "m", 192); err != nil {
		t.Fatal(err)
	}
	clk.Advance(routesTTL) // the reporter caches the list that long
	if c := reporter.Capacity(); c != 256 {
		t.Fatalf("capacity %d, want 256", c)
	}
	_ = a.Close() // a leaving worker ends its registration at once
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := b.Capacity(ctx, "m"); err == nil && c == 192 {
			break // b reads Redis, not the reporter's cache
		} else if time.Now().After(deadline) {
			t.Fatalf("worker-a still registered after Close: capacity %d, %v", c, err)
		}
	}
	if c := reporter.Capacity(); c != 256 {
		t.Fatalf("capacity %d within routesTTL, want the cached 256", c)
	}
	clk.Advance(routesTTL)
	if c := reporter.Capacity(); c != 192 {
		t.Fatalf("capacity %d after worker-a left, want 192", c)
	}
	if err := a.Register(ctx, "m", 0); err == nil {
		t.Error("a capacity of 0 is accepted")
	}
}

// TestWithdrawnWorkerHandsBack checks what a worker that lost its backends
// does to routing: the task it holds, handed back, reaches the other worker
// at once (through the shared stream, uncounted), and once it withdraws, new tasks
// of its problems are routed to the other worker until it rejoins.
func TestWithdrawnWorkerHandsBack(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 30*time.Second)
	opt := Options{LeaseTTL: 2 * time.Second}
	a, b := registeredPair(t, ctx, rdb, opt)
	sched, clk := scheduler(t, rdb, opt)
	// A key that routes to a.
	var key string
	for k := 0; key == ""; k++ {
		cand := fmt.Sprint("problem-", k)
		enqueue(t, ctx, sched, routedTask("j", "probe-"+cand, "m", cand))
		if ts, err := a.Reserve(ctxFor(t, 300*time.Millisecond), "m", 1); err == nil && len(ts) == 1 {
			key = cand
			complete(t, ctx, a, ts[0], result(1))
		} else if ts, err := b.Reserve(ctxFor(t, 300*time.Millisecond), "m", 1); err == nil && len(ts) == 1 {
			complete(t, ctx, b, ts[0], result(1))
		}
	}
	enqueue(t, ctx, sched, routedTask("j", "held", "m", key))
	held, err := a.Reserve(ctx, "m", 1)
	if err != nil || len(held) != 1 || held[0].ID != "held" {
		t.Fatalf("worker a reserved %v, %v", held, err)
	}
	// Handed back before a withdraws: it goes to the shared stream, which
	// b reads while a is still registered.
	if err := a.Release(ctx, held[0]); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	ts, err := b.Reserve(ctxFor(t, 2*time.Second), "m", 10)
	if err != nil || len(ts) != 1 || ts[0].ID != "held" {
		t.Fatalf("worker b reserved %v, %v; want the handed-back task", ts, err)
	}
	got["held"] = ts[0].Deliveries
	complete(t, ctx, b, ts[0], result(1))
	if err := a.Withdraw(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(routesTTL) // the scheduler's list of workers refreshes
	enqueue(t, ctx, sched, routedTask("j", "after", "m", key))
	for len(got) < 2 {
		ts, err := b.Reserve(ctxFor(t, 2*time.Second), "m", 10)
		if err != nil {
			t.Fatalf("worker b got %v of the handed-back and the new task: %v", got, err)
		}
		for _, tk := range ts {
			got[tk.ID] = tk.Deliveries
			complete(t, ctx, b, tk, result(1))
		}
	}
	if got["held"] != 1 {
		t.Errorf("the handed-back task arrives as delivery %d, want 1 (hand-backs are not counted)", got["held"])
	}
	if _, ok := got["after"]; !ok {
		t.Errorf("the new task did not reach worker b: %v", got)
	}
	if c, err := sched.Capacity(ctx, "m"); err != nil || c != 8 {
		t.Errorf("capacity with a withdrawn: %d, %v; want 8", c, err)
	}
	if err := a.Rejoin(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(routesTTL)
	if c, err := sched.Capacity(ctx, "m"); err != nil || c != 16 {
		t.Errorf("capacity after rejoining: %d, %v; want 16", c, err)
	}
}
