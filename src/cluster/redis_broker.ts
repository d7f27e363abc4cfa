/**
 * The cluster's Broker: delivers on this node's hub first, then through Redis to the other nodes
 * that hold the channel. A push for a channel no other node holds (as far as this node has
 * heard) and no history keeps costs no Redis traffic at all; one this node cannot deliver waits
 * for PUBLISH, whose receiver count says whether another node holds it. A push history may keep
 * is appended and published by one script first, so every node frames it with its offset.
 * @module
 */
import type { Broker, Delivery, PublishOptions } from "../broker.ts";
import { type Channel, channelName } from "../channel.ts";
import { CLOSE, UnavailableError } from "../errors.ts";
import type { Hub } from "../hub.ts";
import type { Publication } from "../publication.ts";
import { type ClusterNode, MESSAGE } from "./cluster_node.ts";
import type { RedisHistory } from "./redis_history.ts";
import { RedisTimeoutError } from "./redis_link.ts";

/**
 * Routes through Redis pub/sub. `delivered` counts this node's connections plus one for each
 * other node that received the publication: other nodes do not report their counts back.
 */
export class RedisBroker implements Broker {
  readonly #hub: Hub;
  readonly #node: ClusterNode;
  readonly #history: RedisHistory | undefined;

  /** Without `history` (--history-size 0) nothing is kept and nothing is ever `queued`. */
  constructor(hub: Hub, node: ClusterNode, history?: RedisHistory) {
    this.#hub = hub;
    this.#node = node;
    this.#history = history;
  }

  publish(
    channel: Channel,
    publication: Publication,
    options?: PublishOptions,
  ): Delivery | Promise<Delivery> {
    const stream = channelName(channel);
    const history = this.#history;
    const holds = this.#node.holds(channel);
    if (
      history === undefined ||
      (holds && this.#node.peersOf(channel) === undefined && !history.mayKeep(stream))
    ) {
      return this.#publishUnkept(channel, stream, publication);
    }
    return this.#appendAndPublish(channel, stream, publication, holds, history, options);
  }

  /** A push no history keeps: delivered here first, then published only if shared. */
  #publishUnkept(
    channel: Channel,
    stream: string,
    publication: Publication,
  ): Delivery | Promise<Delivery> {
    const local = this.#hub.deliver(channel, publication.at(stream));
    const peers = this.#node.peersOf(channel);
    if (local > 0 && peers === undefined) return { delivered: local, queued: false };
    const node = this.#node;
    node.counters.published++;
    // Rejects at once while the link is down: nothing waits for a Redis that is gone.
    const sent = node.send(channel, MESSAGE.publication, publication.tagged);
    if (local > 0) {
      // Delivered here already, so the reply does not wait for Redis; if the link is down,
      // the other nodes' connections miss this push (counted as publish_failed).
      sent.catch(() => node.counters.publishFailed++);
      return { delivered: local + peers!.size, queued: false };
    }
    return this.#orUnavailable("push", false, sent).then((others) => ({
      delivered: others,
      queued: false,
    }));
  }

  /**
   * A push history may keep: appended and published in one script, then delivered here with
   * its offset. If Redis fails, nothing is delivered anywhere and the push answers
   * `unavailable`: a resuming client could otherwise miss it and still be told it recovered.
   */
  async #appendAndPublish(
    channel: Channel,
    stream: string,
    publication: Publication,
    holds: boolean,
    history: RedisHistory,
    options: PublishOptions | undefined,
  ): Promise<Delivery> {
    const node = this.#node;
    const shared = !holds || node.peersOf(channel) !== undefined;
    if (shared) node.counters.published++;
    const uid = channel.kind === "user" ? channel.uid : undefined;
    // Offline delivery only for a uid held nowhere: the script asks presence, and an online
    // uid gets the push now or never.
    const ttlSeconds = uid !== undefined && !holds ? options?.ttlSeconds : undefined;
    const { position, receivers } = await this.#orUnavailable(
      "push",
      false,
      history.appendAndPublish(stream, publication, {
        ttlSeconds,
        uid,
        channel: shared ? node.channelName(channel) : undefined,
      }),
    );
    const local = this.#hub.deliver(channel, publication.at(stream, position?.offset));
    const delivered = local + (shared ? Math.max(0, receivers - node.selfSubscribed(channel)) : 0);
    return { delivered, queued: delivered === 0 && position !== undefined };
  }

  async join(uid: string, group: string): Promise<boolean> {
    const joined = this.#hub.join(uid, group);
    if (joined && this.#localOnly(uid)) return true;
    // Waits for the other holders to be subscribed to the group, so a push to the group right
    // after this reply reaches them.
    const others = await this.#orUnavailable("join", joined, this.#node.joinElsewhere(uid, group));
    return joined || others > 0;
  }

  async leave(uid: string, group: string): Promise<boolean> {
    const left = this.#hub.leave(uid, group);
    if (left && this.#localOnly(uid)) return true;
    const node = this.#node;
    // Asked before publishing, on the same connection: this node's own leave is already in.
    const membership = node.link.send<string | null>(["HGET", node.names.groupKey(group), uid]);
    // Waits for the other holders to have written the leave, so a query (or another leave)
    // right after this reply sees it.
    const sent = node.leaveElsewhere(uid, group);
    const [elsewhere] = await this.#orUnavailable(
      "leave",
      left,
      Promise.all([membership, sent]),
    );
    return left || Number(elsewhere ?? 0) > 0;
  }

  async kick(uid: string): Promise<number> {
    // Asked first: closing the uid's last local connection forgets its other holders.
    const localOnly = this.#localOnly(uid);
    const closed = this.#hub.kick(uid, CLOSE.kicked);
    if (closed > 0 && localOnly) return closed;
    const node = this.#node;
    // This node's connections of the uid are already out of Redis (same connection, in order).
    const counts = node.link.send<string[]>(["HVALS", node.names.uidKey(uid)]);
    const sent = node.send({ kind: "user", uid }, MESSAGE.kick);
    const [elsewhere] = await this.#orUnavailable("kick", closed > 0, Promise.all([counts, sent]));
    return closed + elsewhere.reduce((sum, n) => sum + Number(n), 0);
  }

  /** No other node holds `uid` as far as this node has heard, and this one did. */
  #localOnly(uid: string): boolean {
    return this.#node.peersOf({ kind: "user", uid }) === undefined;
  }

  /** Awaits `work`; if Redis fails, says so, naming what was done here. */
  async #orUnavailable<T>(what: string, doneHere: boolean, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (!(error instanceof UnavailableError)) throw error;
      const elsewhere = error instanceof RedisTimeoutError
        ? "other nodes may still get it if Redis recovers"
        : "no other node got it";
      throw new UnavailableError(
        `${error.message}; the ${what} was ${
          doneHere ? "applied on this node" : "not applied here"
        }, ${elsewhere}`,
      );
    }
  }
}
