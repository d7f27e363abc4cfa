import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics_registry.ts";
import { parseExposition, valueOf } from "./text_parser_for_tests.ts";

Deno.test("MetricsRegistry.render() reads back with HELP and TYPE before each metric's samples", () => {
  const metrics = new MetricsRegistry();
  const connects = metrics.counter({ name: "t_connects_total", help: "Sockets identified." });
  const pushes = metrics.labelledCounter({
    name: "t_pushes_total",
    help: "Pushes.",
    labelNames: ["cmd", "outcome"],
  });
  const lag = metrics.gauge({ name: "t_lag_seconds", help: "Lag." });
  let queue = 3;
  metrics.collected({ name: "t_queue", help: "Queued.", type: "gauge", read: () => queue });
  connects.inc();
  connects.inc(2);
  const sendOk = pushes.labels({ cmd: "send", outcome: "ok" });
  sendOk.inc();
  sendOk.inc();
  pushes.labels({ cmd: "publish", outcome: "fail" }).inc();
  lag.set(0.25);
  queue = 7;

  const text = metrics.render();
  const exposition = parseExposition(text);
  assert.equal(exposition.types.get("t_connects_total"), "counter");
  assert.equal(exposition.types.get("t_pushes_total"), "counter");
  assert.equal(exposition.types.get("t_lag_seconds"), "gauge");
  assert.equal(exposition.types.get("t_queue"), "gauge");
  assert.equal(exposition.help.get("t_connects_total"), "Sockets identified.");
  assert.equal(valueOf(exposition, "t_connects_total"), 3);
  assert.equal(valueOf(exposition, "t_pushes_total", { cmd: "send", outcome: "ok" }), 2);
  assert.equal(valueOf(exposition, "t_pushes_total", { cmd: "publish", outcome: "fail" }), 1);
  assert.equal(valueOf(exposition, "t_lag_seconds"), 0.25);
  assert.equal(valueOf(exposition, "t_queue"), 7, "collected values are read at render time");
  assert.ok(text.includes('t_pushes_total{cmd="send",outcome="ok"} 2\n'), text);
});

Deno.test("LabelledCounter.labels() returns the same child for the same values", () => {
  const metrics = new MetricsRegistry();
  const pushes = metrics.labelledCounter({ name: "t_total", help: "h", labelNames: ["a", "b"] });
  assert.equal(pushes.labels({ a: "x", b: "y" }), pushes.labels({ b: "y", a: "x" }));
  assert.notEqual(pushes.labels({ a: "x\0y", b: "" }), pushes.labels({ a: "x", b: "y\0" }));
});

Deno.test("MetricsRegistry escapes label values and HELP text so they read back unchanged", () => {
  const metrics = new MetricsRegistry();
  const awkward = 'back\\slash "quoted"\nnew line, comma} brace={';
  const counter = metrics.labelledCounter({
    name: "t_escaped_total",
    help: 'Help with a \\ backslash, "quotes"\nand a second line.',
    labelNames: ["value"],
  });
  counter.labels({ value: awkward }).inc();
  counter.labels({ value: "" }).inc(5);
  const text = metrics.render();
  assert.ok(text.includes('value="back\\\\slash \\"quoted\\"\\nnew line, comma} brace={"'), text);
  const exposition = parseExposition(text);
  assert.equal(
    exposition.help.get("t_escaped_total"),
    'Help with a \\ backslash, "quotes"\nand a second line.',
  );
  assert.equal(valueOf(exposition, "t_escaped_total", { value: awkward }), 1);
  assert.equal(valueOf(exposition, "t_escaped_total", { value: "" }), 5);
});

Deno.test("Histogram renders cumulative buckets, +Inf, _sum and _count", () => {
  const metrics = new MetricsRegistry();
  const seconds = metrics.histogram({
    name: "t_request_seconds",
    help: "Request time.",
    buckets: [0.001, 0.01, 0.1],
  });
  for (const value of [0.0005, 0.001, 0.005, 0.05, 0.05, 2]) seconds.observe(value);
  const exposition = parseExposition(metrics.render());
  assert.equal(exposition.types.get("t_request_seconds"), "histogram");
  const bucket = (le: string) => valueOf(exposition, "t_request_seconds_bucket", { le });
  assert.equal(bucket("0.001"), 2, "a value equal to a bound falls in that bucket");
  assert.equal(bucket("0.01"), 3);
  assert.equal(bucket("0.1"), 5);
  assert.equal(bucket("+Inf"), 6);
  assert.equal(valueOf(exposition, "t_request_seconds_count"), 6);
  assert.ok(Math.abs(valueOf(exposition, "t_request_seconds_sum") - 2.1065) < 1e-9);
  const les = exposition.samples.filter((s) => s.name === "t_request_seconds_bucket")
    .map((s) => s.labels.le);
  assert.deepEqual(les, ["0.001", "0.01", "0.1", "+Inf"], "buckets in increasing order");
});

Deno.test("An empty histogram and an unused labelled counter still render valid text", () => {
  const metrics = new MetricsRegistry();
  metrics.histogram({ name: "t_empty_seconds", help: "h", buckets: [1] });
  metrics.labelledCounter({ name: "t_unused_total", help: "h", labelNames: ["code"] });
  const exposition = parseExposition(metrics.render());
  assert.equal(valueOf(exposition, "t_empty_seconds_bucket", { le: "+Inf" }), 0);
  assert.equal(valueOf(exposition, "t_empty_seconds_count"), 0);
  assert.equal(exposition.types.get("t_unused_total"), "counter");
});

Deno.test("Special values render as the format spells them", () => {
  const metrics = new MetricsRegistry();
  for (
    const [name, value] of [["t_inf", Infinity], ["t_ninf", -Infinity], ["t_nan", NaN]] as const
  ) {
    metrics.collected({ name, help: "h", type: "gauge", read: () => value });
  }
  const text = metrics.render();
  assert.ok(text.includes("t_inf +Inf\n") && text.includes("t_ninf -Inf\n"), text);
  assert.ok(text.includes("t_nan NaN\n"), text);
  assert.ok(Number.isNaN(valueOf(parseExposition(text), "t_nan")));
});

Deno.test("MetricsRegistry refuses bad names, reserved labels, duplicates and bad buckets", () => {
  const metrics = new MetricsRegistry();
  metrics.counter({ name: "t_total", help: "h" });
  assert.throws(() => metrics.counter({ name: "t_total", help: "h" }), /already declared/);
  assert.throws(() => metrics.gauge({ name: "9lives", help: "h" }), /name must match/);
  assert.throws(() => metrics.gauge({ name: "with-dash", help: "h" }), /current value is/);
  for (const label of ["le", "__reserved", "bad-label", ""]) {
    assert.throws(
      () => metrics.labelledCounter({ name: "t_l_total", help: "h", labelNames: [label] }),
      RangeError,
      label,
    );
  }
  for (const buckets of [[1, 1], [2, 1], [1, Infinity], [NaN]]) {
    assert.throws(
      () => metrics.histogram({ name: "t_h", help: "h", buckets }),
      /finite and increasing/,
    );
  }
});

Deno.test("Counter.inc() refuses to go down", () => {
  const counter = new MetricsRegistry().counter({ name: "t_total", help: "h" });
  assert.throws(() => counter.inc(-1), /only go up: current value is -1/);
  assert.throws(() => counter.inc(NaN), RangeError);
  assert.equal(counter.value, 0);
});
