/**
 * Child process of tests/deno_runtime_test.ts (run with `--v8-flags=--expose-gc`): serves one
 * WebSocket, drops the peer's TCP connection without a close handshake, then tells whether a full
 * GC freed the server's socket. With `cancel` the close handler calls `cancelIdleTimer()` first.
 * Prints `{"wasClean":…,"cancelled":…,"collected":…}`.
 * @module
 */
import { cancelIdleTimer } from "../../src/ws/socket_internals.ts";
import { RawWsPeer } from "./raw_ws_peer.ts";

declare const gc: () => void;

const cancel = Deno.args[0] === "cancel";
const closed = Promise.withResolvers<{ wasClean: boolean; cancelled: boolean }>();
let ref: WeakRef<WebSocket> | undefined;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
  // The shortest idle timeout: the timer left running fires after 1 s instead of 15.
  const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 2 });
  ref = new WeakRef(socket);
  socket.onclose = (event) => {
    const cancelled = cancel && cancelIdleTimer(socket);
    closed.resolve({ wasClean: event.wasClean, cancelled });
  };
  return response;
});
const peer = await RawWsPeer.handshake(server.addr.port);
peer[Symbol.dispose](); // TCP closed, no close frame.
const outcome = await closed.promise;
// A WeakRef keeps its target until the current job ends: let a few turns pass, then collect.
for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
gc();
console.log(JSON.stringify({ ...outcome, collected: ref?.deref() === undefined }));
await server.shutdown();
