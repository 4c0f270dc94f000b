package server

import (
	"context"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// announceReleased tells the other servers that a job's lease is free: a
// server that gives a job's lease up (it is stopping) names the job on the
// rediskeys.Released channel, so that the other servers adopt it at once
// rather than at their next adoption scan. A message lost (no server
// listening, a broken connection) only delays the adoption to that scan.
func (s *Server) announceReleased(ctx context.Context, jobID string) {
	if err := s.rdb.Publish(ctx, rediskeys.Released, jobID).Err(); err != nil {
		s.log.Debug("announcing a released job", "job", jobID, "error", err)
	}
}

// releasedLoop listens for released jobs and wakes the adoption loop.
func (s *Server) releasedLoop(ctx context.Context) {
	sub := s.rdb.Subscribe(ctx, rediskeys.Released)
	defer sub.Close()
	ch := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			if s.localRunner(msg.Payload) != nil {
				continue
			}
			s.log.Debug("a job's lease was released; adopting", "job", msg.Payload)
			select {
			case s.adoptNow <- struct{}{}:
			default:
			}
		}
	}
}
