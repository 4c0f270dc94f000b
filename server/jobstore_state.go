package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// State machine (every transition is one script on the job's meta hash):
//
//	QUEUED  --scheduler starts-->            RUNNING
//	QUEUED, RUNNING --all records, no failed task--> SUCCEEDED
//	QUEUED, RUNNING --all records, failed tasks-->   PARTIAL
//	QUEUED, RUNNING --scheduler error, retries spent--> FAILED
//	QUEUED, RUNNING --CancelJob-->           CANCELLED
//
// Terminal states never change. A server that stops leaves its jobs
// RUNNING; the next server to take the lease resumes them.

// start moves a QUEUED job to RUNNING and returns the state after.
func (st *store) start(ctx context.Context, id string) (shepherdv1.JobState, error) {
	s, err := startScript.Run(ctx, st.rdb, []string{rediskeys.OfJob(id).Meta()}, st.nowMS()).Text()
	if errors.Is(err, redis.Nil) {
		return 0, errJobNotFound
	}
	if err != nil {
		return 0, err
	}
	return parseState(s), nil
}

// progress writes a live job's counters; pairs are field, value.
func (st *store) progress(ctx context.Context, id string, pairs []any) error {
	args := append([]any{st.nowMS()}, pairs...)
	return progressScript.Run(ctx, st.rdb, []string{rediskeys.OfJob(id).Meta()}, args...).Err()
}

// finish moves a live job to a terminal state with its final counts and
// returns the state after the call (the earlier terminal state if the job
// had one already).
func (st *store) finish(ctx context.Context, id string, to shepherdv1.JobState, errText string, pairs []any) (shepherdv1.JobState, error) {
	k := rediskeys.OfJob(id)
	args := append([]any{stateNames[to], errText, st.nowMS(), st.ttl.Milliseconds()}, pairs...)
	s, err := finishScript.Run(ctx, st.rdb, []string{k.Meta(), k.Labels(), k.Done(), k.Input(), k.Lease()}, args...).Text()
	if errors.Is(err, redis.Nil) {
		return 0, errJobNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("finishing job %s: %w", id, err)
	}
	return parseState(s), nil
}

// finalize does what follows a job's terminal transition, on keys outside
// the job's hash tag: the request-id key expires with the job, the job
// leaves the live set, and the expiry loop learns when to drop its index
// entry and the queue's keys. It is idempotent; a server that finds a
// terminal job still in the live set (its finisher stopped half way) runs
// it again.
func (s *Server) finalize(ctx context.Context, m *jobMeta) error {
	ttl := s.store.ttl
	rkey := rediskeys.Request(requestKeyHash(m.Owner, m.RequestID))
	if err := s.rdb.PExpire(ctx, rkey, ttl).Err(); err != nil {
		return err
	}
	expireAt := m.FinishMS + ttl.Milliseconds()
	if m.FinishMS == 0 {
		expireAt = s.store.nowMS() + ttl.Milliseconds()
	}
	if err := s.rdb.ZAdd(ctx, expiryKey, redis.Z{Score: float64(expireAt), Member: m.ID + " " + m.Owner}).Err(); err != nil {
		return err
	}
	// The queue's keys of the job (results, counters) are not needed any
	// more; the expiry loop deletes them for good, including any a late
	// worker re-creates.
	if err := s.q.ForgetJob(ctx, m.ID, ttl); err != nil {
		return err
	}
	return s.rdb.SRem(ctx, liveKey, m.ID).Err()
}
