/**
 * The two places Herald reaches into Deno's server WebSocket, where the public API falls short.
 *
 * - {@linkcode dropSocket}: on Deno 2.9.6 a socket whose peer never answers Herald's close frame
 *   stays CLOSING forever: the idle timeout stops at CLOSING, no `close` event fires, and the file
 *   descriptor and any data Deno holds for it stay taken (denoland/deno#27924; measured in
 *   docs/reliability.md). The public API has no way to abort a socket.
 * - {@linkcode cancelIdleTimer}: when a socket ends without a close handshake (the peer's TCP
 *   connection dropped, or Herald dropped it), Deno 2.9.6 leaves its idle-timeout timer running,
 *   and the timer holds the socket and everything it reaches (its request, its listeners, the
 *   session) for half the idle timeout: ~4 KB per dropped socket for 15 s by default, measured in
 *   docs/reliability.md. Deno cancels the timer itself only after a clean close.
 *
 * Everything depends on feature detection: when a future Deno changes these internals, each
 * function returns false and tests/deno_runtime_test.ts fails, naming what changed.
 * @module
 */

interface DenoCore {
  readonly tryClose?: (rid: number) => void;
  readonly cancelTimer?: (timer: unknown) => void;
}

/** Closes `socket`'s underlying resource; returns false when this runtime offers no way to. */
export function dropSocket(socket: WebSocket): boolean {
  const tryClose = core()?.tryClose;
  const rid = internal(socket, "[[rid]]");
  if (typeof tryClose !== "function" || typeof rid !== "number") return false;
  tryClose(rid);
  return true;
}

/**
 * Cancels the idle-timeout timer of a socket that has closed; returns false when this runtime
 * offers no way to. A socket without a timer (idle timeout off) needs none and returns true.
 */
export function cancelIdleTimer(socket: WebSocket): boolean {
  const cancelTimer = core()?.cancelTimer;
  const key = internalKey(socket, "[[idleTimeoutTimeout]]");
  if (typeof cancelTimer !== "function" || key === undefined) return false;
  const timer = (socket as unknown as Record<symbol, unknown>)[key];
  if (timer !== null && timer !== undefined) cancelTimer(timer);
  return true;
}

function core(): DenoCore | undefined {
  const deno = Deno as unknown as Record<symbol, unknown> & { internal?: symbol };
  const key = deno.internal;
  return typeof key === "symbol" ? (deno[key] as { core?: DenoCore } | undefined)?.core : undefined;
}

/** The value of the socket's internal slot named `description`, or undefined. */
function internal(socket: WebSocket, description: string): unknown {
  const key = internalKey(socket, description);
  return key === undefined ? undefined : (socket as unknown as Record<symbol, unknown>)[key];
}

function internalKey(socket: WebSocket, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(socket).find((key) => key.description === description);
}
