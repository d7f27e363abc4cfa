/**
 * History streams and offline mailboxes kept in Redis, shared by every node of a cluster: a
 * framed client that loses its node resumes on any other. Per stream a hash (`<prefix>hm:<name>`:
 * epoch, last offset, bytes, mailbox handed out up to) and a Redis Stream of its messages
 * (`<prefix>h:<name>`, entry id `<offset>-0`). Every change is one Lua script, so offsets are
 * assigned once for all nodes, and both keys carry a TTL: a stream nobody subscribes to any more
 * disappears from Redis by itself once its messages expired.
 * @module
 */
import { Publication } from "../publication.ts";
import {
  type AppendOptions,
  checkHistoryLimits,
  epochSource,
  type HistoryEntry,
  type HistoryLimits,
  type HistoryStore,
  type Recovery,
  type StreamPosition,
} from "../history/history_store.ts";
import type { RedisLink } from "./redis_link.ts";
import { buildScripts, type RedisNames } from "./redis_scripts.ts";

/** Bytes one kept message counts for beyond its payload (its id and fields in the stream). */
const REDIS_ENTRY_OVERHEAD_BYTES = 64;

/** Options of {@linkcode RedisHistory}; `maxBytes` bounds each stream. */
export interface RedisHistoryOptions extends HistoryLimits {
  readonly link: RedisLink;
  readonly names: RedisNames;
  /** This node's id: the sender of the publications it appends and publishes. */
  readonly nodeId: string;
}

/** What {@linkcode RedisHistory.appendAndPublish} did. */
export interface Appended {
  /** The message's position, undefined when the stream is not kept. */
  readonly position: StreamPosition | undefined;
  /** Subscribers of `channel` that received the publication (0 when none was given). */
  readonly receivers: number;
}

const LIBRARY = `
local meta, entries = KEYS[1], KEYS[2]
local OVERHEAD = ${REDIS_ENTRY_OVERHEAD_BYTES}
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Never shortens a key's life; -2 (no key) is left alone.
local function extend(key, ms)
  local t = redis.call('PTTL', key)
  if t == -1 or (t >= 0 and t < ms) then redis.call('PEXPIRE', key, ms) end
end
local function create(epoch)
  if redis.call('EXISTS', meta) == 1 then return false end
  redis.call('DEL', entries)
  redis.call('HSET', meta, 'e', epoch, 'o', 0, 'b', 0, 't', 0)
  return true
end
-- Entry fields: d tagged payload (Publication.tagged), x expiry (ms, Redis clock),
-- m "1" for an offline (ttl) message.
local function front()
  return redis.call('XRANGE', entries, '-', '+', 'COUNT', 1)[1]
end
local function drop(entry)
  redis.call('XDEL', entries, entry[1])
  redis.call('HINCRBY', meta, 'b', -(#entry[2][2] + OVERHEAD))
end
local function trimExpired(t)
  while true do
    local entry = front()
    if entry == nil or tonumber(entry[2][4]) > t then return end
    drop(entry)
  end
end
local function firstOffset(last)
  local entry = front()
  if entry == nil then return last + 1 end
  return tonumber(string.match(entry[1], '^(%d+)'))
end
`;

const SCRIPTS = {
  /**
   * KEYS meta, entries, uids; ARGV ttlMs, maxEntries, maxBytes, epoch, payload, mailboxTtlMs or
   * "", uid or "", channel or "", node. Appends when the stream is kept, or as an offline message
   * when a mailbox ttl is given and the uid is online nowhere; then publishes on `channel`.
   * Returns epoch ("" when not kept), offset, receivers.
   */
  append: `
local ttl, maxN, maxB = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local payload, boxTtl, uid, channel, node = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local box = boxTtl ~= '' and (uid == '' or redis.call('HEXISTS', KEYS[3], uid) == 0)
local epoch, offset = '', 0
if box or redis.call('EXISTS', meta) == 1 then
  create(ARGV[4])
  local t = now()
  trimExpired(t)
  offset = redis.call('HINCRBY', meta, 'o', 1)
  local keep = ttl
  if box then keep = math.max(ttl, tonumber(boxTtl)) end
  redis.call('XADD', entries, offset .. '-0', 'd', payload, 'x', t + keep, 'm', box and '1' or '0')
  local bytes = redis.call('HINCRBY', meta, 'b', #payload + OVERHEAD)
  while redis.call('XLEN', entries) > maxN or bytes > maxB do
    local entry = front()
    if entry == nil then break end
    drop(entry)
    bytes = tonumber(redis.call('HGET', meta, 'b'))
  end
  extend(meta, keep)
  extend(entries, keep)
  epoch = redis.call('HGET', meta, 'e')
end
local receivers = 0
if channel ~= '' then
  if offset > 0 then
    receivers = redis.call('PUBLISH', channel, 'o' .. node .. '\\n' .. offset .. '\\n' .. payload)
  else
    receivers = redis.call('PUBLISH', channel, 'p' .. node .. '\\n' .. payload)
  end
end
return {epoch, offset, receivers}`,
  /** KEYS meta, entries; ARGV ttlMs, epoch. Creates the stream if needed; returns epoch, offset. */
  subscribe: `
create(ARGV[2])
extend(meta, tonumber(ARGV[1]))
extend(entries, tonumber(ARGV[1]))
return redis.call('HMGET', meta, 'e', 'o')`,
  /**
   * KEYS meta, entries; ARGV ttlMs, epoch, since epoch, since offset. Returns epoch, offset,
   * recovered (1/0), then id and payload of each message after the offset.
   */
  since: `
if create(ARGV[2]) then
  extend(meta, tonumber(ARGV[1]))
end
trimExpired(now())
local epoch, last = redis.call('HGET', meta, 'e'), tonumber(redis.call('HGET', meta, 'o'))
local from = tonumber(ARGV[4])
if epoch ~= ARGV[3] or from > last or from + 1 < firstOffset(last) then
  return {epoch, last, 0}
end
local result = {epoch, last, 1}
for _, entry in ipairs(redis.call('XRANGE', entries, (from + 1) .. '-0', '+')) do
  result[#result + 1] = entry[1]
  result[#result + 1] = entry[2][2]
end
return result`,
  /** KEYS meta, entries: offline messages not handed out yet, as id, payload pairs. */
  mailbox: `
if redis.call('EXISTS', meta) == 0 then return {} end
local t = now()
trimExpired(t)
local taken = tonumber(redis.call('HGET', meta, 't'))
local result = {}
for _, entry in ipairs(redis.call('XRANGE', entries, (taken + 1) .. '-0', '+')) do
  if entry[2][6] == '1' and tonumber(entry[2][4]) > t then
    result[#result + 1] = entry[1]
    result[#result + 1] = entry[2][2]
  end
end
redis.call('HSET', meta, 't', redis.call('HGET', meta, 'o'))
return result`,
  /** KEYS pairs of meta, entries; ARGV ttlMs: keeps each stream at least that long from now. */
  touch: `
for _, key in ipairs(KEYS) do extend(key, tonumber(ARGV[1])) end`,
} as const;

type HistoryScript = keyof typeof SCRIPTS;

/**
 * A {@linkcode HistoryStore} in Redis. It also tracks which streams this node must append to
 * even when it alone holds their channel ({@linkcode mayKeep}), so that a push for a uid only
 * plain clients of this node hold costs no Redis command.
 */
export class RedisHistory implements HistoryStore {
  readonly #link: RedisLink;
  readonly #names: RedisNames;
  readonly #nodeId: string;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #maxBytes: number;
  readonly #scripts = buildScripts(LIBRARY, SCRIPTS);
  /** Framed subscribers of each stream on this node. */
  readonly #local = new Map<string, number>();
  /** Streams that may be kept in Redis, until when (ms, this node's clock). */
  readonly #keptUntil = new Map<string, number>();
  readonly #refresh: ReturnType<typeof setInterval>;
  readonly #newEpoch = epochSource();

  constructor(options: RedisHistoryOptions) {
    checkHistoryLimits("RedisHistory", options);
    this.#link = options.link;
    this.#names = options.names;
    this.#nodeId = options.nodeId;
    this.#maxEntries = options.maxEntries;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#maxBytes = options.maxBytes;
    // Subscribed streams are extended a third of the ttl ahead of their expiry, so a live
    // subscriber's stream never expires while a dead node's expires within the ttl.
    this.#refresh = setInterval(() => this.#touchSubscribed(), Math.max(100, this.#ttlMs / 3));
    Deno.unrefTimer(this.#refresh);
  }

  /**
   * Whether a push to `stream` must go through Redis even when this node alone holds its
   * channel: a framed client subscribes to it here, or the stream may be kept for a client that
   * left (here or on another node) or for a mailbox, as far as this node knows.
   */
  mayKeep(stream: string): boolean {
    if ((this.#local.get(stream) ?? 0) > 0) return true;
    const until = this.#keptUntil.get(stream);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#keptUntil.delete(stream);
    return false;
  }

  /** Another node stopped holding `stream`'s channel: a client there may resume here. */
  peerLeft(stream: string): void {
    this.#keep(stream, Date.now() + this.#ttlMs);
  }

  /**
   * This node began holding `stream`'s channel: until Redis says whether the stream is kept,
   * it counts as kept (pushes then go through Redis, which knows).
   */
  acquired(stream: string): void {
    this.#keep(stream, Infinity);
    const started = Date.now();
    this.#link.send<number>(["PTTL", this.#names.historyMeta(stream)]).then((ms) => {
      if (this.#keptUntil.get(stream) !== Infinity) return; // Learned otherwise meanwhile.
      if (ms === -2) this.#keptUntil.delete(stream);
      else this.#keptUntil.set(stream, started + (ms < 0 ? this.#ttlMs : ms));
    }, () => {
      // Redis unknown: assume kept for the ttl, so a local push fails rather than goes unkept.
      if (this.#keptUntil.get(stream) === Infinity) {
        this.#keptUntil.set(stream, started + this.#ttlMs);
      }
    });
  }

  append(
    stream: string,
    publication: Publication,
    options?: AppendOptions,
  ): Promise<StreamPosition | undefined> {
    return this.appendAndPublish(stream, publication, options).then((a) => a.position);
  }

  /**
   * Appends like {@linkcode append} (a mailbox only when `uid` is online on no node), then
   * publishes on the cluster `channel` (the publication with its offset when kept), all in one
   * script: every node sees a stream's messages in offset order.
   */
  async appendAndPublish(
    stream: string,
    publication: Publication,
    options?: AppendOptions & { readonly uid?: string; readonly channel?: string },
  ): Promise<Appended> {
    const ttlSeconds = options?.ttlSeconds;
    const [epoch, offset, receivers] = await this.#run<[string, number, number]>(
      "append",
      [...this.#keys(stream), this.#names.uids],
      [
        String(this.#ttlMs),
        String(this.#maxEntries),
        String(this.#maxBytes),
        this.#newEpoch(),
        publication.tagged,
        ttlSeconds === undefined ? "" : String(ttlSeconds * 1000),
        options?.uid ?? "",
        options?.channel ?? "",
        this.#nodeId,
      ],
    );
    if (offset === 0) {
      if ((this.#local.get(stream) ?? 0) === 0) this.#keptUntil.delete(stream);
      return { position: undefined, receivers };
    }
    this.#keep(stream, Date.now() + Math.max(this.#ttlMs, (ttlSeconds ?? 0) * 1000));
    return { position: { epoch, offset }, receivers };
  }

  /** Counts the subscriber at once: the caller unsubscribes it even when this rejects. */
  async subscribe(stream: string): Promise<StreamPosition> {
    this.#local.set(stream, (this.#local.get(stream) ?? 0) + 1);
    const [epoch, offset] = await this.#run<[string, string]>(
      "subscribe",
      this.#keys(stream),
      [String(this.#ttlMs), this.#newEpoch()],
    );
    return { epoch, offset: Number(offset) };
  }

  unsubscribe(stream: string): void {
    const count = this.#local.get(stream);
    if (count === undefined) return;
    if (count > 1) {
      this.#local.set(stream, count - 1);
      return;
    }
    this.#local.delete(stream);
    this.#keep(stream, Date.now() + this.#ttlMs);
    // Kept the ttl from now: the refresh may have extended it a little less far.
    this.#run("touch", this.#keys(stream), [String(this.#ttlMs)]).catch(() => {});
  }

  async since(stream: string, since: StreamPosition): Promise<Recovery> {
    const [epoch, offset, recovered, ...rest] = await this.#run<
      [string, number, number, ...string[]]
    >(
      "since",
      this.#keys(stream),
      [String(this.#ttlMs), this.#newEpoch(), since.epoch, String(since.offset)],
    );
    const position = { epoch, offset };
    return { recovered: recovered === 1, entries: entriesOf(rest), position };
  }

  async takeMailbox(stream: string): Promise<readonly HistoryEntry[]> {
    return entriesOf(await this.#run<string[]>("mailbox", this.#keys(stream), []));
  }

  /** Stops refreshing; the streams expire in Redis by themselves. */
  close(): void {
    clearInterval(this.#refresh);
  }

  #keys(stream: string): [string, string] {
    return [this.#names.historyMeta(stream), this.#names.historyEntries(stream)];
  }

  #keep(stream: string, until: number): void {
    if ((this.#keptUntil.get(stream) ?? 0) < until) this.#keptUntil.set(stream, until);
  }

  #touchSubscribed(): void {
    const now = Date.now();
    for (const [stream, until] of this.#keptUntil) {
      if (until <= now) this.#keptUntil.delete(stream);
    }
    if (!this.#link.up || this.#local.size === 0) return;
    const keys = [...this.#local.keys()].flatMap((stream) => this.#keys(stream));
    for (let i = 0; i < keys.length; i += 1000) {
      this.#run("touch", keys.slice(i, i + 1000), [String(this.#ttlMs)]).catch(() => {});
    }
  }

  async #run<T>(name: HistoryScript, keys: readonly string[], args: readonly string[]): Promise<T> {
    return await this.#link.evalScript<T>(this.#scripts[name], keys, args);
  }
}

/** Entries from a flat list of stream entry ids (`<offset>-0`) and tagged payloads. */
function entriesOf(flat: readonly string[]): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    entries.push({
      offset: parseInt(flat[i]!, 10),
      publication: Publication.fromTagged(flat[i + 1]!),
    });
  }
  return entries;
}
