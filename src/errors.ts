/**
 * Herald's one error vocabulary: the control-port error codes and the WebSocket close codes a
 * peer can see. docs/protocol.md documents both tables; keep them in step.
 * @module
 */

/** Error codes a control client can receive. */
export type ControlErrorCode =
  | "bad_json"
  | "bad_encoding"
  | "not_object"
  | "unknown_cmd"
  | "bad_field"
  | "line_too_long"
  | "line_timeout"
  | "too_many_connections"
  | "unauthorized";

/** An error a control client sees, with a stable code. */
export interface ControlError {
  readonly code: ControlErrorCode;
  readonly message: string;
}

/** WebSocket close codes Herald sends, with the reason text that goes with each. */
export const CLOSE = {
  /** Shutdown or idle peer: reconnect. */
  goingAway: { code: 1001, reason: "going away" },
  /** A client message over --max-message-bytes. */
  messageTooBig: { code: 1009, reason: "message too big" },
  /** Unsent data over --max-unsent-bytes or --max-unsent-frames: reconnect. */
  slowReader: { code: 1013, reason: "slow reader" },
  /** Bad token: get a new one before reconnecting. */
  invalidToken: { code: 4001, reason: "invalid token" },
  /** Expired token: reconnect with a fresh one. */
  tokenExpired: { code: 4002, reason: "token expired" },
  /** A token whose nbf is still ahead (clock skew past --token-leeway): same code as expired. */
  tokenNotYetValid: { code: 4002, reason: "token not yet valid" },
  /** No identity within --auth-timeout: reconnect. */
  identifyTimeout: { code: 4003, reason: "identify timeout" },
  /** Empty uid, binary or malformed first message: do not reconnect as is. */
  badIdentity: { code: 4004, reason: "bad identity" },
  /** The backend kicked this uid: do not reconnect. */
  kicked: { code: 4005, reason: "kicked" },
  /** More than --max-messages-per-second client messages: reconnect after a pause. */
  tooManyMessages: { code: 4006, reason: "too many messages" },
} as const;

/** One entry of {@linkcode CLOSE}. */
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/**
 * Codes of the `error` frames a `herald.v1` client can receive. Before identifying, the frame is
 * followed by close 4004; after, the socket stays open.
 */
export type FramedErrorCode =
  | "bad_json"
  | "bad_frame"
  | "unknown_type"
  | "bad_resume"
  | "already_identified";
