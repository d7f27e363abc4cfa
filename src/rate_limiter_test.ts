import assert from "node:assert/strict";
import { KeyedRateLimiter, TokenBucket } from "./rate_limiter.ts";

function fakeClock() {
  let now = 1_000_000;
  return { clock: () => now, advance: (ms: number) => (now += ms) };
}

Deno.test("TokenBucket.take() allows a burst of perSecond, then perSecond per second", () => {
  const time = fakeClock();
  const bucket = new TokenBucket({ perSecond: 5, clock: time.clock });
  for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true, `take ${i}`);
  assert.equal(bucket.take(), false);
  time.advance(200);
  assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false);
  time.advance(60_000);
  for (let i = 0; i < 5; i++) assert.equal(bucket.take(), true);
  assert.equal(bucket.take(), false, "the burst never grows past perSecond");
});

Deno.test("TokenBucket.full is true once the bucket has refilled", () => {
  const time = fakeClock();
  const bucket = new TokenBucket({ perSecond: 2, clock: time.clock });
  assert.equal(bucket.full, true);
  bucket.take();
  assert.equal(bucket.full, false);
  time.advance(500);
  assert.equal(bucket.full, true);
});

Deno.test("new TokenBucket() refuses a rate of zero", () => {
  assert.throws(() => new TokenBucket({ perSecond: 0 }), RangeError);
});

Deno.test("KeyedRateLimiter.take() keeps one bucket per key", () => {
  const time = fakeClock();
  const limiter = new KeyedRateLimiter({ perSecond: 2, clock: time.clock });
  assert.equal(limiter.take("a"), true);
  assert.equal(limiter.take("a"), true);
  assert.equal(limiter.take("a"), false);
  assert.equal(limiter.take("b"), true, "another key has its own bucket");
});

Deno.test("KeyedRateLimiter forgets refilled buckets, so a million keys hold bounded memory", () => {
  const time = fakeClock();
  const limiter = new KeyedRateLimiter({ perSecond: 1, clock: time.clock });
  for (let i = 0; i < 1_000_000; i++) {
    limiter.take(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    if (i % 500 === 0) time.advance(1000);
  }
  assert.ok(limiter.size <= 2048, `${limiter.size} buckets held`);
});
