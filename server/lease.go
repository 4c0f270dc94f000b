package server

import (
	"context"
	"time"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// A job lease makes one server the job's scheduler: SET NX PX with an
// owner token, extended by the heartbeat loop with an owner check, and
// deleted with an owner check when the server stops (so another server
// adopts the job at once) or by the terminal transition of the job.

// acquireLease takes a job's lease if nobody holds it.
func (st *store) acquireLease(ctx context.Context, jobID, token string, ttl time.Duration) (bool, error) {
	return st.rdb.SetNX(ctx, rediskeys.OfJob(jobID).Lease(), token, ttl).Result()
}

// renewLease extends a lease the token holds; false means it was lost.
func (st *store) renewLease(ctx context.Context, jobID, token string, ttl time.Duration) (bool, error) {
	n, err := renewLeaseScript.Run(ctx, st.rdb, []string{rediskeys.OfJob(jobID).Lease()}, token, ttl.Milliseconds()).Int()
	return n == 1, err
}

// releaseLease gives up a lease the token holds.
func (st *store) releaseLease(ctx context.Context, jobID, token string) error {
	return releaseLeaseScript.Run(ctx, st.rdb, []string{rediskeys.OfJob(jobID).Lease()}, token).Err()
}
