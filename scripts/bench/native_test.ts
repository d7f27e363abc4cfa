import { ControlClient } from "../../tests/support/control_client.ts";
import { freePort } from "../../tests/support/ports.ts";
import { ServerProcess } from "../../tests/support/server_process.ts";
import { eventually } from "../../tests/support/wait.ts";
import { writeAll } from "../../tests/support/write_all.ts";
import { buildBroadcastReceiver, NativeReceiver } from "./native.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function assertEquals<T>(actual: T, expected: T): void {
  if (actual !== expected) throw new Error(`Expected ${expected}, got ${actual}`);
}

async function assertRejects(fn: () => Promise<unknown>, includes: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const message = (err as Error).message;
    if (message.includes(includes)) return;
    throw new Error(`Expected an error with "${includes}", got "${message}"`);
  }
  throw new Error(`Expected an error with "${includes}", got none`);
}

/** The compiled receiver; gcc is a build dependency of the bench, like php-cli of the tests. */
async function receiverPath(): Promise<string> {
  const build = await buildBroadcastReceiver();
  if (!build.ok) {
    throw new Error(
      `Cannot test the native broadcast receiver: ${build.reason}. ` +
        "Install the bench's tools: deno run -A scripts/ensure_test_tools.ts --bench",
    );
  }
  return build.path;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The benchmark's reference server as a subprocess on free ports. */
function startReferenceServer(): Promise<ServerProcess> {
  return ServerProcess.start({
    command: [
      Deno.execPath(),
      "run",
      "--allow-net",
      new URL("./reference_server.ts", import.meta.url).pathname,
    ],
    wsPort: freePort(),
    controlPort: freePort(),
    readyTimeoutMs: 30_000,
  });
}

/** One unmasked server frame; the length takes 7, 16 or 64 bits as the payload needs. */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + len);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (head === 2) {
    frame[1] = len;
  } else if (head === 4) {
    frame[1] = 126;
    new DataView(frame.buffer).setUint16(2, len);
  } else {
    frame[1] = 127;
    new DataView(frame.buffer).setBigUint64(2, BigInt(len));
  }
  frame.set(payload, head);
  return frame;
}

/** The server end of one crafted-bytes WebSocket: reads the client's masked frames. */
class CraftedPeer {
  #buf = new Uint8Array(0);

  constructor(readonly conn: Deno.Conn) {}

  /** Reads the upgrade request and answers 101 with the given (or the right) accept value. */
  async handshake(accept?: string): Promise<void> {
    let text = "";
    while (!text.includes("\r\n\r\n")) text += decoder.decode(await this.#read());
    const key = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(text)?.[1] ?? "";
    const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + WS_GUID));
    const right = btoa(String.fromCharCode(...new Uint8Array(digest)));
    await this.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept ?? right}\r\n\r\n`,
    ));
  }

  /** The next client frame, unmasked; the client must mask every frame. */
  async readFrame(): Promise<{ opcode: number; payload: Uint8Array }> {
    const head = await this.#take(2);
    if ((head[1]! & 0x80) === 0) throw new Error("Expected a masked client frame");
    const len = head[1]! & 0x7f;
    if (len > 125) throw new Error(`Expected a small client frame, got length code ${len}`);
    const mask = await this.#take(4);
    const payload = await this.#take(len);
    for (let i = 0; i < len; i++) payload[i]! ^= mask[i & 3]!;
    return { opcode: head[0]! & 0x0f, payload };
  }

  write(bytes: Uint8Array): Promise<void> {
    return writeAll(this.conn, bytes);
  }

  /** Writes `bytes` in pieces cut at `cuts`, pausing so each piece arrives in its own read. */
  async writeSplit(bytes: Uint8Array, cuts: number[]): Promise<void> {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      await this.write(bytes.subarray(from, cut));
      from = cut;
      await sleep(3);
    }
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      const chunk = await this.#read();
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      this.#buf = joined;
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async #read(): Promise<Uint8Array> {
    const chunk = new Uint8Array(4096);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("Expected more bytes from the receiver, got EOF");
    return chunk.subarray(0, n);
  }
}

/** A listener on a free port for {@linkcode serveOnce}. */
function listenLocal(): { listener: Deno.TcpListener; port: number } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return { listener, port: listener.addr.port };
}

/** Accepts one connection, stops listening, and runs `script` with the peer. */
async function serveOnce(
  listener: Deno.TcpListener,
  script: (peer: CraftedPeer) => Promise<void>,
): Promise<void> {
  const conn = await listener.accept();
  listener.close();
  conn.setNoDelay(true);
  try {
    await script(new CraftedPeer(conn));
  } finally {
    conn.close();
  }
}

Deno.test("NativeReceiver counts every broadcast frame on every client of the reference server", async () => {
  const path = await receiverPath();
  const server = await startReferenceServer();
  const receiver = NativeReceiver.start({ path, port: server.wsPort });
  const control = await ControlClient.connect(server.controlPort);
  try {
    await receiver.grow(150);
    await receiver.grow(200);
    for (let i = 0; i < 10; i++) {
      assertEquals(await control.request({ cmd: "broadcast", data: "hello everyone" }), "ok");
    }
    assertEquals(await receiver.deliveries.waitFor(2000, 5000), true);
    // Nothing beyond one frame per client per broadcast arrives later.
    await sleep(100);
    assertEquals(receiver.deliveries.value, 2000);
    assertEquals(receiver.closedEarly, 0);
  } finally {
    control[Symbol.dispose]();
    await receiver.close();
    await server.stop();
  }
});

Deno.test("NativeReceiver parses split, 16-bit, 64-bit, batched and fragmented frames and answers pings", async () => {
  const path = await receiverPath();
  const text = (s: string) => encoder.encode(s);
  let pong = "";
  let closeReply = -1;
  const { listener, port } = listenLocal();
  const receiver = NativeReceiver.start({ path, port });
  const served = serveOnce(listener, async (peer) => {
    await peer.handshake();
    const identify = await peer.readFrame();
    assertEquals(identify.opcode, 0x1);
    assertEquals(decoder.decode(identify.payload), `{"uid":"b0"}`);
    // The acknowledgement arrives in one frame with the start of the next one.
    const ack = serverFrame(0x1, text(`{"event":"identified","uid":"b0"}`));
    const hello = serverFrame(0x1, text("hello"));
    await peer.write(new Uint8Array([...ack, ...hello.subarray(0, 1)]));
    // The rest of "hello", one byte per read.
    await peer.writeSplit(hello.subarray(1), [1, 2, 3, 4, 5]);
    assertEquals(await receiver.deliveries.waitFor(1, 5000), true);
    // 16-bit length, cut inside the length and inside the payload.
    await peer.writeSplit(serverFrame(0x1, new Uint8Array(300).fill(0x61)), [1, 3, 150]);
    assertEquals(await receiver.deliveries.waitFor(2, 5000), true);
    // 64-bit length, cut inside the length.
    await peer.writeSplit(serverFrame(0x1, new Uint8Array(70_000).fill(0x62)), [6, 40_000]);
    assertEquals(await receiver.deliveries.waitFor(3, 5000), true);
    // A ping is answered with a masked pong carrying its payload.
    await peer.write(serverFrame(0x9, text("abc")));
    const answer = await peer.readFrame();
    assertEquals(answer.opcode, 0xa);
    pong = decoder.decode(answer.payload);
    // One fragmented text message, one binary message and five text frames in a single write:
    // six text messages.
    const batch = [
      serverFrame(0x1, text("he"), false),
      serverFrame(0x9, text("")),
      serverFrame(0x0, text("llo")),
      serverFrame(0x2, new Uint8Array([1, 2, 3])),
      ...Array.from({ length: 5 }, (_, i) => serverFrame(0x1, text(`m${i}`))),
    ];
    await peer.write(new Uint8Array(batch.flatMap((f) => [...f])));
    assertEquals((await peer.readFrame()).opcode, 0xa);
    assertEquals(await receiver.deliveries.waitFor(9, 5000), true);
    // A close frame is echoed, then the receiver lets go of the socket.
    await peer.write(serverFrame(0x8, new Uint8Array([0x0f, 0xa5])));
    const reply = await peer.readFrame();
    assertEquals(reply.opcode, 0x8);
    closeReply = (reply.payload[0]! << 8) | reply.payload[1]!;
  });
  try {
    await receiver.grow(1);
    await served;
    assertEquals(pong, "abc");
    assertEquals(closeReply, 4005);
    await eventually(() => receiver.closedEarly === 1, 5000, "the receiver to let go");
    await sleep(20);
    assertEquals(receiver.deliveries.value, 9);
  } finally {
    await receiver.close();
  }
});

Deno.test("NativeReceiver refuses a 101 with a wrong Sec-WebSocket-Accept", async () => {
  const path = await receiverPath();
  const { listener, port } = listenLocal();
  const receiver = NativeReceiver.start({ path, port });
  const served = serveOnce(listener, async (peer) => {
    await peer.handshake("AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    await sleep(200);
  });
  try {
    await assertRejects(() => receiver.grow(1), "wrong Sec-WebSocket-Accept");
  } finally {
    await served;
    await receiver.close();
  }
});

Deno.test("NativeReceiver gives up on a server that never answers the upgrade", async () => {
  const path = await receiverPath();
  const { listener, port } = listenLocal();
  const receiver = NativeReceiver.start({ path, port, openTimeoutMs: 300 });
  const served = serveOnce(listener, async (peer) => {
    // Read the request, then stay silent past the receiver's timeout.
    await peer.conn.read(new Uint8Array(4096));
    await sleep(700);
  });
  try {
    await assertRejects(() => receiver.grow(1), "timed out after 300 ms");
  } finally {
    await served;
    await receiver.close();
  }
});

Deno.test("NativeReceiver reports a refused connection as a failed open", async () => {
  const path = await receiverPath();
  const receiver = NativeReceiver.start({ path, port: freePort() });
  try {
    await assertRejects(() => receiver.grow(3), "Connection refused");
  } finally {
    await receiver.close();
  }
});
