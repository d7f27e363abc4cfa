/**
 * A server as a real child process: Herald (`deno run main.ts`, a bundle, the compiled binary)
 * or the bench's reference server. Its output is read line by line, so tests learn its ports
 * and wait for what it says; tests, the stress run and the bench all start servers with it.
 * @module
 */
import { canConnect } from "./ports.ts";

/** Where the repository's main.ts is. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Permissions a `deno run main.ts` child gets: what the compiled binary bakes in. */
export const RUN_PERMISSIONS = ["--allow-net", "--allow-env=HERALD_*"];

/** Options of {@linkcode ServerProcess.start}. */
export interface ServerProcessOptions {
  /**
   * The program and its leading arguments; the server's own flags follow.
   * @default {[Deno.execPath(), "run", ...RUN_PERMISSIONS, MAIN]}
   */
  readonly command?: readonly string[];
  /** The server's own flags; `--host 127.0.0.1 --ws-port … --control-port …` come first. */
  readonly args?: readonly string[];
  /**
   * The WebSocket and control ports. With 0 the server picks them and they are learned from
   * its log (which must then show info lines); with both set, readiness is both ports
   * accepting connections, whatever the log level.
   * @default {0}
   */
  readonly wsPort?: number;
  /** @default {0} */
  readonly controlPort?: number;
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Resolve without waiting for the ports (for a start that is meant to fail). */
  readonly expectFailure?: boolean;
  /** How long the ports may take to listen. @default {10000} */
  readonly readyTimeoutMs?: number;
  /** Also print each output line to this process's stderr as it comes. @default {false} */
  readonly echo?: boolean;
}

/** One server child process. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every output line so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  readonly #reading: Promise<void>;
  readonly #echo: boolean;
  #waiters: Array<() => void> = [];
  #status: Deno.CommandStatus | undefined;
  wsPort: number;
  controlPort: number;

  private constructor(child: Deno.ChildProcess, options: ServerProcessOptions) {
    this.child = child;
    this.wsPort = options.wsPort ?? 0;
    this.controlPort = options.controlPort ?? 0;
    this.#echo = options.echo ?? false;
    child.status.then((status) => {
      this.#status = status;
      this.#wake();
    });
    this.#reading = Promise.all([this.#read(child.stdout), this.#read(child.stderr)]).then(() => {
      this.#wake();
    });
  }

  /** Starts the server and, unless `expectFailure`, waits until both ports listen. */
  static async start(options: ServerProcessOptions = {}): Promise<ServerProcess> {
    const [program, ...leading] = options.command ??
      [Deno.execPath(), "run", ...RUN_PERMISSIONS, MAIN];
    const args = [
      ...leading,
      "--host",
      "127.0.0.1",
      "--ws-port",
      String(options.wsPort ?? 0),
      "--control-port",
      String(options.controlPort ?? 0),
      ...options.args ?? [],
    ];
    const child = new Deno.Command(program!, {
      args,
      env: { NO_COLOR: "1", ...options.env },
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new ServerProcess(child, options);
    if (options.expectFailure) return server;
    try {
      await server.#ready(options.readyTimeoutMs ?? 10_000);
    } catch (error) {
      await server[Symbol.asyncDispose]();
      throw error;
    }
    return server;
  }

  /** The process id. */
  /** Whether the process is still running (its exit not seen yet). */
  get running(): boolean {
    return this.#status === undefined;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The control port's address, as the in-process test clients take it. */
  get controlAddr(): Deno.NetAddr {
    return { transport: "tcp", hostname: "127.0.0.1", port: this.controlPort };
  }

  /** Waits for an output line matching `pattern` (searching every line so far first). */
  async waitForLog(pattern: RegExp, ms = 10_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let checked = 0;
    while (true) {
      for (; checked < this.lines.length; checked++) {
        const match = this.lines[checked]!.match(pattern);
        if (match !== null) return match;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.#status !== undefined) {
        throw new Error(`No output line matched ${pattern} within ${ms} ms:\n${this.log}`);
      }
      await this.#change(left);
    }
  }

  /** The whole output so far. */
  get log(): string {
    return this.lines.join("\n");
  }

  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Waits for the process to exit and for its output to be read. */
  async exit(): Promise<Deno.CommandStatus> {
    this.#status = await this.child.status;
    await this.#reading;
    return this.#status;
  }

  /** Sends `signal`, then SIGKILL if the process has not exited within `graceMs`. */
  async stop(signal: Deno.Signal = "SIGTERM", graceMs = 5000): Promise<Deno.CommandStatus> {
    this.#kill(signal);
    const timer = setTimeout(() => this.#kill("SIGKILL"), graceMs);
    try {
      return await this.exit();
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#kill("SIGKILL");
    await this.exit();
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Learns the ports from the log, or waits for the given ones to accept connections. */
  async #ready(ms: number): Promise<void> {
    if (this.wsPort === 0 || this.controlPort === 0) {
      const ws = await this.waitForLog(/WebSocket port listening on wss?:\/\/[^:]+:(\d+)/, ms);
      const control = await this.waitForLog(/Control port listening on [^:]+:(\d+)/, ms);
      this.wsPort = Number(ws[1]);
      this.controlPort = Number(control[1]);
      return;
    }
    const deadline = Date.now() + ms;
    while (!(await canConnect(this.wsPort) && await canConnect(this.controlPort))) {
      if (Date.now() > deadline || this.#status !== undefined) {
        throw new Error(
          `Cannot start the server (pid ${this.child.pid}): ports ${this.wsPort}/${this.controlPort} not open ` +
            `within ${ms} ms:\n${this.log}`,
        );
      }
      await this.#change(50);
    }
  }

  /** Resolves on new output or exit, or after `ms`. */
  async #change(ms: number): Promise<void> {
    const woken = Promise.withResolvers<void>();
    this.#waiters.push(woken.resolve);
    const timer = setTimeout(woken.resolve, Math.min(ms, 100));
    await woken.promise;
    clearTimeout(timer);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      this.#add(parts);
    }
    if (partial !== "") this.#add([partial]);
  }

  #add(lines: string[]): void {
    this.lines.push(...lines);
    if (this.#echo) { for (const line of lines) console.error(line); }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
