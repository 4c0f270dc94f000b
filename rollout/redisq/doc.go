// Package redisq is the Redis Streams rollout queue: it implements
// rollout.Queue and rollout.Leaser over Redis, Redis Cluster or Valkey, so
// any number of scheduler and worker processes on any hosts share work
// through one Redis. It is also the server.Queue that `shepherd serve`
// gives its server (Open and the admin operations: Stats, Pending,
// Enqueued, ForgetJob) and serves the metrics' queue gauges (Pending,
// OldestTaskAge).
//
// # Streams and keys
//
// Each model has a shared work stream, plus one per registered worker, all
// with one consumer group; one entry is one JSON-encoded rollout.Task. Each
// job has a results stream (results in completion order, which Results
// reads), a results hash (task id -> its results stream entry, written
// once), a set of enqueued task ids and a counters hash.
// internal/rediskeys builds every key and lists the layout, next to the
// job store's keys of the server. Keys carry hash tags, {job:<id>}
// and {model:<name>}, and every Lua script touches keys of one tag only, so
// the queue runs unchanged on Redis Cluster; operations that touch a job
// and a model run two scripts, ordered so that a crash between them is
// harmless (results before acknowledgements). Job IDs and model names must
// not contain braces.
//
// # Routing
//
// A worker that calls Register gets a work stream of its own and a
// registration (capacity, expiry by Redis's clock) that a heartbeat renews.
// Enqueue sends a task with a RouteKey to the live worker the key hashes to
// (weighted rendezvous hashing, weight = capacity), so every prefix of a
// problem reaches the worker next to the backend that caches it, unless
// that worker's backlog is past Options.LoadBound times its share: then
// the key's next worker in the same order gets the task; tasks
// without a key, or with no worker registered, go to the shared stream. A
// worker reads its own stream, then the shared one, then the streams of
// dead workers (registration expired): their waiting entries are taken
// over at once and their leases once expired, and the drained stream is
// dropped. Only the dead worker's keys move. Capacity sums the live
// registrations.
//
// # Delivery
//
// Delivery is at least once. Reserve first reclaims entries whose lease
// expired (XAUTOCLAIM, min idle = LeaseTTL; a full scan of the leases at
// most every LeaseTTL/4), then reads new ones (XREADGROUP >, blocking). Task.Receipt is the entry id and
// Task.Deliveries counts this delivery too: the entry's delivery count
// from the pending entries list (XAUTOCLAIM bumps it) plus the deliveries
// of the earlier copies a retry replaced, carried in the entry. Workers
// extend their leases with an owner-checked heartbeat (Extend); a worker
// that dies stops extending, and another worker's Reserve takes its tasks
// over after LeaseTTL.
//
// Complete writes the result once per task (HSETNX on the task id), bumps
// the job's counters and appends to the results stream only for the first
// write, then acknowledges and deletes the work entry. Concurrent Complete
// calls of a process are written in batches: one script per job and one
// acknowledgement per model for many results. A redelivered task
// or a stale lease holder's late write never counts twice.
//
// Retry re-adds the task at the stream's tail at once, replacing its entry
// atomically, so a passing error is retried by the next free worker
// instead of after the lease. At MaxDeliveries, on Fail, or when a
// reclaimed task has been delivered more than MaxDeliveries times (its
// holders keep dying), the task goes to the model's dead-letter stream
// (trimmed to about DeadLetterMax entries) and the job gets a failed
// TaskResult through the same write-once path, so its scheduler marks the
// step failed instead of waiting. The work stream itself is never trimmed
// with MAXLEN: that would silently drop pending work; finished entries are
// deleted one by one.
//
// Enqueue is idempotent per (job, task id): a task with a stored result
// has it re-published to the results stream, a task already enqueued is
// skipped, and only new tasks are added.
//
// Memory follows the work in flight: once a job has committed the records
// of every solution that used a task, it calls Release, which deletes the
// task's results stream entry and leaves an empty tombstone in the results
// hash (a late write still changes nothing; a released task enqueued again
// runs again). ForgetJob deletes a finished job's results at once. Results keeps an in-memory cursor
// per job; see Results for why a restarted scheduler still gets every
// result it needs.
//
// # Operations
//
// It needs Redis 6.2 or later (XAUTOCLAIM, XPENDING with a consumer
// filter); it is tested on Redis 7.
//
// Run Redis with maxmemory-policy noeviction: under any evicting policy a
// full Redis silently drops work entries, results or consumer groups, and
// jobs hang or lose data; with noeviction writes fail loudly instead. Turn
// on AOF persistence (appendonly yes) if queued work must survive a Redis
// restart. ForgetJob lets a finished job's keys expire; Stats, Pending and
// DeadLetters serve observability.
package redisq
