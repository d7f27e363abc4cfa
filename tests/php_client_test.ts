import assert from "node:assert/strict";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";

const PUSH_PHP = new URL("../examples/php/push.php", import.meta.url).pathname;

async function php(args: string[], env: Record<string, string>): Promise<string> {
  let output;
  try {
    output = await new Deno.Command("php", { args: [PUSH_PHP, ...args], env }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("php is not installed: run `apt-get install -y php-cli` (.ci/run does)");
    }
    throw error;
  }
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  return new TextDecoder().decode(output.stdout).trim();
}

test("php: the example backend pushes text and JSON, and answers fail when nobody is online", async () => {
  await using herald = await startTestHerald();
  await using browser = await TestClient.identified(herald.wsUrl, "uid1");
  const env = { HERALD_CONTROL: `127.0.0.1:${herald.controlAddr.port}` };
  assert.equal(await php(["uid1", "88%"], env), "ok");
  assert.equal(await browser.next(), "88%");
  assert.equal(await php(["uid1", '{"percent":"88%"}'], env), "ok");
  assert.equal(await browser.next(), '{"percent":"88%"}');
  assert.equal(await php(["uid2", "x"], env), "fail");
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
