#pragma once

#include <string_view>

// Lua scripts of the Redis back-end. Each touches only keys of one shard (one hash tag), so each
// runs atomically on one node, today's single Redis or a Redis Cluster shard tomorrow. Key and
// argument layouts are documented above each script and built in redis_job_store.cc.
namespace webpush::queue::internal {

// kCommitScript makes a staged job visible: idempotency check, backlog limits, job hash, one work
// stream entry per batch, the tenant's job index.
// KEYS: 1 job hash, 2 backlog hash, 3 idempotency key, 4 tenant job index, 5 work stream,
//       6 batches hash
// ARGV: 1 job id, 2 tenant, 3 targets, 4 batches, 5 max backlog, 6 max tenant backlog,
//       7 created ms, 8 expires ms, 9 key lifetime s, 10 message, 11 idempotency key,
//       12 index cut-off ms (older entries leave the job index)
// Returns {"existing", id} | {"committed", id} | {"limit", "all"|"tenant", current} | {"ok", id}
inline constexpr std::string_view kCommitScript = R"lua(
if ARGV[11] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {'existing', existing} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'committed', ARGV[1]} end
local total = tonumber(ARGV[3])
local all = tonumber(redis.call('HGET', KEYS[2], '*') or '0')
local mine = tonumber(redis.call('HGET', KEYS[2], 't:' .. ARGV[2]) or '0')
if all + total > tonumber(ARGV[5]) then return {'limit', 'all', tostring(all)} end
if mine + total > tonumber(ARGV[6]) then return {'limit', 'tenant', tostring(mine)} end
redis.call('HINCRBY', KEYS[2], '*', total)
redis.call('HINCRBY', KEYS[2], 't:' .. ARGV[2], total)
redis.call('HINCRBY', KEYS[2], 'jobs', 1)
redis.call('HSET', KEYS[1], 'tenant', ARGV[2], 'state', '0', 'created', ARGV[7],
           'expires', ARGV[8], 'finished', '0', 'total', total, 'pending', total,
           'delivered', 0, 'gone', 0, 'rejected', 0, 'expired', 0, 'failed', 0,
           'msg', ARGV[10], 'idem', ARGV[11], 'next_batch', ARGV[4], 'since_progress', 0)
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[6], ARGV[9])
for b = 0, tonumber(ARGV[4]) - 1 do
  redis.call('XADD', KEYS[5], '*', 'j', ARGV[1], 'b', b)
end
if ARGV[11] ~= '' then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[9]) end
redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[12])
redis.call('EXPIRE', KEYS[4], ARGV[9])
return {'ok', ARGV[1]}
)lua";

// kRecordScript records final outcomes (idempotent through the done bitmap) and schedules a retry
// batch. Counters, backlog, events, dead letters, progress and completion in one step.
// Deliveries, nearly every outcome, come as one bit mask merged a byte at a time (a 1,000-target
// batch is 125 bytes of work instead of 1,000 SETBIT calls); the rarer outcomes come one by one
// with what their events need.
// When the call completes its lease, it also acknowledges the batch (as kAckScript does, if the
// consumer still holds it), saving the worker a round trip per batch.
// KEYS: 1 job hash, 2 done bitmap, 3 events stream, 4 backlog hash, 5 dead-letter stream,
//       6 batches hash, 7 delayed set, 8 work stream
// ARGV: 1 now ms, 2 progress every, 3 job id, 4 first byte of the delivered mask, 5 delivered
//       mask ("" = none; bit i of byte b is target (first byte + b) * 8 + i, most significant
//       bit first, as Redis numbers bits), 6 number of other outcomes N, then N times
//       (index, outcome, reason, target id, endpoint), then retry batch ("" = none), retry due ms,
//       then group ("" = do not acknowledge), entry id, consumer, batch number, then the latency
//       histogram of the answers ("bucket:count," repeated; "" = none)
// Returns {"nojob"} | {"ok", newly final count, state}
inline constexpr std::string_view kRecordScript = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'nojob'} end
local tenant = redis.call('HGET', KEYS[1], 'tenant')
local names = {'delivered', 'gone', 'rejected', 'expired', 'failed'}
local counts = {0, 0, 0, 0, 0}
local finals = 0
local events = 0
local mask = ARGV[5]
if mask ~= '' then
  local first = tonumber(ARGV[4])
  local old = redis.call('GETRANGE', KEYS[2], first, first + #mask - 1)
  local merged = {}
  local fresh_count = 0
  for i = 1, #mask do
    local m = string.byte(mask, i)
    local o = string.byte(old, i) or 0
    local fresh = bit.band(m, bit.bnot(o))
    while fresh ~= 0 do
      fresh = bit.band(fresh, fresh - 1)
      fresh_count = fresh_count + 1
    end
    merged[i] = string.char(bit.bor(o, m))
  end
  if fresh_count > 0 then
    redis.call('SETRANGE', KEYS[2], first, table.concat(merged))
    counts[1] = fresh_count
    finals = fresh_count
  end
end
local n = tonumber(ARGV[6])
local p = 7
for i = 1, n do
  local idx = tonumber(ARGV[p])
  local oc = tonumber(ARGV[p + 1])
  if redis.call('SETBIT', KEYS[2], idx, 1) == 0 then
    counts[oc + 1] = counts[oc + 1] + 1
    finals = finals + 1
    if oc == 1 then
      redis.call('XADD', KEYS[3], '*', 't', '0', 'id', ARGV[p + 3], 'ep', ARGV[p + 4], 'oc', oc)
      events = events + 1
    elseif oc >= 2 then
      redis.call('XADD', KEYS[3], '*', 't', '1', 'id', ARGV[p + 3], 'ep', ARGV[p + 4], 'oc', oc,
                 'why', ARGV[p + 2])
      events = events + 1
      if oc == 2 or oc == 4 then
        redis.call('XADD', KEYS[5], 'MAXLEN', '~', '1000000', '*', 'j', ARGV[3], 'id',
                   ARGV[p + 3], 'ep', ARGV[p + 4], 'oc', oc, 'why', ARGV[p + 2])
      end
    end
  end
  p = p + 5
end
local ttl = redis.call('TTL', KEYS[1])
if finals > 0 then
  for k = 1, 5 do
    if counts[k] > 0 then redis.call('HINCRBY', KEYS[1], names[k], counts[k]) end
  end
  if state ~= '3' then
    redis.call('HINCRBY', KEYS[4], '*', -finals)
    redis.call('HINCRBY', KEYS[4], 't:' .. tenant, -finals)
  end
  if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) end
end
-- Lua's -0 would reach Redis as "-0", which HINCRBY refuses: only subtract a positive count.
local pending
if finals > 0 then
  pending = redis.call('HINCRBY', KEYS[1], 'pending', 0 - finals)
else
  pending = tonumber(redis.call('HGET', KEYS[1], 'pending'))
end
if ARGV[p] ~= '' then
  local b = redis.call('HINCRBY', KEYS[1], 'next_batch', 1) - 1
  redis.call('HSET', KEYS[6], b, ARGV[p])
  redis.call('ZADD', KEYS[7], ARGV[p + 1], ARGV[3] .. ':' .. b)
end
local since = redis.call('HINCRBY', KEYS[1], 'since_progress', finals)
local done = pending <= 0 and (state == '0' or state == '1') and finals > 0
if done or since >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'since_progress', 0)
  local c = redis.call('HMGET', KEYS[1], 'total', 'pending', 'delivered', 'gone', 'rejected',
                       'expired', 'failed')
  redis.call('XADD', KEYS[3], '*', 't', '2', 'c', table.concat(c, ','), 's', done and '2' or state)
  events = events + 1
end
if done then
  redis.call('HSET', KEYS[1], 'state', '2', 'finished', ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'jobs', -1)
  state = '2'
  local c = redis.call('HMGET', KEYS[1], 'total', 'pending', 'delivered', 'gone', 'rejected',
                       'expired', 'failed')
  redis.call('XADD', KEYS[3], '*', 't', '3', 'c', table.concat(c, ','), 's', '2')
  events = events + 1
end
if events > 0 and ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
if ARGV[p + 6] ~= nil and ARGV[p + 6] ~= '' then
  for b, c in string.gmatch(ARGV[p + 6], '(%d+):(%d+),') do
    redis.call('HINCRBY', KEYS[1], 'l' .. b, c)
  end
end
if ARGV[p + 2] ~= '' then
  local pend = redis.call('XPENDING', KEYS[8], ARGV[p + 2], ARGV[p + 3], ARGV[p + 3], 1)
  if #pend == 1 and pend[1][2] == ARGV[p + 4] then
    redis.call('XACK', KEYS[8], ARGV[p + 2], ARGV[p + 3])
    redis.call('XDEL', KEYS[8], ARGV[p + 3])
    redis.call('HDEL', KEYS[6], ARGV[p + 5])
  end
end
return {'ok', finals, state}
)lua";

// kPromoteScript moves due retry batches from the delayed set to the work stream.
// KEYS: 1 delayed set, 2 work stream. ARGV: 1 now ms, 2 max batches. Returns the count moved.
inline constexpr std::string_view kPromoteScript = R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(due) do
  local colon = string.find(member, ':', 1, true)
  redis.call('XADD', KEYS[2], '*', 'j', string.sub(member, 1, colon - 1),
             'b', string.sub(member, colon + 1))
  redis.call('ZREM', KEYS[1], member)
end
return #due
)lua";

// kCancelScript cancels a queued or running job and releases its pending targets from the backlog.
// KEYS: 1 job hash, 2 backlog hash, 3 events stream. ARGV: 1 tenant, 2 now ms.
// Returns {"nojob"} | {"finished", state} | {"ok"}
inline constexpr std::string_view kCancelScript = R"lua(
local fields = redis.call('HMGET', KEYS[1], 'tenant', 'state', 'pending')
if not fields[1] or fields[1] ~= ARGV[1] then return {'nojob'} end
if fields[2] == '2' or fields[2] == '3' then return {'finished', fields[2]} end
redis.call('HSET', KEYS[1], 'state', '3', 'finished', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'jobs', -1)
local pending = tonumber(fields[3])
if pending > 0 then
  redis.call('HINCRBY', KEYS[2], '*', -pending)
  redis.call('HINCRBY', KEYS[2], 't:' .. ARGV[1], -pending)
end
local c = redis.call('HMGET', KEYS[1], 'total', 'pending', 'delivered', 'gone', 'rejected',
                     'expired', 'failed')
redis.call('XADD', KEYS[3], '*', 't', '3', 'c', table.concat(c, ','), 's', '3')
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
return {'ok'}
)lua";

// kAckScript acknowledges a leased batch, if this consumer still holds it: a batch reclaimed by
// another consumer (or already acknowledged) is left to its holder, so a late Ack from a slow
// consumer never hands out targets that someone else is sending. Targets of the lease without
// an outcome go back to the queue as a new batch.
// KEYS: 1 work stream, 2 job hash, 3 batches hash
// ARGV: 1 group, 2 entry id, 3 consumer, 4 batch number, 5 batch to requeue ("" = none), 6 job id
// Returns 1 when acknowledged, 0 when the batch was no longer this consumer's.
inline constexpr std::string_view kAckScript = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
  local b = redis.call('HINCRBY', KEYS[2], 'next_batch', 1) - 1
  redis.call('HSET', KEYS[3], b, ARGV[5])
  redis.call('XADD', KEYS[1], '*', 'j', ARGV[6], 'b', b)
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[4])
return 1
)lua";

// kStartScript marks a queued job running (first lease). KEYS: 1 job hash.
inline constexpr std::string_view kStartScript = R"lua(
if redis.call('HGET', KEYS[1], 'state') == '0' then redis.call('HSET', KEYS[1], 'state', '1') end
return 1
)lua";

// kExtendScript renews a lease: if this consumer still holds the entry, XCLAIM it to itself with
// JUSTID, which resets its idle time without counting a delivery.
// KEYS: 1 work stream. ARGV: 1 group, 2 entry id, 3 consumer.
// Returns 1 when renewed, 0 when the entry is no longer this consumer's.
inline constexpr std::string_view kExtendScript = R"lua(
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
)lua";

// kAdmitScript is a tenant's admission token bucket, shared by every replica. The bucket holds at
// most `burst` tokens and refills at `rate` per second; a request is admitted while the level is
// above zero and may take it below (a job of any size fits once), so the next waits until the
// level is positive again. A negative count returns tokens.
// KEYS: 1 bucket hash. ARGV: 1 now ms, 2 count, 3 rate per second, 4 burst.
// Returns {"ok", level} | {"wait", ms}
inline constexpr std::string_view kAdmitScript = R"lua(
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'level', 't')
local level = tonumber(v[1]) or burst
local t = tonumber(v[2]) or now
if now > t then
  level = math.min(burst, level + (now - t) * rate / 1000)
  t = now
end
if n > 0 and level <= 0 then
  return {'wait', tostring(math.ceil((1 - level) * 1000 / rate))}
end
level = math.min(burst, level - n)
redis.call('HSET', KEYS[1], 'level', string.format('%.3f', level), 't', tostring(t))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - level) * 1000 / rate) + 1000)
return {'ok', string.format('%.3f', level)}
)lua";

}  // namespace webpush::queue::internal
