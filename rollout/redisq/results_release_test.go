package redisq

import (
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// TestReleaseFreesResults checks that released results leave Redis, that
// a late write of a released task changes nothing, and that a released
// task enqueued again runs again without counting twice.
func TestReleaseFreesResults(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 20*time.Second)
	q := newQueue(t, rdb, Options{})
	const total = 200
	in := tasks("j", "m", total)
	enqueue(t, ctx, q, in...)
	big := result(8)
	for i := range big.Samples {
		big.Samples[i].Text = strings.Repeat("a step of reasoning ", 50)
	}
	got := reserveN(t, ctx, q, "m", total)
	for _, tk := range got {
		complete(t, ctx, q, tk, big)
	}
	collect(t, ctx, q, "j", total)
	jk := rediskeys.OfJob("j")
	usage := func() int64 {
		var sum int64
		for _, k := range []string{jk.Results(), jk.ResultStream()} {
			n, err := rdb.MemoryUsage(ctx, k).Result()
			if err != nil {
				t.Fatalf("memory usage of %s: %v", k, err)
			}
			sum += n
		}
		return sum
	}
	before := usage()
	ids := make([]string, total)
	for i := range ids {
		ids[i] = in[i].ID
	}
	if err := q.ReleaseResults(ctx, "j", ids); err != nil {
		t.Fatal(err)
	}
	after := usage()
	t.Logf("results of %d tasks: %d bytes before release, %d after", total, before, after)
	if n, _ := rdb.XLen(ctx, jk.ResultStream()).Result(); n != 0 {
		t.Fatalf("%d results left in the stream", n)
	}
	if after*20 > before {
		t.Fatalf("released results still use %d of %d bytes", after, before)
	}

	// A stale holder's late write of a released task counts nothing and
	// publishes nothing.
	stats, _ := q.Stats(ctx, "j")
	complete(t, ctx, q, got[0], big)
	if again, _ := q.Stats(ctx, "j"); again != stats {
		t.Fatalf("late write counted: %+v, was %+v", again, stats)
	}
	if n, _ := rdb.XLen(ctx, jk.ResultStream()).Result(); n != 0 {
		t.Fatalf("late write published %d results", n)
	}

	// A released task asked for again runs again, and its result arrives.
	enqueue(t, ctx, q, in[1])
	re := reserveN(t, ctx, q, "m", 1)[0]
	if re.ID != in[1].ID {
		t.Fatalf("reserved %s, want %s", re.ID, in[1].ID)
	}
	complete(t, ctx, q, re, result(2))
	if rs := collect(t, ctx, q, "j", 1); rs[0].TaskID != in[1].ID || len(rs[0].Samples) != 2 {
		t.Fatalf("result %+v", rs[0])
	}
	// The job's counters count each task once, like its enqueued set.
	if again, _ := q.Stats(ctx, "j"); again != stats {
		t.Fatalf("re-run counted again: %+v, was %+v", again, stats)
	}
	if n, _ := q.Enqueued(ctx, "j"); n != total {
		t.Fatalf("%d tasks enqueued, want %d", n, total)
	}
}
