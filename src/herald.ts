/**
 * The composition root: builds every part from the config, serves both ports, and shuts down.
 * Tests start a whole Herald in-process on port 0 through {@linkcode startHerald}.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { LocalBroker } from "./broker.ts";
import type { Config } from "./config.ts";
import { ControlServer } from "./control/control_server.ts";
import type { DispatchContext } from "./dispatch.ts";
import { CLOSE } from "./errors.ts";
import { MemoryHistory } from "./history/memory_history.ts";
import { API_METHODS, apiHandler } from "./http/api.ts";
import { ApiKeys } from "./http/api_keys.ts";
import { clientScriptHandler } from "./http/client_script.ts";
import { healthHandler, readyHandler } from "./http/health.ts";
import { metricsHandler } from "./http/metrics_endpoint.ts";
import { dashboardHandler, demoHandler } from "./http/pages.ts";
import { Router } from "./http/router.ts";
import { type Hub, hub as sharedHub } from "./hub.ts";
import { createIdentify, type Identify } from "./identify.ts";
import { HeraldMetrics } from "./metrics/herald_metrics.ts";
import { LocalPresence } from "./presence.ts";
import { readTlsMaterial, type TlsMaterial } from "./tls.ts";
import { WebhookSender } from "./webhook/webhook_sender.ts";
import { type ConnectionListener, WsGateway } from "./ws/gateway.ts";

const log = getLogger(["herald"]);

/** Parts a caller may swap; each defaults to the production one. */
export interface HeraldDependencies {
  /** Defaults to the process-wide hub; tests pass their own. */
  readonly hub?: Hub;
  /** A single node's history when history is on; defaults to one built from the config. */
  readonly history?: MemoryHistory;
  /** @default Deno.upgradeWebSocket */
  readonly upgradeWebSocket?: typeof Deno.upgradeWebSocket;
}

/** A running Herald. */
export interface Herald {
  readonly wsAddr: Deno.NetAddr;
  readonly controlAddr: Deno.NetAddr;
  /** This process's live connections. */
  readonly hub: Hub;
  /**
   * Applies what a reload may change while running: token secrets, the control secret, the API
   * keys, and the TLS certificate (read again even when its path is the same). Throws, changing
   * nothing, when the certificate cannot be read or loaded. Other settings are the caller's to
   * filter out.
   */
  reload(config: Config): Promise<ReloadOutcome>;
  /**
   * Closes every socket (1001), stops both ports, and resolves when all is released (a peer that
   * never answers the close holds its socket for at most --close-timeout).
   */
  shutdown(): Promise<void>;
}

/** What {@linkcode Herald.reload} did beyond swapping secrets. */
export interface ReloadOutcome {
  /** The certificate or key changed, so the WebSocket port now serves the new one. */
  readonly tlsReloaded: boolean;
}

/** Starts both ports; resolves once both listen. */
export async function startHerald(
  config: Config,
  dependencies: HeraldDependencies = {},
): Promise<Herald> {
  const hub = dependencies.hub ?? sharedHub;
  // Loaded only with --redis: a single node never loads a Redis client.
  const cluster = config.redisUrl === undefined
    ? undefined
    : (await import("./cluster/start_cluster.ts")).startCluster(config, hub);
  // A cluster keeps history in Redis, shared by its nodes; a single node in its own memory.
  const memoryHistory = config.historySize === 0 || cluster !== undefined
    ? undefined
    : dependencies.history ?? new MemoryHistory({
      maxEntries: config.historySize,
      ttlSeconds: config.historyTtlSeconds,
      maxBytes: config.historyMaxBytes,
    });
  const history = cluster?.history ?? memoryHistory;
  const broker = cluster?.broker ?? new LocalBroker(hub, history);
  const presence = cluster?.presence ?? new LocalPresence(hub);
  const startedAt = Date.now();
  let tls = await readTlsMaterial(config);
  let identify = identifyOf(config);
  /** Set when shutdown begins: /readyz answers 503 from then on. */
  let draining = false;
  const webhook = config.webhookUrl === undefined || config.webhookSecret === undefined
    ? undefined
    : new WebhookSender({
      url: config.webhookUrl,
      secret: config.webhookSecret,
      maxQueue: config.webhookMaxQueue,
    });
  const metrics: HeraldMetrics = new HeraldMetrics({
    connections: () => hub.connectionCount,
    uidsOnline: () => hub.uidCount,
    pendingSockets: () => gateway.pendingCount,
    controlConnections: () => control.connectionCount,
    webhook,
    cluster: cluster?.stats,
  });
  /** Releases what was built before a port failed to bind. */
  const abandon = async () => {
    metrics.close();
    await webhook?.close();
    await cluster?.close();
  };
  const gateway: WsGateway = new WsGateway({
    hub,
    listener: connectionListener(metrics, webhook, config.forwardClientMessages),
    history,
    upgradeWebSocket: dependencies.upgradeWebSocket,
    identify: (credential) => identify(credential),
    authTimeoutSeconds: config.authTimeoutSeconds,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
    maxHandshakesPerIp: config.maxHandshakesPerIp,
    maxMessagesPerSecond: config.maxMessagesPerSecond,
    closeTimeoutSeconds: config.closeTimeoutSeconds,
    maxMessageBytes: config.maxMessageBytes,
    maxUnsentBytes: config.maxUnsentBytes,
    maxUnsentFrames: config.maxUnsentFrames,
    maxUnsentTotalBytes: config.maxUnsentTotalBytes,
    allowedOrigins: config.allowedOrigins,
    trustedProxies: config.trustedProxies,
  });
  const apiKeys = new ApiKeys(config.apiKeys);
  const context: DispatchContext = {
    broker,
    presence,
    serverStats: () => ({
      pending: gateway.pendingCount,
      held_sockets: gateway.heldCount,
      unsent_bytes: gateway.unsentBytes,
      control_connections: control.connectionCount,
      uptime_s: Math.floor((Date.now() - startedAt) / 1000),
      history_streams: memoryHistory?.streamCount ?? 0,
      history_messages: memoryHistory?.entryCount ?? 0,
      history_bytes: memoryHistory?.bytes ?? 0,
      ...cluster?.stats(),
    }),
    onPush: (cmd, { delivered, queued }, publication) => {
      metrics.pushes(cmd, delivered > 0 ? "ok" : queued ? "queued" : "fail").inc();
      if (delivered === 0) return;
      metrics.messagesDelivered.inc(delivered);
      // Counted at the plain frame's size: a herald.v1 frame adds its stream and offset.
      metrics.bytesDelivered.inc(delivered * publication.plain.bytes);
    },
  };
  let control: ControlServer;
  try {
    control = listening(
      "--control-port",
      config.controlHost,
      config.controlPort,
      () =>
        new ControlServer({
          hostname: config.controlHost,
          port: config.controlPort,
          maxLineBytes: config.maxLineBytes,
          maxConnections: config.maxControlConnections,
          lineTimeoutSeconds: config.controlLineTimeoutSeconds,
          writeTimeoutSeconds: config.controlWriteTimeoutSeconds,
          controlSecret: config.controlSecret,
          context,
          onRequestSeconds: (seconds) => metrics.controlRequestSeconds.observe(seconds),
        }),
    );
  } catch (error) {
    await abandon();
    throw error;
  }
  const router = new Router(gateway.upgrade)
    .route(
      ["GET"],
      "/healthz",
      healthHandler({
        connections: () => hub.connectionCount,
        uids: () => hub.uidCount,
        pending: () => gateway.pendingCount,
        cluster: cluster &&
          (() => ({ node: cluster.nodeId, redis: cluster.linkUp() ? "up" : "down" })),
      }, startedAt),
    )
    .route(["GET"], "/readyz", readyHandler(() => draining, cluster?.linkUp))
    .route(
      API_METHODS,
      "/api",
      apiHandler({ keys: apiKeys, maxBodyBytes: config.maxApiBodyBytes, context }),
    )
    .route(["GET"], "/metrics", metricsHandler(apiKeys, () => metrics.render()))
    .route(["GET"], "/dashboard", dashboardHandler(apiKeys))
    .route(["GET"], "/herald.js", clientScriptHandler);
  if (config.demo) router.route(["GET"], "/demo", demoHandler());
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = await listening(
      "--ws-port",
      config.host,
      config.wsPort,
      () => serveWs(config.host, config.wsPort, tls, router.handle),
    );
  } catch (error) {
    await control.close();
    await abandon();
    throw error;
  }
  log.info("WebSocket port listening on {scheme}://{hostname}:{port}", {
    scheme: tls === undefined ? "ws" : "wss",
    ...server.addr,
  });
  log.info("Control port listening on {hostname}:{port}", { ...control.addr });
  if (config.secret === undefined) {
    log.warn(
      "OPEN MODE: no --secret set, so any client can claim any uid. Set --secret in production.",
    );
  }
  if (config.demo) {
    log.info("Demo page on {scheme}://{hostname}:{port}/demo", {
      scheme: tls === undefined ? "http" : "https",
      ...server.addr,
    });
    if (config.apiKeys.length === 0) {
      log.warn("--demo without --api-key: the demo page connects, but its form cannot push");
    }
    if (config.secret !== undefined) {
      log.warn("--demo with --secret: the demo page identifies with a bare uid and is refused");
    }
  }

  // Reads and appends expire history lazily; the sweep bounds what an idle process keeps.
  const sweeper = memoryHistory === undefined
    ? undefined
    : setInterval(() => memoryHistory.sweep(), 1000);
  if (sweeper !== undefined) Deno.unrefTimer(sweeper);

  let stopping: Promise<void> | undefined;
  /** The reload in progress: shutdown waits for it, so no server it starts is left running. */
  let reloading: Promise<unknown> = Promise.resolve();
  return {
    wsAddr: server.addr,
    controlAddr: control.addr,
    hub,
    reload(next) {
      const reloaded = reloading.then(async (): Promise<ReloadOutcome> => {
        const tlsReloaded = tls !== undefined && stopping === undefined &&
          await reloadTls(next);
        identify = identifyOf(next);
        control.setControlSecret(next.controlSecret);
        apiKeys.set(next.apiKeys);
        return { tlsReloaded };
      });
      reloading = reloaded.catch(() => {});
      return reloaded;
    },
    shutdown() {
      stopping ??= (async () => {
        draining = true;
        clearInterval(sweeper);
        // Goodbye first: other nodes stop routing here before the sockets close.
        await cluster?.close();
        gateway.closeAll(CLOSE.goingAway);
        await reloading;
        // The WebSocket port answers (/readyz 503, upgrades 503) until every socket is released.
        await Promise.all([control.close(), gateway.released()]);
        await server.shutdown();
        // After the sockets: their offline events are queued by now and get delivered.
        await webhook?.close();
        metrics.close();
      })();
      return stopping;
    },
  };

  /** Serves `next`'s certificate if it changed; false when it did not or a shutdown began. */
  async function reloadTls(next: Config): Promise<boolean> {
    const material = await readTlsMaterial(next, "reload");
    if (material === undefined || (material.cert === tls?.cert && material.key === tls.key)) {
      return false;
    }
    // Deno.serve cannot swap a certificate in place: a second server takes over the port,
    // then the first stops, closing its sockets with 1001 so their clients reconnect.
    const replacement = await serveWs(config.host, server.addr.port, material, router.handle, true);
    if (stopping !== undefined) {
      await replacement.shutdown(); // Shutdown began meanwhile: it closes `server`, not this.
      return false;
    }
    const replaced = server;
    server = replacement;
    tls = material;
    await replaced.shutdown();
    return true;
  }
}

/**
 * Counts identified sockets' connects, disconnects and slow-reader closes, and queues the
 * webhook events: `online` for a uid's first connection, `offline` for its last, and with
 * `forward`, `message` for what a client sends.
 */
function connectionListener(
  metrics: HeraldMetrics,
  webhook: WebhookSender | undefined,
  forward: boolean,
): ConnectionListener {
  return {
    connected(uid, first) {
      metrics.connects.inc();
      if (first) webhook?.enqueue({ event: "online", uid, time_ms: Date.now() });
    },
    disconnected(uid, code, last) {
      metrics.disconnects(code).inc();
      if (last) webhook?.enqueue({ event: "offline", uid, time_ms: Date.now(), code });
    },
    slowReaderClosed: () => metrics.slowReaderCloses.inc(),
    message: webhook === undefined || !forward
      ? undefined
      : (uid, data) => webhook.enqueue({ event: "message", uid, time_ms: Date.now(), data }),
  };
}

/** Runs `bind`, naming the setting when the address cannot be bound. */
function listening<T>(flag: string, hostname: string, port: number, bind: () => T): T {
  const named = (error: unknown): never => {
    if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
      throw new RangeError(
        `Cannot start: ${flag} cannot listen on ${hostname}:${port}: ${(error as Error).message}`,
      );
    }
    throw error;
  };
  try {
    const bound = bind();
    return (bound instanceof Promise ? bound.catch(named) : bound) as T;
  } catch (error) {
    return named(error);
  }
}

function identifyOf(config: Config): Identify {
  return createIdentify({
    secret: config.secret,
    previousSecrets: config.previousSecrets,
    leewaySeconds: config.tokenLeewaySeconds,
  });
}

/**
 * Serves the WebSocket port; with TLS, on a reusable port so a reload can hand it over
 * (`handover`: our own server holds the port now).
 */
async function serveWs(
  hostname: string,
  port: number,
  tls: TlsMaterial | undefined,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  handover = false,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const listening = Promise.withResolvers<void>();
  const options = { hostname, port, onListen: () => listening.resolve() };
  if (tls === undefined) {
    const server = Deno.serve(options, handler);
    await listening.promise;
    return server;
  }
  if (!handover) {
    // SO_REUSEPORT would let a second Herald share the port silently: bind it alone first, so
    // a port in use fails as it does without TLS.
    const probe = Deno.listen({ hostname, port });
    options.port = probe.addr.port;
    probe.close();
  }
  const server = Deno.serve({ ...options, ...tls, reusePort: true }, handler);
  await listening.promise;
  return server;
}
