/**
 * Deadlines that all have the same length, kept by one timer: set in order, they fall due in
 * the same order, so only the oldest needs a timer. Cheaper per socket than a timer each (in
 * Deno 2.9 `setTimeout` builds a Node-style `Timeout`), and sockets come and go by the thousand.
 * A cancelled deadline's timer is not cleared but left to run out: most are cancelled long
 * before they fall due, and clearing and re-arming a timer per key cost as much as a timer each.
 * Deadlines sit in a {@linkcode LinkedList}, not a Map keyed by socket: see there why.
 * @module
 */
import { LinkedList, type ListEntry } from "./linked_list.ts";
import type { Clock } from "./rate_limiter.ts";

/** Options of {@linkcode DeadlineQueue}. */
export interface DeadlineQueueOptions<T> {
  /** Milliseconds from `add` to expiry. */
  readonly delayMs: number;
  /** Runs once per key whose deadline passed, oldest first; the deadline is already gone. */
  readonly onExpire: (key: T) => void;
  /** @default Date.now */
  readonly clock?: Clock;
}

/** A key and when it falls due. */
interface Pending<T> {
  readonly key: T;
  readonly due: number;
}

/** One key's deadline, as {@linkcode DeadlineQueue.add} returns it: pass it back to cancel. */
export type Deadline<T> = ListEntry<Pending<T>>;

/** Keys with a deadline each, `delayMs` after they were added. */
export class DeadlineQueue<T> {
  readonly #delayMs: number;
  readonly #onExpire: (key: T) => void;
  readonly #clock: Clock;
  /** Oldest first, which is also due order. */
  readonly #pending = new LinkedList<Pending<T>>();
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

  /** Deadlines waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /** Starts a deadline for `key`; undefined once the queue is closed. */
  add(key: T): Deadline<T> | undefined {
    if (this.#closed) return undefined;
    const deadline = this.#pending.push({ key, due: this.#clock() + this.#delayMs });
    this.#timer ??= setTimeout(() => this.#expire(), this.#delayMs);
    return deadline;
  }

  /** Cancels `deadline`; one expired or cancelled already, or undefined, is ignored. */
  cancel(deadline: Deadline<T> | undefined): void {
    this.#pending.remove(deadline);
  }

  /** Cancels every deadline and stops the timer; later `add` calls are ignored. */
  close(): void {
    this.#closed = true;
    this.#pending.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock();
    let oldest: Pending<T> | undefined;
    while ((oldest = this.#pending.first) !== undefined) {
      if (oldest.due > now) {
        this.#timer = setTimeout(() => this.#expire(), oldest.due - now);
        return;
      }
      this.#pending.shift();
      this.#onExpire(oldest.key);
    }
  }
}
