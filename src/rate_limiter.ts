/**
 * Token buckets: a steady rate with a burst of the same size, and a keyed set of them whose
 * memory stays bounded however many keys (client IPs) pass through.
 * @module
 */

/** Milliseconds since some fixed point; `Date.now` in production, a fake in tests. */
export type Clock = () => number;

/** Options of {@linkcode TokenBucket} and {@linkcode KeyedRateLimiter}. */
export interface RateLimitOptions {
  /** Tokens added per second; also the bucket's size, so the burst allowed. */
  readonly perSecond: number;
  /** @default Date.now */
  readonly clock?: Clock;
}

/** One token bucket: `take()` succeeds at most `perSecond` times per second, after a burst. */
export class TokenBucket {
  readonly #perSecond: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;

  constructor(options: RateLimitOptions) {
    if (!(options.perSecond > 0)) {
      throw new RangeError(
        `Cannot create TokenBucket: perSecond must be > 0: current value is ${options.perSecond}`,
      );
    }
    this.#perSecond = options.perSecond;
    this.#clock = options.clock ?? Date.now;
    this.#tokens = options.perSecond;
    this.#at = this.#clock();
  }

  /** Takes one token; returns false, taking nothing, when the bucket is empty. */
  take(): boolean {
    const now = this.#clock();
    this.#tokens = Math.min(
      this.#perSecond,
      this.#tokens + ((now - this.#at) / 1000) * this.#perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely, so forgetting it changes nothing. */
  get full(): boolean {
    return this.#tokens + ((this.#clock() - this.#at) / 1000) * this.#perSecond >= this.#perSecond;
  }
}

/** A token bucket per key, e.g. per client IP. */
export class KeyedRateLimiter {
  readonly #options: RateLimitOptions;
  readonly #buckets = new Map<string, TokenBucket>();
  #sweepAt: number;

  constructor(options: RateLimitOptions) {
    this.#options = options;
    this.#sweepAt = 1024;
  }

  /** Keys with a bucket that has not refilled yet. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket; false when it is empty. */
  take(key: string): boolean {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      // A full bucket is the same as none, so forgetting full ones keeps only recent keys.
      if (this.#buckets.size >= this.#sweepAt) this.#sweep();
      bucket = new TokenBucket(this.#options);
      this.#buckets.set(key, bucket);
    }
    return bucket.take();
  }

  #sweep(): void {
    for (const [key, bucket] of this.#buckets) if (bucket.full) this.#buckets.delete(key);
    // Amortized: the next sweep waits until the map has doubled past what survived.
    this.#sweepAt = Math.max(1024, this.#buckets.size * 2);
  }
}
