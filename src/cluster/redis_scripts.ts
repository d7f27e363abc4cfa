/**
 * The cluster's names in Redis and the Lua scripts that keep presence consistent. Each node writes
 * only its own share (its field in a uid's hash, its membership sets), and every write that
 * touches a shared counter is one script, so two nodes never leave a count behind between them.
 * Presence keys of a uid or group vanish when the last node lets go of it.
 * @module
 */
import { createHash } from "node:crypto";

/** Every key and channel name of one cluster, under its prefix. */
export class RedisNames {
  readonly prefix: string;
  /** Channel: one control command per message, executed by every node on its own hub. */
  readonly ingress: string;
  /** Channel: nodes leaving (`g<node>`). */
  readonly nodesChannel: string;
  /** Channel: every connection (broadcast). */
  readonly all: string;
  /** ZSET node → presence deadline (Redis clock, ms). */
  readonly nodes: string;
  /** HASH uid → how many nodes hold it. */
  readonly uids: string;
  /** HASH group → how many uids are members. */
  readonly groups: string;
  /** HASH node → its connections. */
  readonly conns: string;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.ingress = `${prefix}cmd`;
    this.nodesChannel = `${prefix}nodes`;
    this.all = `${prefix}all`;
    this.nodes = `${prefix}nodes`;
    this.uids = `${prefix}uids`;
    this.groups = `${prefix}groups`;
    this.conns = `${prefix}conns`;
  }

  /** Channel of a uid's connections, subscribed by every node holding one. */
  userChannel(uid: string): string {
    return `${this.prefix}u:${uid}`;
  }

  /** Channel of a group, subscribed by every node holding a member. */
  groupChannel(group: string): string {
    return `${this.prefix}g:${group}`;
  }

  /** Channel of one node: answers addressed to it. */
  nodeChannel(node: string): string {
    return `${this.prefix}n:${node}`;
  }

  /** HASH node → connections of `uid` on it. */
  uidKey(uid: string): string {
    return `${this.prefix}uid:${uid}`;
  }

  /** HASH uid → how many nodes hold it as a member of `group`. */
  groupKey(group: string): string {
    return `${this.prefix}group:${group}`;
  }

  /** HASH of a history stream (`user:<uid>`, `group:<g>`, `all`): epoch, offset, bytes. */
  historyMeta(stream: string): string {
    return `${this.prefix}hm:${stream}`;
  }

  /** STREAM of a history stream's kept messages, entry id `<offset>-0`. */
  historyEntries(stream: string): string {
    return `${this.prefix}h:${stream}`;
  }
}

/** Lua shared by the scripts: one node's share of presence, added and removed. */
const LIBRARY = `
local p, node = ARGV[1], ARGV[2]
local function offline(uid)
  if redis.call('HDEL', p..'uid:'..uid, node) == 1 then
    if redis.call('HINCRBY', p..'uids', uid, -1) <= 0 then redis.call('HDEL', p..'uids', uid) end
  end
  redis.call('SREM', p..'held:'..node, uid)
end
local function leave(member)
  if redis.call('SREM', p..'heldg:'..node, member) == 1 then
    local m = cjson.decode(member)
    local g, uid = m[1], m[2]
    if redis.call('HINCRBY', p..'group:'..g, uid, -1) <= 0 then
      redis.call('HDEL', p..'group:'..g, uid)
      if redis.call('HINCRBY', p..'groups', g, -1) <= 0 then redis.call('HDEL', p..'groups', g) end
    end
  end
end
local function cleanup(who)
  node = who
  for _, uid in ipairs(redis.call('SMEMBERS', p..'held:'..who)) do offline(uid) end
  for _, member in ipairs(redis.call('SMEMBERS', p..'heldg:'..who)) do leave(member) end
  redis.call('DEL', p..'held:'..who, p..'heldg:'..who, p..'node:'..who)
  redis.call('HDEL', p..'conns', who)
  redis.call('ZREM', p..'nodes', who)
end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** The scripts, each called with ARGV = prefix, node, then its own arguments. */
const SCRIPTS = {
  /** uid, connections: this node holds `connections` of `uid` (the first makes it online). */
  online: `
local uid = ARGV[3]
if redis.call('HSET', p..'uid:'..uid, node, ARGV[4]) == 1 then
  redis.call('HINCRBY', p..'uids', uid, 1)
  redis.call('SADD', p..'held:'..node, uid)
end`,
  /** uid: this node holds no connection of `uid` any more. */
  offline: `offline(ARGV[3])`,
  /** group, uid: `uid` is a member of `group` on this node. */
  join: `
local g, uid = ARGV[3], ARGV[4]
if redis.call('SADD', p..'heldg:'..node, cjson.encode({g, uid})) == 1 then
  if redis.call('HINCRBY', p..'group:'..g, uid, 1) == 1 then
    redis.call('HINCRBY', p..'groups', g, 1)
  end
end`,
  /** group, uid: `uid` is no longer a member of `group` on this node. */
  leave: `leave(cjson.encode({ARGV[3], ARGV[4]}))`,
  /** Removes every trace of this node (before rebuilding it, and on goodbye). */
  reset: `cleanup(node)`,
  /**
   * lifeMs, then field/value pairs: extends this node's presence and stores its figures; then
   * cleans up to 8 nodes whose presence ran out, telling the others. Returns 1 when this node
   * had been cleaned up meanwhile (it must rebuild), then the nodes cleaned up.
   */
  heartbeat: `
local self, ttl, t = node, tonumber(ARGV[3]), now()
local fresh = redis.call('ZADD', p..'nodes', t + ttl, self)
local figures = {}
for i = 4, #ARGV do figures[#figures + 1] = ARGV[i] end
if #figures > 0 then redis.call('HSET', p..'node:'..self, unpack(figures)) end
redis.call('PEXPIRE', p..'node:'..self, ttl)
local result = {fresh}
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', p..'nodes', '-inf', t, 'LIMIT', 0, 8)) do
  cleanup(dead)
  redis.call('PUBLISH', p..'nodes', 'g'..dead)
  result[#result + 1] = dead
end
return result`,
  /** group: connections of every member of `group`, over all nodes. */
  groupConnections: `
local total = 0
for _, uid in ipairs(redis.call('HKEYS', p..'group:'..ARGV[3])) do
  for _, n in ipairs(redis.call('HVALS', p..'uid:'..uid)) do total = total + tonumber(n) end
end
return total`,
  /** Live nodes and their figures: node, then a flat field/value list, for each. */
  nodes: `
local result = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', p..'nodes', now(), '+inf')) do
  result[#result + 1] = n
  result[#result + 1] = redis.call('HGETALL', p..'node:'..n)
end
return result`,
} as const;

/** A script's name. */
export type ScriptName = keyof typeof SCRIPTS;

/** A script ready to run: its body and the SHA1 Redis knows it by once loaded. */
export interface Script {
  readonly body: string;
  readonly sha: string;
}

/** Every presence script with its SHA1, built once per cluster. */
export function presenceScripts(): Record<ScriptName, Script> {
  return buildScripts(LIBRARY, SCRIPTS);
}

/** Scripts ready to run: each `library` followed by its body, with the SHA1 of the whole. */
export function buildScripts<N extends string>(
  library: string,
  bodies: Record<N, string>,
): Record<N, Script> {
  const scripts = {} as Record<N, Script>;
  for (const [name, body] of Object.entries<string>(bodies)) {
    const full = library + body;
    scripts[name as N] = { body: full, sha: createHash("sha1").update(full).digest("hex") };
  }
  return scripts;
}
