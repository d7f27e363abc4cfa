/**
 * Hostile WebSocket peers at the TCP level, and the limits that protect the process from them.
 * docs/reliability.md lists each case with what was measured.
 * @module
 */
import assert from "node:assert/strict";
import { ControlClient, eventually, startTestHerald, test, TestClient, within } from "./helpers.ts";
import { maskedFrame, RawWsClient } from "./raw_ws.ts";

const encode = (text: string) => new TextEncoder().encode(text);

async function stats(herald: { controlAddr: Deno.NetAddr }): Promise<Record<string, number>> {
  using backend = await ControlClient.connect(herald.controlAddr);
  return (await backend.query({ cmd: "stats" })).result as Record<string, number>;
}

/** Sends raw bytes and returns the server's whole answer, up to its closing the connection. */
async function rawExchange(port: number, bytes: Uint8Array): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(bytes);
  const buffer = new Uint8Array(4096);
  let answer = "";
  while (true) {
    const read = await within(5000, conn.read(buffer), "the server's answer");
    if (read === null) break;
    answer += new TextDecoder().decode(buffer.subarray(0, read));
    if (answer.includes("\r\n\r\n")) break;
  }
  return answer;
}

test("ws-hostile: garbage instead of a handshake gets 400 and holds nothing", async () => {
  await using herald = await startTestHerald();
  const garbage = new Uint8Array(4096);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
  assert.match(await rawExchange(herald.wsAddr.port, garbage), /^HTTP\/1\.1 400 /);
  const { held_sockets, pending } = await stats(herald);
  assert.deepEqual({ held_sockets, pending }, { held_sockets: 0, pending: 0 });
});

test("ws-hostile: a handshake without Sec-WebSocket-Key gets 400", async () => {
  await using herald = await startTestHerald();
  const request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  const answer = await rawExchange(herald.wsAddr.port, encode(request));
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.equal((await stats(herald)).held_sockets, 0);
});

test("ws-hostile: an unmasked client frame is accepted as data (Deno does not enforce masking)", async () => {
  // RFC 6455 §5.1 says a server should close; Deno 2.9.6 reads it. Masking protects proxies
  // from browser scripts, and browsers always mask, so this is pinned here, not worked around.
  await using herald = await startTestHerald();
  const { client } = await RawWsClient.handshake(herald.wsAddr.port);
  using _client = client;
  await client.write(new Uint8Array([0x81, 0x03, ...encode("raw")]));
  await eventually(() => herald.hub.connectionsOf("raw") === 1, 2000, "identify");
});

test("ws-hostile: broken frames end the connection and leave the hub empty", async () => {
  await using herald = await startTestHerald();
  const frames: Record<string, Uint8Array> = {
    "invalid UTF-8 in a text frame": maskedFrame(0x1, new Uint8Array([0xc3, 0x28, 0xff])),
    "a frame claiming 1 TiB": new Uint8Array([0x82, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
    "a reserved opcode": maskedFrame(0x3, new Uint8Array([1])),
    "reserved bits set": new Uint8Array([0xf1, 0x80, 0, 0, 0, 0]),
    "a continuation with nothing to continue": maskedFrame(0x0, encode("x")),
  };
  for (const [what, frame] of Object.entries(frames)) {
    const { client } = await RawWsClient.handshake(herald.wsAddr.port);
    using _client = client;
    await client.sendText(`victim-${what}`);
    await eventually(() => herald.hub.connectionCount === 1, 2000, `identify (${what})`);
    await client.write(frame);
    const code = await client.readCloseCode(5000);
    assert.ok(code === undefined || code === 1002 || code === 1007, `${what}: close ${code}`);
    await eventually(() => herald.hub.connectionCount === 0, 2000, `the drop (${what})`);
  }
  await eventually(() => herald.hub.connectionCount === 0, 2000, "the hub to empty");
});

test("ws-hostile: a silent peer Herald closed is dropped after --close-timeout", async () => {
  await using herald = await startTestHerald({ authTimeoutSeconds: 1, closeTimeoutSeconds: 1 });
  const { client } = await RawWsClient.handshake(herald.wsAddr.port);
  using _client = client;
  // It never identifies, never reads, never answers: Deno would keep it CLOSING forever.
  await eventually(() => herald.hub.connectionCount === 0, 100, "nothing registered");
  assert.equal((await stats(herald)).held_sockets, 1);
  const started = Date.now();
  while ((await stats(herald)).held_sockets! > 0) {
    assert.ok(Date.now() - started < 4000, "the socket was never dropped");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(await client.readCloseCode(), 4003);
  const buffer = new Uint8Array(64);
  assert.equal(await within(2000, client.conn.read(buffer), "EOF"), null, "TCP left open");
});

test("ws-hostile: a fragmented flood before identify is cut off by the auth and close timeouts", async () => {
  await using herald = await startTestHerald({ authTimeoutSeconds: 1, closeTimeoutSeconds: 1 });
  const { client } = await RawWsClient.handshake(herald.wsAddr.port);
  using _client = client;
  // Deno collects fragments natively and never shows them to Herald: only time bounds them.
  const fragment = maskedFrame(0x0, new Uint8Array(100).fill(0x61), false);
  const burst = new Uint8Array(fragment.length * 100);
  for (let i = 0; i < 100; i++) burst.set(fragment, i * fragment.length);
  await client.write(maskedFrame(0x1, new Uint8Array(100).fill(0x61), false));
  const started = Date.now();
  let sent = 0;
  try {
    while (Date.now() - started < 6000) {
      await within(2000, client.write(burst), "a write");
      sent += 100;
    }
  } catch {
    // Reset by the server: what we wait for.
  }
  const elapsed = Date.now() - started;
  assert.ok(elapsed < 5000, `flood went on for ${elapsed} ms (${sent} fragments)`);
  await eventually(() => herald.hub.connectionCount === 0, 100, "nothing registered");
  assert.equal((await stats(herald)).held_sockets, 0);
});

test("ws-hostile: a ping flood from a peer that never reads is cut off; others are served", async () => {
  await using herald = await startTestHerald();
  await using healthy = await TestClient.identified(herald.wsUrl, "healthy");
  const { client } = await RawWsClient.handshake(herald.wsAddr.port);
  using _client = client;
  await client.sendText("flooder");
  const ping = maskedFrame(0x9, new Uint8Array(125).fill(1));
  const burst = new Uint8Array(ping.length * 500);
  for (let i = 0; i < 500; i++) burst.set(ping, i * ping.length);
  const rssBefore = Deno.memoryUsage().rss;
  let pings = 0;
  try {
    // Pongs pile up unread until Deno gives up on the peer.
    for (; pings < 1_000_000; pings += 500) await within(2000, client.write(burst), "a write");
  } catch {
    // Reset by the server or a write that no longer completes: the flood has stopped.
  }
  const growth = Deno.memoryUsage().rss - rssBefore;
  assert.ok(growth < 128 * 1024 * 1024, `RSS grew ${growth} bytes over ${pings} pings`);
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ uid: "healthy", data: "still here" }), "ok");
  assert.equal(await healthy.next(), "still here");
});

test("ws-hostile: --max-connections-per-ip refuses with 429 and counts until release", async () => {
  await using herald = await startTestHerald({ maxConnectionsPerIp: 2 });
  const first = await TestClient.identified(herald.wsUrl, "a");
  await using _second = await TestClient.identified(herald.wsUrl, "b");
  const refused = await RawWsClient.handshake(herald.wsAddr.port);
  refused.client[Symbol.dispose]();
  assert.equal(refused.answer.status, 429);
  await first[Symbol.asyncDispose]();
  await eventually(() => herald.hub.connectionCount === 1, 2000, "the first to leave");
  await using _third = await TestClient.identified(herald.wsUrl, "c");
});

test("ws-hostile: behind a trusted proxy, per-IP limits count each forwarded client", async () => {
  await using herald = await startTestHerald({ maxConnectionsPerIp: 1 });
  const statusFor = async (forwardedFor: string) => {
    const { client, answer } = await RawWsClient.handshake(herald.wsAddr.port, {
      headers: { "X-Forwarded-For": forwardedFor },
    });
    return { client, status: answer.status };
  };
  const first = await statusFor("198.51.100.1");
  using _first = first.client;
  assert.equal(first.status, 101);
  const sameClient = await statusFor("6.6.6.6, 198.51.100.1"); // The left entry is forgeable.
  sameClient.client[Symbol.dispose]();
  assert.equal(sameClient.status, 429);
  const otherClient = await statusFor("198.51.100.2");
  using _other = otherClient.client;
  assert.equal(otherClient.status, 101);
});

test("ws-hostile: with --trusted-proxies none, X-Forwarded-For is ignored", async () => {
  await using herald = await startTestHerald({ maxConnectionsPerIp: 1, trustedProxies: [] });
  const first = await RawWsClient.handshake(herald.wsAddr.port, {
    headers: { "X-Forwarded-For": "198.51.100.1" },
  });
  using _first = first.client;
  assert.equal(first.answer.status, 101);
  const spoofed = await RawWsClient.handshake(herald.wsAddr.port, {
    headers: { "X-Forwarded-For": "198.51.100.2" },
  });
  spoofed.client[Symbol.dispose]();
  assert.equal(spoofed.answer.status, 429);
});

test("ws-hostile: --max-handshakes-per-ip refuses a burst over the rate with 429", async () => {
  await using herald = await startTestHerald({ maxHandshakesPerIp: 5 });
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const { client, answer } = await RawWsClient.handshake(herald.wsAddr.port);
    client[Symbol.dispose]();
    statuses.push(answer.status);
  }
  assert.deepEqual(statuses.slice(0, 5), [101, 101, 101, 101, 101]);
  assert.ok(statuses.slice(5).includes(429), `statuses ${statuses}`);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const later = await RawWsClient.handshake(herald.wsAddr.port);
  later.client[Symbol.dispose]();
  assert.equal(later.answer.status, 101, "a second later the bucket has refilled");
});

test("ws-hostile: --max-messages-per-second closes a chatty client with 4006", async () => {
  await using herald = await startTestHerald({ maxMessagesPerSecond: 5 });
  await using client = await TestClient.identified(herald.wsUrl, "chatty");
  // The identify message took one token: four more pass, the fifth is one too many.
  for (let i = 0; i < 5; i++) client.socket.send("ping");
  const event = await client.closeEvent();
  assert.equal(event.code, 4006);
  assert.equal(event.reason, "too many messages");
  assert.deepEqual(client.received, ["pong", "pong", "pong", "pong"]);
  await eventually(() => herald.hub.connectionCount === 0, 2000, "the hub to empty");
});

test("ws-hostile: a message flood is cut off and its socket released", async () => {
  // A peer that keeps sending after Herald's close makes Deno drop the TCP connection at once,
  // so it may never read the 4006: what counts is that the socket goes.
  await using herald = await startTestHerald({ maxMessagesPerSecond: 5 });
  const { client } = await RawWsClient.handshake(herald.wsAddr.port);
  using _client = client;
  await client.sendText("flooder");
  const burst = concat(Array.from({ length: 1000 }, () => maskedFrame(0x1, encode("ping"))));
  await client.write(burst).catch(() => {});
  await eventually(() => herald.hub.connectionCount === 0, 2000, "the hub to empty");
  const started = Date.now();
  while ((await stats(herald)).held_sockets! > 0) {
    assert.ok(Date.now() - started < 7000, "the socket was never released");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

function concat(parts: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    all.set(part, offset);
    offset += part.length;
  }
  return all;
}

test("ws-hostile: a client under --max-messages-per-second stays connected", async () => {
  await using herald = await startTestHerald({ maxMessagesPerSecond: 5 });
  await using client = await TestClient.identified(herald.wsUrl, "calm");
  for (let i = 0; i < 8; i++) {
    client.socket.send("ping");
    assert.equal(await client.next(), "pong");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(client.socket.readyState, WebSocket.OPEN);
});

test("ws-hostile: --max-unsent-total-bytes closes the slowest readers; a healthy one is served", async () => {
  await using herald = await startTestHerald({
    maxUnsentBytes: 64 * 1024 * 1024,
    maxUnsentTotalBytes: 2 * 1024 * 1024,
  });
  const stalled = await Promise.all([1, 2].map(() => RawWsClient.handshake(herald.wsAddr.port)));
  try {
    for (const [i, { client }] of stalled.entries()) await client.sendText(`stalled${i}`);
    await using healthy = await TestClient.identified(herald.wsUrl, "healthy");
    await eventually(() => herald.hub.connectionCount === 3, 2000, "identify");
    using backend = await ControlClient.connect(herald.controlAddr);
    const data = "z".repeat(32 * 1024);
    for (let i = 0; i < 1000 && herald.hub.connectionCount > 1; i++) {
      await backend.request({ cmd: "broadcast", data });
    }
    assert.equal(herald.hub.connectionCount, 1, "the stalled readers are still registered");
    assert.equal(herald.hub.connectionsOf("healthy"), 1);
    for (const { client } of stalled) assert.equal(await client.readCloseCode(), 1013);
    assert.equal(await backend.request({ uid: "healthy", data: "fine" }), "ok");
    await healthy.waitFor(() => healthy.received.at(-1) === "fine", 10_000);
  } finally {
    for (const { client } of stalled) client[Symbol.dispose]();
  }
});
