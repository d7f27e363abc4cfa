/**
 * The webhook signature: `X-Herald-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` over
 * `"<t>.<body>"` with the shared secret. The MAC proves the request came from Herald; the signed
 * timestamp lets a receiver refuse a recorded request replayed later.
 * @module
 */
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

/** The request header that carries the signature. */
export const WEBHOOK_SIGNATURE_HEADER = "X-Herald-Signature";

/** The header value for `body` (the exact bytes sent) signed at `unixSeconds`. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  if (!Number.isSafeInteger(unixSeconds) || unixSeconds < 0) {
    throw new RangeError(
      `Cannot sign webhook: unixSeconds must be a whole number >= 0: current value is ${unixSeconds}`,
    );
  }
  return `t=${unixSeconds},v1=${hmacHex(secret, `${unixSeconds}.${body}`)}`;
}

/** Options of {@linkcode verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Seconds the signed time may differ from now, either way. @default 300 */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, in Unix seconds. @default Math.floor(Date.now() / 1000) */
  readonly nowSeconds?: number;
}

/** Why a signature was refused, or the time it was made. */
export type WebhookVerification =
  | { readonly ok: true; readonly unixSeconds: number }
  | { readonly ok: false; readonly reason: "malformed" | "stale" | "mismatch" };

/** Checks a signature header as a receiver does; never throws for any header or body. */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string,
  options: VerifyWebhookOptions = {},
): WebhookVerification {
  const fields = new Map(
    header.split(",").map((part) => {
      const equals = part.indexOf("=");
      return [part.slice(0, equals).trim(), part.slice(equals + 1).trim()] as const;
    }),
  );
  const t = fields.get("t") ?? "";
  const v1 = fields.get("v1") ?? "";
  if (!/^\d{1,15}$/.test(t) || !/^[0-9a-f]{64}$/.test(v1)) {
    return { ok: false, reason: "malformed" };
  }
  const unixSeconds = Number(t);
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - unixSeconds) > (options.toleranceSeconds ?? 300)) {
    return { ok: false, reason: "stale" };
  }
  const expected = Buffer.from(hmacHex(secret, `${t}.${body}`), "hex");
  // Constant time, so response timing does not reveal how much of a forged MAC was right.
  if (!timingSafeEqual(expected, Buffer.from(v1, "hex"))) return { ok: false, reason: "mismatch" };
  return { ok: true, unixSeconds };
}

function hmacHex(secret: string, message: string): string {
  return createHmac("sha256", secret).update(message, "utf8").digest("hex");
}
