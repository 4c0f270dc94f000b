package integration

import (
	"google.golang.org/protobuf/proto"

	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// The jobs of these tests run a few solutions at a time (--window) on a
// simulator with latency, so that records trickle in and a fault lands in
// the middle of the job.

const (
	testN    = 4
	testSeed = 5
)

func spec() *shepherdv1.JobSpec { return &shepherdv1.JobSpec{N: proto.Int32(testN), Seed: testSeed} }

// TestWorkerKilledMidJob: one of two workers dies (SIGKILL) in the middle
// of a job; its leased tasks are taken over by the other once their lease
// expires, and the job completes with the labels of a run without the
// kill, every step with exactly n rollouts counted.
func TestWorkerKilledMidJob(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{Latency: 30 * time.Millisecond})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--window", "4")
	w1 := startWorker(t, "worker-1", simURL, redisURL(rs.Addr), "--tasks", "4", "--consumer", "worker-1")
	w2 := startWorker(t, "worker-2", simURL, redisURL(rs.Addr), "--tasks", "4", "--metrics-listen", "127.0.0.1:0")
	metricsURL := w2.waitLog(metricsRE, 5*time.Second)[1]
	ds := newDataset(t, 11, 8, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()

	ctx := testCtx(t)
	s := c.LabelSolutions(ctx, client.Request{Model: "sim", Spec: spec(), Problems: ds.problems})
	got := follow(t, s, 5, func() {
		// Kill worker-1 while it holds leased tasks (from its own stream:
		// it registered, so its problems' tasks are routed to it).
		waitFor(t, "worker-1 to hold a task", 10*time.Second, func() bool {
			p, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: "shepherd:{model:sim}:work:worker-1", Group: "shepherd-workers",
				Start: "-", End: "+", Count: 1, Consumer: "worker-1"}).Result()
			return err == nil && len(p) > 0
		})
		if err := w1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	})
	if code, _ := w1.wait(5 * time.Second); code != -1 {
		t.Errorf("killed worker exited with %d", code)
	}
	checkJob(t, got, want, testN)
	if n := scrape(t, metricsURL, "shepherd_task_redeliveries_total"); n < 1 {
		t.Errorf("worker-2 took over no task of worker-1 (redeliveries %v)", n)
	}
	w2.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}

// TestServeRestartMidJob: the only server stops (SIGTERM) in the middle
// of a job and another starts on the same address and Redis; the client's
// stream resumes from its last cursor, with no record missed or repeated,
// in the job's order.
func TestServeRestartMidJob(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{Latency: 30 * time.Millisecond})
	serveA, addr := startServe(t, "serve-a", "127.0.0.1:0", redisURL(rs.Addr), "--window", "4")
	w := startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 12, 8, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)
	ctx := testCtx(t)

	var serveB *proc
	s := c.LabelSolutions(ctx, client.Request{Model: "sim", Spec: spec(), Problems: ds.problems})
	got := follow(t, s, 5, func() {
		serveA.stop(10 * time.Second)
		serveB, _ = startServe(t, "serve-b", addr, redisURL(rs.Addr), "--window", "4")
	})
	if s.Reconnects() == 0 {
		t.Error("the stream never reconnected")
	}
	checkJob(t, got, want, testN)
	replay := follow(t, c.Labels(ctx, s.JobID(), ""), 0, nil)
	if !slices.Equal(replay.keys, got.keys) {
		t.Errorf("the resumed stream's order differs from the job's:\n got  %v\n want %v", got.keys, replay.keys)
	}
	w.stop(10 * time.Second)
	serveB.stop(10 * time.Second)
}

// TestRedisRestartMidJob: Redis (with AOF) goes down for a while in the
// middle of a job and comes back with its data; server, workers and the
// client's stream ride out the outage and the job completes.
func TestRedisRestartMidJob(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	simURL, _ := startSim(t, sim.Options{Latency: 30 * time.Millisecond})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--window", "4")
	w := startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 13, 8, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)

	s := c.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: ds.problems})
	got := follow(t, s, 5, func() {
		rs.Kill()
		time.Sleep(1500 * time.Millisecond)
		rs.Restart()
	})
	// The stream breaks, or rides out the outage on go-redis's retries.
	t.Logf("the stream reconnected %d times", s.Reconnects())
	checkJob(t, got, want, testN)
	w.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}
