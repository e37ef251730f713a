//! The Lua scripts: each step that must not be split by a crash runs as one script, so a
//! message is at every instant in a queue, in a worker's hand-over list, or in `unacked`.

/// Takes up to ARGV[2] messages — first from the worker's hand-over list (filled by BLMOVE),
/// then from the queue lists in the order given — and records each in `unacked` /
/// `unacked_index` (kombu's format: `[envelope, exchange, routing_key]`, score ARGV[1]) in the
/// same step. A message without a delivery tag cannot be acked: it goes to the dead-letter list.
/// So does one over ARGV[4] bytes, measured here and never sent to the worker (a transfer that
/// big outlasts the response timeout, and the fetch would fail forever): its record keeps its
/// task id, size and first KiB, not the rest (JSON-encoding it into the record would stall
/// Redis for as long again, and every read of the list would transfer it). The batch stops
/// growing once it holds ARGV[4] bytes, so no fetch transfers much more than that.
///
/// The tags taken are listed in the worker's batch key after the fetch's token (ARGV[5]),
/// replaced by each fetch: should the reply be lost (a timeout, a dropped connection), the
/// worker puts them back on their queues at once instead of leaving them to the visibility
/// timeout (the token tells it whether the script ran at all).
///
/// Also says whether each message's task id was revoked (ARGV[3] is the revoked-key prefix),
/// saving a round trip per task.
///
/// KEYS: hand-over list, unacked, unacked_index, dead-letter list, batch key, queue lists…
/// Returns `{tag, envelope, key, revoked, dead, id}` per message: `revoked` is `"1"` or `"0"`;
/// for a dead-lettered one, tag `""` and `dead` the reason (else `""`); for an oversized one,
/// envelope `""` and `id` its task id if one was found (kombu's and canter's header spelling).
pub const FETCH: &str = r#"
local out = {}
local limit = tonumber(ARGV[2])
local max_size = tonumber(ARGV[4])
local taken_bytes = 0
redis.call('DEL', KEYS[5])
redis.call('RPUSH', KEYS[5], ARGV[5])
local function task_id(raw)
  for _, mark in ipairs({'"id": "', '"id":"'}) do
    local at = string.find(raw, mark, 1, true)
    if at then
      local last = string.find(raw, '"', at + #mark, true)
      if last then return string.sub(raw, at + #mark, last - 1) end
    end
  end
  return ''
end
local function take(key, raw)
  if #raw > max_size then
    local reason = 'the task message is ' .. #raw .. " bytes, over the broker's limit of "
      .. ARGV[4] .. ' bytes ([tasks] max_message_size)'
    local id = task_id(raw)
    redis.call('LPUSH', KEYS[4], cjson.encode({reason = reason, at = tonumber(ARGV[1]), id = id,
      size = #raw, head = string.sub(raw, 1, 1024)}))
    table.insert(out, {'', '', key, '0', reason, id})
    return
  end
  taken_bytes = taken_bytes + #raw
  local tag, exchange, routing_key, revoked = nil, '', '', '0'
  local ok, envelope = pcall(cjson.decode, raw)
  if ok and type(envelope) == 'table' and type(envelope.properties) == 'table' then
    tag = envelope.properties.delivery_tag
    local info = envelope.properties.delivery_info
    if type(info) == 'table' then
      if type(info.exchange) == 'string' then exchange = info.exchange end
      if type(info.routing_key) == 'string' then routing_key = info.routing_key end
    end
    if type(envelope.headers) == 'table' and type(envelope.headers.id) == 'string'
        and redis.call('EXISTS', ARGV[3] .. envelope.headers.id) == 1 then
      revoked = '1'
    end
  end
  if type(tag) == 'string' and tag ~= '' then
    redis.call('HSET', KEYS[2], tag, '[' .. raw .. ',' .. cjson.encode(exchange) .. ',' .. cjson.encode(routing_key) .. ']')
    redis.call('ZADD', KEYS[3], ARGV[1], tag)
    redis.call('RPUSH', KEYS[5], tag)
    table.insert(out, {tag, raw, key, revoked, '', ''})
  else
    local reason = 'no delivery tag: not a kombu envelope'
    redis.call('LPUSH', KEYS[4], cjson.encode({reason = reason, at = tonumber(ARGV[1]), message = raw}))
    table.insert(out, {'', raw, key, revoked, reason, ''})
  end
end
local function more() return #out < limit and taken_bytes < max_size end
while more() do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  take('', raw)
end
for i = 6, #KEYS do
  while more() do
    local raw = redis.call('RPOP', KEYS[i])
    if not raw then break end
    take(KEYS[i], raw)
  end
  if not more() then break end
end
redis.call('PEXPIRE', KEYS[5], 600000)
return out
"#;

/// Puts an `unacked` entry back on its queue (kombu's `restore_by_tag`), only if it is still
/// the entry read (ARGV[2]) — two restorers never both push it — and still not heard of since
/// ARGV[4] (its holder may have renewed it since the restorer listed it; kombu does not check).
///
/// KEYS: unacked, unacked_index, target list. ARGV: tag, entry as read, envelope to push,
/// latest score that counts as abandoned.
pub const RESTORE: &str = r#"
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) > tonumber(ARGV[4]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[3])
return 1
"#;

/// Returns a dead worker's hand-over list to the queue it was filled from (the consuming end,
/// so it is served next) and forgets the worker.
///
/// KEYS: hand-over list, source list, workers hash, heartbeat key. ARGV: worker name.
pub const ABANDON: &str = r#"
if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end
local moved = 0
while true do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  redis.call('RPUSH', KEYS[2], raw)
  moved = moved + 1
end
redis.call('HDEL', KEYS[3], ARGV[1])
return moved
"#;

/// Stores a result as Celery's Redis backend does (SETEX and PUBLISH on a channel named like
/// the key), never over a SUCCESS.
///
/// KEYS: result key. ARGV: record, expiry in seconds (0: none).
pub const STORE_RESULT: &str = r#"
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and record.status == 'SUCCESS' then return 0 end
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"#;

/// Releases a lock taken with `SET key token NX PX` if this holder still has it (redis-py's
/// `Lock.release`, which kombu's `unacked_mutex` uses).
pub const UNLOCK: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;
