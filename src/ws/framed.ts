/**
 * The `herald.v1` subprotocol's frames: parsing what a framed client sends, with an error that
 * names the field for anything malformed, and encoding what Herald answers. docs/protocol.md
 * describes them; keep it in step.
 * @module
 */
import type { FramedErrorCode } from "../errors.ts";
import type { StreamPosition } from "../history/history_store.ts";
import { type Frame, textFrame } from "../publication.ts";

/** Longest epoch a resume may name; Herald's own are 9-16 characters. */
const MAX_EPOCH_LENGTH = 64;

/** A frame a framed client sent, validated. */
export type ClientFrame =
  | {
    /** `auth` starts afresh; `resume` continues from the positions in `streams`. */
    readonly type: "auth" | "resume";
    /** A uid (open mode) or a token; undefined when the URL's `?token=` is to be used. */
    readonly credential: string | undefined;
    /** Per stream, the last position the client saw; empty for `auth`. */
    readonly streams: ReadonlyMap<string, StreamPosition>;
  }
  | { readonly type: "ping" };

/** An error a framed client is told about. */
export interface FramedError {
  readonly code: FramedErrorCode;
  readonly message: string;
}

/** Parses one text message of a framed client. */
export function parseClientFrame(
  text: string,
): { ok: true; frame: ClientFrame } | { ok: false; error: FramedError } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail("bad_json", `Cannot parse JSON: ${(error as SyntaxError).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("bad_frame", "Cannot read a frame that is not a JSON object");
  }
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case "ping":
      return { ok: true, frame: { type: "ping" } };
    case "auth":
    case "resume":
      return identifyFrame(frame.type, frame);
    case undefined:
      return fail("bad_frame", 'Cannot read a frame without "type"');
    default:
      return fail(
        "unknown_type",
        `Cannot handle "type": ${
          JSON.stringify(frame.type)?.slice(0, 64)
        }; expected "auth", "resume" or "ping"`,
      );
  }
}

function identifyFrame(
  type: "auth" | "resume",
  frame: Record<string, unknown>,
): { ok: true; frame: ClientFrame } | { ok: false; error: FramedError } {
  if (frame.uid !== undefined && frame.token !== undefined) {
    return fail("bad_frame", `Cannot ${type} with both "uid" and "token"`);
  }
  const credential = frame.token ?? frame.uid;
  if (credential !== undefined && (typeof credential !== "string" || credential === "")) {
    return fail(
      "bad_frame",
      `Cannot use "${frame.token !== undefined ? "token" : "uid"}": must be a non-empty string`,
    );
  }
  const streams = new Map<string, StreamPosition>();
  if (type === "auth") {
    if (frame.streams !== undefined) {
      return fail("bad_frame", 'Cannot use "streams" in "auth": send "resume" to continue');
    }
    return { ok: true, frame: { type, credential, streams } };
  }
  const given = frame.streams;
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    return fail("bad_resume", 'Cannot resume: "streams" must be an object of stream positions');
  }
  for (const [name, position] of Object.entries(given)) {
    const where = `"streams".${JSON.stringify(name.slice(0, 64))}`;
    if (typeof position !== "object" || position === null) {
      return fail("bad_resume", `Cannot resume ${where}: must be {"epoch":…,"offset":…}`);
    }
    const { epoch, offset } = position as Record<string, unknown>;
    if (typeof epoch !== "string" || epoch.length > MAX_EPOCH_LENGTH) {
      return fail(
        "bad_resume",
        `Cannot resume ${where}: "epoch" must be a string of at most ${MAX_EPOCH_LENGTH} characters`,
      );
    }
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
      return fail(
        "bad_resume",
        `Cannot resume ${where}: "offset" must be an integer >= 0: current value is ${
          JSON.stringify(offset)?.slice(0, 32)
        }`,
      );
    }
    streams.set(name, { epoch, offset });
  }
  return { ok: true, frame: { type, credential, streams } };
}

function fail(code: FramedErrorCode, message: string): { ok: false; error: FramedError } {
  return { ok: false, error: { code, message } };
}

/** Positions of a connection's streams; null for each when no history is kept. */
type StreamPositions = ReadonlyMap<string, StreamPosition | null>;

/** `welcome`: who the connection is and where each of its streams stands. */
export function welcomeFrame(uid: string, conn: number, streams: StreamPositions): Frame {
  return textFrame(
    JSON.stringify({ type: "welcome", uid, conn, streams: Object.fromEntries(streams) }),
  );
}

/** A stream's outcome in `resumed`. */
export interface StreamRecovery {
  readonly recovered: boolean;
  readonly epoch?: string;
  readonly offset?: number;
}

/** `resumed`: whether every missed message was replayed, overall and per stream asked for. */
export function resumedFrame(streams: ReadonlyMap<string, StreamRecovery>): Frame {
  let recovered = true;
  for (const stream of streams.values()) recovered &&= stream.recovered;
  return textFrame(
    JSON.stringify({ type: "resumed", recovered, streams: Object.fromEntries(streams) }),
  );
}

/** `pong`, the answer to `ping`. */
export const PONG_FRAME: Frame = textFrame('{"type":"pong"}');

/** `error`, telling what was wrong with a client frame. */
export function errorFrame(error: FramedError): Frame {
  return textFrame(JSON.stringify({ type: "error", ...error }));
}
