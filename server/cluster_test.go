package server

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestRedisCluster runs jobs on a 3-node Redis Cluster: every script must
// touch keys of one slot, and the jobs' keys spread over the nodes.
func TestRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	h := newHarnessOn(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs, PoolSize: 64}))
	h.startWorker(sim.Options{})
	ts := h.startServer(Options{})
	ctx := testCtx(t)
	problems, prepared := simProblems(t, 8, 3, 2)
	slots := map[int64]bool{}
	var ids []string
	for i := range 4 {
		resp, err := ts.client.SubmitJob(ctx, submitReq(fmt.Sprint("cluster-", i), problems, &shepherdv1.JobSpec{N: proto.Int32(2), Seed: int64(i)}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Job.Id)
		s, err := h.rdb.ClusterKeySlot(ctx, rediskeys.OfJob(resp.Job.Id).Meta()).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s/5462] = true
	}
	if _, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: ids[3]}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[:3] {
		got, err := collect(t, ctx, ts.client, id, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.records) != len(prepared) || got.final.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s: %d records, final %v", id, len(got.records), got.final)
		}
	}
	list, err := ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Jobs) != 4 {
		t.Fatalf("listed %d jobs, want 4", len(list.Jobs))
	}
	t.Logf("job keys on %d of 3 nodes", len(slots))
}
