/**
 * This node's part in the cluster: it mirrors the local hub's uids and groups in Redis (presence),
 * subscribes to the channel of every uid and group it holds, learns which other nodes hold the
 * same ones, runs what other nodes and the ingress channel send, keeps its heartbeat, cleans up
 * after dead nodes, and rebuilds all of it whenever the Redis link comes back.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Channel, channelName as streamOf } from "../channel.ts";
import { LocalBroker } from "../broker.ts";
import { type Command, parseCommandLine } from "../command.ts";
import { dispatch, type DispatchContext } from "../dispatch.ts";
import { LocalPresence } from "../presence.ts";
import { CLOSE, UnavailableError } from "../errors.ts";
import type { Conn, Hub, HubObserver } from "../hub.ts";
import { Publication } from "../publication.ts";
import type { RedisLink } from "./redis_link.ts";
import { presenceScripts, type RedisNames, type ScriptName } from "./redis_scripts.ts";

const log = getLogger(["herald", "cluster"]);
const encoder = new TextEncoder();

/** What `<prefix>cmd` may run: pushes, memberships and kicks; a query's answer would reach nobody. */
const INGRESS_COMMANDS: ReadonlySet<Command["cmd"]> = new Set([
  "send",
  "publish",
  "broadcast",
  "join",
  "leave",
  "kick",
]);

/**
 * What nodes say to each other on a uid's, group's or the broadcast channel: one letter, the
 * sender's node id, and for some a newline and a body.
 */
export const MESSAGE = {
  /** A publication no history keeps; body: the tagged payload (`Publication.tagged`). */
  publication: "p",
  /** A publication kept in history; body: its offset, a newline, the tagged payload. */
  appended: "o",
  /** The sender now holds this channel; holders answer `here`. */
  hello: "h",
  /** Answer to `hello`: the sender holds this channel too. */
  here: "r",
  /** The sender no longer holds this channel. */
  bye: "b",
  /** Join the uid to a group; body: a request id, a newline, the group. */
  join: "j",
  /**
   * On the sender's own channel: the join or leave of that request id is done here (and its
   * presence written); body: the id.
   */
  joined: "a",
  /** Remove the uid from a group; body: a request id, a newline, the group. */
  leave: "l",
  /** Close the uid's connections (4005). */
  kick: "k",
  /** On the nodes channel: that node is gone. */
  gone: "g",
} as const;

/** Options of {@linkcode ClusterNode}. */
export interface ClusterNodeOptions {
  readonly hub: Hub;
  readonly link: RedisLink;
  readonly names: RedisNames;
  readonly nodeId: string;
  /** Milliseconds a node's presence outlives its last heartbeat. */
  readonly presenceTtlMs: number;
  /** Milliseconds to wait for other nodes' acknowledgements (--redis-timeout). */
  readonly timeoutMs: number;
  /** Largest ingress message in UTF-8 bytes, as for a control line (--max-line-bytes). */
  readonly maxLineBytes: number;
}

/** Told when the holders of a channel change, so history knows which streams may be kept. */
export interface StreamWatcher {
  /** This node began holding the channel of `stream`. */
  acquired(stream: string): void;
  /** Another node stopped holding the channel of `stream` (it let go, or died). */
  peerLeft(stream: string): void;
}

/** Counters of this node's cluster traffic, shown by `stats`. */
export interface ClusterCounters {
  /** Publications sent to other nodes through Redis. */
  published: number;
  /** Publications received from other nodes. */
  received: number;
  /** Publications other nodes' tabs missed because the Redis link was down. */
  publishFailed: number;
  /** Commands run from the ingress channel. */
  ingress: number;
  /** Ingress messages refused (bad JSON, a query: nobody could read the reply). */
  ingressRefused: number;
}

/** Which other nodes hold a channel this node holds too; a missing entry means none. */
interface Peers {
  readonly user: Map<string, Set<string>>;
  readonly group: Map<string, Set<string>>;
  readonly all: Set<string>;
}

/** One node of the cluster: the hub's observer and the subscriber of its channels. */
export class ClusterNode implements HubObserver {
  readonly nodeId: string;
  readonly names: RedisNames;
  readonly link: RedisLink;
  readonly counters: ClusterCounters = {
    published: 0,
    received: 0,
    publishFailed: 0,
    ingress: 0,
    ingressRefused: 0,
  };
  readonly #hub: Hub;
  readonly #ttlMs: number;
  readonly #beatMs: number;
  readonly #scripts = presenceScripts();
  readonly #peers: Peers = { user: new Map(), group: new Map(), all: new Set() };
  /** Local member count of each group this node holds. */
  readonly #groupMembers = new Map<string, number>();
  /**
   * Channels this node is subscribed to, or will be (SUBSCRIBE sent), until an UNSUBSCRIBE is
   * confirmed; each with a token, so that an older release does not drop a newer subscription.
   */
  readonly #subscribed = new Map<string, symbol>();
  /** Subscriptions under way, by channel name: a join is acknowledged once its group's is done. */
  readonly #subscribing = new Map<string, Promise<void>>();
  /** Joins sent to other nodes, by request id, waiting for their acknowledgements. */
  readonly #joins = new Map<number, { acks: number; wake: () => void }>();
  #nextJoin = 0;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Bumped on every rebuild: work of an older link generation stops. */
  #generation = 0;
  /** This node's presence was written once: later rebuilds are reconnections. */
  #joined = false;
  #closed = false;

  constructor(options: ClusterNodeOptions) {
    this.#hub = options.hub;
    this.link = options.link;
    this.names = options.names;
    this.nodeId = options.nodeId;
    this.#ttlMs = options.presenceTtlMs;
    // A node's presence runs out 3/4 TTL after its last beat, and some live node's next beat
    // (at most 1/4 TTL later) cleans it up: a dead node's uids leave within the TTL, while a
    // live node may miss one beat without being taken for dead.
    this.#beatMs = options.presenceTtlMs / 4;
    this.#timeoutMs = options.timeoutMs;
    this.#maxLineBytes = options.maxLineBytes;
    this.#ownChannel = options.names.nodeChannel(options.nodeId);
    this.#ingressContext = {
      broker: new LocalBroker(options.hub),
      presence: new LocalPresence(options.hub),
      serverStats: () => ({}),
    };
  }
  readonly #timeoutMs: number;
  readonly #maxLineBytes: number;
  /** Commands from `<prefix>cmd` run on this node's hub alone. */
  readonly #ingressContext: DispatchContext;
  /** This node's own channel: acknowledgements addressed to it. */
  readonly #ownChannel: string;

  /** Starts observing the hub and beating; presence is written once the link is up. */
  start(): void {
    this.#hub.observe(this);
    // Groups already in the hub (none in production: the cluster starts before any socket).
    for (const [group, size] of Object.entries(this.#hub.groupSizes())) {
      this.#groupMembers.set(group, size);
    }
    this.#heartbeat = setInterval(() => this.#beat(), this.#beatMs);
  }

  /** Other nodes known to hold `channel`: undefined when none (or this node does not hold it). */
  peersOf(channel: Channel): ReadonlySet<string> | undefined {
    switch (channel.kind) {
      case "user":
        return this.#peers.user.get(channel.uid);
      case "group":
        return this.#peers.group.get(channel.group);
      case "all":
        return this.#peers.all.size === 0 ? undefined : this.#peers.all;
    }
  }

  /** Whether this node holds `channel` (is subscribed to it). */
  holds(channel: Channel): boolean {
    switch (channel.kind) {
      case "user":
        return this.#hub.connectionsOf(channel.uid) > 0;
      case "group":
        return this.#groupMembers.has(channel.group);
      case "all":
        return this.#hub.connectionCount > 0;
    }
  }

  /** The Redis channel of `channel`. */
  channelName(channel: Channel): string {
    switch (channel.kind) {
      case "user":
        return this.names.userChannel(channel.uid);
      case "group":
        return this.names.groupChannel(channel.group);
      case "all":
        return this.names.all;
    }
  }

  /** Publishes a message of `kind` on `channel`; resolves with the other nodes that got it. */
  async send(channel: Channel, kind: string, body?: string): Promise<number> {
    const name = this.channelName(channel);
    // This node is among the receivers from its SUBSCRIBE until Redis confirmed its
    // UNSUBSCRIBE, whether it holds the channel still or not; it is not another node.
    const self = this.#subscribed.has(name) ? 1 : 0;
    const text = body === undefined ? kind + this.nodeId : `${kind}${this.nodeId}\n${body}`;
    const receivers = await this.link.publish(name, text);
    return Math.max(0, receivers - self);
  }

  /**
   * Joins `uid` to `group` on the other nodes holding it; resolves with how many did, once each
   * is subscribed to the group (or after --redis-timeout, with those that answered).
   */
  joinElsewhere(uid: string, group: string): Promise<number> {
    return this.#elsewhere(MESSAGE.join, uid, group);
  }

  /**
   * Removes `uid` from `group` on the other nodes holding it; resolves with how many nodes got
   * the request, once each has written the change to presence (or after --redis-timeout).
   */
  leaveElsewhere(uid: string, group: string): Promise<number> {
    return this.#elsewhere(MESSAGE.leave, uid, group);
  }

  async #elsewhere(kind: string, uid: string, group: string): Promise<number> {
    const id = this.#nextJoin++;
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiting = { acks: 0, wake: () => {} };
    this.#joins.set(id, waiting);
    try {
      const others = await this.send({ kind: "user", uid }, kind, `${id}\n${group}`);
      if (others > waiting.acks) {
        waiting.wake = () => {
          if (waiting.acks >= others) resolve();
        };
        const timer = setTimeout(resolve, this.#timeoutMs);
        await promise;
        clearTimeout(timer);
      }
      return others;
    } finally {
      this.#joins.delete(id);
    }
  }

  /** Runs one of the presence scripts with this node's prefix and id. */
  async script<T>(name: ScriptName, ...args: string[]): Promise<T> {
    return await this.link.evalScript<T>(this.#scripts[name], [], [
      this.names.prefix,
      this.nodeId,
      ...args,
    ]);
  }

  /** The link is up (again): load scripts, rebuild presence and subscriptions, say hello. */
  async rebuild(): Promise<void> {
    const generation = ++this.#generation;
    const link = this.link;
    this.#rebuilding++;
    try {
      await Promise.all(
        Object.values(this.#scripts).map((s) => link.send(["SCRIPT", "LOAD", s.body])),
      );
      if (!this.#joined) {
        const live = await this.script<Array<string | string[]>>("nodes");
        if (live.includes(this.nodeId)) {
          log.warn(
            "Cluster: --node-id {node} is live in Redis already: another running node has this " +
              "id (ids must be unique: its presence is replaced), or this node restarted within " +
              "--presence-ttl",
            { node: this.nodeId },
          );
        }
        this.#joined = true;
      }
      this.#clearPeers();
      this.#subscribing.clear();
      this.#subscribed.clear();
      await link.unsubscribe();
      await this.script("reset");
      const hub = this.#hub;
      const uids = hub.uids();
      const groups = [...this.#groupMembers.keys()];
      const channels = [this.names.ingress, this.names.nodesChannel, this.#ownChannel];
      if (hub.connectionCount > 0) channels.push(this.names.all);
      for (const uid of uids) channels.push(this.names.userChannel(uid));
      for (const group of groups) channels.push(this.names.groupChannel(group));
      for (const name of channels) this.#subscribed.set(name, Symbol());
      for (let i = 0; i < channels.length; i += 1000) {
        await link.subscribe(channels.slice(i, i + 1000));
      }
      const writes: Promise<unknown>[] = [];
      for (const uid of uids) {
        writes.push(this.script("online", uid, String(hub.connectionsOf(uid))));
        writes.push(this.send({ kind: "user", uid }, MESSAGE.hello));
      }
      for (const group of groups) {
        for (const uid of hub.uids(group)) writes.push(this.script("join", group, uid));
        writes.push(this.send({ kind: "group", group }, MESSAGE.hello));
      }
      if (hub.connectionCount > 0) writes.push(this.send({ kind: "all" }, MESSAGE.hello));
      writes.push(this.#writeConns());
      await Promise.all(writes);
      await this.#beat(true);
      if (generation !== this.#generation) return;
      log.info("Cluster: presence rebuilt in Redis ({uids} uids, {groups} groups)", {
        uids: uids.length,
        groups: groups.length,
      });
    } catch (error) {
      // The link went down again meanwhile: the next `up` rebuilds.
      log.warn("Cluster: rebuilding presence failed, retried when the link is up: {message}", {
        message: (error as Error).message,
      });
    } finally {
      this.#rebuilding--;
    }
  }

  /** Leaves the cluster: no more observing or beating, and this node's presence removed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#hub.observe(undefined);
    clearInterval(this.#heartbeat);
    if (!this.link.up) return;
    try {
      await this.script("reset");
      await this.link.publish(this.names.nodesChannel, MESSAGE.gone + this.nodeId);
    } catch (error) {
      log.warn("Cluster: goodbye not written ({message}); presence expires with the TTL", {
        message: (error as Error).message,
      });
    }
  }

  // HubObserver: local changes, mirrored in Redis when the link is up (rebuilt when it returns).

  added(conn: Conn): void {
    const { uid } = conn;
    const count = this.#hub.connectionsOf(uid);
    this.#quietly(this.script("online", uid, String(count)));
    this.#quietly(this.#writeConns());
    if (count === 1) this.#acquire({ kind: "user", uid });
    if (this.#hub.connectionCount === 1) this.#acquire({ kind: "all" });
  }

  removed(conn: Conn): void {
    const { uid } = conn;
    const count = this.#hub.connectionsOf(uid);
    this.#quietly(
      count === 0 ? this.script("offline", uid) : this.script("online", uid, String(count)),
    );
    this.#quietly(this.#writeConns());
    if (count === 0) this.#release({ kind: "user", uid });
    if (this.#hub.connectionCount === 0) this.#release({ kind: "all" });
  }

  joined(uid: string, group: string): void {
    this.#quietly(this.script("join", group, uid));
    const members = (this.#groupMembers.get(group) ?? 0) + 1;
    this.#groupMembers.set(group, members);
    if (members === 1) this.#acquire({ kind: "group", group });
  }

  left(uid: string, group: string): void {
    this.#quietly(this.script("leave", group, uid));
    const members = (this.#groupMembers.get(group) ?? 1) - 1;
    if (members > 0) {
      this.#groupMembers.set(group, members);
      return;
    }
    this.#groupMembers.delete(group);
    this.#release({ kind: "group", group });
  }

  /** A message on a subscribed channel. */
  onMessage(message: string, channelName: string): void {
    const { names } = this;
    if (channelName === names.ingress) return this.#ingress(message);
    const kind = message[0];
    const newline = message.indexOf("\n");
    const sender = message.slice(1, newline === -1 ? undefined : newline);
    if (channelName === names.nodesChannel) {
      if (kind === MESSAGE.gone && sender !== this.nodeId) this.#forget(sender);
      return;
    }
    if (channelName === this.#ownChannel) {
      const waiting = this.#joins.get(Number(message.slice(newline + 1)));
      if (kind === MESSAGE.joined && waiting !== undefined) {
        waiting.acks++;
        waiting.wake();
      }
      return;
    }
    if (sender === this.nodeId) return; // Our own message, already applied here.
    const channel = this.#channelOf(channelName);
    if (channel === undefined) return;
    const body = newline === -1 ? "" : message.slice(newline + 1);
    switch (kind) {
      case MESSAGE.publication:
        this.counters.received++;
        this.#hub.deliver(channel, Publication.fromTagged(body).at(streamOf(channel)));
        return;
      case MESSAGE.appended: {
        this.counters.received++;
        const split = body.indexOf("\n");
        const offset = Number(body.slice(0, split));
        this.#hub.deliver(
          channel,
          Publication.fromTagged(body.slice(split + 1)).at(streamOf(channel), offset),
        );
        return;
      }
      case MESSAGE.hello:
        if (!this.holds(channel)) return;
        this.#peerSet(channel, true)!.add(sender);
        this.#quietly(this.send(channel, MESSAGE.here));
        return;
      case MESSAGE.here:
        if (this.holds(channel)) this.#peerSet(channel, true)!.add(sender);
        return;
      case MESSAGE.bye:
        this.#dropPeer(channel, sender);
        return;
      case MESSAGE.join: {
        if (channel.kind !== "user") return;
        const split = body.indexOf("\n");
        const group = body.slice(split + 1);
        this.#hub.join(channel.uid, group);
        const subscribed = this.#subscribing.get(this.names.groupChannel(group));
        const ack = () =>
          this.link.publish(
            this.names.nodeChannel(sender),
            `${MESSAGE.joined}${this.nodeId}\n${body.slice(0, split)}`,
          );
        this.#quietly(subscribed === undefined ? ack() : subscribed.then(ack));
        return;
      }
      case MESSAGE.leave: {
        if (channel.kind !== "user") return;
        const split = body.indexOf("\n");
        this.#hub.leave(channel.uid, body.slice(split + 1));
        // Published after the presence script (same connection, in order): once the sender
        // hears it, Redis no longer counts the membership here.
        this.#quietly(
          this.link.publish(
            this.names.nodeChannel(sender),
            `${MESSAGE.joined}${this.nodeId}\n${body.slice(0, split)}`,
          ),
        );
        return;
      }
      case MESSAGE.kick:
        if (channel.kind === "user") this.#hub.kick(channel.uid, CLOSE.kicked);
        return;
    }
  }

  /** Starts holding `channel`: subscribe, then say hello so its other holders answer. */
  #acquire(channel: Channel): void {
    this.watcher?.acquired(streamOf(channel));
    if (!this.link.up) return; // The rebuild on `up` subscribes.
    const generation = this.#generation;
    const name = this.channelName(channel);
    this.#subscribed.set(name, Symbol());
    const subscribed = this.link.subscribe([name]);
    const settled = subscribed.catch(() => {});
    this.#subscribing.set(name, settled);
    this.#quietly(
      subscribed.then(() => {
        if (this.#subscribing.get(name) === settled) this.#subscribing.delete(name);
        if (generation === this.#generation && this.holds(channel)) {
          return this.send(channel, MESSAGE.hello);
        }
      }),
    );
  }

  /** Stops holding `channel`: say goodbye and unsubscribe. */
  #release(channel: Channel): void {
    this.#clearPeerSet(channel);
    if (!this.link.up) return;
    this.#quietly(this.send(channel, MESSAGE.bye));
    const name = this.channelName(channel);
    const token = this.#subscribed.get(name);
    this.#quietly(
      this.link.unsubscribe([name]).then(() => {
        if (this.#subscribed.get(name) === token) this.#subscribed.delete(name);
      }),
    );
  }

  /** Runs a command from the ingress channel on this node's hub; every node runs it. */
  #ingress(line: string): void {
    // UTF-16 units never outnumber UTF-8 bytes: count bytes only when it could matter.
    if (
      line.length > this.#maxLineBytes ||
      (line.length * 3 > this.#maxLineBytes && encoder.encode(line).length > this.#maxLineBytes)
    ) {
      this.counters.ingressRefused++;
      log.warn("Cluster: refused ingress message: longer than --max-line-bytes ({max})", {
        max: this.#maxLineBytes,
      });
      return;
    }
    const parsed = parseCommandLine(line);
    if (!parsed.ok) {
      this.counters.ingressRefused++;
      log.warn("Cluster: refused ingress message: {code}: {message}", { ...parsed.error });
      return;
    }
    const { command } = parsed;
    if (!INGRESS_COMMANDS.has(command.cmd)) {
      this.counters.ingressRefused++;
      log.warn("Cluster: refused ingress {cmd}: a query's answer would reach nobody", {
        cmd: command.cmd,
      });
      return;
    }
    // Every node runs it on its own hub: nothing to append to history, no other node to ask.
    dispatch(command, this.#ingressContext);
    this.counters.ingress++;
  }

  #channelOf(name: string): Channel | undefined {
    const { prefix } = this.names;
    if (!name.startsWith(prefix)) return undefined;
    const rest = name.slice(prefix.length);
    if (rest.startsWith("u:")) return { kind: "user", uid: rest.slice(2) };
    if (rest.startsWith("g:")) return { kind: "group", group: rest.slice(2) };
    if (rest === "all") return { kind: "all" };
    return undefined;
  }

  #peerSet(channel: Channel, create: boolean): Set<string> | undefined {
    if (channel.kind === "all") return this.#peers.all;
    const map = channel.kind === "user" ? this.#peers.user : this.#peers.group;
    const key = channel.kind === "user" ? channel.uid : channel.group;
    let set = map.get(key);
    if (set === undefined && create) {
      set = new Set();
      map.set(key, set);
    }
    return set;
  }

  #dropPeer(channel: Channel, node: string): void {
    const set = this.#peerSet(channel, false);
    if (set === undefined) return;
    if (set.has(node)) this.watcher?.peerLeft(streamOf(channel));
    set.delete(node);
    if (set.size === 0) this.#clearPeerSet(channel);
  }

  #clearPeerSet(channel: Channel): void {
    if (channel.kind === "all") this.#peers.all.clear();
    else if (channel.kind === "user") this.#peers.user.delete(channel.uid);
    else this.#peers.group.delete(channel.group);
  }

  #clearPeers(): void {
    // Until they say hello again, clients on them may resume here: their streams may be kept.
    for (const uid of this.#peers.user.keys()) this.watcher?.peerLeft(`user:${uid}`);
    for (const group of this.#peers.group.keys()) this.watcher?.peerLeft(`group:${group}`);
    if (this.#peers.all.size > 0) this.watcher?.peerLeft("all");
    this.#peers.user.clear();
    this.#peers.group.clear();
    this.#peers.all.clear();
  }

  /** A node left or died: it holds nothing any more. */
  #forget(node: string): void {
    for (const [kind, map] of [["user", this.#peers.user], ["group", this.#peers.group]] as const) {
      for (const [key, set] of map) {
        if (!set.delete(node)) continue;
        this.watcher?.peerLeft(`${kind}:${key}`);
        if (set.size === 0) map.delete(key);
      }
    }
    if (this.#peers.all.delete(node)) this.watcher?.peerLeft("all");
  }

  #writeConns(): Promise<unknown> {
    return this.link.send([
      "HSET",
      this.names.conns,
      this.nodeId,
      String(this.#hub.connectionCount),
    ]);
  }

  /**
   * Extends this node's presence and stores its figures; cleans up after dead nodes. A rebuild
   * beats once itself; timer beats skip while one runs (it resets this node's presence, which a
   * beat would take for expiry) and while an earlier beat is still in flight on a slow link.
   */
  async #beat(fromRebuild = false): Promise<void> {
    if (!this.link.up || this.#closed) return;
    if (!fromRebuild && (this.#beating || this.#rebuilding > 0)) return;
    if (!fromRebuild) this.#beating = true;
    const hub = this.#hub;
    const c = this.counters;
    const figures = {
      connections: hub.connectionCount,
      uids: hub.uidCount,
      groups: this.#groupMembers.size,
      cluster_published: c.published,
      cluster_received: c.received,
      cluster_publish_failed: c.publishFailed,
      ingress_commands: c.ingress,
      ingress_refused: c.ingressRefused,
    };
    try {
      const [fresh, ...dead] = await this.script<[number, ...string[]]>(
        "heartbeat",
        String(this.#ttlMs - this.#beatMs),
        ...Object.entries(figures).flatMap(([k, v]) => [k, String(v)]),
      );
      for (const node of dead) {
        log.warn("Cluster: node {node} missed its heartbeats for --presence-ttl: its uids left", {
          node,
        });
        this.#forget(node);
      }
      if (fresh === 1 && !fromRebuild && this.#rebuilding === 0) {
        // Another node cleaned this one up (its heartbeats were late): write it all again.
        log.warn("Cluster: this node's presence had expired: rebuilding it");
        this.#quietly(this.rebuild());
      }
    } catch {
      // The link state says why; the next beat tries again.
    } finally {
      if (!fromRebuild) this.#beating = false;
    }
  }
  /** Rebuilds in progress: while any runs, this node's presence is being rewritten. */
  #rebuilding = 0;
  /** A timer beat is in flight: the next waits for it rather than piling up on a slow link. */
  #beating = false;

  /** Told of holder changes: the cluster's history, when kept. */
  watcher: StreamWatcher | undefined;

  /** 1 while this node is among the subscribers of `channel` in Redis (counted by PUBLISH). */
  selfSubscribed(channel: Channel): number {
    return this.#subscribed.has(this.channelName(channel)) ? 1 : 0;
  }

  /** Fire and forget: a failure means the link is down, and the next `up` rebuilds. */
  #quietly(promise: Promise<unknown>): void {
    promise.catch((error) => {
      if (!(error instanceof UnavailableError)) {
        log.warn("Cluster: {message}", { message: (error as Error).message });
      }
    });
  }
}
