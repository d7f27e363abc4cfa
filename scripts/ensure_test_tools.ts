/**
 * Makes sure the programs the test suite drives are installed: real peers, not mocks. On a
 * Debian machine where we are root (CI, a fresh VPS) it installs what is missing with apt-get;
 * elsewhere it names the packages to install and fails.
 * @module
 */

/** Program → Debian package that provides it, for `deno task test`. */
const TEST_TOOLS: Record<string, string> = {
  php: "php-cli",
  // Run the token-minting examples (tests/token_snippets_test.ts).
  node: "nodejs",
  python3: "python3",
  openssl: "openssl",
  // Runs the README's curl example of the HTTP API (tests/api_snippets_test.ts).
  curl: "curl",
  // Runs the dashboard, the demo and the SDK in a real browser (tests/browser_test.ts,
  // tests/browser/sdk_in_chromium.ts), driven by npm:playwright-core.
  chromium: "chromium",
  // The cluster tests start their own Redis (tests/support/redis_server.ts).
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
};

/** With `--bench`, for `deno task bench:test`: gcc builds the native broadcast receiver. */
const BENCH_TOOLS: Record<string, string> = {
  gcc: "gcc",
  // bench:cluster starts its own Redis.
  "redis-server": "redis-server",
  "redis-cli": "redis-tools",
};

const TOOLS = Deno.args.includes("--bench") ? BENCH_TOOLS : TEST_TOOLS;

async function has(program: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${program}`],
      stdout: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const { success } = await new Deno.Command(command, {
    args,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  if (!success) throw new Error(`${command} ${args.join(" ")} failed`);
}

const missing: string[] = [];
for (const [program, pkg] of Object.entries(TOOLS)) if (!(await has(program))) missing.push(pkg);

if (missing.length > 0) {
  const isRoot = Deno.uid() === 0;
  if (!isRoot || !(await has("apt-get"))) {
    console.error(
      `The tests need: ${missing.join(" ")}. Install them: apt-get install -y ${missing.join(" ")}`,
    );
    Deno.exit(1);
  }
  console.error(`Installing test tools: ${missing.join(" ")}`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
}
