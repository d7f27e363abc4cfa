/**
 * Deadlines that all have the same length, kept by one timer: set in order, they fall due in
 * the same order, so only the oldest needs a timer. Cheaper per socket than a timer each (in
 * Deno 2.9 `setTimeout` builds a Node-style `Timeout`), and sockets come and go by the thousand.
 * A deleted key's timer is not cleared but left to run out: most keys are deleted long before
 * they fall due, and clearing and re-arming a timer per key cost as much as a timer each.
 * @module
 */
import type { Clock } from "./rate_limiter.ts";

/** Options of {@linkcode DeadlineQueue}. */
export interface DeadlineQueueOptions<T> {
  /** Milliseconds from `add` to expiry. */
  readonly delayMs: number;
  /** Runs once per key whose deadline passed, oldest first; the key is already removed. */
  readonly onExpire: (key: T) => void;
  /** @default Date.now */
  readonly clock?: Clock;
}

/** Keys with a deadline each, `delayMs` after they were added. */
export class DeadlineQueue<T> {
  readonly #delayMs: number;
  readonly #onExpire: (key: T) => void;
  readonly #clock: Clock;
  /** Key → due time; a Map iterates in insertion order, which here is due order. */
  readonly #due = new Map<T, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: DeadlineQueueOptions<T>) {
    if (!(options.delayMs >= 0)) {
      throw new RangeError(
        `Cannot create DeadlineQueue: delayMs must be >= 0: current value is ${options.delayMs}`,
      );
    }
    this.#delayMs = options.delayMs;
    this.#onExpire = options.onExpire;
    this.#clock = options.clock ?? Date.now;
  }

  /** Keys waiting. */
  get size(): number {
    return this.#due.size;
  }

  /** Starts `key`'s deadline; a key already waiting keeps its first one. */
  add(key: T): void {
    if (this.#due.has(key) || this.#closed) return;
    this.#due.set(key, this.#clock() + this.#delayMs);
    this.#timer ??= setTimeout(() => this.#expire(), this.#delayMs);
  }

  /** Cancels `key`'s deadline; a timer left with nothing due stops when it fires. */
  delete(key: T): void {
    this.#due.delete(key);
  }

  /** Cancels every deadline and stops the timer; later `add` calls are ignored. */
  close(): void {
    this.#closed = true;
    this.#due.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock();
    for (const [key, due] of this.#due) {
      if (due > now) {
        this.#timer = setTimeout(() => this.#expire(), due - now);
        return;
      }
      this.#due.delete(key);
      this.#onExpire(key);
    }
  }
}
