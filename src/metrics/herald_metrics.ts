/**
 * Every metric Herald exposes on `GET /metrics`, as typed fields the transports update, and the
 * gauges read from state the wiring points at.
 * @module
 */
import { CLOSE } from "../errors.ts";
import type { WebhookStats } from "../webhook/webhook_sender.ts";
import { EventLoopLagSampler } from "./event_loop_lag.ts";
import {
  type Counter,
  type Histogram,
  type LabelledCounter,
  MetricsRegistry,
} from "./metrics_registry.ts";

import type { PushCmd } from "../dispatch.ts";

/** What a push's reply said: `ok` when it reached a connection, `queued` when history kept it for one, else `fail`. */
export type PushOutcome = "ok" | "queued" | "fail";

/** Where the gauges read their values; each is called on every render. */
export interface HeraldMetricsSources {
  /** Identified sockets (the registry's connection count). */
  readonly connections: () => number;
  /** Uids with at least one identified socket. */
  readonly uidsOnline: () => number;
  /** Open sockets that have not identified yet. */
  readonly pendingSockets: () => number;
  /** Open control-port connections. */
  readonly controlConnections: () => number;
  /** The webhook sender; without one (no --webhook-url) its metrics stay at 0. */
  readonly webhook?: WebhookStats;
  /** In a cluster: this node's Redis link and traffic (`Cluster.stats()`); absent otherwise. */
  readonly cluster?: () => ClusterFigures;
}

/** The cluster figures the metrics expose, as `Cluster.stats()` names them. */
export interface ClusterFigures {
  readonly redis_up: number;
  readonly cluster_published: number;
  readonly cluster_received: number;
  readonly cluster_publish_failed: number;
  readonly ingress_commands: number;
  readonly ingress_refused: number;
}

/** Options of {@linkcode HeraldMetrics}. */
export interface HeraldMetricsOptions extends HeraldMetricsSources {
  /** Milliseconds between event-loop lag samples. @default 500 */
  readonly lagSampleIntervalMs?: number;
}

/** Upper bounds, in seconds, of the control request histogram: most requests take well under 1 ms. */
const CONTROL_REQUEST_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
];

/**
 * Close codes that get their own `code` label: the standard ones (RFC 6455 and the IANA registry)
 * and Herald's own. A peer may close with any code from 3000 to 4999; those count as `other`, so
 * clients cannot grow the label set.
 */
const LABELLED_CLOSE_CODES: ReadonlySet<number> = new Set([
  1000,
  1001,
  1002,
  1003,
  1005,
  1006,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  1015,
  ...Object.values(CLOSE).map((close) => close.code),
]);

/** Stands for every close code outside LABELLED_CLOSE_CODES. */
const OTHER_CLOSE_CODE = -1;

const PUSH_CMDS: readonly PushCmd[] = ["send", "publish", "broadcast"];
const PUSH_OUTCOMES: readonly PushOutcome[] = ["ok", "queued", "fail"];

/** Herald's metrics; `close()` stops the event-loop lag sampler. */
export class HeraldMetrics {
  /** Sockets that identified (so entered the registry). */
  readonly connects: Counter;
  /** Frames queued to sockets by pushes: one per connection reached. */
  readonly messagesDelivered: Counter;
  /** UTF-8 bytes of those frames. */
  readonly bytesDelivered: Counter;
  /** Sockets closed with 1013 for holding too much unsent data. */
  readonly slowReaderCloses: Counter;
  /** Seconds from a complete control request line to its reply. */
  readonly controlRequestSeconds: Histogram;

  readonly #registry = new MetricsRegistry();
  readonly #pushes: Readonly<Record<PushCmd, Readonly<Record<PushOutcome, Counter>>>>;
  readonly #disconnects: LabelledCounter<"code">;
  /** Close code (or OTHER_CLOSE_CODE) → its child, so a disconnect skips the label lookup. */
  readonly #disconnectsByCode = new Map<number, Counter>();
  readonly #lag: EventLoopLagSampler;

  constructor(options: HeraldMetricsOptions) {
    const metrics = this.#registry;
    metrics.collected({
      name: "herald_connections",
      help: "Identified WebSocket connections.",
      type: "gauge",
      read: options.connections,
    });
    metrics.collected({
      name: "herald_uids_online",
      help: "Uids with at least one identified connection.",
      type: "gauge",
      read: options.uidsOnline,
    });
    metrics.collected({
      name: "herald_pending_sockets",
      help: "Open WebSockets that have not identified yet.",
      type: "gauge",
      read: options.pendingSockets,
    });
    const cluster = options.cluster;
    if (cluster !== undefined) {
      const clusterMetrics: [string, string, "gauge" | "counter", keyof ClusterFigures][] = [
        [
          "herald_redis_up",
          "1 while this node's Redis link is up, 0 while it is down.",
          "gauge",
          "redis_up",
        ],
        [
          "herald_cluster_published_total",
          "Publications sent to other nodes.",
          "counter",
          "cluster_published",
        ],
        [
          "herald_cluster_received_total",
          "Publications received from other nodes.",
          "counter",
          "cluster_received",
        ],
        [
          "herald_cluster_publish_failed_total",
          "Publications other nodes missed: Redis link down.",
          "counter",
          "cluster_publish_failed",
        ],
        [
          "herald_redis_ingress_total",
          "Commands run from the Redis ingress channel.",
          "counter",
          "ingress_commands",
        ],
        [
          "herald_redis_ingress_refused_total",
          "Ingress messages refused.",
          "counter",
          "ingress_refused",
        ],
      ];
      for (const [name, help, type, key] of clusterMetrics) {
        metrics.collected({ name, help, type, read: () => cluster()[key] });
      }
    }
    this.connects = metrics.counter({
      name: "herald_connects_total",
      help: "WebSockets that identified.",
    });
    this.#disconnects = metrics.labelledCounter({
      name: "herald_disconnects_total",
      help: "Identified WebSockets closed, by close code (other: a code outside the known ones).",
      labelNames: ["code"],
    });
    const pushes = metrics.labelledCounter({
      name: "herald_pushes_total",
      help: "Push requests (send, publish, broadcast), by outcome: ok reached a connection.",
      labelNames: ["cmd", "outcome"],
    });
    // Every combination exists from the start, so rates work before the first of each.
    const byOutcome = (cmd: PushCmd) =>
      Object.fromEntries(
        PUSH_OUTCOMES.map((outcome) => [outcome, pushes.labels({ cmd, outcome })]),
      );
    this.#pushes = Object.fromEntries(PUSH_CMDS.map((cmd) => [cmd, byOutcome(cmd)])) as Record<
      PushCmd,
      Record<PushOutcome, Counter>
    >;
    this.messagesDelivered = metrics.counter({
      name: "herald_messages_delivered_total",
      help: "Frames queued to WebSockets by pushes, one per connection reached.",
    });
    this.bytesDelivered = metrics.counter({
      name: "herald_bytes_delivered_total",
      help: "UTF-8 bytes of the frames queued to WebSockets by pushes.",
    });
    this.slowReaderCloses = metrics.counter({
      name: "herald_slow_reader_closes_total",
      help: "WebSockets closed with 1013 for holding too much unsent data.",
    });
    metrics.collected({
      name: "herald_control_connections",
      help: "Open control-port connections.",
      type: "gauge",
      read: options.controlConnections,
    });
    this.controlRequestSeconds = metrics.histogram({
      name: "herald_control_request_seconds",
      help: "Seconds from a complete control request line to its reply.",
      buckets: CONTROL_REQUEST_BUCKETS,
    });
    const webhook = options.webhook;
    metrics.collected({
      name: "herald_webhook_queue",
      help: "Webhook events waiting to be delivered, in flight included.",
      type: "gauge",
      read: () => webhook?.queued ?? 0,
    });
    metrics.collected({
      name: "herald_webhook_dropped_total",
      help: "Webhook events given up: queue full, refused by the receiver, or left at shutdown.",
      type: "counter",
      read: () => webhook?.dropped ?? 0,
    });
    metrics.collected({
      name: "herald_webhook_delivered_total",
      help: "Webhook events the receiver accepted (2xx).",
      type: "counter",
      read: () => webhook?.delivered ?? 0,
    });
    metrics.collected({
      name: "herald_webhook_failed_requests_total",
      help: "Webhook requests that failed: network error, timeout or an error status.",
      type: "counter",
      read: () => webhook?.failedRequests ?? 0,
    });
    const lag = metrics.gauge({
      name: "herald_event_loop_lag_seconds",
      help: "How late the last event-loop lag probe timer fired, in seconds.",
    });
    this.#lag = new EventLoopLagSampler({
      intervalMs: options.lagSampleIntervalMs,
      onSample: (seconds) => lag.set(seconds),
    });
    metrics.collected({
      name: "process_resident_memory_bytes",
      help: "Resident memory size in bytes.",
      type: "gauge",
      read: () => Deno.memoryUsage().rss,
    });
  }

  /** The counter of push requests of `cmd` that ended in `outcome`: two property reads. */
  pushes(cmd: PushCmd, outcome: PushOutcome): Counter {
    return this.#pushes[cmd][outcome];
  }

  /** The counter of identified sockets closed with `code`. */
  disconnects(code: number): Counter {
    const key = LABELLED_CLOSE_CODES.has(code) ? code : OTHER_CLOSE_CODE;
    let counter = this.#disconnectsByCode.get(key);
    if (counter === undefined) {
      counter = this.#disconnects.labels({
        code: key === OTHER_CLOSE_CODE ? "other" : String(key),
      });
      this.#disconnectsByCode.set(key, counter);
    }
    return counter;
  }

  /** Every metric in the Prometheus text format 0.0.4, for `GET /metrics`. */
  render(): string {
    return this.#registry.render();
  }

  /** Stops the event-loop lag sampler; safe to call more than once. */
  close(): void {
    this.#lag.close();
  }
}
