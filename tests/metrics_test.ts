/**
 * `GET /metrics` and `GET /readyz` end to end: a scenario driven through real sockets, the control
 * port and the HTTP API, then the exposition parsed back and checked against what was done.
 * @module
 */
import assert from "node:assert/strict";
import { PROMETHEUS_CONTENT_TYPE } from "../src/metrics/exposition.ts";
import { parseExposition, valueOf } from "../src/metrics/text_parser_for_tests.ts";
import { ControlClient } from "./support/control_client.ts";
import { RawWsPeer } from "./support/raw_ws_peer.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

const KEY = "metrics-key-0123456789abcdef";

async function scrape(port: number, key: string | null = KEY): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
  });
}

test("metrics: 404 without --api-key, 401 without a valid key, the exposition with one", async () => {
  {
    await using closed = await startTestHerald();
    const response = await scrape(closed.wsAddr.port);
    await response.body?.cancel();
    assert.equal(response.status, 404);
  }
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  for (const key of [null, "wrong-key-0123456789abc"]) {
    const response = await scrape(herald.wsAddr.port, key);
    await response.body?.cancel();
    assert.equal(response.status, 401);
  }
  const response = await scrape(herald.wsAddr.port);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  const exposition = parseExposition(await response.text());
  for (
    const name of [
      "herald_connections",
      "herald_uids_online",
      "herald_pending_sockets",
      "herald_connects_total",
      "herald_disconnects_total",
      "herald_pushes_total",
      "herald_messages_delivered_total",
      "herald_bytes_delivered_total",
      "herald_slow_reader_closes_total",
      "herald_control_connections",
      "herald_control_request_seconds",
      "herald_webhook_queue",
      "herald_webhook_dropped_total",
      "herald_event_loop_lag_seconds",
      "process_resident_memory_bytes",
    ]
  ) assert.ok(exposition.types.has(name), name);
});

test("metrics: the numbers match a scenario of connects, pushes, a kick and a slow reader", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY], maxUnsentBytes: 16 * 1024 });
  const port = herald.wsAddr.port;
  await using a1 = await TestClient.identified(herald.wsUrl, "a");
  await using a2 = await TestClient.identified(herald.wsUrl, "a");
  await using _b = await TestClient.identified(herald.wsUrl, "b");
  await using pending = new TestClient(herald.wsUrl);
  await pending.open();
  using slow = await RawWsPeer.handshake(port);
  await slow.sendText("slow");
  await eventually(() => herald.hub.connectionCount === 4, 10_000, "four sockets to identify");

  using backend = await ControlClient.connect(herald.controlAddr);
  let controlRequests = 0;
  let messages = 0;
  let bytes = 0;
  const pushes = {
    send: { ok: 0, fail: 0 },
    publish: { ok: 0, fail: 0 },
    broadcast: { ok: 0, fail: 0 },
  };
  /** Pushes `data` over the control port and accounts for it as Herald should. */
  const push = async (
    request: { cmd: "send" | "publish" | "broadcast"; data: string } & Record<string, unknown>,
  ) => {
    const reply = await backend.query({ ...request, id: controlRequests++ });
    const delivered = (reply.result as { delivered: number }).delivered;
    pushes[request.cmd][delivered > 0 ? "ok" : "fail"]++;
    messages += delivered;
    bytes += delivered * new TextEncoder().encode(request.data).length;
    return delivered;
  };
  assert.equal(await push({ cmd: "send", uid: "a", data: "héllo" }), 2);
  assert.equal(await push({ cmd: "send", uid: "nobody", data: "x" }), 0);
  assert.equal(await backend.request({ cmd: "join", uid: "b", group: "room" }), "ok");
  controlRequests++;
  assert.equal(await push({ cmd: "publish", group: "room", data: "to the room" }), 1);
  assert.equal(await push({ cmd: "publish", group: "empty", data: "x" }), 0);
  // The raw peer never reads: it is closed 1013 once 16 KiB wait for it.
  const big = "z".repeat(8 * 1024);
  while (herald.hub.connectionsOf("slow") > 0) await push({ cmd: "send", uid: "slow", data: big });
  assert.equal(await slow.readCloseCode(), 1013);
  assert.equal(await push({ cmd: "broadcast", data: "all" }), 3);
  // The HTTP API's pushes count too (but are not control requests).
  const api = await fetch(`http://127.0.0.1:${port}/api`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ uid: "b", data: "via http" }),
  });
  assert.deepEqual(await api.json(), { result: { delivered: 1 } });
  pushes.send.ok++;
  messages++;
  bytes += "via http".length;
  assert.equal(await backend.request({ cmd: "kick", uid: "b" }), "ok");
  controlRequests++;
  a2.socket.close(1000);
  await eventually(() => herald.hub.connectionCount === 1, 10_000, "b and a2 to be gone");

  const metrics = parseExposition(await (await scrape(port)).text());
  const value = (name: string, labels: Record<string, string> = {}) =>
    valueOf(metrics, name, labels);
  assert.equal(value("herald_connections"), 1);
  assert.equal(value("herald_uids_online"), 1);
  assert.equal(value("herald_pending_sockets"), 1);
  assert.equal(value("herald_connects_total"), 4);
  assert.equal(value("herald_disconnects_total", { code: "1013" }), 1);
  assert.equal(value("herald_disconnects_total", { code: "4005" }), 1);
  assert.equal(value("herald_disconnects_total", { code: "1000" }), 1);
  assert.equal(value("herald_slow_reader_closes_total"), 1);
  for (const cmd of ["send", "publish", "broadcast"] as const) {
    for (const outcome of ["ok", "fail"] as const) {
      assert.equal(
        value("herald_pushes_total", { cmd, outcome }),
        pushes[cmd][outcome],
        `${cmd} ${outcome}`,
      );
    }
  }
  assert.equal(value("herald_messages_delivered_total"), messages);
  assert.equal(value("herald_bytes_delivered_total"), bytes);
  assert.equal(value("herald_control_connections"), 1);
  assert.equal(value("herald_control_request_seconds_count"), controlRequests);
  assert.equal(
    value("herald_control_request_seconds_bucket", { le: "+Inf" }),
    controlRequests,
  );
  assert.equal(value("herald_webhook_queue"), 0);
  assert.equal(value("herald_webhook_dropped_total"), 0);
  assert.ok(value("process_resident_memory_bytes") > 1024 * 1024);
  assert.ok(value("herald_event_loop_lag_seconds") >= 0);
  assert.equal(a1.socket.readyState, WebSocket.OPEN);
});

test("readyz: 200 while serving, 503 while draining for a shutdown", async () => {
  const herald = await startTestHerald({ closeTimeoutSeconds: 30 });
  const port = herald.wsAddr.port;
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "ready" });
  // A peer that never answers Herald's close holds the drain open for --close-timeout.
  using stuck = await RawWsPeer.handshake(port);
  await stuck.sendText("stuck");
  await eventually(() => herald.hub.connectionCount === 1, 10_000, "the peer to identify");
  const stopped = herald.shutdown();
  const draining = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(draining.status, 503);
  assert.deepEqual(await draining.json(), { status: "draining" });
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200, "alive while draining");
  await health.body?.cancel();
  assert.equal(await stuck.readCloseCode(), 1001);
  stuck[Symbol.dispose](); // Released: the drain ends without waiting for --close-timeout.
  await stopped;
});
