/**
 * The unit of delivery: a text frame with its UTF-8 size, computed once per push however many
 * sockets it goes to (the size drives the slow-reader bound).
 * @module
 */
import { Buffer } from "node:buffer";

/** A text frame ready to send. */
export interface Frame {
  readonly text: string;
  /** UTF-8 bytes of `text`: what `WebSocket.bufferedAmount` counts. */
  readonly bytes: number;
}

/** Makes a frame of `text`. */
export function textFrame(text: string): Frame {
  return { text, bytes: Buffer.byteLength(text, "utf8") };
}
