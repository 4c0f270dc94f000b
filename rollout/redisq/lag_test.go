package redisq

import (
	"testing"
	"time"
)

func TestOldestTaskAge(t *testing.T) {
	rdb := startRedis(t)
	q := newQueue(t, rdb, Options{})
	ctx := ctxFor(t, 10*time.Second)
	if age, err := q.OldestTaskAge(ctx, "m"); err != nil || age != 0 {
		t.Fatalf("empty stream: %v, %v; want 0", age, err)
	}
	if err := q.Enqueue(ctx, task("j", "a", "m")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := q.Enqueue(ctx, task("j", "b", "m")); err != nil {
		t.Fatal(err)
	}
	age, err := q.OldestTaskAge(ctx, "m")
	if err != nil || age < 40*time.Millisecond || age > 5*time.Second {
		t.Fatalf("age %v, %v; want that of the first task (~50ms)", age, err)
	}
	// Leased tasks count until they are finished.
	ts := reserveN(t, ctx, q, "m", 2)
	for _, tk := range ts {
		if err := q.Complete(ctx, tk, result(2)); err != nil {
			t.Fatal(err)
		}
	}
	if age, err := q.OldestTaskAge(ctx, "m"); err != nil || age != 0 {
		t.Fatalf("drained stream: %v, %v; want 0", age, err)
	}
	if _, err := q.OldestTaskAge(ctx, "{bad}"); err == nil {
		t.Error("a model with braces is accepted")
	}
}
