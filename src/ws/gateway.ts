/**
 * The browser side: upgrades requests to WebSockets, identifies each socket from its first
 * message or `?token=`, and keeps the hub in step with the sockets that are alive.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { ALL, channelName } from "../channel.ts";
import { CLOSE, type CloseCode } from "../errors.ts";
import { type Deadline, DeadlineQueue } from "../deadline_queue.ts";
import type { HistoryEntry, HistoryStore, StreamPosition } from "../history/history_store.ts";
import type { Hub } from "../hub.ts";
import type { Identify, IdentifyResult, Identity } from "../identify.ts";
import { FRAMED_PROTOCOL, textFrame, type WireProtocol } from "../publication.ts";
import {
  type ClientFrame,
  errorFrame,
  type FramedError,
  parseClientFrame,
  PONG_FRAME,
  resumedFrame,
  type StreamRecovery,
  welcomeFrame,
} from "./framed.ts";
import { LinkedList, type ListEntry } from "../linked_list.ts";
import { KeyedRateLimiter, TokenBucket } from "../rate_limiter.ts";
import { clientIp } from "./client_ip.ts";
import { cancelIdleTimer, dropSocket } from "./socket_internals.ts";
import { UnsentBudget } from "./unsent_budget.ts";
import { closeSocket, type SendLimits, WsConn } from "./ws_conn.ts";

const log = getLogger(["herald", "ws"]);
/** Read once: Deno's `WebSocket` global is a getter. */
const { CONNECTING, OPEN } = WebSocket;
const PONG = textFrame("pong");
const DROP_UNSUPPORTED = "sockets whose peer never answers a close cannot be dropped: they " +
  "stay counted against --max-connections and --max-connections-per-ip";
const IDLE_TIMER_UNSUPPORTED = "the idle timer of a socket that ends without a close handshake " +
  "cannot be cancelled: each such socket holds ~4 KB for half of --idle-timeout";
const BINARY_FRAME: FramedError = {
  code: "bad_frame",
  message: "Cannot read a binary frame: herald.v1 frames are JSON text",
};

/**
 * What the gateway reports about identified sockets, for metrics and webhooks. Called on the
 * socket's own event, so every method must return quickly and never throw.
 */
export interface ConnectionListener {
  /** A socket identified as `uid`; `first` when it is the uid's only connection here. */
  connected(uid: string, first: boolean): void;
  /** An identified socket of `uid` closed with `code`; `last` when the uid has none left here. */
  disconnected(uid: string, code: number, last: boolean): void;
  /** Herald closed an identified socket as a slow reader (1013). */
  slowReaderClosed(): void;
  /**
   * An identified socket sent the text `data` (other than `ping`). Absent: client messages are
   * dropped as before, at no cost.
   */
  readonly message?: (uid: string, data: string) => void;
}

/** Options of {@linkcode WsGateway}. */
export interface WsGatewayOptions extends Omit<SendLimits, "unsentBudget"> {
  readonly hub: Hub;
  /** Where framed sockets resume from and offline pushes wait; undefined: history is off. */
  readonly history?: HistoryStore;
  readonly identify: Identify;
  /** Told about identified sockets: connects, closes, messages. */
  readonly listener?: ConnectionListener;
  /** Seconds a socket may take to identify. */
  readonly authTimeoutSeconds: number;
  /** Seconds of peer silence before Deno drops the socket (it pings at half). */
  readonly idleTimeoutSeconds: number;
  /** Open sockets allowed at once, identified or not, counting those still closing. */
  readonly maxConnections: number;
  /** Open sockets one client IP may hold, counting those still closing. */
  readonly maxConnectionsPerIp: number;
  /** Handshakes one client IP may start per second (also the burst). */
  readonly maxHandshakesPerIp: number;
  /** Messages one socket may send per second (also the burst); then it is closed with 4006. */
  readonly maxMessagesPerSecond: number;
  /** Seconds a socket Herald closed may wait for the peer's close reply before it is dropped. */
  readonly closeTimeoutSeconds: number;
  /** Unsent bytes all sockets together may hold before the largest holders are closed. */
  readonly maxUnsentTotalBytes: number;
  /** Largest client message in bytes. */
  readonly maxMessageBytes: number;
  /** Allowed `Origin` values; empty allows any. */
  readonly allowedOrigins: readonly string[];
  /** Proxies whose `X-Forwarded-For` names the client that per-IP limits count. */
  readonly trustedProxies: readonly string[];
  /** @default Deno.upgradeWebSocket; tests pass one that watches the sockets it makes. */
  readonly upgradeWebSocket?: typeof Deno.upgradeWebSocket;
}

/** Upgrades the WebSocket port's requests and runs their sockets; one per process. */
export class WsGateway {
  readonly #options: SessionOptions;
  readonly #origins: ReadonlySet<string>;
  readonly #trustedProxies: ReadonlySet<string>;
  /** Sockets Deno has not released yet, ended or not: what file descriptors are held for. */
  #held = 0;
  readonly #heldByIp = new Map<string, number>();
  readonly #handshakes: KeyedRateLimiter;
  #allReleased: PromiseWithResolvers<void> | undefined;
  #nextConnId = 1;
  /** Set by closeAll: a handshake arriving while the port closes is refused. */
  #closing = false;
  /** What this runtime's internals refused already (see socket_internals.ts); each warned once. */
  readonly #unsupportedWarned = new Set<string>();

  constructor(options: WsGatewayOptions) {
    this.#options = {
      ...options,
      sessions: new LinkedList(),
      onReleased: (ip) => this.#release(ip),
      unsentBudget: new UnsentBudget(options.maxUnsentTotalBytes),
      identifyDeadlines: new DeadlineQueue({
        delayMs: options.authTimeoutSeconds * 1000,
        onExpire: (session: ClientSession) => session.close(CLOSE.identifyTimeout),
      }),
      onUnsupported: (consequence) => {
        if (this.#unsupportedWarned.has(consequence)) return;
        this.#unsupportedWarned.add(consequence);
        log.warn("Deno {version} lacks an internal Herald relies on: {consequence}", {
          version: Deno.version.deno,
          consequence,
        });
      },
    };
    this.#origins = new Set(options.allowedOrigins);
    this.#trustedProxies = new Set(options.trustedProxies);
    this.#handshakes = new KeyedRateLimiter({ perSecond: options.maxHandshakesPerIp });
  }

  /** Sockets open now that have not identified yet. */
  get pendingCount(): number {
    return this.#options.sessions.size - this.#options.hub.connectionCount;
  }

  /** Sockets whose file descriptor is still held, including those closing. */
  get heldCount(): number {
    return this.#held;
  }

  /** Unsent bytes all sockets hold, as last reported. */
  get unsentBytes(): number {
    return this.#options.unsentBudget.totalBytes;
  }

  /** Upgrades one WebSocket request (the router sends only those), or refuses it. */
  upgrade = (request: Request, info?: Deno.ServeHandlerInfo<Deno.NetAddr>): Response => {
    const origin = request.headers.get("origin");
    // Non-browser clients send no Origin; cross-site hijacking needs a browser, which always does.
    if (origin !== null && this.#origins.size > 0 && !this.#origins.has(origin)) {
      log.warn("Refused a WebSocket from origin {origin}: not in --allowed-origins", { origin });
      return new Response("origin not allowed\n", { status: 403 });
    }
    const ip = clientIp(
      info?.remoteAddr.hostname ?? "unknown",
      request.headers.get("x-forwarded-for"),
      this.#trustedProxies,
    );
    if (!this.#handshakes.take(ip)) {
      log.warn("Refused a WebSocket from {ip}: --max-handshakes-per-ip ({max}/s) reached", {
        ip,
        max: this.#options.maxHandshakesPerIp,
      });
      return new Response("too many handshakes\n", {
        status: 429,
        headers: { "retry-after": "1" },
      });
    }
    if (this.#closing) {
      return new Response("shutting down\n", { status: 503, headers: { "retry-after": "5" } });
    }
    if (this.#held >= this.#options.maxConnections) {
      log.warn("Refused a WebSocket: --max-connections ({max}) reached", {
        max: this.#options.maxConnections,
      });
      return new Response("server full\n", { status: 503, headers: { "retry-after": "5" } });
    }
    const heldByIp = this.#heldByIp.get(ip) ?? 0;
    if (heldByIp >= this.#options.maxConnectionsPerIp) {
      log.warn("Refused a WebSocket from {ip}: --max-connections-per-ip ({max}) reached", {
        ip,
        max: this.#options.maxConnectionsPerIp,
      });
      return new Response("too many connections\n", {
        status: 429,
        headers: { "retry-after": "5" },
      });
    }
    // A client offering herald.v1 gets it; any other offer is left unanswered, as before.
    const framed =
      request.headers.get("sec-websocket-protocol")?.split(",").some((offer) =>
        offer.trim() === FRAMED_PROTOCOL
      ) ?? false;
    let upgraded;
    try {
      upgraded = (this.#options.upgradeWebSocket ?? Deno.upgradeWebSocket)(request, {
        idleTimeout: this.#options.idleTimeoutSeconds,
        ...(framed ? { protocol: FRAMED_PROTOCOL } : {}),
      });
    } catch (error) {
      return new Response(`bad WebSocket handshake: ${(error as Error).message}\n`, {
        status: 400,
      });
    }
    // Most clients identify by message: parse the URL only when it has a query.
    const token = request.url.includes("?") ? new URL(request.url).searchParams.get("token") : null;
    const session = new ClientSession(
      upgraded.socket,
      this.#nextConnId++,
      framed ? FRAMED_PROTOCOL : "plain",
      ip,
      this.#options,
    );
    this.#held++;
    this.#heldByIp.set(ip, heldByIp + 1);
    session.start(token);
    return upgraded.response;
  };

  /** Closes every socket with `close` and refuses new ones (shutdown). */
  closeAll(close: CloseCode): void {
    this.#closing = true;
    for (const session of this.#options.sessions.values()) session.close(close);
    this.#options.identifyDeadlines.close();
  }

  /** Resolves once Deno has released every socket; closed ones take at most the close timeout. */
  released(): Promise<void> {
    if (this.#held === 0) return Promise.resolve();
    this.#allReleased ??= Promise.withResolvers<void>();
    return this.#allReleased.promise;
  }

  #release(ip: string): void {
    this.#held--;
    const left = (this.#heldByIp.get(ip) ?? 1) - 1;
    if (left === 0) this.#heldByIp.delete(ip);
    else this.#heldByIp.set(ip, left);
    if (this.#held === 0 && this.#allReleased !== undefined) {
      this.#allReleased.resolve();
      this.#allReleased = undefined;
    }
  }
}

/**
 * A session's needs: the gateway's options and what every session shares. Shared rather than
 * given per session as closures: sockets come and go by the thousand.
 */
type SessionOptions = WsGatewayOptions & SendLimits & {
  /** Sessions not ended: identifying or in the hub. Each session adds and removes itself. */
  readonly sessions: LinkedList<ClientSession>;
  readonly identifyDeadlines: DeadlineQueue<ClientSession>;
  /** Deno released a socket from client IP `ip`, and its file descriptor. */
  readonly onReleased: (ip: string) => void;
  /** Called when a function of socket_internals.ts cannot work on this runtime, with the cost. */
  readonly onUnsupported: (consequence: string) => void;
};

/** One socket from upgrade to close: waits for its identity, then lives in the hub. */
class ClientSession {
  readonly #socket: WebSocket;
  readonly #id: number;
  readonly #protocol: WireProtocol;
  /** The client IP that per-IP limits count this socket against. */
  readonly #ip: string;
  readonly #options: SessionOptions;
  /** This session's place in the gateway's sessions, until it ends. */
  #entry: ListEntry<ClientSession> | undefined;
  #identifyDeadline: Deadline<ClientSession> | undefined;
  #state: "identifying" | "verifying" | "live" | "ended" = "identifying";
  #released = false;
  /** Set once something waits for the socket to open: an `open` listener is then added. */
  #awaitingOpen = false;
  #messages: TokenBucket | undefined;
  #firstMessageSeen = false;
  #dropTimer: ReturnType<typeof setTimeout> | undefined;
  #identity: Identity | undefined;
  #acknowledge = false;
  #conn: WsConn | undefined;
  #pendingClose: CloseCode | undefined;
  #pendingCloseDetail = "";
  /** A framed socket's `?token=`, used when its auth frame names no credential. */
  #urlToken: string | null = null;
  /** A framed socket's identifying frame, kept until it goes live. */
  #request: (ClientFrame & { type: "auth" | "resume" }) | undefined;
  /** A framed socket's streams, subscribed in the history while it lives. */
  #streams: Set<string> | undefined;

  constructor(
    socket: WebSocket,
    id: number,
    protocol: WireProtocol,
    ip: string,
    options: SessionOptions,
  ) {
    this.#socket = socket;
    this.#id = id;
    this.#protocol = protocol;
    this.#ip = ip;
    this.#options = options;
  }

  start(urlToken: string | null): void {
    const socket = this.#socket;
    socket.binaryType = "arraybuffer";
    // Listeners cost memory and time for every socket: `open` is listened to only when something
    // waits for it (see #whenOpen), and an `error` event needs none (a close event always
    // follows it and does the clean-up).
    socket.onmessage = (event) => this.#onMessage(event);
    socket.onclose = (event) => {
      // Deno cancels the socket's idle timer itself only after a close handshake.
      if (!event.wasClean && !cancelIdleTimer(socket)) {
        this.#options.onUnsupported(IDLE_TIMER_UNSUPPORTED);
      }
      this.#end(event.code, "peer closed");
      this.#release();
    };
    this.#entry = this.#options.sessions.push(this);
    this.#identifyDeadline = this.#options.identifyDeadlines.add(this);
    if (this.#protocol !== "plain") this.#urlToken = urlToken;
    else if (urlToken !== null) this.#verify(urlToken);
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
      this.#whenOpen();
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
    this.#end(close.code, `closed by Herald (${close.reason})`);
    closeSocket(this.#socket, close);
    this.#armDrop();
  }

  /**
   * Whether the handshake completed. A message cannot arrive before it does, so a socket that
   * identifies by message never needs to wait for `open`.
   */
  get #opened(): boolean {
    return this.#socket.readyState !== CONNECTING;
  }

  /** Runs #onOpen when the socket opens; Deno opens it after the upgrade response is sent. */
  #whenOpen(): void {
    if (this.#awaitingOpen) return;
    this.#awaitingOpen = true;
    this.#socket.addEventListener("open", () => this.#onOpen(), { once: true });
  }

  #onOpen(): void {
    if (this.#pendingClose !== undefined) this.close(this.#pendingClose, this.#pendingCloseDetail);
    else if (this.#identity !== undefined) this.#goLive(this.#identity);
  }

  #onMessage(event: MessageEvent): void {
    if (this.#state === "ended") return;
    if (!this.#takeMessageToken()) {
      log.warn("Closing socket #{id}: over --max-messages-per-second ({max})", {
        id: this.#id,
        max: this.#options.maxMessagesPerSecond,
      });
      this.close(CLOSE.tooManyMessages);
      return;
    }
    const data: unknown = event.data;
    if (byteLengthOver(data, this.#options.maxMessageBytes)) {
      this.close(CLOSE.messageTooBig);
      return;
    }
    if (this.#protocol !== "plain") {
      this.#onFrame(data);
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
        else if (this.#options.listener?.message !== undefined && typeof data === "string") {
          this.#options.listener.message(this.#conn!.uid, data);
        }
        return;
      case "verifying":
        return; // Nothing to do until the credential is checked.
    }
  }

  /**
   * Counts a message against --max-messages-per-second. A full bucket always holds the first
   * message (the setting is at least 1), so most sockets, which send only their identity, never
   * need a bucket of their own.
   */
  #takeMessageToken(): boolean {
    if (this.#messages === undefined) {
      if (!this.#firstMessageSeen) {
        this.#firstMessageSeen = true;
        return true;
      }
      this.#messages = new TokenBucket({ perSecond: this.#options.maxMessagesPerSecond });
      this.#messages.take(); // The first message's token.
    }
    return this.#messages.take();
  }

  /** A framed client's message: JSON frames only; an error frame answers a bad one. */
  #onFrame(data: unknown): void {
    const parsed = typeof data === "string"
      ? parseClientFrame(data)
      : { ok: false as const, error: BINARY_FRAME };
    if (this.#state === "identifying") {
      if (!parsed.ok) {
        this.#refuse(parsed.error);
        return;
      }
      const frame = parsed.frame;
      if (frame.type === "ping") {
        this.#refuse({ code: "bad_frame", message: 'Cannot ping before "auth" or "resume"' });
        return;
      }
      const credential = frame.credential ?? this.#urlToken ?? undefined;
      if (credential === undefined) {
        this.#refuse({
          code: "bad_frame",
          message: `Cannot ${frame.type}: give "uid" or "token" (or ?token= on the URL)`,
        });
        return;
      }
      this.#request = frame;
      this.#verify(credential);
      return;
    }
    if (this.#state !== "live" || this.#conn === undefined) return;
    if (!parsed.ok) {
      this.#conn.write(errorFrame(parsed.error));
    } else if (parsed.frame.type === "ping") {
      this.#conn.write(PONG_FRAME);
    } else {
      this.#conn.write(errorFrame({
        code: "already_identified",
        message: `Cannot ${parsed.frame.type}: this connection is identified already`,
      }));
    }
  }

  /** Tells a framed client what was wrong with its identifying frame, then closes 4004. */
  #refuse(error: FramedError): void {
    if (this.#socket.readyState === OPEN) {
      this.#socket.send(errorFrame(error).text);
    }
    this.close(CLOSE.badIdentity, error.message);
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
    let result: IdentifyResult | Promise<IdentifyResult>;
    try {
      result = this.#options.identify(credential);
    } catch (error) {
      result = this.#identifyThrew(error);
    }
    // Open mode answers at once: no promise hop for the commonest identify.
    if (!(result instanceof Promise)) {
      this.#onIdentified(result);
      return;
    }
    result.catch((error) => this.#identifyThrew(error)).then((r) => this.#onIdentified(r));
  }

  /** A check that throws is a bug, but one peer's token must not take the process down. */
  #identifyThrew(error: unknown): IdentifyResult {
    log.error("Identify failed on socket #{id}: {error}", { id: this.#id, error });
    return { ok: false, close: CLOSE.invalidToken, detail: "identify threw" };
  }

  #onIdentified(result: IdentifyResult): void {
    if (this.#state === "ended") return;
    if (!result.ok) {
      this.close(result.close, result.detail);
      return;
    }
    this.#identity = result.identity;
    if (this.#opened) this.#goLive(result.identity);
    else this.#whenOpen();
  }

  #goLive(identity: Identity): void {
    this.#options.identifyDeadlines.cancel(this.#identifyDeadline);
    this.#identity = undefined;
    this.#state = "live";
    const conn = new WsConn(this.#id, identity.uid, this.#socket, this.#options, (_, close) => {
      if (close === CLOSE.slowReader) this.#options.listener?.slowReaderClosed();
      this.#end(close.code, `closed by Herald (${close.reason})`);
      this.#armDrop();
    }, this.#protocol);
    this.#conn = conn;
    log.debug("Socket #{id} identified as {uid}", { id: this.#id, uid: identity.uid });
    if (this.#protocol !== "plain") {
      this.#goLiveFramed(conn, identity).catch((error) => {
        log.error("Replay failed on socket #{id}: {error}", { id: this.#id, error });
        this.close(CLOSE.goingAway, "replay failed");
      });
      return;
    }
    const mailbox = this.#options.history?.takeMailbox(
      channelName({ kind: "user", uid: identity.uid }),
    );
    // A mailbox read later (another process's store): pushes arriving meanwhile wait behind it.
    if (mailbox instanceof Promise) conn.hold();
    this.#register(conn, identity.groups);
    if (this.#acknowledge) {
      conn.write(textFrame(JSON.stringify({ event: "identified", uid: identity.uid })));
    }
    if (!(mailbox instanceof Promise)) {
      for (const entry of mailbox ?? []) if (!conn.write(entry.publication.plain)) return;
      return;
    }
    mailbox.then((entries) => {
      if (this.#state === "ended") return;
      for (const entry of entries) if (!conn.write(entry.publication.plain)) return;
      conn.resume();
    }, (error) => {
      // A store that failed must not leave the socket holding its pushes forever.
      log.error("Mailbox read failed on socket #{id}: {error}", { id: this.#id, error });
      conn.resume();
    });
  }

  /** Puts the live connection in the hub and tells the listener (metrics, webhooks). */
  #register(conn: WsConn, groups: readonly string[]): void {
    const hub = this.#options.hub;
    hub.add(conn, groups);
    this.#options.listener?.connected(conn.uid, hub.connectionsOf(conn.uid) === 1);
  }

  /**
   * Subscribes a framed socket to its streams, says `welcome`, replays what a `resume` asks for
   * (or hands over the offline mailbox), says `resumed`, then lets live pushes through. Pushes
   * that arrive meanwhile are held and sent after, skipping any the replay already sent.
   */
  async #goLiveFramed(conn: WsConn, identity: Identity): Promise<void> {
    const history = this.#options.history;
    const request = this.#request!;
    this.#request = undefined;
    const streams = new Set<string>();
    this.#streams = streams;
    /** Until `welcome`, the position of each stream subscribed, for that frame; then undefined. */
    let welcoming: Map<string, Promise<StreamPosition | null>> | undefined = new Map();
    const subscribe = (name: string) => {
      if (this.#state === "ended" || streams.has(name)) return;
      streams.add(name);
      const position = history?.subscribe(name) ?? Promise.resolve(null);
      // Awaited below until `welcome`; a later one (a group joined since) is only logged, so
      // a store that fails (Redis down) never leaves an unhandled rejection.
      position.catch((error) => {
        if (welcoming !== undefined) return;
        log.warn("Cannot subscribe socket #{id} to {name}: {error}", { id: this.#id, name, error });
      });
      welcoming?.set(name, position);
    };
    conn.joined = (group) => subscribe(channelName({ kind: "group", group }));
    conn.left = (group) => {
      const name = channelName({ kind: "group", group });
      if (streams.delete(name)) history?.unsubscribe(name);
    };
    const user = channelName({ kind: "user", uid: identity.uid });
    subscribe(user);
    subscribe(channelName(ALL));
    conn.hold();
    this.#register(conn, identity.groups);
    const positions = new Map<string, StreamPosition | null>();
    // A Map's iteration also visits what is added meanwhile: groups joined before `welcome`.
    for (const [name, position] of welcoming) positions.set(name, await position);
    welcoming = undefined;
    if (this.#ended) return;
    conn.write(welcomeFrame(identity.uid, this.#id, positions));
    /** Per stream, the last offset sent: held pushes up to it are not sent again. */
    const sent = new Map<string, number>();
    for (const [name, position] of positions) {
      if (position !== null) sent.set(name, position.offset);
    }
    const mailbox = await history?.takeMailbox(user) ?? [];
    let userRecovered = false;
    if (request.type === "resume") {
      const results = new Map<string, StreamRecovery>();
      for (const [name, since] of request.streams) {
        // Only the socket's own streams: a resume cannot make Herald keep others.
        if (history === undefined || !positions.has(name)) {
          results.set(name, { recovered: false });
          continue;
        }
        const recovery = await history.since(name, since);
        if (this.#ended) return;
        for (const entry of recovery.entries) {
          if (!conn.write(entry.publication.at(name, entry.offset).frame(FRAMED_PROTOCOL))) return;
        }
        if (recovery.recovered) sent.set(name, recovery.position.offset);
        if (name === user) userRecovered = recovery.recovered;
        results.set(name, { recovered: recovery.recovered, ...recovery.position });
      }
      if (!userRecovered) this.#sendMailbox(conn, user, mailbox);
      conn.write(resumedFrame(results));
    } else {
      this.#sendMailbox(conn, user, mailbox);
    }
    conn.resume(sent);
  }

  /** Read through a getter: TypeScript narrows a field across awaits as if nothing ran. */
  get #ended(): boolean {
    return this.#state === "ended";
  }

  #sendMailbox(conn: WsConn, user: string, mailbox: readonly HistoryEntry[]): void {
    for (const entry of mailbox) {
      if (!conn.write(entry.publication.at(user, entry.offset).frame(FRAMED_PROTOCOL))) return;
    }
  }

  /** Forgets the socket, closed with `code` by the peer or by Herald (`why` says which). */
  #end(code: number, why: string): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    this.#options.identifyDeadlines.cancel(this.#identifyDeadline);
    const conn = this.#conn;
    if (conn !== undefined) {
      const hub = this.#options.hub;
      // A kick has unregistered it already; it was live all the same.
      hub.remove(conn);
      this.#options.listener?.disconnected(conn.uid, code, hub.connectionsOf(conn.uid) === 0);
    }
    if (this.#streams !== undefined) {
      for (const name of this.#streams.keys()) this.#options.history?.unsubscribe(name);
      this.#streams.clear();
    }
    this.#options.sessions.remove(this.#entry);
    log.debug("Socket #{id} ended: {why} {code}", { id: this.#id, why, code });
  }

  /** After Herald's close, a peer that never answers would hold the socket forever: drop it. */
  #armDrop(): void {
    if (this.#released || this.#dropTimer !== undefined) return;
    this.#dropTimer = setTimeout(() => {
      if (this.#released) return;
      log.debug("Socket #{id}: no close reply within --close-timeout; dropping it", {
        id: this.#id,
      });
      if (!dropSocket(this.#socket)) this.#options.onUnsupported(DROP_UNSUPPORTED);
    }, this.#options.closeTimeoutSeconds * 1000);
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#dropTimer !== undefined) clearTimeout(this.#dropTimer);
    this.#conn?.release();
    this.#options.onReleased(this.#ip);
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
