package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestRedisCluster runs a job to completion with serve and worker on a
// 3-node Redis Cluster (--redis-cluster).
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	redisArgs := []string{"--redis-cluster", strings.Join(cl.Addrs, ",")}
	simURL, _ := startSim(t, sim.Options{})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisArgs)
	w := startWorker(t, "worker", simURL, redisArgs)
	ds := newDataset(t, 14, 6, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)

	got := follow(t, c.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: ds.problems}), 0, nil)
	checkJob(t, got, want, testN)
	w.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}
