package redisq

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// removeIdleConsumersScript drops the dead consumers of a work stream's
// group, atomically with the check that they hold nothing.
var removeIdleConsumersScript = redis.NewScript(`
-- KEYS[1] work stream
-- ARGV[1] group, ARGV[2] idle bound (ms)
-- Deletes every consumer of the group that holds no pending task and has
-- not read for more than ARGV[2] ms (a worker that stopped or died and
-- whose tasks were taken over); a live worker reads at least every block
-- interval, and XREADGROUP creates it again anyway. Returns the names
-- deleted.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then
  return {}
end
local bound = tonumber(ARGV[2])
local removed = {}
for _, c in ipairs(consumers) do
  local name, pending, idle
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1]
    elseif c[i] == 'pending' then pending = c[i + 1]
    elseif c[i] == 'idle' then idle = c[i + 1]
    end
  end
  if name and pending == 0 and idle and idle > bound then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    removed[#removed + 1] = name
  end
end
return removed
`)

// RemoveIdleConsumers deletes from every work stream's group the consumers
// that hold no task and have not read for longer than idle, and returns
// their names by model. Consumers are named per worker process, so each
// worker that stopped or died leaves one behind; without this the group
// (and XINFO, XPENDING summaries, dashboards) grows with every restart.
func (q *Queue) RemoveIdleConsumers(ctx context.Context, idle time.Duration) (map[string][]string, error) {
	streams, err := q.workStreams(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, key := range streams {
		names, err := removeIdleConsumersScript.Run(ctx, q.rdb, []string{key}, q.opt.Group, idle.Milliseconds()).StringSlice()
		if err != nil {
			return out, err
		}
		if len(names) > 0 {
			model := rediskeys.ModelOfWork(key)
			out[model] = names
		}
	}
	return out, nil
}

// workStreams lists the work streams' keys (on every master of a cluster).
func (q *Queue) workStreams(ctx context.Context) ([]string, error) {
	scan := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var keys []string
		iter := c.ScanType(ctx, 0, rediskeys.SharedWorkPattern, 256, "stream").Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		return keys, iter.Err()
	}
	cc, ok := q.rdb.(*redis.ClusterClient)
	if !ok {
		return scan(ctx, q.rdb)
	}
	var mu sync.Mutex
	var all []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := scan(ctx, c)
		mu.Lock()
		all = append(all, keys...)
		mu.Unlock()
		return err
	})
	return all, err
}
