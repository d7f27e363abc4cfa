import assert from "node:assert/strict";
import { signWebhook, verifyWebhook } from "./signature.ts";

const SECRET = "webhook-secret-0123456789";
const BODY = '{"events":[{"event":"online","uid":"u1","time_ms":1700000000000}]}';

/** The MAC computed independently, with WebCrypto, from the documented scheme. */
async function expectedMac(secret: string, message: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(message));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("signWebhook() is t=<seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>", async () => {
  const header = signWebhook(SECRET, BODY, 1700000000);
  assert.equal(header, `t=1700000000,v1=${await expectedMac(SECRET, `1700000000.${BODY}`)}`);
  const unicode = '{"events":[{"event":"message","uid":"ü","data":"héllo 👋"}]}';
  assert.equal(
    signWebhook(SECRET, unicode, 5),
    `t=5,v1=${await expectedMac(SECRET, `5.${unicode}`)}`,
    "the body is signed as UTF-8",
  );
});

Deno.test("verifyWebhook() accepts a fresh signature and says why it refuses others", () => {
  const now = 1700000000;
  const header = signWebhook(SECRET, BODY, now);
  assert.deepEqual(verifyWebhook(SECRET, BODY, header, { nowSeconds: now + 299 }), {
    ok: true,
    unixSeconds: now,
  });
  const refused = (secret: string, body: string, h: string, nowSeconds = now) =>
    verifyWebhook(secret, body, h, { nowSeconds });
  assert.deepEqual(refused(SECRET, BODY + " ", header), { ok: false, reason: "mismatch" });
  assert.deepEqual(refused("another-secret", BODY, header), { ok: false, reason: "mismatch" });
  assert.deepEqual(refused(SECRET, BODY, header, now + 301), { ok: false, reason: "stale" });
  assert.deepEqual(refused(SECRET, BODY, header, now - 301), { ok: false, reason: "stale" });
  // A replay with a fresh t but the old MAC: the MAC covers t, so it fails.
  const retimed = header.replace(`t=${now}`, `t=${now + 1000}`);
  assert.deepEqual(refused(SECRET, BODY, retimed, now + 1000), { ok: false, reason: "mismatch" });
  for (
    const bad of ["", "t=1", "v1=abc", "t=x,v1=" + "0".repeat(64), `t=${now},v1=zz`, "garbage"]
  ) {
    assert.deepEqual(refused(SECRET, BODY, bad), { ok: false, reason: "malformed" }, bad);
  }
  assert.equal(
    verifyWebhook(SECRET, BODY, header, { nowSeconds: now + 1000, toleranceSeconds: 1000 }).ok,
    true,
  );
});

Deno.test("signWebhook() refuses a time that is not whole Unix seconds", () => {
  assert.throws(() => signWebhook(SECRET, BODY, 1.5), /whole number >= 0: current value is 1.5/);
  assert.throws(() => signWebhook(SECRET, BODY, -1), RangeError);
});
