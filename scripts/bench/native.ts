/**
 * The native broadcast receiver (`native/broadcast_receiver.c`): building it with gcc, choosing
 * it or the Deno client for the broadcast figure, and driving the running program.
 *
 * The Deno client spends ~9-12 µs of CPU per received message at 10k clients, so on 2 cores the
 * broadcast figure was bound by the client; the C receiver holds the sockets and counts frames
 * for ~3-4.5 µs each (mostly kernel time), and the load generator keeps the control connection,
 * the windows and the flow control (see docs/benchmarks.md).
 * @module
 */
import { Counter } from "./counter.ts";

const SOURCE = new URL("./native/broadcast_receiver.c", import.meta.url).pathname;
const REPO_DIR = new URL("../../", import.meta.url).pathname;
/** Where the receiver is built: beside the other git-ignored bench output. */
export const RECEIVER_PATH = `${REPO_DIR}bench-results/native/broadcast_receiver`;
const GCC_ARGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"];
/** Margin over the receiver's own open timeout before the caller gives up on it. */
const ANSWER_MARGIN_MS = 5_000;
const EXIT_TIMEOUT_MS = 5_000;
const encoder = new TextEncoder();

/** A usable receiver binary, or why there is none. */
export type ReceiverBuild =
  | { ok: true; path: string; built: boolean }
  | { ok: false; reason: string };

/**
 * Compiles the receiver into {@linkcode RECEIVER_PATH} when the binary is missing or older than
 * its source; a missing or failing gcc is a reason, not a throw.
 */
export async function buildBroadcastReceiver(): Promise<ReceiverBuild> {
  const source = await Deno.stat(SOURCE);
  const binary = await Deno.stat(RECEIVER_PATH).catch(() => undefined);
  if (binary?.mtime && source.mtime && binary.mtime >= source.mtime) {
    return { ok: true, path: RECEIVER_PATH, built: false };
  }
  await Deno.mkdir(RECEIVER_PATH.slice(0, RECEIVER_PATH.lastIndexOf("/")), { recursive: true });
  // Build beside the target and rename, so a concurrent run never executes half a binary.
  const tmp = `${RECEIVER_PATH}.${Deno.pid}.tmp`;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("gcc", {
      args: [...GCC_ARGS, "-o", tmp, SOURCE],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { ok: false, reason: "gcc is not installed (apt-get install gcc)" };
    }
    return { ok: false, reason: `Cannot run gcc: ${(err as Error).message}` };
  }
  if (!out.success) {
    await Deno.remove(tmp).catch(() => {});
    const first = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ?? "";
    return { ok: false, reason: `gcc failed on ${SOURCE}: ${first}` };
  }
  await Deno.rename(tmp, RECEIVER_PATH);
  return { ok: true, path: RECEIVER_PATH, built: true };
}

/** Who holds the broadcast figure's clients: the C receiver or `WsClient` in the load generator. */
export type ReceiverKind = "native" | "deno";

/** Checks a `--broadcast-receiver` value; undefined stays undefined (native when it builds). */
export function parseReceiverKind(value: string | undefined): ReceiverKind | undefined {
  if (value === undefined || value === "native" || value === "deno") return value;
  throw new RangeError(
    `Cannot run: --broadcast-receiver must be native or deno: current value is ${value}`,
  );
}

/** The receiver the broadcast figure runs with. */
export type ReceiverChoice =
  | { kind: "native"; path: string; built: boolean }
  | { kind: "deno"; notice?: string };

/**
 * Resolves `--broadcast-receiver`: `native` must build, `deno` is taken as is, and no value
 * means native when it builds, else deno with a one-line notice saying why.
 */
export async function chooseBroadcastReceiver(
  flag: ReceiverKind | undefined,
): Promise<ReceiverChoice> {
  if (flag === "deno") return { kind: "deno" };
  const build = await buildBroadcastReceiver();
  if (build.ok) return { kind: "native", path: build.path, built: build.built };
  if (flag === "native") throw new Error(`Cannot use --broadcast-receiver native: ${build.reason}`);
  return {
    kind: "deno",
    notice: `broadcast receiver: deno, because the native one is unavailable: ${build.reason}`,
  };
}

/** Options of {@linkcode NativeReceiver.start}. */
export interface NativeReceiverOptions {
  /** Path of the compiled receiver, from {@linkcode buildBroadcastReceiver}. */
  path: string;
  /** WebSocket port on 127.0.0.1. */
  port: number;
  /**
   * Clients identify as `${prefix}0`, `${prefix}1`, …
   * @default {"b"}
   */
  prefix?: string;
  /**
   * Milliseconds one {@linkcode NativeReceiver.grow} may take to connect and identify.
   * @default {30000}
   */
  openTimeoutMs?: number;
}

/**
 * A running native receiver: it holds identified WebSocket clients and reports the text
 * messages they received; this object mirrors its reports into counters.
 */
export class NativeReceiver {
  /** Text messages received after identification, over all clients, as last reported. */
  readonly deliveries = new Counter();
  /** Sockets that ended before `close()`, as last reported. */
  closedEarly = 0;
  /** Process id of the receiver, whose CPU time is the client's. */
  readonly pid: number;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #openTimeoutMs: number;
  #waiter: ((answer: string) => void) | undefined;
  #reading: Promise<void>;

  private constructor(opts: NativeReceiverOptions) {
    this.#openTimeoutMs = opts.openTimeoutMs ?? 30_000;
    this.#child = new Deno.Command(opts.path, {
      args: [
        "--port",
        String(opts.port),
        "--prefix",
        opts.prefix ?? "b",
        "--timeout-ms",
        String(this.#openTimeoutMs),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.pid = this.#child.pid;
    this.#stdin = this.#child.stdin.getWriter();
    this.#reading = this.#readReports();
  }

  /** Starts the receiver with no clients. */
  static start(opts: NativeReceiverOptions): NativeReceiver {
    return new NativeReceiver(opts);
  }

  /** Opens and identifies clients until the receiver holds `total`; throws why it could not. */
  async grow(total: number): Promise<void> {
    const answer = new Promise<string>((resolve) => this.#waiter = resolve);
    const limit = this.#openTimeoutMs + ANSWER_MARGIN_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer from the receiver in ${limit} ms`), limit);
    });
    try {
      await this.#stdin.write(encoder.encode(`open ${total}\n`));
    } catch (err) {
      this.#answer(`the receiver does not take commands: ${(err as Error).message}`);
    }
    const got = await Promise.race([answer, timeout]);
    clearTimeout(timer);
    this.#waiter = undefined;
    if (got !== `ready ${total}`) throw new Error(`Cannot identify clients: ${got}`);
  }

  /** Asks the receiver to close its sockets and exit; kills it when it does not within 5 s. */
  async close(): Promise<void> {
    try {
      await this.#stdin.write(encoder.encode("quit\n"));
      await this.#stdin.close();
    } catch {
      // Already gone: the status below tells.
    }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, EXIT_TIMEOUT_MS);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
  }

  #answer(text: string): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(text);
  }

  async #readReports(): Promise<void> {
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of this.#child.stdout) {
      pending += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = pending.indexOf("\n")) !== -1) {
        this.#onReport(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    const status = await this.#child.status;
    this.#answer(`the receiver exited with code ${status.code}`);
  }

  #onReport(line: string): void {
    const space = line.indexOf(" ");
    const word = line.slice(0, space);
    const value = line.slice(space + 1);
    if (word === "count") {
      this.deliveries.add(Number(value) - this.deliveries.value);
    } else if (word === "closed") {
      this.closedEarly = Number(value);
    } else if (word === "ready" || word === "error") {
      this.#answer(word === "ready" ? line : value);
    }
  }
}
