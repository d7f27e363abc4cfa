/**
 * The SDK (client/) as Herald serves it at /herald.js, against a real Herald through a TCP proxy
 * the test controls: cut links, long outages, bad tokens.
 * @module
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import type * as Sdk from "../client/herald_client.ts";
import { CLOSE } from "../src/errors.ts";
import { generateClientModule, GENERATED_PATH } from "../scripts/build_client.ts";
import { ControlClient } from "./support/control_client.ts";
import { TcpProxy } from "./support/tcp_proxy.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

const SECRET = "client-test-secret-0123456789abcdef";

/** The SDK module exactly as Herald serves it. */
async function servedSdk(wsPort: number): Promise<typeof Sdk> {
  const response = await fetch(`http://127.0.0.1:${wsPort}/herald.js`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
  const js = await response.text();
  const base64 = btoa(String.fromCharCode(...new TextEncoder().encode(js)));
  return await import(`data:text/javascript;base64,${base64}`);
}

/** An app using the SDK: what it was given, in order, and how its connection went. */
function app() {
  const numbers: number[] = [];
  const states: Sdk.HeraldState[] = [];
  const resumes: Sdk.ResumeResult[] = [];
  return {
    numbers,
    states,
    resumes,
    options: {
      onMessage: (data: unknown) => numbers.push(data as number),
      onState: (state: Sdk.HeraldState) => states.push(state),
      onResume: (result: Sdk.ResumeResult) => resumes.push(result),
      minDelayMs: 50,
      maxDelayMs: 500,
    },
  };
}

test("client: /herald.js is the bundle scripts/build_client.ts makes of client/", async () => {
  const committed = await Deno.readTextFile(new URL(`../${GENERATED_PATH}`, import.meta.url));
  assert.equal(
    committed,
    await generateClientModule(),
    `${GENERATED_PATH} is stale: run deno task build:client`,
  );
});

test("client: its close-code table follows src/errors.ts CLOSE", async () => {
  await using herald = await startTestHerald();
  const { CLOSE_ACTIONS } = await servedSdk(herald.wsAddr.port);
  for (const entry of Object.values(CLOSE)) {
    const action = CLOSE_ACTIONS[entry.code] ?? "retry";
    // The table's own flag, where it has one, decides; 4002 asks for a fresh token.
    const reconnect = (entry as { reconnect?: unknown }).reconnect;
    if (typeof reconnect === "boolean") {
      assert.equal(action !== "stop", reconnect, `${entry.code} ${entry.reason}`);
    }
  }
  assert.equal(CLOSE_ACTIONS[CLOSE.invalidToken.code], "stop");
  assert.equal(CLOSE_ACTIONS[CLOSE.tokenExpired.code], "refresh-token");
  assert.equal(CLOSE_ACTIONS[CLOSE.badIdentity.code], "stop");
  assert.equal(CLOSE_ACTIONS[CLOSE.kicked.code], "stop");
  for (const code of [1001, 1009, 1013, 4003, 4006]) assert.equal(CLOSE_ACTIONS[code], undefined);
});

test("client: numbered pushes through cut links arrive exactly once, in order; never fail", async () => {
  // The backend pushes faster than a reconnect takes: keep more than one outage's worth.
  await using herald = await startTestHerald({ historySize: 10_000 });
  const { HeraldClient } = await servedSdk(herald.wsAddr.port);
  await using proxy = new TcpProxy(herald.wsAddr.port);
  const seen = app();
  const client = new HeraldClient(`ws://127.0.0.1:${proxy.port}/`, { uid: "n", ...seen.options });
  try {
    await eventually(() => client.state === "connected", 10_000, "the first connection");
    using backend = await ControlClient.connect(herald.controlAddr);
    const total = 600;
    const replies = new Set<string>();
    for (let n = 1; n <= total; n++) {
      replies.add(await backend.request({ uid: "n", data: n }));
      if (n % 150 === 0) proxy.cut(); // Mid-stream, while the backend keeps pushing.
      if (n % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // Let time pass.
    }
    assert.deepEqual([...replies].filter((r) => r !== "ok" && r !== "queued"), []);
    await eventually(() => seen.numbers.length >= total, 20_000, `${total} numbers`);
    assert.deepEqual(seen.numbers, Array.from({ length: total }, (_, i) => i + 1));
    assert.ok(proxy.attempts >= 2, `reconnected (${proxy.attempts} connections)`);
    assert.ok(seen.resumes.every((r) => r.recovered), JSON.stringify(seen.resumes));
  } finally {
    client.close();
  }
});

test("client: a cut longer than the history resumes with recovered false", async () => {
  await using herald = await startTestHerald({ historySize: 5 });
  const { HeraldClient } = await servedSdk(herald.wsAddr.port);
  await using proxy = new TcpProxy(herald.wsAddr.port);
  const seen = app();
  const client = new HeraldClient(`ws://127.0.0.1:${proxy.port}/`, { uid: "l", ...seen.options });
  try {
    await eventually(() => client.state === "connected", 10_000, "the first connection");
    proxy.refuse(true);
    proxy.cut();
    await eventually(() => herald.hub.connectionsOf("l") === 0, 10_000, "the drop");
    using backend = await ControlClient.connect(herald.controlAddr);
    for (let n = 1; n <= 8; n++) {
      assert.equal(await backend.request({ uid: "l", data: n }), "queued");
    }
    proxy.refuse(false);
    await eventually(() => seen.resumes.length > 0, 20_000, "the resume");
    assert.equal(seen.resumes[0]!.recovered, false);
    assert.equal(seen.resumes[0]!.streams["user:l"]!.recovered, false);
    assert.deepEqual(seen.numbers, [], "a partial replay would look whole: nothing is replayed");
    assert.equal(await backend.request({ uid: "l", data: 9 }), "ok");
    await eventually(() => seen.numbers.length === 1, 10_000, "a live push after the gap");
    assert.deepEqual(seen.numbers, [9]);
  } finally {
    client.close();
  }
});

test("client: heartbeats notice a link that went silent and it resumes on a new one", async () => {
  await using herald = await startTestHerald();
  const { HeraldClient } = await servedSdk(herald.wsAddr.port);
  await using proxy = new TcpProxy(herald.wsAddr.port);
  const seen = app();
  const client = new HeraldClient(`ws://127.0.0.1:${proxy.port}/`, {
    uid: "h",
    ...seen.options,
    heartbeatMs: 200,
  });
  try {
    await eventually(() => client.state === "connected", 10_000, "the first connection");
    proxy.stall();
    using backend = await ControlClient.connect(herald.controlAddr);
    // Herald still holds the stalled socket: the push is "delivered" into the dead link.
    assert.equal(await backend.request({ uid: "h", data: 1 }), "ok");
    await eventually(() => seen.resumes.length > 0, 10_000, "a resume on a new link");
    assert.equal(seen.resumes[0]!.recovered, true);
    await eventually(() => seen.numbers.length === 1, 10_000, "the push lost on the dead link");
    assert.deepEqual(seen.numbers, [1]);
    assert.equal(proxy.attempts, 2);
  } finally {
    client.close();
  }
});

test("client: a bad token closes for good, with no retry loop", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  const { HeraldClient } = await servedSdk(herald.wsAddr.port);
  await using proxy = new TcpProxy(herald.wsAddr.port);
  const seen = app();
  const client = new HeraldClient(`ws://127.0.0.1:${proxy.port}/`, {
    token: "not-a-token",
    ...seen.options,
  });
  try {
    await eventually(() => client.state === "closed", 10_000, "the refusal");
    // Ten first-retry delays (50 ms) pass: a retry loop would have connected again by now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(proxy.attempts, 1);
    assert.deepEqual(seen.states, ["closed"], "it never went on to connecting again");
  } finally {
    client.close();
  }
});

test("client: an expired token (4002) makes it call getToken again and connect", async () => {
  await using herald = await startTestHerald({ secret: SECRET });
  const { HeraldClient } = await servedSdk(herald.wsAddr.port);
  const key = new TextEncoder().encode(SECRET);
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({ sub: "t" }).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(now - 60).sign(key);
  let fetched = 0;
  const seen = app();
  const client = new HeraldClient(herald.wsUrl, {
    token: expired,
    getToken: () => {
      fetched++;
      return new SignJWT({ sub: "t" }).setProtectedHeader({ alg: "HS256" })
        .setExpirationTime(now + 600).sign(key);
    },
    ...seen.options,
  });
  try {
    await eventually(() => client.state === "connected", 10_000, "a connection on a fresh token");
    assert.equal(fetched, 1);
  } finally {
    client.close();
  }
});
