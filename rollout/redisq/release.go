package redisq

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/rollout"
)

// handBackScript hands a task back without counting its delivery.
var handBackScript = redis.NewScript(`
-- KEYS[1] the work stream holding the entry, KEYS[2] the model's shared work stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id
-- As retryScript, but the copy carries the deliveries before this one only
-- (the worker could not run the task: no usable backend, which says
-- nothing about the task), and it goes to the shared stream, which every
-- worker reads, not back to this worker's own. Returns the copy's id, or
-- nil when the lease was lost.
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then
  return false
end
local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
if #e == 0 then
  return false
end
local f, task, prior = e[1][2], nil, 0
for j = 1, #f, 2 do
  if f[j] == 't' then task = f[j + 1] elseif f[j] == 'p' then prior = tonumber(f[j + 1]) end
end
if not task then
  return false
end
return redis.call('XADD', KEYS[2], '*', 't', task, 'p', math.max(0, prior + p[1][4] - 1))
`)

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
	err := handBackScript.Run(ctx, q.rdb, []string{key, keysOfModel(t.Model).workOf("")}, q.opt.Group, q.opt.Consumer, id).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release: task %s: %w", t.ID, err)
	}
	return nil
}
