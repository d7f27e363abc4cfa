/**
 * The Broker: where a publication goes. Commands publish to a channel through it and never touch
 * connections themselves, so a broker that needs a round trip (Redis between nodes, messages
 * between isolates) replaces this one without changing any caller. Membership changes and kicks
 * travel the same way, since they too must reach whichever process holds the uid.
 * @module
 */
import type { Awaitable } from "./awaitable.ts";
import { type Channel, channelName } from "./channel.ts";
import { CLOSE } from "./errors.ts";
import type { HistoryStore, StreamPosition } from "./history/history_store.ts";
import type { Hub } from "./hub.ts";
import type { Publication } from "./publication.ts";

/** What publishing achieved. */
export interface Delivery {
  /** Connections that took the publication now, over every holder. */
  readonly delivered: number;
  /**
   * Nobody took it now, but history keeps it for a later connection: a resuming `herald.v1`
   * client or, with a ttl, the uid's next connection. Never true without history in use.
   */
  readonly queued: boolean;
}

/** How to publish. */
export interface PublishOptions {
  /** Keep a push to a uid without connections this many seconds for its next connection. */
  readonly ttlSeconds?: number;
}

/** Routes publications, memberships and kicks to the hubs that hold the uids concerned. */
export interface Broker {
  /**
   * Appends `publication` to the channel's history stream when that stream is kept, then
   * delivers it to every connection of `channel`. A local broker answers at once.
   */
  publish(
    channel: Channel,
    publication: Publication,
    options?: PublishOptions,
  ): Awaitable<Delivery>;
  /** Adds `uid` to `group` wherever it is connected; false when it is connected nowhere. */
  join(uid: string, group: string): Promise<boolean>;
  /** Removes `uid` from `group`; false when it was not a member. */
  leave(uid: string, group: string): Promise<boolean>;
  /** Closes every connection of `uid` with 4005; resolves with how many there were. */
  kick(uid: string): Promise<number>;
}

/** The broker of a single process: every holder is the local hub. */
export class LocalBroker implements Broker {
  readonly #hub: Hub;
  readonly #history: HistoryStore | undefined;

  /** Without `history` (--history-size 0) nothing is kept and nothing is ever `queued`. */
  constructor(hub: Hub, history?: HistoryStore) {
    this.#hub = hub;
    this.#history = history;
  }

  publish(
    channel: Channel,
    publication: Publication,
    options?: PublishOptions,
  ): Awaitable<Delivery> {
    const stream = channelName(channel);
    if (this.#history === undefined) {
      return { delivered: this.#hub.deliver(channel, publication.at(stream)), queued: false };
    }
    // Offline delivery only for a uid nobody holds: an online one gets it now or never.
    const ttlSeconds = options?.ttlSeconds !== undefined && channel.kind === "user" &&
        this.#hub.connectionsOf(channel.uid) === 0
      ? options.ttlSeconds
      : undefined;
    // Append first: a client resuming meanwhile then finds it in history or receives it live.
    const appended = this.#history.append(
      stream,
      publication,
      ttlSeconds === undefined ? undefined : { ttlSeconds },
    );
    if (appended instanceof Promise) {
      return appended.then((position) => this.#deliver(channel, stream, publication, position));
    }
    return this.#deliver(channel, stream, publication, appended);
  }

  #deliver(
    channel: Channel,
    stream: string,
    publication: Publication,
    position: StreamPosition | undefined,
  ): Delivery {
    const delivered = this.#hub.deliver(channel, publication.at(stream, position?.offset));
    return { delivered, queued: delivered === 0 && position !== undefined };
  }

  join(uid: string, group: string): Promise<boolean> {
    return Promise.resolve(this.#hub.join(uid, group));
  }

  leave(uid: string, group: string): Promise<boolean> {
    return Promise.resolve(this.#hub.leave(uid, group));
  }

  kick(uid: string): Promise<number> {
    return Promise.resolve(this.#hub.kick(uid, CLOSE.kicked));
  }
}
