import assert from "node:assert/strict";
import { HttpClient } from "./http_client.ts";

Deno.test("HttpClient reuses one connection and reads each answer whole, large ones too", async () => {
  const bodies: string[] = [];
  const peers = new Set<number>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request, info) => {
      peers.add(info.remoteAddr.port);
      bodies.push(await request.text());
      const n = bodies.length;
      // Answers grow past the client's first 64 KiB buffer.
      return Response.json({ n, pad: "y".repeat(n * 1000) }, { status: n === 3 ? 401 : 200 });
    },
  );
  try {
    using client = await HttpClient.connect(server.addr.port);
    const request = client.request(
      "POST",
      "/api",
      { "content-type": "application/json" },
      '{"a":1}',
    );
    const statuses: number[] = [];
    for (let i = 0; i < 80; i++) statuses.push(await client.send(request));
    assert.deepEqual(statuses.filter((s) => s !== 200), [401]);
    assert.equal(statuses[2], 401);
    assert.deepEqual(new Set(bodies), new Set(['{"a":1}']));
    assert.equal(peers.size, 1, "one keep-alive connection");
  } finally {
    await server.shutdown();
  }
});
