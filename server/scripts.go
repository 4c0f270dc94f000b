package server

import "github.com/redis/go-redis/v9"

// Every script touches keys of one hash tag only (one job, or the request
// key alone), so each runs on Redis Cluster. Job states are stored by name:
// QUEUED and RUNNING are live, the others terminal.

// emitScript commits one label record exactly once.
var emitScript = redis.NewScript(`
-- KEYS[1] job meta hash, KEYS[2] job labels stream, KEYS[3] job done set
-- ARGV[1] solution key ("<problem index>/<solution index>"), ARGV[2] record JSON,
-- ARGV[3] now (ms), ARGV[4] "1" if the record has failed steps,
-- ARGV[5] samples handed to the solution (its own and shared ones)
-- Unless the job is live, fails with NOTLIVE (a cancelled or finished job
-- takes no more records). If the solution is in the done set already (a
-- restarted scheduler labelled it again), changes nothing and returns
-- false. Else appends the record, adds the solution to the done set, bumps
-- solutions_done (and solutions_failed), adds ARGV[5] to
-- delivered_committed and returns the entry id and solutions_done after
-- the bump.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'QUEUED' and st ~= 'RUNNING' then
  return redis.error_reply('NOTLIVE job state is ' .. tostring(st))
end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return false
end
local id = redis.call('XADD', KEYS[2], '*', 'r', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
local done = redis.call('HINCRBY', KEYS[1], 'solutions_done', 1)
if ARGV[4] == '1' then
  redis.call('HINCRBY', KEYS[1], 'solutions_failed', 1)
end
redis.call('HINCRBY', KEYS[1], 'delivered_committed', ARGV[5])
redis.call('HSET', KEYS[1], 'update_ms', ARGV[3])
return {id, done}
`)

// raiseStreamIDScript keeps a label stream's ids ahead of a cursor.
var raiseStreamIDScript = redis.NewScript(`
-- KEYS[1] job labels stream, KEYS[2] job meta hash
-- ARGV[1] entry id of a cursor the job's stream handed out
-- A cursor past the stream's last generated id means the stream moved
-- backwards: Redis lost its tail (restarted without the end of its
-- append-only file). The lost solutions are labelled again; this makes
-- sure their new entries land after the cursor (even with a clock that
-- went back), so a client resuming from it receives them. Sets the last
-- generated id to ARGV[1] (creating the stream empty if it is gone while
-- the job exists) and returns 1; returns 0 if the stream was not behind.
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    return 0
  end
  redis.call('XADD', KEYS[1], ARGV[1], 'r', '')
  redis.call('XDEL', KEYS[1], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[2])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return 1
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then
    last = info[i + 1]
  end
end
local cms, cseq = parse(ARGV[1])
local lms, lseq = parse(last)
if cms > lms or (cms == lms and cseq > lseq) then
  redis.call('XSETID', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

// startScript moves a job from QUEUED to RUNNING.
var startScript = redis.NewScript(`
-- KEYS[1] job meta hash
-- ARGV[1] now (ms)
-- A QUEUED job becomes RUNNING; any other state is left alone. Returns the
-- state after the call (false if the job does not exist).
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'QUEUED' then
  redis.call('HSET', KEYS[1], 'state', 'RUNNING', 'update_ms', ARGV[1])
  return 'RUNNING'
end
return st
`)

// progressScript writes a live job's counters.
var progressScript = redis.NewScript(`
-- KEYS[1] job meta hash
-- ARGV[1] now (ms), ARGV[2..] field, value pairs
-- Only while the job is live (the terminal write has the final counts):
-- sets the pairs that changed and, if any did, update_ms. Returns the
-- number of fields changed.
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'QUEUED' and st ~= 'RUNNING' then
  return 0
end
local changed = 0
for i = 2, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    changed = changed + 1
  end
end
if changed > 0 then
  redis.call('HSET', KEYS[1], 'update_ms', ARGV[1])
end
return changed
`)

// finishScript moves a live job to a terminal state.
var finishScript = redis.NewScript(`
-- KEYS[1] job meta hash, KEYS[2] job labels stream, KEYS[3] job done set,
-- KEYS[4] job input list, KEYS[5] job lease
-- ARGV[1] terminal state, ARGV[2] error text, ARGV[3] now (ms),
-- ARGV[4] time to live of the finished job (ms), ARGV[5..] field, value
-- pairs (final counts)
-- If the job is live: sets the state, error, finish and update times and
-- the pairs, deletes the input and the lease, and lets meta, labels and the
-- done set expire after ARGV[4]. A job already terminal is left alone.
-- Returns the state after the call (false if the job does not exist).
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'QUEUED' and st ~= 'RUNNING' then
  return st
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'error', ARGV[2], 'finish_ms', ARGV[3], 'update_ms', ARGV[3])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('DEL', KEYS[4], KEYS[5])
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return ARGV[1]
`)

// commitScript makes a created job permanent.
var commitScript = redis.NewScript(`
-- KEYS[1] job meta hash, KEYS[2] job input list
-- ARGV none
-- A job is written with a provisional expiry until its request-id key, index
-- entry and live-set entry exist; this removes the expiry and marks it
-- committed. Returns 1, or 0 if the job does not exist (it expired).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('PERSIST', KEYS[1])
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], 'committed', '1')
return 1
`)

// renewLeaseScript is the owner-checked lease heartbeat.
var renewLeaseScript = redis.NewScript(`
-- KEYS[1] job lease
-- ARGV[1] owner token, ARGV[2] lease TTL (ms)
-- Extends the lease if ARGV[1] holds it; returns 1, or 0 if the lease was
-- lost (expired and taken by another server, or deleted when the job
-- finished or was cancelled).
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// releaseLeaseScript gives a lease up.
var releaseLeaseScript = redis.NewScript(`
-- KEYS[1] job lease
-- ARGV[1] owner token
-- Deletes the lease if ARGV[1] holds it, so another server can adopt the
-- job at once; returns 1 if deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// deleteIfScript is compare-and-delete.
var deleteIfScript = redis.NewScript(`
-- KEYS[1] a string key
-- ARGV[1] expected value
-- Deletes KEYS[1] if it holds ARGV[1] (a request-id key whose job expired
-- before it was committed); returns 1 if deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
