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

  /** Reads until the server closes; returns every byte it sent. */
  async readToEnd(ms = 10_000): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const read = await within(ms, this.conn.read(buffer), "the server to close");
      if (read === null) break;
      chunks.push(buffer.slice(0, read));
    }
    const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
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

/** The close code of the last close frame (opcode 8) in a server byte stream, if any. */
export function closeCodeIn(stream: Uint8Array): number | undefined {
  let offset = 0;
  let code: number | undefined;
  while (offset + 2 <= stream.length) {
    const opcode = stream[offset]! & 0x0f;
    let length = stream[offset + 1]! & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = (stream[offset + 2]! << 8) | stream[offset + 3]!;
      start += 2;
    } else if (length === 127) {
      length = Number(
        new DataView(stream.buffer, stream.byteOffset + offset + 2, 8).getBigUint64(0),
      );
      start += 8;
    }
    if (opcode === 0x8 && length >= 2) code = (stream[start]! << 8) | stream[start + 1]!;
    offset = start + length;
  }
  return code;
}
