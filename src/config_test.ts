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

function withFile(settings: unknown) {
  return { readTextFile: () => JSON.stringify(settings) };
}

Deno.test("loadConfig() ranks flag > HERALD_* > --config file > default", () => {
  const file = withFile({ "ws-port": 3000, "control-port": "3001", "log-level": "debug" });
  const env = { HERALD_CONTROL_PORT: "4001", HERALD_CONFIG: "/etc/herald/herald.json" };
  const loaded = loadConfig(["--log-level", "error"], env, file);
  assert.ok(loaded.kind === "run");
  assert.equal(loaded.config.wsPort, 3000);
  assert.equal(loaded.config.controlPort, 4001);
  assert.equal(loaded.config.logLevel, "error");
  assert.equal(loaded.config.authTimeoutSeconds, 10);
  assert.equal(loaded.config.configFile, "/etc/herald/herald.json");
});

Deno.test("loadConfig() reads secret lists from repeated flags, a comma list, or a JSON array", () => {
  const [a, b, c] = ["a".repeat(16), "b".repeat(16), "c".repeat(16)];
  const secrets = (args: string[], env: Record<string, string>, file: unknown = {}) => {
    const loaded = loadConfig(["--secret", c, ...args], env, withFile(file));
    return loaded.kind === "run" ? loaded.config.previousSecrets : assert.fail();
  };
  assert.deepEqual(secrets(["--previous-secret", a, "--previous-secret", b], {}), [a, b]);
  assert.deepEqual(secrets([], { HERALD_PREVIOUS_SECRET: `${a},${b}` }), [a, b]);
  assert.deepEqual(
    secrets(["--config", "x.json"], {}, { "previous-secret": [a, b], "allowed-origins": ["*"] }),
    [a, b],
  );
  assert.throws(
    () => loadConfig(["--previous-secret", a], {}),
    /--secret must be set when --previous-secret is set/,
  );
  assert.throws(
    () => loadConfig(["--secret", c, "--previous-secret", "short"], {}),
    /--previous-secret must be at least 16 characters/,
  );
});

Deno.test("loadConfig() refuses a config file's unknown keys by name, and bad values", () => {
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile({ "ws-prot": 1, port: 2, host: "::" })),
    /Cannot start: h\.json has unknown keys: "ws-prot", "port" \(known keys: host, ws-port,/,
  );
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile({ "ws-port": true })),
    /"ws-port" in h\.json must be a string or a number: current value is true/,
  );
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile({ "ws-port": 70000 })),
    /"ws-port" in h\.json must be an integer 0-65535: current value is 70000/,
  );
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile([1])),
    /--config h\.json must hold a JSON object/,
  );
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, { readTextFile: () => "{oops" }),
    /Cannot start: --config h\.json is not JSON: /,
  );
  assert.throws(
    () =>
      loadConfig(["--config", "h.json"], {}, { ...withFile({ config: "x" }), action: "reload" }),
    /Cannot reload: h\.json has unknown keys: "config"/,
  );
});

Deno.test("loadConfig() wants --tls-cert and --tls-key together", () => {
  assert.throws(() => loadConfig(["--tls-cert", "c.pem"], {}), /--tls-key must be set too/);
  assert.throws(
    () => loadConfig([], { HERALD_TLS_KEY: "k.pem" }),
    /--tls-cert must be set too when HERALD_TLS_KEY is set/,
  );
});

Deno.test("loadConfig() reads every limit against hostile peers, with its default", () => {
  const defaults = configOf([]);
  assert.equal(defaults.maxConnectionsPerIp, 1000);
  assert.equal(defaults.maxHandshakesPerIp, 50);
  assert.equal(defaults.maxMessagesPerSecond, 20);
  assert.equal(defaults.maxUnsentTotalBytes, 256 * 1024 * 1024);
  assert.equal(defaults.closeTimeoutSeconds, 5);
  assert.equal(defaults.maxControlConnections, 1024);
  assert.equal(defaults.controlLineTimeoutSeconds, 30);
  const set = configOf([
    "--max-connections-per-ip=7",
    "--max-handshakes-per-ip=8",
    "--max-messages-per-second=9",
    "--close-timeout=2",
    "--max-control-connections=3",
    "--control-line-timeout=4",
  ], { HERALD_MAX_UNSENT_TOTAL_BYTES: "4096" });
  assert.deepEqual(
    [
      set.maxConnectionsPerIp,
      set.maxHandshakesPerIp,
      set.maxMessagesPerSecond,
      set.closeTimeoutSeconds,
      set.maxControlConnections,
      set.controlLineTimeoutSeconds,
      set.maxUnsentTotalBytes,
    ],
    [7, 8, 9, 2, 3, 4, 4096],
  );
  for (const flag of ["--max-connections-per-ip=0", "--max-messages-per-second=x"]) {
    assert.throws(() => loadConfig([flag], {}), /Cannot start: --max-.* must be an integer/);
  }
});

Deno.test("loadConfig() trusts loopback proxies by default; none trusts no one", () => {
  assert.deepEqual(configOf([]).trustedProxies, ["127.0.0.1", "::1"]);
  assert.deepEqual(configOf(["--trusted-proxies", "none"]).trustedProxies, []);
  assert.deepEqual(configOf([], { HERALD_TRUSTED_PROXIES: "10.0.0.5, 10.0.0.6" }).trustedProxies, [
    "10.0.0.5",
    "10.0.0.6",
  ]);
});

Deno.test("loadConfig() takes comma-separated settings as arrays in the file, and only those", () => {
  const loaded = loadConfig(
    ["--config", "h.json"],
    {},
    withFile({ "trusted-proxies": ["10.0.0.5", "10.0.0.6"] }),
  );
  assert.ok(loaded.kind === "run");
  assert.deepEqual(loaded.config.trustedProxies, ["10.0.0.5", "10.0.0.6"]);
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile({ "ws-port": ["1", "2"] })),
    /"ws-port" in h.json must be a string or a number/,
  );
});
