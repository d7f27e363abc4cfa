/**
 * A WebSocket client at the TCP level, for what a well-behaved client cannot do: never read,
 * never answer pings, send raw frames or raw handshakes.
 * @module
 */
import { within } from "./helpers.ts";

/** The status line and headers of the server's answer to a handshake. */
export interface HandshakeAnswer {
  readonly status: number;
  readonly head: string;
}

/** A TCP connection that speaks just enough WebSocket for tests. */
export class RawWsClient implements Disposable {
  readonly conn: Deno.TcpConn;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects and sends a handshake with `headers` added; returns the client and the answer. */
  static async handshake(
    port: number,
    { path = "/", headers = {} }: { path?: string; headers?: Record<string, string> } = {},
  ): Promise<{ client: RawWsClient; answer: HandshakeAnswer }> {
    const client = new RawWsClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    await client.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const head = await client.#readHead();
    const status = Number(head.split(" ")[1]);
    return { client, answer: { status, head } };
  }

  /** Writes bytes as they are. */
  async write(bytes: Uint8Array): Promise<void> {
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
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
    const stream = new FrameScanner();
    const buffer = new Uint8Array(64 * 1024);
    while (stream.closeCode === undefined) {
      const read = await within(ms, this.conn.read(buffer), "a close frame");
      if (read === null) break;
      stream.push(buffer.subarray(0, read));
    }
    return stream.closeCode;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  async #readHead(): Promise<string> {
    let head = "";
    const byte = new Uint8Array(1);
    // One byte at a time so no frame bytes after the head are consumed.
    while (!head.endsWith("\r\n\r\n")) {
      const read = await within(5000, this.conn.read(byte), "the handshake answer");
      if (read === null) break;
      head += String.fromCharCode(byte[0]!);
    }
    return head;
  }
}

/** A client frame: FIN set, the given opcode, masked with a fixed key. */
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
