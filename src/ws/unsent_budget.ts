/**
 * The process-wide bound on data queued for WebSockets: each socket has its own bound, and this
 * one caps their sum, so many slow readers together cannot exhaust memory either.
 * @module
 */

/** A socket as the budget sees it. */
export interface UnsentHolder {
  /** Bytes it holds now, measured afresh. */
  measure(): number;
  /** Closes it as a slow reader; a holder closed already is left alone. */
  shed(): void;
}

/** Sums what every socket holds and sheds the largest holders when the sum passes the cap. */
export class UnsentBudget {
  readonly #maxBytes: number;
  readonly #held = new Map<UnsentHolder, number>();
  #total = 0;

  /** @param maxBytes The cap on the sum. */
  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(
        `Cannot create UnsentBudget: maxBytes must be >= 1: current value is ${maxBytes}`,
      );
    }
    this.#maxBytes = maxBytes;
  }

  /** The sum as last reported; an upper bound until {@linkcode enforce} measures afresh. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Records what `holder` holds now, and enforces the cap when the sum passes it. */
  report(holder: UnsentHolder, bytes: number): void {
    this.#total += bytes - (this.#held.get(holder) ?? 0);
    this.#held.set(holder, bytes);
    if (this.#total > this.#maxBytes) this.enforce();
  }

  /** Stops counting `holder`: its socket is gone and so is its memory. */
  forget(holder: UnsentHolder): void {
    this.#total -= this.#held.get(holder) ?? 0;
    this.#held.delete(holder);
  }

  /**
   * Measures every holder afresh (figures only ever overstate: sent data is noticed late) and,
   * while the sum is still over the cap, sheds the largest open holders until it is at 90 %,
   * so one overflow costs one pass over the sockets, not one per push.
   */
  enforce(): void {
    this.#total = 0;
    for (const holder of this.#held.keys()) {
      const bytes = holder.measure();
      this.#held.set(holder, bytes);
      this.#total += bytes;
    }
    if (this.#total <= this.#maxBytes) return;
    const target = Math.floor(this.#maxBytes * 0.9);
    // Shed holders stay counted until their sockets are released (within the close timeout),
    // but for choosing whom to shed their memory is already on its way out.
    let remaining = this.#total;
    const largestFirst = [...this.#held].sort((a, b) => b[1] - a[1]);
    for (const [holder, bytes] of largestFirst) {
      if (remaining <= target) break;
      holder.shed();
      remaining -= bytes;
    }
  }
}
