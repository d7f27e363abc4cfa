/**
 * Delivers presence and client-message events to the backend's webhook URL in the background:
 * batched, signed, in order, retried with backoff, and dropped (counted, logged once per burst)
 * when the bounded queue is full. Pushes never wait on it: `enqueue` is synchronous and cheap.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Clock } from "../rate_limiter.ts";
import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from "./signature.ts";
import { webhookUrlProblem } from "./webhook_url.ts";

const log = getLogger(["herald", "webhook"]);

/** One event, as it appears in the request body `{"events":[…]}`. */
export type WebhookEvent =
  /** The uid's first connection identified. */
  | { readonly event: "online"; readonly uid: string; readonly time_ms: number }
  /** The uid's last connection closed, with this close code. */
  | {
    readonly event: "offline";
    readonly uid: string;
    readonly time_ms: number;
    readonly code: number;
  }
  /** An identified client sent this text (other than `ping`). */
  | {
    readonly event: "message";
    readonly uid: string;
    readonly time_ms: number;
    readonly data: string;
  };

/** The sender's figures, for metrics. */
export interface WebhookStats {
  /** Events waiting or in flight. */
  readonly queued: number;
  /** Events given up: queue full or closed, refused by the receiver, or unsent at close. */
  readonly dropped: number;
  /** Events the receiver accepted with a 2xx. */
  readonly delivered: number;
  /** Requests that failed: network error, timeout, or a status other than 2xx. */
  readonly failedRequests: number;
}

/** Options of {@linkcode WebhookSender}. */
export interface WebhookSenderOptions {
  /** The receiver, http or https. */
  readonly url: string;
  /** Shared secret of the HMAC-SHA256 signature. */
  readonly secret: string;
  /** Events held at most, in flight included; beyond, new events are dropped. @default 10000 */
  readonly maxQueue?: number;
  /**
   * Size of the events held at most, in flight included, counted as their uid and data lengths
   * plus 64 per event; beyond, new events are dropped. Bounds memory when clients' messages are
   * forwarded, which may each be as large as --max-message-bytes. @default 16777216
   */
  readonly maxQueueSize?: number;
  /** Events per request at most. @default 100 */
  readonly batchMaxEvents?: number;
  /** Milliseconds the first event of a batch waits for others to join it. @default 50 */
  readonly batchWindowMs?: number;
  /** Milliseconds before the first retry; each further retry waits twice as long. @default 250 */
  readonly retryBaseMs?: number;
  /** Longest wait between retries, in milliseconds. @default 30000 */
  readonly retryMaxMs?: number;
  /** Milliseconds a request may take, answer included, before it counts as failed. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Milliseconds `close()` may spend delivering what is queued. @default 5000 */
  readonly flushTimeoutMs?: number;
  /** Milliseconds since the epoch; signs the request time. @default Date.now */
  readonly clock?: Clock;
}

/** How one request ended. */
type Attempt =
  | { readonly kind: "delivered" }
  /** A status the same request will never change: do not retry. */
  | { readonly kind: "refused"; readonly status: number; readonly answer: string }
  | { readonly kind: "failed"; readonly reason: string; readonly retryAfterMs: number };

/** One webhook receiver's sender. Batches go out one at a time, so events arrive in order. */
export class WebhookSender implements WebhookStats {
  readonly #url: string;
  /** The URL without query or credentials, for logs. */
  readonly #target: string;
  readonly #secret: string;
  readonly #maxQueue: number;
  readonly #maxQueueSize: number;
  readonly #batchMaxEvents: number;
  readonly #batchWindowMs: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #requestTimeoutMs: number;
  readonly #flushTimeoutMs: number;
  readonly #clock: Clock;
  /** Our own connection pool, so `close()` releases every connection. */
  readonly #client: Deno.HttpClient;
  /** Aborted when `close()` runs out of time: ends the request or backoff under way. */
  readonly #stop = new AbortController();

  #queue: WebhookEvent[] = [];
  #inFlight = 0;
  /** Sizes (see maxQueueSize) of the events queued and in flight. */
  #heldSize = 0;
  #pumping = false;
  #pumped: Promise<void> = Promise.resolve();
  /** Ends the batch window early: the batch is full, or the sender is closing. */
  #sendNow: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  /** Events dropped since the queue last took one: a burst is logged once, not per event. */
  #droppedInBurst = 0;
  #dropped = 0;
  #delivered = 0;
  #failedRequests = 0;

  constructor(options: WebhookSenderOptions) {
    const problem = webhookUrlProblem(options.url);
    if (problem !== undefined) throw new TypeError(`Cannot create WebhookSender: url ${problem}`);
    const url = new URL(options.url);
    if (options.secret === "") {
      throw new RangeError("Cannot create WebhookSender: secret must not be empty");
    }
    this.#url = url.href;
    this.#target = `${url.origin}${url.pathname}`;
    this.#secret = options.secret;
    this.#maxQueue = positive("maxQueue", options.maxQueue ?? 10_000);
    this.#maxQueueSize = positive("maxQueueSize", options.maxQueueSize ?? 16 * 1024 * 1024);
    this.#batchMaxEvents = positive("batchMaxEvents", options.batchMaxEvents ?? 100);
    this.#batchWindowMs = atLeastZero("batchWindowMs", options.batchWindowMs ?? 50);
    this.#retryBaseMs = positive("retryBaseMs", options.retryBaseMs ?? 250);
    this.#retryMaxMs = positive("retryMaxMs", options.retryMaxMs ?? 30_000);
    this.#requestTimeoutMs = positive("requestTimeoutMs", options.requestTimeoutMs ?? 10_000);
    this.#flushTimeoutMs = atLeastZero("flushTimeoutMs", options.flushTimeoutMs ?? 5_000);
    this.#clock = options.clock ?? Date.now;
    this.#client = Deno.createHttpClient({});
  }

  get queued(): number {
    return this.#queue.length + this.#inFlight;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get delivered(): number {
    return this.#delivered;
  }

  get failedRequests(): number {
    return this.#failedRequests;
  }

  /**
   * Queues `event` for delivery and returns true; returns false, dropping it, when the queue is
   * full or the sender is closed. Never throws and never waits.
   */
  enqueue(event: WebhookEvent): boolean {
    if (this.#closed !== undefined) return this.#drop("the sender is closed");
    if (this.queued >= this.#maxQueue) {
      return this.#drop(`the queue is full (maxQueue ${this.#maxQueue})`);
    }
    const size = eventSize(event);
    if (this.#heldSize + size > this.#maxQueueSize) {
      return this.#drop(`the queue is full (maxQueueSize ${this.#maxQueueSize})`);
    }
    if (this.#droppedInBurst > 0) {
      log.info("Webhook queue takes events again, after dropping {count}", {
        count: this.#droppedInBurst,
      });
      this.#droppedInBurst = 0;
    }
    this.#queue.push(event);
    this.#heldSize += size;
    if (this.#queue.length >= this.#batchMaxEvents) this.#sendNow?.();
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pumped = this.#pump();
    }
    return true;
  }

  /**
   * Stops taking events and delivers what is queued, for at most `flushTimeoutMs`; what is left
   * then is dropped and logged. Resolves once no request, timer or connection is left.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#sendNow?.();
      const deadline = setTimeout(() => this.#stop.abort(), this.#flushTimeoutMs);
      await this.#pumped;
      clearTimeout(deadline);
      const left = this.#queue.length;
      if (left > 0) {
        log.warn("Webhook sender closed with {count} events undelivered: dropped", {
          count: left,
        });
        this.#dropped += left;
        this.#queue = [];
        this.#heldSize = 0;
      }
      this.#client.close();
    })();
    return this.#closed;
  }

  #drop(why: string): false {
    if (this.#droppedInBurst === 0) {
      log.warn("Dropping webhook events: {why}", { why });
    }
    this.#droppedInBurst++;
    this.#dropped++;
    return false;
  }

  /** Sends batches one after the other until the queue is empty or time is up. */
  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stop.signal.aborted) {
        if (this.#queue.length < this.#batchMaxEvents && this.#closed === undefined) {
          await this.#batchWindow();
        }
        const batch = this.#queue.splice(0, this.#batchMaxEvents);
        this.#inFlight = batch.length;
        try {
          await this.#deliver(batch);
        } finally {
          this.#inFlight = 0;
          for (const event of batch) this.#heldSize -= eventSize(event);
        }
      }
    } catch (error) {
      // Unreachable by design; logged rather than left as an unhandled rejection.
      log.error("Webhook sender stopped by an unexpected error: {error}", { error });
    } finally {
      this.#pumping = false;
    }
  }

  #batchWindow(): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(() => this.#sendNow?.(), this.#batchWindowMs);
    this.#sendNow = () => {
      clearTimeout(timer);
      this.#sendNow = undefined;
      resolve();
    };
    return promise;
  }

  /** Sends one batch until the receiver accepts or refuses it, or `close()` runs out of time. */
  async #deliver(batch: readonly WebhookEvent[]): Promise<void> {
    // The same body on every attempt: a receiver that dedupes by body sees a retry as one.
    const body = JSON.stringify({ events: batch });
    for (let failures = 0;;) {
      const attempt = await this.#post(body);
      if (attempt.kind === "delivered") {
        if (failures > 0) {
          log.info("Webhook delivered to {target} after {failures} failed attempts", {
            target: this.#target,
            failures,
          });
        }
        this.#delivered += batch.length;
        return;
      }
      this.#failedRequests++;
      failures++;
      if (attempt.kind === "refused") {
        log.error(
          "Webhook receiver {target} refused {count} events with status {status}: dropped, not " +
            "retried ({answer})",
          {
            target: this.#target,
            count: batch.length,
            status: attempt.status,
            answer: attempt.answer,
          },
        );
        this.#dropped += batch.length;
        return;
      }
      if (this.#stop.signal.aborted) {
        log.warn("Webhook sender out of time at close: {count} events in flight dropped", {
          count: batch.length,
        });
        this.#dropped += batch.length;
        return;
      }
      const delayMs = Math.max(this.#backoffMs(failures), attempt.retryAfterMs);
      const message = "Webhook to {target} failed ({reason}): retry {failures} in {delayMs} ms";
      const properties = { target: this.#target, reason: attempt.reason, failures, delayMs };
      // The first failure of a batch is worth a warning; each retry of an outage is not.
      if (failures === 1) log.warn(message, properties);
      else log.debug(message, properties);
      await this.#sleep(delayMs);
    }
  }

  /** Exponential from `retryBaseMs`, capped at `retryMaxMs`, with jitter so senders spread out. */
  #backoffMs(failures: number): number {
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (failures - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /** Waits `ms`, or less if `close()` runs out of time. */
  #sleep(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
    return promise;
  }

  async #post(body: string): Promise<Attempt> {
    const request = new AbortController();
    const abort = () => request.abort();
    this.#stop.signal.addEventListener("abort", abort);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort();
    }, this.#requestTimeoutMs);
    try {
      const response = await fetch(this.#url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(
            this.#secret,
            body,
            Math.floor(this.#clock() / 1000),
          ),
        },
        body,
        // Following a redirect would resend the events elsewhere, or turn the POST into a GET.
        redirect: "manual",
        signal: request.signal,
        client: this.#client,
      });
      // Read to the end, so the connection can carry the next request.
      const answer = (await response.text()).slice(0, 200);
      const status = response.status;
      if (status >= 200 && status < 300) return { kind: "delivered" };
      if (status >= 500 || status === 408 || status === 429) {
        return {
          kind: "failed",
          reason: `status ${status}`,
          retryAfterMs: this.#retryAfterMs(response.headers.get("retry-after")),
        };
      }
      return { kind: "refused", status, answer };
    } catch (error) {
      const reason = timedOut
        ? `no answer within ${this.#requestTimeoutMs} ms`
        : (error as Error).message;
      return { kind: "failed", reason, retryAfterMs: 0 };
    } finally {
      clearTimeout(timer);
      this.#stop.signal.removeEventListener("abort", abort);
    }
  }

  /** A `Retry-After` in seconds, as milliseconds within `retryMaxMs`; 0 when absent or a date. */
  #retryAfterMs(header: string | null): number {
    const seconds = Number(header ?? "");
    if (header === null || !Number.isFinite(seconds) || seconds < 0) return 0;
    return Math.min(this.#retryMaxMs, seconds * 1000);
  }
}

/** What an event weighs against maxQueueSize: close to its JSON's bytes for ASCII text. */
function eventSize(event: WebhookEvent): number {
  return 64 + event.uid.length + (event.event === "message" ? event.data.length : 0);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 1) {
    throw new RangeError(
      `Cannot create WebhookSender: ${name} must be >= 1: current value is ${value}`,
    );
  }
  return value;
}

function atLeastZero(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot create WebhookSender: ${name} must be >= 0: current value is ${value}`,
    );
  }
  return value;
}
