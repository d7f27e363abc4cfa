import assert from "node:assert/strict";
import fc from "fast-check";
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
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

Deno.test("createIdentify() refuses a token before its nbf with 4002, saying it is not yet valid", async () => {
  const token = await sign({ sub: "u", nbf: now() + 60 });
  const close = closeOf(await identify(token));
  assert.equal(close, CLOSE.tokenNotYetValid);
  assert.deepEqual([close?.code, close?.reason], [4002, "token not yet valid"]);
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

/** Signs any header and payload with HS256 by hand, as jose would refuse to for odd claims. */
async function signRaw(
  header: Record<string, unknown>,
  payload: unknown,
  key: Uint8Array = KEY,
): Promise<string> {
  const signingInput = `${base64url(header)}.${base64url(payload)}`;
  const hmac = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(signingInput)),
  );
  return `${signingInput}.${bytesToBase64url(mac)}`;
}

function bytesToBase64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("=", "").replaceAll("+", "-")
    .replaceAll("/", "_");
}

Deno.test("createIdentify() refuses an RS256 token, whatever key signed it, with 4001", async () => {
  const { privateKey } = await generateKeyPair("RS256");
  const token = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .sign(privateKey);
  assert.equal(closeOf(await identify(token)), CLOSE.invalidToken);
});

Deno.test("createIdentify() refuses HS256 signed with a public key's bytes (alg confusion)", async () => {
  const { publicKey } = await generateKeyPair("RS256", { extractable: true });
  const pem = new TextEncoder().encode(await exportSPKI(publicKey));
  const confused = await signRaw({ alg: "HS256", typ: "JWT" }, { sub: "admin" }, pem);
  assert.equal(closeOf(await identify(confused)), CLOSE.invalidToken);
  // An RS256 header over an HMAC made with the shared secret is refused too: the algorithm is
  // pinned to HS256, never taken from the token.
  const relabelled = await signRaw({ alg: "RS256", typ: "JWT" }, { sub: "admin" });
  assert.equal(closeOf(await identify(relabelled)), CLOSE.invalidToken);
});

Deno.test("createIdentify() takes typ JWT in any case and refuses other typ values", async () => {
  for (const typ of ["JWT", "jwt"]) {
    assert.equal((await identify(await signRaw({ alg: "HS256", typ }, { sub: "u" }))).ok, true);
  }
  assert.equal((await identify(await signRaw({ alg: "HS256" }, { sub: "u" }))).ok, true);
  for (const typ of ["JWS", "at+jwt", "", 5]) {
    const token = await signRaw({ alg: "HS256", typ }, { sub: "u" });
    assert.equal(closeOf(await identify(token)), CLOSE.invalidToken, String(typ));
  }
});

Deno.test("createIdentify() refuses tokens with bad base64 in any part with 4001", async () => {
  const good = await sign({ sub: "u" });
  const [header, payload, signature] = good.split(".") as [string, string, string];
  const bad = [
    `${header}!.${payload}.${signature}`,
    `${header}.${payload}=.${signature}`,
    `${header}.${payload.replaceAll("-", "+").replaceAll("_", "/")}+/.${signature}`,
    `${header}.${payload}.${signature}%%`,
    `${header}.${payload}.${signature.slice(0, -1)}`,
    `${header}..${signature}`,
    `.${payload}.${signature}`,
    `${btoa("not json")}.${payload}.${signature}`,
  ];
  for (const token of bad) {
    assert.equal(closeOf(await identify(token)), CLOSE.invalidToken, token);
  }
});

Deno.test("createIdentify() refuses a huge token quickly with 4001", async () => {
  const huge = await signRaw({ alg: "HS256", typ: "JWT" }, { sub: "u", pad: "p".repeat(4 << 20) });
  const started = performance.now();
  assert.equal(closeOf(await identify(huge + "x")), CLOSE.invalidToken);
  assert.equal(closeOf(await identify("a".repeat(8 << 20))), CLOSE.invalidToken);
  assert.ok(performance.now() - started < 2000, "took over 2 s");
});

Deno.test("createIdentify() refuses a sub that is an array, object, null or boolean with 4001", async () => {
  for (const sub of [["u"], { id: "u" }, null, true, 1.5]) {
    const token = await signRaw({ alg: "HS256", typ: "JWT" }, { sub });
    assert.equal(closeOf(await identify(token)), CLOSE.invalidToken, JSON.stringify(sub));
  }
});

Deno.test("createIdentify() applies --token-leeway on both sides of exp and nbf", async () => {
  const leeway = 30;
  const lenient = createIdentify({ secret: SECRET, leewaySeconds: leeway });
  // Two seconds of margin either side keep the test off the second boundary.
  assert.equal((await lenient(await sign({ sub: "u", exp: now() - leeway + 2 }))).ok, true);
  assert.equal(
    closeOf(await lenient(await sign({ sub: "u", exp: now() - leeway - 2 }))),
    CLOSE.tokenExpired,
  );
  assert.equal((await lenient(await sign({ sub: "u", nbf: now() + leeway - 2 }))).ok, true);
  assert.equal(
    closeOf(await lenient(await sign({ sub: "u", nbf: now() + leeway + 2 }))),
    CLOSE.tokenNotYetValid,
  );
  assert.equal(
    closeOf(await identify(await sign({ sub: "u", exp: now() - 1 }))),
    CLOSE.tokenExpired,
  );
  assert.equal((await identify(await sign({ sub: "u", exp: now() + 2 }))).ok, true);
});

Deno.test("createIdentify() refuses exp or nbf that are not numbers with 4001", async () => {
  for (const claims of [{ exp: "tomorrow" }, { nbf: "now" }, { exp: null }]) {
    const token = await signRaw({ alg: "HS256", typ: "JWT" }, { sub: "u", ...claims });
    assert.equal(closeOf(await identify(token)), CLOSE.invalidToken, JSON.stringify(claims));
  }
});

Deno.test("createIdentify() refuses every random string and every altered token, never throwing", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 300 }), async (credential) => {
      assert.equal((await identify(credential)).ok, false);
    }),
    { numRuns: 300 },
  );
  const good = await sign({ sub: "u", groups: ["g"] });
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: good.length - 1 }),
      fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
      async (at, replacement) => {
        fc.pre(good[at] !== replacement);
        const altered = good.slice(0, at) + replacement + good.slice(at + 1);
        const result = await identify(altered);
        // Base64url's last character may carry unused bits: those changes decode the same.
        if (result.ok) assert.equal(at, good.length - 1, `accepted a change at ${at}`);
      },
    ),
    { numRuns: 300 },
  );
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
