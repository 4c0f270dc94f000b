package redisq

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// OldestTaskAge returns how long the oldest entry of the model's work
// stream (waiting or leased) has been there, by the Redis server's clock,
// or 0 when the stream is empty. A retried task is re-added at the tail, so
// its age restarts. Both reads are O(1) on Redis.
func (q *Queue) OldestTaskAge(ctx context.Context, model string) (time.Duration, error) {
	if err := checkName("oldest task: model", model); err != nil {
		return 0, err
	}
	var first *redis.XMessageSliceCmd
	var now *redis.TimeCmd
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		first = p.XRangeN(ctx, keysOfModel(model).work, "-", "+", 1)
		now = p.Time(ctx)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("oldest task: model %s: %w", model, err)
	}
	ms := first.Val()
	if len(ms) == 0 {
		return 0, nil
	}
	msec, _, _ := strings.Cut(ms[0].ID, "-")
	ts, err := strconv.ParseInt(msec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("oldest task: model %s: entry id %q: %w", model, ms[0].ID, err)
	}
	return max(0, now.Val().Sub(time.UnixMilli(ts))), nil
}
