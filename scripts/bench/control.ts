/**
 * A control-port client for the load generator: pipelined writes, and a reader that counts
 * reply lines without decoding them. Not the tests' `ControlClient`: that one decodes and queues
 * every reply line, which at a million replies a second would make the client the bottleneck.
 */
import { writeAll } from "../../tests/support/write_all.ts";
import { Counter } from "./counter.ts";

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
const LETTER_O = 0x6f;

/** One TCP connection to a control port on 127.0.0.1. */
export class ControlConn {
  /** Reply lines read so far. */
  readonly replies = new Counter();
  /** Reply lines that did not start with `ok` (`fail`, errors, JSON). */
  notOk = 0;
  #conn: Deno.TcpConn;
  #queued: string[] = [];
  #flushing = false;
  #done: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#done = this.#readLoop();
  }

  /** Connects to the control port. */
  static async open(port: number): Promise<ControlConn> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new ControlConn(conn);
  }

  /** Writes bytes now; resolves when the kernel has taken them all. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.#conn, bytes);
  }

  /** Queues one line (with its `\n`); queued lines are coalesced into as few writes as possible. */
  queue(line: string): void {
    this.#queued.push(line);
    if (!this.#flushing) this.#flush();
  }

  /** Resolves when the server has closed the connection or `close()` was called. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queued.length > 0) {
        const text = this.#queued.join("");
        this.#queued = [];
        await writeAll(this.#conn, encoder.encode(text));
      }
    } catch {
      // Connection gone: the reader reports it through `done`.
    } finally {
      this.#flushing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let atLineStart = true;
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        let lines = 0;
        for (let i = 0; i < n; i++) {
          const b = buf[i];
          if (atLineStart && b !== LETTER_O) this.notOk++;
          atLineStart = b === NEWLINE;
          if (atLineStart) lines++;
        }
        if (lines > 0) this.replies.add(lines);
      }
    } catch {
      // Closed locally or reset: the caller sees it through the counters.
    }
  }
}
