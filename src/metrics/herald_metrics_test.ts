import assert from "node:assert/strict";
import type { WebhookStats } from "../webhook/webhook_sender.ts";
import { HeraldMetrics } from "./herald_metrics.ts";
import { parseExposition, valueOf } from "./text_parser_for_tests.ts";

/** HeraldMetrics over fixed sources; `using` stops its lag sampler. */
function heraldMetrics(webhook?: WebhookStats) {
  const metrics = new HeraldMetrics({
    connections: () => 5,
    uidsOnline: () => 3,
    pendingSockets: () => 2,
    controlConnections: () => 1,
    webhook,
  });
  return Object.assign(metrics, { [Symbol.dispose]: () => metrics.close() });
}

Deno.test("HeraldMetrics renders every metric of issue 11 with its type", () => {
  using metrics = heraldMetrics();
  const exposition = parseExposition(metrics.render());
  const expected: Record<string, string> = {
    herald_connections: "gauge",
    herald_uids_online: "gauge",
    herald_pending_sockets: "gauge",
    herald_connects_total: "counter",
    herald_disconnects_total: "counter",
    herald_pushes_total: "counter",
    herald_messages_delivered_total: "counter",
    herald_bytes_delivered_total: "counter",
    herald_slow_reader_closes_total: "counter",
    herald_control_connections: "gauge",
    herald_control_request_seconds: "histogram",
    herald_webhook_queue: "gauge",
    herald_webhook_dropped_total: "counter",
    herald_webhook_delivered_total: "counter",
    herald_webhook_failed_requests_total: "counter",
    herald_event_loop_lag_seconds: "gauge",
    process_resident_memory_bytes: "gauge",
  };
  assert.deepEqual(Object.fromEntries(exposition.types), expected);
  for (const name of exposition.types.keys()) assert.ok(exposition.help.get(name), name);
  assert.equal(valueOf(exposition, "herald_connections"), 5);
  assert.equal(valueOf(exposition, "herald_uids_online"), 3);
  assert.equal(valueOf(exposition, "herald_pending_sockets"), 2);
  assert.equal(valueOf(exposition, "herald_control_connections"), 1);
  assert.equal(valueOf(exposition, "herald_webhook_queue"), 0, "no webhook: zeros");
  assert.ok(valueOf(exposition, "process_resident_memory_bytes") > 1024 * 1024);
  for (const cmd of ["send", "publish", "broadcast"]) {
    for (const outcome of ["ok", "queued", "fail"]) {
      assert.equal(valueOf(exposition, "herald_pushes_total", { cmd, outcome }), 0, "from start");
    }
  }
});

Deno.test("HeraldMetrics counts pushes, deliveries, disconnects and request times", () => {
  using metrics = heraldMetrics({ queued: 4, dropped: 7, delivered: 90, failedRequests: 2 });
  metrics.connects.inc();
  metrics.pushes("send", "ok").inc();
  metrics.pushes("send", "ok").inc();
  metrics.pushes("broadcast", "fail").inc();
  metrics.pushes("send", "queued").inc();
  metrics.messagesDelivered.inc(3);
  metrics.bytesDelivered.inc(300);
  metrics.slowReaderCloses.inc();
  metrics.disconnects(1001).inc();
  metrics.disconnects(4005).inc();
  metrics.disconnects(4005).inc();
  metrics.disconnects(3999).inc();
  metrics.disconnects(4999).inc();
  metrics.controlRequestSeconds.observe(0.0003);
  const exposition = parseExposition(metrics.render());
  assert.equal(valueOf(exposition, "herald_connects_total"), 1);
  assert.equal(valueOf(exposition, "herald_pushes_total", { cmd: "send", outcome: "ok" }), 2);
  assert.equal(
    valueOf(exposition, "herald_pushes_total", { cmd: "broadcast", outcome: "fail" }),
    1,
  );
  assert.equal(valueOf(exposition, "herald_pushes_total", { cmd: "send", outcome: "queued" }), 1);
  assert.equal(valueOf(exposition, "herald_messages_delivered_total"), 3);
  assert.equal(valueOf(exposition, "herald_bytes_delivered_total"), 300);
  assert.equal(valueOf(exposition, "herald_slow_reader_closes_total"), 1);
  assert.equal(valueOf(exposition, "herald_disconnects_total", { code: "1001" }), 1);
  assert.equal(valueOf(exposition, "herald_disconnects_total", { code: "4005" }), 2);
  assert.equal(
    valueOf(exposition, "herald_disconnects_total", { code: "other" }),
    2,
    "codes a client picks share one label value",
  );
  assert.equal(valueOf(exposition, "herald_control_request_seconds_bucket", { le: "0.0005" }), 1);
  assert.equal(valueOf(exposition, "herald_control_request_seconds_bucket", { le: "0.00025" }), 0);
  assert.equal(valueOf(exposition, "herald_webhook_queue"), 4);
  assert.equal(valueOf(exposition, "herald_webhook_dropped_total"), 7);
  assert.equal(valueOf(exposition, "herald_webhook_delivered_total"), 90);
  assert.equal(valueOf(exposition, "herald_webhook_failed_requests_total"), 2);
  assert.equal(metrics.pushes("send", "ok"), metrics.pushes("send", "ok"), "pre-bound children");
});

Deno.test("HeraldMetrics samples event-loop lag until close()", async () => {
  const metrics = new HeraldMetrics({
    connections: () => 0,
    uidsOnline: () => 0,
    pendingSockets: () => 0,
    controlConnections: () => 0,
    lagSampleIntervalMs: 5,
  });
  try {
    const until = performance.now() + 100;
    while (performance.now() < until) { /* A long synchronous task. */ }
    // The sampler's timer is unref'd; this referenced one keeps the test alive while it fires.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const lag = valueOf(parseExposition(metrics.render()), "herald_event_loop_lag_seconds");
    assert.ok(lag > 0, `lag ${lag}`);
  } finally {
    metrics.close();
  }
});
