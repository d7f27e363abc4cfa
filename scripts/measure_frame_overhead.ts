/**
 * Measures the native memory one queued WebSocket frame costs beyond its payload, the figure
 * `FRAME_OVERHEAD_BYTES` in `src/ws/ws_conn.ts` stands for. Run it in a fresh process after a
 * Deno upgrade; `tests/deno_runtime_test.ts` runs it and fails when the two are far apart.
 *
 *   deno run --allow-net=127.0.0.1 scripts/measure_frame_overhead.ts
 *
 * A server socket whose peer never reads is first filled with large frames until the kernel's
 * buffers are full, so every frame after that stays queued in Deno; then RSS is read before and
 * after queuing many small ones. Prints one JSON object.
 * @module
 */
import { socketPair } from "../tests/support/socket_pair.ts";
import { eventually } from "../tests/support/wait.ts";
import { FRAME_OVERHEAD_BYTES } from "../src/ws/ws_conn.ts";

/** Enough frames that RSS moves by tens of MiB, well past allocator noise. */
const FRAMES = 20_000;
const PAYLOAD_BYTES = 100;
const FILLER = "f".repeat(64 * 1024);

/** What one run measured. */
export interface FrameOverheadMeasurement {
  readonly deno: string;
  readonly frames: number;
  readonly payloadBytes: number;
  /** RSS growth per queued frame, minus its payload. */
  readonly overheadBytes: number;
  /** What `src/ws/ws_conn.ts` assumes. */
  readonly assumedBytes: number;
}

/** Queues frames to a peer that never reads and reports what each cost. */
async function measureFrameOverhead(): Promise<FrameOverheadMeasurement> {
  const { socket, peer } = await socketPair();
  // Kept topped up with large frames until the kernel takes nothing more for a few polls in a
  // row: from then on every frame sent stays queued in Deno.
  let level = 0;
  let stillPolls = 0;
  await eventually(
    () => {
      stillPolls = socket.bufferedAmount === level ? stillPolls + 1 : 0;
      while (socket.bufferedAmount < 4 * FILLER.length) socket.send(FILLER);
      level = socket.bufferedAmount;
      return stillPolls >= 3;
    },
    30_000,
    "the kernel's socket buffers to fill",
  );
  const queuedBefore = socket.bufferedAmount;
  const rssBefore = Deno.memoryUsage().rss;
  const payload = "x".repeat(PAYLOAD_BYTES);
  for (let i = 0; i < FRAMES; i++) socket.send(payload);
  // The write ops start on the next turns of the event loop; a turn later they hold their memory.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const rssAfter = Deno.memoryUsage().rss;
  const queued = socket.bufferedAmount - queuedBefore;
  if (queued !== FRAMES * PAYLOAD_BYTES) {
    throw new Error(
      `Cannot measure: ${queued} bytes were queued, not ${FRAMES * PAYLOAD_BYTES}: ` +
        "the peer's kernel buffers took some",
    );
  }
  peer[Symbol.dispose]();
  return {
    deno: Deno.version.deno,
    frames: FRAMES,
    payloadBytes: PAYLOAD_BYTES,
    overheadBytes: Math.round((rssAfter - rssBefore) / FRAMES - PAYLOAD_BYTES),
    assumedBytes: FRAME_OVERHEAD_BYTES,
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await measureFrameOverhead()));
  // The server socket still holds its queue; exiting drops it at once.
  Deno.exit(0);
}
