/**
 * Herald's load generator: measures one figure against a server that is already running on
 * 127.0.0.1 (Herald or the reference) and prints one JSON object on stdout. Run by `run.ts`,
 * one process per figure and server, so the client never shares a process with the server.
 *
 * Usage:
 *   deno run --allow-all scripts/bench/load.ts --figure unicast \
 *     --ws-port 9001 --control-port 9002 --server-pid 1234 [--duration 4]
 *
 * `--allow-all` because Deno 2.9 reads /proc (server RSS and CPU time) only with it.
 *
 * Figures: memory, unicast, broadcast, latency (needs --rate), churn. Every loop is bounded by
 * --duration and by a count, and every socket targets 127.0.0.1.
 *
 * `--broadcast-receiver native|deno`: who holds the broadcast figure's clients; native (the C
 * program of `native/`, built with gcc on first use) unless it cannot be built.
 */
import { parseArgs } from "node:util";
import { WsClient } from "./ws_client.ts";
import { ControlConn } from "./control.ts";
import { Counter } from "./counter.ts";
import { type CpuSample, readRssBytes, round, startCpuWindow } from "./proc.ts";
import {
  chooseBroadcastReceiver,
  NativeReceiver,
  parseReceiverKind,
  type ReceiverKind,
} from "./native.ts";

/** Settings of one load-generator run, from the command line. */
export interface LoadOptions {
  figure: string;
  wsPort: number;
  controlPort: number;
  serverPid: number;
  /** Seconds each throughput or latency window lasts, warm-up excluded. */
  duration: number;
  /** Connection counts of the memory figure. */
  memorySteps: number[];
  /** Client counts of the broadcast figure. */
  broadcastClients: number[];
  /** Online uids that unicast and latency pushes pick from. */
  receivers: number;
  /** Pushes per second of the latency figure. */
  rate: number;
  /** Concurrent connect-write-read-close loops of the fresh-connection unicast mode. */
  freshConcurrency: number;
  /** Concurrent connect-identify-push-close loops of the churn figure. */
  churnConcurrency: number;
  /**
   * Seconds the churn window lasts: longer than the others, since churn swings most between
   * windows and its cycles are few (a few thousand per second).
   */
  churnDuration: number;
  /** Which unicast modes to run: `x1`, `x8`, `fresh` (all by default; fewer for profiling). */
  unicastModes: string[];
  /**
   * Who receives the broadcast figure's frames: `native` (the C receiver), `deno` (`WsClient`
   * in this process), or undefined for native when it builds, else deno.
   */
  broadcastReceiver: ReceiverKind | undefined;
}

const CONNECT_BATCH = 250;
const IDENTIFY_TIMEOUT_MS = 30_000;
const MAX_PUSHES_PER_WINDOW = 20_000_000;
const PIPELINE_BATCH = 256;
const PIPELINE_WINDOW = 4096;
const BROADCAST_WINDOW = 4;
/** Pause after opening clients, so connection set-up work does not leak into a window. */
const SETTLE_MS = 500;
const encoder = new TextEncoder();

/** A set of identified clients whose uids are `${prefix}${index}`. */
class ClientPool {
  readonly clients: WsClient[] = [];
  /** Text frames received after the identify acknowledgement, over all clients. */
  readonly deliveries = new Counter();
  readonly identified = new Counter();
  /** Called with each delivered payload when set (latency figure). */
  onDelivery: ((payload: Uint8Array) => void) | undefined;
  closedEarly = 0;

  constructor(readonly port: number, readonly prefix: string) {}

  /** Opens and identifies clients until the pool holds `total`. */
  async grow(total: number): Promise<void> {
    const onText = (client: WsClient, payload: Uint8Array) => {
      if (client.received === 1) {
        this.identified.add();
      } else {
        this.deliveries.add();
        this.onDelivery?.(payload);
      }
    };
    const onClose = () => this.closedEarly++;
    while (this.clients.length < total) {
      const start = this.clients.length;
      const n = Math.min(CONNECT_BATCH, total - start);
      const batch = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const client = await WsClient.connect({ port: this.port, onText, onClose });
          await client.sendText(`{"uid":"${this.prefix}${start + i}"}`);
          return client;
        }),
      );
      this.clients.push(...batch);
    }
    if (!await this.identified.waitFor(total, IDENTIFY_TIMEOUT_MS)) {
      throw new Error(
        `Cannot identify clients: ${this.identified.value} of ${total} acknowledged in ` +
          `${IDENTIFY_TIMEOUT_MS} ms`,
      );
    }
  }
}

/** Runs one figure and returns its result object. */
export async function runFigure(opts: LoadOptions): Promise<Record<string, unknown>> {
  switch (opts.figure) {
    case "memory":
      return await memory(opts);
    case "unicast":
      return await unicast(opts);
    case "broadcast":
      return await broadcast(opts);
    case "latency":
      return await latency(opts);
    case "churn":
      return await churn(opts);
    default:
      throw new RangeError(`Cannot run: unknown --figure: current value is ${opts.figure}`);
  }
}

/** Idle RSS per identified connection at each step, above the RSS before any connection. */
async function memory(opts: LoadOptions): Promise<Record<string, unknown>> {
  await sleep(500);
  const baseline = readRssBytes(opts.serverPid);
  const pool = new ClientPool(opts.wsPort, "m");
  const steps = [];
  let previous = { connections: 0, rss: baseline };
  for (const n of opts.memorySteps) {
    const cpu = startCpuWindow(opts.serverPid);
    await pool.grow(n);
    const sample = cpu();
    // Idle: let the server finish post-handshake work before reading RSS.
    await sleep(1500);
    const rss = readRssBytes(opts.serverPid);
    steps.push({
      connections: n,
      rss_bytes: rss,
      rss_per_conn_kib: round((rss - baseline) / n / 1024, 2),
      // Slope since the previous step: free of the baseline and of the first heap growth.
      marginal_kib: round((rss - previous.rss) / (n - previous.connections) / 1024, 2),
      connect_per_s: round(n / sample.wall_s, 0),
      cpu: sample,
    });
    previous = { connections: n, rss };
    log(`memory ${n}: ${round((rss - baseline) / n / 1024, 2)} KiB/conn`);
  }
  return { baseline_rss_bytes: baseline, steps, closed_early: pool.closedEarly };
}

/** Unicast pushes per second: 1 pipelined connection, 8, and a fresh connection per push. */
async function unicast(opts: LoadOptions): Promise<Record<string, unknown>> {
  const pool = new ClientPool(opts.wsPort, "u");
  await pool.grow(opts.receivers);
  await sleep(SETTLE_MS);
  const batches = buildUnicastBatches(opts.receivers, 64);
  const result: Record<string, unknown> = { receivers: opts.receivers };
  if (opts.unicastModes.includes("x1")) {
    const pipelined1 = await pipelined(opts, pool, batches, 1);
    log(`unicast pipelined x1: ${pipelined1.pushes_per_s}/s`);
    result["pipelined_1"] = pipelined1;
  }
  if (opts.unicastModes.includes("x8")) {
    const pipelined8 = await pipelined(opts, pool, batches, 8);
    log(`unicast pipelined x8: ${pipelined8.pushes_per_s}/s`);
    result["pipelined_8"] = pipelined8;
  }
  if (opts.unicastModes.includes("fresh")) {
    const fresh = await freshConnections(opts);
    log(`unicast fresh x${opts.freshConcurrency}: ${fresh.pushes_per_s}/s`);
    result["fresh"] = fresh;
  }
  return result;
}

function buildUnicastBatches(receivers: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, () => {
    let text = "";
    for (let i = 0; i < PIPELINE_BATCH; i++) {
      text += `{"uid":"u${Math.floor(Math.random() * receivers)}","data":"unicast"}\n`;
    }
    return encoder.encode(text);
  });
}

async function pipelined(
  opts: LoadOptions,
  pool: ClientPool,
  batches: Uint8Array[],
  connections: number,
): Promise<Record<string, unknown>> {
  const conns = await Promise.all(
    Array.from({ length: connections }, () => ControlConn.open(opts.controlPort)),
  );
  const deliveredBefore = pool.deliveries.value;
  const replies = () => conns.reduce((sum, c) => sum + c.replies.value, 0);
  const warmUntil = performance.now() + warmUpMs(opts);
  const endAt = warmUntil + opts.duration * 1000;
  const perConnMax = MAX_PUSHES_PER_WINDOW / connections;
  let measureStart: { t: number; replies: number; cpu: () => CpuSample } | undefined;
  let measured: { rate: number; cpu: CpuSample } | undefined;
  const window = Math.max(PIPELINE_BATCH, PIPELINE_WINDOW / connections);

  const loops = conns.map(async (conn, k) => {
    let sent = 0;
    let b = k;
    while (performance.now() < endAt && sent < perConnMax) {
      if (sent - conn.replies.value >= window) {
        if (!await conn.replies.waitFor(sent - window + 1, 5000)) break;
        continue;
      }
      await conn.write(batches[b++ % batches.length]!);
      sent += PIPELINE_BATCH;
    }
    await conn.replies.waitFor(sent, 5000);
    return sent;
  });
  const clock = (async () => {
    await sleep(Math.max(0, warmUntil - performance.now()));
    measureStart = {
      t: performance.now(),
      replies: replies(),
      cpu: startCpuWindow(opts.serverPid),
    };
    await sleep(Math.max(0, endAt - performance.now()));
    const cpu = measureStart.cpu();
    measured = {
      rate: (replies() - measureStart.replies) / ((performance.now() - measureStart.t) / 1000),
      cpu,
    };
  })();
  const sent = (await Promise.all(loops)).reduce((a, b) => a + b, 0);
  await clock;
  const notOk = conns.reduce((sum, c) => sum + c.notOk, 0);
  const total = replies();
  // Deliveries trail the replies slightly: give the last frames a moment.
  await pool.deliveries.waitFor(deliveredBefore + total - notOk, 2000);
  for (const conn of conns) conn.close();
  return {
    connections,
    pushes_per_s: round(measured!.rate, 0),
    sent,
    replies: total,
    not_ok: notOk,
    delivered: pool.deliveries.value - deliveredBefore,
    cpu: measured!.cpu,
  };
}

/** The PHP backend's pattern: connect, write one line, read the reply, close. */
async function freshConnections(opts: LoadOptions): Promise<Record<string, unknown>> {
  const warmUntil = performance.now() + warmUpMs(opts);
  const endAt = warmUntil + opts.duration * 1000;
  let done = 0;
  let failed = 0;
  let errors = 0;
  let counted = 0;
  const buf = new Uint8Array(256);
  const loops = Array.from({ length: opts.freshConcurrency }, async () => {
    const readBuf = buf.slice();
    while (performance.now() < endAt && done < MAX_PUSHES_PER_WINDOW) {
      const uid = `u${Math.floor(Math.random() * opts.receivers)}`;
      let conn: Deno.TcpConn | undefined;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: opts.controlPort });
        await conn.write(encoder.encode(`{"uid":"${uid}","data":"fresh"}\n`));
        let got = 0;
        while (true) {
          const n = await conn.read(readBuf.subarray(got));
          if (n === null) break;
          got += n;
          if (readBuf.subarray(0, got).includes(0x0a) || got === readBuf.length) break;
        }
        if (readBuf[0] !== 0x6f) failed++;
        done++;
        if (performance.now() >= warmUntil) counted++;
      } catch {
        errors++;
        await sleep(1);
      } finally {
        try {
          conn?.close();
        } catch {
          // Already closed.
        }
      }
    }
  });
  await sleep(Math.max(0, warmUntil - performance.now()));
  const cpu = startCpuWindow(opts.serverPid);
  const t0 = performance.now();
  await Promise.all(loops);
  const elapsed = (performance.now() - t0) / 1000;
  return {
    concurrency: opts.freshConcurrency,
    pushes_per_s: round(counted / elapsed, 0),
    pushes: done,
    not_ok: failed,
    errors,
    cpu: cpu(),
  };
}

/**
 * Broadcast deliveries per second to each client count. The clients live in the native
 * receiver (a child process, whose CPU is added to this one's as the client's) or in this
 * process; windows, flow control and CPU accounting are the same for both.
 */
async function broadcast(opts: LoadOptions): Promise<Record<string, unknown>> {
  const choice = await chooseBroadcastReceiver(opts.broadcastReceiver);
  if (choice.kind === "deno" && choice.notice !== undefined) log(choice.notice);
  const pool = choice.kind === "native"
    ? NativeReceiver.start({ path: choice.path, port: opts.wsPort, prefix: "b" })
    : new ClientPool(opts.wsPort, "b");
  const native = pool instanceof NativeReceiver ? pool : undefined;
  const clientPids: (number | "self")[] = native ? [native.pid, "self"] : ["self"];
  const clientProcesses = native ? "broadcast_receiver + load.ts" : "load.ts";
  const results = [];
  try {
    for (const n of opts.broadcastClients) {
      await pool.grow(n);
      await sleep(SETTLE_MS);
      results.push(await broadcastTo(opts, pool, n, clientPids));
    }
  } finally {
    await native?.close();
  }
  return {
    receiver: choice.kind,
    client_processes: clientProcesses,
    results,
    closed_early: pool.closedEarly,
  };
}

/** One broadcast window to the `n` clients of `pool`. */
async function broadcastTo(
  opts: LoadOptions,
  pool: ClientPool | NativeReceiver,
  n: number,
  clientPids: (number | "self")[],
): Promise<Record<string, unknown>> {
  const conn = await ControlConn.open(opts.controlPort);
  const line = encoder.encode(`{"cmd":"broadcast","data":"hello everyone"}\n`);
  const base = pool.deliveries.value;
  const warmUntil = performance.now() + warmUpMs(opts);
  const endAt = warmUntil + opts.duration * 1000;
  let sent = 0;
  let stalled = false;
  let start: { t: number; delivered: number; cpu: () => CpuSample } | undefined;
  while (performance.now() < endAt && sent * n < MAX_PUSHES_PER_WINDOW) {
    if (start === undefined && performance.now() >= warmUntil) {
      start = {
        t: performance.now(),
        delivered: pool.deliveries.value,
        cpu: startCpuWindow(opts.serverPid, clientPids),
      };
    }
    // Flow control: at most BROADCAST_WINDOW broadcasts not yet fully received.
    const need = base + (sent - BROADCAST_WINDOW + 1) * n;
    if (pool.deliveries.value < need) {
      if (!await pool.deliveries.waitFor(need, 5000)) {
        stalled = true;
        break;
      }
      continue;
    }
    await conn.write(line);
    sent++;
  }
  start ??= { t: performance.now(), delivered: pool.deliveries.value, cpu: () => emptyCpu() };
  const cpu = start.cpu();
  const inWindow = pool.deliveries.value - start.delivered;
  const rate = inWindow / ((performance.now() - start.t) / 1000);
  await pool.deliveries.waitFor(base + sent * n, 5000);
  await conn.replies.waitFor(sent, 2000);
  conn.close();
  log(`broadcast ${n}: ${round(rate, 0)} deliveries/s${stalled ? " (stalled)" : ""}`);
  return {
    clients: n,
    deliveries_per_s: round(rate, 0),
    // Server CPU per delivered frame: comparable across runs even when the client limits rate.
    server_us_per_delivery: inWindow > 0 ? round(cpu.server_cpu_s * 1e6 / inWindow, 2) : null,
    broadcasts: sent,
    delivered: pool.deliveries.value - base,
    not_ok: conn.notOk,
    stalled,
    cpu,
  };
}

/** Push-written to client-received latency at a fixed offered rate over one connection. */
async function latency(opts: LoadOptions): Promise<Record<string, unknown>> {
  if (!(opts.rate > 0)) throw new RangeError(`Cannot run latency: --rate must be > 0`);
  const pool = new ClientPool(opts.wsPort, "l");
  await pool.grow(opts.receivers);
  await sleep(SETTLE_MS);
  const conn = await ControlConn.open(opts.controlPort);
  const samples: number[] = [];
  let recording = false;
  pool.onDelivery = (payload) => {
    if (recording) samples.push(performance.now() - parseDecimal(payload));
  };
  const warmUntil = performance.now() + warmUpMs(opts);
  const endAt = warmUntil + opts.duration * 1000;
  const t0 = performance.now();
  const maxBurst = Math.max(1, Math.ceil(opts.rate / 100));
  let sent = 0;
  let cpu: (() => CpuSample) | undefined;
  let measuredFrom = 0;
  while (performance.now() < endAt && sent < MAX_PUSHES_PER_WINDOW) {
    const now = performance.now();
    if (!recording && now >= warmUntil) {
      recording = true;
      cpu = startCpuWindow(opts.serverPid);
      measuredFrom = sent;
    }
    // Catch up after a late timer, but never by more than 10 ms worth of pushes at once.
    const due = Math.min(maxBurst, Math.floor(((now - t0) / 1000) * opts.rate) - sent);
    if (due > 0) {
      const ts = performance.now().toFixed(3);
      let text = "";
      for (let i = 0; i < due; i++) {
        text += `{"uid":"l${Math.floor(Math.random() * opts.receivers)}","data":"${ts}"}\n`;
      }
      conn.queue(text);
      sent += due;
    }
    await sleep(1);
  }
  const sample = cpu?.() ?? emptyCpu();
  await conn.replies.waitFor(sent, 5000);
  recording = false;
  conn.close();
  samples.sort((a, b) => a - b);
  return {
    offered_per_s: opts.rate,
    achieved_per_s: round((sent - measuredFrom) / sample.wall_s, 0),
    samples: samples.length,
    p50_ms: round(percentile(samples, 0.5), 3),
    p90_ms: round(percentile(samples, 0.9), 3),
    p99_ms: round(percentile(samples, 0.99), 3),
    max_ms: round(samples.at(-1) ?? NaN, 3),
    not_ok: conn.notOk,
    cpu: sample,
  };
}

/** Connect, identify, receive one push, close: complete cycles per second. */
async function churn(opts: LoadOptions): Promise<Record<string, unknown>> {
  const conn = await ControlConn.open(opts.controlPort);
  const warmUntil = performance.now() + warmUpMs(opts);
  const endAt = warmUntil + opts.churnDuration * 1000;
  let cycles = 0;
  let counted = 0;
  let failures = 0;
  const loops = Array.from({ length: opts.churnConcurrency }, async (_, k) => {
    for (let i = 0; performance.now() < endAt && cycles < MAX_PUSHES_PER_WINDOW; i++) {
      const uid = `c${k}_${i}`;
      const frames = new Counter();
      const closed = new Counter();
      try {
        const client = await WsClient.connect({
          port: opts.wsPort,
          onText: () => frames.add(),
          onClose: () => closed.add(),
        });
        await client.sendText(`{"uid":"${uid}"}`);
        const identified = await frames.waitFor(1, 5000);
        if (identified) conn.queue(`{"uid":"${uid}","data":"bye"}\n`);
        const pushed = identified && await frames.waitFor(2, 5000);
        client.close();
        const ended = await closed.waitFor(1, 5000);
        if (!pushed || !ended) {
          failures++;
          continue;
        }
        cycles++;
        if (performance.now() >= warmUntil) counted++;
      } catch {
        failures++;
        await sleep(1);
      }
    }
  });
  await sleep(Math.max(0, warmUntil - performance.now()));
  const cpu = startCpuWindow(opts.serverPid);
  const t0 = performance.now();
  await Promise.all(loops);
  const elapsed = (performance.now() - t0) / 1000;
  const window = cpu();
  await conn.replies.waitFor(cycles, 2000);
  conn.close();
  return {
    concurrency: opts.churnConcurrency,
    cycles_per_s: round(counted / elapsed, 0),
    // Steadier than cycles/s: the load generator shares the machine and bounds the rate too.
    server_us_per_cycle: counted > 0 ? round(window.server_cpu_s * 1e6 / counted, 1) : null,
    cycles,
    failures,
    push_not_ok: conn.notOk,
    cpu: window,
  };
}

/** Parses an ASCII decimal such as `12345.678` without allocating a string. */
function parseDecimal(bytes: Uint8Array): number {
  let value = 0;
  let scale = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x2e) {
      scale = 1;
    } else {
      value = value * 10 + (b - 0x30);
      if (scale > 0) scale *= 10;
    }
  }
  return scale > 0 ? value / scale : value;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

function warmUpMs(opts: LoadOptions): number {
  return Math.min(1000, opts.duration * 250);
}

function emptyCpu(): CpuSample {
  return {
    wall_s: 0,
    server_cpu_s: 0,
    client_cpu_s: 0,
    server_util: 0,
    client_util: 0,
    other_util: 0,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(msg: string): void {
  console.error(`  [load] ${msg}`);
}

function parseList(name: string, value: string): number[] {
  const list = value.split(",").map(Number);
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new RangeError(
      `Cannot run: ${name} must be positive integers: current value is ${value}`,
    );
  }
  return list;
}

function parseNumber(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new RangeError(`Cannot run: ${name} must be a number >= 0: current value is ${value}`);
  }
  return n;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      figure: { type: "string" },
      "ws-port": { type: "string" },
      "control-port": { type: "string" },
      "server-pid": { type: "string" },
      duration: { type: "string", default: "4" },
      "memory-steps": { type: "string", default: "1000,10000,19000" },
      "broadcast-clients": { type: "string", default: "1000,10000" },
      receivers: { type: "string", default: "1000" },
      rate: { type: "string", default: "0" },
      "fresh-concurrency": { type: "string", default: "8" },
      "churn-concurrency": { type: "string", default: "32" },
      "churn-duration": { type: "string" },
      "unicast-modes": { type: "string", default: "x1,x8,fresh" },
      "broadcast-receiver": { type: "string" },
    },
  });
  const opts: LoadOptions = {
    figure: values.figure ?? "",
    wsPort: parseNumber("--ws-port", values["ws-port"] ?? ""),
    controlPort: parseNumber("--control-port", values["control-port"] ?? ""),
    serverPid: parseNumber("--server-pid", values["server-pid"] ?? ""),
    duration: parseNumber("--duration", values.duration),
    memorySteps: parseList("--memory-steps", values["memory-steps"]),
    broadcastClients: parseList("--broadcast-clients", values["broadcast-clients"]),
    receivers: parseNumber("--receivers", values.receivers),
    rate: parseNumber("--rate", values.rate),
    freshConcurrency: parseNumber("--fresh-concurrency", values["fresh-concurrency"]),
    churnConcurrency: parseNumber("--churn-concurrency", values["churn-concurrency"]),
    churnDuration: parseNumber("--churn-duration", values["churn-duration"] ?? values.duration),
    unicastModes: values["unicast-modes"].split(","),
    broadcastReceiver: parseReceiverKind(values["broadcast-receiver"]),
  };
  const result = await runFigure(opts);
  console.log(JSON.stringify({ figure: opts.figure, ...result }));
  // Client sockets are still open by design (idle clients); exiting closes them all at once.
  Deno.exit(0);
}
