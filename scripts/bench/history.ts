/**
 * `deno task bench:history`: what history streams cost. Herald runs with history on (the
 * default, --history-size 100) and off (--history-size 0) in the same run, alternating, each in a
 * fresh process, with `herald.v1` clients (the ones history works for):
 *
 * - unicast: pipelined `send` to K framed uids round-robin, pushes per second until every push is
 *   answered and received;
 * - broadcast: `broadcast` to the same K clients, deliveries per second until all are received;
 * - memory: Herald's resident memory per online framed uid (RSS after connecting K clients,
 *   minus RSS before, ÷ K).
 *
 * Prints one `BENCH` line per figure with the ratio on ÷ off (target >= 0.9 for throughput) and
 * writes the raw runs as JSON.
 *
 *   deno run --allow-all scripts/bench/history.ts [--quick] [--repeat 3] [--out <path>]
 * @module
 */
import { parseArgs } from "node:util";
import { freePort } from "../../tests/support/ports.ts";
import { ServerProcess } from "../../tests/support/server_process.ts";
import { ControlConn } from "./control.ts";
import { Counter } from "./counter.ts";
import { readRssBytes, round } from "./proc.ts";
import { WsClient } from "./ws_client.ts";
import { BENCH_HERALD_ARGS } from "./herald_args.ts";

type Mode = "on" | "off";

interface Sizes {
  clients: number;
  unicastPushes: number;
  broadcasts: number;
}

interface RunResult {
  mode: Mode;
  unicast_pushes_per_s: number;
  broadcast_deliveries_per_s: number;
  rss_per_uid_bytes: number;
  not_ok_replies: number;
}

const WAIT_MS = 120_000;

async function measure(mode: Mode, sizes: Sizes): Promise<RunResult> {
  const wsPort = freePort();
  const controlPort = freePort();
  await using server = await ServerProcess.start({
    wsPort,
    controlPort,
    args: ["--history-size", mode === "on" ? "100" : "0", ...BENCH_HERALD_ARGS],
  });
  const received = new Counter();
  const clients: WsClient[] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 500)); // Let start-up garbage settle.
    const rssBefore = readRssBytes(server.pid);
    for (let i = 0; i < sizes.clients; i += 200) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(200, sizes.clients - i) }, (_, j) =>
          WsClient.connect({
            port: wsPort,
            headers: { "Sec-WebSocket-Protocol": "herald.v1" },
            onText: () => received.add(),
          }).then(async (client) => {
            await client.sendText(JSON.stringify({ type: "auth", uid: `u${i + j}` }));
            return client;
          })),
      );
      clients.push(...batch);
    }
    if (!await received.waitFor(sizes.clients, WAIT_MS)) throw new Error("welcomes missing");
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssPerUid = (readRssBytes(server.pid) - rssBefore) / sizes.clients;

    const control = await ControlConn.open(controlPort);
    try {
      let expected = received.value;
      let start = performance.now();
      for (let i = 0; i < sizes.unicastPushes; i++) {
        control.queue(`{"uid":"u${i % sizes.clients}","data":${i}}\n`);
      }
      expected += sizes.unicastPushes;
      if (
        !await control.replies.waitFor(sizes.unicastPushes, WAIT_MS) ||
        !await received.waitFor(expected, WAIT_MS)
      ) throw new Error("unicast pushes missing");
      const unicast = sizes.unicastPushes / ((performance.now() - start) / 1000);

      start = performance.now();
      for (let i = 0; i < sizes.broadcasts; i++) {
        control.queue(`{"cmd":"broadcast","data":${i}}\n`);
      }
      expected += sizes.broadcasts * sizes.clients;
      if (!await received.waitFor(expected, WAIT_MS)) throw new Error("broadcasts missing");
      const broadcast = sizes.broadcasts * sizes.clients /
        ((performance.now() - start) / 1000);
      return {
        mode,
        unicast_pushes_per_s: Math.round(unicast),
        broadcast_deliveries_per_s: Math.round(broadcast),
        rss_per_uid_bytes: Math.round(rssPerUid),
        not_ok_replies: control.notOk,
      };
    } finally {
      control.close();
      await control.done;
    }
  } finally {
    for (const client of clients) client.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      repeat: { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const sizes: Sizes = quick
    ? { clients: 1000, unicastPushes: 30_000, broadcasts: 20 }
    : { clients: 5000, unicastPushes: 200_000, broadcasts: 40 };
  const repeat = Number(values.repeat ?? (quick ? 1 : 3));
  const out = values.out ?? "bench-results/history.json";
  const runs: RunResult[] = [];
  for (let r = 0; r < repeat; r++) {
    // Alternate the order so warm-up and drift do not favour one mode.
    for (const mode of (r % 2 === 0 ? ["off", "on"] : ["on", "off"]) as Mode[]) {
      const result = await measure(mode, sizes);
      console.log(JSON.stringify(result));
      runs.push(result);
    }
  }
  const of = (mode: Mode, key: keyof Omit<RunResult, "mode">) =>
    median(runs.filter((r) => r.mode === mode).map((r) => r[key]));
  const lines: string[] = [];
  for (
    const [name, key, unit, target] of [
      ["unicast", "unicast_pushes_per_s", "push/s", true],
      ["broadcast", "broadcast_deliveries_per_s", "deliveries/s", true],
      ["memory per online framed uid", "rss_per_uid_bytes", "bytes", false],
    ] as const
  ) {
    const on = of("on", key);
    const off = of("off", key);
    const ratio = round(on / off, 3);
    const verdict = target ? ` (target >= 0.9: ${ratio >= 0.9 ? "PASS" : "FAIL"})` : "";
    lines.push(
      `BENCH history ${name} @${sizes.clients} framed: on ${on} ${unit}, off ${off} ${unit}, ` +
        `ratio ${ratio}${verdict}`,
    );
  }
  for (const line of lines) console.log(line);
  await Deno.mkdir(new URL("../../bench-results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify({ sizes, repeat, runs, lines, deno: Deno.version.deno }, null, 2) + "\n",
  );
}
