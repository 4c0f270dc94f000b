package redisq

import "github.com/redis/go-redis/v9"

// Every script touches keys of one hash tag only (one job or one model), so
// each runs on Redis Cluster. Operations that span a job and a model run a
// job script and a model script in an order that makes a crash between them
// harmless (see queue.go).

// enqueueCheckScript decides, atomically for the batch, what Enqueue does
// with each task of one job.
var enqueueCheckScript = redis.NewScript(`
-- KEYS[1] job results hash, KEYS[2] job results stream, KEYS[3] job enqueued set
-- ARGV    task ids
-- Returns the results stream's last generated id before this call ("0-0"
-- when there is none), then one status per task: 0 = to be added to the
-- work stream, 1 = already enqueued, 2 = finished (its stored result is
-- re-published to the results stream). A released task (its result
-- deleted, see releaseScript) is added again, marked "~" in the hash:
-- whoever asks for it again needs its samples, and its new result is
-- published but not counted again (the job's counters count each task
-- once, like its enqueued set).
local last = '0-0'
if redis.call('EXISTS', KEYS[2]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[2])
  for j = 1, #info, 2 do
    if info[j] == 'last-generated-id' then last = info[j + 1] end
  end
end
local out = {last}
for i, id in ipairs(ARGV) do
  local rid = redis.call('HGET', KEYS[1], id)
  local e = {}
  if rid and rid ~= '' and rid ~= '~' then e = redis.call('XRANGE', KEYS[2], rid, rid) end
  if #e > 0 then
    -- Move the result to the stream's tail, after the caller's cursor.
    local f, r = e[1][2], nil
    for j = 1, #f, 2 do
      if f[j] == 'r' then r = f[j + 1] end
    end
    redis.call('XDEL', KEYS[2], rid)
    redis.call('HSET', KEYS[1], id, redis.call('XADD', KEYS[2], '*', 'r', r))
    -- Count it as enqueued too: it may have finished from a work entry
    -- whose SADD was lost (a crash between XADD and SADD).
    redis.call('SADD', KEYS[3], id)
    out[i + 1] = 2
  elseif rid == '~' then
    out[i + 1] = 1
  elseif rid then
    redis.call('HSET', KEYS[1], id, '~')
    out[i + 1] = 0
  elseif redis.call('SISMEMBER', KEYS[3], id) == 1 then
    out[i + 1] = 1
  else
    out[i + 1] = 0
  end
end
return out
`)

// enqueueAddScript appends tasks to a work stream.
var enqueueAddScript = redis.NewScript(`
-- KEYS[1] target work stream, KEYS[2] model workers hash, KEYS[3] model
-- shared work stream
-- ARGV[1] worker the tasks are routed to ("" for the shared stream),
-- ARGV[2..] task JSONs
-- Appends one entry per task (no prior deliveries) to the worker's stream,
-- or to the shared stream when that worker is no longer registered (its
-- drained stream was dropped: nobody would read a new one). Returns the
-- stream used.
local key = KEYS[1]
if ARGV[1] ~= '' and not redis.call('HGET', KEYS[2], ARGV[1]) then key = KEYS[3] end
for i = 2, #ARGV do
  redis.call('XADD', key, '*', 't', ARGV[i], 'p', 0)
end
return key
`)

// reclaimScript takes over expired leases.
var reclaimScript = redis.NewScript(`
-- KEYS[1] model work stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle time (ms, the lease TTL),
-- ARGV[4] scan start id, ARGV[5] count
-- Claims pending entries idle for at least the lease TTL (XAUTOCLAIM bumps
-- their delivery counts) and returns the next scan start id, then for each
-- claimed entry: id, task JSON, deliveries of earlier copies, delivery
-- count of this entry. Pending entries whose stream entry was deleted are
-- acknowledged and skipped.
local res = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local out = {res[1]}
for _, e in ipairs(res[2]) do
  if type(e) == 'table' and type(e[2]) == 'table' then
    local id, f = e[1], e[2]
    local task, prior = '', '0'
    for j = 1, #f, 2 do
      if f[j] == 't' then task = f[j + 1] elseif f[j] == 'p' then prior = f[j + 1] end
    end
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    local n = 1
    if #p > 0 then n = p[1][4] end
    table.insert(out, id)
    table.insert(out, task)
    table.insert(out, prior)
    table.insert(out, n)
  elseif type(e) == 'table' and e[1] then
    redis.call('XACK', KEYS[1], ARGV[1], e[1])
  end
end
return out
`)

// extendScript is the owner-checked heartbeat.
var extendScript = redis.NewScript(`
-- KEYS[1] model work stream
-- ARGV[1] group, ARGV[2] consumer, ARGV[3..] entry ids
-- For each entry this consumer owns, resets its idle time (XCLAIM JUSTID
-- leaves the delivery count alone); returns the ids it does not own, whose
-- leases are lost (reclaimed by another consumer, or finished).
local lost = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if #p > 0 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
`)

// recordScript writes tasks' results once.
var recordScript = redis.NewScript(`
-- KEYS[1] job results hash, KEYS[2] job stats hash, KEYS[3] job results stream
-- ARGV    7 values per task: task id, TaskResult JSON, "1" if the task
--         failed, samples, prompt tokens, completion tokens, cached prompt
--         tokens
-- The first write of a task's result wins: it is appended to the results
-- stream, the hash maps the task id to that entry's id, and it counts in
-- the job's counters. A later write (redelivery, stale lease holder, or a
-- task released already) changes nothing. A task released and enqueued
-- again (marked "~") has its new result stored and published, not
-- counted. Returns one flag per task: 1 for a stored write, 0 otherwise.
-- The counters are bumped once per call, by the sums.
local out = {}
local done, failed, samples, prompt, completion, cached = 0, 0, 0, 0, 0, 0
for i = 1, #ARGV, 7 do
  local first = 0
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or cur == '~' then
    first = 1
    redis.call('HSET', KEYS[1], ARGV[i], redis.call('XADD', KEYS[3], '*', 'r', ARGV[i + 1]))
  end
  if not cur then
    if ARGV[i + 2] == '1' then
      failed = failed + 1
    else
      done = done + 1
      samples = samples + tonumber(ARGV[i + 3])
      prompt = prompt + tonumber(ARGV[i + 4])
      completion = completion + tonumber(ARGV[i + 5])
      cached = cached + tonumber(ARGV[i + 6])
    end
  end
  out[#out + 1] = first
end
if failed > 0 then
  redis.call('HINCRBY', KEYS[2], 'tasks_failed', failed)
end
if done > 0 then
  redis.call('HINCRBY', KEYS[2], 'tasks_done', done)
  redis.call('HINCRBY', KEYS[2], 'samples', samples)
  redis.call('HINCRBY', KEYS[2], 'prompt_tokens', prompt)
  redis.call('HINCRBY', KEYS[2], 'completion_tokens', completion)
  redis.call('HINCRBY', KEYS[2], 'cached_tokens', cached)
end
return out
`)

// releaseScript drops the results of tasks whose job needs them no more.
var releaseScript = redis.NewScript(`
-- KEYS[1] job results hash, KEYS[2] job results stream
-- ARGV    task ids
-- Deletes each recorded task's results stream entry and leaves an empty
-- tombstone in the hash, so that a late write of the task still changes
-- nothing (exactly-once counters). Tasks without a result (or waiting to
-- run again, "~") are left alone. Returns the number of results released.
local n = 0
for _, id in ipairs(ARGV) do
  local rid = redis.call('HGET', KEYS[1], id)
  if rid and rid ~= '' and rid ~= '~' then
    redis.call('XDEL', KEYS[2], rid)
    redis.call('HSET', KEYS[1], id, '')
    n = n + 1
  end
end
return n
`)

// ackScript ends deliveries.
var ackScript = redis.NewScript(`
-- KEYS[1] model work stream
-- ARGV[1] group, ARGV[2..] entry ids
-- Acknowledges and deletes the entries: the work stream is never trimmed,
-- so finished entries leave it one by one. Returns the number deleted.
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return redis.call('XDEL', KEYS[1], unpack(ids))
`)

// deadLetterScript moves a task to the dead-letter stream.
var deadLetterScript = redis.NewScript(`
-- KEYS[1] model work stream, KEYS[2] model dead-letter stream
-- ARGV[1] group, ARGV[2] entry id ("" if none), ARGV[3] dead-letter bound,
-- ARGV[4] task JSON, ARGV[5] cause, ARGV[6] deliveries, ARGV[7] consumer
-- Appends the task and its cause to the dead-letter stream, trimmed to about
-- ARGV[3] entries (only this stream is ever trimmed), then acknowledges and
-- deletes the work entry. Returns the dead letter's id.
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
  'task', ARGV[4], 'cause', ARGV[5], 'deliveries', ARGV[6], 'consumer', ARGV[7])
if ARGV[2] ~= '' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XDEL', KEYS[1], ARGV[2])
end
return id
`)

// retryScript hands a task back for an early redelivery (Retry), or
// without counting the delivery (Release).
var retryScript = redis.NewScript(`
-- KEYS[1] the work stream holding the entry, KEYS[2] the work stream the copy goes to
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id, ARGV[4] deliveries to add
-- If this consumer owns the entry, replaces it by a copy at KEYS[2]'s tail
-- that carries the deliveries so far (earlier copies' plus this entry's
-- delivery count, plus ARGV[4]: 0 for a retry, -1 for a hand-back that does
-- not count), so the next free worker gets it without waiting for the
-- lease to expire. Returns the copy's id, or nil when the lease was lost
-- (the new holder owns the task now).
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
return redis.call('XADD', KEYS[2], '*', 't', task, 'p', math.max(0, prior + p[1][4] + tonumber(ARGV[4])))
`)

// registerScript registers a worker, or renews its registration.
var registerScript = redis.NewScript(`
-- KEYS[1] model workers hash
-- ARGV[1] worker (consumer name), ARGV[2] capacity, ARGV[3] TTL in ms
-- (0: the registration ends now, the worker is leaving)
-- Stores "<capacity> <expiry>" with the expiry by Redis's clock, so that
-- hosts with skewed clocks agree on who is alive.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. (now + tonumber(ARGV[3])))
return now
`)

// workersScript lists the registered workers.
var workersScript = redis.NewScript(`
-- KEYS[1] model workers hash
-- Returns Redis's clock (unix ms), then worker, "<capacity> <expiry>" pairs.
local t = redis.call('TIME')
local out = {tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out
`)

// dropWorkerScript forgets a dead worker whose stream is drained.
var dropWorkerScript = redis.NewScript(`
-- KEYS[1] model workers hash, KEYS[2] the worker's work stream
-- ARGV[1] worker
-- If the worker's registration has expired (by Redis's clock) and its
-- stream holds no entry (finished entries are deleted, so none is waiting
-- or leased), deletes the stream and the registration. Returns 1 if the
-- worker is gone (dropped now or before), 0 if it stays.
local reg = redis.call('HGET', KEYS[1], ARGV[1])
if not reg then return 1 end
local expiry = tonumber(string.match(reg, ' (%d+)$'))
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if expiry and expiry > now then return 0 end
if redis.call('XLEN', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`)
