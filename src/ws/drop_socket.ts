/**
 * Releases a server WebSocket whose peer never answered Herald's close frame.
 *
 * On Deno 2.9.6 such a socket stays CLOSING forever: the idle timeout stops at CLOSING, no
 * `close` event fires, and the file descriptor and any data Deno holds for it stay taken
 * (denoland/deno#27924; measured in docs/reliability.md). The public API has no way to abort a
 * socket, so this closes its runtime resource, which ends it with a `close` event (code 1005).
 * Everything depends on feature detection: when a future Deno changes these internals, `drop`
 * returns false and the caller's admission limits still bound what such sockets hold.
 * @module
 */

interface DenoInternals {
  readonly core?: { readonly tryClose?: (rid: number) => void };
}

/** Closes `socket`'s underlying resource; returns false when this runtime offers no way to. */
export function dropSocket(socket: WebSocket): boolean {
  const tryClose = internals()?.core?.tryClose;
  if (typeof tryClose !== "function") return false;
  const ridKey = Object.getOwnPropertySymbols(socket).find((key) => key.description === "[[rid]]");
  if (ridKey === undefined) return false;
  const rid: unknown = (socket as unknown as Record<symbol, unknown>)[ridKey];
  if (typeof rid !== "number") return false;
  tryClose(rid);
  return true;
}

function internals(): DenoInternals | undefined {
  const deno = Deno as unknown as Record<symbol, unknown> & { internal?: symbol };
  const key = deno.internal;
  return typeof key === "symbol" ? deno[key] as DenoInternals | undefined : undefined;
}
