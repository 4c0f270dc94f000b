package redisq

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Release implements rollout.Releaser: if this consumer still owns the
// task, it goes to the tail of the model's shared work stream at once for
// another worker, its delivery not counted, so a worker that cannot run
// tasks never pushes them towards the dead-letter stream.
func (q *Queue) Release(ctx context.Context, t rollout.Task) error {
	if err := checkTask(t); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if t.Receipt == "" {
		return fmt.Errorf("release: task %s: no receipt (not reserved from this queue)", t.ID)
	}
	if err := q.ensureGroup(ctx, t.Model, ""); err != nil {
		return fmt.Errorf("release: task %s: %w", t.ID, err)
	}
	key, id := streamOf(t)
	// The copy goes to the shared stream, which every worker reads, not back
	// to this worker's own, and this delivery is not counted (-1).
	err := retryScript.Run(ctx, q.rdb, []string{key, rediskeys.OfModel(t.Model).WorkOf("")}, q.opt.Group, q.opt.Consumer, id, -1).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release: task %s: %w", t.ID, err)
	}
	return nil
}
