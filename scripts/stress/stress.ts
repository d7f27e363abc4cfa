/**
 * A self-checking stress run: thousands of WebSocket clients connect and leave while numbered
 * pushes flow; every push a client was online for must arrive, in order, once. Then the server
 * is SIGKILLed mid-run and restarted, and the run reports what clients saw. Exits 1 on any loss.
 *
 *   deno task stress          # the long form (minutes)
 *   deno task stress:quick    # the CI form (well under a minute)
 *
 * All traffic goes to 127.0.0.1; every loop is bounded in count and time.
 * @module
 */
import { parseArgs } from "node:util";
import { controlQuery } from "../../tests/support/control_client.ts";
import { freePort } from "../../tests/support/ports.ts";
import { ServerProcess } from "../../tests/support/server_process.ts";
import { writeAll } from "../../tests/support/write_all.ts";
import { openFileCount, residentBytes } from "./process_figures.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    clients: { type: "string" },
    seconds: { type: "string" },
    "server-log-level": { type: "string", default: "error" },
  },
});
const QUICK = flags.quick;
/** Client slots: each holds at most one connection at a time, under uid `s<slot>`. */
const SLOTS = Number(flags.clients ?? (QUICK ? 600 : 4000));
/** Seconds of churn in each of the two phases. */
const PHASE_SECONDS = Number(flags.seconds ?? (QUICK ? 6 : 30));
const CONTROL_CONNECTIONS = 4;
/** Requests in flight per control connection. */
const WINDOW = 256;
/** How long a client stays, and waits before coming back, in milliseconds. */
const STAY_MS = [300, 3000] as const;
const AWAY_MS = [50, 1000] as const;
/** A leaving client waits at most this long for what it is owed. */
const DRAIN_MS = 10_000;
const SERVER_ARGS = [
  "--log-level",
  flags["server-log-level"],
  "--max-connections-per-ip",
  "1000000",
  "--max-handshakes-per-ip",
  "1000000",
  "--auth-timeout",
  "30",
];

const rand = (range: readonly [number, number]) => range[0] + Math.random() * (range[1] - range[0]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Everything the run counts; printed at the end and checked. */
const tally = {
  pushes: 0,
  delivered: 0,
  received: 0,
  /** Pushes written while their client was online that reported delivered: 0. */
  requiredButUndelivered: 0,
  /** Pushes reported delivered that their client never received (a normal leave). */
  deliveredButMissing: 0,
  /** Deliveries cut off by the SIGKILL: reported delivered, socket gone before they arrived. */
  lostToKill: 0,
  /** Pushes whose reply never came because the server was killed. */
  unansweredAtKill: 0,
  duplicates: 0,
  outOfOrder: 0,
  /** Received though the server said nobody was reached, or to a slot that was offline. */
  unexpected: 0,
  /** Identifications the client gave up on after 10 s (an overloaded machine); not checked. */
  ackTimeouts: 0,
  /** Messages on a socket the client had already given up on. */
  lateOnAbandoned: 0,
  connects: 0,
  leaves: 0,
  closeCodes: new Map<number, number>(),
  reconnectMs: [] as number[],
};

type SlotState = "offline" | "connecting" | "online" | "leaving";

/** A push in flight or answered: where it went, what the server said. */
interface Push {
  readonly slot: number;
  readonly seq: number;
  /** The connection it is for: the slot's current one, or its next when it is offline. */
  readonly generation: number;
  /** Written while the client was online (acknowledged): it must be delivered and received. */
  readonly required: boolean;
  delivered: number | undefined;
}

/** One client slot: connects, stays, drains what it is owed, leaves, comes back. */
class Slot {
  readonly index: number;
  readonly uid: string;
  state: SlotState = "offline";
  generation = 0;
  socket: WebSocket | undefined;
  nextSeq = 1;
  /** Pushes not settled yet, by seq: the current generation's and the next one's. */
  readonly pushes = new Map<number, Push>();
  inFlight = 0;
  received = new Set<number>();
  /** Highest seq received from each control connection: order holds per connection only. */
  lastSeqByPusher: number[] = [];
  closedAt = 0;
  /** This generation ended with the server's SIGKILL. */
  wasKilled = false;
  /** The last generation ended with the SIGKILL: the next acknowledgement is a reconnect. */
  wasKilledBefore = false;
  /** This generation's identification timed out: what it was sent is not checked. */
  abandoned = false;

  constructor(index: number) {
    this.index = index;
    this.uid = `s${index}`;
  }
}

class Run {
  readonly slots: Slot[];
  wsPort: number;
  controlPort: number;
  server!: ServerProcess;
  churning = false;
  /** While false, clients wait before reconnecting (the server is being restarted). */
  serverUp = true;
  readonly #serverUpWaiters: Array<() => void> = [];
  stopAt = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Push>();

  constructor(slots: number, wsPort: number, controlPort: number) {
    this.slots = Array.from({ length: slots }, (_, i) => new Slot(i));
    this.wsPort = wsPort;
    this.controlPort = controlPort;
  }

  /** Starts Herald where the clients look for it; its errors are echoed as they come. */
  async startServer(): Promise<void> {
    this.server = await ServerProcess.start({
      args: SERVER_ARGS,
      wsPort: this.wsPort,
      controlPort: this.controlPort,
      readyTimeoutMs: 20_000,
      echo: true,
    });
  }

  whenServerUp(): Promise<void> {
    if (this.serverUp) return Promise.resolve();
    return new Promise((resolve) => this.#serverUpWaiters.push(resolve));
  }

  setServerUp(up: boolean): void {
    this.serverUp = up;
    if (up) { for (const wake of this.#serverUpWaiters.splice(0)) wake(); }
  }

  /** Runs one slot's life until `stopAt`, then leaves it offline. */
  async life(slot: Slot): Promise<void> {
    await sleep(rand([0, 1000]));
    while (Date.now() < this.stopAt) {
      await this.whenServerUp();
      const connection = await this.connect(slot);
      if (connection === undefined) continue;
      if (slot.state === "online") {
        await sleep(Math.min(rand(STAY_MS), Math.max(0, this.stopAt - Date.now())));
      }
      await this.leave(slot, connection.closed);
      if (Date.now() < this.stopAt) await sleep(rand(AWAY_MS));
    }
  }

  /** Opens a socket and identifies; once acknowledged, resolves with its close event to come. */
  async connect(slot: Slot): Promise<{ closed: Promise<CloseEvent> } | undefined> {
    slot.generation++;
    slot.state = "connecting";
    slot.received = new Set();
    slot.lastSeqByPusher = [];
    slot.wasKilled = false;
    slot.abandoned = false;
    const socket = new WebSocket(`ws://127.0.0.1:${this.wsPort}/`);
    slot.socket = socket;
    const acked = Promise.withResolvers<boolean>();
    const closed = Promise.withResolvers<CloseEvent>();
    const generation = slot.generation;
    socket.onopen = () => socket.send(JSON.stringify({ uid: slot.uid }));
    socket.onerror = () => {};
    socket.onmessage = (event) => {
      const text = String(event.data);
      if (text.startsWith('{"event"')) {
        // Not after a kill marked it leaving: an acknowledgement read late is from a dead server.
        if (slot.generation === generation && slot.state === "connecting") slot.state = "online";
        acked.resolve(true);
        return;
      }
      this.onPush(slot, generation, text);
    };
    socket.onclose = (event) => {
      slot.closedAt = Date.now();
      tally.closeCodes.set(event.code, (tally.closeCodes.get(event.code) ?? 0) + 1);
      acked.resolve(false);
      closed.resolve(event);
    };
    const ok = await Promise.race([acked.promise, sleep(10_000).then(() => false)]);
    if (!ok) {
      if (socket.readyState !== WebSocket.CLOSED) {
        tally.ackTimeouts++;
        slot.abandoned = true;
      }
      if (socket.readyState !== WebSocket.CLOSED) socket.close();
      await Promise.race([closed.promise, sleep(5000)]);
      this.settle(slot);
      slot.state = "offline";
      await sleep(rand([100, 500]));
      return undefined;
    }
    tally.connects++;
    if (slot.closedAt > 0 && slot.wasKilledBefore) {
      tally.reconnectMs.push(Date.now() - slot.closedAt);
      slot.wasKilledBefore = false;
    }
    return { closed: closed.promise };
  }

  onPush(slot: Slot, generation: number, text: string): void {
    const { s, p, n } = JSON.parse(text) as { s: number; p: number; n: number };
    if (s !== slot.index) {
      tally.unexpected++;
      return;
    }
    if (generation !== slot.generation) {
      tally.lateOnAbandoned++;
      return;
    }
    tally.received++;
    if (slot.received.has(n)) tally.duplicates++;
    else if (n < (slot.lastSeqByPusher[p] ?? 0)) tally.outOfOrder++;
    slot.received.add(n);
    slot.lastSeqByPusher[p] = Math.max(slot.lastSeqByPusher[p] ?? 0, n);
  }

  /** Stops pushes to the slot, waits for what it is owed, closes, and settles its books. */
  async leave(slot: Slot, closed: Promise<CloseEvent>): Promise<void> {
    if (slot.state === "online" || slot.state === "connecting") {
      slot.state = "leaving";
      const deadline = Date.now() + DRAIN_MS;
      while (Date.now() < deadline && slot.socket?.readyState === WebSocket.OPEN) {
        const owed = [...slot.pushes.values()].some((push) =>
          push.delivered === 1 && !slot.received.has(push.seq)
        );
        if (slot.inFlight === 0 && !owed) break;
        await sleep(20);
      }
      if (slot.socket?.readyState === WebSocket.OPEN) slot.socket.close(1000, "bye");
    }
    await Promise.race([closed, sleep(5000)]);
    tally.leaves++;
    this.settle(slot);
    slot.state = "offline";
  }

  /** Checks a finished generation: everything owed arrived, nothing else did. */
  settle(slot: Slot): void {
    for (const push of slot.pushes.values()) {
      if (push.generation !== slot.generation) continue;
      slot.pushes.delete(push.seq);
      if (push.delivered === undefined) continue; // Unanswered: counted at the kill.
      if (slot.abandoned) continue;
      if (push.required && push.delivered !== 1) tally.requiredButUndelivered++;
      if (push.delivered === 1 && !slot.received.has(push.seq)) {
        if (slot.wasKilled) tally.lostToKill++;
        else tally.deliveredButMissing++;
      }
      if (push.delivered === 0 && slot.received.has(push.seq)) tally.unexpected++;
    }
  }

  /** One control connection pushing numbered messages to random slots until `stopAt`. */
  async pusher(index: number): Promise<void> {
    while (Date.now() < this.stopAt) {
      await this.whenServerUp();
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: this.controlPort });
      } catch {
        await sleep(100);
        continue;
      }
      const mine = new Set<number>();
      const reading = this.readReplies(conn, mine);
      try {
        const encoder = new TextEncoder();
        while (Date.now() < this.stopAt) {
          if (mine.size >= WINDOW) {
            await sleep(1);
            continue;
          }
          let batch = "";
          for (let i = 0; i < 64 && mine.size < WINDOW; i++) {
            const slot = this.slots[Math.floor(Math.random() * this.slots.length)]!;
            if (slot.state === "leaving") continue;
            const id = this.#nextId++;
            const seq = slot.nextSeq++;
            const push: Push = {
              slot: slot.index,
              seq,
              // An offline slot may connect before the server sees this push.
              generation: slot.state === "offline" ? slot.generation + 1 : slot.generation,
              required: slot.state === "online",
              delivered: undefined,
            };
            slot.pushes.set(seq, push);
            slot.inFlight++;
            this.#pending.set(id, push);
            mine.add(id);
            tally.pushes++;
            batch +=
              JSON.stringify({ id, uid: slot.uid, data: { s: slot.index, p: index, n: seq } }) +
              "\n";
          }
          await writeAll(conn, encoder.encode(batch));
          await sleep(0);
        }
      } catch {
        // The server went away: its replies will not come.
      }
      try {
        conn.close();
      } catch {
        // Closed by the reader already.
      }
      await reading;
      for (const id of mine) this.abandon(id);
    }
  }

  async readReplies(conn: Deno.TcpConn, mine: Set<number>): Promise<void> {
    const buffer = new Uint8Array(256 * 1024);
    const decoder = new TextDecoder();
    let tail = "";
    try {
      while (true) {
        const read = await conn.read(buffer);
        if (read === null) break;
        const lines = (tail + decoder.decode(buffer.subarray(0, read))).split("\n");
        tail = lines.pop()!;
        for (const line of lines) {
          const reply = JSON.parse(line) as { id: number; result: { delivered: number } };
          const push = this.#pending.get(reply.id)!;
          this.#pending.delete(reply.id);
          mine.delete(reply.id);
          push.delivered = reply.result.delivered;
          tally.delivered += push.delivered;
          const slot = this.slots[push.slot]!;
          slot.inFlight--;
        }
      }
    } catch {
      // Reset by a killed server.
    }
  }

  abandon(id: number): void {
    const push = this.#pending.get(id);
    if (push === undefined) return;
    this.#pending.delete(id);
    this.slots[push.slot]!.inFlight--;
    tally.unansweredAtKill++;
  }

  /** Runs churn and pushes for `seconds`; with `killAfter`, SIGKILLs and restarts the server. */
  async phase(seconds: number, killAfter?: number): Promise<void> {
    this.stopAt = Date.now() + seconds * 1000;
    const lives = this.slots.map((slot) => this.life(slot));
    const pushers = Array.from({ length: CONTROL_CONNECTIONS }, (_, i) => this.pusher(i));
    if (killAfter !== undefined) {
      await sleep(killAfter * 1000);
      await this.killAndRestart();
    }
    await Promise.all([...lives, ...pushers]);
  }

  async killAndRestart(): Promise<void> {
    const online = this.slots.filter((slot) => slot.state === "online").length;
    this.setServerUp(false);
    for (const slot of this.slots) {
      if (slot.state !== "offline") {
        slot.wasKilled = true;
        slot.wasKilledBefore = true;
        // Its socket is dead even if its close event has not run yet: nothing more is owed.
        slot.state = "leaving";
      }
    }
    const killedAt = Date.now();
    const status = await this.server.stop("SIGKILL");
    console.log(`SIGKILL with ${online} clients online: exit signal ${status.signal}`);
    await this.startServer();
    const restartMs = Date.now() - killedAt;
    const fresh = (await controlQuery(this.controlPort, { cmd: "stats" })).result as Record<
      string,
      unknown
    >;
    const clean = fresh.connections === 0 && fresh.uids === 0 && fresh.pending === 0 &&
      JSON.stringify(fresh.groups) === "{}";
    console.log(
      `restarted in ${restartMs} ms; the new process starts ${clean ? "clean" : "NOT clean"}: ` +
        JSON.stringify(fresh),
    );
    if (!clean) failures.push("the restarted server did not start clean");
    this.setServerUp(true);
  }
}

const failures: string[] = [];

async function settledStats(run: Run): Promise<Record<string, unknown>> {
  // Sockets Herald closed may take --close-timeout to be released.
  const deadline = Date.now() + 10_000;
  while (true) {
    const stats = (await controlQuery(run.controlPort, { cmd: "stats" })).result as Record<
      string,
      unknown
    >;
    const zero = stats.connections === 0 && stats.uids === 0 && stats.pending === 0 &&
      stats.held_sockets === 0 && JSON.stringify(stats.groups) === "{}";
    if (zero || Date.now() > deadline) return stats;
    await sleep(200);
  }
}

function checkZero(stats: Record<string, unknown>, when: string): void {
  const zero = stats.connections === 0 && stats.uids === 0 && stats.pending === 0 &&
    stats.held_sockets === 0 && JSON.stringify(stats.groups) === "{}";
  console.log(`registry ${when}: ${JSON.stringify(stats)}`);
  if (!zero) failures.push(`the registry did not return to zero ${when}`);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const started = Date.now();
const run = new Run(SLOTS, freePort(), freePort());
await run.startServer();
console.log(
  `stress: ${SLOTS} client slots, ${CONTROL_CONNECTIONS} pipelining control connections, ` +
    `2 phases of ${PHASE_SECONDS} s, server pid ${run.server.pid}`,
);
try {
  // Warm-up: one short round so the baseline is the memory of a server that has seen traffic.
  await run.phase(Math.min(3, PHASE_SECONDS));
  checkZero(await settledStats(run), "after the warm-up");
  const baseline = await residentBytes(run.server.pid);
  const baselineFds = await openFileCount(run.server.pid);
  console.log(`baseline: RSS ${mib(baseline)}, ${baselineFds} file descriptors`);

  await run.phase(PHASE_SECONDS);
  checkZero(await settledStats(run), "after phase 1");
  const after = await residentBytes(run.server.pid);
  const afterFds = await openFileCount(run.server.pid);
  console.log(
    `after phase 1: RSS ${mib(after)} (${after >= baseline ? "+" : ""}${
      mib(after - baseline)
    }), ${afterFds} file descriptors`,
  );
  if (after > baseline * 1.5 + 64 * 1048576) failures.push("RSS did not return near its baseline");
  if (afterFds > baselineFds + 8) failures.push("file descriptors did not return to baseline");

  // Phase 2: the same load, with a SIGKILL of the server a third of the way in.
  await run.phase(PHASE_SECONDS, PHASE_SECONDS / 3);
  checkZero(await settledStats(run), "after phase 2 (restarted server)");
  console.log(`restarted server after phase 2: RSS ${mib(await residentBytes(run.server.pid))}`);
} finally {
  await run.server.stop("SIGTERM");
}
// Pushes for a next connection that never came must have reached nobody.
for (const slot of run.slots) {
  for (const push of slot.pushes.values()) if ((push.delivered ?? 0) > 0) tally.unexpected++;
}

const codes = [...tally.closeCodes].sort((a, b) => a[0] - b[0]).map(([code, n]) => `${code}×${n}`);
console.log(`
pushes written             ${tally.pushes}
deliveries reported        ${tally.delivered}
messages received, checked ${tally.received}
connects / leaves          ${tally.connects} / ${tally.leaves}
close codes seen           ${codes.join(" ")}
reconnect after SIGKILL    ${tally.reconnectMs.length} clients, p50 ${
  percentile(tally.reconnectMs, 50)
} ms, p99 ${percentile(tally.reconnectMs, 99)} ms, max ${percentile(tally.reconnectMs, 100)} ms
unanswered at SIGKILL      ${tally.unansweredAtKill}
in flight at SIGKILL       ${tally.lostToKill} (delivered to a socket, not yet read, when the process died)
lost                       ${tally.requiredButUndelivered + tally.deliveredButMissing}
duplicates / out of order  ${tally.duplicates} / ${tally.outOfOrder}
unexpected                 ${tally.unexpected}
identify timeouts          ${tally.ackTimeouts} (client gave up after 10 s; ${tally.lateOnAbandoned} late messages not checked)
took                       ${((Date.now() - started) / 1000).toFixed(1)} s`);

if (tally.requiredButUndelivered > 0) failures.push("online clients were not reached");
if (tally.deliveredButMissing > 0) failures.push("delivered messages never arrived");
if (tally.duplicates + tally.outOfOrder > 0) failures.push("duplicates or reordering");
if (tally.unexpected > 0) failures.push("unexpected messages or ghost deliveries");
if (tally.received === 0) failures.push("nothing was received: the run checked nothing");
if (failures.length > 0) {
  console.error(`\nFAILED: ${failures.join("; ")}`);
  Deno.exit(1);
}
console.log("\nOK: every online client got every message addressed to it, in order, once.");
