/**
 * A browser-like client: the runtime's own `WebSocket`, recording what it receives and how it
 * closed.
 * @module
 */
import { within } from "./wait.ts";

/** A real WebSocket that records what it receives and how it closed. */
export class TestClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly received: string[] = [];
  readonly closed: Promise<CloseEvent>;
  readonly #opened: Promise<void>;
  #waiters: Array<() => void> = [];

  constructor(url: string, protocols?: string[]) {
    this.socket = new WebSocket(url, protocols);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<CloseEvent>();
    this.#opened = opened.promise;
    this.closed = closed.promise;
    this.socket.onopen = () => opened.resolve();
    this.socket.onerror = () => {};
    this.socket.onclose = (event) => {
      opened.resolve(); // A socket refused before opening still settles.
      closed.resolve(event);
      this.#wake();
    };
    this.socket.onmessage = (event) => {
      this.received.push(String(event.data));
      this.#wake();
    };
  }

  /** Opens a socket and identifies with `{"uid": uid}`, waiting for the acknowledgement. */
  static async identified(url: string, uid: string): Promise<TestClient> {
    const client = new TestClient(url);
    await client.open();
    client.socket.send(JSON.stringify({ uid }));
    const ack = await client.next();
    if (ack !== JSON.stringify({ event: "identified", uid })) {
      throw new Error(`Expected an identified event, got ${ack}`);
    }
    return client;
  }

  /** Waits for the handshake. */
  open(): Promise<void> {
    return within(5000, this.#opened, "the WebSocket to open");
  }

  /** The next message not yet taken, waiting up to `ms`. */
  async next(ms = 5000): Promise<string> {
    await this.waitFor(
      () => this.received.length > 0 || this.socket.readyState === WebSocket.CLOSED,
      ms,
    );
    const message = this.received.shift();
    if (message === undefined) throw new Error("The socket closed before a message arrived");
    return message;
  }

  /** Waits until `check` holds, re-checking on every message and on close. */
  async waitFor(check: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Timed out after ${ms} ms; received ${JSON.stringify(this.received)}`);
      }
      const woken = Promise.withResolvers<void>();
      this.#waiters.push(woken.resolve);
      await within(left, woken.promise, "a message").catch(() => {});
    }
  }

  /** Waits for the close event, up to `ms`. */
  closeEvent(ms = 5000): Promise<CloseEvent> {
    return within(ms, this.closed, "the socket to close");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      this.socket.close();
      await this.closeEvent();
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
