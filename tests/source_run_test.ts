/**
 * Running from source the way the README says: `deno task start` with flags appended, with a
 * `--config` file (flag or HERALD_CONFIG) outside the repository, and the start-up log's tone.
 * @module
 */
import assert from "node:assert/strict";
import { CLOSE } from "../src/errors.ts";
import { dirname } from "node:path";
import { runCommand } from "./support/run_command.ts";
import { MAIN, RUN_PERMISSIONS, ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const DEPLOYMENT = await Deno.readTextFile(new URL("../docs/deployment.md", import.meta.url));
const SECRET = "source-run-Zx7Pm3Vn8Rt5Yb1CHk2w9Lq4Wd6";

/**
 * `deno task <task>` from the repository; disposing sends SIGTERM first, which deno task passes
 * on, so no Herald outlives a failed test.
 */
async function startTask(
  task: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const herald = await ServerProcess.start({
    command: [Deno.execPath(), "task", task],
    args,
    env,
    cwd: ROOT,
  });
  const dispose = herald[Symbol.asyncDispose].bind(herald);
  herald[Symbol.asyncDispose] = async () => {
    try {
      herald.signal("SIGTERM");
    } catch {
      // Already exited.
    }
    await herald.exit();
    await dispose();
  };
  return herald;
}

async function assertTokenMode(herald: ServerProcess): Promise<void> {
  await using client = new TestClient(`ws://127.0.0.1:${herald.wsPort}/`);
  await client.open();
  client.socket.send("a-plain-uid");
  assert.equal((await client.closeEvent()).code, CLOSE.invalidToken.code, "the file's secret");
}

test("deno task start reads a --config file, or HERALD_CONFIG's, from anywhere", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/herald.json`;
  await Deno.writeTextFile(file, JSON.stringify({ secret: SECRET }));
  for (const [args, env] of [[["--config", file], {}], [[], { HERALD_CONFIG: file }]] as const) {
    await using herald = await startTask("start", args, env);
    await assertTokenMode(herald);
    herald.signal("SIGTERM");
    assert.equal((await herald.exit()).code, 0, herald.log);
  }
});

test("without read permission, the error says what to do when running from source", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/herald.json`;
  await Deno.writeTextFile(file, "{}");
  const run = await runCommand(Deno.execPath(), [
    "run",
    ...RUN_PERMISSIONS,
    MAIN,
    "--config",
    file,
  ]);
  assert.equal(run.code, 2);
  assert.match(
    run.stderr,
    new RegExp(
      `--config ${file} cannot be read: no read permission: running from source, ` +
        `add --allow-read=${file} to the deno run line \\(deno task start and dev allow reading\\)`,
    ),
  );
  assert.doesNotMatch(run.stderr, /compiled/);
});

test("the README's `deno task start` with flags appended runs as written", async () => {
  const line = README.match(/ task start (--[^#\n]*?)\s+#/)?.[1];
  assert.ok(line !== undefined, "the README shows deno task start with flags");
  // The documented ports may be taken on a shared machine: port 0 stands in for each.
  const args = line.split(/\s+/).map((word) => /^\d{4,5}$/.test(word) ? "0" : word);
  await using herald = await startTask("start", args);
  await using _client = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "u");
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);
});

test("a start from source logs the unknown open-file limit in one calm line", async () => {
  await using herald = await ServerProcess.start();
  const lines = herald.lines.filter((l) => l.includes("Open-file limit"));
  assert.equal(lines.length, 1, herald.log);
  assert.match(lines[0]!, /\bINF\b|"level":"INFO"/);
  assert.ok(lines[0]!.length < 140, lines[0]);
  assert.doesNotMatch(lines[0]!, /--allow-all|cannot/i);
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);
});

test("docs/deployment.md's supervisor command runs Herald itself: SIGTERM to its PID drains it", async () => {
  const line = DEPLOYMENT.match(/^exec deno run .* main\.ts$/m)?.[0];
  assert.ok(line !== undefined, "docs/deployment.md shows the exec deno run line");
  const cmd = DEPLOYMENT.match(/^CMD (\[.*\])$/m)?.[1];
  assert.ok(cmd !== undefined, "docs/deployment.md shows a Dockerfile CMD");
  assert.deepEqual(JSON.parse(cmd), line.replace(/^exec /, "").replaceAll("'", "").split(" "));

  await using herald = await ServerProcess.start({
    command: ["/bin/sh", "-c", `${line} "$@"`, "sh"],
    env: { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` },
    cwd: ROOT,
  });
  const pid = Number((await herald.waitForLog(/starting \(commit \S+, pid (\d+)\)/))[1]);
  assert.equal(pid, herald.child.pid, "the supervisor's child is Herald, not a wrapper");
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);
  assert.match(herald.log, /SIGTERM: shutting down/);

  for (const unit of ["herald.service", "herald-bundle.conf"]) {
    const text = await Deno.readTextFile(`${ROOT}scripts/${unit}`);
    assert.match(text, /^ExecStart=\/bin\/sh -c '[^']* exec [^']*'$/m, unit);
    assert.doesNotMatch(text, /^ExecStart=.*(npx|deno task)/m, unit);
  }
});
