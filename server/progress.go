package server

import (
	"context"

	"github.com/shepherd-prm/shepherd/internal/clock"
)

// progressLoop writes the counters of the jobs this server schedules, at
// most once per ProgressInterval per job and only when they changed, so
// that a busy job does not write Redis on every batch of results.
func (s *Server) progressLoop(ctx context.Context) {
	clock.Every(ctx, s.opt.ProgressInterval, func() {
		for _, r := range s.runningJobs() {
			r.mu.Lock()
			dirty := r.dirty
			r.dirty = false
			r.mu.Unlock()
			if !dirty {
				continue
			}
			pairs, err := s.counts(ctx, r.jobID, r.inflight())
			if err == nil {
				err = s.store.progress(ctx, r.jobID, pairs)
			}
			if err != nil && ctx.Err() == nil {
				s.log.Warn("writing job progress", "job", r.jobID, "error", err)
			}
		}
	})
}
