/**
 * Event-loop lag: how late a timer fires compared with when it was due. Everything Herald does
 * runs on one thread, so this is the delay every push and every socket event is waiting behind.
 * @module
 */
import type { Clock } from "../rate_limiter.ts";

/** Options of {@linkcode EventLoopLagSampler}. */
export interface EventLoopLagSamplerOptions {
  /** Receives each sample: seconds the timer fired late (0 when on time). */
  readonly onSample: (lagSeconds: number) => void;
  /** Milliseconds between samples. @default 500 */
  readonly intervalMs?: number;
  /** Milliseconds from a fixed point. @default performance.now */
  readonly clock?: Clock;
}

/** Measures the event loop's lag with one timer at a time, from construction until `close()`. */
export class EventLoopLagSampler {
  readonly #onSample: (lagSeconds: number) => void;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: EventLoopLagSamplerOptions) {
    const intervalMs = options.intervalMs ?? 500;
    if (!(intervalMs > 0)) {
      throw new RangeError(
        `Cannot create EventLoopLagSampler: intervalMs must be > 0: current value is ${intervalMs}`,
      );
    }
    this.#onSample = options.onSample;
    this.#intervalMs = intervalMs;
    this.#clock = options.clock ?? (() => performance.now());
    this.#schedule();
  }

  /** Stops sampling; safe to call more than once. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const due = this.#clock() + this.#intervalMs;
    const timer = setTimeout(() => {
      this.#onSample(Math.max(0, this.#clock() - due) / 1000);
      // onSample may have closed the sampler.
      if (this.#timer !== undefined) this.#schedule();
    }, this.#intervalMs);
    // Sampling alone must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}
