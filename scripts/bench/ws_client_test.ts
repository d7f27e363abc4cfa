import { WsClient } from "./ws_client.ts";
import { Counter } from "./counter.ts";

function assertEquals<T>(actual: T, expected: T): void {
  if (actual !== expected) throw new Error(`Expected ${expected}, got ${actual}`);
}

/** A WebSocket server on a free port that runs `onSocket` for each connection. */
function serve(onSocket: (socket: WebSocket) => void): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    onSocket(socket);
    return response;
  });
}

Deno.test("WsClient sends masked text and parses small, 16-bit and 64-bit length frames", async () => {
  const sizes = [5, 300, 70_000];
  const server = serve((socket) => {
    socket.onmessage = (e) => {
      for (const n of sizes) socket.send(String(e.data).repeat(n));
    };
  });
  const got: number[] = [];
  const frames = new Counter();
  const closed = new Counter();
  const client = await WsClient.connect({
    port: server.addr.port,
    onText: (_c, payload) => {
      got.push(payload.length);
      frames.add();
    },
    onClose: () => closed.add(),
  });
  await client.sendText("x");
  assertEquals(await frames.waitFor(3, 5000), true);
  assertEquals(got.join(","), sizes.join(","));
  client.close();
  assertEquals(await closed.waitFor(1, 5000), true);
  assertEquals(client.closeCode, 1000);
  await server.shutdown();
});

Deno.test("WsClient reports the server's close code", async () => {
  const server = serve((socket) => {
    socket.onopen = () => socket.close(4005, "kicked");
  });
  const closed = new Counter();
  const client = await WsClient.connect({
    port: server.addr.port,
    onClose: () => closed.add(),
  });
  assertEquals(await closed.waitFor(1, 5000), true);
  assertEquals(client.closeCode, 4005);
  await server.shutdown();
});

Deno.test("WsClient counts every frame of a backlog read in one chunk", async () => {
  const server = serve((socket) => {
    socket.onmessage = () => {
      for (let i = 0; i < 1000; i++) socket.send(`m${i}`);
    };
  });
  const frames = new Counter();
  const closed = new Counter();
  const client = await WsClient.connect({
    port: server.addr.port,
    onText: () => frames.add(),
    onClose: () => closed.add(),
  });
  await client.sendText("go");
  assertEquals(await frames.waitFor(1000, 5000), true);
  assertEquals(client.received, 1000);
  client.close();
  await closed.waitFor(1, 5000);
  await server.shutdown();
});
