/**
 * Proof that Herald reads nothing next to its source at run time: main.ts bundled into one file,
 * run with `deno run --no-config` from another folder (what a compiled binary amounts to).
 * @module
 */
import assert from "node:assert/strict";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { MAIN, ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";

test("main.ts bundled to one file runs from another folder: start, push, stop", async () => {
  await using dir = await tempDir();
  const bundle = `${dir.path}/herald.js`;
  const bundled = await runCommand(Deno.execPath(), ["bundle", "--output", bundle, MAIN]);
  assert.equal(bundled.code, 0, bundled.stderr);
  const command = [
    Deno.execPath(),
    "run",
    "--no-config",
    "--unstable-net",
    "--allow-net",
    "--allow-env=HERALD_*",
    bundle,
  ];

  const version = await runCommand(command[0]!, [...command.slice(1), "--version"], {
    cwd: dir.path,
  });
  assert.match(version.stdout, /^herald \d+\.\d+\.\d+ \(commit dev, deno /);

  await using herald = await ServerProcess.start({ command, cwd: dir.path });
  await using client = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "u1");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ uid: "u1", data: { percent: "88%" } }), "ok");
  }
  assert.equal(await client.next(), '{"percent":"88%"}');
  herald.signal("SIGTERM");
  assert.equal((await client.closeEvent()).code, 1001);
  assert.equal((await herald.exit()).code, 0, herald.log);
});
