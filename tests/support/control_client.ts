/**
 * A backend-like client of Herald's control port: write lines, read reply lines. Tests drive
 * Herald with it, and the stress run asks it for `stats`. The bench's load generator keeps its
 * own (`scripts/bench/control.ts`), which counts replies without decoding them.
 * @module
 */
import { LineReader } from "../../src/control/line_reader.ts";
import { within } from "./wait.ts";
import { writeAll } from "./write_all.ts";

/** One TCP connection to a control port. */
export class ControlClient implements Disposable {
  readonly conn: Deno.TcpConn;
  readonly #lines = new LineReader(64 * 1024 * 1024);
  readonly #decoder = new TextDecoder();
  readonly #queued: string[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to the control port at `addr` (a port number means 127.0.0.1). */
  static async connect(addr: Deno.NetAddr | number): Promise<ControlClient> {
    const port = typeof addr === "number" ? addr : addr.port;
    return new ControlClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes raw text or bytes as they are. */
  write(data: string | Uint8Array): Promise<void> {
    return writeAll(this.conn, typeof data === "string" ? new TextEncoder().encode(data) : data);
  }

  /** Sends one request line and returns its reply line. */
  async request(request: string | Record<string, unknown>): Promise<string> {
    await this.write((typeof request === "string" ? request : JSON.stringify(request)) + "\n");
    const reply = await this.readLine();
    if (reply === null) throw new Error("The control port closed without a reply");
    return reply;
  }

  /** Sends a query and parses its JSON reply. */
  async query(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    return JSON.parse(await this.request(request));
  }

  /** The next reply line, or null once the server has closed the connection. */
  async readLine(ms = 5000): Promise<string | null> {
    while (this.#queued.length === 0 && !this.#ended) {
      const read = await within(ms, this.conn.read(this.#buffer), "a reply line");
      if (read === null) {
        this.#ended = true;
        break;
      }
      for (const block of this.#lines.push(this.#buffer.subarray(0, read)).blocks) {
        this.#queued.push(...this.#decoder.decode(block).split("\n").slice(0, -1));
      }
    }
    return this.#queued.shift() ?? null;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** Opens a connection, sends one query, and returns its parsed reply. */
export async function controlQuery(
  addr: Deno.NetAddr | number,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  using client = await ControlClient.connect(addr);
  return await client.query(request);
}
