/**
 * Herald's browser SDK: a `herald.v1` client that reconnects with backoff, resumes from the last
 * offsets it saw so no push is lost across a dropped link, and honours Herald's close codes.
 * Dependency-free; Herald serves it as one ES module at `GET /herald.js`, and it runs in
 * browsers, Deno and Node (any runtime with a standard `WebSocket`).
 *
 * ```ts
 * import { HeraldClient } from "/herald.js";
 * const client = new HeraldClient("wss://push.example.com/", {
 *   uid: "u1",
 *   onMessage(data, meta) { console.log(meta.stream, meta.offset, data); },
 * });
 * ```
 * @module
 */

/** Where the client stands. `closed` is final: `close()` was called or Herald said not to retry. */
export type HeraldState = "connecting" | "connected" | "disconnected" | "closed";

/** Where a message came from. */
export interface MessageMeta {
  /** `user:<uid>`, `group:<name>` or `all`. */
  readonly stream: string;
  /** Its offset in the stream; undefined when Herald keeps no history. */
  readonly offset: number | undefined;
}

/** One stream's outcome after a reconnect. */
export interface StreamResume {
  readonly recovered: boolean;
  readonly epoch?: string;
  readonly offset?: number;
}

/** What a reconnect recovered: `recovered` is false when some pushes were missed (re-fetch). */
export interface ResumeResult {
  readonly recovered: boolean;
  readonly streams: Readonly<Record<string, StreamResume>>;
}

/** Options of {@linkcode HeraldClient}: `uid` (open mode) or `token`/`getToken` (token mode). */
export interface HeraldClientOptions {
  /** The uid, in open mode. */
  readonly uid?: string;
  /** The first token, in token mode. */
  readonly token?: string;
  /** Gets a token: when there is no `token`, and again after Herald says it expired (4002). */
  readonly getToken?: () => string | Promise<string>;
  /** Each push, as pushed (any JSON value). */
  readonly onMessage?: (data: unknown, meta: MessageMeta) => void;
  /** Each change of state. */
  readonly onState?: (state: HeraldState) => void;
  /** After each reconnect, once the missed pushes were replayed. */
  readonly onResume?: (result: ResumeResult) => void;
  /** Milliseconds between pings; a link silent for twice this is dropped. @default 10000 */
  readonly heartbeatMs?: number;
  /** First reconnect delay in milliseconds, doubled per failure, with jitter. @default 250 */
  readonly minDelayMs?: number;
  /** Longest reconnect delay in milliseconds. @default 30000 */
  readonly maxDelayMs?: number;
}

/** What to do after Herald closed the socket with a code. */
export type CloseAction = "retry" | "refresh-token" | "stop";

/**
 * Herald's close codes that change what the client does (src/errors.ts `CLOSE`; a test keeps
 * them in step). Any other code, or a dropped link, means: retry with backoff.
 */
export const CLOSE_ACTIONS: Readonly<Record<number, CloseAction>> = Object.freeze({
  4001: "stop", // invalid token: retrying with it cannot help
  4002: "refresh-token", // token expired or not yet valid: get a fresh one
  4004: "stop", // bad identity
  4005: "stop", // kicked by the backend
});

const PROTOCOL = "herald.v1";

interface Position {
  epoch: string;
  offset: number;
}

/** A `herald.v1` connection to Herald that survives dropped links. */
export class HeraldClient {
  readonly #url: string;
  readonly #options: HeraldClientOptions;
  #state: HeraldState = "connecting";
  #socket: WebSocket | undefined;
  #token: string | undefined;
  #refreshToken: boolean;
  /** Last position seen per stream; undefined until the first welcome. */
  #positions: Map<string, Position> | undefined;
  /** Herald keeps no history (welcome positions were null): nothing can be resumed. */
  #noHistory = false;
  #failures = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastHeard = 0;

  constructor(url: string, options: HeraldClientOptions) {
    if ((options.uid === undefined) === (options.token === undefined && !options.getToken)) {
      throw new TypeError("Cannot create HeraldClient: give uid (open mode) or token/getToken");
    }
    this.#url = url;
    this.#options = options;
    this.#token = options.token;
    this.#refreshToken = options.uid === undefined && options.token === undefined;
    this.#connect();
  }

  /** Where the client stands now. */
  get state(): HeraldState {
    return this.#state;
  }

  /** Closes the connection for good; no reconnect follows. */
  close(): void {
    if (this.#state === "closed") return;
    this.#setState("closed");
    clearTimeout(this.#retryTimer);
    this.#stopHeartbeat();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket !== undefined) {
      detach(socket);
      socket.close(1000);
    }
  }

  #setState(state: HeraldState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.onState?.(state);
  }

  async #connect(): Promise<void> {
    this.#retryTimer = undefined;
    this.#setState("connecting");
    let credential: Record<string, string>;
    if (this.#options.uid !== undefined) {
      credential = { uid: this.#options.uid };
    } else {
      if (this.#refreshToken || this.#token === undefined) {
        try {
          this.#token = await this.#options.getToken!();
          this.#refreshToken = false;
        } catch {
          this.#retryLater();
          return;
        }
      }
      credential = { token: this.#token! };
    }
    if (this.#state === "closed") return;
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.#url, [PROTOCOL]);
    } catch {
      this.#retryLater();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#lastHeard = Date.now();
      const positions = this.#positions;
      socket.send(JSON.stringify(
        positions === undefined
          ? { type: "auth", ...credential }
          : { type: "resume", ...credential, streams: Object.fromEntries(positions) },
      ));
      this.#startHeartbeat(socket);
    };
    socket.onmessage = (event) => this.#onFrame(event.data);
    socket.onerror = () => {};
    socket.onclose = (event) => this.#onClose(socket, event.code);
  }

  #onFrame(data: unknown): void {
    this.#lastHeard = Date.now();
    if (typeof data !== "string") return;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "msg": {
        const stream = frame.stream as string;
        const offset = frame.offset as number | undefined;
        const known = this.#positions?.get(stream);
        if (offset !== undefined && known !== undefined) known.offset = offset;
        this.#options.onMessage?.(frame.data, { stream, offset });
        return;
      }
      case "welcome":
        this.#onWelcome(frame.streams as Record<string, Position | null>);
        return;
      case "resumed": {
        const streams = frame.streams as Record<string, StreamResume>;
        for (const [name, result] of Object.entries(streams)) {
          if (result.epoch !== undefined && result.offset !== undefined) {
            this.#positions?.set(name, { epoch: result.epoch, offset: result.offset });
          } else {
            this.#positions?.delete(name); // Not ours any more (a group left).
          }
        }
        // Without history nothing was kept while the link was down: nothing was recovered.
        const recovered = (frame.recovered as boolean) && !this.#noHistory;
        this.#options.onResume?.({ recovered, streams });
        return;
      }
    }
  }

  #onWelcome(streams: Record<string, Position | null>): void {
    this.#positions ??= new Map();
    for (const [name, position] of Object.entries(streams)) {
      if (position === null) {
        this.#noHistory = true;
      } else if (!this.#positions.has(name)) {
        this.#positions.set(name, { ...position });
      }
    }
    this.#failures = 0;
    this.#setState("connected");
  }

  #onClose(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#stopHeartbeat();
    if (this.#state === "closed") return;
    const action = CLOSE_ACTIONS[code] ?? "retry";
    if (action === "stop") {
      this.#setState("closed");
      return;
    }
    if (action === "refresh-token" && this.#options.uid === undefined) {
      if (this.#options.getToken === undefined) {
        this.#setState("closed"); // No way to a fresh token.
        return;
      }
      this.#refreshToken = true;
    }
    this.#retryLater();
  }

  #retryLater(): void {
    if (this.#state === "closed") return;
    this.#setState("disconnected");
    const min = this.#options.minDelayMs ?? 250;
    const max = this.#options.maxDelayMs ?? 30_000;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.#failures++, 20));
    // Full jitter in the upper half: clients cut off together do not come back together.
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #startHeartbeat(socket: WebSocket): void {
    const every = this.#options.heartbeatMs ?? 10_000;
    this.#heartbeat = setInterval(() => {
      if (Date.now() - this.#lastHeard > 2 * every) {
        // A dead link may never finish a close handshake: drop it and reconnect now.
        detach(socket);
        try {
          socket.close(4000);
        } catch {
          // Closing a socket still connecting throws in some runtimes.
        }
        this.#onClose(socket, 1006);
        return;
      }
      if (socket.readyState === 1) socket.send('{"type":"ping"}');
    }, every);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }
}

function detach(socket: WebSocket): void {
  socket.onopen = socket.onmessage = socket.onclose = null;
  socket.onerror = () => {};
}
