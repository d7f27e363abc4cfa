/**
 * The API side of a real Herald process (`deno run main.ts`): keys and the webhook secret never
 * reach the log, and SIGTERM turns `/readyz` to 503 while the sockets drain.
 * @module
 */
import assert from "node:assert/strict";
import { TestReceiver } from "../src/webhook/receiver_for_tests.ts";
import { RawWsPeer } from "./support/raw_ws_peer.ts";
import { ServerProcess } from "./support/server_process.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

const KEY = "process-api-key-Zx7Pm3Vn8Rt5";
const FLAG_KEY = "flag-api-key-Hk2w9Lq4Zx7Pm3";
const WEBHOOK_SECRET = "process-webhook-Yb1CHk2w9Lq4";

test("process: API keys and the webhook secret never appear in the log, even at debug", async () => {
  await using receiver = await TestReceiver.start({ secret: WEBHOOK_SECRET });
  await using server = await ServerProcess.start({
    args: ["--log-level", "debug", "--api-key", FLAG_KEY, "--forward-client-messages", "--demo"],
    env: {
      HERALD_API_KEYS: KEY,
      HERALD_WEBHOOK_URL: receiver.url,
      HERALD_WEBHOOK_SECRET: WEBHOOK_SECRET,
    },
  });
  await server.waitForLog(/Demo page on http:\/\/127\.0\.0\.1:\d+\/demo/);
  await server.waitForLog(/--api-key on the command line is visible to every local user/);
  const base = `http://127.0.0.1:${server.wsPort}`;
  {
    await using client = await TestClient.identified(`ws://127.0.0.1:${server.wsPort}/`, "u");
    client.socket.send("hello");
    for (const key of [FLAG_KEY, "wrong-key-0123456789abcdef"]) {
      const response = await fetch(`${base}/api`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ uid: "u", data: "x" }),
      });
      await response.body?.cancel();
    }
    await eventually(() => receiver.accepted.length >= 2, 20_000, "online and message events");
  }
  await server.stop();
  // Flags are only given as the --api-key flag: the secret values themselves must not show.
  for (const secret of [KEY, FLAG_KEY, WEBHOOK_SECRET]) {
    assert.ok(!server.log.includes(secret), `the log shows ${secret}:\n${server.log}`);
  }
});

test("process: SIGTERM turns /readyz to 503 while the sockets drain, then exits 0", async () => {
  await using server = await ServerProcess.start({
    args: ["--close-timeout", "30", "--log-level", "debug"],
  });
  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${server.wsPort}/readyz`);
    await response.body?.cancel();
    return response.status;
  };
  assert.equal(await readyz(), 200);
  // An identified peer that never answers the close holds the drain open.
  using stuck = await RawWsPeer.handshake(server.wsPort);
  await stuck.sendText("stuck");
  await server.waitForLog(/Socket #\d+ identified as stuck/);
  server.signal("SIGTERM");
  await server.waitForLog(/SIGTERM: shutting down/);
  assert.equal(await readyz(), 503);
  assert.equal(await stuck.readCloseCode(), 1001);
  stuck[Symbol.dispose]();
  assert.equal((await server.exit()).code, 0);
});
