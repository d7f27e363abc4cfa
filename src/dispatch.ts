/**
 * Runs a validated command against the registry. The one place command logic lives; every
 * transport (control port today) parses, calls {@linkcode dispatch}, and formats the outcome.
 * @module
 */
import type { Command } from "./command.ts";
import { CLOSE } from "./errors.ts";
import type { Registry } from "./registry.ts";

/** What a command needs besides the registry: counters owned by the transports. */
export interface DispatchContext {
  readonly registry: Registry;
  /** Extra figures for `stats`, e.g. pending sockets and control connections. */
  readonly serverStats: () => Record<string, number>;
}

/** A command's outcome: `ok` decides the plain `ok`/`fail` reply, `result` the JSON one. */
export interface Outcome {
  readonly ok: boolean;
  readonly result: Record<string, unknown>;
}

/** Executes `command`; never throws for anything a peer can send. */
export function dispatch(command: Command, context: DispatchContext): Outcome {
  const { registry } = context;
  switch (command.cmd) {
    case "send":
      return delivered(
        command.uids.length === 1
          ? registry.sendToUid(command.uids[0]!, command.frame)
          : registry.sendToUids(command.uids, command.frame),
      );
    case "publish":
      return delivered(registry.publish(command.group, command.frame));
    case "broadcast":
      return delivered(registry.broadcast(command.frame));
    case "join": {
      const joined = registry.join(command.uid, command.group);
      return { ok: joined, result: { joined } };
    }
    case "leave": {
      const left = registry.leave(command.uid, command.group);
      return { ok: left, result: { left } };
    }
    case "kick": {
      const closed = registry.kick(command.uid, CLOSE.kicked);
      return { ok: closed > 0, result: { closed } };
    }
    case "online": {
      const connections = registry.connectionsOf(command.uid);
      return { ok: true, result: { uid: command.uid, online: connections > 0, connections } };
    }
    case "count": {
      if (command.group === undefined) {
        return {
          ok: true,
          result: { connections: registry.connectionCount, uids: registry.uidCount },
        };
      }
      return { ok: true, result: { group: command.group, ...registry.groupCounts(command.group) } };
    }
    case "uids":
      return { ok: true, result: { uids: registry.uids(command.group) } };
    case "stats":
      return {
        ok: true,
        result: {
          connections: registry.connectionCount,
          uids: registry.uidCount,
          ...context.serverStats(),
          groups: registry.groupSizes(),
        },
      };
  }
}

function delivered(count: number): Outcome {
  return { ok: count > 0, result: { delivered: count } };
}
