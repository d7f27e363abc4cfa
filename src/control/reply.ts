/**
 * The control port's reply lines: the seed's plain `ok`/`fail` for pushes without an `id`,
 * JSON for queries and for requests that carry an `id`.
 * @module
 */
import { type Command, QUERY_COMMANDS, type RequestId } from "../command.ts";
import type { Outcome } from "../dispatch.ts";
import type { ControlError } from "../errors.ts";

/** A JSON reply: `{id?, result}` or `{id?, error}`, as the control port and the HTTP API send. */
export type JsonReply =
  | { readonly id?: RequestId; readonly result: Record<string, unknown> }
  | { readonly id?: RequestId; readonly error: ControlError };

/** The reply line (without newline) for a command that ran. */
export function formatOutcome(command: Command, outcome: Outcome): string {
  if (outcome.error !== undefined) return formatError(outcome.error, command.id);
  if (command.id === undefined && !QUERY_COMMANDS.has(command.cmd)) {
    return outcome.ok ? "ok" : outcome.queued ? "queued" : "fail";
  }
  return JSON.stringify(outcomeReply(command, outcome));
}

/** The reply line (without newline) for a request that was refused. */
export function formatError(error: ControlError, id?: RequestId): string {
  if (id === undefined) return `error: ${error.code}: ${escapeControls(error.message)}`;
  return JSON.stringify(errorReply(error, id));
}

/** The JSON reply for a command that ran, whatever the command: `{id?, result}`. */
export function outcomeReply(command: Command, outcome: Outcome): JsonReply {
  if (outcome.error !== undefined) return errorReply(outcome.error, command.id);
  return command.id === undefined
    ? { result: outcome.result }
    : { id: command.id, result: outcome.result };
}

/** The JSON reply for a refused request: `{id?, error}`. */
export function errorReply(error: ControlError, id?: RequestId): JsonReply {
  return id === undefined ? { error } : { id, error };
}

/**
 * Messages may quote the peer's input (JSON.parse does): escape control characters so a stray
 * `\r` or NUL cannot split or corrupt the reply line on the client's side.
 */
function escapeControls(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point.
    /[\u0000-\u001f\u007f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
