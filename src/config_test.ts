import assert from "node:assert/strict";
import { helpText, loadConfig } from "./config.ts";

function configOf(args: string[], env: Record<string, string> = {}) {
  const loaded = loadConfig(args, env);
  assert.equal(loaded.kind, "run");
  return loaded.kind === "run" ? loaded.config : assert.fail();
}

Deno.test("loadConfig() defaults to the seed's ports, control on loopback, open mode", () => {
  const config = configOf([]);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.wsPort, 1234);
  assert.equal(config.controlHost, "127.0.0.1");
  assert.equal(config.controlPort, 5678);
  assert.equal(config.secret, undefined);
  assert.equal(config.authTimeoutSeconds, 10);
  assert.equal(config.maxLineBytes, 1024 * 1024);
  assert.deepEqual(config.allowedOrigins, []);
  assert.ok(Object.isFrozen(config));
});

Deno.test("loadConfig() prefers a flag to HERALD_* to the default", () => {
  assert.equal(configOf([], { HERALD_WS_PORT: "4000" }).wsPort, 4000);
  assert.equal(configOf(["--ws-port", "5000"], { HERALD_WS_PORT: "4000" }).wsPort, 5000);
  assert.equal(configOf([], { HERALD_SECRET: "s".repeat(32) }).secret, "s".repeat(32));
  assert.equal(configOf(["--log-format=json"]).logFormat, "json");
});

Deno.test("loadConfig() reads the origin allow-list", () => {
  assert.deepEqual(
    configOf(["--allowed-origins", "https://a.example, https://b.example"]).allowedOrigins,
    ["https://a.example", "https://b.example"],
  );
});

Deno.test("loadConfig() names the setting and the value it refuses", () => {
  assert.throws(
    () => loadConfig(["--control-port", "0x"], {}),
    new RangeError("Cannot start: --control-port must be an integer 0-65535: current value is 0x"),
  );
  assert.throws(
    () => loadConfig([], { HERALD_MAX_CONNECTIONS: "-1" }),
    /HERALD_MAX_CONNECTIONS must be an integer/,
  );
  assert.throws(() => loadConfig(["--log-level", "loud"], {}), /--log-level must be one of/);
  assert.throws(() => loadConfig(["--secret", "short"], {}), /--secret must be at least 16/);
  assert.throws(() => loadConfig(["--bogus"], {}), /Cannot start: Unknown option '--bogus'/);
});

Deno.test("loadConfig() recognises --help and --version, and help lists every env var", () => {
  assert.equal(loadConfig(["--help"], {}).kind, "help");
  assert.equal(loadConfig(["-V"], {}).kind, "version");
  for (const name of ["HERALD_WS_PORT", "HERALD_CONTROL_SECRET", "HERALD_MAX_UNSENT_FRAMES"]) {
    assert.ok(helpText().includes(name), name);
  }
});
