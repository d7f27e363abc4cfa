/**
 * What a push delivers, and its wire encodings. A publication is built once per push, however
 * many sockets it reaches; each protocol's frame is encoded once, on first use, and shared by
 * every socket that speaks that protocol.
 * @module
 */

/** How a socket frames what it is sent. `plain`: the payload text as is, as the seed did. */
export type WireProtocol = "plain";

/** A text frame ready to send. */
export interface Frame {
  readonly text: string;
  /** UTF-8 bytes of `text`: what `WebSocket.bufferedAmount` counts. */
  readonly bytes: number;
}

/** One pushed payload on its way to every socket that should get it. */
export class Publication {
  /** The payload as clients see it: a pushed JSON string verbatim, anything else as JSON text. */
  readonly payload: string;
  #plain: Frame | undefined;

  constructor(payload: string) {
    this.payload = payload;
  }

  /** The frame for sockets speaking `protocol`, encoded on the first call. */
  frame(_protocol: WireProtocol): Frame {
    return this.#plain ??= textFrame(this.payload);
  }
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
