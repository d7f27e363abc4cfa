/**
 * The cluster's Presence: answers from what every node mirrors in Redis. A uid held only here
 * (as far as this node has heard) is answered from the local hub, without a round trip.
 * @module
 */
import type { Hub } from "../hub.ts";
import type { Presence, PresenceCounts } from "../presence.ts";
import type { ClusterNode } from "./cluster_node.ts";

/** Presence over every node, read from Redis. */
export class RedisPresence implements Presence {
  readonly #hub: Hub;
  readonly #node: ClusterNode;

  constructor(hub: Hub, node: ClusterNode) {
    this.#hub = hub;
    this.#node = node;
  }

  async connectionsOf(uid: string): Promise<number> {
    const local = this.#hub.connectionsOf(uid);
    if (local > 0 && this.#node.peersOf({ kind: "user", uid }) === undefined) return local;
    const counts = await this.#send<string[]>(["HVALS", this.#node.names.uidKey(uid)]);
    return sum(counts);
  }

  async counts(group?: string): Promise<PresenceCounts> {
    const { names } = this.#node;
    if (group === undefined) {
      const [conns, uids] = await Promise.all([
        this.#send<string[]>(["HVALS", names.conns]),
        this.#send<number>(["HLEN", names.uids]),
      ]);
      return { connections: sum(conns), uids };
    }
    const [uids, connections] = await Promise.all([
      this.#send<number>(["HLEN", names.groupKey(group)]),
      this.#node.script<number>("groupConnections", group),
    ]);
    return { connections, uids };
  }

  uids(group?: string): Promise<string[]> {
    const { names } = this.#node;
    return this.#send<string[]>([
      "HKEYS",
      group === undefined ? names.uids : names.groupKey(group),
    ]);
  }

  async groupSizes(): Promise<Record<string, number>> {
    const flat = await this.#send<string[]>(["HGETALL", this.#node.names.groups]);
    const sizes: Record<string, number> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) sizes[flat[i]!] = Number(flat[i + 1]);
    return sizes;
  }

  /** Each live node's figures from its last heartbeat. */
  async nodes(): Promise<Record<string, Record<string, number>>> {
    const flat = await this.#node.script<Array<string | string[]>>("nodes");
    const nodes: Record<string, Record<string, number>> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const fields = flat[i + 1] as string[];
      const figures: Record<string, number> = {};
      for (let j = 0; j + 1 < fields.length; j += 2) figures[fields[j]!] = Number(fields[j + 1]);
      nodes[flat[i] as string] = figures;
    }
    return nodes;
  }

  #send<T>(args: string[]): Promise<T> {
    return this.#node.link.send<T>(args);
  }
}

function sum(values: readonly string[]): number {
  let total = 0;
  for (const value of values) total += Number(value);
  return total;
}
