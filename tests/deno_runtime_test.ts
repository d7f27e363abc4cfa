/**
 * What Herald relies on in the Deno runtime beyond its public API, checked on the Deno that runs
 * the tests, so an upgrade that breaks it fails here, loudly, rather than in production:
 * `dropSocket()` and `cancelIdleTimer()` reach into runtime internals, and `FRAME_OVERHEAD_BYTES`
 * was measured on one Deno version. docs/deployment.md lists the versions these hold on.
 * @module
 */
import assert from "node:assert/strict";
import { dropSocket } from "../src/ws/socket_internals.ts";
import { FRAME_OVERHEAD_BYTES } from "../src/ws/ws_conn.ts";
import type { FrameOverheadMeasurement } from "../scripts/measure_frame_overhead.ts";
import { socketPair } from "./support/socket_pair.ts";
import { test } from "./support/test_herald.ts";
import { within } from "./support/wait.ts";

const MEASURE = new URL("../scripts/measure_frame_overhead.ts", import.meta.url).pathname;
/** How far the measured overhead may stray from the assumed one, either way, before failing. */
const OVERHEAD_TOLERANCE = 2;
const UPGRADE_HINT = "See 'Supported Deno versions' in docs/deployment.md.";

test("Deno runtime: dropSocket() releases a socket whose peer never answers the close", async () => {
  await using pair = await socketPair();
  const { socket, peer } = pair;
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  socket.close(4003, "test");
  assert.equal(await peer.readCloseCode(), 4003);
  // The peer never answers: without the drop the socket would stay CLOSING for good.
  assert.equal(socket.readyState, WebSocket.CLOSING);
  assert.ok(
    dropSocket(socket),
    `dropSocket() returned false on Deno ${Deno.version.deno}: the runtime internals it uses ` +
      "(Deno[Deno.internal].core.tryClose and the socket's [[rid]] symbol) have changed, so " +
      "sockets whose peer never answers a close are never released. Fix src/ws/socket_internals.ts " +
      `for this Deno, or stay on a supported one. ${UPGRADE_HINT}`,
  );
  await within(
    5000,
    closed,
    `the close event after dropSocket() returned true on Deno ${Deno.version.deno}: the ` +
      `internals it calls no longer end the socket. ${UPGRADE_HINT}`,
  );
  const buffer = new Uint8Array(64);
  assert.equal(await within(5000, peer.conn.read(buffer), "the peer's EOF"), null);
});

test("Deno runtime: a queued frame costs about FRAME_OVERHEAD_BYTES of native memory", async () => {
  // Each run in a fresh process, whose RSS nothing else moves; the median of three.
  const runs: FrameOverheadMeasurement[] = [];
  for (let i = 0; i < 3; i++) runs.push(await measureInChild());
  const overheads = runs.map((run) => run.overheadBytes).sort((a, b) => a - b);
  const measured = overheads[1]!;
  assert.ok(
    measured >= FRAME_OVERHEAD_BYTES / OVERHEAD_TOLERANCE &&
      measured <= FRAME_OVERHEAD_BYTES * OVERHEAD_TOLERANCE,
    `On Deno ${Deno.version.deno} a queued frame costs ~${measured} bytes beyond its payload ` +
      `(runs: ${overheads.join(", ")}), but src/ws/ws_conn.ts assumes FRAME_OVERHEAD_BYTES = ` +
      `${FRAME_OVERHEAD_BYTES}, so --max-unsent-total-bytes no longer bounds what slow readers ` +
      "hold. Re-measure with `deno run --allow-net=127.0.0.1 scripts/measure_frame_overhead.ts` " +
      `and update the constant. ${UPGRADE_HINT}`,
  );
});

async function measureInChild(): Promise<FrameOverheadMeasurement> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", MEASURE],
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(stdout);
}

test("Deno runtime: a socket dropped without a close handshake is held by its idle timer until cancelIdleTimer()", async () => {
  const kept = await retentionInChild("keep");
  assert.equal(kept.wasClean, false);
  assert.equal(
    kept.collected,
    false,
    `On Deno ${Deno.version.deno} a socket that ends without a close handshake is freed without ` +
      "help: Deno now cancels its idle timer itself, so cancelIdleTimer() in " +
      `src/ws/socket_internals.ts and its call in the gateway can go. ${UPGRADE_HINT}`,
  );
  const cancelled = await retentionInChild("cancel");
  assert.ok(
    cancelled.cancelled,
    `cancelIdleTimer() returned false on Deno ${Deno.version.deno}: the runtime internals it ` +
      "uses (Deno[Deno.internal].core.cancelTimer and the socket's [[idleTimeoutTimeout]] " +
      "symbol) have changed, so every socket dropped without a close handshake stays in memory " +
      `for half the idle timeout. Fix src/ws/socket_internals.ts. ${UPGRADE_HINT}`,
  );
  assert.equal(
    cancelled.collected,
    true,
    `cancelIdleTimer() returned true on Deno ${Deno.version.deno} but the socket was not freed: ` +
      `something else now holds it. ${UPGRADE_HINT}`,
  );
});

const RETENTION = new URL("./support/idle_timer_retention.ts", import.meta.url).pathname;

async function retentionInChild(
  mode: "keep" | "cancel",
): Promise<{ wasClean: boolean; cancelled: boolean; collected: boolean }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", "--allow-net=127.0.0.1", RETENTION, mode],
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
