import assert from "node:assert/strict";
import { healthHandler } from "./health.ts";
import { Router } from "./router.ts";

function router(): Router {
  return new Router(() => new Response("upgraded", { status: 299 }))
    .route(
      ["GET"],
      "/healthz",
      healthHandler({ connections: () => 2, uids: () => 1, pending: () => 3 }),
    )
    .route(["POST"], "/echo", async (request) => new Response(await request.text()));
}

Deno.test("Router sends a WebSocket request to the upgrade route on any path", async () => {
  for (const path of ["/", "/ws", "/healthz", "/anything?token=x"]) {
    const response = await router().handle(
      new Request(`http://herald.test${path}`, { headers: { upgrade: "WebSocket" } }),
    );
    assert.equal(response.status, 299, path);
    await response.body?.cancel();
  }
});

Deno.test("Router matches the exact path, ignoring the query, then the method", async () => {
  const health = await router().handle(new Request("http://herald.test/healthz?verbose=1"));
  assert.equal(health.status, 200);
  const body = await health.json();
  assert.deepEqual({ ...body, uptime_s: 0 }, {
    status: "ok",
    connections: 2,
    uids: 1,
    pending: 3,
    uptime_s: 0,
  });
  const head = await router().handle(new Request("http://herald.test/healthz", { method: "HEAD" }));
  assert.equal(head.status, 200);
  await head.body?.cancel();
  const echo = await router().handle(
    new Request("http://herald.test/echo", { method: "POST", body: "hi" }),
  );
  assert.equal(await echo.text(), "hi");
});

Deno.test("Router answers 405 with Allow for a known path and 426 for the rest", async () => {
  const wrongMethod = await router().handle(
    new Request("http://herald.test/healthz", { method: "DELETE" }),
  );
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get("allow"), "GET, HEAD");
  await wrongMethod.body?.cancel();
  for (const path of ["/", "/healthz/", "/HEALTHZ", "/nope#x"]) {
    const response = await router().handle(new Request(`http://herald.test${path}`));
    assert.equal(response.status, 426, path);
    assert.equal(response.headers.get("upgrade"), "websocket");
    await response.body?.cancel();
  }
});

Deno.test("Router refuses a route registered twice", () => {
  assert.throws(() => router().route(["GET"], "/healthz", () => new Response()), /already routed/);
});
