/**
 * A lean WebSocket client over a raw TCP connection, for the load generator only.
 *
 * The built-in `WebSocket` costs the client ~25 µs per received message at 10k connections,
 * which made the client, not the server, the bottleneck of the broadcast figure. This client
 * reads whole chunks and walks the frames in place, so a backlog of frames costs one read.
 * It speaks enough RFC 6455 for the benchmark: handshake, masked text frames out, unmasked
 * frames in (text, binary, ping answered with pong, close), no extensions, no fragmentation
 * of outgoing frames. Incoming continuation frames are counted as messages. The handshake and
 * the outgoing frames are the test suite's raw peer's (`tests/support/raw_ws_peer.ts`); the
 * receiving loop is this client's own, because it is the hot path the figure measures.
 */

import { maskedFrame, upgrade } from "../../tests/support/raw_ws_peer.ts";
import { writeAll } from "../../tests/support/write_all.ts";

const encoder = new TextEncoder();
const INITIAL_BUFFER = 4 * 1024;
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** Options of {@linkcode WsClient.connect}. */
export interface WsClientOptions {
  /** Port of the WebSocket server on 127.0.0.1. */
  port: number;
  /** Called for every text frame with the frame's payload (a view valid during the call). */
  onText?: (client: WsClient, payload: Uint8Array) => void;
  /** Called once when the connection ends, whoever closed it. */
  onClose?: (client: WsClient) => void;
  /** Extra handshake headers, e.g. `Sec-WebSocket-Protocol: herald.v1`. */
  headers?: Record<string, string>;
}

/** One benchmark WebSocket connection. */
export class WsClient {
  /** Text frames received so far. */
  received = 0;
  /** Close code sent by the server, 1006 when the TCP connection ended without one. */
  closeCode: number | undefined;
  #conn: Deno.TcpConn;
  #opts: WsClientOptions;
  #buf: Uint8Array;
  #len = 0;
  #closed = false;
  #closeSent = false;

  private constructor(conn: Deno.TcpConn, opts: WsClientOptions, rest: Uint8Array) {
    this.#conn = conn;
    this.#opts = opts;
    this.#buf = new Uint8Array(Math.max(INITIAL_BUFFER, rest.length * 2));
    this.#buf.set(rest);
    this.#len = rest.length;
  }

  /** Opens a connection and completes the opening handshake; frames start flowing after. */
  static async connect(opts: WsClientOptions): Promise<WsClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.port });
    try {
      conn.setNoDelay(true);
      const { answer, rest } = await upgrade(conn, opts.port, {
        timeoutMs: HANDSHAKE_TIMEOUT_MS,
        headers: opts.headers,
      });
      if (answer.status !== 101) {
        throw new Error(`Cannot open WebSocket: server answered ${answer.head.split("\r\n")[0]}`);
      }
      const client = new WsClient(conn, opts, rest);
      client.#readLoop();
      return client;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one masked text frame; resolves when the bytes are handed to the kernel. */
  sendText(text: string): Promise<void> {
    return this.#sendFrame(0x1, encoder.encode(text));
  }

  /** Starts the closing handshake (code 1000); `onClose` fires when the server ends it. */
  close(): void {
    if (this.#closed || this.#closeSent) return;
    this.#closeSent = true;
    this.#sendFrame(0x8, new Uint8Array([0x03, 0xe8])).catch(() => this.#end(1006));
  }

  #sendFrame(opcode: number, payload: Uint8Array): Promise<void> {
    return writeAll(this.#conn, maskedFrame(opcode, payload));
  }

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        this.#parse();
        if (this.#closed) break;
        if (this.#len === this.#buf.length) {
          const bigger = new Uint8Array(this.#buf.length * 2);
          bigger.set(this.#buf);
          this.#buf = bigger;
        }
        const n = await this.#conn.read(this.#buf.subarray(this.#len));
        if (n === null) break;
        this.#len += n;
      }
    } catch {
      // Reset by peer or closed locally: reported through onClose below.
    }
    this.#end(1006);
  }

  /** Consumes every complete frame in the buffer and keeps the incomplete tail. */
  #parse(): void {
    const buf = this.#buf;
    let off = 0;
    while (this.#len - off >= 2) {
      const b0 = buf[off]!;
      let len = buf[off + 1]! & 0x7f;
      let head = 2;
      if (len === 126) {
        if (this.#len - off < 4) break;
        len = (buf[off + 2]! << 8) | buf[off + 3]!;
        head = 4;
      } else if (len === 127) {
        if (this.#len - off < 10) break;
        len = Number(new DataView(buf.buffer, buf.byteOffset + off + 2, 8).getBigUint64(0));
        head = 10;
      }
      if (this.#len - off < head + len) {
        if (head + len > buf.length) this.#grow(head + len);
        break;
      }
      const payload = buf.subarray(off + head, off + head + len);
      off += head + len;
      const opcode = b0 & 0x0f;
      if (opcode === 0x1 || opcode === 0x0) {
        this.received++;
        this.#opts.onText?.(this, payload);
      } else if (opcode === 0x9) {
        this.#sendFrame(0xa, payload.slice()).catch(() => {});
      } else if (opcode === 0x8) {
        const code = len >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
        if (this.#closeSent) {
          this.#end(code);
        } else {
          this.#closeSent = true;
          this.#sendFrame(0x8, payload.slice(0, 2)).catch(() => {}).finally(() => this.#end(code));
        }
        break;
      }
    }
    if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
  }

  #grow(size: number): void {
    let cap = this.#buf.length;
    while (cap < size) cap *= 2;
    const bigger = new Uint8Array(cap);
    bigger.set(this.#buf.subarray(0, this.#len));
    this.#buf = bigger;
  }

  #end(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeCode = code;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#opts.onClose?.(this);
  }
}
