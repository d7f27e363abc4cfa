/**
 * The control port's reply lines: the seed's plain `ok`/`fail` for pushes without an `id`,
 * JSON for queries and for requests that carry an `id`.
 * @module
 */
import { type Command, QUERY_COMMANDS, type RequestId } from "../command.ts";
import type { Outcome } from "../dispatch.ts";
import type { ControlError } from "../errors.ts";

/** The reply line (without newline) for a command that ran. */
export function formatOutcome(command: Command, outcome: Outcome): string {
  if (command.id === undefined) {
    if (!QUERY_COMMANDS.has(command.cmd)) {
      return outcome.ok ? "ok" : outcome.queued ? "queued" : "fail";
    }
    return JSON.stringify({ result: outcome.result });
  }
  return JSON.stringify({ id: command.id, result: outcome.result });
}

/** The reply line (without newline) for a request that was refused. */
export function formatError(error: ControlError, id?: RequestId): string {
  if (id === undefined) return `error: ${error.code}: ${escapeControls(error.message)}`;
  return JSON.stringify({ id, error });
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
