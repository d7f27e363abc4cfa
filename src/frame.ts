/**
 * The unit of delivery: a text frame with its UTF-8 size, computed once per push however many
 * sockets it goes to (the size drives the slow-reader bound).
 * @module
 */

/** A text frame ready to send. */
export interface Frame {
  readonly text: string;
  /** UTF-8 bytes of `text`: what `WebSocket.bufferedAmount` counts. */
  readonly bytes: number;
}

/** Makes a frame of `text`. */
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
