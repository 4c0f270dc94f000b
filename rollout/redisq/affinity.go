package redisq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Affinity across workers. A worker that registers for a model (Register)
// gets a work stream of its own; the scheduler's Enqueue sends each task
// with a RouteKey to one registered worker's stream, chosen by weighted
// rendezvous hashing of the key over the live workers (weight = the
// capacity they registered), so every prefix of a problem reaches the
// worker whose backends cache it, and only the keys of a worker that
// joins or leaves move. Registrations carry an expiry renewed by a
// heartbeat; a worker whose registration expired is dead: new tasks go
// elsewhere, and the other workers read the entries left in its stream
// and reclaim its expired leases, then drop the drained stream.

// workerInfo is one registered worker.
type workerInfo struct {
	name     string
	capacity int
	alive    bool
}

// routesTTL is how long Enqueue and Reserve reuse a model's list of
// registered workers.
const routesTTL = time.Second

type workerList struct {
	at      time.Time
	workers []workerInfo
}

// Register makes this queue's consumer a registered worker of model with
// the given capacity (samples its backends generate at once: the sum of
// their sequence slots, rollout.Pool.Capacity): tasks are
// routed to its own stream from now on, and a heartbeat renews the
// registration every LeaseTTL/3 until Close, which ends it (and retries a
// registration that failed: Redis may be restarting). Capacity also
// feeds Capacity, the fleet size schedulers admit work against.
func (q *Queue) Register(ctx context.Context, model string, capacity int) error {
	if err := checkName("register: model", model); err != nil {
		return err
	}
	if err := checkName("register: consumer", q.opt.Consumer); err != nil {
		return err
	}
	if capacity < 1 {
		return fmt.Errorf("register: capacity must be at least 1, got %d", capacity)
	}
	// The group first: a scheduler may route to the stream as soon as the
	// registration is visible.
	if err := q.ensureGroup(ctx, model, q.opt.Consumer); err != nil {
		return err
	}
	q.mu.Lock()
	_, running := q.registered[model]
	q.registered[model] = capacity
	q.mu.Unlock()
	if !running {
		go q.heartbeatRegistration(model)
	}
	return q.renew(ctx, model, capacity, q.opt.LeaseTTL)
}

func (q *Queue) renew(ctx context.Context, model string, capacity int, ttl time.Duration) error {
	err := registerScript.Run(ctx, q.rdb, []string{rediskeys.OfModel(model).Workers},
		q.opt.Consumer, capacity, ttl.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("register: model %s: %w", model, err)
	}
	return nil
}

// heartbeatRegistration renews a registration until the queue is closed,
// then ends it so that other workers take the stream over at once.
func (q *Queue) heartbeatRegistration(model string) {
	tick := time.NewTicker(max(q.opt.LeaseTTL/3, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-q.closed:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = q.renew(ctx, model, q.capacityOf(model), 0)
			cancel()
			return
		case <-tick.C:
			if q.isWithdrawn(model) {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), q.opt.LeaseTTL/3+time.Second)
			// A failed renewal is retried at the next tick; a worker that
			// cannot reach Redis cannot work either.
			_ = q.renew(ctx, model, q.capacityOf(model), q.opt.LeaseTTL)
			cancel()
		}
	}
}

// Withdraw ends this worker's registration for model while it cannot run
// tasks (no usable backend): schedulers stop routing problems to it, and
// the other workers take over what waits in its stream, as for a dead
// worker. Rejoin registers it again with its capacity.
func (q *Queue) Withdraw(ctx context.Context, model string) error {
	q.mu.Lock()
	capacity, ok := q.registered[model]
	if ok {
		q.withdrawn[model] = true
	}
	q.mu.Unlock()
	if !ok {
		return nil
	}
	return q.renew(ctx, model, capacity, 0)
}

// Rejoin undoes Withdraw: tasks are routed to this worker again.
func (q *Queue) Rejoin(ctx context.Context, model string) error {
	q.mu.Lock()
	capacity, ok := q.registered[model]
	delete(q.withdrawn, model)
	q.mu.Unlock()
	if !ok {
		return nil
	}
	return q.renew(ctx, model, capacity, q.opt.LeaseTTL)
}

func (q *Queue) isWithdrawn(model string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.withdrawn[model]
}

func (q *Queue) capacityOf(model string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.registered[model]
}

// isRegistered reports whether this consumer registered for model.
func (q *Queue) isRegistered(model string) bool { return q.capacityOf(model) > 0 }

// Capacity is the summed capacity of the live registered workers of model
// (0 when none registered).
func (q *Queue) Capacity(ctx context.Context, model string) (int, error) {
	if err := checkName("capacity: model", model); err != nil {
		return 0, err
	}
	ws, err := q.workers(ctx, model, true)
	if err != nil {
		return 0, err
	}
	return liveCapacity(ws), nil
}

func liveCapacity(ws []workerInfo) int {
	total := 0
	for _, w := range ws {
		if w.alive {
			total += w.capacity
		}
	}
	return total
}

// workers lists the registered workers of model, from a cache at most
// routesTTL old unless fresh.
func (q *Queue) workers(ctx context.Context, model string, fresh bool) ([]workerInfo, error) {
	q.mu.Lock()
	wl := q.workerLists[model]
	q.mu.Unlock()
	if !fresh && wl != nil && q.now().Sub(wl.at) < routesTTL {
		return wl.workers, nil
	}
	res, err := workersScript.Run(ctx, q.rdb, []string{rediskeys.OfModel(model).Workers}).Slice()
	if err != nil {
		return nil, fmt.Errorf("workers of model %s: %w", model, err)
	}
	if len(res) == 0 || len(res)%2 != 1 {
		return nil, errors.New("unexpected reply listing workers")
	}
	now, _ := res[0].(int64)
	var ws []workerInfo
	for i := 1; i+1 < len(res); i += 2 {
		name, _ := res[i].(string)
		v, _ := res[i+1].(string)
		c, e, _ := strings.Cut(v, " ")
		capacity, _ := strconv.Atoi(c)
		expiry, _ := strconv.ParseInt(e, 10, 64)
		ws = append(ws, workerInfo{name: name, capacity: capacity, alive: expiry > now})
	}
	q.mu.Lock()
	q.workerLists[model] = &workerList{at: q.now(), workers: ws}
	q.mu.Unlock()
	return ws, nil
}

// router is one Enqueue call's view of a model's live workers and their
// backlogs, which it updates as it assigns tasks.
type router struct {
	workers  []workerInfo
	load     []int64
	total    int64
	capacity int
	bound    float64
}

// routerFor reads the live workers of model and the length of their
// streams.
func (q *Queue) routerFor(ctx context.Context, model string) (*router, error) {
	ws, err := q.workers(ctx, model, false)
	if err != nil {
		return nil, err
	}
	r := &router{bound: q.opt.LoadBound}
	for _, w := range ws {
		if w.alive && w.capacity > 0 {
			r.workers = append(r.workers, w)
			r.capacity += w.capacity
		}
	}
	if len(r.workers) == 0 || r.bound < 0 {
		r.load = make([]int64, len(r.workers))
		return r, nil
	}
	mk := rediskeys.OfModel(model)
	lens := make([]*redis.IntCmd, len(r.workers))
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, w := range r.workers {
			lens[i] = p.XLen(ctx, mk.WorkOf(w.name))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("backlog of model %s's workers: %w", model, err)
	}
	r.load = make([]int64, len(r.workers))
	for i, c := range lens {
		r.load[i] = c.Val()
		r.total += r.load[i]
	}
	return r, nil
}

// route picks the worker for a task with route key: the first, in the
// key's rendezvous order (weighted: the highest -capacity/ln(u), u uniform
// from hash(key, worker)), whose backlog with the task stays within
// LoadBound times its capacity's share of the total; "" (the shared
// stream) for no key or no live worker.
func (r *router) route(key string) string {
	if key == "" || len(r.workers) == 0 {
		return ""
	}
	order := make([]int, len(r.workers))
	scores := make([]float64, len(r.workers))
	for i, w := range r.workers {
		order[i] = i
		u := (float64(rollout.HashKey(key+"\x00"+w.name)>>11) + 0.5) / (1 << 53)
		scores[i] = -float64(w.capacity) / math.Log(u)
	}
	sort.Slice(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	pick := order[0]
	if r.bound >= 0 {
		for _, i := range order {
			share := float64(r.total+1) * float64(r.workers[i].capacity) / float64(r.capacity)
			if float64(r.load[i]+1) <= math.Ceil(r.bound*share) {
				pick = i
				break
			}
		}
	}
	r.load[pick]++
	r.total++
	return r.workers[pick].name
}

// sources are the work streams a Reserve of model reads, in order: this
// worker's own (if registered), the shared one, then those of dead
// workers, whose leftover entries it takes over. Drained streams of dead
// workers are dropped on the way.
func (q *Queue) sources(ctx context.Context, model string) ([]string, error) {
	var out []string
	if q.isRegistered(model) {
		out = append(out, q.opt.Consumer)
	}
	out = append(out, "")
	ws, err := q.workers(ctx, model, false)
	if err != nil {
		return out, err
	}
	mk := rediskeys.OfModel(model)
	for _, w := range ws {
		if w.alive || w.name == q.opt.Consumer {
			continue
		}
		dropped, err := dropWorkerScript.Run(ctx, q.rdb, []string{mk.Workers, mk.WorkOf(w.name)}, w.name).Int()
		if err != nil {
			return out, err
		}
		if dropped == 0 {
			out = append(out, w.name)
		}
	}
	return out, nil
}

// CapacityOf reports the summed capacity of model's live registered
// workers as a rollout.CapacityReporter, for a job's admission: the value
// is at most routesTTL old, and 0 (unknown: the job admits a fixed window)
// when no worker registered or Redis did not answer.
func (q *Queue) CapacityOf(model string) rollout.CapacityReporter {
	return modelCapacity{q: q, model: model}
}

type modelCapacity struct {
	q     *Queue
	model string
}

func (m modelCapacity) Capacity() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ws, err := m.q.workers(ctx, m.model, false)
	if err != nil {
		return 0
	}
	return liveCapacity(ws)
}
