package server

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestStreamMovedBackwards: after Redis lost the tail of a job's label
// stream (it restarted without the end of its append-only file), a client
// resumes from a cursor past the stream's end. The server notices, and
// makes the stream's next ids come after that cursor, so that records
// labelled again are delivered to it rather than committed behind it.
func TestStreamMovedBackwards(t *testing.T) {
	h, ts, ctx := withServer(t, sim.Options{}, Options{})
	problems, prepared := simProblems(t, 7, 3, 2)
	id := ts.submit(t, ctx, submitReq("rewind", problems, &shepherdv1.JobSpec{N: proto.Int32(2)}))
	all := mustCollect(t, ctx, ts.client, id, "", 0)
	if len(all.records) != len(prepared) {
		t.Fatalf("%d records, want %d", len(all.records), len(prepared))
	}

	// The stream as Redis reloads it without its last 2 entries: their ids
	// are gone and the last generated id is the last surviving entry's.
	stream := rediskeys.OfJob(id).Labels()
	msgs, err := h.rdb.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ttl := h.rdb.PTTL(ctx, stream).Val()
	keep := msgs[:len(msgs)-2]
	h.rdb.Del(ctx, stream)
	for _, m := range keep {
		h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: m.ID, Values: m.Values})
	}
	h.rdb.PExpire(ctx, stream, ttl)
	lastCursor := all.cursors[len(all.cursors)-1]
	lastID, _, _ := strings.Cut(lastCursor, ".")

	tail := mustCollect(t, ctx, ts.client, id, lastCursor, 0)
	if len(tail.records) != 0 || tail.final == nil {
		t.Errorf("resumed past the end: %d records, final %v", len(tail.records), tail.final)
	}
	info, err := h.rdb.XInfoStream(ctx, stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if info.LastGeneratedID != lastID {
		t.Errorf("last generated id %s after the resume, want the cursor's %s", info.LastGeneratedID, lastID)
	}
	// An entry behind the cursor can no longer be added.
	between := keep[len(keep)-1].ID + "1"
	if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: between, Values: []any{"r", "{}"}}).Err(); err == nil {
		t.Errorf("XADD %s behind the cursor %s succeeded", between, lastID)
	}

	// A stream lost whole comes back empty with the cursor's id.
	h.rdb.Del(ctx, stream)
	if _, err := collect(t, ctx, ts.client, id, lastCursor, 0); err != nil {
		t.Fatal(err)
	}
	if info, err := h.rdb.XInfoStream(ctx, stream).Result(); err != nil || info.LastGeneratedID != lastID || info.Length != 0 {
		t.Errorf("recreated stream: %+v, %v; want empty with last id %s", info, err, lastID)
	}
	if h.rdb.PTTL(ctx, stream).Val() <= 0 {
		t.Error("the recreated stream of a finished job does not expire")
	}
}
