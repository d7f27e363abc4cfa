/**
 * Turns a client's credential (its first message or `?token=`) into an identity: the uid itself
 * in open mode, an HS256 JWT in token mode.
 * @module
 */
import { errors as joseErrors, jwtVerify } from "jose";
import { CLOSE, type CloseCode } from "./errors.ts";

/** Who a connection is and which groups its token joins. */
export interface Identity {
  readonly uid: string;
  readonly groups: readonly string[];
}

/** The outcome of checking a credential: an identity, or the close code to refuse it with. */
export type IdentifyResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly close: CloseCode; readonly detail: string };

/** Checks one credential. */
export type Identify = (credential: string) => IdentifyResult | Promise<IdentifyResult>;

/** Options of {@linkcode createIdentify}. */
export interface IdentifyOptions {
  /** HS256 secret; undefined means open mode. */
  readonly secret: string | undefined;
  /** Older secrets still accepted during a rotation. @default [] */
  readonly previousSecrets?: readonly string[];
  /** Clock skew tolerated on `exp` and `nbf`, in seconds. @default 0 */
  readonly leewaySeconds?: number;
}

/** Builds the credential check for the configured mode. */
export function createIdentify(options: IdentifyOptions): Identify {
  if (options.secret === undefined) return identifyOpen;
  const encoder = new TextEncoder();
  const keys = [options.secret, ...options.previousSecrets ?? []].map((s) => encoder.encode(s));
  const leeway = options.leewaySeconds ?? 0;
  return (credential) => identifyToken(credential, keys, leeway);
}

function identifyOpen(uid: string): IdentifyResult {
  return uid === ""
    ? refuse(CLOSE.badIdentity, "empty uid")
    : { ok: true, identity: { uid, groups: NO_GROUPS } };
}

const NO_GROUPS: readonly string[] = Object.freeze([]);

async function identifyToken(
  token: string,
  keys: readonly Uint8Array[],
  leewaySeconds: number,
): Promise<IdentifyResult> {
  let verified;
  try {
    verified = await verifyWithAny(token, keys, leewaySeconds);
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return refuse(CLOSE.tokenExpired, "exp passed");
    // A malformed nbf fails with reason "invalid": that is a bad token, not a clock matter.
    if (
      error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "nbf" &&
      error.reason === "check_failed"
    ) {
      return refuse(CLOSE.tokenNotYetValid, "nbf not reached");
    }
    const code = error instanceof joseErrors.JOSEError ? error.code : "ERR_UNKNOWN";
    return refuse(CLOSE.invalidToken, code);
  }
  const { payload, protectedHeader } = verified;
  const typ: unknown = protectedHeader.typ;
  if (typ !== undefined && (typeof typ !== "string" || typ.toUpperCase() !== "JWT")) {
    return refuse(CLOSE.invalidToken, "typ is not JWT");
  }
  if (typeof payload.sub !== "string" || payload.sub === "") {
    return refuse(CLOSE.invalidToken, "sub missing or not a non-empty string");
  }
  const groups = payload.groups ?? [];
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === "string" && g !== "")) {
    return refuse(CLOSE.invalidToken, "groups is not an array of non-empty strings");
  }
  return { ok: true, identity: { uid: payload.sub, groups } };
}

/** Verifies with each key in turn; only a signature mismatch moves on to the next key. */
async function verifyWithAny(token: string, keys: readonly Uint8Array[], leewaySeconds: number) {
  for (let i = 0;; i++) {
    try {
      // jose checks the HMAC with crypto.subtle.verify, which compares in constant time.
      return await jwtVerify(token, keys[i]!, {
        algorithms: ["HS256"],
        clockTolerance: leewaySeconds,
      });
    } catch (error) {
      const last = i === keys.length - 1;
      if (last || !(error instanceof joseErrors.JWSSignatureVerificationFailed)) throw error;
    }
  }
}

function refuse(close: CloseCode, detail: string): IdentifyResult {
  return { ok: false, close, detail };
}
