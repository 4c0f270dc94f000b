package integration

import (
	"regexp"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestPeerAdoptsAtOnceOnSIGTERM: a server stopping with SIGTERM releases
// its jobs' leases and says so; its peer adopts them at once, not at its
// next adoption scan (here 15 s away: half the 30 s lease), and the job
// completes with the labels of an uninterrupted run.
func TestPeerAdoptsAtOnceOnSIGTERM(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{Latency: 50 * time.Millisecond})
	lease := []string{"--window", "2", "--job-lease-ttl", "30s"}
	serveA, addrA := startServe(t, "serve-a", "127.0.0.1:0", redisURL(rs.Addr), lease...)
	serveB, addrB := startServe(t, "serve-b", "127.0.0.1:0", redisURL(rs.Addr), lease...)
	startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 25, 6, 3)
	want := ds.reference(t, testN, testSeed)
	ctx := testCtx(t)
	job, err := dial(t, addrA).Submit(ctx, client.Request{Model: "sim", Spec: spec(), Problems: ds.problems})
	if err != nil {
		t.Fatal(err)
	}
	scheduling := regexp.MustCompile(`msg="scheduling job" job=` + job.Id)
	serveA.waitLog(scheduling, 10*time.Second)
	s := dial(t, addrB).Labels(ctx, job.Id, "")
	var adoptedIn time.Duration
	got := follow(t, s, 2, func() {
		stopped := time.Now()
		serveA.stop(10 * time.Second)
		serveB.waitLog(scheduling, 10*time.Second)
		adoptedIn = time.Since(stopped)
	})
	t.Logf("serve-b adopted the job %v after serve-a got SIGTERM", adoptedIn.Round(time.Millisecond))
	if adoptedIn > 5*time.Second {
		t.Errorf("serve-b adopted the job %v after serve-a stopped, want at once", adoptedIn)
	}
	checkJob(t, got, want, testN)
	serveB.stop(10 * time.Second)
}
