/**
 * `deno task bench:api`: pushes per second through the HTTP API (`POST /api`, keep-alive), one
 * request per push and batches of 100, next to the control port's on the same Herald process,
 * with the same receivers and payloads. Herald-only: the reference server has no HTTP API.
 *
 * Herald runs as its own process (`deno run main.ts`); the load runs in this process: the
 * control client is the bench's (`control.ts`), HTTP goes through a lean keep-alive client
 * (`http_client.ts`, one connection per concurrent loop), and 100 receivers (`ws_client.ts`)
 * count what arrives. Every mode waits for a quiet machine, warms up, then is measured over a
 * window, `--repeat` times; the median is reported with its server and client CPU per wall
 * second, so a client-bound figure shows as such.
 *
 * Usage (--allow-all: /proc is read for CPU time):
 *   deno run --allow-all scripts/bench/http_api.ts [--quick] [--window 3] [--repeat 3]
 *     [--out bench-results/http_api.json]
 */
import { parseArgs } from "node:util";
import { freePort } from "../../tests/support/ports.ts";
import { ServerProcess } from "../../tests/support/server_process.ts";
import { ControlConn } from "./control.ts";
import { Counter } from "./counter.ts";
import { HttpClient } from "./http_client.ts";
import { type CpuSample, readMachineBusySeconds, round, startCpuWindow } from "./proc.ts";
import { WsClient } from "./ws_client.ts";
import { BENCH_HERALD_ARGS } from "./herald_args.ts";

const KEY = "bench-api-key-0123456789abcdef";
const RECEIVERS = 100;
const BATCH = 100;
/** Lines in flight on the pipelined control connection, written 16 at a time. */
const PIPELINE_WINDOW = 256;
const PIPELINE_WRITE = 16;
/** Concurrent request loops of the one-at-a-time modes. */
const CONCURRENCY = [1, 8];
const PAYLOAD = "x".repeat(32);
/** Other processes' CPU per wall second under which the machine counts as quiet. */
const QUIET_UTIL = 0.15;
const QUIET_WAIT_MS = 15_000;

/** One measured mode: the median of its repetitions. */
interface Figure {
  readonly mode: string;
  readonly concurrency: number;
  readonly pushes_per_s: number;
  readonly requests_per_s: number;
  readonly cpu: CpuSample;
  /** Requests per second of every repetition, slowest first. */
  readonly runs: number[];
}

interface BenchOptions {
  readonly windowMs: number;
  readonly warmUpMs: number;
  readonly repeat: number;
}

interface Measured {
  readonly pushes: number;
  readonly requests: number;
  readonly cpu: CpuSample;
  readonly wallS: number;
}

/** A request loop: makes one request and resolves with the pushes it carried. */
type Step = (loop: number) => Promise<number>;

/** The nth push: to one receiver after the other. */
function pushOf(n: number): { uid: string; data: string } {
  return { uid: `r${n % RECEIVERS}`, data: PAYLOAD };
}

/** Waits until the machine's busy CPU (ours is idle now) stays under QUIET_UTIL, or gives up. */
async function quiet(): Promise<void> {
  const deadline = performance.now() + QUIET_WAIT_MS;
  while (performance.now() < deadline) {
    const before = readMachineBusySeconds();
    await sleep(500);
    if ((readMachineBusySeconds() - before) / 0.5 < QUIET_UTIL) return;
  }
}

/** Runs `loops` copies of `step` through a warm-up, then counts over the window. */
async function measure(
  pid: number,
  options: BenchOptions,
  loops: number,
  step: Step,
): Promise<Measured> {
  await quiet();
  let pushes = 0;
  let requests = 0;
  let measuring = false;
  let stop = false;
  const running = Array.from({ length: loops }, async (_, loop) => {
    while (!stop) {
      const carried = await step(loop);
      if (measuring) {
        pushes += carried;
        requests++;
      }
    }
  });
  await sleep(options.warmUpMs);
  measuring = true;
  const started = performance.now();
  const cpu = startCpuWindow(pid);
  await sleep(options.windowMs);
  measuring = false;
  const sample = cpu();
  const wallS = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(running);
  return { pushes, requests, cpu: sample, wallS };
}

/** A mode: sets up its clients, returns its step and how to release them. */
type Mode = () => Promise<{ step: Step; loops: number; release: () => Promise<void> | void }>;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      window: { type: "string" },
      repeat: { type: "string", default: "3" },
      out: { type: "string", default: "bench-results/http_api.json" },
    },
  });
  const options: BenchOptions = {
    windowMs: Number(values.window ?? (values.quick ? 1 : 3)) * 1000,
    warmUpMs: values.quick ? 300 : 1000,
    repeat: values.quick ? 1 : Number(values.repeat),
  };
  await using server = await ServerProcess.start({
    wsPort: freePort(),
    controlPort: freePort(),
    args: [...BENCH_HERALD_ARGS],
    env: { HERALD_API_KEYS: KEY },
  });
  const pid = server.child.pid;
  const delivered = new Counter();
  const receivers = await Promise.all(
    Array.from({ length: RECEIVERS }, async (_, i) => {
      let acknowledged = false;
      const client = await WsClient.connect({
        port: server.wsPort,
        onText: () => {
          if (acknowledged) delivered.add();
          else acknowledged = true; // The first frame is {"event":"identified"}.
        },
      });
      await client.sendText(JSON.stringify({ uid: `r${i}` }));
      return client;
    }),
  );
  await sleep(500);

  const figures: Figure[] = [];
  const run = async (name: string, concurrency: number, mode: Mode) => {
    const runs: Measured[] = [];
    for (let i = 0; i < options.repeat; i++) {
      const { step, loops, release } = await mode();
      runs.push(await measure(pid, options, loops, step));
      await release();
    }
    const rate = (m: Measured) => m.requests / m.wallS;
    runs.sort((a, b) => rate(a) - rate(b));
    const median = runs[Math.floor(runs.length / 2)]!;
    const figure: Figure = {
      mode: name,
      concurrency,
      pushes_per_s: round(median.pushes / median.wallS, 0),
      requests_per_s: round(rate(median), 0),
      cpu: median.cpu,
      runs: runs.map((m) => round(rate(m), 0)),
    };
    figures.push(figure);
    console.log(
      `BENCH api ${name} x${concurrency}: ${figure.pushes_per_s} push/s ` +
        `(${figure.requests_per_s} req/s; server ${median.cpu.server_util} CPU, client ` +
        `${median.cpu.client_util}, other ${median.cpu.other_util})`,
    );
  };

  // Control port, pipelined: what a backend holding a connection gets.
  await run("control pipelined", 1, async () => {
    const conn = await ControlConn.open(server.controlPort);
    const encoder = new TextEncoder();
    let sent = 0;
    return {
      loops: 1,
      step: async () => {
        if (sent - conn.replies.value >= PIPELINE_WINDOW) {
          await conn.replies.waitFor(sent - PIPELINE_WINDOW + PIPELINE_WRITE, 5000);
        }
        let lines = "";
        for (let i = 0; i < PIPELINE_WRITE; i++) lines += JSON.stringify(pushOf(sent + i)) + "\n";
        await conn.write(encoder.encode(lines));
        sent += PIPELINE_WRITE;
        return PIPELINE_WRITE;
      },
      release: async () => {
        await conn.replies.waitFor(sent, 5000);
        conn.close();
      },
    };
  });
  // Control port, one request at a time per connection: the HTTP modes' pattern.
  for (const concurrency of CONCURRENCY) {
    await run("control one at a time", concurrency, async () => {
      const conns = await Promise.all(
        Array.from({ length: concurrency }, () => ControlConn.open(server.controlPort)),
      );
      const sent = conns.map(() => 0);
      return {
        loops: concurrency,
        step: async (loop) => {
          const conn = conns[loop]!;
          conn.queue(JSON.stringify(pushOf(sent[loop]!)) + "\n");
          sent[loop]!++;
          await conn.replies.waitFor(sent[loop]!, 5000);
          return 1;
        },
        release: () => conns.forEach((conn) => conn.close()),
      };
    });
  }
  // HTTP API, keep-alive: one push per request, then batches of 100.
  const headers = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
  for (const perRequest of [1, BATCH]) {
    const name = perRequest === 1 ? "http one push per request" : `http batch of ${perRequest}`;
    for (const concurrency of CONCURRENCY) {
      await run(name, concurrency, async () => {
        const clients = await Promise.all(
          Array.from({ length: concurrency }, () => HttpClient.connect(server.wsPort)),
        );
        // Prebuilt, so the client spends its time sending and reading, not encoding.
        const requests = clients.map((client, loop) =>
          Array.from({ length: RECEIVERS }, (_, k) => {
            const first = loop * RECEIVERS + k * perRequest;
            const body = perRequest === 1
              ? JSON.stringify(pushOf(first))
              : JSON.stringify(Array.from({ length: perRequest }, (_, i) => pushOf(first + i)));
            return client.request("POST", "/api", headers, body);
          })
        );
        const turns = clients.map(() => 0);
        return {
          loops: concurrency,
          step: async (loop) => {
            const request = requests[loop]![turns[loop]!++ % RECEIVERS]!;
            const status = await clients[loop]!.send(request);
            if (status !== 200) throw new Error(`POST /api answered ${status}`);
            return perRequest;
          },
          release: () => clients.forEach((client) => client[Symbol.dispose]()),
        };
      });
    }
  }
  // The floor: GET /healthz, no body and no push, on the same server and client.
  for (const concurrency of CONCURRENCY) {
    await run("http GET /healthz (floor, no push)", concurrency, async () => {
      const clients = await Promise.all(
        Array.from({ length: concurrency }, () => HttpClient.connect(server.wsPort)),
      );
      const request = clients[0]!.request("GET", "/healthz", {});
      return {
        loops: concurrency,
        step: async (loop) => {
          await clients[loop]!.send(request);
          return 0;
        },
        release: () => clients.forEach((client) => client[Symbol.dispose]()),
      };
    });
  }

  for (const receiver of receivers) receiver.close();
  console.log(`\n${table(figures)}\n`);
  console.log(`The receivers got ${delivered.value} pushes in all.`);
  const out = values.out!;
  await Deno.mkdir(out.slice(0, Math.max(0, out.lastIndexOf("/"))) || ".", { recursive: true });
  await Deno.writeTextFile(
    out,
    JSON.stringify({ date: new Date().toISOString(), options, figures }, null, 2) + "\n",
  );
  await server.stop();
}

function table(figures: readonly Figure[]): string {
  const lines = [
    "| mode | loops | pushes/s | requests/s | server CPU | client CPU | other CPU | runs (req/s) |",
    "| ---- | ----- | -------- | ---------- | ---------- | ---------- | --------- | ------------ |",
  ];
  for (const f of figures) {
    lines.push(
      `| ${f.mode} | ${f.concurrency} | ${f.pushes_per_s} | ${f.requests_per_s} | ` +
        `${f.cpu.server_util} | ${f.cpu.client_util} | ${f.cpu.other_util} | ` +
        `${f.runs.join(", ")} |`,
    );
  }
  return lines.join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

if (import.meta.main) await main();
