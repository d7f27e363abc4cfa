/**
 * Herald as a real child process (`deno run main.ts`, a bundle, or the compiled binary), with its
 * log read line by line so tests learn its ports and wait for what it says.
 * @module
 */
/** Where the repository's main.ts is. */
export const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Permissions a `deno run main.ts` child gets: what the compiled binary bakes in. */
export const RUN_PERMISSIONS = ["--allow-net", "--allow-env=HERALD_*"];

/** Options of {@linkcode HeraldProcess.start}. */
export interface HeraldProcessOptions {
  /** Herald's own flags; `--host 127.0.0.1 --ws-port 0 --control-port 0` come first. */
  readonly args?: readonly string[];
  /** The program and its leading arguments. @default deno run RUN_PERMISSIONS main.ts */
  readonly command?: readonly string[];
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Resolve without waiting for the ports (for a start that is meant to fail). */
  readonly expectFailure?: boolean;
}

/** One Herald child process. */
export class HeraldProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** Every log line so far, stdout and stderr interleaved as they arrived. */
  readonly lines: string[] = [];
  readonly #reading: Promise<void>;
  #waiters: Array<() => void> = [];
  #status: Deno.CommandStatus | undefined;
  wsPort = 0;
  controlPort = 0;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    child.status.then((status) => {
      this.#status = status;
      this.#wake();
    });
    this.#reading = Promise.all([this.#read(child.stdout), this.#read(child.stderr)]).then(() => {
      this.#wake();
    });
  }

  /** Starts Herald and, unless `expectFailure`, waits until both ports listen. */
  static async start(options: HeraldProcessOptions = {}): Promise<HeraldProcess> {
    const [program, ...leading] = options.command ??
      [Deno.execPath(), "run", ...RUN_PERMISSIONS, MAIN];
    const args = [
      ...leading,
      "--host",
      "127.0.0.1",
      "--ws-port",
      "0",
      "--control-port",
      "0",
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
    const herald = new HeraldProcess(child);
    if (options.expectFailure) return herald;
    try {
      const ws = await herald.waitForLog(/WebSocket port listening on wss?:\/\/[^:]+:(\d+)/);
      const control = await herald.waitForLog(/Control port listening on [^:]+:(\d+)/);
      herald.wsPort = Number(ws[1]);
      herald.controlPort = Number(control[1]);
    } catch (error) {
      await herald[Symbol.asyncDispose]();
      throw error;
    }
    return herald;
  }

  /** The control port's address, as the in-process test clients take it. */
  get controlAddr(): Deno.NetAddr {
    return { transport: "tcp", hostname: "127.0.0.1", port: this.controlPort };
  }

  /** Waits for a log line matching `pattern` (searching every line so far first). */
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
        throw new Error(`No log line matched ${pattern} within ${ms} ms:\n${this.log}`);
      }
      const woken = Promise.withResolvers<void>();
      this.#waiters.push(woken.resolve);
      const timer = setTimeout(woken.resolve, Math.min(left, 100));
      await woken.promise;
      clearTimeout(timer);
    }
  }

  /** The whole log so far. */
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

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.exit();
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      this.lines.push(...parts);
      this.#wake();
    }
    if (partial !== "") this.lines.push(partial);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A temporary folder removed by `await using`. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "herald-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  program: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
