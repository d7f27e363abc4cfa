/**
 * `deno task bundle`, the one-file way to run Herald where no binary can be built: the printed
 * `deno run` line run as written from another folder (nothing next to the source is read), the
 * systemd drop-in that uses the same line, and install.sh given the file.
 * @module
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { DEFAULT_READ_PATHS } from "../scripts/build_entry.ts";
import { bundleRunLine } from "../scripts/bundle.ts";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DROP_IN = `${ROOT}scripts/herald-bundle.conf`;
const UNIT = `${ROOT}scripts/herald.service`;
const INSTALL = `${ROOT}scripts/install.sh`;
const INSTALLED_BUNDLE = "/usr/local/lib/herald/herald.js";
/** `deno` on PATH, as the run line and the drop-in expect it. */
const PATH = `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;

/** Runs `deno task bundle --output <dir>/herald.js`; returns the file and the printed run line. */
async function bundleInto(dir: string): Promise<{ file: string; runLine: string }> {
  const file = `${dir}/herald.js`;
  const built = await runCommand(Deno.execPath(), ["task", "bundle", "--output", file], {
    cwd: ROOT,
  });
  assert.equal(built.code, 0, built.stdout + built.stderr);
  assert.match(built.stdout, /^Built herald \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}.*, bundle\)$/m);
  const runLine = built.stdout.match(/^Run it with:\n {2}(.*)$/m)?.[1];
  assert.ok(runLine !== undefined, built.stdout);
  return { file, runLine };
}

/** Starts Herald through `/bin/sh -c script`, the way systemd runs ExecStart. */
function startShell(script: string, cwd: string): Promise<ServerProcess> {
  return ServerProcess.start({
    command: ["/bin/sh", "-c", `${script} "$@"`, "sh"],
    env: { PATH },
    cwd,
  });
}

async function pushAndStop(herald: ServerProcess): Promise<void> {
  // The SDK is inside the one file: nothing beside it is read.
  const sdk = await fetch(`http://127.0.0.1:${herald.wsPort}/herald.js`);
  assert.equal(sdk.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(await sdk.text(), /class HeraldClient|HeraldClient = class/);
  await using client = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "u1");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ uid: "u1", data: { percent: "88%" } }), "ok");
  }
  assert.equal(await client.next(), '{"percent":"88%"}');
  herald.signal("SIGTERM");
  assert.equal((await client.closeEvent()).code, 1001);
  assert.equal((await herald.exit()).code, 0, herald.log);
}

test("deno task bundle's printed run line runs the file as written, from another folder", async () => {
  await using build = await tempDir();
  await using elsewhere = await tempDir();
  const { file, runLine } = await bundleInto(build.path);
  assert.equal(runLine, bundleRunLine(file, DEFAULT_READ_PATHS));

  const version = await runCommand("/bin/sh", ["-c", `exec ${runLine} --version`], {
    cwd: elsewhere.path,
    env: { PATH },
  });
  assert.match(version.stdout, /^herald \d+\.\d+\.\d+ \(commit [0-9a-f]{7,}.*, bundle\)\n$/);
  await using herald = await startShell(`exec ${runLine}`, elsewhere.path);
  await pushAndStop(herald);
});

test("the bundle's systemd drop-in runs the same line under sh, and verifies with the unit", async () => {
  await using build = await tempDir();
  const { file } = await bundleInto(build.path);
  const dropIn = await Deno.readTextFile(DROP_IN);
  const execStart = dropIn.match(/^ExecStart=\/bin\/sh -c '(.*)'$/m)?.[1];
  assert.ok(execStart !== undefined, "ExecStart is a /bin/sh -c '…' line");
  const exec = execStart.match(/ exec (.*)$/)?.[1];
  assert.equal(
    exec?.replaceAll('"', "'"),
    bundleRunLine(INSTALLED_BUNDLE, DEFAULT_READ_PATHS),
    "the drop-in runs what deno task bundle prints",
  );
  const deployment = await Deno.readTextFile(`${ROOT}docs/deployment.md`);
  assert.ok(
    deployment.includes(bundleRunLine(INSTALLED_BUNDLE, DEFAULT_READ_PATHS)),
    "docs/deployment.md shows the same line",
  );
  await using herald = await startShell(
    `ulimit -Sn 4096 && ${execStart.replace(INSTALLED_BUNDLE, file)}`,
    build.path,
  );
  assert.match(herald.log, /Open-file limit \(RLIMIT_NOFILE soft\): 4096/);
  await pushAndStop(herald);

  const analyze = "/usr/bin/systemd-analyze";
  if (!(await Deno.stat(analyze).then((s) => s.isFile, () => false))) return;
  await Deno.mkdir(`${build.path}/herald.service.d`);
  await Deno.copyFile(UNIT, `${build.path}/herald.service`);
  await Deno.copyFile(DROP_IN, `${build.path}/herald.service.d/bundle.conf`);
  const verify = await runCommand(analyze, ["verify", `${build.path}/herald.service`]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), "", "no warnings either");
});

test("install.sh installs the bundle with its drop-in, and drops it again for a binary", async () => {
  await using build = await tempDir();
  await using root = await tempDir();
  const { file } = await bundleInto(build.path);
  const install = (artefact: string) =>
    runCommand("/bin/sh", [INSTALL, artefact], { env: { DESTDIR: root.path, PATH } });
  const dropIn = `${root.path}/etc/systemd/system/herald.service.d/bundle.conf`;

  const bundled = await install(file);
  assert.equal(bundled.code, 0, bundled.stderr);
  assert.match(bundled.stdout, /Installed herald \d+\.\d+\.\d+ \(.*, bundle\)/);
  assert.equal(
    await Deno.readTextFile(`${root.path}${INSTALLED_BUNDLE}`),
    await Deno.readTextFile(file),
  );
  assert.equal(await Deno.readTextFile(dropIn), await Deno.readTextFile(DROP_IN));

  const binary = `${build.path}/herald`;
  await Deno.writeTextFile(binary, `#!/bin/sh\necho "herald 9"\n`, { mode: 0o755 });
  const compiled = await install(binary);
  assert.equal(compiled.code, 0, compiled.stderr);
  await assert.rejects(Deno.stat(dropIn), Deno.errors.NotFound);

  await Deno.writeTextFile(`${build.path}/other.js`, 'console.log("deno 2.9.6");\n');
  const other = await install(`${build.path}/other.js`);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /other\.js is not Herald: its --version printed "deno 2\.9\.6"/);
});
