/**
 * The composition root: builds every part from the config, serves both ports, and shuts down.
 * Tests start a whole Herald in-process on port 0 through {@linkcode startHerald}.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { ControlServer } from "./control/control_server.ts";
import { CLOSE } from "./errors.ts";
import { createIdentify } from "./identify.ts";
import { type Registry, registry as sharedRegistry } from "./registry.ts";
import { WsGateway } from "./ws/gateway.ts";

const log = getLogger(["herald"]);

/** Parts a caller may swap; each defaults to the production one. */
export interface HeraldDependencies {
  /** Defaults to the process-wide registry; tests pass their own. */
  readonly registry?: Registry;
}

/** A running Herald. */
export interface Herald {
  readonly wsAddr: Deno.NetAddr;
  readonly controlAddr: Deno.NetAddr;
  readonly registry: Registry;
  /**
   * Closes every socket (1001), stops both ports, and resolves when all is released (a peer that
   * never answers the close holds its socket for at most --close-timeout).
   */
  shutdown(): Promise<void>;
}

/** Starts both ports; resolves once both listen. */
export async function startHerald(
  config: Config,
  dependencies: HeraldDependencies = {},
): Promise<Herald> {
  const registry = dependencies.registry ?? sharedRegistry;
  const startedAt = Date.now();
  const gateway = new WsGateway({
    registry,
    identify: createIdentify({ secret: config.secret, leewaySeconds: config.tokenLeewaySeconds }),
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
  });
  const control: ControlServer = new ControlServer({
    hostname: config.controlHost,
    port: config.controlPort,
    maxLineBytes: config.maxLineBytes,
    maxConnections: config.maxControlConnections,
    lineTimeoutSeconds: config.controlLineTimeoutSeconds,
    controlSecret: config.controlSecret,
    context: {
      registry,
      serverStats: () => ({
        pending: gateway.pendingCount,
        held_sockets: gateway.heldCount,
        unsent_bytes: gateway.unsentBytes,
        control_connections: control.connectionCount,
        uptime_s: Math.floor((Date.now() - startedAt) / 1000),
      }),
    },
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    const listening = Promise.withResolvers<void>();
    server = Deno.serve({
      hostname: config.host,
      port: config.wsPort,
      onListen: () => listening.resolve(),
    }, gateway.handle);
    await listening.promise;
  } catch (error) {
    await control.close();
    throw error;
  }
  log.info("WebSocket port listening on {hostname}:{port}", { ...server.addr });
  log.info("Control port listening on {hostname}:{port}", { ...control.addr });
  if (config.secret === undefined) {
    log.warn(
      "OPEN MODE: no --secret set, so any client can claim any uid. Set --secret in production.",
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    wsAddr: server.addr,
    controlAddr: control.addr,
    registry,
    shutdown() {
      stopping ??= (async () => {
        gateway.closeAll(CLOSE.goingAway);
        await Promise.all([server.shutdown(), control.close(), gateway.released()]);
      })();
      return stopping;
    },
  };
}
