/**
 * A value now or a promise of it. A local broker answers at once; one across nodes or isolates
 * answers later. Callers check `instanceof Promise` and continue at once otherwise, so the local
 * fast path pays no promise, closure or microtask per push (measured in docs/benchmarks.md).
 * @module
 */

/** `T`, or a promise of `T`. */
export type Awaitable<T> = T | Promise<T>;
