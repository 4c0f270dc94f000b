package server

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// LiveJobs counts the jobs in the store that are QUEUED and RUNNING, over
// every server (for a jobs-by-state gauge; terminal transitions are seen by
// Options.OnJobFinished).
func (s *Server) LiveJobs(ctx context.Context) (queued, running int64, err error) {
	ids, err := s.rdb.SMembers(ctx, liveKey).Result()
	if err != nil {
		return 0, 0, err
	}
	const batch = 512
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		cmds := make([]*redis.StringCmd, len(part))
		_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range part {
				cmds[i] = p.HGet(ctx, rediskeys.OfJob(id).Meta(), fState)
			}
			return nil
		})
		for _, c := range cmds {
			// redis.Nil: the entry's job is gone (expired meanwhile).
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
				return 0, 0, err
			}
			switch parseState(c.Val()) {
			case shepherdv1.JobState_JOB_STATE_QUEUED:
				queued++
			case shepherdv1.JobState_JOB_STATE_RUNNING:
				running++
			}
		}
	}
	return queued, running, nil
}
