/**
 * Webhooks end to end: a real Herald posts to a real receiver that verifies every signature;
 * presence and client messages, a receiver that is down and comes back, and a full queue.
 * @module
 */
import assert from "node:assert/strict";
import { parseExposition, valueOf } from "../src/metrics/text_parser_for_tests.ts";
import { TestReceiver } from "../src/webhook/receiver_for_tests.ts";
import type { WebhookEvent } from "../src/webhook/webhook_sender.ts";
import { ControlClient } from "./support/control_client.ts";
import { freePort } from "./support/ports.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

const SECRET = "webhook-secret-Zx7Pm3Vn8Rt5Yb1C";
const KEY = "webhook-test-key-0123456789";
const PATIENCE_MS = 20_000;

/** Events without their times, which the test cannot know. */
function timeless(events: readonly WebhookEvent[]): Record<string, unknown>[] {
  return events.map(({ time_ms, ...rest }) => {
    assert.ok(Math.abs(time_ms - Date.now()) < 60_000, "time_ms is now, in milliseconds");
    return rest;
  });
}

async function metric(port: number, name: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  return valueOf(parseExposition(await response.text()), name);
}

test("webhook: online on a uid's first socket, offline on its last, messages forwarded, signed", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using herald = await startTestHerald({
    webhookUrl: receiver.url,
    webhookSecret: SECRET,
    forwardClientMessages: true,
  });
  const tab1 = await TestClient.identified(herald.wsUrl, "u1");
  const tab2 = await TestClient.identified(herald.wsUrl, "u1");
  tab2.socket.send("ping");
  assert.equal(await tab2.next(), "pong");
  tab2.socket.send('{"typing":true}');
  await tab2[Symbol.asyncDispose]();
  tab1.socket.send("héllo");
  await eventually(() => receiver.accepted.length === 3, PATIENCE_MS, "three events");
  tab1.socket.close(1000, "bye");
  await tab1.closeEvent();
  await using kicked = await TestClient.identified(herald.wsUrl, "u2");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ cmd: "kick", uid: "u2" }), "ok");
  }
  assert.equal((await kicked.closeEvent()).code, 4005);
  await eventually(() => receiver.accepted.length === 6, PATIENCE_MS, "six events");
  assert.deepEqual(timeless(receiver.accepted), [
    { event: "online", uid: "u1" },
    { event: "message", uid: "u1", data: '{"typing":true}' },
    { event: "message", uid: "u1", data: "héllo" },
    { event: "offline", uid: "u1", code: 1000 },
    { event: "online", uid: "u2" },
    { event: "offline", uid: "u2", code: 4005 },
  ]);
  // The README's example body has the keys of the real events.
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const example = readme.match(/A request's body, for example:\s+```json\n([\s\S]*?)```/)?.[1];
  assert.ok(example !== undefined, "README shows an example webhook body");
  const keys = (events: readonly object[]) =>
    Object.fromEntries(events.map((e) => [(e as WebhookEvent).event, Object.keys(e).sort()]));
  assert.deepEqual(keys(JSON.parse(example).events), keys(receiver.accepted));
  for (const request of receiver.requests) {
    assert.ok(request.verification.ok, "the receiver verified the signature");
    assert.equal(request.contentType, "application/json");
    assert.match(request.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  }
});

test("webhook: without --forward-client-messages, what clients send is not posted", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using herald = await startTestHerald({ webhookUrl: receiver.url, webhookSecret: SECRET });
  await using client = await TestClient.identified(herald.wsUrl, "quiet");
  client.socket.send("not forwarded");
  client.socket.send("ping");
  assert.equal(await client.next(), "pong"); // Herald has read "not forwarded" by now.
  await eventually(() => receiver.accepted.length === 1, PATIENCE_MS, "the online event");
  await herald.shutdown(); // Closes the socket (1001), then flushes the queue.
  assert.deepEqual(timeless(receiver.accepted), [
    { event: "online", uid: "quiet" },
    { event: "offline", uid: "quiet", code: 1001 },
  ]);
});

test("webhook: a receiver that is down gets the events once it is back, after retries", async () => {
  const port = freePort();
  await using herald = await startTestHerald({
    apiKeys: [KEY],
    webhookUrl: `http://127.0.0.1:${port}/hooks/herald`,
    webhookSecret: SECRET,
  });
  await using _client = await TestClient.identified(herald.wsUrl, "early");
  const wsPort = herald.wsAddr.port;
  await eventually(
    async () => await metric(wsPort, "herald_webhook_failed_requests_total") >= 2,
    PATIENCE_MS,
    "two failed attempts while the receiver is down",
  );
  assert.equal(await metric(wsPort, "herald_webhook_queue"), 1, "the event waits, not dropped");
  await using receiver = await TestReceiver.start({ secret: SECRET, port });
  await eventually(() => receiver.accepted.length === 1, PATIENCE_MS, "delivery after retries");
  assert.deepEqual(timeless(receiver.accepted), [{ event: "online", uid: "early" }]);
  assert.equal(await metric(wsPort, "herald_webhook_dropped_total"), 0);
  assert.equal(await metric(wsPort, "herald_webhook_delivered_total"), 1);
  await herald.shutdown(); // While the receiver is up: the offline event is delivered too.
  assert.deepEqual(timeless(receiver.accepted).at(-1), {
    event: "offline",
    uid: "early",
    code: 1001,
  });
});

test("webhook: a full queue drops new events, counted, and pushes never wait", async () => {
  const release = Promise.withResolvers<void>();
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: async () => {
      await release.promise;
      return new Response(null, { status: 204 });
    },
  });
  await using herald = await startTestHerald({
    apiKeys: [KEY],
    webhookUrl: receiver.url,
    webhookSecret: SECRET,
    webhookMaxQueue: 2,
  });
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 5; i++) clients.push(await TestClient.identified(herald.wsUrl, `u${i}`));
    const port = herald.wsAddr.port;
    assert.equal(await metric(port, "herald_webhook_queue"), 2);
    assert.equal(await metric(port, "herald_webhook_dropped_total"), 3);
    // The receiver holds its answer, yet pushes go through at once.
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ uid: "u4", data: "still fast" }), "ok");
    assert.equal(await clients[4]!.next(), "still fast");
    release.resolve();
    await eventually(() => receiver.accepted.length === 2, PATIENCE_MS, "the two queued events");
    assert.deepEqual(timeless(receiver.accepted), [
      { event: "online", uid: "u0" },
      { event: "online", uid: "u1" },
    ]);
  } finally {
    release.resolve();
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});
