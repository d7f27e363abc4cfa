/**
 * A lean HTTP/1.1 keep-alive client over one TCP connection, for the HTTP API figures only: one
 * request at a time, the answer read by its Content-Length. Deno's `fetch` cost the client
 * ~100 µs per request, so with it the figures measured the client more than Herald; this one
 * writes prebuilt bytes and scans the answer in place.
 */
import { writeAll } from "../../tests/support/write_all.ts";

const encoder = new TextEncoder();
const HEAD_END = [0x0d, 0x0a, 0x0d, 0x0a];
const CONTENT_LENGTH = "content-length:";

/** One keep-alive connection to 127.0.0.1. */
export class HttpClient implements Disposable {
  readonly #conn: Deno.TcpConn;
  readonly #host: string;
  #buf = new Uint8Array(64 * 1024);
  #len = 0;

  private constructor(conn: Deno.TcpConn, port: number) {
    this.#conn = conn;
    this.#host = `127.0.0.1:${port}`;
  }

  static async connect(port: number): Promise<HttpClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new HttpClient(conn, port);
  }

  /** The bytes of a request, built once and sent as often as wanted. */
  request(method: string, path: string, headers: Record<string, string>, body = ""): Uint8Array {
    const content = encoder.encode(body);
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    if (method !== "GET") head += `content-length: ${content.length}\r\n`;
    const bytes = encoder.encode(head + "\r\n");
    const whole = new Uint8Array(bytes.length + content.length);
    whole.set(bytes);
    whole.set(content, bytes.length);
    return whole;
  }

  /** Sends `request` and resolves with the answer's status once its body is read. */
  async send(request: Uint8Array): Promise<number> {
    await writeAll(this.#conn, request);
    for (;;) {
      const answer = this.#parse();
      if (answer !== undefined) return answer;
      if (this.#len === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      const read = await this.#conn.read(this.#buf.subarray(this.#len));
      if (read === null) throw new Error("The server closed the connection");
      this.#len += read;
    }
  }

  /** The status of a complete answer at the start of the buffer, consuming it; else undefined. */
  #parse(): number | undefined {
    const buf = this.#buf;
    let end = -1;
    for (let i = 0; i + 3 < this.#len; i++) {
      if (
        buf[i] === HEAD_END[0] && buf[i + 1] === HEAD_END[1] && buf[i + 2] === HEAD_END[2] &&
        buf[i + 3] === HEAD_END[3]
      ) {
        end = i + 4;
        break;
      }
    }
    if (end === -1) return undefined;
    const head = new TextDecoder().decode(buf.subarray(0, end)).toLowerCase();
    if (head.includes("transfer-encoding:")) {
      throw new Error("Cannot read a chunked answer: this client reads by Content-Length only");
    }
    const status = Number(head.slice(9, 12));
    const at = head.indexOf(CONTENT_LENGTH);
    const length = at === -1 ? 0 : parseInt(head.slice(at + CONTENT_LENGTH.length), 10);
    if (this.#len < end + length) return undefined;
    buf.copyWithin(0, end + length, this.#len);
    this.#len -= end + length;
    return status;
  }

  [Symbol.dispose](): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}
