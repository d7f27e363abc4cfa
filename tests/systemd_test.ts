/**
 * The systemd unit and the installer: `systemd-analyze verify` and its security score when the
 * tool exists, the unit's ExecStart line run for real, and install.sh run twice into a DESTDIR.
 * @module
 */
import assert from "node:assert/strict";
import { runCommand } from "./support/run_command.ts";
import { MAIN, RUN_PERMISSIONS, ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { test } from "./support/test_herald.ts";

const UNIT = new URL("../scripts/herald.service", import.meta.url).pathname;
const INSTALL = new URL("../scripts/install.sh", import.meta.url).pathname;
const ANALYZE = "/usr/bin/systemd-analyze";
const hasAnalyze = (() => {
  try {
    return Deno.statSync(ANALYZE).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: hasAnalyze
    ? "systemd-analyze verify accepts scripts/herald.service and rates its exposure low"
    : `systemd-analyze verify: SKIPPED, ${ANALYZE} is not installed`,
  ignore: !hasAnalyze,
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const verify = await runCommand(ANALYZE, ["verify", UNIT]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), "", "no warnings either");
    const security = await runCommand(ANALYZE, ["security", "--offline=yes", UNIT]);
    const exposure = security.stdout.match(/Overall exposure level for herald\.service: ([\d.]+)/);
    assert.ok(exposure !== null, security.stdout + security.stderr);
    assert.ok(Number(exposure[1]) <= 2.5, `exposure ${exposure[1]}`);
  },
});

test("the unit's ExecStart passes the open-file limit, and Herald warns when it is too low", async () => {
  const unit = await Deno.readTextFile(UNIT);
  const execStart = unit.match(/^ExecStart=\/bin\/sh -c '(.*)'$/m)?.[1];
  assert.ok(execStart !== undefined, "ExecStart is a /bin/sh -c '…' line");
  const deno = [Deno.execPath(), "run", ...RUN_PERMISSIONS, MAIN].join(" ");
  const script = `ulimit -Sn 4096 && ${execStart.replace("/usr/local/bin/herald", deno)} "$@"`;
  await using herald = await ServerProcess.start({
    command: ["/bin/sh", "-c", script, "sh"],
    args: ["--max-connections", "5000"],
  });
  assert.match(
    herald.log,
    /Open-file limit \(RLIMIT_NOFILE soft\): 4096 \(from HERALD_NOFILE_SOFT\)/,
  );
  assert.match(herald.log, /Open-file limit 4096 is below --max-connections 5000/);
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);
});

test("install.sh installs binary, unit and example settings, and keeps edits when run again", async () => {
  await using root = await tempDir();
  await using build = await tempDir();
  const binary = `${build.path}/herald`;
  const fake = (version: string) =>
    Deno.writeTextFile(binary, `#!/bin/sh\necho "herald ${version}"\n`, { mode: 0o755 });
  const install = () => runCommand("/bin/sh", [INSTALL, binary], { env: { DESTDIR: root.path } });

  await fake("1");
  const first = await install();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Installed herald 1/);
  const etc = `${root.path}/etc/herald`;
  assert.equal((await Deno.stat(`${etc}/herald.env`)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${etc}/herald.json`)).mode! & 0o777, 0o640);
  assert.equal((await Deno.stat(etc)).mode! & 0o777, 0o750);
  assert.equal(
    await Deno.readTextFile(`${root.path}/etc/systemd/system/herald.service`),
    await Deno.readTextFile(UNIT),
  );

  await Deno.writeTextFile(`${etc}/herald.env`, "HERALD_WS_PORT=9999\n");
  await fake("2");
  const second = await install();
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /Installed herald 2/);
  assert.doesNotMatch(second.stdout, /Wrote/);
  assert.equal(await Deno.readTextFile(`${etc}/herald.env`), "HERALD_WS_PORT=9999\n");

  const missing = await runCommand("/bin/sh", [INSTALL, `${build.path}/nope`], {
    env: { DESTDIR: root.path },
  });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot install: .*nope is not an executable/);
});

test("install.sh refuses an executable that is not Herald, such as the deno command line", async () => {
  await using root = await tempDir();
  const deno = await runCommand("/bin/sh", [INSTALL, Deno.execPath()], {
    env: { DESTDIR: root.path },
  });
  assert.equal(deno.code, 1, deno.stdout);
  assert.match(
    deno.stderr,
    /^Cannot install: .* is not Herald: its --version printed "deno \d+\.\d+\.\d+.*"; build it with 'deno task compile'/,
  );
  await assert.rejects(Deno.stat(`${root.path}/usr/local/bin/herald`), Deno.errors.NotFound);
});
