/**
 * The token-minting examples (PHP, Node.js, Python; no JWT library in any) against a real
 * Herald in token mode: their tokens identify, join groups, and expire.
 * @module
 */
import assert from "node:assert/strict";
import { CLOSE } from "../src/errors.ts";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";

const SECRET = "token-snippets-Zx7Pm3Vn8Rt5Yb1CHk2w9Lq4";
const EXAMPLES = new URL("../examples/tokens/", import.meta.url).pathname;
const SNIPPETS = [
  ["php", "herald_token.php", "php-cli"],
  ["node", "herald_token.mjs", "nodejs"],
  ["python3", "herald_token.py", "python3"],
] as const;

async function mint(program: string, file: string, pkg: string, args: string[]): Promise<string> {
  const output = await runCommand(program, [`${EXAMPLES}${file}`, ...args], {
    env: { HERALD_SECRET: SECRET },
    install: pkg,
  });
  assert.equal(output.code, 0, output.stderr);
  return output.stdout.trim();
}

for (const [program, file, pkg] of SNIPPETS) {
  test(`tokens: ${file} mints a token Herald accepts, with groups, and one that expires`, async () => {
    await using herald = await startTestHerald({ secret: SECRET });
    const token = await mint(program, file, pkg, ["user-7", "600", "news,vip"]);
    await using browser = new TestClient(herald.wsUrl);
    await browser.open();
    browser.socket.send(JSON.stringify({ token }));
    assert.equal(await browser.next(), JSON.stringify({ event: "identified", uid: "user-7" }));
    {
      using control = await ControlClient.connect(herald.controlAddr);
      assert.equal(await control.request({ cmd: "publish", group: "vip", data: "hi" }), "ok");
    }
    assert.equal(await browser.next(), "hi");

    const expired = await mint(program, file, pkg, ["user-8", "-5"]);
    await using late = new TestClient(`${herald.wsUrl}?token=${expired}`);
    assert.equal((await late.closeEvent()).code, CLOSE.tokenExpired.code);

    const usage = await runCommand(program, [`${EXAMPLES}${file}`]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^usage: HERALD_SECRET=/);
  });
}

test("tokens: the README's PHP snippet mints a token Herald accepts", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const snippet = readme.match(/```php\n(function base64url[\s\S]*?)```/)?.[1];
  assert.ok(snippet !== undefined, "the README shows herald_token() in PHP");
  const code = `${snippet}\necho herald_token(getenv('HERALD_SECRET'), 'readme-user', 60, ['g']);`;
  await using herald = await startTestHerald({ secret: SECRET });
  const minted = await runCommand("php", ["-r", code], { env: { HERALD_SECRET: SECRET } });
  assert.equal(minted.code, 0, minted.stderr);
  await using browser = new TestClient(herald.wsUrl);
  await browser.open();
  browser.socket.send(JSON.stringify({ token: minted.stdout.trim() }));
  assert.equal(await browser.next(), JSON.stringify({ event: "identified", uid: "readme-user" }));
  using control = await ControlClient.connect(herald.controlAddr);
  assert.equal(await control.request({ cmd: "publish", group: "g", data: "hi" }), "ok");
  assert.equal(await browser.next(), "hi");
});
