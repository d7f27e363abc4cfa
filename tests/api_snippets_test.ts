/**
 * The README's HTTP API examples (curl, PHP, Python) are run as printed, against a real Herald,
 * and what they print and what the browser receives are checked.
 * @module
 */
import assert from "node:assert/strict";
import { runCommand } from "./support/run_command.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { tempDir } from "./support/temp_dir.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const KEY = "snippet-key-Zx7Pm3Vn8Rt5Yb1C";

/** The first fenced block of `language` in the README's HTTP API section. */
function snippet(language: string): string {
  const section = README.match(/^### HTTP API\n[\s\S]*?(?=^### )/m)?.[0];
  assert.ok(section !== undefined, "README has an HTTP API section");
  const block = section.match(new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "m"))?.[1];
  assert.ok(block !== undefined, `the HTTP API section shows a ${language} example`);
  return block;
}

/** Runs `program` on `source` written to a file; needs the Debian package `pkg`. */
async function runSnippet(
  program: string,
  pkg: string,
  file: string,
  source: string,
  env: Record<string, string>,
): Promise<string> {
  await using dir = await tempDir();
  const path = `${dir.path}/${file}`;
  await Deno.writeTextFile(path, source);
  const output = await runCommand(program, [path], { env, install: pkg });
  assert.equal(output.code, 0, output.stderr);
  return output.stdout;
}

async function withHerald(
  run: (env: Record<string, string>, browser: TestClient) => Promise<void>,
): Promise<void> {
  await using herald = await startTestHerald({ apiKeys: [KEY] });
  await using browser = await TestClient.identified(herald.wsUrl, "uid1");
  await run({ HERALD_URL: `http://127.0.0.1:${herald.wsAddr.port}`, HERALD_API_KEY: KEY }, browser);
}

test("api snippets: the README's curl example pushes and prints the reply", async () => {
  await withHerald(async (env, browser) => {
    const stdout = await runSnippet("sh", "dash", "push.sh", snippet("sh"), env);
    assert.equal(stdout.trim(), '{"result":{"delivered":1}}');
    assert.equal(await browser.next(), '{"percent":"88%"}');
  });
});

test("api snippets: the README's PHP example pushes, then runs a batch", async () => {
  await withHerald(async (env, browser) => {
    const stdout = await runSnippet("php", "php-cli", "push.php", snippet("php"), env);
    assert.deepEqual(stdout.trim().split("\n"), [
      '{"result":{"delivered":1}}',
      '[{"result":{"joined":true}},{"result":{"delivered":1}}]',
    ]);
    assert.equal(await browser.next(), '{"percent":"88%"}');
    assert.equal(await browser.next(), "hello room");
  });
});

test("api snippets: the README's Python example pushes and queries", async () => {
  await withHerald(async (env, browser) => {
    const stdout = await runSnippet("python3", "python3", "push.py", snippet("python"), env);
    assert.deepEqual(stdout.trim().split("\n"), [
      '{"result":{"delivered":1}}',
      '{"id":1,"result":{"uid":"uid1","online":true,"connections":1}}',
    ]);
    assert.equal(await browser.next(), '{"percent":"88%"}');
  });
});

test("api snippets: the PHP and Python examples read the JSON error of a refused request", async () => {
  await withHerald(async (env) => {
    const wrongKey = { ...env, HERALD_API_KEY: "wrong-key-0123456789" };
    const php = await runSnippet("php", "php-cli", "push.php", snippet("php"), wrongKey);
    assert.match(php, /^\{"error":\{"code":"unauthorized"/);
    const python = await runSnippet("python3", "python3", "push.py", snippet("python"), wrongKey);
    assert.match(python, /^\{"error":\{"code":"unauthorized"/);
  });
});
