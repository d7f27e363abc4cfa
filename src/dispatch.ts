/**
 * Runs a validated command. The one place command logic lives; every transport (the control port
 * today) parses, awaits {@linkcode dispatch}, and formats the outcome. Pushes and membership go
 * through the Broker, queries through Presence, so neither the commands nor the transports know
 * whether the holders are this process or a cluster.
 * @module
 */
import type { Broker, Delivery } from "./broker.ts";
import type { Command } from "./command.ts";
import type { Presence } from "./presence.ts";

/** What a command needs: where pushes go, who answers queries, and the transports' counters. */
export interface DispatchContext {
  readonly broker: Broker;
  readonly presence: Presence;
  /** Extra figures for `stats`, e.g. pending sockets and control connections. */
  readonly serverStats: () => Record<string, number>;
}

/**
 * A command's outcome: `ok` decides the plain `ok`/`fail` reply (`queued` when not ok but kept
 * for later delivery), `result` the JSON one.
 */
export interface Outcome {
  readonly ok: boolean;
  readonly queued?: boolean;
  readonly result: Record<string, unknown>;
}

/** Executes `command`; never rejects for anything a peer can send. */
export async function dispatch(command: Command, context: DispatchContext): Promise<Outcome> {
  const { broker, presence } = context;
  switch (command.cmd) {
    case "send": {
      const options = command.ttl === undefined ? undefined : { ttlSeconds: command.ttl };
      if (command.uids.length === 1) {
        const channel = { kind: "user", uid: command.uids[0]! } as const;
        return delivered(await broker.publish(channel, command.publication, options));
      }
      let count = 0;
      let queued = false;
      for (const uid of new Set(command.uids)) {
        const delivery = await broker.publish({ kind: "user", uid }, command.publication, options);
        count += delivery.delivered;
        queued ||= delivery.queued;
      }
      return delivered({ delivered: count, queued });
    }
    case "publish": {
      const channel = { kind: "group", group: command.group } as const;
      return delivered(await broker.publish(channel, command.publication));
    }
    case "broadcast":
      return delivered(await broker.publish({ kind: "all" }, command.publication));
    case "join": {
      // Membership needs the uid online somewhere, not necessarily on this node.
      const joined = await presence.connectionsOf(command.uid) > 0 &&
        await broker.join(command.uid, command.group);
      return { ok: joined, result: { joined } };
    }
    case "leave": {
      const left = await broker.leave(command.uid, command.group);
      return { ok: left, result: { left } };
    }
    case "kick": {
      const closed = await broker.kick(command.uid);
      return { ok: closed > 0, result: { closed } };
    }
    case "online": {
      const connections = await presence.connectionsOf(command.uid);
      return { ok: true, result: { uid: command.uid, online: connections > 0, connections } };
    }
    case "count": {
      const counts = await presence.counts(command.group);
      return {
        ok: true,
        result: command.group === undefined ? { ...counts } : { group: command.group, ...counts },
      };
    }
    case "uids":
      return { ok: true, result: { uids: await presence.uids(command.group) } };
    case "stats": {
      const counts = await presence.counts();
      return {
        ok: true,
        result: { ...counts, ...context.serverStats(), groups: await presence.groupSizes() },
      };
    }
  }
}

function delivered(delivery: Delivery): Outcome {
  const ok = delivery.delivered > 0;
  // `queued` appears only when history kept it: a seed-style setup's replies stay as they were.
  if (ok || !delivery.queued) return { ok, result: { delivered: delivery.delivered } };
  return { ok, queued: true, result: { delivered: 0, queued: true } };
}
