/**
 * Test helpers: a whole Herald on free ports, and real WebSocket and TCP clients for it.
 * @module
 */
import { type Config, loadConfig } from "../src/config.ts";
import { LineReader } from "../src/control/line_reader.ts";
import { type Herald, startHerald } from "../src/herald.ts";
import { Hub } from "../src/hub.ts";

/** A test that runs with the op and resource sanitizers on. */
export function test(name: string, fn: () => Promise<void> | void): void {
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
}

/** A valid config on free loopback ports, with `overrides` applied. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const loaded = loadConfig(["--host", "127.0.0.1", "--ws-port", "0", "--control-port", "0"], {});
  if (loaded.kind !== "run") throw new Error("unreachable: no --help given");
  return Object.freeze({ ...loaded.config, ...overrides });
}

/** Starts a Herald with its own hub; `await using` shuts it down. */
export async function startTestHerald(
  overrides: Partial<Config> = {},
): Promise<Herald & AsyncDisposable & { wsUrl: string }> {
  const herald = await startHerald(testConfig(overrides), { hub: new Hub() });
  return {
    ...herald,
    wsUrl: `ws://127.0.0.1:${herald.wsAddr.port}/`,
    [Symbol.asyncDispose]: () => herald.shutdown(),
  };
}

/** Resolves with `promise` or rejects after `ms` milliseconds, clearing its timer either way. */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 10 ms until it is true, for at most `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A browser-like client: a real WebSocket that records what it receives and how it closed. */
export class TestClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly received: string[] = [];
  readonly closed: Promise<CloseEvent>;
  readonly #opened: Promise<void>;
  #waiters: Array<() => void> = [];

  constructor(url: string, protocols?: string[]) {
    this.socket = new WebSocket(url, protocols);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<CloseEvent>();
    this.#opened = opened.promise;
    this.closed = closed.promise;
    this.socket.onopen = () => opened.resolve();
    this.socket.onerror = () => {};
    this.socket.onclose = (event) => {
      opened.resolve(); // A socket refused before opening still settles.
      closed.resolve(event);
      this.#wake();
    };
    this.socket.onmessage = (event) => {
      this.received.push(String(event.data));
      this.#wake();
    };
  }

  /** Opens a socket and identifies with `{"uid": uid}`, waiting for the acknowledgement. */
  static async identified(url: string, uid: string): Promise<TestClient> {
    const client = new TestClient(url);
    await client.open();
    client.socket.send(JSON.stringify({ uid }));
    const ack = await client.next();
    if (ack !== JSON.stringify({ event: "identified", uid })) {
      throw new Error(`Expected an identified event, got ${ack}`);
    }
    return client;
  }

  /** Waits for the handshake. */
  open(): Promise<void> {
    return within(5000, this.#opened, "the WebSocket to open");
  }

  /** The next message not yet taken, waiting up to `ms`. */
  async next(ms = 5000): Promise<string> {
    await this.waitFor(
      () => this.received.length > 0 || this.socket.readyState === WebSocket.CLOSED,
      ms,
    );
    const message = this.received.shift();
    if (message === undefined) throw new Error("The socket closed before a message arrived");
    return message;
  }

  /** Waits until `check` holds, re-checking on every message and on close. */
  async waitFor(check: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Timed out after ${ms} ms; received ${JSON.stringify(this.received)}`);
      }
      const woken = Promise.withResolvers<void>();
      this.#waiters.push(woken.resolve);
      await within(left, woken.promise, "a message").catch(() => {});
    }
  }

  /** Waits for the close event, up to `ms`. */
  closeEvent(ms = 5000): Promise<CloseEvent> {
    return within(ms, this.closed, "the socket to close");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      this.socket.close();
      await this.closeEvent();
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A backend-like client of the control port: write lines, read reply lines. */
export class ControlClient implements Disposable {
  readonly conn: Deno.TcpConn;
  readonly #lines = new LineReader(64 * 1024 * 1024);
  readonly #decoder = new TextDecoder();
  readonly #queued: string[] = [];
  readonly #buffer = new Uint8Array(64 * 1024);
  #ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(addr: Deno.NetAddr): Promise<ControlClient> {
    return new ControlClient(await Deno.connect({ hostname: "127.0.0.1", port: addr.port }));
  }

  /** Writes raw text or bytes as they are. */
  async write(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  /** Sends one request line and returns its reply line. */
  async request(request: string | Record<string, unknown>): Promise<string> {
    await this.write((typeof request === "string" ? request : JSON.stringify(request)) + "\n");
    const reply = await this.readLine();
    if (reply === null) throw new Error("The control port closed without a reply");
    return reply;
  }

  /** Sends a query and parses its JSON reply. */
  async query(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    return JSON.parse(await this.request(request));
  }

  /** The next reply line, or null once the server has closed the connection. */
  async readLine(ms = 5000): Promise<string | null> {
    while (this.#queued.length === 0 && !this.#ended) {
      const read = await within(ms, this.conn.read(this.#buffer), "a reply line");
      if (read === null) {
        this.#ended = true;
        break;
      }
      for (const block of this.#lines.push(this.#buffer.subarray(0, read)).blocks) {
        this.#queued.push(...this.#decoder.decode(block).split("\n").slice(0, -1));
      }
    }
    return this.#queued.shift() ?? null;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}
