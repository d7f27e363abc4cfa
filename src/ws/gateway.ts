/**
 * The browser side: upgrades requests to WebSockets, identifies each socket from its first
 * message or `?token=`, and keeps the registry in step with the sockets that are alive.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { CLOSE, type CloseCode } from "../errors.ts";
import { textFrame } from "../frame.ts";
import type { Identify, Identity } from "../identify.ts";
import type { Registry } from "../registry.ts";
import { closeSocket, type SendLimits, WsConn } from "./ws_conn.ts";

const log = getLogger(["herald", "ws"]);
const PONG = textFrame("pong");

/** Options of {@linkcode WsGateway}. */
export interface WsGatewayOptions extends SendLimits {
  readonly registry: Registry;
  readonly identify: Identify;
  /** Seconds a socket may take to identify. */
  readonly authTimeoutSeconds: number;
  /** Seconds of peer silence before Deno drops the socket (it pings at half). */
  readonly idleTimeoutSeconds: number;
  /** Open sockets allowed at once, identified or not. */
  readonly maxConnections: number;
  /** Largest client message in bytes. */
  readonly maxMessageBytes: number;
  /** Allowed `Origin` values; empty allows any. */
  readonly allowedOrigins: readonly string[];
}

/** Serves the WebSocket port's requests; one per process. */
export class WsGateway {
  readonly #options: WsGatewayOptions;
  readonly #origins: ReadonlySet<string>;
  readonly #sessions = new Set<ClientSession>();
  readonly #startedAt = Date.now();
  #nextConnId = 1;

  constructor(options: WsGatewayOptions) {
    this.#options = options;
    this.#origins = new Set(options.allowedOrigins);
  }

  /** Sockets open now that have not identified yet. */
  get pendingCount(): number {
    return this.#sessions.size - this.#options.registry.connectionCount;
  }

  /** Handles one HTTP request: a WebSocket upgrade, `/healthz`, or a plain refusal. */
  handle = (request: Request): Response => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return this.#plainHttp(request);
    }
    const origin = request.headers.get("origin");
    // Non-browser clients send no Origin; cross-site hijacking needs a browser, which always does.
    if (origin !== null && this.#origins.size > 0 && !this.#origins.has(origin)) {
      log.warn("Refused a WebSocket from origin {origin}: not in --allowed-origins", { origin });
      return new Response("origin not allowed\n", { status: 403 });
    }
    if (this.#sessions.size >= this.#options.maxConnections) {
      log.warn("Refused a WebSocket: --max-connections ({max}) reached", {
        max: this.#options.maxConnections,
      });
      return new Response("server full\n", { status: 503, headers: { "retry-after": "5" } });
    }
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(request, { idleTimeout: this.#options.idleTimeoutSeconds });
    } catch (error) {
      return new Response(`bad WebSocket handshake: ${(error as Error).message}\n`, {
        status: 400,
      });
    }
    const token = new URL(request.url).searchParams.get("token");
    const session = new ClientSession(upgraded.socket, this.#nextConnId++, this.#options, () => {
      this.#sessions.delete(session);
    });
    this.#sessions.add(session);
    session.start(token);
    return upgraded.response;
  };

  /** Closes every socket with `close` (shutdown). */
  closeAll(close: CloseCode): void {
    for (const session of [...this.#sessions]) session.close(close);
  }

  #plainHttp(request: Request): Response {
    const path = new URL(request.url).pathname;
    if (path === "/healthz" && (request.method === "GET" || request.method === "HEAD")) {
      return Response.json({
        status: "ok",
        connections: this.#options.registry.connectionCount,
        uids: this.#options.registry.uidCount,
        pending: this.pendingCount,
        uptime_s: Math.floor((Date.now() - this.#startedAt) / 1000),
      });
    }
    return new Response("Herald: open a WebSocket here\n", {
      status: 426,
      headers: { upgrade: "websocket" },
    });
  }
}

/** One socket from upgrade to close: waits for its identity, then lives in the registry. */
class ClientSession {
  readonly #socket: WebSocket;
  readonly #id: number;
  readonly #options: WsGatewayOptions;
  readonly #onEnd: () => void;
  #state: "identifying" | "verifying" | "live" | "ended" = "identifying";
  #opened = false;
  #identity: Identity | undefined;
  #acknowledge = false;
  #conn: WsConn | undefined;
  #pendingClose: CloseCode | undefined;
  #pendingCloseDetail = "";
  #authTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WebSocket, id: number, options: WsGatewayOptions, onEnd: () => void) {
    this.#socket = socket;
    this.#id = id;
    this.#options = options;
    this.#onEnd = onEnd;
  }

  start(urlToken: string | null): void {
    const socket = this.#socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.#onOpen();
    socket.onmessage = (event) => this.#onMessage(event);
    socket.onclose = (event) => this.#end(`peer closed ${event.code}`);
    socket.onerror = () => {}; // A close event always follows; it does the clean-up.
    this.#authTimer = setTimeout(
      () => this.close(CLOSE.identifyTimeout),
      this.#options.authTimeoutSeconds * 1000,
    );
    if (urlToken !== null) this.#verify(urlToken);
  }

  /** Closes the socket and forgets it; safe in any state and more than once. */
  close(close: CloseCode, detail = ""): void {
    if (this.#state === "ended") return;
    if (!this.#opened) {
      // A socket cannot be closed before the handshake completes: do it on open.
      if (this.#pendingClose === undefined) {
        this.#pendingClose = close;
        this.#pendingCloseDetail = detail;
      }
      return;
    }
    if (close !== CLOSE.goingAway) {
      log.info("Closing socket #{id}: {code} {reason} {detail}", {
        id: this.#id,
        ...close,
        detail,
      });
    }
    if (this.#conn !== undefined) {
      this.#conn.close(close); // Its onClose ends this session.
      return;
    }
    this.#end(`closed by Herald ${close.code} ${close.reason}`);
    closeSocket(this.#socket, close);
  }

  #onOpen(): void {
    this.#opened = true;
    if (this.#pendingClose !== undefined) this.close(this.#pendingClose, this.#pendingCloseDetail);
    else if (this.#identity !== undefined) this.#goLive(this.#identity);
  }

  #onMessage(event: MessageEvent): void {
    if (this.#state === "ended") return;
    const data: unknown = event.data;
    if (byteLengthOver(data, this.#options.maxMessageBytes)) {
      this.close(CLOSE.messageTooBig);
      return;
    }
    switch (this.#state) {
      case "identifying":
        if (typeof data !== "string") {
          this.close(CLOSE.badIdentity);
          return;
        }
        this.#onCredential(data);
        return;
      case "live":
        if (data === "ping") this.#conn?.send(PONG);
        return;
      case "verifying":
        return; // Nothing to do until the credential is checked.
    }
  }

  #onCredential(message: string): void {
    if (!message.startsWith("{")) {
      this.#verify(message);
      return;
    }
    let wrapped: unknown;
    try {
      wrapped = JSON.parse(message);
    } catch {
      this.close(CLOSE.badIdentity);
      return;
    }
    const credential = (wrapped as { token?: unknown; uid?: unknown } | null)?.token ??
      (wrapped as { uid?: unknown } | null)?.uid;
    if (typeof credential !== "string") {
      this.close(CLOSE.badIdentity);
      return;
    }
    this.#acknowledge = true;
    this.#verify(credential);
  }

  #verify(credential: string): void {
    this.#state = "verifying";
    this.#options.identify(credential).then((result) => {
      if (this.#state === "ended") return;
      if (!result.ok) {
        this.close(result.close, result.detail);
        return;
      }
      this.#identity = result.identity;
      if (this.#opened) this.#goLive(result.identity);
    });
  }

  #goLive(identity: Identity): void {
    clearTimeout(this.#authTimer);
    this.#state = "live";
    const conn = new WsConn(this.#id, identity.uid, this.#socket, this.#options, () => {
      this.#end("closed by Herald");
    });
    this.#conn = conn;
    this.#options.registry.add(conn, identity.groups);
    log.debug("Socket #{id} identified as {uid}", { id: this.#id, uid: identity.uid });
    if (this.#acknowledge) {
      conn.send(textFrame(JSON.stringify({ event: "identified", uid: identity.uid })));
    }
  }

  #end(why: string): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    clearTimeout(this.#authTimer);
    if (this.#conn !== undefined) this.#options.registry.remove(this.#conn);
    this.#onEnd();
    log.debug("Socket #{id} ended: {why}", { id: this.#id, why });
  }
}

/** True when a message's UTF-8 (or binary) size passes `max`, without encoding short strings. */
function byteLengthOver(data: unknown, max: number): boolean {
  if (data instanceof ArrayBuffer) return data.byteLength > max;
  if (typeof data !== "string") return false;
  if (data.length * 3 <= max) return false; // UTF-8 needs at most 3 bytes per UTF-16 unit.
  if (data.length > max) return true;
  return new TextEncoder().encode(data).length > max;
}
