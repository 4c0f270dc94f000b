package server

import (
	"context"
	"time"

	"github.com/shepherd-prm/shepherd/internal/clock"
)

// heartbeatLoop extends the leases of the jobs this server schedules at a
// third of their TTL, so that two missed beats still leave them alive. A
// lost lease (taken over after an expiry, or deleted when the job finished
// or was cancelled elsewhere) stops the job's scheduler here; so does a
// lease that could not be renewed for a whole TTL, since another server
// may have adopted the job by then.
func (s *Server) heartbeatLoop(ctx context.Context) {
	clock.Every(ctx, max(s.opt.LeaseTTL/3, 10*time.Millisecond), func() {
		for _, r := range s.runningJobs() {
			s.renew(ctx, r)
		}
	})
}

func (s *Server) renew(ctx context.Context, r *runner) {
	ok, err := s.store.renewLease(ctx, r.jobID, r.token, s.opt.LeaseTTL)
	r.mu.Lock()
	last := r.renewed
	if err == nil && ok {
		r.renewed = s.opt.Clock.Now()
	}
	r.mu.Unlock()
	switch {
	case err != nil && ctx.Err() == nil && s.opt.Clock.Now().Sub(last) > s.opt.LeaseTTL:
		s.log.Warn("job lease not renewed for a whole TTL; stopping its scheduler", "job", r.jobID, "error", err)
		r.stop(false)
	case err == nil && !ok:
		s.log.Info("job lease lost; stopping its scheduler", "job", r.jobID)
		r.stop(false)
	}
}
