/**
 * Presence: who is online and in which groups, answered for every process that holds
 * connections. Queries go through it, never to a hub directly, so a cluster can answer from a
 * shared store without changing the commands.
 * @module
 */
import type { Hub } from "./hub.ts";

/** Connections and distinct uids, of everyone or of one group. */
export interface PresenceCounts {
  readonly connections: number;
  readonly uids: number;
}

/** Answers who is online, over every holder. */
export interface Presence {
  /** Live connections of `uid` (0 when offline). */
  connectionsOf(uid: string): Promise<number>;
  /** Connections and uids online, all or the members of `group`. */
  counts(group?: string): Promise<PresenceCounts>;
  /** Online uids, all or the members of `group`. */
  uids(group?: string): Promise<string[]>;
  /** Member count of every non-empty group. */
  groupSizes(): Promise<Record<string, number>>;
  /** Figures of each node by node id, where there are several (`stats` shows them). */
  nodes?(): Promise<Record<string, Record<string, number>>>;
}

/** The presence of a single process: its hub is every holder. */
export class LocalPresence implements Presence {
  readonly #hub: Hub;

  constructor(hub: Hub) {
    this.#hub = hub;
  }

  connectionsOf(uid: string): Promise<number> {
    return Promise.resolve(this.#hub.connectionsOf(uid));
  }

  counts(group?: string): Promise<PresenceCounts> {
    const hub = this.#hub;
    return Promise.resolve(
      group === undefined
        ? { connections: hub.connectionCount, uids: hub.uidCount }
        : hub.groupCounts(group),
    );
  }

  uids(group?: string): Promise<string[]> {
    return Promise.resolve(this.#hub.uids(group));
  }

  groupSizes(): Promise<Record<string, number>> {
    return Promise.resolve(this.#hub.groupSizes());
  }
}
