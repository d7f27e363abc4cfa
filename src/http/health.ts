/**
 * `GET /healthz`: the process is alive and serving, with the figures an operator checks first;
 * `GET /readyz`: it should get new traffic (not draining for a shutdown).
 * @module
 */
import type { Handler } from "./router.ts";

/** Live figures the health answer reports. */
export interface HealthFigures {
  /** Identified connections. */
  readonly connections: () => number;
  /** Uids with at least one connection. */
  readonly uids: () => number;
  /** Sockets open that have not identified yet. */
  readonly pending: () => number;
  /** In a cluster: this node's id and its Redis link (a node serves its own sockets either way). */
  readonly cluster?: () => { node: string; redis: "up" | "down" };
}

/**
 * Answers 200 with `{status, connections, uids, pending, uptime_s}`, and in a cluster `cluster`
 * (`{node, redis: "up" | "down"}`): a node whose Redis is down is alive and serves its sockets.
 */
export function healthHandler(figures: HealthFigures, startedAt = Date.now()): Handler {
  return () =>
    Response.json({
      status: "ok",
      connections: figures.connections(),
      uids: figures.uids(),
      pending: figures.pending(),
      uptime_s: Math.floor((Date.now() - startedAt) / 1000),
      ...figures.cluster && { cluster: figures.cluster() },
    });
}

/**
 * Answers 200 `{"status":"ready"}`, or 503 `{"status":"draining"}` once a shutdown has begun,
 * so a load balancer stops sending clients here while the sockets close; in a cluster, 503
 * `{"status":"degraded","redis":"down"}` while the Redis link is down: the node still serves the
 * sockets it has, but pushes sent to other nodes cannot reach them.
 */
export function readyHandler(draining: () => boolean, redisUp?: () => boolean): Handler {
  const unready = (body: Record<string, string>) =>
    Response.json(body, { status: 503, headers: { "retry-after": "5" } });
  return () => {
    if (draining()) return unready({ status: "draining" });
    if (redisUp !== undefined && !redisUp()) return unready({ status: "degraded", redis: "down" });
    return Response.json({ status: "ready" });
  };
}
