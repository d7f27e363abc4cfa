/**
 * The Prometheus text exposition format, version 0.0.4: names, escaping and sample lines.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 * @module
 */

/** The `Content-Type` of a `GET /metrics` answer. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The types a `# TYPE` line may name that Herald exposes. */
export type MetricType = "counter" | "gauge" | "histogram";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws a RangeError unless `name` is a valid metric name. */
export function checkMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) {
    throw new RangeError(
      `Cannot declare metric: name must match ${METRIC_NAME.source}: current value is "${name}"`,
    );
  }
}

/** Throws a RangeError unless `label` may be a label of metric `metric`. */
export function checkLabelName(metric: string, label: string): void {
  // "__" is reserved for Prometheus itself; "le" is the histogram bucket label.
  if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
    throw new RangeError(
      `Cannot declare metric ${metric}: label names must match ${LABEL_NAME.source}, not start ` +
        `with "__" and not be "le": current value is "${label}"`,
    );
  }
}

/** The `# HELP` and `# TYPE` lines of a metric. */
export function headerLines(name: string, help: string, type: MetricType): string {
  // In HELP text only backslash and newline are escaped (no quotes around it).
  const escaped = help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return `# HELP ${name} ${escaped}\n# TYPE ${name} ${type}\n`;
}

/**
 * The `{a="x",b="y"}` part of a sample line, built once per label set: values escaped, names in
 * the order given. Empty when there are no labels.
 */
export function labelText(labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return "";
  const pairs = labels.map(([name, value]) =>
    `${name}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  );
  return `{${pairs.join(",")}}`;
}

/** A sample value as the format spells it: `+Inf`, `-Inf` and `NaN` included. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value); // NaN prints as "NaN", which the format accepts.
}
