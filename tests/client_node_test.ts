/**
 * The SDK as Herald serves it, run by Node.js: the same module runs in browsers, Deno and Node
 * (Node 22+ has a standard `WebSocket`; Node 20 needs `--experimental-websocket`).
 * @module
 */
import assert from "node:assert/strict";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { tempDir } from "./support/temp_dir.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

/** A Node app: connects as `uid`, prints each state and message, exits after `count` messages. */
const NODE_APP = `
import { HeraldClient } from "./herald.js";
const [url, uid, count] = process.argv.slice(2);
let seen = 0;
const client = new HeraldClient(url, {
  uid,
  onState: (state) => console.log("state", state),
  onMessage: (data, meta) => {
    console.log("msg", meta.stream, meta.offset, JSON.stringify(data));
    if (++seen === Number(count)) client.close();
  },
});
setTimeout(() => { console.log("timeout"); process.exit(2); }, 15000).unref();
`;

test("client: the SDK served at /herald.js runs in Node.js and receives pushes", async () => {
  await using herald = await startTestHerald();
  await using dir = await tempDir();
  const served = await fetch(`http://127.0.0.1:${herald.wsAddr.port}/herald.js`);
  await Deno.writeTextFile(`${dir.path}/herald.js`, await served.text());
  await Deno.writeTextFile(`${dir.path}/package.json`, '{"type":"module"}');
  await Deno.writeTextFile(`${dir.path}/app.js`, NODE_APP);
  const major = Number((await runCommand("node", ["--version"])).stdout.slice(1).split(".")[0]);
  const flags = major >= 22 ? [] : ["--experimental-websocket"];
  const running = runCommand("node", [...flags, "app.js", herald.wsUrl, "node-user", "2"], {
    cwd: dir.path,
  });
  using control = await ControlClient.connect(herald.controlAddr);
  await eventually(() => herald.hub.connectionsOf("node-user") === 1, 10_000, "Node to connect");
  assert.equal(await control.request({ uid: "node-user", data: { percent: "88%" } }), "ok");
  assert.equal(await control.request({ cmd: "broadcast", data: "to all" }), "ok");
  const result = await running;
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.deepEqual(lines, [
    "state connected",
    'msg user:node-user 1 {"percent":"88%"}',
    'msg all 1 "to all"',
    "state closed",
  ]);
});
