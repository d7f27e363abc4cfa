/**
 * The backend side: a TCP port where each line is one JSON request and each request gets exactly
 * one reply line, in order, so clients may pipeline.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createHash, timingSafeEqual } from "node:crypto";
import { setImmediate } from "node:timers";
import type { Awaitable } from "../awaitable.ts";
import { parseCommandLine } from "../command.ts";
import { dispatch, type DispatchContext } from "../dispatch.ts";
import type { ControlError } from "../errors.ts";
import { DeadlineQueue } from "../deadline_queue.ts";
import { ControlSession } from "./control_session.ts";
import { formatError, formatOutcome } from "./reply.ts";

const log = getLogger(["herald", "control"]);
/**
 * Read buffer sizes. Most backends connect, send one line and close: a small buffer spares them
 * a 64 KiB allocation (measured ~40 µs with its GC); a read that fills it means a pipelining
 * client, which gets the large one.
 */
const FIRST_READ_BUFFER_BYTES = 4 * 1024;
const PIPELINE_READ_BUFFER_BYTES = 64 * 1024;
/** On close, how long bytes already on their way may still arrive and be answered. */
const DRAIN_MS = 100;
/** On close, how long a peer that is not reading may take to read the replies it is owed. */
const STUCK_WRITE_GRACE_MS = 1000;
const encoder = new TextEncoder();

/** Options of {@linkcode ControlServer}. */
export interface ControlServerOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Longest request line in bytes; a longer one is answered `line_too_long` and closed. */
  readonly maxLineBytes: number;
  /** Connections open at once; the next one is answered `too_many_connections` and closed. */
  readonly maxConnections: number;
  /** Seconds to complete the first line, and each line once begun; then `line_timeout`. */
  readonly lineTimeoutSeconds: number;
  /** Seconds one reply write may stay blocked; then the connection is closed. */
  readonly writeTimeoutSeconds: number;
  /** When set, the first line must be `{"auth":"<secret>"}`. */
  readonly controlSecret: string | undefined;
  readonly context: DispatchContext;
  /** Called with the seconds each request took, from its complete line to its reply. */
  readonly onRequestSeconds?: (seconds: number) => void;
}

/** The listening control port and its open connections. */
export class ControlServer {
  readonly #listener: Deno.TcpListener;
  readonly #options: ControlServerOptions;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #sessions = new Set<Promise<void>>();
  /** Connections waiting for their next bytes: the ones shutdown may close at once. */
  readonly #reading = new Set<Deno.TcpConn>();
  readonly #accepting: Promise<void>;
  /** Connections in the middle of a write, closed when one stays blocked too long. */
  readonly #writeDeadlines: DeadlineQueue<Deno.TcpConn>;
  #secretDigest: Uint8Array | undefined;
  /** Set by close(): reading goes on until then, replies included, and stops after. */
  #drainUntil = Infinity;

  /** Starts listening at once. */
  constructor(options: ControlServerOptions) {
    this.#options = options;
    this.#secretDigest = options.controlSecret === undefined
      ? undefined
      : sha256(options.controlSecret);
    this.#writeDeadlines = new DeadlineQueue({
      delayMs: options.writeTimeoutSeconds * 1000,
      onExpire: (conn) => {
        log.warn("Control client {peer} left replies unread for {seconds} s; closing", {
          peer: `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`,
          seconds: options.writeTimeoutSeconds,
        });
        closeQuietly(conn);
      },
    });
    this.#listener = Deno.listen({ hostname: options.hostname, port: options.port });
    this.#accepting = this.#acceptLoop();
  }

  /** Where the port listens. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Control connections open now. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Sets the secret that connections not yet authenticated must send; undefined turns auth off. */
  setControlSecret(secret: string | undefined): void {
    this.#secretDigest = secret === undefined ? undefined : sha256(secret);
  }

  /**
   * Stops accepting and closes every connection once the requests already sent are answered:
   * for a short drain window reading goes on; then a connection waiting for bytes closes at once,
   * one busy with a chunk closes after writing its replies, and one whose peer does not take its
   * replies closes after a short grace, so a stuck backend cannot hold a shutdown.
   */
  async close(): Promise<void> {
    if (this.#drainUntil === Infinity) {
      this.#drainUntil = performance.now() + DRAIN_MS;
      this.#listener.close();
      if (this.#conns.size > 0) await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
      for (const conn of this.#reading) closeQuietly(conn);
      await this.#sessionsEnd(STUCK_WRITE_GRACE_MS);
      if (this.#conns.size > 0) {
        log.warn("Closing {count} control connections that did not read their replies", {
          count: this.#conns.size,
        });
        for (const conn of this.#conns) closeQuietly(conn);
      }
    }
    await this.#accepting;
    await Promise.all(this.#sessions);
    this.#writeDeadlines.close();
  }

  /** Resolves when every session has ended or after `ms`, whichever comes first. */
  async #sessionsEnd(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(this.#sessions),
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
    clearTimeout(timer);
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return; // Listener closed.
        log.warn("Control accept failed: {error}", { error });
        continue;
      }
      const full = this.#conns.size >= this.#options.maxConnections;
      this.#conns.add(conn);
      const session = this.#serve(conn, full).finally(() => {
        this.#conns.delete(conn);
        this.#sessions.delete(session);
        closeQuietly(conn);
      });
      this.#sessions.add(session);
    }
  }

  async #serve(conn: Deno.TcpConn, full: boolean): Promise<void> {
    const peer = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
    if (full) {
      log.warn("Refused control client {peer}: --max-control-connections ({max}) reached", {
        peer,
        max: this.#options.maxConnections,
      });
      await this.#write(conn, formatError(TOO_MANY_CONNECTIONS(this.#options)) + "\n")
        .catch(() => {});
      return;
    }
    log.debug("Control client {peer} connected", { peer });
    const session = new ControlSession({
      maxLineBytes: this.#options.maxLineBytes,
      answer: (line) => this.#answer(line),
      checkSecret: this.#secretDigest === undefined
        ? undefined
        : (secret) => this.#checkSecret(secret),
    });
    let buffer = new Uint8Array(FIRST_READ_BUFFER_BYTES);
    // Slowloris: the first line, and every line once begun, must complete within the timeout.
    // A connection idle between requests keeps no deadline: backends pool their connections.
    // Only time spent waiting for the peer's bytes counts: answering and writing replies (which
    // has its own timeout) push the deadline back by as long as they took.
    const lineTimeoutMs = this.#options.lineTimeoutSeconds * 1000;
    let lineDeadline: number | undefined = performance.now() + lineTimeoutMs;
    let linesSeen = 0;
    try {
      while (performance.now() < this.#drainUntil) {
        const read = await this.#read(conn, buffer, lineDeadline);
        if (read === "timeout") {
          log.warn("Control client {peer} sent no complete line within {seconds} s; closing", {
            peer,
            seconds: this.#options.lineTimeoutSeconds,
          });
          await this.#write(conn, formatError(LINE_TIMEOUT(this.#options)) + "\n");
          break;
        }
        if (read === null) break;
        const busySince = performance.now();
        const output = await session.push(buffer.subarray(0, read));
        if (read === buffer.length && buffer.length < PIPELINE_READ_BUFFER_BYTES) {
          buffer = new Uint8Array(PIPELINE_READ_BUFFER_BYTES); // The session copied its tail.
        }
        linesSeen += output.lines;
        if (output.end === "unauthorized") {
          log.warn("Control client {peer} failed to authenticate; closing", { peer });
        } else if (output.end === "line_too_long") {
          log.warn("Control client {peer} sent a line over {max} bytes; closing", {
            peer,
            max: this.#options.maxLineBytes,
          });
        }
        if (output.replies !== "") await this.#write(conn, output.replies);
        if (output.end !== undefined) break;
        if (session.pendingBytes === 0) {
          if (linesSeen > 0) lineDeadline = undefined; // Idle between requests.
        } else if (output.lines > 0 || lineDeadline === undefined) {
          // A line began in this chunk; drip-feeding an older one does not move its deadline.
          lineDeadline = performance.now() + lineTimeoutMs;
        } else {
          lineDeadline += performance.now() - busySince;
        }
        // Ready reads and writes resolve without letting WebSocket writes run; a pipelining
        // client would otherwise pile up every frame it pushes until it pauses.
        if (output.lines > 0) await new Promise((resolve) => setImmediate(resolve));
      }
      if (session.pendingBytes > 0) {
        log.debug("Control client {peer} left {bytes} bytes without a newline", {
          peer,
          bytes: session.pendingBytes,
        });
      }
    } catch (error) {
      if (!isDisconnect(error)) log.warn("Control client {peer} failed: {error}", { peer, error });
    }
    log.debug("Control client {peer} disconnected", { peer });
  }

  /** Reads the next chunk; "timeout" when `deadline` (a `performance.now()` time) passes first. */
  async #read(
    conn: Deno.TcpConn,
    buffer: Uint8Array,
    deadline: number | undefined,
  ): Promise<number | null | "timeout"> {
    this.#reading.add(conn);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (deadline === undefined) return await conn.read(buffer);
      const reading = conn.read(buffer);
      // After a timeout the read is abandoned; closing the connection rejects it.
      reading.catch(() => {});
      return await Promise.race([
        reading,
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - performance.now()));
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#reading.delete(conn);
    }
  }

  /**
   * Writes all of `text`. A peer that leaves it unread past --control-write-timeout is closed,
   * which rejects the write: one connection's full buffers hold nothing else up.
   */
  async #write(conn: Deno.TcpConn, text: string): Promise<void> {
    const bytes = encoder.encode(text);
    const deadline = this.#writeDeadlines.add(conn);
    try {
      // conn.write may write only part of the buffer.
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    } finally {
      this.#writeDeadlines.cancel(deadline);
    }
  }

  #answer(line: string): Awaitable<string> {
    const started = performance.now();
    const parsed = parseCommandLine(line);
    if (!parsed.ok) {
      log.warn("Refused control request: {code}: {message}", { ...parsed.error });
      return this.#answered(started, formatError(parsed.error, parsed.id));
    }
    const { command } = parsed;
    const outcome = dispatch(command, this.#options.context);
    // A push the local broker answered needs no closure: only a promise gets a continuation.
    return outcome instanceof Promise
      ? outcome.then((done) => this.#answered(started, formatOutcome(command, done)))
      : this.#answered(started, formatOutcome(command, outcome));
  }

  /** Reports how long a request took, from its line to its reply. */
  #answered(started: number, reply: string): string {
    this.#options.onRequestSeconds?.((performance.now() - started) / 1000);
    return reply;
  }

  #checkSecret(secret: string): boolean {
    if (this.#secretDigest === undefined) return true; // A reload turned auth off meanwhile.
    // Digests have one length, so the comparison time says nothing about the secret.
    return timingSafeEqual(sha256(secret), this.#secretDigest);
  }
}

const LINE_TIMEOUT = (options: ControlServerOptions): ControlError => ({
  code: "line_timeout",
  message:
    `Cannot read line: not complete within --control-line-timeout (${options.lineTimeoutSeconds} s)`,
});

const TOO_MANY_CONNECTIONS = (options: ControlServerOptions): ControlError => ({
  code: "too_many_connections",
  message: `Cannot accept requests: --max-control-connections (${options.maxConnections}) reached`,
});

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

function closeQuietly(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
