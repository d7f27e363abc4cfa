/**
 * The Broker: where a publication goes. Commands publish to a channel through it and never touch
 * connections themselves, so a broker that needs a round trip (Redis between nodes, messages
 * between isolates) replaces this one without changing any caller. Membership changes and kicks
 * travel the same way, since they too must reach whichever process holds the uid.
 * @module
 */
import type { Awaitable } from "./awaitable.ts";
import type { Channel } from "./channel.ts";
import { CLOSE } from "./errors.ts";
import type { Hub } from "./hub.ts";
import type { Publication } from "./publication.ts";

/** What publishing achieved. Later brokers add `queued` (history) and a stream position. */
export interface Delivery {
  /** Connections that took the publication now, over every holder. */
  readonly delivered: number;
}

/** Routes publications, memberships and kicks to the hubs that hold the uids concerned. */
export interface Broker {
  /** Delivers `publication` to every connection of `channel`; a local broker answers at once. */
  publish(channel: Channel, publication: Publication): Awaitable<Delivery>;
  /** Adds `uid` to `group` wherever it is connected; false when it is connected nowhere. */
  join(uid: string, group: string): Promise<boolean>;
  /** Removes `uid` from `group`; false when it was not a member. */
  leave(uid: string, group: string): Promise<boolean>;
  /** Closes every connection of `uid` with 4005; resolves with how many there were. */
  kick(uid: string): Promise<number>;
}

/** The broker of a single process: every holder is the local hub, so nothing waits. */
export class LocalBroker implements Broker {
  readonly #hub: Hub;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  publish(channel: Channel, publication: Publication): Delivery {
    return { delivered: this.#hub.deliver(channel, publication) };
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
