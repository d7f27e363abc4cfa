/**
 * What a push delivers, and its wire encodings. A publication is built once per push, however
 * many sockets it reaches; each protocol's frame is encoded once, on first use, and shared by
 * every socket that speaks that protocol.
 * @module
 */

/**
 * How a socket frames what it is sent. `plain`: the payload text as is, as the seed did;
 * `herald.v1`: JSON frames, a push as `{"type":"msg","stream":…,"offset":…,"data":…}`.
 */
export type WireProtocol = "plain" | "herald.v1";

/** The subprotocol name a framed client offers in `Sec-WebSocket-Protocol`. */
export const FRAMED_PROTOCOL = "herald.v1";

/** A text frame ready to send. */
export interface Frame {
  readonly text: string;
  /** UTF-8 bytes of `text`: what `WebSocket.bufferedAmount` counts. */
  readonly bytes: number;
  /** A framed push's stream, so a socket can skip what a replay already sent it. */
  readonly stream?: string;
  /** A framed push's offset in `stream`; absent when the stream keeps no history. */
  readonly offset?: number;
}

/**
 * One pushed payload on its way to every socket that should get it. The hub delivers it placed
 * in a stream ({@linkcode Publication.at}): a framed socket's frame names the stream.
 */
export class Publication {
  /** The payload as clients see it: a pushed JSON string verbatim, anything else as JSON text. */
  readonly payload: string;
  /** Whether the payload is a JSON value's text; false when the pushed value was a string. */
  readonly #isJson: boolean;
  /** A string payload's JSON text, made on first use (framed sockets only). */
  #stringJson: string | undefined;
  #plain: Frame | undefined;

  /** `payload` is what a plain client receives; `isJson` when the pushed value was not a string. */
  constructor(payload: string, isJson = false) {
    this.payload = payload;
    this.#isJson = isJson;
  }

  /** A publication of the pushed JSON value `data`. */
  static of(data: unknown): Publication {
    return typeof data === "string"
      ? new Publication(data)
      : new Publication(JSON.stringify(data), true);
  }

  /**
   * The payload behind a one-letter tag, `j` for a JSON value and `s` for a string: what history
   * in Redis stores and nodes send each other, so a framed `msg` keeps the value's type.
   */
  get tagged(): string {
    return (this.#isJson ? "j" : "s") + this.payload;
  }

  /** The publication of a {@linkcode tagged} text. */
  static fromTagged(text: string): Publication {
    return new Publication(text.slice(1), text[0] === "j");
  }

  /** The pushed value as JSON text, as the `data` of a framed `msg`. */
  get json(): string {
    return this.#isJson ? this.payload : this.#stringJson ??= JSON.stringify(this.payload);
  }

  /** The frame for plain sockets, encoded on the first call: the same in every stream. */
  get plain(): Frame {
    return this.#plain ??= textFrame(this.payload);
  }

  /** This publication as a message of `stream` at `offset` (none when no history is kept). */
  at(stream: string, offset?: number): StreamMessage {
    return new StreamMessage(this, stream, offset);
  }
}

/** A publication at its place in one stream: what the hub delivers, to plain and framed sockets. */
export class StreamMessage {
  readonly publication: Publication;
  readonly stream: string;
  readonly offset: number | undefined;
  #framed: Frame | undefined;

  constructor(publication: Publication, stream: string, offset?: number) {
    this.publication = publication;
    this.stream = stream;
    this.offset = offset;
  }

  /** The frame for sockets speaking `protocol`, encoded once and shared. */
  frame(protocol: WireProtocol): Frame {
    if (protocol === "plain") return this.publication.plain;
    return this.#framed ??= framedMessage(this.stream, this.offset, this.publication.json);
  }
}

/** The `msg` frame of a framed push; `json` is the data's JSON text. */
function framedMessage(stream: string, offset: number | undefined, json: string): Frame {
  const head = offset === undefined
    ? `{"type":"msg","stream":${JSON.stringify(stream)},"data":`
    : `{"type":"msg","stream":${JSON.stringify(stream)},"offset":${offset},"data":`;
  const text = head + json + "}";
  return offset === undefined
    ? { ...textFrame(text), stream }
    : { ...textFrame(text), stream, offset };
}

/** Makes a frame of `text`, for what Herald itself says to one socket (`pong`, `identified`). */
export function textFrame(text: string): Frame {
  return { text, bytes: utf8Length(text) };
}

/**
 * UTF-8 bytes of `text` as `WebSocket.send` encodes it (a lone surrogate becomes U+FFFD, 3 bytes).
 * Counted here rather than by `Buffer.byteLength`, whose argument checks and runtime call cost
 * more than the loop for the short payloads most pushes carry.
 */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 2; // A pair: two UTF-16 units, four bytes.
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
