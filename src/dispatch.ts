/**
 * Runs a validated command. The one place command logic lives; every transport (the control port,
 * the HTTP API, Redis ingress) parses, runs {@linkcode dispatch}, awaits its outcome when it is a
 * promise, and formats it. Pushes and membership go through the Broker, queries through Presence, so neither the commands nor the transports know
 * whether the holders are this process or a cluster.
 * @module
 */
import type { Awaitable } from "./awaitable.ts";
import type { Broker, Delivery, PublishOptions } from "./broker.ts";
import { ALL, type Channel } from "./channel.ts";
import type { Command } from "./command.ts";
import { type ControlError, UnavailableError } from "./errors.ts";
import type { Presence } from "./presence.ts";
import type { Publication } from "./publication.ts";

/** The commands that push to browsers. */
export type PushCmd = "send" | "publish" | "broadcast";

/** What a command needs: where pushes go, who answers queries, and the transports' counters. */
export interface DispatchContext {
  readonly broker: Broker;
  readonly presence: Presence;
  /** Extra figures for `stats`, e.g. pending sockets and control connections. */
  readonly serverStats: () => Record<string, number>;
  /** Told about every push once it is delivered (metrics); must be cheap and never throw. */
  readonly onPush?: (cmd: PushCmd, delivery: Delivery, publication: Publication) => void;
}

/**
 * A command's outcome: `ok` decides the plain `ok`/`fail` reply (`queued` when not ok but kept
 * for later delivery), `result` the JSON one; `error`, when set, replaces both (the command could
 * not be completed, e.g. `unavailable`).
 */
export interface Outcome {
  readonly ok: boolean;
  readonly queued?: boolean;
  readonly result: Record<string, unknown>;
  readonly error?: ControlError;
}

/**
 * Executes `command`; never rejects for anything a peer can send. A push answers at once when the
 * broker does (the local one), so the commonest request costs no promise.
 */
export function dispatch(command: Command, context: DispatchContext): Awaitable<Outcome> {
  const outcome = run(command, context);
  return outcome instanceof Promise ? outcome.catch(unavailable) : outcome;
}

/** A broker or presence that could not reach the other nodes: an honest error reply. */
function unavailable(error: unknown): Outcome {
  if (!(error instanceof UnavailableError)) throw error;
  return { ok: false, result: {}, error: { code: error.code, message: error.message } };
}

function run(command: Command, context: DispatchContext): Awaitable<Outcome> {
  switch (command.cmd) {
    case "send":
      if (command.uids.length > 1) return sendToEach(command, context);
      return publish({ kind: "user", uid: command.uids[0]! }, command, context);
    case "publish":
      return publish({ kind: "group", group: command.group }, command, context);
    case "broadcast":
      return publish(ALL, command, context);
    default:
      return runOther(command, context);
  }
}

/** Publishes one push to `channel`; a broker's promise only when it gives one. */
function publish(
  channel: Channel,
  command: Extract<Command, { cmd: PushCmd }>,
  context: DispatchContext,
): Awaitable<Outcome> {
  const delivery = context.broker.publish(channel, command.publication, publishOptions(command));
  return delivery instanceof Promise
    ? delivery.then((delivered) => pushed(command, delivered, context))
    : pushed(command, delivery, context);
}

/** A `send` with a `ttl` asks the broker to keep it for an offline uid. */
function publishOptions(command: Extract<Command, { cmd: PushCmd }>): PublishOptions | undefined {
  return command.cmd === "send" && command.ttl !== undefined
    ? { ttlSeconds: command.ttl }
    : undefined;
}

/** Publishes to each distinct uid in turn: a uid listed twice gets the push once. */
async function sendToEach(
  command: Extract<Command, { cmd: "send" }>,
  context: DispatchContext,
): Promise<Outcome> {
  const options = publishOptions(command);
  let count = 0;
  let queued = false;
  for (const uid of new Set(command.uids)) {
    const delivery = await context.broker.publish(
      { kind: "user", uid },
      command.publication,
      options,
    );
    count += delivery.delivered;
    queued ||= delivery.queued;
  }
  return pushed(command, { delivered: count, queued }, context);
}

/** Membership, kicks and queries: rarer than pushes, and always through a promise. */
async function runOther(
  command: Exclude<Command, { cmd: PushCmd }>,
  context: DispatchContext,
): Promise<Outcome> {
  const { broker, presence } = context;
  switch (command.cmd) {
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
      let counts, groups, nodes;
      try {
        counts = await presence.counts();
        groups = await presence.groupSizes();
        nodes = await presence.nodes?.();
      } catch (error) {
        if (!(error instanceof UnavailableError)) throw error;
        // Presence is out of reach (a cluster without Redis): this node's own figures, which
        // show its link state, still answer, with the reason instead of the cluster's totals.
        return {
          ok: true,
          result: { ...context.serverStats(), presence_unavailable: error.message },
        };
      }
      return {
        ok: true,
        result: { ...counts, ...context.serverStats(), groups, ...nodes && { nodes } },
      };
    }
  }
}

function pushed(
  command: { readonly cmd: PushCmd; readonly publication: Publication },
  delivery: Delivery,
  context: DispatchContext,
): Outcome {
  context.onPush?.(command.cmd, delivery, command.publication);
  const ok = delivery.delivered > 0;
  // `queued` appears only when history kept it: a seed-style setup's replies stay as they were.
  if (ok || !delivery.queued) return { ok, result: { delivered: delivery.delivered } };
  return { ok, queued: true, result: { delivered: 0, queued: true } };
}
