package server

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// storeWatchInterval is how often the server checks whether Redis
// restarted.
const storeWatchInterval = time.Second

// storeWatchLoop notices that Redis restarted (its run_id changed) and
// starts the schedulers of the jobs this server runs again from what the
// store holds. A Redis that restarts may have lost the last writes before
// its crash (appendfsync everysec, or no persistence at all): commits,
// queued tasks and their results. A scheduler that went on would wait for
// results of tasks that no longer exist; started again, it labels the
// solutions whose records were lost and enqueues again the tasks of those
// in flight.
func (s *Server) storeWatchLoop(ctx context.Context) {
	last := ""
	clock.Every(ctx, storeWatchInterval, func() {
		id, err := redisRunID(ctx, s.rdb)
		if err != nil || id == "" {
			return
		}
		if last != "" && id != last {
			jobs := s.runningJobs()
			s.log.Warn("Redis restarted (its run_id changed) and may have lost its last writes; scheduling the running jobs again from what it holds", "jobs", len(jobs))
			for _, r := range jobs {
				r.restart()
			}
			s.reclaim(ctx)
		}
		last = id
	})
}

// redisRunID identifies the Redis process (every master's, on a
// cluster): it changes when Redis restarts.
func redisRunID(ctx context.Context, rdb redis.UniversalClient) (string, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return runIDOf(ctx, rdb)
	}
	var mu sync.Mutex
	var ids []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		id, err := runIDOf(ctx, c)
		mu.Lock()
		ids = append(ids, id)
		mu.Unlock()
		return err
	})
	sort.Strings(ids)
	return strings.Join(ids, ","), err
}

func runIDOf(ctx context.Context, c redis.Cmdable) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, "run_id:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", nil
}

// reclaim takes back the live jobs whose lease names this server while it
// no longer schedules them: their scheduler finished, but Redis lost the
// job's terminal state and the release of its lease in a restart. Without
// this they would wait for the lease to expire.
func (s *Server) reclaim(ctx context.Context) {
	ids, err := s.rdb.SMembers(ctx, liveKey).Result()
	if err != nil {
		s.log.Warn("listing live jobs", "error", err)
		return
	}
	for _, id := range ids {
		if s.localRunner(id) != nil {
			continue
		}
		lease := rediskeys.OfJob(id).Lease()
		holder, err := s.rdb.Get(ctx, lease).Result()
		if err != nil || !strings.HasPrefix(holder, s.opt.ID+"/") {
			continue
		}
		if n, err := deleteIfScript.Run(ctx, s.rdb, []string{lease}, holder).Int(); err == nil && n == 1 {
			s.log.Warn("job left live by a Redis restart; scheduling it again", "job", id)
			s.adoptOne(ctx, id)
		}
	}
}
