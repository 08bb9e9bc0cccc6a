//! The Lua scripts behind the queues: every change to a queue's keys that must be
//! atomic is one of these (Redis runs a script without interleaving other commands).
//! The layout they keep is described in the crate docs ("Redis keys").
//!
//! Each task has one field in the queue's `state` hash, a short string:
//!
//! | state | meaning |
//! |---|---|
//! | `pending {due}` | waiting: on the active list, or in the delayed set until `due` (Unix s) |
//! | `running {claimed} {worker}` | claimed by a worker (in its claims set) |
//! | `done {finished} {outcome}` | finished with the runner's outcome (`succeeded`, `retried`, `abandoned`) |
//! | `dead {finished}` | dead-lettered |
//! | `failed {at} {n}` | the runner could not record an outcome `n` times; runs again from the delayed set |
//!
//! The hot paths are batched: a worker claims up to its prefetch in one script
//! ([`CLAIM`]) and acknowledges every attempt that finished meanwhile in one script
//! ([`ACKNOWLEDGE`]), so Redis does a few list, set and hash operations per task and a
//! round trip per batch, not per task.

use std::sync::LazyLock;

use redis::Script;

/// Writes tasks that are not there yet (the task id is the de-duplication key):
/// data, state, and the active list when due, else the delayed set. Returns how many
/// were new.
const PUSH_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] state hash, KEYS[3] active list, KEYS[4] delayed zset
-- ARGV[1] now (s); then per task: id, data, due (s)
local now = tonumber(ARGV[1])
local pushed = 0
for i = 2, #ARGV, 3 do
  local id = ARGV[i]
  if redis.call('hsetnx', KEYS[1], id, ARGV[i + 1]) == 1 then
    local due = tonumber(ARGV[i + 2])
    redis.call('hset', KEYS[2], id, 'pending ' .. due)
    if due > now then
      redis.call('zadd', KEYS[4], due, id)
    else
      redis.call('rpush', KEYS[3], id)
    end
    pushed = pushed + 1
  end
end
return pushed
"#;

/// Claims up to ARGV[2] due tasks for a worker: pops them off the active list, adds
/// them to the worker's claims set, marks them running and returns `{id, data, ...}`.
/// A task whose data is gone (purged under a stale id) is dropped. The worker is
/// (re-)registered with the fetch time: a worker that claims is alive, and its claims
/// must stay recoverable by the orphan check even if another worker had given it up.
const CLAIM_LUA: &str = r#"
-- KEYS[1] active list, KEYS[2] data hash, KEYS[3] state hash, KEYS[4] the worker's
-- claims set, KEYS[5] workers zset; ARGV[1] now (s), ARGV[2] count, ARGV[3] worker
local ids = redis.call('lpop', KEYS[1], tonumber(ARGV[2]))
if not ids then return {} end
redis.call('zadd', KEYS[5], ARGV[1], ARGV[3])
local data = redis.call('hmget', KEYS[2], unpack(ids))
local out, claimed, states = {}, {}, {}
local running = 'running ' .. ARGV[1] .. ' ' .. ARGV[3]
for i, id in ipairs(ids) do
  if data[i] then
    claimed[#claimed + 1] = id
    states[#states + 1] = id
    states[#states + 1] = running
    out[#out + 1] = id
    out[#out + 1] = data[i]
  end
end
if #claimed > 0 then
  redis.call('sadd', KEYS[4], unpack(claimed))
  redis.call('hset', KEYS[3], unpack(states))
end
return out
"#;

/// Records the outcomes of finished attempts, in one go: each leaves the worker's
/// claims set and gets its state; finished ones are indexed by time for the purge
/// (attempts whose retry was pushed are not: they go with their job's last attempt).
/// An attempt the runner could not record (`failed`) runs again from the delayed set
/// after `n` seconds, up to ARGV[2] times, then is dead.
const ACKNOWLEDGE_LUA: &str = r#"
-- KEYS[1] the worker's claims set, KEYS[2] state hash, KEYS[3] finished zset,
-- KEYS[4] killed zset, KEYS[5] delayed zset, KEYS[6] failed zset
-- ARGV[1] now (s), ARGV[2] runner failures before a task is killed;
-- then per task: id, kind ('done', 'dead' or 'failed'), detail (the outcome of 'done')
local now = tonumber(ARGV[1])
local most = tonumber(ARGV[2])
local ids, states, finished, killed = {}, {}, {}, {}
for i = 3, #ARGV, 3 do
  local id, kind, detail = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  ids[#ids + 1] = id
  if kind == 'failed' then
    local n = 1
    local previous = redis.call('hget', KEYS[2], id)
    if previous then
      local count = string.match(previous, '^failed %d+ (%d+)$')
      if count then n = tonumber(count) + 1 end
    end
    if n < most then
      states[#states + 1] = id
      states[#states + 1] = 'failed ' .. now .. ' ' .. n
      redis.call('zadd', KEYS[5], now + n, id)
      redis.call('zadd', KEYS[6], now, id)
    else
      kind = 'dead'
    end
  end
  if kind == 'dead' then
    states[#states + 1] = id
    states[#states + 1] = 'dead ' .. now
    killed[#killed + 1] = now
    killed[#killed + 1] = id
  elseif kind == 'done' then
    states[#states + 1] = id
    states[#states + 1] = 'done ' .. now .. ' ' .. detail
    if detail ~= 'retried' then
      finished[#finished + 1] = now
      finished[#finished + 1] = id
    end
  end
end
if #ids == 0 then return 0 end
redis.call('srem', KEYS[1], unpack(ids))
if #states > 0 then redis.call('hset', KEYS[2], unpack(states)) end
if #finished > 0 then redis.call('zadd', KEYS[3], unpack(finished)) end
if #killed > 0 then redis.call('zadd', KEYS[4], unpack(killed)) end
if #killed > 0 or #finished > 0 then
  -- A task that ended is no longer failing.
  local ended = {}
  for k = 2, #finished, 2 do ended[#ended + 1] = finished[k] end
  for k = 2, #killed, 2 do ended[#ended + 1] = killed[k] end
  redis.call('zrem', KEYS[6], unpack(ended))
end
return #ids
"#;

/// A worker's heartbeat: records it alive, then gives the claims of up to 100 workers
/// silent since ARGV[3] back to the front of the active list and forgets those
/// workers. Returns how many tasks went back.
const HEARTBEAT_LUA: &str = r#"
-- KEYS[1] workers zset, KEYS[2] active list, KEYS[3] state hash
-- ARGV[1] now (s), ARGV[2] worker, ARGV[3] silent-since (s), ARGV[4] claims key prefix
redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])
local silent = redis.call('zrangebyscore', KEYS[1], '-inf', '(' .. ARGV[3], 'LIMIT', 0, 100)
local pending = 'pending ' .. ARGV[1]
local recovered = 0
for _, worker in ipairs(silent) do
  if worker ~= ARGV[2] then
    local claims = ARGV[4] .. worker
    local ids = redis.call('smembers', claims)
    for _, id in ipairs(ids) do
      redis.call('lpush', KEYS[2], id)
      redis.call('hset', KEYS[3], id, pending)
    end
    recovered = recovered + #ids
    redis.call('del', claims)
    redis.call('zrem', KEYS[1], worker)
  end
end
return recovered
"#;

/// Puts tasks a worker claimed back at the front of the active list (the prefetched
/// tasks a stopping worker never started). Only tasks still in its claims set move.
const GIVE_BACK_LUA: &str = r#"
-- KEYS[1] the worker's claims set, KEYS[2] active list, KEYS[3] state hash
-- ARGV[1] now (s); ARGV[2..] task ids
local pending = 'pending ' .. ARGV[1]
local moved = 0
for i = #ARGV, 2, -1 do
  local id = ARGV[i]
  if redis.call('srem', KEYS[1], id) == 1 then
    redis.call('lpush', KEYS[2], id)
    redis.call('hset', KEYS[3], id, pending)
    moved = moved + 1
  end
end
return moved
"#;

/// Returns everything a worker holds to the front of the active list and forgets the
/// worker (after it stopped, or was cut off at the end of the grace period).
const RELEASE_LUA: &str = r#"
-- KEYS[1] workers zset, KEYS[2] the worker's claims set, KEYS[3] active list,
-- KEYS[4] state hash; ARGV[1] worker, ARGV[2] now (s)
local ids = redis.call('smembers', KEYS[2])
local pending = 'pending ' .. ARGV[2]
for _, id in ipairs(ids) do
  redis.call('lpush', KEYS[3], id)
  redis.call('hset', KEYS[4], id, pending)
end
redis.call('del', KEYS[2])
redis.call('zrem', KEYS[1], ARGV[1])
return #ids
"#;

/// Moves up to ARGV[2] due tasks from each of the delayed set and the legacy
/// scheduled set (apalis-redis's, which only a worker of the layout before this one
/// fills) onto the active list; returns the larger of the two counts, so a full batch
/// from either tells the caller to go on.
const PROMOTE_LUA: &str = r#"
-- KEYS[1] delayed zset, KEYS[2] legacy scheduled zset, KEYS[3] active list
-- ARGV[1] now (s), ARGV[2] batch size
local most = 0
for k = 1, 2 do
  local ids = redis.call('zrangebyscore', KEYS[k], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
  if #ids > 0 then
    redis.call('rpush', KEYS[3], unpack(ids))
    redis.call('zrem', KEYS[k], unpack(ids))
  end
  if #ids > most then most = #ids end
end
return most
"#;

/// Counts of one queue. Tasks in the delayed set that are already due count as
/// pending, since the next promotion moves them.
const STATS_LUA: &str = r#"
-- KEYS[1] active list, KEYS[2] delayed zset, KEYS[3] workers zset, KEYS[4] killed zset,
-- KEYS[5] failed zset, KEYS[6] state hash
-- ARGV[1] now (s), ARGV[2] claims key prefix
local now = tonumber(ARGV[1])
local active = redis.call('llen', KEYS[1])
local due = redis.call('zcount', KEYS[2], '-inf', now)
local waiting = redis.call('zcard', KEYS[2]) - due
local oldest = -1
local first = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES')
if #first > 0 and tonumber(first[2]) <= now then oldest = now - tonumber(first[2]) end
local running = 0
for _, worker in ipairs(redis.call('zrange', KEYS[3], 0, -1)) do
  running = running + redis.call('scard', ARGV[2] .. worker)
end
local head = redis.call('lindex', KEYS[1], 0)
if head then
  local state = redis.call('hget', KEYS[6], head)
  local since = state and tonumber(string.match(state, '^%a+ (%d+)'))
  local age = 0
  if since and now > since then age = now - since end
  if age > oldest then oldest = age end
end
return {active + due, waiting, running, redis.call('zcard', KEYS[5]), redis.call('zcard', KEYS[4]), oldest}
"#;

/// The latest attempt of a job: attempts are pushed in order, so the first missing
/// `{job_id}#{n}` ends the probe. Returns `{n, state, due}` (`{0}` when unknown).
const LOOKUP_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] state hash, KEYS[3] delayed zset
-- ARGV[1] job id, ARGV[2] max attempts
local last = 0
for n = 1, tonumber(ARGV[2]) do
  if redis.call('hexists', KEYS[1], ARGV[1] .. '#' .. n) == 1 then last = n else break end
end
if last == 0 then return {0, '', ''} end
local id = ARGV[1] .. '#' .. last
return {last, redis.call('hget', KEYS[2], id) or '', redis.call('zscore', KEYS[3], id) or ''}
"#;

/// Deletes whole finished jobs among up to ARGV[3] tasks of the finished or killed
/// set (KEYS[4]) that ended before ARGV[2]: a candidate that is its job's latest
/// attempt takes attempts 1..n with it; one that is not (its job was pushed again
/// since) just leaves the index and goes with the job's last attempt. Returns
/// `{candidates looked at, attempts deleted}`.
const PURGE_LUA: &str = r#"
-- KEYS[1] data hash, KEYS[2] state hash, KEYS[3] the other index (killed or finished),
-- KEYS[4] the index being purged; ARGV[1] legacy meta key prefix, ARGV[2] cutoff (s),
-- ARGV[3] batch size
local ids = redis.call('zrangebyscore', KEYS[4], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local purged = 0
for _, id in ipairs(ids) do
  redis.call('zrem', KEYS[4], id)
  local job, n = string.match(id, '^(.*)#(%d+)$')
  if job then
    n = tonumber(n)
    if redis.call('hexists', KEYS[1], job .. '#' .. (n + 1)) == 0 then
      for k = 1, n do
        local task = job .. '#' .. k
        purged = purged + redis.call('hdel', KEYS[1], task)
        redis.call('hdel', KEYS[2], task)
        redis.call('zrem', KEYS[3], task)
        redis.call('zrem', KEYS[4], task)
        -- Left by a worker of the layout before this one.
        redis.call('del', ARGV[1] .. task)
      end
    end
  end
end
return {#ids, purged}
"#;

/// Converts a batch of apalis-redis metadata hashes (the layout before this one) into
/// state entries and deletes them; see [`crate::migrate`].
const MIGRATE_META_LUA: &str = r#"
-- KEYS[1] state hash, KEYS[2] finished zset, KEYS[3] killed zset
-- ARGV[1] now (s), ARGV[2] meta key prefix, ARGV[3..] task ids
local now = tonumber(ARGV[1])
local converted = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = ARGV[2] .. id
  local status, done_at, due_at, result, attempts = unpack(redis.call('hmget', key,
    'status', 'done_at', 'junction_due_at', 'result', 'attempts'))
  if status then
    local at = tonumber(done_at) or now
    if redis.call('hexists', KEYS[1], id) == 1 then
      -- Already in the new layout (a worker of this version took it over).
    elseif status == 'Done' then
      local outcome = (result and string.match(result, '"Ok":"(%a+)"')) or 'succeeded'
      redis.call('hset', KEYS[1], id, 'done ' .. at .. ' ' .. outcome)
      if outcome ~= 'retried' then redis.call('zadd', KEYS[2], at, id) end
    elseif status == 'Killed' then
      redis.call('hset', KEYS[1], id, 'dead ' .. at)
      redis.call('zadd', KEYS[3], at, id)
    elseif status == 'Failed' then
      redis.call('hset', KEYS[1], id, 'failed ' .. at .. ' ' .. (tonumber(attempts) or 1))
    elseif status == 'Running' then
      redis.call('hset', KEYS[1], id, 'running ' .. now .. ' legacy')
    else
      redis.call('hset', KEYS[1], id, 'pending ' .. (tonumber(due_at) or now))
    end
    converted = converted + 1
  end
  redis.call('del', key)
end
return converted
"#;

/// Moves up to ARGV[1] members of the legacy scheduled set into the delayed set,
/// keeping their due seconds; returns how many moved.
const MIGRATE_SCHEDULED_LUA: &str = r#"
-- KEYS[1] legacy scheduled zset, KEYS[2] delayed zset; ARGV[1] batch size
local moving = redis.call('zrange', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #moving, 2 do
  redis.call('zadd', KEYS[2], moving[i + 1], moving[i])
  redis.call('zrem', KEYS[1], moving[i])
end
return #moving / 2
"#;

macro_rules! script {
    ($name:ident, $lua:ident) => {
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| Script::new($lua));
    };
}

// Hashed once: a `Script` computes its SHA-1 when built, and the hot ones run for
// every batch of tasks.
script!(PUSH, PUSH_LUA);
script!(CLAIM, CLAIM_LUA);
script!(ACKNOWLEDGE, ACKNOWLEDGE_LUA);
script!(HEARTBEAT, HEARTBEAT_LUA);
script!(GIVE_BACK, GIVE_BACK_LUA);
script!(RELEASE, RELEASE_LUA);
script!(PROMOTE, PROMOTE_LUA);
script!(STATS, STATS_LUA);
script!(LOOKUP, LOOKUP_LUA);
script!(PURGE, PURGE_LUA);
script!(MIGRATE_META, MIGRATE_META_LUA);
script!(MIGRATE_SCHEDULED, MIGRATE_SCHEDULED_LUA);
