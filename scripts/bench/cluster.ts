/**
 * `deno task bench:cluster`: three Herald nodes on one Redis against one node alone, in the same
 * run. Each node's connections are held by a native receiver process of its own (one process
 * stops near 19k sockets here), so three nodes hold together more than one process can.
 *
 * Figures: connections held; pipelined unicast throughput to uids on the pushing node (local)
 * and on other nodes (cross-node), and a single node's; broadcast deliveries per second; the
 * latency a Redis hop adds (p50/p99 of push-to-receipt, local vs cross-node); CPU per push of
 * the nodes and of redis-server. CPU seconds come from /proc, with the CPU every other process
 * used in the same window (`other_util`): the machine is shared, so prefer the per-push CPU
 * figures to the rates when `other_util` is high.
 *
 * Usage (reads /proc, so --allow-all):
 *   deno run --allow-all scripts/bench/cluster.ts [--quick] [--per-node 15000] [--duration 4]
 *     [--out bench-results/cluster.json]
 * @module
 */
import { parseArgs } from "node:util";
import { ControlConn } from "./control.ts";
import { buildBroadcastReceiver, NativeReceiver } from "./native.ts";
import { readCpuSeconds, readMachineBusySeconds, readRssBytes, round } from "./proc.ts";
import { WsClient } from "./ws_client.ts";
import { freePort } from "../../tests/support/ports.ts";
import { RedisServer } from "../../tests/support/redis_server.ts";
import { ServerProcess } from "../../tests/support/server_process.ts";
import { BENCH_HERALD_ARGS } from "./herald_args.ts";

const encoder = new TextEncoder();
const PIPELINE_BATCH = 256;
const PIPELINE_WINDOW = 4096;
const BROADCAST_WINDOW = 4;
const LATENCY_RATE = 200;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    "per-node": { type: "string" },
    duration: { type: "string" },
    out: { type: "string", default: "bench-results/cluster.json" },
  },
});
const QUICK = values.quick;
const PER_NODE = Number(values["per-node"] ?? (QUICK ? 1500 : 15_000));
const DURATION_S = Number(values.duration ?? (QUICK ? 1.5 : 4));
const LATENCY_SAMPLES = QUICK ? 200 : 1000;

/** CPU seconds of some processes and of the whole machine, over one window. */
function cpuWindow(pids: Record<string, number>): () => Record<string, number> {
  const t0 = performance.now();
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, readCpuSeconds(p)]));
  const self0 = readCpuSeconds("self");
  const m0 = readMachineBusySeconds();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const used: Record<string, number> = { wall_s: round(wall, 3) };
    let ours = readCpuSeconds("self") - self0;
    for (const [k, pid] of Object.entries(pids)) {
      const s = readCpuSeconds(pid) - before[k]!;
      used[`${k}_cpu_s`] = round(s, 2);
      ours += s;
    }
    used.other_util = round(Math.max(0, readMachineBusySeconds() - m0 - ours) / wall, 2);
    return used;
  };
}

/** Nodes, optionally on a Redis, each with a native receiver holding `PER_NODE` clients. */
interface Setup {
  nodes: ServerProcess[];
  receivers: NativeReceiver[];
  redis: RedisServer | undefined;
}

async function startSetup(count: number, withRedis: boolean, receiverPath: string) {
  const redis = withRedis ? await RedisServer.start() : undefined;
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) =>
    ServerProcess.start({
      wsPort: freePort(),
      controlPort: freePort(),
      readyTimeoutMs: 30_000,
      args: [
        ...BENCH_HERALD_ARGS,
        "--max-connections",
        "19000",
        ...(redis === undefined ? [] : ["--redis", redis.url, "--node-id", `n${i}`]),
      ],
    })));
  if (redis !== undefined) {
    // The nodes are ready for cluster traffic once each has written its presence.
    const deadline = Date.now() + 15_000;
    while (Number(await redis.cli("zcard", "herald:nodes")) < count) {
      if (Date.now() > deadline) throw new Error("Cannot start the cluster: nodes not in Redis");
      await sleep(50);
    }
  }
  const receivers = nodes.map((node, i) =>
    NativeReceiver.start({ path: receiverPath, port: node.wsPort, prefix: `n${i}u` })
  );
  const t0 = performance.now();
  await Promise.all(receivers.map((r) => r.grow(PER_NODE)));
  const connectS = (performance.now() - t0) / 1000;
  if (redis !== undefined) {
    const deadline = Date.now() + 60_000;
    while (Number(await redis.cli("hlen", "herald:uids")) < PER_NODE * count) {
      if (Date.now() > deadline) throw new Error("Cannot start: presence did not reach Redis");
      await sleep(100);
    }
  }
  const setup: Setup = { nodes, receivers, redis };
  return { setup, connectS };
}

async function stopSetup(setup: Setup): Promise<void> {
  await Promise.all(setup.receivers.map((r) => r.close()));
  await Promise.all(setup.nodes.map((n) => n.stop("SIGTERM", 10_000)));
  await setup.redis?.stop();
}

function pids(setup: Setup): Record<string, number> {
  const all: Record<string, number> = {};
  setup.nodes.forEach((n, i) => all[`node${i}`] = n.pid);
  setup.receivers.forEach((r, i) => all[`receiver${i}`] = r.pid);
  if (setup.redis !== undefined) all.redis = setup.redis.pid!;
  return all;
}

/**
 * Pipelined pushes through node 0 to uids held by `targetNode`, over `connections` control
 * connections; pushes per second and CPU per push. A control connection answers its lines one
 * after another, so a push that waits for Redis holds up the ones behind it on that connection.
 */
async function unicast(setup: Setup, targetNode: number, connections = 1) {
  const batches = Array.from({ length: 32 }, () => {
    let text = "";
    for (let i = 0; i < PIPELINE_BATCH; i++) {
      text += `{"uid":"n${targetNode}u${Math.floor(Math.random() * PER_NODE)}","data":"x"}\n`;
    }
    return encoder.encode(text);
  });
  const conns = await Promise.all(
    Array.from({ length: connections }, () => ControlConn.open(setup.nodes[0]!.controlPort)),
  );
  const replies = () => conns.reduce((sum, c) => sum + c.replies.value, 0);
  const receiver = setup.receivers[targetNode]!;
  const delivered0 = receiver.deliveries.value;
  const window = Math.max(PIPELINE_BATCH, PIPELINE_WINDOW / connections);
  const warmUntil = performance.now() + 1000;
  const endAt = warmUntil + DURATION_S * 1000;
  let start: { t: number; replies: number; cpu: () => Record<string, number> } | undefined;
  let measured: { rate: number; replies: number; cpu: Record<string, number> } | undefined;
  const sent = conns.map(() => 0);
  await Promise.all(conns.map(async (conn, k) => {
    let b = k;
    while (performance.now() < endAt) {
      if (sent[k]! - conn.replies.value >= window) {
        await conn.replies.waitFor(sent[k]! - window + 1, 10_000);
        continue;
      }
      if (start === undefined && performance.now() >= warmUntil) {
        start = { t: performance.now(), replies: replies(), cpu: cpuWindow(pids(setup)) };
      }
      await conn.write(batches[b++ % batches.length]!);
      sent[k]! += PIPELINE_BATCH;
    }
    if (measured === undefined && start !== undefined) {
      const cpu = start.cpu();
      const n = replies() - start.replies;
      measured = { rate: n / ((performance.now() - start.t) / 1000), replies: n, cpu };
    }
  }));
  const total = sent.reduce((a, b) => a + b, 0);
  await Promise.all(conns.map((c, k) => c.replies.waitFor(sent[k]!, 60_000)));
  const notOk = conns.reduce((sum, c) => sum + c.notOk, 0);
  for (const conn of conns) conn.close();
  await Promise.all(conns.map((c) => c.done));
  // Deliveries are reported every few ms: wait until the last ones are in.
  await receiver.deliveries.waitFor(delivered0 + total, 10_000);
  return {
    connections,
    pushes_per_s: Math.round(measured!.rate),
    pushes: measured!.replies,
    not_ok: notOk,
    ...perPush(measured!.cpu, measured!.replies),
  };
}

/** CPU microseconds per operation of each process in `cpu`. */
function perPush(cpu: Record<string, number>, ops: number): Record<string, number> {
  const out: Record<string, number> = { ...cpu };
  for (const [k, v] of Object.entries(cpu)) {
    if (k.endsWith("_cpu_s")) out[k.replace("_cpu_s", "_us_per_op")] = round(v / ops * 1e6, 2);
  }
  return out;
}

/** Broadcasts through node 0, BROADCAST_WINDOW in flight; deliveries per second over all nodes. */
async function broadcast(setup: Setup) {
  const conn = await ControlConn.open(setup.nodes[0]!.controlPort);
  const total = () => setup.receivers.reduce((sum, r) => sum + r.deliveries.value, 0);
  const clients = PER_NODE * setup.nodes.length;
  const line = encoder.encode(`{"cmd":"broadcast","data":"b"}\n`);
  let sent = 0;
  const base = total();
  const warmUntil = performance.now() + 1000;
  const endAt = warmUntil + DURATION_S * 1000;
  let start: { t: number; delivered: number; cpu: () => Record<string, number> } | undefined;
  while (performance.now() < endAt || start === undefined) {
    if (start === undefined && performance.now() >= warmUntil) {
      start = { t: performance.now(), delivered: total(), cpu: cpuWindow(pids(setup)) };
    }
    // Flow control on deliveries, not replies: a reply comes before the frames are read.
    const target = base + (sent - BROADCAST_WINDOW + 1) * clients;
    if (sent >= BROADCAST_WINDOW && total() < target) {
      await Promise.race(
        setup.receivers.map((r) => r.deliveries.waitFor(r.deliveries.value + 1, 10_000)),
      );
      continue;
    }
    await conn.write(line);
    sent++;
  }
  const cpu = start!.cpu();
  const delivered = total() - start!.delivered;
  const rate = delivered / ((performance.now() - start!.t) / 1000);
  await conn.replies.waitFor(sent, 30_000);
  conn.close();
  await conn.done;
  return {
    clients,
    deliveries_per_s: Math.round(rate),
    broadcasts: Math.round(delivered / clients),
    ...perPush(cpu, delivered),
  };
}

/** Push-to-receipt latency through node 0, to a client on `targetNode`, at LATENCY_RATE/s. */
async function latency(setup: Setup, targetNode: number) {
  const samples: number[] = [];
  const decoder = new TextDecoder();
  let identified = false;
  const client = await WsClient.connect({
    port: setup.nodes[targetNode]!.wsPort,
    onText: (_c, payload) => {
      if (!identified) {
        identified = true;
        return;
      }
      samples.push(performance.now() - Number(decoder.decode(payload)));
    },
  });
  await client.sendText(`{"uid":"lat${targetNode}"}`);
  while (!identified) await sleep(5);
  if (setup.redis !== undefined) {
    while ((await setup.redis.cli("hexists", "herald:uids", `lat${targetNode}`)) !== "1") {
      await sleep(10);
    }
    await sleep(200); // Node 0 hears the new holder's hello.
  }
  const conn = await ControlConn.open(setup.nodes[0]!.controlPort);
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    conn.queue(`{"uid":"lat${targetNode}","data":${performance.now()}}\n`);
    await sleep(1000 / LATENCY_RATE);
  }
  await conn.replies.waitFor(LATENCY_SAMPLES, 10_000);
  const deadline = Date.now() + 10_000;
  while (samples.length < LATENCY_SAMPLES && Date.now() < deadline) await sleep(10);
  conn.close();
  await conn.done;
  client.close();
  samples.sort((a, b) => a - b);
  const at = (q: number) =>
    round(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!, 3);
  return { samples: samples.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(text: string): void {
  console.error(`[bench:cluster] ${text}`);
}

async function main(): Promise<void> {
  const build = await buildBroadcastReceiver();
  if (!build.ok) throw new Error(`Cannot run: the native receiver does not build: ${build.reason}`);
  const results: Record<string, unknown> = {
    per_node: PER_NODE,
    duration_s: DURATION_S,
    started: new Date().toISOString(),
  };

  log(`single node: ${PER_NODE} connections`);
  {
    const { setup, connectS } = await startSetup(1, false, build.path);
    try {
      results.single = {
        connections: PER_NODE,
        connect_s: round(connectS, 2),
        rss_mib: round(readRssBytes(setup.nodes[0]!.pid) / 2 ** 20, 1),
        unicast: await unicast(setup, 0),
        unicast_x16: await unicast(setup, 0, 16),
        broadcast: await broadcast(setup),
        latency: await latency(setup, 0),
      };
      log(JSON.stringify(results.single));
    } finally {
      await stopSetup(setup);
    }
  }

  log(`three nodes on Redis: ${3 * PER_NODE} connections`);
  {
    const { setup, connectS } = await startSetup(3, true, build.path);
    try {
      const redisMemory = await setup.redis!.cli("info", "memory");
      results.cluster = {
        connections: 3 * PER_NODE,
        connect_s: round(connectS, 2),
        rss_mib: setup.nodes.map((n) => round(readRssBytes(n.pid) / 2 ** 20, 1)),
        redis_used_memory_mib: round(
          Number(/used_memory:(\d+)/.exec(redisMemory)?.[1]) / 2 ** 20,
          1,
        ),
        unicast_local: await unicast(setup, 0),
        unicast_local_x16: await unicast(setup, 0, 16),
        unicast_cross_node: await unicast(setup, 1),
        unicast_cross_node_x16: await unicast(setup, 1, 16),
        broadcast: await broadcast(setup),
        latency_local: await latency(setup, 0),
        latency_cross_node: await latency(setup, 1),
      };
      log(JSON.stringify(results.cluster));
    } finally {
      await stopSetup(setup);
    }
  }
  await Deno.mkdir(new URL("../../bench-results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(values.out!, JSON.stringify(results, null, 2) + "\n");
  console.log(JSON.stringify(results, null, 2));
}

if (import.meta.main) await main();
