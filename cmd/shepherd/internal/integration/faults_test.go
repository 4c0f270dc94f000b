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
		if err := w1.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
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
	r := startRig(t, 12)
	ctx := testCtx(t)

	s := r.client.LabelSolutions(ctx, client.Request{Model: "sim", Spec: spec(), Problems: r.ds.problems})
	got := follow(t, s, 5, func() {
		r.serve.stop(10 * time.Second)
		r.serve, _ = startServe(t, "serve-b", r.addr, redisURL(r.redis.Addr), "--window", "4")
	})
	if s.Reconnects() == 0 {
		t.Error("the stream never reconnected")
	}
	checkJob(t, got, r.want, testN)
	replay := follow(t, r.client.Labels(ctx, s.JobID(), ""), 0, nil)
	if !slices.Equal(replay.keys, got.keys) {
		t.Errorf("the resumed stream's order differs from the job's:\n got  %v\n want %v", got.keys, replay.keys)
	}
	r.stop()
}

// TestRedisRestartMidJob: Redis (with AOF) goes down for a while in the
// middle of a job and comes back with its data; server, workers and the
// client's stream ride out the outage and the job completes.
func TestRedisRestartMidJob(t *testing.T) {
	t.Parallel()
	r := startRig(t, 13, "--appendonly", "yes", "--appendfsync", "always")

	s := r.client.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: r.ds.problems})
	got := follow(t, s, 5, func() {
		r.redis.Kill()
		time.Sleep(1500 * time.Millisecond)
		r.redis.Restart()
	})
	// The stream breaks, or rides out the outage on go-redis's retries.
	t.Logf("the stream reconnected %d times", s.Reconnects())
	checkJob(t, got, r.want, testN)
	r.stop()
}

// rig is a serve and a worker process on a private Redis, against a
// simulator with latency, serving jobs a few solutions at a time; and a
// data set with its reference labels.
type rig struct {
	redis         *redistest.Server
	serve, worker *proc
	addr          string
	client        *client.Client
	ds            dataset
	want          map[string]string
}

// startRig starts a rig whose data set has seed; redisArgs go to
// redis-server.
func startRig(t *testing.T, seed int64, redisArgs ...string) *rig {
	t.Helper()
	r := &rig{redis: redistest.Start(t, redisArgs...)}
	simURL, _ := startSim(t, sim.Options{Latency: 30 * time.Millisecond})
	r.serve, r.addr = startServe(t, "serve", "127.0.0.1:0", redisURL(r.redis.Addr), "--window", "4")
	r.worker = startWorker(t, "worker", simURL, redisURL(r.redis.Addr))
	r.ds = newDataset(t, seed, 8, 3)
	r.want = r.ds.reference(t, testN, testSeed)
	r.client = dial(t, r.addr)
	return r
}

// stop stops the worker, then the server.
func (r *rig) stop() {
	r.worker.stop(10 * time.Second)
	r.serve.stop(10 * time.Second)
}
