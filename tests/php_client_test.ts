import assert from "node:assert/strict";
import { runCommand } from "./support/run_command.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";

const PUSH_PHP = new URL("../examples/php/push.php", import.meta.url).pathname;

/** Runs push.php; resolves with its exit code and output. */
async function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await runCommand("php", [PUSH_PHP, ...args], { env, install: "php-cli" });
  return { code: output.code, stdout: output.stdout.trim(), stderr: output.stderr.trim() };
}

/** Runs push.php and returns its reply, asserting the exit code that goes with it. */
async function php(args: string[], env: Record<string, string>, code = 0): Promise<string> {
  const output = await run(args, env);
  assert.equal(output.code, code, output.stderr);
  return output.stdout;
}

test("php: the example backend pushes text and JSON, and answers fail when nobody is online", async () => {
  await using herald = await startTestHerald();
  await using browser = await TestClient.identified(herald.wsUrl, "uid1");
  const env = { HERALD_CONTROL: `127.0.0.1:${herald.controlAddr.port}` };
  assert.equal(await php(["uid1", "88%"], env), "ok");
  assert.equal(await browser.next(), "88%");
  assert.equal(await php(["uid1", '{"percent":"88%"}'], env), "ok");
  assert.equal(await browser.next(), '{"percent":"88%"}');
  assert.equal(await php(["uid2", "x"], env, 1), "fail", "fail exits 1");
  assert.deepEqual(JSON.parse(await php(["--online", "uid1"], env)), {
    result: { uid: "uid1", online: true, connections: 1 },
  });
});

test("php: the example backend authenticates with the control secret", async () => {
  const controlSecret = "php-control-secret-0123";
  await using herald = await startTestHerald({ controlSecret });
  await using browser = await TestClient.identified(herald.wsUrl, "uid1");
  const env = {
    HERALD_CONTROL: `127.0.0.1:${herald.controlAddr.port}`,
    HERALD_CONTROL_SECRET: controlSecret,
  };
  assert.equal(await php(["uid1", "secret hello"], env), "ok");
  assert.equal(await browser.next(), "secret hello");
});

test("php: the example exits 3 on an error reply or a refused control secret, saying why", async () => {
  await using herald = await startTestHerald({ controlSecret: "php-control-secret-0123" });
  const address = `127.0.0.1:${herald.controlAddr.port}`;
  const env = { HERALD_CONTROL: address, HERALD_CONTROL_SECRET: "php-control-secret-0123" };
  const noPayload = await run(["uid1", "{}"], env);
  assert.equal(noPayload.code, 3);
  assert.match(noPayload.stdout, /^error: bad_field: /);
  const refused = await run(["uid1", "x"], { ...env, HERALD_CONTROL_SECRET: "not-the-secret-000" });
  assert.equal(refused.code, 3);
  assert.equal(
    refused.stderr,
    "Herald refused the control secret: error: unauthorized: Cannot accept requests: " +
      "wrong control secret",
  );
});

test("php: the example checks its arguments first, and reports Herald being down in one line", async () => {
  // Nothing listens on port 1: a usage mistake must not turn into a connection error.
  const env = { HERALD_CONTROL: "127.0.0.1:1" };
  for (const args of [[], ["only-a-uid"], ["--online"], ["a", "b", "c"]]) {
    const usage = await run(args, env);
    assert.equal(usage.code, 2, JSON.stringify(args));
    assert.match(usage.stderr, /^usage: php push\.php /);
  }
  const down = await run(["uid1", "x"], env);
  assert.equal(down.code, 3);
  assert.match(down.stderr, /^Cannot connect to Herald at 127\.0\.0\.1:1: .+$/);
  assert.doesNotMatch(down.stderr, /Fatal|Stack trace/);
});
