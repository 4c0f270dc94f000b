package server

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

const expiryBatch = 256

// expiryLoop cleans up after finished jobs whose time to live has passed:
// their keys expired on their own; this drops their index entries and
// deletes the queue's keys of the job for good (a worker that finished a
// task of a cancelled job late may have re-created them). Every server
// runs it; the steps are idempotent.
func (s *Server) expiryLoop(ctx context.Context) {
	clock.Every(ctx, min(max(s.opt.JobTTL/4, 100*time.Millisecond), time.Minute), func() {
		if err := s.expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("expiring finished jobs", "error", err)
		}
	})
}

func (s *Server) expire(ctx context.Context) error {
	for {
		members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
			Key: expiryKey, Start: "-inf", Stop: strconv.FormatInt(s.store.nowMS(), 10), ByScore: true, Count: expiryBatch,
		}).Result()
		if err != nil || len(members) == 0 {
			return err
		}
		for _, m := range members {
			id, owner, _ := strings.Cut(m, " ")
			if err := s.rdb.ZRem(ctx, rediskeys.Index(owner), id).Err(); err != nil {
				return err
			}
			if validJobID(id) || scoreJobID(id) {
				if err := s.q.ForgetJob(ctx, id, 0); err != nil {
					return err
				}
			}
			if err := s.rdb.ZRem(ctx, expiryKey, m).Err(); err != nil {
				return err
			}
		}
		if len(members) < expiryBatch {
			return nil
		}
	}
}

// consumersLoop deletes the dead consumers of the workers' group (see
// redisq.Queue.RemoveIdleConsumers), on a queue that has them. Every server
// runs it; it is idempotent.
func (s *Server) consumersLoop(ctx context.Context) {
	reaper, ok := s.q.(consumerReaper)
	if !ok {
		return
	}
	clock.Every(ctx, min(max(s.opt.ConsumerIdleTTL/2, 50*time.Millisecond), time.Minute), func() {
		removed, err := reaper.RemoveIdleConsumers(ctx, s.opt.ConsumerIdleTTL)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("removing idle consumers", "error", err)
		}
		for model, names := range removed {
			s.log.Info("removed consumers idle with no task from the workers' group", "model", model, "consumers", names, "idle_over", s.opt.ConsumerIdleTTL)
		}
	})
}
