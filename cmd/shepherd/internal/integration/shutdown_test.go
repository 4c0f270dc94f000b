package integration

import (
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

// waitFor polls cond for up to timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGracefulShutdown: SIGTERM makes a worker stop pulling and exit 0
// within its drain timeout, handing back the tasks that do not finish in
// time or finishing those that do, and makes serve exit 0 within its
// shutdown timeout with a label stream open; the job then completes on a
// new server and worker, with the labels of an uninterrupted run.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	slowURL, slow := startSim(t, sim.Options{Latency: 5 * time.Second})
	midURL, mid := startSim(t, sim.Options{Latency: 700 * time.Millisecond})
	fastURL, _ := startSim(t, sim.Options{})
	serveA, addr := startServe(t, "serve-a", "127.0.0.1:0", redisURL(rs.Addr), "--window", "2")
	ds := newDataset(t, 15, 4, 2)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)
	ctx := testCtx(t)
	job, err := c.Submit(ctx, client.Request{Model: "sim", Spec: spec(), Problems: ds.problems})
	if err != nil {
		t.Fatal(err)
	}

	// Tasks that cannot finish within the drain timeout are handed back.
	w1 := startWorker(t, "worker-1", slowURL, redisURL(rs.Addr), "--drain-timeout", "500ms")
	waitFor(t, "worker-1 to start a rollout", 10*time.Second, func() bool { return slow.Stats().Requests > 0 })
	if d := w1.stop(10 * time.Second); d > 3*time.Second {
		t.Errorf("worker-1 took %v to stop with a 500ms drain timeout", d)
	}
	waitFor(t, "worker-1's requests to be abandoned", 5*time.Second, func() bool { return slow.Stats().ByStatus[499] > 0 })

	// Tasks that finish within the drain timeout are completed.
	w2 := startWorker(t, "worker-2", midURL, redisURL(rs.Addr), "--drain-timeout", "10s")
	waitFor(t, "worker-2 to start a rollout", 10*time.Second, func() bool { return mid.Stats().Requests > 0 })
	if d := w2.stop(15 * time.Second); d > 8*time.Second {
		t.Errorf("worker-2 took %v to stop", d)
	}
	st := mid.Stats()
	if st.ByStatus[200] == 0 || st.ByStatus[200] != st.Requests {
		t.Errorf("worker-2 did not finish its rollouts: %d requests, by status %v", st.Requests, st.ByStatus)
	}

	// serve stops with a label stream open; the stream resumes on the next
	// server.
	s := c.Labels(ctx, job.Id, "")
	if !s.Next() {
		t.Fatalf("label stream: %v", s.Err())
	}
	first := s.Event()
	if d := serveA.stop(10 * time.Second); d > 5*time.Second {
		t.Errorf("serve took %v to stop with a 2s shutdown timeout", d)
	}
	serveB, _ := startServe(t, "serve-b", addr, redisURL(rs.Addr))
	w3 := startWorker(t, "worker-3", fastURL, redisURL(rs.Addr))
	got := follow(t, s, 0, nil)
	if r := first.Record; r != nil {
		got.records[r.ProblemID+"/"+r.SolutionID] = servertest.RecordJSON(t, *r)
	}
	checkJob(t, got, want, testN)
	w3.stop(10 * time.Second)
	serveB.stop(10 * time.Second)
}
