package server

import (
	"context"
	"errors"
	"time"
)

// adoptLoop looks for live jobs that no server schedules (new jobs another
// server could not start, jobs of a server that stopped or crashed and
// whose lease was released or expired) and takes them over: at once, then
// every AdoptInterval, and when one of its schedulers ends with
// MaxRunningJobs set.
func (s *Server) adoptLoop(ctx context.Context) {
	t := time.NewTicker(s.opt.AdoptInterval)
	defer t.Stop()
	for {
		s.adopt(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.adoptNow:
		}
	}
}

// adopt scans the live set once.
func (s *Server) adopt(ctx context.Context) {
	var cursor uint64
	for {
		ids, next, err := s.rdb.SScan(ctx, liveKey, cursor, "", 256).Result()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("scanning live jobs", "error", err)
			}
			return
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			if s.localRunner(id) == nil {
				s.adoptOne(ctx, id)
			}
		}
		if next == 0 {
			return
		}
		cursor = next
	}
}

// adoptOne repairs what an interrupted server left half done for one job
// and starts scheduling it if its lease is free.
func (s *Server) adoptOne(ctx context.Context, id string) {
	m, err := s.store.get(ctx, id)
	switch {
	case errors.Is(err, errJobNotFound):
		// Expired (a creation that never completed): drop the entry.
		_ = s.rdb.SRem(ctx, liveKey, id).Err()
		return
	case err != nil:
		s.log.Warn("reading a live job", "job", id, "error", err)
		return
	case !isLive(m.State):
		// Its finisher stopped before finalizing.
		if err := s.finalize(ctx, m); err != nil {
			s.log.Warn("finalizing a finished job", "job", id, "error", err)
		}
		return
	case !m.Committed:
		if err := s.store.commit(ctx, m); err != nil {
			s.log.Warn("committing a job", "job", id, "error", err)
			return
		}
	}
	s.tryStart(id)
}
