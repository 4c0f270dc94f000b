package redisq

import (
	"errors"
	"testing"
	"time"
)

// TestReleaseDoesNotCountTheDelivery: a task handed back by a worker that
// cannot run it is delivered again at once with its delivery count
// unchanged, however often that happens; a Retry after it still counts.
func TestReleaseDoesNotCountTheDelivery(t *testing.T) {
	rdb := startRedis(t)
	ctx := ctxFor(t, 20*time.Second)
	q := newQueue(t, rdb, Options{MaxDeliveries: 2})
	if err := q.Enqueue(ctx, task("j", "t1", "m")); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		tk := reserveN(t, ctx, q, "m", 1)[0]
		if tk.Deliveries != 1 {
			t.Fatalf("after releases: %+v, want delivery 1", tk)
		}
		if err := q.Release(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	tk := reserveN(t, ctx, q, "m", 1)[0]
	if err := q.Retry(ctx, tk, errors.New("backend 503")); err != nil {
		t.Fatal(err)
	}
	if tk = reserveN(t, ctx, q, "m", 1)[0]; tk.Deliveries != 2 {
		t.Fatalf("after a retry: %+v, want delivery 2", tk)
	}
	if err := q.Complete(ctx, tk, result(2)); err != nil {
		t.Fatal(err)
	}
	if rs := collect(t, ctx, q, "j", 1); rs[0].Failed {
		t.Fatalf("result %+v", rs[0])
	}
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 0 || ps.Pending != 0 {
		t.Fatalf("work stream %+v", ps)
	}
}
