/**
 * What an increment costs on a hot path (`deno bench src/metrics/`); the figures and the
 * comparison with npm:prom-client are in metrics_registry.ts.
 * @module
 */
import { MetricsRegistry } from "./metrics_registry.ts";

const metrics = new MetricsRegistry();
const pushes = metrics.labelledCounter({
  name: "bench_pushes_total",
  help: "h",
  labelNames: ["cmd", "outcome"],
});
const sendOk = pushes.labels({ cmd: "send", outcome: "ok" });
const plain = metrics.counter({ name: "bench_total", help: "h" });
const seconds = metrics.histogram({
  name: "bench_seconds",
  help: "h",
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
});

Deno.bench("Counter.inc()", () => plain.inc());
Deno.bench("labelled Counter.inc(), child pre-bound", () => sendOk.inc());
Deno.bench("LabelledCounter.labels({cmd, outcome}).inc()", () => {
  pushes.labels({ cmd: "send", outcome: "ok" }).inc();
});
Deno.bench("Histogram.observe(), 13 buckets", () => seconds.observe(0.0003));
Deno.bench("MetricsRegistry.render()", () => {
  metrics.render();
});
