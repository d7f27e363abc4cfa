/**
 * The node's two connections to Redis: one for commands and publishing, one subscribed. Nothing
 * is ever parked in the client's offline queue: while the link is down a request fails at once,
 * and a request Redis leaves unanswered fails after --redis-timeout, so a push never waits for a
 * Redis that is gone. The link reports each change of state; the node rebuilds on every `up`.
 * @module
 */
import { createClient } from "@redis/client";
import { DeadlineQueue } from "../deadline_queue.ts";
import { UnavailableError } from "../errors.ts";
import type { Script } from "./redis_scripts.ts";

/** Options of {@linkcode RedisLink}. */
export interface RedisLinkOptions {
  /** `redis://` or `rediss://` URL; may hold a password, so it is never logged as is. */
  readonly url: string;
  /** Milliseconds a request may wait for its answer (and a connection attempt may take). */
  readonly timeoutMs: number;
  /** Requests in flight at once; more fail at once (bounded memory when Redis is slow). */
  readonly maxPending: number;
  /** The link came up (again): both connections are ready; subscriptions must be rebuilt. */
  readonly onUp: () => void;
  /** The link went down; `reason` never includes the URL. */
  readonly onDown: (reason: string) => void;
  /** A message on a subscribed channel. */
  readonly onMessage: (message: string, channel: string) => void;
}

type Client = ReturnType<typeof createClient>;

/** An answer that is waited for, with its deadline. */
interface Waiting {
  readonly reject: (error: Error) => void;
}

/**
 * Redis left a request unanswered: unlike a link that is down, the request was sent, so Redis
 * may still carry it out if it recovers.
 */
export class RedisTimeoutError extends UnavailableError {}

/** Longest wait between reconnection attempts, in milliseconds. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** Two Redis connections that fail fast instead of queueing. */
export class RedisLink {
  readonly #options: RedisLinkOptions;
  readonly #cmd: Client;
  readonly #sub: Client;
  readonly #deadlines: DeadlineQueue<Waiting>;
  readonly #listener = (message: string, channel: string) =>
    this.#options.onMessage(message, channel);
  #up = false;
  /** A request went unanswered: the link counts as down until a PING answers. */
  #stalled = false;
  #probe: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #downSince = Date.now();

  constructor(options: RedisLinkOptions) {
    this.#options = options;
    const client = {
      url: options.url,
      disableOfflineQueue: true,
      // Enterprise maintenance handling reads undeclared environment variables; Herald may
      // read only its own.
      maintNotifications: "disabled" as const,
      socket: {
        connectTimeout: options.timeoutMs,
        reconnectStrategy: (retries: number) =>
          Math.min(50 * 2 ** Math.min(retries, 10), MAX_RECONNECT_DELAY_MS),
      },
    };
    this.#cmd = createClient(client);
    this.#sub = createClient(client);
    this.#deadlines = new DeadlineQueue<Waiting>({
      delayMs: options.timeoutMs,
      onExpire: (waiting) => {
        waiting.reject(
          new RedisTimeoutError(
            `Cannot confirm: Redis did not answer within --redis-timeout ` +
              `(${options.timeoutMs / 1000} s)`,
          ),
        );
        this.#stall();
      },
    });
    for (const client of [this.#cmd, this.#sub]) {
      client.on("ready", () => this.#update());
      client.on("end", () => this.#update("connection closed"));
      client.on("error", (error: Error) => this.#update(describe(error)));
    }
  }

  /** Connects both; resolves at once, the link comes up by itself when Redis answers. */
  start(): void {
    for (const client of [this.#cmd, this.#sub]) client.connect().catch(() => {});
  }

  /** Both connections are ready and Redis answers. */
  get up(): boolean {
    return this.#up;
  }

  /** Milliseconds since the link went down; 0 while it is up. */
  get downForMs(): number {
    return this.#up ? 0 : Date.now() - this.#downSince;
  }

  /**
   * Sends one command; rejects with `UnavailableError` at once while the link is down, or when
   * no answer comes within the timeout.
   */
  send<T>(args: readonly string[]): Promise<T> {
    if (!this.#up) return Promise.reject(this.#unavailable());
    if (this.#deadlines.size >= this.#options.maxPending) {
      return Promise.reject(
        new UnavailableError(
          `Cannot complete: ${this.#options.maxPending} Redis requests are in flight ` +
            `(--redis-max-pending): Redis is not keeping up`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const deadline = this.#deadlines.add({ reject });
    this.#cmd.sendCommand(args as string[]).then(
      (reply) => {
        this.#deadlines.cancel(deadline);
        resolve(reply as T);
      },
      (error: Error) => {
        this.#deadlines.cancel(deadline);
        reject(new UnavailableError(`Cannot complete: Redis request failed: ${describe(error)}`));
      },
    );
    return promise;
  }

  /** Runs `script` by its SHA1, and by its body when Redis does not know it (yet, or any more). */
  async evalScript<T>(
    script: Script,
    keys: readonly string[],
    args: readonly string[],
  ): Promise<T> {
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await this.send<T>(["EVALSHA", script.sha, ...rest]);
    } catch (error) {
      if (!(error as Error).message.includes("NOSCRIPT")) throw error;
      return await this.send<T>(["EVAL", script.body, ...rest]);
    }
  }

  /** PUBLISH: resolves with how many subscribers (nodes) received the message. */
  publish(channel: string, message: string): Promise<number> {
    return this.send<number>(["PUBLISH", channel, message]);
  }

  /** Subscribes to `channels`; fails like {@linkcode send}. */
  subscribe(channels: string[]): Promise<void> {
    if (!this.#up) return Promise.reject(this.#unavailable());
    return this.#sub.subscribe(channels, this.#listener);
  }

  /** Unsubscribes from `channels`, or from every channel when none are given. */
  unsubscribe(channels?: string[]): Promise<void> {
    if (!this.#up) return Promise.reject(this.#unavailable());
    return this.#sub.unsubscribe(channels, this.#listener);
  }

  /** Closes both connections; pending requests fail. */
  close(): void {
    this.#closed = true;
    this.#up = false;
    clearInterval(this.#probe);
    this.#deadlines.close();
    for (const client of [this.#cmd, this.#sub]) {
      try {
        client.destroy();
      } catch {
        // Never connected.
      }
    }
  }

  #unavailable(): UnavailableError {
    return new UnavailableError(
      `Cannot complete: the Redis link is down (for ${
        Math.round(this.downForMs / 100) / 10
      } s); this node serves its own connections only`,
    );
  }

  /** A request went unanswered: down until a PING comes back. */
  #stall(): void {
    if (this.#stalled || this.#closed) return;
    this.#stalled = true;
    this.#update("Redis did not answer within --redis-timeout");
    this.#probe = setInterval(() => {
      this.#cmd.sendCommand(["PING"]).then(() => {
        if (!this.#stalled) return;
        clearInterval(this.#probe);
        this.#probe = undefined;
        this.#stalled = false;
        this.#update();
      }, () => {});
    }, Math.min(this.#options.timeoutMs, 1000));
  }

  #update(reason?: string): void {
    if (this.#closed) return;
    const up = !this.#stalled && this.#cmd.isReady && this.#sub.isReady;
    if (up === this.#up) return;
    this.#up = up;
    if (up) {
      this.#options.onUp();
    } else {
      this.#downSince = Date.now();
      this.#options.onDown(reason ?? "connection lost");
    }
  }
}

/** An error's message, which for connection errors names only the address, never the URL. */
function describe(error: Error): string {
  return error.message;
}
