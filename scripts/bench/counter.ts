/** A counter one task can wait on. */
export class Counter {
  /** Current value. */
  value = 0;
  #target = Infinity;
  #resolve: ((reached: boolean) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Adds `n` and wakes the waiter once its target is reached. */
  add(n = 1): void {
    this.value += n;
    if (this.value >= this.#target) this.#wake(true);
  }

  /**
   * Resolves `true` once the value is at least `target`, or `false` after `timeoutMs`.
   * There is one waiter at a time: a new wait replaces (and fails) the previous one.
   */
  waitFor(target: number, timeoutMs: number): Promise<boolean> {
    if (this.value >= target) return Promise.resolve(true);
    this.#wake(false);
    return new Promise((resolve) => {
      this.#target = target;
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.#wake(false), timeoutMs);
    });
  }

  #wake(reached: boolean): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    this.#target = Infinity;
    clearTimeout(this.#timer);
    resolve(reached);
  }
}
