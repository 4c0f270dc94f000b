package redisq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// OldestTaskAge returns how long the oldest entry of the model's work
// streams (the shared one and the registered workers', waiting or leased)
// has been there, by the Redis server's clock, or 0 when they are empty. A
// retried task is re-added at the tail, so its age restarts. The reads
// are O(1) on Redis per stream.
func (q *Queue) OldestTaskAge(ctx context.Context, model string) (time.Duration, error) {
	if err := checkName("oldest task: model", model); err != nil {
		return 0, err
	}
	ws, err := q.workers(ctx, model, false)
	if err != nil {
		return 0, fmt.Errorf("oldest task: %w", err)
	}
	mk := rediskeys.OfModel(model)
	keys := []string{mk.Work}
	for _, w := range ws {
		keys = append(keys, mk.WorkOf(w.name))
	}
	firsts := make([]*redis.XMessageSliceCmd, len(keys))
	var now *redis.TimeCmd
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			firsts[i] = p.XRangeN(ctx, k, "-", "+", 1)
		}
		now = p.Time(ctx)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("oldest task: model %s: %w", model, err)
	}
	oldest := int64(-1)
	for _, f := range firsts {
		ms := f.Val()
		if len(ms) == 0 {
			continue
		}
		msec, _, _ := strings.Cut(ms[0].ID, "-")
		ts, err := strconv.ParseInt(msec, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("oldest task: model %s: entry id %q: %w", model, ms[0].ID, err)
		}
		if oldest < 0 || ts < oldest {
			oldest = ts
		}
	}
	if oldest < 0 {
		return 0, nil
	}
	return max(0, now.Val().Sub(time.UnixMilli(oldest))), nil
}
