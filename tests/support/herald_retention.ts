/**
 * Child process of tests/ws_hostile_test.ts (run with `--v8-flags=--expose-gc`): a Herald whose
 * clients identify and then drop their TCP connections without a close handshake. Prints how many
 * of Herald's server sockets a full GC could not free once Herald had let them go: `{"held":N}`.
 * Exits at once, whatever Deno timers are still pending.
 * @module
 */
import { RawWsPeer } from "./raw_ws_peer.ts";
import { startTestHerald } from "./test_herald.ts";
import { eventually } from "./wait.ts";

declare const gc: () => void;

const CLIENTS = 20;
// See every server socket Herald makes, without holding it.
const sockets: WeakRef<WebSocket>[] = [];
const upgradeWebSocket = (request: Request, options?: Deno.UpgradeWebSocketOptions) => {
  const upgraded = Deno.upgradeWebSocket(request, options);
  sockets.push(new WeakRef(upgraded.socket));
  return upgraded;
};
// A long idle timeout: its timer, left running, would hold a socket for 60 s.
const herald = await startTestHerald({ idleTimeoutSeconds: 120 }, { upgradeWebSocket });
for (let i = 0; i < CLIENTS; i++) {
  const peer = await RawWsPeer.handshake(herald.wsAddr.port);
  await peer.sendText(`u${i}`);
  await eventually(() => herald.hub.connectionsOf(`u${i}`) === 1, 5000, `u${i} identified`);
  peer[Symbol.dispose](); // TCP closed, no close frame.
}
await eventually(() => herald.hub.connectionCount === 0, 5000, "every socket ended");
for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
gc();
console.log(JSON.stringify({ held: sockets.filter((ref) => ref.deref() !== undefined).length }));
Deno.exit(0);
