/**
 * Splits a byte stream into `\n`-terminated lines with a hard cap on line length, so a peer that
 * never sends a newline costs at most `maxLineBytes` of memory.
 * @module
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** What one chunk of input gave. */
export interface LineChunk {
  /**
   * The complete lines, as one block of bytes where each line ends with its `\n` (a `\r` before
   * it is kept). One block rather than one array per line, so the caller can decode a whole read
   * with one call. Valid until the next `push`.
   */
  readonly block: Uint8Array;
  /** True when a line passed the cap: the lines before it are in `block`; stop reading. */
  readonly tooLong: boolean;
}

/** A line splitter with a byte cap; one per connection. */
export class LineReader {
  readonly #maxLineBytes: number;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;

  /** @param maxLineBytes Longest line accepted, newline and a `\r` before it excluded. */
  constructor(maxLineBytes: number) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(
        `Cannot create LineReader: maxLineBytes must be >= 1: current value is ${maxLineBytes}`,
      );
    }
    this.#maxLineBytes = maxLineBytes;
  }

  /** Bytes of an unfinished line held from earlier chunks. */
  get pendingBytes(): number {
    return this.#partialBytes;
  }

  /**
   * Feeds one chunk. The returned block may share memory with `chunk`, so use it before the
   * caller reuses its read buffer; the unfinished tail is copied.
   */
  push(chunk: Uint8Array): LineChunk {
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) break;
      const carried = start === 0 ? this.#partialBytes : 0;
      if (this.#isTooLong(carried + end - start, chunk, end)) {
        return { block: this.#takeLines(chunk, start), tooLong: true };
      }
      start = end + 1;
    }
    const block = this.#takeLines(chunk, start);
    const tail = chunk.length - start;
    if (tail > 0) {
      if (this.#partialBytes + tail > this.#maxLineBytes + 1) return { block, tooLong: true };
      this.#partial.push(chunk.slice(start));
      this.#partialBytes += tail;
    }
    return { block, tooLong: false };
  }

  /** Whether a line of `length` bytes ending at `chunk[newline]` passes the cap. */
  #isTooLong(length: number, chunk: Uint8Array, newline: number): boolean {
    if (length <= this.#maxLineBytes) return false;
    // One byte of slack for a `\r` before the newline; the cap applies without it.
    return length > this.#maxLineBytes + 1 || this.#byteBefore(chunk, newline) !== CARRIAGE_RETURN;
  }

  /** The byte before `chunk[index]`, looking into the held tail when `index` is 0. */
  #byteBefore(chunk: Uint8Array, index: number): number | undefined {
    if (index > 0) return chunk[index - 1];
    return this.#partial.at(-1)?.at(-1);
  }

  /** The held tail and `chunk[0, end)` as one block; the tail is dropped once taken. */
  #takeLines(chunk: Uint8Array, end: number): Uint8Array {
    if (this.#partialBytes === 0 || end === 0) return chunk.subarray(0, end);
    const block = new Uint8Array(this.#partialBytes + end);
    let offset = 0;
    for (const part of this.#partial) {
      block.set(part, offset);
      offset += part.length;
    }
    block.set(chunk.subarray(0, end), offset);
    this.#partial = [];
    this.#partialBytes = 0;
    return block;
  }
}
