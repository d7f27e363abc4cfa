import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { CLOSE } from "./errors.ts";
import { createIdentify, type IdentifyResult } from "./identify.ts";

const SECRET = "test-secret-0123456789abcdef";
const KEY = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const identify = createIdentify({ secret: SECRET });

function sign(claims: Record<string, unknown>, alg = "HS256", key = KEY): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(key);
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
}

function closeOf(result: IdentifyResult) {
  assert.ok(!result.ok, "expected a refusal");
  return result.close;
}

Deno.test("createIdentify() in open mode takes the credential as the uid", async () => {
  const open = createIdentify({ secret: undefined });
  assert.deepEqual(await open("uid1"), { ok: true, identity: { uid: "uid1", groups: [] } });
  assert.equal(closeOf(await open("")), CLOSE.badIdentity);
});

Deno.test("createIdentify() accepts a valid HS256 token with sub and groups", async () => {
  const token = await sign({ sub: "u42", groups: ["news", "vip"], exp: now() + 60 });
  assert.deepEqual(await identify(token), {
    ok: true,
    identity: { uid: "u42", groups: ["news", "vip"] },
  });
});

Deno.test("createIdentify() refuses an expired token with 4002, within leeway accepts it", async () => {
  const token = await sign({ sub: "u", exp: now() - 5 });
  assert.equal(closeOf(await identify(token)), CLOSE.tokenExpired);
  const lenient = createIdentify({ secret: SECRET, leewaySeconds: 30 });
  assert.equal((await lenient(token)).ok, true);
});

Deno.test("createIdentify() refuses a token before its nbf with 4002", async () => {
  const token = await sign({ sub: "u", nbf: now() + 60 });
  assert.equal(closeOf(await identify(token)), CLOSE.tokenExpired);
});

Deno.test("createIdentify() refuses a token signed with another secret with 4001", async () => {
  const token = await sign(
    { sub: "u" },
    "HS256",
    new TextEncoder().encode("another-secret-0123456789"),
  );
  assert.equal(closeOf(await identify(token)), CLOSE.invalidToken);
});

Deno.test("createIdentify() refuses another HMAC algorithm with 4001", async () => {
  assert.equal(closeOf(await identify(await sign({ sub: "u" }, "HS512"))), CLOSE.invalidToken);
});

Deno.test("createIdentify() refuses an unsigned alg:none token with 4001", async () => {
  const token = `${base64url({ alg: "none", typ: "JWT" })}.${base64url({ sub: "u" })}.`;
  assert.equal(closeOf(await identify(token)), CLOSE.invalidToken);
});

Deno.test("createIdentify() refuses malformed tokens with 4001", async () => {
  for (const token of ["", "abc", "a.b.c", "!!!.???.***", "x".repeat(10_000)]) {
    assert.equal(closeOf(await identify(token)), CLOSE.invalidToken, token.slice(0, 20));
  }
});

Deno.test("createIdentify() refuses a missing, empty or non-string sub with 4001", async () => {
  for (const claims of [{}, { sub: "" }]) {
    assert.equal(closeOf(await identify(await sign(claims))), CLOSE.invalidToken);
  }
  // jose itself refuses a non-string sub; build one by hand with a valid signature.
  const header = base64url({ alg: "HS256", typ: "JWT" });
  const body = base64url({ sub: 42 });
  const key = await crypto.subtle.importKey("raw", KEY, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${body}`)),
  );
  const signature = btoa(String.fromCharCode(...mac)).replaceAll("=", "").replaceAll("+", "-")
    .replaceAll("/", "_");
  assert.equal(closeOf(await identify(`${header}.${body}.${signature}`)), CLOSE.invalidToken);
});

Deno.test("createIdentify() refuses a groups claim that is not an array of strings", async () => {
  for (const groups of ["news", [1], [""], { a: 1 }]) {
    assert.equal(closeOf(await identify(await sign({ sub: "u", groups }))), CLOSE.invalidToken);
  }
});

Deno.test("createIdentify() refuses a typ other than JWT", async () => {
  const token = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
    .sign(KEY);
  assert.equal(closeOf(await identify(token)), CLOSE.invalidToken);
});

Deno.test("createIdentify() accepts tokens of the current and every previous secret", async () => {
  const older = "older-secret-0123456789abcdef";
  const oldest = "oldest-secret-0123456789abcdef";
  const rotating = createIdentify({ secret: SECRET, previousSecrets: [older, oldest] });
  const encoder = new TextEncoder();
  for (const key of [KEY, encoder.encode(older), encoder.encode(oldest)]) {
    assert.equal((await rotating(await sign({ sub: "u" }, "HS256", key))).ok, true);
  }
  const stranger = encoder.encode("stranger-secret-0123456789abc");
  assert.equal(
    closeOf(await rotating(await sign({ sub: "u" }, "HS256", stranger))),
    CLOSE.invalidToken,
  );
  const expiredOld = await sign({ sub: "u", exp: now() - 5 }, "HS256", encoder.encode(older));
  assert.equal(closeOf(await rotating(expiredOld)), CLOSE.tokenExpired);
});
