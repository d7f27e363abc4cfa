import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ControlClient } from "./support/control_client.ts";
import { maskedFrame, RawWsPeer } from "./support/raw_ws_peer.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

const SECRET = "ws-test-secret-0123456789";
const now = () => Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown>, secret = SECRET, alg = "HS256"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(
    new TextEncoder().encode(secret),
  );
}

test("ws: every tab of a uid receives every push to it", async () => {
  await using herald = await startTestHerald();
  const tabs = await Promise.all([1, 2, 3].map(() => TestClient.identified(herald.wsUrl, "u")));
  try {
    using backend = await ControlClient.connect(herald.controlAddr);
    assert.equal(await backend.request({ uid: "u", data: "one" }), "ok");
    assert.equal(await backend.request({ uid: "u", data: "two" }), "ok");
    for (const tab of tabs) {
      assert.equal(await tab.next(), "one");
      assert.equal(await tab.next(), "two");
    }
  } finally {
    for (const tab of tabs) await tab[Symbol.asyncDispose]();
  }
});

test("ws: a page reload keeps the uid online though the old socket closes last", async () => {
  await using herald = await startTestHerald();
  const oldTab = await TestClient.identified(herald.wsUrl, "u");
  await using newTab = await TestClient.identified(herald.wsUrl, "u");
  await oldTab[Symbol.asyncDispose]();
  await eventually(() => herald.hub.connectionsOf("u") === 1, 5000, "the old tab to leave");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ uid: "u", data: "still here" }), "ok");
  assert.equal(await newTab.next(), "still here");
});

test("ws: a plain first message identifies silently, a JSON one is acknowledged", async () => {
  await using herald = await startTestHerald();
  await using plain = new TestClient(herald.wsUrl);
  await plain.open();
  plain.socket.send("plain-uid");
  await eventually(() => herald.hub.connectionsOf("plain-uid") === 1, 5000, "identify");
  // A push sent after identifying arrives after any acknowledgement would have: none came.
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ uid: "plain-uid", data: "first" }), "ok");
  await plain.waitFor(() => plain.received.length > 0);
  assert.deepEqual(plain.received, ["first"]);
  await using wrapped = new TestClient(herald.wsUrl);
  await wrapped.open();
  wrapped.socket.send('{"uid":"json-uid"}');
  assert.equal(await wrapped.next(), '{"event":"identified","uid":"json-uid"}');
});

test("ws: ping is answered pong once identified; other chatter is ignored", async () => {
  await using herald = await startTestHerald();
  await using client = await TestClient.identified(herald.wsUrl, "u");
  client.socket.send("hello?");
  client.socket.send("ping");
  assert.equal(await client.next(), "pong");
});

test("ws: an empty uid, a binary or malformed first message closes with 4004", async () => {
  await using herald = await startTestHerald();
  for (const first of ["", new Uint8Array([1, 2, 3]), "{bad json", '{"uid":5}']) {
    await using client = new TestClient(herald.wsUrl);
    await client.open();
    client.socket.send(first);
    const event = await client.closeEvent();
    assert.equal(event.code, 4004, `first message ${String(first)}`);
    assert.equal(event.reason, "bad identity");
  }
  assert.equal(herald.hub.connectionCount, 0);
});

test("ws: no identity within --auth-timeout closes with 4003", async () => {
  await using herald = await startTestHerald({ authTimeoutSeconds: 1 });
  await using client = new TestClient(herald.wsUrl);
  await client.open();
  const started = Date.now();
  const event = await client.closeEvent(10_000);
  assert.equal(event.code, 4003);
  assert.ok(Date.now() - started >= 900, "closed before the timeout");
});

test("ws: each socket gets its own --auth-timeout; identifying cancels it", async () => {
  await using herald = await startTestHerald({ authTimeoutSeconds: 1 });
  // Each socket's close is timed from its own open: timers fire late under load, never early,
  // so a deadline shared with the earlier socket would show as a close under 900 ms.
  const closedAfter = async (client: TestClient, opened: number) => {
    const event = await client.closeEvent(10_000);
    return { code: event.code, ms: Date.now() - opened };
  };
  await using early = new TestClient(herald.wsUrl);
  await early.open();
  const earlyClose = closedAfter(early, Date.now());
  await new Promise((resolve) => setTimeout(resolve, 500));
  await using late = new TestClient(herald.wsUrl);
  await late.open();
  const lateClose = closedAfter(late, Date.now());
  await using identified = new TestClient(herald.wsUrl);
  await identified.open();
  identified.socket.send("u1");
  const [earlyClosed, lateClosed] = await Promise.all([earlyClose, lateClose]);
  assert.equal(earlyClosed.code, 4003);
  assert.equal(lateClosed.code, 4003);
  assert.ok(earlyClosed.ms >= 900, `early closed after ${earlyClosed.ms} ms`);
  assert.ok(lateClosed.ms >= 900, `late closed after ${lateClosed.ms} ms`);
  assert.equal(identified.socket.readyState, WebSocket.OPEN);
  assert.equal(herald.hub.connectionsOf("u1"), 1);
});

test("ws: token mode identifies from a first-message token and joins its groups", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  await using client = new TestClient(herald.wsUrl);
  await client.open();
  client.socket.send(JSON.stringify({ token: await token({ sub: "u7", groups: ["news"] }) }));
  assert.equal(await client.next(), '{"event":"identified","uid":"u7"}');
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ cmd: "publish", group: "news", data: "extra!" }), "ok");
  assert.equal(await client.next(), "extra!");
});

test("ws: token mode takes ?token= on the URL with no first message", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  const jwt = await token({ sub: "url-user", exp: now() + 60 });
  await using client = new TestClient(`${herald.wsUrl}?token=${jwt}`);
  await client.open();
  await eventually(() => herald.hub.connectionsOf("url-user") === 1, 5000, "identify");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ uid: "url-user", data: "hi" }), "ok");
  assert.equal(await client.next(), "hi");
});

test("ws: token mode refuses a plain uid, bad signatures, alg none and other algs with 4001", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  const none = `${btoa('{"alg":"none","typ":"JWT"}')}.${btoa('{"sub":"u"}')}.`.replaceAll("=", "");
  const credentials = [
    "uid1",
    await token({ sub: "u" }, "another-secret-0123456789"),
    none,
    await token({ sub: "u" }, SECRET, "HS384"),
    await token({}),
  ];
  for (const credential of credentials) {
    await using client = new TestClient(herald.wsUrl);
    await client.open();
    client.socket.send(credential);
    const event = await client.closeEvent();
    assert.equal(event.code, 4001, credential);
    assert.equal(event.reason, "invalid token");
  }
  assert.equal(herald.hub.connectionCount, 0);
});

test("ws: token mode refuses an expired token, also on the URL, with 4002", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  const expired = await token({ sub: "u", exp: now() - 10 });
  await using viaMessage = new TestClient(herald.wsUrl);
  await viaMessage.open();
  viaMessage.socket.send(expired);
  assert.equal((await viaMessage.closeEvent()).code, 4002);
  await using viaUrl = new TestClient(`${herald.wsUrl}?token=${expired}`);
  assert.equal((await viaUrl.closeEvent()).code, 4002);
});

test("ws: a message over --max-message-bytes closes with 1009, before and after identify", async () => {
  await using herald = await startTestHerald({ maxMessageBytes: 1024 });
  await using early = new TestClient(herald.wsUrl);
  await early.open();
  early.socket.send("x".repeat(1025));
  assert.equal((await early.closeEvent()).code, 1009);
  await using late = await TestClient.identified(herald.wsUrl, "u");
  late.socket.send("é".repeat(513)); // 1026 UTF-8 bytes in 513 characters.
  assert.equal((await late.closeEvent()).code, 1009);
  await eventually(() => herald.hub.connectionCount === 0, 5000, "the hub to empty");
});

test("ws: --max-connections refuses the next handshake with 503", async () => {
  await using herald = await startTestHerald({ maxConnections: 2 });
  await using _a = await TestClient.identified(herald.wsUrl, "a");
  await using _pending = new TestClient(herald.wsUrl);
  await _pending.open();
  using refused = await RawWsPeer.handshake(herald.wsAddr.port);
  assert.equal(refused.answer.status, 503);
});

test("ws: --allowed-origins refuses other origins with 403 and lets listed ones in", async () => {
  await using herald = await startTestHerald({ allowedOrigins: ["https://app.example"] });
  using refused = await RawWsPeer.handshake(herald.wsAddr.port, {
    headers: { Origin: "https://evil.example" },
  });
  assert.equal(refused.answer.status, 403);
  using allowed = await RawWsPeer.handshake(herald.wsAddr.port, {
    headers: { Origin: "https://app.example" },
  });
  assert.equal(allowed.answer.status, 101);
});

test("ws: GET /healthz answers 200 with counts; other plain requests get 426", async () => {
  await using herald = await startTestHerald();
  await using _client = await TestClient.identified(herald.wsUrl, "u");
  const base = `http://127.0.0.1:${herald.wsAddr.port}`;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const body = await health.json();
  assert.equal(body.status, "ok");
  assert.equal(body.connections, 1);
  assert.equal(body.uids, 1);
  const plain = await fetch(`${base}/`);
  await plain.body?.cancel();
  assert.equal(plain.status, 426);
});

test("ws: a client that never reads is closed as a slow reader; others keep receiving", async () => {
  await using herald = await startTestHerald({ maxUnsentBytes: 256 * 1024 });
  using stalled = await RawWsPeer.handshake(herald.wsAddr.port);
  assert.equal(stalled.answer.status, 101);
  await stalled.sendText("stalled");
  await using healthy = await TestClient.identified(herald.wsUrl, "healthy");
  await eventually(() => herald.hub.connectionsOf("stalled") === 1, 5000, "identify");
  using backend = await ControlClient.connect(herald.controlAddr);
  const data = "y".repeat(64 * 1024);
  let pushes = 0;
  // Kernel buffers take a few MiB first; then Herald's own queue passes its bound.
  while (herald.hub.connectionsOf("stalled") === 1 && pushes < 2000) {
    await backend.request({ cmd: "send", uids: ["stalled", "healthy"], data });
    pushes++;
  }
  assert.equal(herald.hub.connectionsOf("stalled"), 0, `still online after ${pushes} pushes`);
  assert.equal(await backend.request({ uid: "healthy", data: "fine" }), "ok");
  await healthy.waitFor(() => healthy.received.at(-1) === "fine", 10_000);
  assert.equal(await stalled.readCloseCode(), 1013);
});

test("ws: a peer that stops answering pings is dropped after --idle-timeout", async () => {
  await using herald = await startTestHerald({ idleTimeoutSeconds: 2 });
  using silent = await RawWsPeer.handshake(herald.wsAddr.port);
  const started = Date.now();
  await silent.sendText("ghost");
  await eventually(() => herald.hub.connectionsOf("ghost") === 1, 5000, "identify");
  await eventually(() => herald.hub.connectionsOf("ghost") === 0, 10_000, "the drop");
  // Not before the timeout (timers fire late under load, never early), nor long after it.
  const dropped = Date.now() - started;
  assert.ok(dropped >= 1800 && dropped < 8000, `dropped after ${dropped} ms`);
  assert.equal(await silent.readCloseCode(), 1001);
});

test("ws: a live client answering pings outlasts --idle-timeout", async () => {
  await using herald = await startTestHerald({ idleTimeoutSeconds: 2 });
  await using client = await TestClient.identified(herald.wsUrl, "u");
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(client.socket.readyState, WebSocket.OPEN);
  assert.equal(herald.hub.connectionsOf("u"), 1);
});

test("ws: a raw masked frame identifies like a browser's", async () => {
  await using herald = await startTestHerald();
  using client = await RawWsPeer.handshake(herald.wsAddr.port);
  await client.write(maskedFrame(0x1, new TextEncoder().encode("raw-user")));
  await eventually(() => herald.hub.connectionsOf("raw-user") === 1, 5000, "identify");
});

test("ws: disconnects leave the hub and groups empty", async () => {
  await using herald = await startTestHerald();
  const clients = await Promise.all(
    Array.from({ length: 50 }, (_, i) => TestClient.identified(herald.wsUrl, `u${i % 10}`)),
  );
  using backend = await ControlClient.connect(herald.controlAddr);
  for (let i = 0; i < 10; i++) await backend.request({ cmd: "join", uid: `u${i}`, group: "g" });
  assert.deepEqual(await backend.query({ cmd: "count" }), {
    result: { connections: 50, uids: 10 },
  });
  for (const client of clients) await client[Symbol.asyncDispose]();
  await eventually(() => herald.hub.connectionCount === 0, 5000, "every socket to leave");
  const stats = (await backend.query({ cmd: "stats" })).result as Record<string, unknown>;
  assert.equal(stats.uids, 0);
  assert.equal(stats.pending, 0);
  assert.deepEqual(stats.groups, {});
});

test("ws: shutdown closes every client with 1001", async () => {
  const herald = await startTestHerald();
  const identified = await TestClient.identified(herald.wsUrl, "u");
  const pending = new TestClient(herald.wsUrl);
  await pending.open();
  await herald.shutdown();
  assert.equal((await identified.closeEvent()).code, 1001);
  assert.equal((await pending.closeEvent()).code, 1001);
});
