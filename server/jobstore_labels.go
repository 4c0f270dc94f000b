package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/labeler"
)

// emit commits a record once: appended to the labels stream and its
// solution added to the done set in one script. It returns the entry id
// and the job's solutions_done after it (delivered is the samples handed
// to the solution, for the shared count), "" if the solution had a record
// already, or errNotLive once the job is no longer live.
func (st *store) emit(ctx context.Context, jobID, solKey string, r labeler.Record, delivered int) (string, int64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", 0, err
	}
	failed := "0"
	if len(r.FailedSteps) > 0 {
		failed = "1"
	}
	k := rediskeys.OfJob(jobID)
	res, err := emitScript.Run(ctx, st.rdb, []string{k.Meta(), k.Labels(), k.Done()}, solKey, string(b), st.nowMS(), failed, delivered).Slice()
	switch {
	case errors.Is(err, redis.Nil):
		return "", 0, nil
	case err != nil && strings.HasPrefix(err.Error(), "NOTLIVE"):
		return "", 0, errNotLive
	case err != nil:
		return "", 0, fmt.Errorf("committing the record of %s: %w", r.SolutionID, err)
	}
	id, _ := res[0].(string)
	done, _ := res[1].(int64)
	return id, done, nil
}

// raiseStreamID makes a job's label stream generate ids after a cursor's
// entry id when it is behind it (see raiseStreamIDScript); it reports
// whether it was.
func (st *store) raiseStreamID(ctx context.Context, jobID, after string) (bool, error) {
	k := rediskeys.OfJob(jobID)
	n, err := raiseStreamIDScript.Run(ctx, st.rdb, []string{k.Labels(), k.Meta()}, after).Int()
	return n == 1, err
}

// labelEntry is one committed record.
type labelEntry struct {
	ID     string // stream entry id
	Record labeler.Record
}

// readLabels returns up to count records after entry id after ("0-0" for
// the first). With block > 0 it waits up to block for the first one;
// otherwise it returns at once.
func (st *store) readLabels(ctx context.Context, jobID, after string, count int64, block time.Duration) ([]labelEntry, error) {
	stream := rediskeys.OfJob(jobID).Labels()
	var msgs []redis.XMessage
	if block > 0 {
		res, err := st.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, after}, Count: count, Block: block}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, s := range res {
			msgs = append(msgs, s.Messages...)
		}
	} else {
		var err error
		msgs, err = st.rdb.XRangeN(ctx, stream, "("+after, "+", count).Result()
		if err != nil {
			return nil, err
		}
	}
	out := make([]labelEntry, 0, len(msgs))
	for _, m := range msgs {
		e := labelEntry{ID: m.ID}
		payload, _ := m.Values[fieldRecord].(string)
		if err := json.Unmarshal([]byte(payload), &e.Record); err != nil {
			return nil, fmt.Errorf("record %s: %w", m.ID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Cursors. A cursor is the stream entry id of a record followed by a short
// digest of the job id, so that a cursor of another job is recognised.
// Clients treat it as opaque.

func cursorTag(jobID string) string {
	h := sha256.Sum256([]byte("cursor\x00" + jobID))
	return hex.EncodeToString(h[:4])
}

func encodeCursor(jobID, entryID string) string { return entryID + "." + cursorTag(jobID) }

// decodeCursor returns the entry id a cursor stands for; "" is "0-0",
// before the first record.
func decodeCursor(jobID, cursor string) (string, error) {
	if cursor == "" {
		return "0-0", nil
	}
	id, tag, ok := strings.Cut(cursor, ".")
	if !ok || !validEntryID(id) || len(tag) != 8 {
		return "", errors.New("cursor: malformed (pass a cursor received from this job's stream, or none)")
	}
	if tag != cursorTag(jobID) {
		return "", fmt.Errorf("cursor: belongs to another job than %s", jobID)
	}
	return id, nil
}

func validEntryID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
