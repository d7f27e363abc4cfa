/**
 * The keys that open the HTTP API and the metrics, checked in constant time. Several keys are
 * valid at once so a backend can move to a new key before the old one is removed.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { ControlError } from "../errors.ts";

/** The configured API keys, as digests; replaced whole on reload. */
export class ApiKeys {
  #digests: readonly Uint8Array[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(sha256);
  }

  /** False when no key is configured: the endpoints they guard answer 404. */
  get enabled(): boolean {
    return this.#digests.length > 0;
  }

  /** Replaces the keys (SIGHUP). */
  set(keys: readonly string[]): void {
    this.#digests = keys.map(sha256);
  }

  /**
   * True when `authorization` is `Bearer <a configured key>`. Both sides are hashed first, so
   * the comparison takes the same time whatever the presented key's length, and every key is
   * compared, so the time does not tell which one matched.
   */
  verify(authorization: string | null): boolean {
    const match = authorization === null ? null : /^bearer +(\S+) *$/i.exec(authorization);
    if (match === null) return false;
    const presented = sha256(match[1]!);
    let found = false;
    for (const digest of this.#digests) found = timingSafeEqual(presented, digest) || found;
    return found;
  }
}

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** The JSON error a key-guarded route answers with: `{"error":{"code":…,"message":…}}`. */
export function jsonError(
  status: number,
  code: ControlError["code"],
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error: { code, message } }, { status, headers });
}

/** 404 for `path` while no --api-key is configured. */
export function notConfigured(path: string): Response {
  return jsonError(404, "not_found", `Cannot serve ${path}: no --api-key is configured`);
}

/** 401 for a request to `action` without a valid key. */
export function unauthorized(action: string): Response {
  return jsonError(
    401,
    "unauthorized",
    `Cannot ${action}: send a key of --api-key as Authorization: Bearer <key>`,
    { "www-authenticate": 'Bearer realm="herald"' },
  );
}
