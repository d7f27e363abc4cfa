/**
 * A `herald.v1` client for tests: a real WebSocket offering the subprotocol, its frames parsed,
 * and the stream positions a resuming client keeps.
 * @module
 */
import { FRAMED_PROTOCOL } from "../../src/publication.ts";
import { TestClient } from "./test_client.ts";

/** A parsed server frame. */
export type ServerFrame = Record<string, unknown> & { type: string };

/** A stream position as a client keeps it. */
export interface Position {
  epoch: string;
  offset: number;
}

/** A framed socket that parses what it receives. */
export class FramedClient implements AsyncDisposable {
  readonly client: TestClient;

  constructor(url: string) {
    this.client = new TestClient(url, [FRAMED_PROTOCOL]);
  }

  /** Opens a socket and sends `first` (an `auth` or `resume` frame), waiting for `welcome`. */
  static async open(url: string, first: Record<string, unknown>): Promise<FramedClient> {
    const framed = new FramedClient(url);
    await framed.client.open();
    framed.send(first);
    const welcome = await framed.next();
    if (welcome.type !== "welcome") {
      throw new Error(`Expected welcome, got ${JSON.stringify(welcome)}`);
    }
    framed.welcome = welcome;
    return framed;
  }

  welcome: ServerFrame | undefined;

  send(frame: Record<string, unknown> | string): void {
    this.client.socket.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame, parsed. */
  async next(ms = 5000): Promise<ServerFrame> {
    return JSON.parse(await this.client.next(ms));
  }

  /** The welcome's stream positions. */
  positions(): Map<string, Position> {
    const streams = (this.welcome?.streams ?? {}) as Record<string, Position>;
    return new Map(Object.entries(streams));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.client[Symbol.asyncDispose]();
  }
}
