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
   * The complete lines, as blocks of bytes where each line ends with its `\n` (a `\r` before it
   * is kept): blocks rather than one array per line, so the caller can decode a read with one
   * call per block. At most two: the line that earlier chunks began, joined, then the lines of
   * this chunk, which share its memory. Valid until the next `push`.
   */
  readonly blocks: Uint8Array[];
  /** True when a line passed the cap: the lines before it are in `blocks`; stop reading. */
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
   * Feeds one chunk. The returned blocks may share memory with `chunk`, so use them before the
   * caller reuses its read buffer; the unfinished tail is copied.
   */
  push(chunk: Uint8Array): LineChunk {
    const blocks: Uint8Array[] = [];
    // When even the held tail and the whole chunk together fit the cap, no line can pass it:
    // only the last newline matters, not each one (the common case, and a tenth of a push).
    const end = this.#partialBytes + chunk.length <= this.#maxLineBytes
      ? this.#takeLines(chunk, chunk.lastIndexOf(NEWLINE) + 1, blocks)
      : this.#takeCheckedLines(chunk, blocks);
    if (end === undefined) return { blocks, tooLong: true };
    const tail = chunk.length - end;
    if (tail > 0) {
      if (this.#partialBytes + tail > this.#maxLineBytes + 1) return { blocks, tooLong: true };
      this.#partial.push(chunk.slice(end));
      this.#partialBytes += tail;
    }
    return { blocks, tooLong: false };
  }

  /**
   * Adds the lines of `chunk[0, end)` to `blocks`: the line the held tail began, joined into a
   * copy, then the rest as a view of `chunk`. Returns `end`.
   */
  #takeLines(chunk: Uint8Array, end: number, blocks: Uint8Array[]): number {
    if (end === 0) return 0;
    let start = 0;
    if (this.#partialBytes > 0) {
      start = chunk.indexOf(NEWLINE) + 1;
      blocks.push(this.#joinTail(chunk.subarray(0, start)));
    }
    if (end > start) blocks.push(chunk.subarray(start, end));
    return end;
  }

  /**
   * Like {@linkcode LineReader.#takeLines} up to the last newline, checking every line against
   * the cap; undefined when one passes it, after taking the lines before it.
   */
  #takeCheckedLines(chunk: Uint8Array, blocks: Uint8Array[]): number | undefined {
    let end = 0;
    while (end < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, end);
      if (newline === -1) break;
      const carried = end === 0 ? this.#partialBytes : 0;
      if (this.#isTooLong(carried + newline - end, chunk, newline)) {
        this.#takeLines(chunk, end, blocks);
        return undefined;
      }
      end = newline + 1;
    }
    return this.#takeLines(chunk, end, blocks);
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

  /** The held tail followed by `end`, the rest of its line, as one block; the tail is dropped. */
  #joinTail(end: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.#partialBytes + end.length);
    let offset = 0;
    for (const part of this.#partial) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(end, offset);
    this.#partial = [];
    this.#partialBytes = 0;
    return line;
  }
}
