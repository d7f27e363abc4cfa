/**
 * Joins this process to a cluster on Redis: the one entry point of src/cluster/, imported by the
 * composition root only when --redis is set, so a single node never loads a Redis client.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Broker } from "../broker.ts";
import type { Config } from "../config.ts";
import type { Hub } from "../hub.ts";
import type { ClusterFigures } from "../metrics/herald_metrics.ts";
import type { Presence } from "../presence.ts";
import { ClusterNode } from "./cluster_node.ts";
import type { HistoryStore } from "../history/history_store.ts";
import { RedisBroker } from "./redis_broker.ts";
import { RedisHistory } from "./redis_history.ts";
import { RedisLink } from "./redis_link.ts";
import { RedisPresence } from "./redis_presence.ts";
import { RedisNames } from "./redis_scripts.ts";
import { redactRedisUrl } from "./redis_url.ts";

const log = getLogger(["herald", "cluster"]);

/** This node's membership of the cluster. */
export interface Cluster {
  readonly nodeId: string;
  readonly broker: Broker;
  readonly presence: Presence;
  /** History streams and mailboxes in Redis; undefined with --history-size 0. */
  readonly history: HistoryStore | undefined;
  /** Whether the Redis link is up now. */
  readonly linkUp: () => boolean;
  /** This node's cluster figures for `stats` and metrics (redis_up 1/0, traffic counters). */
  readonly stats: () => ClusterFigures;
  /** Says goodbye (this node's presence removed) and closes the link. */
  close(): Promise<void>;
}

/**
 * Starts the link and the node; resolves at once, without waiting for Redis: a node whose Redis
 * is down serves its own connections and joins when Redis answers.
 */
export function startCluster(config: Config, hub: Hub): Cluster {
  const url = config.redisUrl;
  if (url === undefined) throw new TypeError("startCluster() needs config.redisUrl");
  const nodeId = config.nodeId ?? defaultNodeId();
  const shown = redactRedisUrl(url);
  let node: ClusterNode | undefined = undefined;
  const link = new RedisLink({
    url,
    timeoutMs: config.redisTimeoutSeconds * 1000,
    maxPending: config.redisMaxPending,
    onUp: () => {
      log.info("Cluster: Redis link up ({url}), node {node}", { url: shown, node: nodeId });
      node?.rebuild();
    },
    onDown: (reason) => {
      log.warn(
        "Cluster: Redis link down ({reason}): serving this node's connections only; " +
          "pushes needing other nodes fail with `unavailable` until it returns",
        { reason },
      );
    },
    onMessage: (message, channel) => node?.onMessage(message, channel),
  });
  const names = new RedisNames(config.redisPrefix);
  node = new ClusterNode({
    hub,
    link,
    names,
    nodeId,
    presenceTtlMs: config.presenceTtlSeconds * 1000,
    timeoutMs: config.redisTimeoutSeconds * 1000,
    maxLineBytes: config.maxLineBytes,
  });
  const started = node;
  const history = config.historySize === 0 ? undefined : new RedisHistory({
    link,
    names,
    nodeId,
    maxEntries: config.historySize,
    ttlSeconds: config.historyTtlSeconds,
    maxBytes: config.historyMaxBytes,
  });
  started.watcher = history;
  started.start();
  link.start();
  log.info("Cluster: node {node} joining through {url} (prefix {prefix}, presence TTL {ttl} s)", {
    node: nodeId,
    url: shown,
    prefix: config.redisPrefix,
    ttl: config.presenceTtlSeconds,
  });
  return {
    nodeId,
    broker: new RedisBroker(hub, started, history),
    presence: new RedisPresence(hub, started),
    history,
    linkUp: () => link.up,
    stats: () => {
      const c = started.counters;
      return {
        redis_up: link.up ? 1 : 0,
        cluster_published: c.published,
        cluster_received: c.received,
        cluster_publish_failed: c.publishFailed,
        ingress_commands: c.ingress,
        ingress_refused: c.ingressRefused,
      };
    },
    async close() {
      history?.close();
      await started.close();
      link.close();
    },
  };
}

/** hostname-pid when the hostname may be read (--allow-sys=hostname), else a random name-pid. */
function defaultNodeId(): string {
  let host: string;
  try {
    host = Deno.hostname().replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 40);
  } catch {
    host = `node-${crypto.randomUUID().slice(0, 8)}`;
  }
  return `${host}-${Deno.pid}`;
}
