/**
 * Splits a byte stream into `\n`-terminated lines with a hard cap on line length, so a peer that
 * never sends a newline costs at most `maxLineBytes` of memory.
 * @module
 */

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** What one chunk of input gave. */
export interface LineChunk {
  /** Complete lines, newline and a trailing `\r` removed. Valid until the next `push`. */
  readonly lines: Uint8Array[];
  /** True when a line passed the cap: the lines before it are in `lines`; stop reading. */
  readonly tooLong: boolean;
}

/** A line splitter with a byte cap; one per connection. */
export class LineReader {
  readonly #maxLineBytes: number;
  #partial: Uint8Array[] = [];
  #partialBytes = 0;

  /** @param maxLineBytes Longest line accepted, newline excluded. */
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
   * Feeds one chunk. Returned lines may share memory with `chunk`, so use them before the
   * caller reuses its read buffer; the unfinished tail is copied.
   */
  push(chunk: Uint8Array): LineChunk {
    const lines: Uint8Array[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) break;
      // One byte of slack for a `\r` before the newline; the cap applies after stripping it.
      if (this.#partialBytes + end - start > this.#maxLineBytes + 1) {
        return { lines, tooLong: true };
      }
      const line = stripCarriageReturn(this.#join(chunk.subarray(start, end)));
      if (line.length > this.#maxLineBytes) return { lines, tooLong: true };
      lines.push(line);
      start = end + 1;
    }
    const tail = chunk.length - start;
    if (tail > 0) {
      if (this.#partialBytes + tail > this.#maxLineBytes + 1) return { lines, tooLong: true };
      this.#partial.push(chunk.slice(start));
      this.#partialBytes += tail;
    }
    return { lines, tooLong: false };
  }

  #join(last: Uint8Array): Uint8Array {
    if (this.#partialBytes === 0) return last;
    const line = new Uint8Array(this.#partialBytes + last.length);
    let offset = 0;
    for (const part of this.#partial) {
      line.set(part, offset);
      offset += part.length;
    }
    line.set(last, offset);
    this.#partial = [];
    this.#partialBytes = 0;
    return line;
  }
}

function stripCarriageReturn(line: Uint8Array): Uint8Array {
  return line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN ? line.subarray(0, -1) : line;
}
