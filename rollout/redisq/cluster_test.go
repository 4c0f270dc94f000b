package redisq

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// TestRedisCluster runs the basic flows on a 3-node Redis Cluster, over
// jobs and models whose keys land on different nodes: every script must
// touch a single slot.
func TestRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := ctxFor(t, 60*time.Second)
	opt := Options{LeaseTTL: 200 * time.Millisecond, MaxDeliveries: 2, Block: 100 * time.Millisecond}
	a := newQueue(t, rdb, withConsumer(opt, "a"))
	b := newQueue(t, rdb, withConsumer(opt, "b"))

	slots := map[int64]bool{}
	jobs := []string{"j0", "j1", "j2", "j3", "j4", "j5"}
	models := []string{"ma", "mb", "mc"}
	for _, j := range jobs {
		s, err := rdb.ClusterKeySlot(ctx, rediskeys.OfJob(j).Results()).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[s/5462] = true // 3 nodes share 16384 slots evenly
	}
	if len(slots) < 2 {
		t.Fatalf("job keys all on one node")
	}
	for i, j := range jobs {
		m := models[i%len(models)]
		in := tasks(j, m, 4)
		enqueue(t, ctx, a, in...)
		if err := a.Enqueue(ctx, in...); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	for _, m := range models {
		ts := reserveN(t, ctx, a, m, 8)
		if lost, err := a.Extend(ctx, ts); err != nil || len(lost) != 0 {
			t.Fatalf("extend: %v %v", lost, err)
		}
		if lost, err := b.Extend(ctx, ts); err != nil || len(lost) != len(ts) {
			t.Fatalf("non-owner extend: %v %v", lost, err)
		}
		for _, tk := range ts {
			var err error
			switch tk.ID {
			case "t0", "t1":
				err = a.Complete(ctx, tk, result(2))
			case "t2":
				err = a.Retry(ctx, tk, errors.New("503"))
			case "t3":
				err = a.Fail(ctx, tk, errors.New("400"))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		// t2 comes back once more; its lease then expires and b reclaims
		// it past MaxDeliveries, dead-lettering it.
		again := reserveN(t, ctx, a, m, 2)
		for _, tk := range again {
			if tk.ID != "t2" || tk.Deliveries != 2 {
				t.Fatalf("redelivered %+v", tk)
			}
		}
	}
	for _, m := range models {
		short := ctxFor(t, time.Second)
		if ts, err := b.Reserve(short, m, 10); err == nil {
			t.Fatalf("handed out past MaxDeliveries: %+v", ts)
		}
		ps, err := a.Pending(ctx, m)
		if err != nil || ps.Length != 0 {
			t.Fatalf("%s pending %+v %v", m, ps, err)
		}
		dl, err := a.DeadLetters(ctx, m, 10)
		if err != nil || len(dl) != 4 {
			t.Fatalf("%s dead letters %d %v", m, len(dl), err)
		}
	}
	for _, j := range jobs {
		rs := collect(t, ctx, a, j, 4)
		var got []string
		for _, r := range rs {
			got = append(got, fmt.Sprintf("%s:%v", r.TaskID, r.Failed))
		}
		// Completion order: t0, t1 and t3 during the first pass, t2 at the end.
		if strings.Join(got, ",") != "t0:false,t1:false,t3:true,t2:true" {
			t.Fatalf("%s results %v", j, got)
		}
		if st, err := a.Stats(ctx, j); err != nil || st.TasksDone != 2 || st.TasksFailed != 2 || st.Samples != 4 {
			t.Fatalf("%s stats %+v %v", j, st, err)
		}
	}
	// A restarted scheduler gets finished results back.
	fresh := newQueue(t, rdb, withConsumer(opt, "s2"))
	enqueue(t, ctx, fresh, task("j0", "t0", "ma"), task("j0", "t1", "ma"))
	if rs := collect(t, ctx, fresh, "j0", 2); rs[0].TaskID != "t0" || rs[1].TaskID != "t1" {
		t.Fatalf("re-published %v", ids(rs))
	}
	for _, j := range jobs {
		if err := a.ForgetJob(ctx, j, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

func withConsumer(o Options, c string) Options {
	o.Consumer = c
	return o
}
