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
  | "unauthorized"
  // The HTTP API's own: each comes with its HTTP status.
  | "not_found"
  | "method_not_allowed"
  | "body_too_large"
  | "bad_content_type"
  // A cluster request that Redis could not carry in time.
  | "unavailable";

/** An error a control client sees, with a stable code. */
export interface ControlError {
  readonly code: ControlErrorCode;
  readonly message: string;
}

/**
 * A command needed another node and could not reach it in time (in a cluster: the Redis link is
 * down or slow). Brokers and Presence reject with it; dispatch turns it into an `unavailable` reply.
 */
export class UnavailableError extends Error {
  readonly code = "unavailable" as const;
}

/**
 * What a client should do after a close, the one rule docs/protocol.md's table and the browser
 * SDK's retry loop both follow: `reconnect` says whether to try again at all, `freshToken` that
 * the same token will not do, `advice` what else a person must know.
 */
export interface CloseCode {
  readonly code: number;
  readonly reason: string;
  readonly reconnect: boolean;
  readonly freshToken?: true;
  readonly advice?: string;
}

/** WebSocket close codes Herald sends, with the reason text and the retry rule of each. */
export const CLOSE = {
  /** Shutdown or idle peer. */
  goingAway: { code: 1001, reason: "going away", reconnect: true },
  /** A client message over --max-message-bytes. */
  messageTooBig: {
    code: 1009,
    reason: "message too big",
    reconnect: true,
    advice: "after fixing the client",
  },
  /** Unsent data over --max-unsent-bytes or --max-unsent-frames, or the total over its bound. */
  slowReader: { code: 1013, reason: "slow reader", reconnect: true },
  /** Bad token: the same token will fail again. */
  invalidToken: {
    code: 4001,
    reason: "invalid token",
    reconnect: false,
    advice: "fetch a new token first",
  },
  /** Expired token. */
  tokenExpired: {
    code: 4002,
    reason: "token expired",
    reconnect: true,
    freshToken: true,
    advice: "with a fresh token",
  },
  /** A token whose nbf is still ahead (clock skew past --token-leeway): same code as expired. */
  tokenNotYetValid: {
    code: 4002,
    reason: "token not yet valid",
    reconnect: true,
    freshToken: true,
    advice: "with a fresh token",
  },
  /** No identity within --auth-timeout. */
  identifyTimeout: { code: 4003, reason: "identify timeout", reconnect: true },
  /** Empty uid, binary or malformed first message: the same first message fails again. */
  badIdentity: { code: 4004, reason: "bad identity", reconnect: false },
  /** The backend kicked this uid. */
  kicked: { code: 4005, reason: "kicked", reconnect: false },
  /** More than --max-messages-per-second client messages. */
  tooManyMessages: {
    code: 4006,
    reason: "too many messages",
    reconnect: true,
    advice: "after a pause",
  },
} as const satisfies Record<string, CloseCode>;

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
