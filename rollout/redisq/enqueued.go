package redisq

import (
	"context"
	"fmt"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// Enqueued returns the number of distinct tasks of a job added to a work
// stream so far (a task enqueued again, or re-published from its stored
// result, counts once).
func (q *Queue) Enqueued(ctx context.Context, jobID string) (int64, error) {
	if err := checkName("enqueued: job", jobID); err != nil {
		return 0, err
	}
	n, err := q.rdb.SCard(ctx, rediskeys.OfJob(jobID).Enqueued).Result()
	if err != nil {
		return 0, fmt.Errorf("enqueued: job %s: %w", jobID, err)
	}
	return n, nil
}
