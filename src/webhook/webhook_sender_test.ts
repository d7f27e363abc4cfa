import { configure, type LogRecord, reset } from "@logtape/logtape";
import assert from "node:assert/strict";
import { eventually } from "../../tests/support/wait.ts";
import { TestReceiver } from "./receiver_for_tests.ts";
import { type WebhookEvent, WebhookSender, type WebhookSenderOptions } from "./webhook_sender.ts";

const SECRET = "webhook-test-secret-0123";
/** Generous: other engineers' test runs share this machine's two cores. */
const PATIENCE_MS = 20_000;

/** A sender for `url`; `await using` closes it. */
function sender(url: string, options: Partial<WebhookSenderOptions> = {}) {
  const webhook = new WebhookSender({ url, secret: SECRET, ...options });
  return Object.assign(webhook, { [Symbol.asyncDispose]: () => webhook.close() });
}

function online(uid: string): WebhookEvent {
  return { event: "online", uid, time_ms: 1_700_000_000_000 };
}

/** Routes every `herald` log record into an array until disposed. */
async function captureLogs() {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["herald"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  return Object.assign(records, { [Symbol.asyncDispose]: () => reset() });
}

function logged(records: readonly LogRecord[], level: string, text: string): LogRecord[] {
  return records.filter((r) => r.level === level && String(r.rawMessage).includes(text));
}

Deno.test("WebhookSender posts signed JSON a real receiver verifies, events in order", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using webhook = sender(receiver.url);
  const events: WebhookEvent[] = [
    online("u1"),
    { event: "message", uid: "u1", time_ms: 1_700_000_000_001, data: 'héllo "👋"\n' },
    { event: "offline", uid: "u1", time_ms: 1_700_000_000_002, code: 1001 },
  ];
  for (const event of events) assert.equal(webhook.enqueue(event), true);
  assert.equal(webhook.queued, 3);
  // The sender counts a delivery once the answer is back, after the receiver recorded it.
  await eventually(() => webhook.delivered === 3, PATIENCE_MS, "three events delivered");
  assert.equal(receiver.requests.length, 1, "one batch within the window");
  const [request] = receiver.requests;
  assert.deepEqual(JSON.parse(request!.body), { events });
  assert.equal(request!.contentType, "application/json");
  assert.equal(request!.verification.ok, true);
  assert.match(request!.signature, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.deepEqual(
    { queued: webhook.queued, delivered: webhook.delivered, dropped: webhook.dropped },
    { queued: 0, delivered: 3, dropped: 0 },
  );
});

Deno.test("WebhookSender does not retry a refused request: an old timestamp gets 400", async () => {
  await using logs = await captureLogs();
  await using receiver = await TestReceiver.start({ secret: SECRET });
  // Ten minutes slow: outside the receiver's five-minute tolerance, as a replay would be.
  await using webhook = sender(receiver.url, {
    clock: () => Date.now() - 600_000,
    retryBaseMs: 10,
  });
  webhook.enqueue(online("u1"));
  webhook.enqueue(online("u2"));
  await eventually(() => webhook.dropped === 2, PATIENCE_MS, "the refused batch dropped");
  assert.equal(receiver.requests[0]!.status, 400);
  assert.deepEqual(receiver.requests[0]!.verification, { ok: false, reason: "stale" });
  await new Promise((resolve) => setTimeout(resolve, 100)); // Ten retry delays.
  assert.equal(receiver.arrived, 1, "not retried");
  assert.equal(webhook.failedRequests, 1);
  const [error] = logged(logs, "error", "refused");
  assert.equal(error?.properties.status, 400);
  assert.equal(error?.properties.answer, "bad signature: stale\n");
});

Deno.test("WebhookSender does not follow a redirect: the events would go elsewhere", async () => {
  await using elsewhere = await TestReceiver.start({ secret: SECRET });
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: () => Response.redirect(elsewhere.url, 307),
  });
  await using webhook = sender(receiver.url);
  webhook.enqueue(online("u1"));
  await eventually(() => webhook.dropped === 1, PATIENCE_MS, "the redirected batch dropped");
  assert.equal(elsewhere.arrived, 0);
});

Deno.test("WebhookSender fills a batch up to batchMaxEvents without waiting for the window", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using webhook = sender(receiver.url, { batchMaxEvents: 100, batchWindowMs: 60_000 });
  for (let i = 0; i < 200; i++) webhook.enqueue(online(`u${i}`));
  await eventually(() => webhook.delivered === 200, PATIENCE_MS, "two full batches");
  assert.deepEqual(receiver.requests.map((r) => JSON.parse(r.body).events.length), [100, 100]);
  assert.deepEqual(receiver.accepted.map((e) => e.uid), [...Array(200).keys()].map((i) => `u${i}`));
});

Deno.test("WebhookSender gathers the events of one window into one request", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using webhook = sender(receiver.url, { batchWindowMs: 300 });
  webhook.enqueue(online("a"));
  // Timers fire in due order, so this one runs before the window's, however busy the machine.
  await new Promise((resolve) => setTimeout(resolve, 20));
  webhook.enqueue(online("b"));
  await eventually(() => webhook.delivered === 2, PATIENCE_MS, "both events");
  assert.equal(receiver.requests.length, 1);
});

Deno.test("WebhookSender retries 5xx, 429 and 408 with the same body, then delivers", async () => {
  const statuses = [503, 429, 408, 500];
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: (index) =>
      new Response(null, {
        status: statuses[index] ?? 204,
        headers: index === 1 ? { "retry-after": "0" } : {},
      }),
  });
  await using webhook = sender(receiver.url, { retryBaseMs: 10, retryMaxMs: 50 });
  webhook.enqueue(online("u1"));
  webhook.enqueue(online("u2"));
  await eventually(() => webhook.delivered === 2, PATIENCE_MS, "delivery after four failures");
  assert.deepEqual(receiver.requests.map((r) => r.status), [503, 429, 408, 500, 204]);
  assert.equal(new Set(receiver.requests.map((r) => r.body)).size, 1, "the same body each time");
  assert.equal(webhook.failedRequests, 4);
  assert.equal(webhook.dropped, 0);
});

Deno.test("WebhookSender retries while the receiver is down and delivers in order once it is back", async () => {
  await using logs = await captureLogs();
  const port = await (async () => {
    await using probe = await TestReceiver.start({ secret: SECRET });
    return probe.port;
  })();
  await using webhook = sender(`http://127.0.0.1:${port}/hooks/herald`, {
    retryBaseMs: 10,
    retryMaxMs: 100,
    batchMaxEvents: 2,
  });
  for (const uid of ["u1", "u2", "u3"]) webhook.enqueue(online(uid));
  await eventually(() => webhook.failedRequests >= 3, PATIENCE_MS, "failed attempts");
  for (const uid of ["u4", "u5"]) webhook.enqueue(online(uid));
  await using receiver = await TestReceiver.start({ secret: SECRET, port });
  await eventually(() => webhook.delivered === 5, PATIENCE_MS, "every event once back");
  assert.deepEqual(receiver.accepted.map((e) => e.uid), ["u1", "u2", "u3", "u4", "u5"]);
  assert.equal(webhook.delivered, 5);
  assert.equal(webhook.dropped, 0);
  assert.equal(logged(logs, "warning", "failed").length, 1, "one warning per failing batch");
  assert.ok(logged(logs, "debug", "failed").length >= 2, "the later retries at debug");
  assert.equal(logged(logs, "info", "after {failures} failed attempts").length, 1);
});

Deno.test("WebhookSender drops events past maxQueue, counting each and logging once per burst", async () => {
  await using logs = await captureLogs();
  const release = Promise.withResolvers<void>();
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: async (index) => {
      if (index === 0) await release.promise; // A slow receiver holds the first batch.
      return new Response(null, { status: 204 });
    },
  });
  await using webhook = sender(receiver.url, { maxQueue: 10, batchMaxEvents: 4 });
  try {
    for (let i = 0; i < 10; i++) assert.equal(webhook.enqueue(online(`u${i}`)), true);
    await eventually(() => receiver.arrived === 1, PATIENCE_MS, "the first batch in flight");
    assert.equal(webhook.queued, 10, "the batch in flight still counts");
    for (let i = 10; i < 25; i++) assert.equal(webhook.enqueue(online(`u${i}`)), false);
    assert.equal(webhook.dropped, 15);
    assert.equal(webhook.queued, 10);
    assert.equal(logged(logs, "warning", "Dropping webhook events").length, 1);
  } finally {
    release.resolve();
  }
  await eventually(() => webhook.delivered === 10, PATIENCE_MS, "the ten queued events");
  assert.deepEqual(receiver.accepted.map((e) => e.uid), [...Array(10).keys()].map((i) => `u${i}`));
  assert.equal(webhook.enqueue(online("again")), true);
  const [recovered] = logged(logs, "info", "takes events again");
  assert.equal(recovered?.properties.count, 15);
});

Deno.test("WebhookSender bounds the size of the forwarded messages it holds", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  await using webhook = sender(receiver.url, { maxQueueSize: 1000 });
  const message = (data: string): WebhookEvent => ({
    event: "message",
    uid: "u1",
    time_ms: 1,
    data,
  });
  assert.equal(webhook.enqueue(message("x".repeat(900))), true); // Weighs 64 + 2 + 900.
  assert.equal(webhook.enqueue(message("y".repeat(100))), false);
  assert.equal(webhook.enqueue(online("u2")), false, "66 more would pass 1000 too");
  assert.equal(webhook.dropped, 2);
  await eventually(() => webhook.delivered === 1, PATIENCE_MS, "the first message");
  assert.equal(webhook.enqueue(message("y".repeat(100))), true, "room again once delivered");
});

Deno.test("WebhookSender.close() sends what is queued at once, then refuses new events", async () => {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  const webhook = new WebhookSender({ url: receiver.url, secret: SECRET, batchWindowMs: 60_000 });
  webhook.enqueue(online("u1"));
  webhook.enqueue(online("u2"));
  await webhook.close();
  assert.deepEqual(receiver.accepted.map((e) => e.uid), ["u1", "u2"]);
  assert.equal(webhook.enqueue(online("late")), false);
  assert.equal(webhook.dropped, 1);
  await webhook.close(); // Twice is fine.
});

Deno.test("WebhookSender.close() gives up within flushTimeoutMs when the receiver is down", async () => {
  await using logs = await captureLogs();
  const port = await (async () => {
    await using probe = await TestReceiver.start({ secret: SECRET });
    return probe.port;
  })();
  const webhook = new WebhookSender({
    url: `http://127.0.0.1:${port}/`,
    secret: SECRET,
    retryBaseMs: 60_000,
    flushTimeoutMs: 200,
    batchMaxEvents: 2,
  });
  for (const uid of ["u1", "u2", "u3"]) webhook.enqueue(online(uid));
  await eventually(() => webhook.failedRequests === 1, PATIENCE_MS, "a failed attempt");
  const started = Date.now();
  await webhook.close(); // Not the minute of backoff the batch is waiting out.
  assert.ok(Date.now() - started < PATIENCE_MS / 2, `close took ${Date.now() - started} ms`);
  assert.deepEqual({ dropped: webhook.dropped, queued: webhook.queued }, { dropped: 3, queued: 0 });
  assert.equal(logged(logs, "warning", "out of time").length, 1);
  assert.equal(logged(logs, "warning", "closed with {count} events").length, 1);
  // The op and resource sanitizers check that no timer, request or connection is left.
});

Deno.test("WebhookSender.close() aborts a request the receiver never answers", async () => {
  const never = Promise.withResolvers<void>();
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: async () => {
      await never.promise;
      return new Response(null, { status: 204 });
    },
  });
  const webhook = new WebhookSender({ url: receiver.url, secret: SECRET, flushTimeoutMs: 100 });
  webhook.enqueue(online("u1"));
  await eventually(() => receiver.arrived === 1, PATIENCE_MS, "the request");
  await webhook.close();
  assert.equal(webhook.dropped, 1);
  never.resolve();
});

Deno.test("WebhookSender counts a request past requestTimeoutMs as failed and retries it", async () => {
  const held = Promise.withResolvers<void>();
  await using receiver = await TestReceiver.start({
    secret: SECRET,
    respond: async (index) => {
      if (index === 0) await held.promise;
      return new Response(null, { status: 204 });
    },
  });
  await using webhook = sender(receiver.url, { requestTimeoutMs: 100, retryBaseMs: 10 });
  try {
    webhook.enqueue(online("u1"));
    await eventually(() => webhook.delivered === 1, PATIENCE_MS, "delivery on the retry");
    assert.equal(webhook.failedRequests, 1);
  } finally {
    held.resolve();
  }
});

Deno.test("WebhookSender refuses options it cannot work with, naming them", () => {
  const url = "http://127.0.0.1:1/";
  assert.throws(
    () => new WebhookSender({ url: "ftp://x/", secret: SECRET }),
    /url must be an http/,
  );
  assert.throws(() => new WebhookSender({ url: "not a url", secret: SECRET }), TypeError);
  assert.throws(() => new WebhookSender({ url, secret: "" }), /secret must not be empty/);
  assert.throws(
    () => new WebhookSender({ url: "http://user:pw@127.0.0.1/", secret: SECRET }),
    /must not carry a user or password/,
  );
  assert.throws(
    () => new WebhookSender({ url, secret: SECRET, maxQueue: 0 }),
    /maxQueue must be >= 1: current value is 0/,
  );
  assert.throws(
    () => new WebhookSender({ url, secret: SECRET, batchWindowMs: -1 }),
    /batchWindowMs must be >= 0/,
  );
});
