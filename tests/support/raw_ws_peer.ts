/**
 * A WebSocket peer at the TCP level, for what a well-behaved client cannot do: never read, never
 * answer pings, send raw frames or raw handshakes. The opening handshake and the client frame
 * encoding are shared with the bench's load client (`scripts/bench/ws_client.ts`).
 * @module
 */
import { within } from "./wait.ts";
import { writeAll } from "./write_all.ts";

/** The status line and headers of the server's answer to a handshake. */
export interface HandshakeAnswer {
  /** The status code; NaN when the server closed the connection before answering. */
  readonly status: number;
  readonly head: string;
}

/** Options of {@linkcode upgrade} and {@linkcode RawWsPeer.handshake}. */
export interface UpgradeOptions {
  /** @default {"/"} */
  readonly path?: string;
  /** Headers added to the request, e.g. `Origin` or `X-Forwarded-For`. */
  readonly headers?: Record<string, string>;
  /** How long to wait for the answer's head. @default {5000} */
  readonly timeoutMs?: number;
}

const HEAD_END = new TextEncoder().encode("\r\n\r\n");
const MAX_HEAD_BYTES = 16 * 1024;

/**
 * Sends a WebSocket opening handshake on `conn` (connected to 127.0.0.1:`port`) and reads the
 * answer's head; `rest` holds the bytes that came after it, the start of the first frames.
 */
export async function upgrade(
  conn: Deno.Conn,
  port: number,
  { path = "/", headers = {}, timeoutMs = 5000 }: UpgradeOptions = {},
): Promise<{ answer: HandshakeAnswer; rest: Uint8Array }> {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  await writeAll(conn, new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
  const { head, rest } = await readHead(conn, timeoutMs);
  return { answer: { status: Number(head.split(" ")[1]), head }, rest };
}

/**
 * Reads an HTTP head up to its blank line, or all there is when the peer closes first; `rest`
 * holds the bytes read past the head.
 */
export async function readHead(
  conn: Deno.Conn,
  timeoutMs = 5000,
): Promise<{ head: string; rest: Uint8Array }> {
  const buffer = new Uint8Array(MAX_HEAD_BYTES);
  let length = 0;
  let end = -1;
  while (end < 0 && length < buffer.length) {
    const read = await within(timeoutMs, conn.read(buffer.subarray(length)), "an HTTP head");
    if (read === null) break;
    length += read;
    end = indexOf(buffer.subarray(0, length), HEAD_END);
  }
  const headLength = end < 0 ? length : end + HEAD_END.length;
  return {
    head: new TextDecoder().decode(buffer.subarray(0, headLength)),
    rest: buffer.slice(headLength, length),
  };
}

/** A TCP connection that speaks just enough WebSocket for tests. */
export class RawWsPeer implements Disposable {
  readonly conn: Deno.TcpConn;
  /** The server's answer to the handshake. */
  readonly answer: HandshakeAnswer;
  readonly #frames = new FrameScanner();

  private constructor(conn: Deno.TcpConn, answer: HandshakeAnswer, rest: Uint8Array) {
    this.conn = conn;
    this.answer = answer;
    this.#frames.push(rest);
  }

  /** Connects to 127.0.0.1:`port` and sends a handshake; the answer may be any status. */
  static async handshake(port: number, options: UpgradeOptions = {}): Promise<RawWsPeer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const { answer, rest } = await upgrade(conn, port, options);
      return new RawWsPeer(conn, answer, rest);
    } catch (error) {
      conn.close();
      throw error;
    }
  }

  /** Writes bytes as they are. */
  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Sends one masked text frame, as a browser would. */
  sendText(text: string): Promise<void> {
    return this.write(maskedFrame(0x1, new TextEncoder().encode(text)));
  }

  /**
   * Reads until the server sends a close frame or closes the TCP connection, and returns the
   * close code (undefined when the connection ended without one). The server may keep the TCP
   * connection open after its close frame, waiting for ours, so the frame is what counts.
   */
  async readCloseCode(ms = 10_000): Promise<number | undefined> {
    const buffer = new Uint8Array(64 * 1024);
    while (this.#frames.closeCode === undefined) {
      const read = await within(ms, this.conn.read(buffer), "a close frame");
      if (read === null) break;
      this.#frames.push(buffer.subarray(0, read));
    }
    return this.#frames.closeCode;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** A client frame: the given opcode and FIN bit, masked with a fixed key (any key will do). */
export function maskedFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const mask = [0x12, 0x34, 0x56, 0x78];
  const length = payload.length;
  const header: number[] = [(fin ? 0x80 : 0) | opcode];
  if (length < 126) header.push(0x80 | length);
  else if (length < 65536) header.push(0x80 | 126, length >> 8, length & 0xff);
  else {
    header.push(0x80 | 127, 0, 0, 0, 0);
    header.push(
      (length >>> 24) & 0xff,
      (length >>> 16) & 0xff,
      (length >>> 8) & 0xff,
      length & 0xff,
    );
  }
  const frame = new Uint8Array(header.length + 4 + length);
  frame.set(header);
  frame.set(mask, header.length);
  for (let i = 0; i < length; i++) frame[header.length + 4 + i] = payload[i]! ^ mask[i % 4]!;
  return frame;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Walks server frames as bytes arrive, keeping only the bytes of the frame under way. */
class FrameScanner {
  closeCode: number | undefined;
  #pending = new Uint8Array(0);
  #skip = 0;

  push(bytes: Uint8Array): void {
    if (this.#skip >= bytes.length) {
      this.#skip -= bytes.length;
      return;
    }
    bytes = bytes.subarray(this.#skip);
    this.#skip = 0;
    const joined = new Uint8Array(this.#pending.length + bytes.length);
    joined.set(this.#pending);
    joined.set(bytes, this.#pending.length);
    let offset = 0;
    while (offset + 2 <= joined.length) {
      const opcode = joined[offset]! & 0x0f;
      let length = joined[offset + 1]! & 0x7f;
      let start = offset + 2;
      if (length === 126) {
        if (start + 2 > joined.length) break;
        length = (joined[start]! << 8) | joined[start + 1]!;
        start += 2;
      } else if (length === 127) {
        if (start + 8 > joined.length) break;
        length = Number(new DataView(joined.buffer, start, 8).getBigUint64(0));
        start += 8;
      }
      if (opcode === 0x8) {
        if (start + 2 > joined.length) break;
        this.closeCode = (joined[start]! << 8) | joined[start + 1]!;
        return;
      }
      if (start + length > joined.length) {
        this.#skip = start + length - joined.length;
        offset = joined.length;
        break;
      }
      offset = start + length;
    }
    this.#pending = joined.slice(offset);
  }
}
