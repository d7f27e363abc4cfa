/**
 * A value now or a promise of it. A local broker answers at once; one across nodes or isolates
 * answers later. Callers written for the promise handle both, and the local fast path pays no
 * promise allocation and no microtask per push (a tenth of a pipelined push, measured).
 * @module
 */

/** `T`, or a promise of `T`. */
export type Awaitable<T> = T | Promise<T>;

/** Applies `next` to `value` now, or once its promise resolves. */
export function whenReady<T, U>(value: Awaitable<T>, next: (value: T) => U): Awaitable<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}
