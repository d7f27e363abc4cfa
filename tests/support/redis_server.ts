/**
 * A real `redis-server` of the test's own, on a free loopback port, without persistence. It can
 * be stopped and started again on the same port (Redis down, then back). A missing
 * `redis-server` is an installation error: the test task installs it.
 * @module
 */
import { canConnect, freePort } from "./ports.ts";
import { notInstalled } from "./run_command.ts";
import { eventually } from "./wait.ts";

/** One redis-server child process. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  #child: Deno.ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  /** Starts a server on a free port and waits until it accepts connections. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(freePort());
    await server.restart();
    return server;
  }

  /** The running server's process id, undefined while stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on its port (after {@linkcode stop}). */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error("redis-server is running already");
    try {
      this.#child = new Deno.Command("redis-server", {
        args: [
          "--port",
          String(this.port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    } catch (error) {
      throw notInstalled(error, "redis-server", "redis-server");
    }
    await eventually(() => canConnect(this.port), 10_000, `redis-server on port ${this.port}`);
  }

  /** Kills the server (SIGKILL: Redis gone at once, as in a crash) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }

  /** Freezes the server (SIGSTOP): connections stay open and nothing is answered. */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a paused server run again (SIGCONT). */
  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Runs `redis-cli` against this server and returns its output. */
  async cli(...args: string[]): Promise<string> {
    const output = await new Deno.Command("redis-cli", {
      args: ["-p", String(this.port), ...args],
      stdin: "null",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
