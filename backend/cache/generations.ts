/**
 * How the shared tier invalidates by prefix without scanning Redis. Every cached value in Redis
 * is stored together with the generations of the scopes it belongs to (read with it in one MGET):
 * the whole cache, each prefix of its key that ends at a `:`, and the key itself. Invalidating a
 * prefix or a key increments one generation counter, so every value stored under the old
 * generation stops matching at once, and a load that started before the invalidation cannot store
 * its (possibly stale) result afterwards: the store is conditional on the generations it saw.
 */

const GEN = 'orc:gen:';
export const ALL_SCOPE = `${GEN}all`;

export const keyScope = (key: string): string => `${GEN}k:${key}`;
export const prefixScope = (prefix: string): string => `${GEN}p:${prefix}`;

/** The generation keys a value stored under `key` depends on, broadest first. */
export function scopesOf(key: string): string[] {
  const scopes = [ALL_SCOPE];
  for (let i = key.indexOf(':'); i !== -1; i = key.indexOf(':', i + 1)) scopes.push(prefixScope(key.slice(0, i + 1)));
  scopes.push(keyScope(key));
  return scopes;
}

/**
 * The generation key to bump for a prefix invalidation. A prefix that does not end at a `:` is
 * widened to the last `:` boundary (or to the whole cache): invalidating more is always safe.
 */
export function scopeForPrefix(prefix: string): string {
  // A prefix ending at a `:` is its own boundary (the last `:` is its last character).
  const cut = prefix.lastIndexOf(':');
  return cut === -1 ? ALL_SCOPE : prefixScope(prefix.slice(0, cut + 1));
}

/**
 * The generations as read (a missing counter is 0), joined: what a stored value is prefixed with,
 * and what a conditional store must still find. Must match the join in WRITE_SCRIPT.
 */
export const generationVector = (generations: Array<string | null>): string => generations.map((g) => g ?? '0').join(',');

/**
 * Lua: stores ARGV[2] for ARGV[3] ms if the generations still equal ARGV[1] (an empty ARGV[1]
 * stores unconditionally), and keeps every generation key alive for at least ARGV[4] ms so that
 * a counter never expires (and restarts) while a value that depends on it is still stored.
 */
export const WRITE_SCRIPT = `
local gens = redis.call('MGET', unpack(KEYS, 2))
local parts = {}
for i = 1, #KEYS - 1 do parts[i] = gens[i] or '0' end
local vector = table.concat(parts, ',')
if ARGV[1] ~= '' and ARGV[1] ~= vector then return 0 end
local keep = tonumber(ARGV[4])
for i = 2, #KEYS do
  local left = redis.call('PTTL', KEYS[i])
  if left == -2 then
    redis.call('SET', KEYS[i], '0', 'PX', keep)
  elseif left >= 0 and left < keep then
    redis.call('PEXPIRE', KEYS[i], keep)
  end
end
redis.call('SET', KEYS[1], vector .. '\\n' .. ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * Lua: bumps the first ARGV[1] keys (generation counters; a new one lives ARGV[2] ms), unlinks the
 * rest (stored values, to free memory early) and publishes ARGV[4] on channel ARGV[3]. Returns the
 * number of subscribers that received the message.
 */
export const INVALIDATE_SCRIPT = `
local n = tonumber(ARGV[1])
local fresh = tonumber(ARGV[2])
for i = 1, n do
  redis.call('INCR', KEYS[i])
  if redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], fresh) end
end
for i = n + 1, #KEYS do redis.call('UNLINK', KEYS[i]) end
if ARGV[3] ~= '' then return redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 0
`;
