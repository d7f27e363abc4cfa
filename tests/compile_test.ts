/**
 * The compiled binary end to end: `scripts/compile.ts`, then `herald --version`, start, push,
 * stop. Skipped, saying why, when no Deno runtime (denort) for compiling is at hand.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { TestClient } from "./support/test_client.ts";

const COMPILE = new URL("../scripts/compile.ts", import.meta.url).pathname;

/** Where `deno compile` would get its runtime from, or why it cannot. */
function findRuntime(): { found: true; where: string } | { found: false; why: string } {
  const denortBin = Deno.env.get("DENORT_BIN");
  if (denortBin !== undefined) {
    return exists(denortBin)
      ? { found: true, where: `DENORT_BIN=${denortBin}` }
      : { found: false, why: `DENORT_BIN=${denortBin} does not exist` };
  }
  const denoDir = Deno.env.get("DENO_DIR") ?? join(Deno.env.get("HOME") ?? "/root", ".cache/deno");
  const cached = join(
    denoDir,
    "dl/release",
    `v${Deno.version.deno}`,
    `denort-${Deno.build.target}.zip`,
  );
  if (exists(cached)) return { found: true, where: cached };
  return {
    found: false,
    why: `no Deno runtime for compiling: DENORT_BIN is unset and ${cached} is not cached ` +
      "(dl.deno.land is unreachable here); set DENORT_BIN to a denort binary to run it",
  };
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const runtime = findRuntime();

Deno.test({
  name: "deno task compile fails, keeping no binary, when DENORT_BIN is deno rather than denort",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using dir = await tempDir();
    const binary = `${dir.path}/herald`;
    const built = await runCommand(Deno.execPath(), ["run", "-A", COMPILE, "--output", binary], {
      env: { DENORT_BIN: Deno.execPath() },
    });
    assert.equal(built.code, 1, built.stdout + built.stderr);
    assert.match(
      built.stderr,
      /Cannot build: .*herald is not Herald: its --version printed "deno \d+\.\d+\.\d+.*"\. DENORT_BIN must name a denort binary/,
    );
    await assert.rejects(Deno.stat(binary), Deno.errors.NotFound);
  },
});

Deno.test({
  name: runtime.found
    ? `compiled binary (${runtime.where}): --version, start, push, stop`
    : `compiled binary: SKIPPED, ${runtime.why}`,
  ignore: !runtime.found,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using dir = await tempDir();
    const binary = `${dir.path}/herald`;
    const built = await runCommand(Deno.execPath(), ["run", "-A", COMPILE, "--output", binary]);
    assert.equal(built.code, 0, built.stdout + built.stderr);

    const version = await runCommand(binary, ["--version"], { cwd: dir.path });
    assert.match(version.stdout, /^herald \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}.*compiled binary\)/);

    // Baked-in permissions: a file outside the read allow-list is refused by name.
    const outside = await runCommand(binary, ["--config", `${dir.path}/herald.json`]);
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /--config .* cannot be read: no read permission/);

    await using herald = await ServerProcess.start({ command: [binary], cwd: dir.path });
    await using client = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "u1");
    {
      using control = await ControlClient.connect(herald.controlAddr);
      assert.equal(await control.request({ uid: "u1", data: "from the binary" }), "ok");
    }
    assert.equal(await client.next(), "from the binary");
    // The SDK is embedded: the binary serves it with no file beside it.
    const sdk = await fetch(`http://127.0.0.1:${herald.wsPort}/herald.js`);
    assert.equal(sdk.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(await sdk.text(), /class HeraldClient|HeraldClient = class/);
    herald.signal("SIGTERM");
    assert.equal((await client.closeEvent()).code, 1001);
    assert.equal((await herald.exit()).code, 0, herald.log);
  },
});
