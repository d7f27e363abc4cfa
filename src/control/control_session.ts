/**
 * One control connection's protocol, without the socket: bytes in, reply text out. However the
 * peer's stream is cut into chunks, the replies are the same, byte for byte.
 * @module
 */
import type { Awaitable } from "../awaitable.ts";
import type { ControlError } from "../errors.ts";
import { LineReader } from "./line_reader.ts";
import { formatError } from "./reply.ts";

/** Options of {@linkcode ControlSession}. */
export interface ControlSessionOptions {
  /** Longest request line in bytes; a longer one is answered `line_too_long` and ends the session. */
  readonly maxLineBytes: number;
  /** The reply line (no newline) to one decoded, non-blank request line. Must not reject. */
  readonly answer: (line: string) => Awaitable<string>;
  /**
   * When set, the first line must be `{"auth":"<secret>"}` with a secret this accepts, or the
   * session ends `unauthorized`. It must compare in constant time.
   */
  readonly checkSecret?: (secret: string) => boolean;
}

/** Why a session ended on its own. */
export type ControlSessionEnd = "line_too_long" | "unauthorized";

/** What one chunk of input gave. */
export interface ControlOutput {
  /** Reply lines, each with its newline; empty when there is nothing to write. */
  readonly replies: string;
  /** Complete lines consumed, blank ones included. */
  readonly lines: number;
  /** Set when the session ended: write `replies`, then close. Later input is ignored. */
  readonly end?: ControlSessionEnd;
}

const UNAUTHORIZED: ControlError = {
  code: "unauthorized",
  message: 'Cannot accept requests: the first line must be {"auth":"<control secret>"}',
};
const WRONG_SECRET: ControlError = {
  code: "unauthorized",
  message: "Cannot accept requests: wrong control secret",
};
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** Some editors and scripts start their output with one; it is not JSON whitespace. */
const BYTE_ORDER_MARK = 0xfeff;
const NOT_UTF8: ControlError = { code: "bad_encoding", message: "Cannot read line: not UTF-8" };

/** The line protocol of one control connection. */
export class ControlSession {
  readonly #options: ControlSessionOptions;
  readonly #lines: LineReader;
  /** A BOM is dropped per line below, not only at the start of a block. */
  readonly #decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  #authorized: boolean;
  #ended: ControlSessionEnd | undefined;

  constructor(options: ControlSessionOptions) {
    this.#options = options;
    this.#lines = new LineReader(options.maxLineBytes);
    this.#authorized = options.checkSecret === undefined;
  }

  /** Bytes of an unfinished line held; at most `maxLineBytes + 1`. */
  get pendingBytes(): number {
    return this.#ended === undefined ? this.#lines.pendingBytes : 0;
  }

  /** Why the session ended, or undefined while it runs. */
  get ended(): ControlSessionEnd | undefined {
    return this.#ended;
  }

  /**
   * Feeds one chunk of the peer's bytes and answers its lines one after another, in order: a
   * line runs only once the one before it is done. The chunk may be reused once this resolves.
   */
  async push(chunk: Uint8Array): Promise<ControlOutput> {
    if (this.#ended !== undefined) return { replies: "", lines: 0, end: this.#ended };
    const { blocks, tooLong } = this.#lines.push(chunk);
    let replies = "";
    let consumed = 0;
    for (const block of blocks) {
      for (let line of this.#decodeLines(block)) {
        consumed++;
        if (line === undefined) {
          replies += formatError(NOT_UTF8) + "\n";
          continue;
        }
        if (line.charCodeAt(line.length - 1) === CARRIAGE_RETURN) line = line.slice(0, -1);
        if (line.charCodeAt(0) === BYTE_ORDER_MARK) line = line.slice(1);
        if (line.trim() === "") continue;
        if (!this.#authorized) {
          const refusal = this.#refusal(line);
          if (refusal !== undefined) {
            this.#ended = "unauthorized";
            return {
              replies: replies + formatError(refusal) + "\n",
              lines: consumed,
              end: "unauthorized",
            };
          }
          this.#authorized = true;
          replies += "ok\n";
          continue;
        }
        const reply = this.#options.answer(line);
        replies += (typeof reply === "string" ? reply : await reply) + "\n";
      }
    }
    if (tooLong) {
      this.#ended = "line_too_long";
      replies += formatError({
        code: "line_too_long",
        message: `Cannot read line: longer than --max-line-bytes (${this.#options.maxLineBytes})`,
      }) + "\n";
      return { replies, lines: consumed, end: this.#ended };
    }
    return { replies, lines: consumed };
  }

  /** Why the first line does not authorize the session, or undefined when it does. */
  #refusal(line: string): ControlError | undefined {
    let secret: unknown;
    try {
      secret = (JSON.parse(line) as { auth?: unknown } | null)?.auth;
    } catch {
      return UNAUTHORIZED;
    }
    if (typeof secret !== "string") return UNAUTHORIZED;
    return this.#options.checkSecret!(secret) ? undefined : WRONG_SECRET;
  }

  /**
   * The lines of a block, each decoded, or undefined where a line is not UTF-8. One decode for
   * the whole block: per line, the decoder call cost more than the rest of a push's parsing.
   */
  #decodeLines(block: Uint8Array): (string | undefined)[] {
    try {
      const lines = this.#decoder.decode(block).split("\n");
      lines.pop(); // The block ends with a newline: nothing follows it.
      return lines;
    } catch {
      // Some line is not UTF-8: decode line by line to answer each one for itself.
      const lines: (string | undefined)[] = [];
      for (let start = 0; start < block.length;) {
        const end = block.indexOf(NEWLINE, start);
        try {
          lines.push(this.#decoder.decode(block.subarray(start, end)));
        } catch {
          lines.push(undefined);
        }
        start = end + 1;
      }
      return lines;
    }
  }
}
