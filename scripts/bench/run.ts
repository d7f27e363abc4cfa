/**
 * `deno task bench`: runs every figure of issue 4 against the minimal reference server and
 * against Herald in the same run, and reports each as a ratio Herald ÷ reference.
 *
 * Each (figure, server) pair gets a fresh server process on free 127.0.0.1 ports and a fresh
 * load-generator process (`load.ts`), so the two never share a process or a warm heap. Prints
 * one line per figure and a table, and writes the whole run as JSON.
 *
 * Usage (Deno 2.9 reads /proc files only with --allow-all; every socket is on 127.0.0.1):
 *   deno run --allow-all scripts/bench/run.ts [--quick] [--figures memory,unicast,...]
 *     [--repeat 3] [--out bench-results/latest.json] [--herald main.ts] [--profile]
 *     [--budget 120] [--server-v8-flags=--max-semi-space-size=1]
 *     [--herald-env KEY=VALUE ...] [--broadcast-receiver native|deno]
 */
import { parseArgs } from "node:util";
import { readCpuSeconds, readMachineBusySeconds, round } from "./proc.ts";
import { chooseBroadcastReceiver, parseReceiverKind, type ReceiverKind } from "./native.ts";
import { freePort } from "../../tests/support/ports.ts";
import { RUN_PERMISSIONS, ServerProcess } from "../../tests/support/server_process.ts";
import { BENCH_HERALD_ARGS } from "./herald_args.ts";

/** A figure that the run can execute. */
export type FigureName = "memory" | "unicast" | "broadcast" | "latency" | "churn";

const ALL_FIGURES: FigureName[] = ["memory", "unicast", "broadcast", "latency", "churn"];
const SERVERS = ["reference", "herald"] as const;
type ServerKind = typeof SERVERS[number];

const BENCH_DIR = new URL(".", import.meta.url).pathname;
const REPO_DIR = new URL("../../", import.meta.url).pathname;
const READY_TIMEOUT_MS = 30_000;
const LOAD_TIMEOUT_MS = 180_000;
/** CPU per wall second used by other processes above which a measurement counts as disturbed. */
const NOISY_OTHER_UTIL = 0.3;
/** How long to wait for the machine to go quiet before each measurement. */
const QUIET_WAIT_MS = 15_000;
/** Fallback latency rate when the unicast figure did not run in the same invocation. */
const DEFAULT_LATENCY_RATE = 20_000;

/** Settings of one benchmark run. */
export interface RunOptions {
  quick: boolean;
  figures: FigureName[];
  /** Alternating reference/Herald repetitions per figure; the median is reported. */
  repeat: number;
  out: string;
  heraldEntry: string;
  /** Load-generator flags for this mode. */
  loadArgs: string[];
  /** Directory for `--cpu-prof` profiles of both servers, or undefined for none. */
  profileDir: string | undefined;
  /** Extra environment for the Herald process only, e.g. `DENO_USE_WRITEV=1`. */
  heraldEnv: Record<string, string>;
  /**
   * Seconds after which the run stops waiting for a quiet machine and stops re-measuring
   * disturbed figures, so a busy box cannot stretch the run without bound.
   */
  budgetSeconds: number;
  /** V8 flags for both servers alike, e.g. `--max-semi-space-size=1` for the memory figure. */
  serverV8Flags: string | undefined;
  /**
   * `--broadcast-receiver` as given: `native`, `deno`, or undefined for native when it builds
   * (resolved once per run, then passed to every load generator).
   */
  broadcastReceiver: ReceiverKind | undefined;
}

/** One reported number: reference, Herald and their ratio. */
interface Row {
  figure: string;
  unit: string;
  reference: number;
  herald: number;
  ratio: number;
  /** The issue's target, as text, or "" when the figure has none. */
  target: string;
  pass: boolean | null;
  /** True when another process took over NOISY_OTHER_UTIL of a core during a window. */
  noisy: boolean;
  reference_cpu: string;
  herald_cpu: string;
}

type Result = Record<string, unknown>;

/** True once the run has used its time budget; set by main(). */
let overBudget: () => boolean = () => false;

async function main(): Promise<void> {
  const opts = parseOptions(Deno.args);
  const started = performance.now();
  overBudget = () => performance.now() - started > opts.budgetSeconds * 1000;
  const machine = await describeMachine();
  console.log(
    `Herald benchmark (${opts.quick ? "quick" : "default"}): ${opts.figures.join(", ")}; ` +
      `${machine.cpus} CPUs, ${machine.mem_gib} GiB, deno ${Deno.version.deno}, ` +
      `repeat ${opts.repeat}`,
  );
  if (opts.figures.includes("broadcast")) {
    const receiver = await chooseBroadcastReceiver(opts.broadcastReceiver);
    if (receiver.kind === "native") {
      console.log(
        `broadcast receiver: native (${receiver.path}${receiver.built ? ", built now" : ""})`,
      );
    } else {
      console.log(receiver.notice ?? "broadcast receiver: deno (--broadcast-receiver deno)");
    }
    opts.loadArgs.push("--broadcast-receiver", receiver.kind);
  }
  const raw: Record<string, Record<ServerKind, Result[]>> = {};
  const rows: Row[] = [];
  for (const figure of opts.figures) {
    const extra: string[] = [];
    if (figure === "latency") extra.push("--rate", String(latencyRate(raw)));
    raw[figure] = { reference: [], herald: [] };
    // Idle memory barely moves between runs and costs the most time: measure it once.
    const repeat = figure === "memory" ? 1 : opts.repeat;
    for (let i = 0; i < repeat; i++) {
      // Alternate who goes first so slow drift of the machine hits both alike.
      const order = i % 2 === 0 ? SERVERS : [...SERVERS].reverse();
      for (const kind of order) {
        console.log(`- ${figure} on ${kind}${repeat > 1 ? ` (#${i + 1})` : ""}`);
        raw[figure]![kind].push(await measureQuietly(opts, kind, figure, extra));
      }
    }
    const figureRows = rowsOf(figure, raw[figure]!);
    for (const row of figureRows) console.log(formatLine(row));
    rows.push(...figureRows);
  }
  const elapsed = round((performance.now() - started) / 1000, 1);
  console.log(`\n${formatTable(rows)}\n`);
  const report = {
    date: new Date().toISOString(),
    mode: opts.quick ? "quick" : "default",
    elapsed_s: elapsed,
    machine,
    load_args: opts.loadArgs,
    repeat: opts.repeat,
    rows,
    raw,
  };
  await Deno.mkdir(opts.out.slice(0, opts.out.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(opts.out, JSON.stringify(report, null, 2) + "\n");
  console.log(`Wrote ${opts.out} in ${elapsed} s`);
}

function parseOptions(args: string[]): RunOptions {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      figures: { type: "string", default: ALL_FIGURES.join(",") },
      repeat: { type: "string" },
      out: { type: "string", default: "bench-results/latest.json" },
      herald: { type: "string", default: "main.ts" },
      profile: { type: "boolean", default: false },
      "herald-env": { type: "string", multiple: true, default: [] },
      budget: { type: "string" },
      "server-v8-flags": { type: "string" },
      "broadcast-receiver": { type: "string" },
    },
  });
  const figures = values.figures.split(",").map((f) => f.trim()) as FigureName[];
  for (const f of figures) {
    if (!ALL_FIGURES.includes(f)) {
      throw new RangeError(
        `Cannot run: --figures must name ${ALL_FIGURES.join(", ")}: current value is ${f}`,
      );
    }
  }
  // Short alternating runs beat one long run on a shared box: drift hits both servers alike.
  const repeat = Number(values.repeat ?? (values.quick ? 1 : 3));
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 9) {
    throw new RangeError(`Cannot run: --repeat must be 1-9: current value is ${values.repeat}`);
  }
  const loadArgs = values.quick
    ? [
      "--duration",
      "1",
      "--churn-duration",
      "2",
      "--memory-steps",
      "1000,5000",
      "--broadcast-clients",
      "1000,5000",
    ]
    : [
      "--duration",
      "1.5",
      "--churn-duration",
      "5",
      "--memory-steps",
      "1000,10000,19000",
      "--broadcast-clients",
      "1000,10000",
    ];
  return {
    quick: values.quick,
    figures,
    repeat,
    out: absolute(values.out),
    heraldEntry: absolute(values.herald),
    loadArgs,
    profileDir: values.profile ? absolute("bench-results/profiles") : undefined,
    heraldEnv: parseEnv(values["herald-env"]),
    budgetSeconds: Number(values.budget ?? (values.quick ? 40 : 120)),
    serverV8Flags: values["server-v8-flags"],
    broadcastReceiver: parseReceiverKind(values["broadcast-receiver"]),
  };
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq < 1) {
      throw new RangeError(`Cannot run: --herald-env must be KEY=VALUE: current value is ${pair}`);
    }
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function absolute(path: string): string {
  return path.startsWith("/") ? path : `${REPO_DIR}${path}`;
}

/** Half of the slower server's single-connection pipelined maximum, so both get one load. */
function latencyRate(raw: Record<string, Record<ServerKind, Result[]>>): number {
  const unicast = raw["unicast"];
  if (unicast === undefined) return DEFAULT_LATENCY_RATE;
  const max = (kind: ServerKind) =>
    median(unicast[kind].map((r) => num(r, "pipelined_1.pushes_per_s")));
  return Math.round(0.5 * Math.min(max("reference"), max("herald")));
}

/**
 * Measures once the machine is quiet, and once more if another process took more than
 * NOISY_OTHER_UTIL of a core during a measured window; the result says how it went.
 */
async function measureQuietly(
  opts: RunOptions,
  kind: ServerKind,
  figure: FigureName,
  extra: string[],
): Promise<Result> {
  let result: Result = {};
  for (let attempt = 1; attempt <= 2; attempt++) {
    const waited = overBudget() ? 0 : await waitForQuiet();
    result = await measure(opts, kind, figure, extra);
    const other = maxOtherUtil(result);
    result["attempt"] = attempt;
    result["quiet_wait_ms"] = waited;
    result["max_other_util"] = other;
    if (other <= NOISY_OTHER_UTIL) break;
    const again = attempt === 1 && !overBudget();
    console.log(
      `  other processes used ${other} of a core during ${figure} on ${kind}` +
        (again ? "; measuring again" : "; keeping it, marked noisy"),
    );
    if (!again) break;
  }
  return result;
}

/** Waits until other processes use under 0.15 of a core over 0.25 s; returns the wait in ms. */
async function waitForQuiet(): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < QUIET_WAIT_MS) {
    const m0 = readMachineBusySeconds();
    const self0 = readCpuSeconds("self");
    await new Promise((resolve) => setTimeout(resolve, 250));
    const other = readMachineBusySeconds() - m0 - (readCpuSeconds("self") - self0);
    if (other / 0.25 < 0.15) break;
  }
  return Math.round(performance.now() - start - 250);
}

/** The largest `other_util` of any CPU window in a result. */
function maxOtherUtil(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  let max = 0;
  for (const [key, inner] of Object.entries(value)) {
    if (key === "other_util" && typeof inner === "number") max = Math.max(max, inner);
    else max = Math.max(max, maxOtherUtil(inner));
  }
  return max;
}

async function measure(
  opts: RunOptions,
  kind: ServerKind,
  figure: FigureName,
  extra: string[],
): Promise<Result> {
  const server = await startServer(opts, kind, figure);
  try {
    const args = [
      "run",
      // Deno 2.9 reads /proc files (RSS, CPU time) only with --allow-all.
      "--allow-all",
      `${BENCH_DIR}load.ts`,
      "--figure",
      figure,
      "--ws-port",
      String(server.wsPort),
      "--control-port",
      String(server.controlPort),
      "--server-pid",
      String(server.pid),
      ...opts.loadArgs,
      ...extra,
    ];
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.timeout(LOAD_TIMEOUT_MS),
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) {
      throw new Error(
        `Cannot measure ${figure} on ${kind}: load generator exited with ${out.code}\n` +
          `server output: ${server.log.slice(-4000)}`,
      );
    }
    return JSON.parse(text.slice(text.lastIndexOf("\n") + 1)) as Result;
  } finally {
    await server.stop();
  }
}

/**
 * A fresh server on free ports, given rather than learned from the log: Herald runs with
 * `--log-level warning`, which does not print them.
 */
async function startServer(
  opts: RunOptions,
  kind: ServerKind,
  figure: FigureName,
): Promise<ServerProcess> {
  const runtimeFlags: string[] = opts.profileDir === undefined ? [] : [
    `--cpu-prof-dir=${opts.profileDir}`,
    `--cpu-prof-name=${kind}.${figure}.cpuprofile`,
    "--cpu-prof-md",
  ];
  if (opts.serverV8Flags !== undefined) runtimeFlags.push(`--v8-flags=${opts.serverV8Flags}`);
  const deno = [Deno.execPath(), "run", ...runtimeFlags];
  return await ServerProcess.start({
    command: kind === "reference"
      ? [...deno, "--allow-net", `${BENCH_DIR}reference_server.ts`]
      : [...deno, ...RUN_PERMISSIONS, opts.heraldEntry],
    args: kind === "reference" ? [] : [...BENCH_HERALD_ARGS],
    wsPort: freePort(),
    controlPort: freePort(),
    cwd: REPO_DIR,
    env: kind === "herald" ? opts.heraldEnv : {},
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
}

/** The reported rows of one figure: medians over repetitions, and their ratio. */
function rowsOf(figure: string, runs: Record<ServerKind, Result[]>): Row[] {
  const row = (
    name: string,
    unit: string,
    path: string,
    cpuPath: string,
    target: string,
    pass: (ratio: number, ref: number, herald: number) => boolean | null,
  ): Row => {
    const reference = median(runs.reference.map((r) => num(r, path)));
    const herald = median(runs.herald.map((r) => num(r, path)));
    const ratio = round(herald / reference, 3);
    return {
      figure: name,
      unit,
      reference,
      herald,
      ratio,
      target,
      pass: pass(ratio, reference, herald),
      noisy: [...runs.reference, ...runs.herald].some((r) =>
        num(r, "max_other_util") > NOISY_OTHER_UTIL
      ),
      reference_cpu: cpuText(medianRun(runs.reference, path), cpuPath),
      herald_cpu: cpuText(medianRun(runs.herald, path), cpuPath),
    };
  };
  const atLeast = (min: number) => (ratio: number) => ratio >= min;
  const atMost = (max: number) => (ratio: number) => ratio <= max;
  switch (figure) {
    case "memory": {
      const steps = (runs.reference[0]!["steps"] as Result[]).map((s) => s["connections"]);
      const last = steps.length - 1;
      return [
        ...steps.map((n, i) =>
          row(
            `idle RSS/conn @${n}`,
            "KiB",
            `steps.${i}.rss_per_conn_kib`,
            `steps.${i}.cpu`,
            "<= ref + 2 KiB",
            (_ratio, ref, herald) => herald <= ref + 2,
          )
        ),
        row(
          `idle RSS marginal ${steps[last - 1] ?? 0}->${steps[last]}`,
          "KiB",
          `steps.${last}.marginal_kib`,
          `steps.${last}.cpu`,
          "<= ref + 2 KiB",
          (_ratio, ref, herald) => herald <= ref + 2,
        ),
      ];
    }
    case "unicast":
      return [
        row(
          "unicast pipelined x1",
          "push/s",
          "pipelined_1.pushes_per_s",
          "pipelined_1.cpu",
          ">= 0.9",
          atLeast(0.9),
        ),
        row(
          "unicast pipelined x8",
          "push/s",
          "pipelined_8.pushes_per_s",
          "pipelined_8.cpu",
          ">= 0.9",
          atLeast(0.9),
        ),
        row(
          "unicast fresh conn",
          "push/s",
          "fresh.pushes_per_s",
          "fresh.cpu",
          ">= 0.9",
          atLeast(0.9),
        ),
      ];
    case "broadcast": {
      const first = runs.reference[0]!;
      // Runs before the native receiver existed used the Deno client and did not say so.
      const receiver = first["receiver"] ?? "deno";
      const sizes = first["results"] as Result[];
      return sizes.flatMap((s, i) => [
        row(
          `broadcast @${s["clients"]} (${receiver} rx)`,
          "msg/s",
          `results.${i}.deliveries_per_s`,
          `results.${i}.cpu`,
          ">= 0.9",
          atLeast(0.9),
        ),
        // Informational: server CPU per delivered frame in the same window, lower is better.
        row(
          `broadcast @${s["clients"]} server CPU`,
          "µs/msg",
          `results.${i}.server_us_per_delivery`,
          `results.${i}.cpu`,
          "",
          () => null,
        ),
      ]);
    }
    case "latency":
      return [
        row("latency p50", "ms", "p50_ms", "cpu", "", () => null),
        row("latency p99", "ms", "p99_ms", "cpu", "<= 1.5", atMost(1.5)),
      ];
    case "churn":
      return [
        row("churn", "cycle/s", "cycles_per_s", "cpu", ">= 0.95", atLeast(0.95)),
        // Informational: server CPU per cycle in the same window, lower is better.
        row("churn server CPU", "µs/cycle", "server_us_per_cycle", "cpu", "", () => null),
      ];
    default:
      return [];
  }
}

/** Reads a dotted path such as `steps.0.rss_per_conn_kib` as a number (NaN when absent). */
function num(obj: Result, path: string): number {
  const value = get(obj, path);
  return typeof value === "number" ? value : NaN;
}

function get(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const key of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** "server/client/other" CPU utilisation of a run, e.g. `0.97/0.61/0.02`. */
function cpuText(result: Result, path: string): string {
  const cpu = get(result, path) as Record<string, number> | undefined;
  if (cpu === undefined) return "";
  return `${cpu["server_util"]}/${cpu["client_util"]}/${cpu["other_util"]}`;
}

/** The run whose value at `path` is the (lower) median, so its CPU columns match the figure. */
function medianRun(runs: Result[], path: string): Result {
  const sorted = [...runs].sort((a, b) => num(a, path) - num(b, path));
  return sorted[(sorted.length - 1) >> 1]!;
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function verdict(row: Row): string {
  const noisy = row.noisy ? " (noisy)" : "";
  return (row.pass === null ? "" : row.pass ? "PASS" : "FAIL") + noisy;
}

function formatLine(row: Row): string {
  return `BENCH ${row.figure}: herald ${row.herald} ${row.unit}, reference ${row.reference} ` +
    `${row.unit}, ratio ${row.ratio}${
      row.target ? ` (target ${row.target}: ${verdict(row)})` : ""
    }`;
}

/** A Markdown table of the rows, also used verbatim in docs/benchmarks.md. */
export function formatTable(rows: Row[]): string {
  const header = [
    "figure",
    "unit",
    "reference",
    "herald",
    "herald ÷ ref",
    "target",
    "",
    "CPU ref srv/cli/other",
    "CPU herald srv/cli/other",
  ];
  const lines = rows.map((r) => [
    r.figure,
    r.unit,
    String(r.reference),
    String(r.herald),
    String(r.ratio),
    r.target,
    verdict(r),
    r.reference_cpu,
    r.herald_cpu,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    fmt(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...lines.map(fmt),
  ].join("\n");
}

async function describeMachine(): Promise<Record<string, unknown>> {
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? NaN);
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  return {
    cpus: navigator.hardwareConcurrency,
    cpu_model: model,
    mem_gib: round(memKb / 1024 / 1024, 1),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    network: "loopback (127.0.0.1)",
  };
}

if (import.meta.main) await main();
