import assert from "node:assert/strict";
import { EventLoopLagSampler } from "./event_loop_lag.ts";

/**
 * Resolves once `count` samples have arrived, with all of them. The sampler's timer is unref'd,
 * so a referenced timer keeps the test's event loop alive until then.
 */
function collect(count: number, intervalMs: number, block?: number) {
  const samples: number[] = [];
  const done = Promise.withResolvers<number[]>();
  const keepAlive = setTimeout(() => done.reject(new Error("no samples within 30 s")), 30_000);
  done.promise.finally(() => clearTimeout(keepAlive)).catch(() => {});
  const sampler = new EventLoopLagSampler({
    intervalMs,
    onSample: (lag) => {
      samples.push(lag);
      if (samples.length === count) done.resolve(samples);
    },
  });
  if (block !== undefined) {
    const until = performance.now() + block;
    while (performance.now() < until) {
      /* Hold the event loop, as a long synchronous task would. */
    }
  }
  return { sampler, samples: done.promise };
}

Deno.test("EventLoopLagSampler reports how long a blocked event loop held its timer", async () => {
  const { sampler, samples } = collect(1, 10, 200);
  try {
    const [lag] = await samples;
    // Due 10 ms after start, fired after the 200-ms block at the earliest: >= 0.19 s late.
    assert.ok(lag! >= 0.15, `lag ${lag}`);
  } finally {
    sampler.close();
  }
});

Deno.test("EventLoopLagSampler keeps sampling until close(), then leaves no timer", async () => {
  const { sampler, samples } = collect(3, 5);
  const got = await samples;
  sampler.close();
  sampler.close();
  assert.equal(got.length, 3);
  for (const lag of got) assert.ok(lag >= 0 && Number.isFinite(lag), `lag ${lag}`);
  // The op sanitizer fails this test if a timer is still pending.
});

Deno.test("EventLoopLagSampler refuses a non-positive interval", () => {
  assert.throws(
    () => new EventLoopLagSampler({ intervalMs: 0, onSample: () => {} }),
    /intervalMs must be > 0: current value is 0/,
  );
});
