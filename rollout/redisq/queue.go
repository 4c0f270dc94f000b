package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/rollout"
)

// enqueueChunk bounds the tasks one script call handles, so that a huge
// batch does not hold Redis for long.
const enqueueChunk = 512

// Queue is the Redis Streams rollout.Queue and rollout.Leaser. It is safe
// for concurrent use; one value per process is enough.
type Queue struct {
	rdb   redis.UniversalClient
	opt   Options
	given Options          // as passed to New, for Open
	now   func() time.Time // for local caches; tests move a clock.Fake

	closed   chan struct{}
	closeOne sync.Once

	mu          sync.Mutex
	groups      map[string]bool        // work streams whose consumer group exists
	reclaim     map[string]string      // XAUTOCLAIM scan position, by work stream
	scanned     map[string]time.Time   // when a scan last reached the end, by work stream
	jobs        map[string]*jobState   // results cursors, by job
	registered  map[string]int         // capacity this worker registered, by model
	withdrawn   map[string]bool        // registrations ended while the worker cannot work (Withdraw)
	workerLists map[string]*workerList // registered workers, by model (cache)

	completer completer // batches concurrent Complete calls
}

var (
	_ rollout.Queue  = (*Queue)(nil)
	_ rollout.Leaser = (*Queue)(nil)
)

// New returns a queue over client (a *redis.Client, *redis.ClusterClient or
// failover client). Closing the queue does not close the client.
func New(client redis.UniversalClient, opt Options) *Queue {
	return &Queue{
		rdb:     client,
		opt:     opt.withDefaults(),
		given:   opt,
		now:     time.Now,
		closed:  make(chan struct{}),
		groups:  map[string]bool{},
		reclaim: map[string]string{},
		scanned: map[string]time.Time{},
		jobs:    map[string]*jobState{},

		registered:  map[string]int{},
		withdrawn:   map[string]bool{},
		workerLists: map[string]*workerList{},
	}
}

// Open returns a new queue on the same client and options, for one job
// scheduler: its results cursors start fresh, as a restarted scheduler's
// must (see Results). Close it when the scheduler is done.
func (q *Queue) Open() rollout.Queue {
	o := New(q.rdb, q.given) // a consumer name of its own unless one was given
	o.now = q.now
	return o
}

// Options returns the queue's options, defaults filled in.
func (q *Queue) Options() Options { return q.opt }

// Consumer is this process's name in the consumer group.
func (q *Queue) Consumer() string { return q.opt.Consumer }

// Close makes blocked and later Reserve and Results calls return
// rollout.ErrClosed (within Options.Block). Tasks already reserved can
// still be completed, retried or failed.
func (q *Queue) Close() error {
	q.closeOne.Do(func() { close(q.closed) })
	return nil
}

func (q *Queue) isClosed() bool {
	select {
	case <-q.closed:
		return true
	default:
		return false
	}
}

// checkName rejects names that would break the key layout: braces would
// move the hash tag.
func checkName(field, v string) error {
	if v == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if strings.ContainsAny(v, "{}") {
		return fmt.Errorf("%s %q contains '{' or '}'", field, v)
	}
	return nil
}

// Enqueue implements rollout.Queue. It is idempotent per (job, task ID):
// a task whose result is already stored gets that result re-published to
// its job's results stream (a restarted scheduler that asks again for a
// finished task receives its result), a task already enqueued is left
// alone, and only new tasks are added to their model's work stream.
//
// Per job, one script decides atomically what to do with each task; the
// new tasks are then added to the work streams, and only then marked as
// enqueued in the job's set. A failure between the steps can therefore
// only cause a duplicate work entry on a later Enqueue of the same task
// (harmless: results are written once), never a task marked enqueued that
// no worker will see.
func (q *Queue) Enqueue(ctx context.Context, tasks ...rollout.Task) error {
	type jobBatch struct {
		jobID string
		tasks []rollout.Task
		seen  map[string]bool
	}
	var order []*jobBatch
	byJob := map[string]*jobBatch{}
	for i, t := range tasks {
		if err := checkName("task "+strconv.Itoa(i)+": job", t.JobID); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if err := checkName("task "+strconv.Itoa(i)+": model", t.Model); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		if t.ID == "" {
			return fmt.Errorf("enqueue: task %d: id is empty", i)
		}
		b := byJob[t.JobID]
		if b == nil {
			b = &jobBatch{jobID: t.JobID, seen: map[string]bool{}}
			byJob[t.JobID] = b
			order = append(order, b)
		}
		if !b.seen[t.ID] {
			b.seen[t.ID] = true
			b.tasks = append(b.tasks, t)
		}
	}
	for _, b := range order {
		for start := 0; start < len(b.tasks); start += enqueueChunk {
			if err := q.enqueueJob(ctx, b.jobID, b.tasks[start:min(start+enqueueChunk, len(b.tasks))]); err != nil {
				return err
			}
		}
	}
	return nil
}

// enqueueJob enqueues tasks of one job.
func (q *Queue) enqueueJob(ctx context.Context, jobID string, tasks []rollout.Task) error {
	jk := rediskeys.OfJob(jobID)
	ids := make([]any, len(tasks))
	for i, t := range tasks {
		ids[i] = t.ID
	}
	res, err := enqueueCheckScript.Run(ctx, q.rdb, []string{jk.Results(), jk.ResultStream(), jk.Enqueued()}, ids...).Slice()
	if err != nil {
		return fmt.Errorf("enqueue: job %s: %w", jobID, err)
	}
	if len(res) != len(tasks)+1 {
		return fmt.Errorf("enqueue: job %s: unexpected reply of %d items for %d tasks", jobID, len(res), len(tasks))
	}
	// The results cursor starts before anything this Enqueue re-published.
	last, _ := res[0].(string)
	q.initCursor(jobID, last)

	// Tasks go to the stream of the worker their route key hashes to,
	// unless its backlog is past the load bound.
	type dest struct{ model, worker string }
	var order []dest
	byDest := map[dest][]any{}
	routers := map[string]*router{}
	var added []any
	for i, t := range tasks {
		if st, _ := res[i+1].(int64); st != 0 {
			continue
		}
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("enqueue: task %s: %w", t.ID, err)
		}
		r := routers[t.Model]
		if r == nil {
			if r, err = q.routerFor(ctx, t.Model); err != nil {
				return fmt.Errorf("enqueue: %w", err)
			}
			routers[t.Model] = r
		}
		d := dest{t.Model, r.route(t.RouteKey)}
		if _, ok := byDest[d]; !ok {
			order = append(order, d)
			byDest[d] = []any{d.worker}
		}
		byDest[d] = append(byDest[d], string(b))
		added = append(added, t.ID)
	}
	for _, d := range order {
		mk := rediskeys.OfModel(d.model)
		if err := enqueueAddScript.Run(ctx, q.rdb, []string{mk.WorkOf(d.worker), mk.Workers, mk.Work}, byDest[d]...).Err(); err != nil {
			return fmt.Errorf("enqueue: model %s: %w", d.model, err)
		}
	}
	if len(added) > 0 {
		if err := q.rdb.SAdd(ctx, jk.Enqueued(), added...).Err(); err != nil {
			return fmt.Errorf("enqueue: job %s: %w", jobID, err)
		}
	}
	return nil
}

// ensureGroup creates the consumer group (and stream) of a work stream of
// model once: the shared one for worker "", else that worker's. The group
// starts at id 0, so tasks enqueued before any worker started are
// delivered too.
func (q *Queue) ensureGroup(ctx context.Context, model, worker string) error {
	key := rediskeys.OfModel(model).WorkOf(worker)
	q.mu.Lock()
	ok := q.groups[key]
	q.mu.Unlock()
	if ok {
		return nil
	}
	err := q.rdb.XGroupCreateMkStream(ctx, key, q.opt.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group for model %s: %w", model, err)
	}
	q.mu.Lock()
	q.groups[key] = true
	q.mu.Unlock()
	return nil
}

// forgetGroups makes the next calls recreate the groups (after NOGROUP: a
// stream was deleted or Redis lost its data).
func (q *Queue) forgetGroups() {
	q.mu.Lock()
	clear(q.groups)
	q.mu.Unlock()
}

func isNoGroup(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOGROUP")
}

// Reserve implements rollout.Queue. Each round reads the model's work
// streams in order (see sources: this worker's own if it registered, the
// shared one, those of dead workers): first it reclaims deliveries whose
// lease expired (XAUTOCLAIM with min idle = LeaseTTL), then it reads new
// entries (XREADGROUP ... >); when all that found nothing it blocks up to
// Options.Block on its own stream (the shared one if it did not register).
// A reclaimed task past MaxDeliveries is dead-lettered instead of handed
// out: its holders kept dying.
//
// A scan of a stream's leased entries that reached their end is not
// started again before LeaseTTL/4 has passed: a busy worker reserves
// often, and scanning a long list of live leases every time costs Redis
// more than the reads. An expired lease is still taken over within
// LeaseTTL/4 (or Options.Block, if longer) of expiring.
func (q *Queue) Reserve(ctx context.Context, model string, max int) ([]rollout.Task, error) {
	if max < 1 {
		return nil, fmt.Errorf("reserve: max must be at least 1, got %d", max)
	}
	if err := checkName("reserve: model", model); err != nil {
		return nil, err
	}
	for {
		if q.isClosed() {
			return nil, rollout.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		srcs, err := q.sources(ctx, model)
		var tasks []rollout.Task
		for _, w := range srcs {
			if err != nil || len(tasks) >= max {
				break
			}
			if err = q.ensureGroup(ctx, model, w); err != nil {
				break
			}
			var got []rollout.Task
			got, err = q.reclaimExpired(ctx, model, w, max-len(tasks))
			tasks = append(tasks, got...)
			if err == nil && len(tasks) < max {
				got, err = q.readNew(ctx, model, w, max-len(tasks), -1)
				tasks = append(tasks, got...)
			}
		}
		if err == nil && len(tasks) == 0 {
			tasks, err = q.readNew(ctx, model, srcs[0], max, q.blockFor(ctx))
		}
		if isNoGroup(err) {
			q.forgetGroups()
			if len(tasks) == 0 {
				continue
			}
			err = nil
		}
		if err != nil {
			if len(tasks) > 0 {
				return tasks, nil // leased already; the error will recur
			}
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr
			}
			return nil, fmt.Errorf("reserve: model %s: %w", model, err)
		}
		if len(tasks) > 0 {
			return tasks, nil
		}
	}
}

// blockFor is how long one blocking read may wait: Options.Block, or less
// when ctx ends sooner.
func (q *Queue) blockFor(ctx context.Context) time.Duration {
	block := q.opt.Block
	if dl, ok := ctx.Deadline(); ok {
		block = min(block, time.Until(dl))
	}
	return max(block, time.Millisecond) // 0 would block forever
}

// reclaimExpired claims up to max entries of a work stream whose lease
// expired.
func (q *Queue) reclaimExpired(ctx context.Context, model, worker string, max int) ([]rollout.Task, error) {
	key := rediskeys.OfModel(model).WorkOf(worker)
	q.mu.Lock()
	start := q.reclaim[key]
	scanned := q.scanned[key]
	q.mu.Unlock()
	if start == "" {
		start = "0-0"
	}
	if start == "0-0" && !scanned.IsZero() && q.now().Sub(scanned) < q.opt.LeaseTTL/4 {
		return nil, nil // a scan has just been through every lease
	}
	res, err := reclaimScript.Run(ctx, q.rdb, []string{key},
		q.opt.Group, q.opt.Consumer, q.opt.LeaseTTL.Milliseconds(), start, max).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) == 0 || (len(res)-1)%4 != 0 {
		return nil, fmt.Errorf("unexpected XAUTOCLAIM reply of %d items", len(res))
	}
	next, _ := res[0].(string)
	q.mu.Lock()
	q.reclaim[key] = next
	if next == "0-0" {
		q.scanned[key] = q.now()
	}
	q.mu.Unlock()
	var tasks []rollout.Task
	for i := 1; i < len(res); i += 4 {
		id, _ := res[i].(string)
		payload, _ := res[i+1].(string)
		prior, _ := strconv.Atoi(fmt.Sprint(res[i+2]))
		count, _ := res[i+3].(int64)
		t, ok := q.decodeTask(ctx, model, worker, id, payload, prior+int(count))
		if !ok {
			continue
		}
		if t.Deliveries > q.opt.MaxDeliveries {
			cause := fmt.Errorf("gave up after %d deliveries: lease expired (the worker holding it stopped)", t.Deliveries-1)
			if err := q.fail(ctx, t, cause); err != nil {
				return tasks, err
			}
			continue
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

// readNew reads up to n entries of a work stream never delivered before,
// waiting up to block for one (not at all if block < 0).
func (q *Queue) readNew(ctx context.Context, model, worker string, n int, block time.Duration) ([]rollout.Task, error) {
	streams, err := q.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    q.opt.Group,
		Consumer: q.opt.Consumer,
		Streams:  []string{rediskeys.OfModel(model).WorkOf(worker), ">"},
		Count:    int64(n),
		Block:    block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var tasks []rollout.Task
	for _, s := range streams {
		for _, m := range s.Messages {
			payload, _ := m.Values[fieldTask].(string)
			prior, _ := strconv.Atoi(fmt.Sprint(m.Values[fieldPrior]))
			if t, ok := q.decodeTask(ctx, model, worker, m.ID, payload, prior+1); ok {
				tasks = append(tasks, t)
			}
		}
	}
	return tasks, nil
}

// decodeTask turns a work entry into a task. An entry that does not decode
// can never be run: it goes straight to the dead-letter stream.
func (q *Queue) decodeTask(ctx context.Context, model, worker, id, payload string, deliveries int) (rollout.Task, bool) {
	var t rollout.Task
	err := json.Unmarshal([]byte(payload), &t)
	if err == nil && (t.ID == "" || t.JobID == "") {
		err = errors.New("task without id or job")
	}
	if err != nil {
		mk := rediskeys.OfModel(model)
		_ = deadLetterScript.Run(ctx, q.rdb, []string{mk.WorkOf(worker), mk.Dead},
			q.opt.Group, id, q.opt.DeadLetterMax, payload, "undecodable work entry: "+err.Error(), deliveries, q.opt.Consumer).Err()
		return t, false
	}
	t.Model = model
	t.Receipt = receiptOf(worker, id)
	t.Deliveries = deliveries
	return t, true
}
