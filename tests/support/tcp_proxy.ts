/**
 * A TCP proxy the test controls, between a client and Herald: it counts connection attempts,
 * can cut every link at once (a dropped network), and can refuse new links for a while (a long
 * outage).
 * @module
 */
import { writeAll } from "./write_all.ts";

/** Forwards 127.0.0.1:<port> to a target port, under the test's control. */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.TcpListener;
  readonly #target: number;
  readonly #links = new Set<Deno.TcpConn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #refusing = false;
  /** Links stalled by {@linkcode stall}: open, but nothing crosses them any more. */
  readonly #stalled = new Set<Deno.TcpConn>();
  /** Connections accepted so far, refused ones included. */
  attempts = 0;

  constructor(targetPort: number) {
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The proxy's port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Closes every open link, both sides, as a network failure would. */
  cut(): void {
    for (const conn of this.#links) close(conn);
    this.#links.clear();
  }

  /**
   * Stops forwarding on every open link without closing it, as a dead NAT mapping or a
   * suspended laptop would: only heartbeats can notice. New links work normally.
   */
  stall(): void {
    for (const conn of this.#links) this.#stalled.add(conn);
  }

  /** While true, new connections are accepted and closed at once. */
  refuse(refusing: boolean): void {
    this.#refusing = refusing;
  }

  async #accept(): Promise<void> {
    for await (const client of this.#listener) {
      this.attempts++;
      if (this.#refusing) {
        close(client);
        continue;
      }
      let server: Deno.TcpConn;
      try {
        server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
      } catch {
        close(client);
        continue;
      }
      this.#links.add(client);
      this.#links.add(server);
      const pipe = Promise.all([this.#pipe(client, server), this.#pipe(server, client)]).then(
        () => {
          this.#links.delete(client);
          this.#links.delete(server);
          this.#pipes.delete(pipe);
        },
      );
      this.#pipes.add(pipe);
    }
  }

  async #pipe(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await from.read(buffer);
        if (read === null) break;
        if (this.#stalled.has(from)) continue;
        await writeAll(to, buffer.subarray(0, read));
      }
    } catch {
      // Cut: the other direction's close interrupted this one.
    }
    close(from);
    close(to);
    this.#stalled.delete(from);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting.catch(() => {});
    this.cut();
    await Promise.all(this.#pipes);
  }
}

function close(conn: Deno.TcpConn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
