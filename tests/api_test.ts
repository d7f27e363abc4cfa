/**
 * `POST /api` end to end: a real Herald in-process, real HTTP, real browser sockets; every status
 * the API answers, batches, and key rotation by reload.
 * @module
 */
import assert from "node:assert/strict";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test, testConfig } from "./support/test_herald.ts";

const KEY = "api-key-0123456789abcdef";
const NEXT_KEY = "next-api-key-fedcba9876543210";

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** POSTs `body` (JSON-encoded unless a string or bytes) to /api and reads the whole answer. */
async function post(
  port: number,
  body: unknown,
  options: { key?: string | null; contentType?: string | null; method?: string } = {},
): Promise<Answer> {
  const headers = new Headers();
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  const contentType = options.contentType === undefined ? "application/json" : options.contentType;
  if (contentType !== null) headers.set("content-type", contentType);
  const method = options.method ?? "POST";
  const response = await fetch(`http://127.0.0.1:${port}/api`, {
    method,
    headers,
    body: method === "GET" || method === "HEAD"
      ? undefined
      : typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream
      ? body as BodyInit
      : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? undefined : JSON.parse(text),
  };
}

function errorCode(answer: Answer): string | undefined {
  return (answer.body as { error?: { code?: string } } | undefined)?.error?.code;
}

test("api: answers 404 to every method while no --api-key is configured", async () => {
  await using herald = await startTestHerald();
  const port = herald.wsAddr.port;
  for (const method of ["POST", "GET", "PUT", "DELETE"]) {
    const answer = await post(port, { uid: "u", data: 1 }, { method });
    assert.equal(answer.status, 404, method);
    assert.equal(errorCode(answer), "not_found");
  }
});

test("api: a command runs through dispatch and gets the control port's JSON reply", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  await using browser = await TestClient.identified(herald.wsUrl, "u1");
  const port = herald.wsAddr.port;
  const pushed = await post(port, { uid: "u1", percent: "88%" });
  assert.equal(pushed.status, 200);
  assert.equal(pushed.headers.get("content-type"), "application/json");
  assert.deepEqual(pushed.body, { result: { delivered: 1 } });
  assert.equal(await browser.next(), '{"percent":"88%"}');
  // Nothing delivered is still a body that ran: 200.
  const nobody = await post(port, { id: "x", uid: "nobody", data: 1 });
  assert.equal(nobody.status, 200);
  assert.deepEqual(nobody.body, { id: "x", result: { delivered: 0 } });
  const online = await post(port, { cmd: "online", uid: "u1", id: 7 });
  assert.deepEqual(online.body, { id: 7, result: { uid: "u1", online: true, connections: 1 } });
  // A refused command is a reply, as on the control port.
  const refused = await post(port, { id: 3, cmd: "teleport" });
  assert.equal(refused.status, 200);
  assert.equal(errorCode(refused), "unknown_cmd");
  assert.equal((refused.body as { id: number }).id, 3);
});

test("api: a batch runs in order, and one bad command does not stop the others", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  await using a = await TestClient.identified(herald.wsUrl, "a");
  const answer = await post(herald.wsAddr.port, [
    { cmd: "join", uid: "a", group: "room" },
    { cmd: "publish", group: "room", data: "first" },
    { id: "bad", cmd: "publish", data: "no group" },
    "not an object",
    { id: 4, cmd: "count", group: "room" },
    { uid: "a", data: "last" },
  ]);
  assert.equal(answer.status, 200);
  const replies = answer.body as Record<string, unknown>[];
  assert.equal(replies.length, 6);
  assert.deepEqual(replies[0], { result: { joined: true } });
  assert.deepEqual(replies[1], { result: { delivered: 1 } });
  assert.equal((replies[2] as { id: string; error: { code: string } }).id, "bad");
  assert.equal((replies[2] as { error: { code: string } }).error.code, "bad_field");
  assert.equal((replies[3] as { error: { code: string } }).error.code, "not_object");
  assert.deepEqual(replies[4], { id: 4, result: { group: "room", uids: 1, connections: 1 } });
  assert.deepEqual(replies[5], { result: { delivered: 1 } });
  assert.equal(await a.next(), "first");
  assert.equal(await a.next(), "last");
  assert.deepEqual((await post(herald.wsAddr.port, [])).body, []);
});

test("api: 401 for a missing, wrong or malformed key, before the body is looked at", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  const port = herald.wsAddr.port;
  for (const key of [null, "wrong-key-0123456789", `${KEY}x`, ""]) {
    const answer = await post(port, { uid: "u", data: 1 }, { key, contentType: "text/plain" });
    assert.equal(answer.status, 401, String(key));
    assert.equal(errorCode(answer), "unauthorized");
    assert.equal(answer.headers.get("www-authenticate"), 'Bearer realm="herald"');
  }
  const response = await fetch(`http://127.0.0.1:${port}/api`, {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`user:${KEY}`)}`, "content-type": "application/json" },
    body: "{}",
  });
  await response.body?.cancel();
  assert.equal(response.status, 401);
});

test("api: 405 for a method other than POST, naming POST", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  for (const method of ["GET", "PUT", "DELETE"]) {
    const answer = await post(herald.wsAddr.port, {}, { method });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.get("allow"), "POST");
    assert.equal(errorCode(answer), "method_not_allowed");
  }
});

test("api: 415 for a content type other than JSON; JSON with a charset is fine", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  const port = herald.wsAddr.port;
  for (const contentType of [null, "text/plain", "application/x-www-form-urlencoded"]) {
    const answer = await post(port, { cmd: "stats" }, { contentType });
    assert.equal(answer.status, 415, String(contentType));
    assert.equal(errorCode(answer), "bad_content_type");
  }
  const ok = await post(port, { cmd: "stats" }, { contentType: "Application/JSON; charset=utf-8" });
  assert.equal(ok.status, 200);
});

test("api: 413 over --max-api-body-bytes, announced or streamed, and nothing runs", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY], maxApiBodyBytes: 1024 });
  await using browser = await TestClient.identified(herald.wsUrl, "u");
  const port = herald.wsAddr.port;
  const big = { uid: "u", data: "x".repeat(2000) };
  const announced = await post(port, big);
  assert.equal(announced.status, 413);
  assert.equal(errorCode(announced), "body_too_large");
  assert.match((announced.body as { error: { message: string } }).error.message, /1024 bytes/);
  // Chunked, without Content-Length: the limit holds while reading.
  const bytes = new TextEncoder().encode(JSON.stringify(big));
  const streamed = await post(
    port,
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 256) controller.enqueue(bytes.slice(i, i + 256));
        controller.close();
      },
    }),
  );
  assert.equal(streamed.status, 413);
  // Just under the limit runs.
  const fits = await post(port, { uid: "u", data: "y".repeat(900) });
  assert.equal(fits.status, 200);
  assert.equal(await browser.next(), "y".repeat(900)); // The 413s delivered nothing before it.
});

test("api: 400 for a body that is not JSON or not UTF-8, with the parser's reason", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  const port = herald.wsAddr.port;
  const notJson = await post(port, '{"uid":"u",');
  assert.equal(notJson.status, 400);
  assert.equal(errorCode(notJson), "bad_json");
  assert.match(
    (notJson.body as { error: { message: string } }).error.message,
    /^Cannot parse JSON: /,
  );
  const empty = await post(port, "");
  assert.equal(empty.status, 400);
  assert.equal(errorCode(empty), "bad_json");
  const latin1 = await post(port, new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x7d]));
  assert.equal(latin1.status, 400);
  assert.equal(errorCode(latin1), "bad_encoding");
});

test("api: several keys work at once, and a reload rotates them", async () => {
  await using herald = await startTestHerald({ apiKeys: [KEY, NEXT_KEY] });
  const port = herald.wsAddr.port;
  const stats = { cmd: "stats" };
  assert.equal((await post(port, stats, { key: KEY })).status, 200);
  assert.equal((await post(port, stats, { key: NEXT_KEY })).status, 200);
  await herald.reload(testConfig({ apiKeys: [NEXT_KEY] }));
  assert.equal((await post(port, stats, { key: KEY })).status, 401);
  assert.equal((await post(port, stats, { key: NEXT_KEY })).status, 200);
  await herald.reload(testConfig({ apiKeys: [] }));
  assert.equal((await post(port, stats, { key: NEXT_KEY })).status, 404);
});
