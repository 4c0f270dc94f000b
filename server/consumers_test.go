package server

import (
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestDeadConsumersRemoved: consumers of the workers' group that hold no
// task and read nothing for ConsumerIdleTTL are deleted; one that holds a
// task is kept however long it is idle (its task would be lost from the
// pending list), and so is one that reads. A consumer's idle time is
// Redis's own, so this test waits on real time, not a fake clock.
func TestDeadConsumersRemoved(t *testing.T) {
	h := newHarness(t)
	ctx := testCtx(t)
	work, group := "shepherd:{model:sim}:work", "shepherd-workers"
	if err := h.rdb.XGroupCreateMkStream(ctx, work, group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: work, Values: []any{"t", "{}"}})
	// "holder" takes the task and dies; "gone" stopped holding nothing.
	if err := h.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "holder", Streams: []string{work, ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	h.rdb.XGroupCreateConsumer(ctx, work, group, "gone")
	h.startServer(Options{ConsumerIdleTTL: 300 * time.Millisecond})

	// "alive" keeps taking tasks and finishing them (Redis creates a
	// consumer, and counts it active, when it reads an entry).
	consumers := func() []string {
		id := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: work, Values: []any{"t", "{}"}}).Val()
		h.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "alive", Streams: []string{work, ">"}, Count: 1, Block: -1})
		h.rdb.XAck(ctx, work, group, id)
		cs, err := h.rdb.XInfoConsumers(ctx, work, group).Result()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		return names
	}
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(consumers(), "gone") {
		if time.Now().After(deadline) {
			t.Fatalf("the idle consumer was not removed: %v", consumers())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 10 { // several rounds of the loop
		consumers()
		time.Sleep(100 * time.Millisecond)
	}
	if got := consumers(); !slices.Equal(got, []string{"alive", "holder"}) {
		t.Errorf("consumers %v, want [alive holder]", got)
	}
	if p, _ := h.rdb.XPending(ctx, work, group).Result(); p == nil || p.Count != 1 {
		t.Errorf("pending %+v, want holder's task still pending", p)
	}
}
