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
  assert.throws(() => loadConfig(["--secret", "short"], {}), /--secret must be at least 32 bytes/);
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
  const [a, b, c] = ["a".repeat(32), "b".repeat(32), "c".repeat(32)];
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
    /--previous-secret must be at least 32 bytes/,
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

/** Reads from an in-memory map of path → text, failing like the file system for other paths. */
function withFiles(files: Record<string, string>) {
  return {
    readTextFile: (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Deno.errors.NotFound(`No such file: ${path}`);
      return text;
    },
  };
}

/** A secret that passes every check, as `openssl rand -base64 48` would give. */
const GOOD = "vQ3+Zr8kXw1mN0pL7sYt2bHc9dFg4jKa6eUo5iRq/TzW";
const GOOD_CONTROL = "Hk2w9Lq4Zx7Pm3Vn8Rt5Yb1C";

Deno.test("loadConfig() refuses a token secret under 32 bytes, counting bytes (RFC 7518)", () => {
  assert.throws(
    () => loadConfig(["--secret", GOOD.slice(0, 31)], {}),
    new RangeError(
      "Cannot start: --secret must be at least 32 bytes (RFC 7518: an HS256 key has 256 bits " +
        "or more): current length is 31 bytes",
    ),
  );
  assert.equal(configOf(["--secret", GOOD.slice(0, 32)]).secret, GOOD.slice(0, 32));
  // 16 characters of two bytes each are 32 bytes.
  assert.equal(configOf(["--secret", "éàüöçñßøåæœłžšđč"]).secret?.length, 16);
  assert.throws(
    () => loadConfig(["--secret", GOOD, "--previous-secret", GOOD.slice(0, 20)], {}),
    /--previous-secret must be at least 32 bytes/,
  );
  assert.throws(() => loadConfig(["--control-secret", "x".repeat(15)], {}), /at least 16 char/);
});

const EXAMPLE = new URL("../scripts/herald.json.example", import.meta.url).pathname;

Deno.test("loadConfig() refuses scripts/herald.json.example's placeholders, at start and on reload", () => {
  assert.throws(
    () => loadConfig(["--config", EXAMPLE], {}),
    /^RangeError: Cannot start: "secret" in .*herald\.json\.example is the placeholder/,
  );
  assert.throws(
    () => loadConfig(["--config", EXAMPLE], { HERALD_SECRET: GOOD }, { action: "reload" }),
    /^RangeError: Cannot reload: "control-secret" in .*herald\.json\.example is the placeholder/,
  );
  const example = JSON.parse(Deno.readTextFileSync(EXAMPLE)) as Record<string, unknown>;
  for (const [key, value] of Object.entries(example)) {
    if (!key.includes("secret")) continue;
    const flag = `--${key}`;
    const args = flag === "--previous-secret" ? ["--secret", GOOD, flag, String(value)] : [
      flag,
      String(value),
    ];
    assert.throws(() => loadConfig(args, {}), /is the placeholder/, key);
  }
});

Deno.test("loadConfig() warns about a weak-looking secret without refusing it or quoting it", () => {
  for (const weak of ["password".repeat(4), "ab".repeat(20), "0".repeat(40), `${GOOD}secret`]) {
    const loaded = loadConfig([], { HERALD_SECRET: weak, HERALD_CONTROL_SECRET: weak });
    assert.ok(loaded.kind === "run");
    assert.equal(loaded.config.secret, weak);
    assert.equal(loaded.warnings.length, 2, weak);
    assert.match(loaded.warnings[0]!, /^HERALD_SECRET looks weak: it /);
    assert.match(loaded.warnings[1]!, /^HERALD_CONTROL_SECRET looks weak: it /);
    for (const warning of loaded.warnings) assert.ok(!warning.includes(weak));
  }
  const strong = loadConfig([], { HERALD_SECRET: GOOD, HERALD_CONTROL_SECRET: GOOD_CONTROL });
  assert.ok(strong.kind === "run");
  assert.deepEqual(strong.warnings, []);
});

Deno.test("loadConfig() refuses an empty HERALD_SECRET as it refuses an empty secret in the file", () => {
  assert.throws(
    () => loadConfig([], { HERALD_SECRET: "" }),
    new RangeError(
      "Cannot start: HERALD_SECRET is set but empty: unset it to run without it, or give the secret",
    ),
  );
  for (const name of ["HERALD_CONTROL_SECRET", "HERALD_PREVIOUS_SECRET", "HERALD_SECRET_FILE"]) {
    assert.throws(() => loadConfig([], { [name]: "" }), new RegExp(`${name} is set but empty`));
  }
  assert.throws(
    () => loadConfig(["--config", "h.json"], {}, withFile({ secret: "" })),
    /Cannot start: "secret" in h\.json is empty/,
  );
  assert.throws(() => loadConfig(["--secret="], {}), /Cannot start: --secret is empty/);
  // Other settings keep treating an empty variable as unset.
  assert.equal(configOf([], { HERALD_WS_PORT: "" }).wsPort, 1234);
});

Deno.test("loadConfig() reads --secret-file and --control-secret-file, dropping one final newline", () => {
  const files = withFiles({
    "/etc/herald/secret": `${GOOD}\n`,
    "/etc/herald/control": `${GOOD_CONTROL}\r\n`,
    "h.json": JSON.stringify({ "control-secret-file": "/etc/herald/control" }),
  });
  const loaded = loadConfig(
    ["--config", "h.json"],
    { HERALD_SECRET_FILE: "/etc/herald/secret" },
    files,
  );
  assert.ok(loaded.kind === "run");
  assert.equal(loaded.config.secret, GOOD);
  assert.equal(loaded.config.controlSecret, GOOD_CONTROL);
  assert.equal(loaded.config.secretFile, "/etc/herald/secret");
  assert.deepEqual(loaded.warnings, []);
  assert.throws(
    () => loadConfig(["--secret-file", "/nope"], {}, files),
    /^RangeError: Cannot start: --secret-file \/nope cannot be read: No such file/,
  );
  assert.throws(
    () => loadConfig(["--secret-file", "/etc/herald/control"], {}, files),
    /Cannot start: the secret in --secret-file \/etc\/herald\/control must be at least 32 bytes/,
  );
  assert.throws(
    () => loadConfig(["--secret-file", "/etc/herald/secret"], { HERALD_SECRET: GOOD }, files),
    /Cannot start: set --secret or --secret-file, not both: HERALD_SECRET and --secret-file/,
  );
});

Deno.test("loadConfig() warns when a secret comes as a flag, which every local user can see", () => {
  const loaded = loadConfig(
    ["--secret", GOOD, "--previous-secret", GOOD.toLowerCase(), "--control-secret", GOOD_CONTROL],
    {},
  );
  assert.ok(loaded.kind === "run");
  assert.deepEqual(loaded.warnings.map((w) => w.split(" ")[0]), [
    "--secret",
    "--previous-secret",
    "--control-secret",
  ]);
  assert.match(
    loaded.warnings[0]!,
    /^--secret on the command line is visible to every local user \(ps\): .*HERALD_SECRET, .*--secret-file/,
  );
  const fromEnv = loadConfig([], { HERALD_SECRET: GOOD });
  assert.ok(fromEnv.kind === "run");
  assert.deepEqual(fromEnv.warnings, []);
});

const API_KEY = "k7Qw9ZrT2mXv4LpB";
const NEXT_API_KEY = "N3xtK3y-8fGh2JkQ";

Deno.test("loadConfig() takes API keys as repeated flags or HERALD_API_KEYS, none by default", () => {
  assert.deepEqual(configOf([]).apiKeys, []);
  assert.deepEqual(
    configOf(["--api-key", API_KEY, "--api-key", NEXT_API_KEY]).apiKeys,
    [API_KEY, NEXT_API_KEY],
  );
  assert.deepEqual(
    configOf([], { HERALD_API_KEYS: `${API_KEY}, ${NEXT_API_KEY}` }).apiKeys,
    [API_KEY, NEXT_API_KEY],
  );
  assert.equal(configOf([]).maxApiBodyBytes, 1024 * 1024);
  assert.equal(configOf(["--max-api-body-bytes", "4096"]).maxApiBodyBytes, 4096);
  assert.throws(
    () => loadConfig(["--max-api-body-bytes", "10"], {}),
    new RangeError(
      "Cannot start: --max-api-body-bytes must be an integer 64-1073741824: current value is 10",
    ),
  );
});

Deno.test("loadConfig() refuses a short API key without quoting it, and warns about flags", () => {
  assert.throws(
    () => loadConfig([], { HERALD_API_KEYS: `${API_KEY},short-key` }),
    new RangeError(
      "Cannot start: HERALD_API_KEYS must be at least 16 characters long: current length is 9",
    ),
  );
  assert.throws(
    () => loadConfig([], { HERALD_API_KEYS: "" }),
    /HERALD_API_KEYS is set but empty/,
  );
  const loaded = loadConfig([
    "--api-key",
    API_KEY,
    "--webhook-secret",
    NEXT_API_KEY,
    "--webhook-url",
    "http://127.0.0.1:9/h",
  ], {});
  assert.ok(loaded.kind === "run");
  assert.deepEqual(loaded.warnings.map((w) => w.split(" ")[0]), ["--api-key", "--webhook-secret"]);
  assert.match(
    loaded.warnings[0]!,
    /visible to every local user .*HERALD_API_KEYS, the --config file$/,
  );
  for (const warning of loaded.warnings) {
    assert.ok(!warning.includes(API_KEY) && !warning.includes(NEXT_API_KEY), warning);
  }
});

Deno.test("loadConfig() needs --webhook-url and --webhook-secret together, and a plain http(s) URL", () => {
  const config = configOf([], {
    HERALD_WEBHOOK_URL: "https://backend.example/hooks/herald",
    HERALD_WEBHOOK_SECRET: NEXT_API_KEY,
    HERALD_FORWARD_CLIENT_MESSAGES: "true",
  });
  assert.equal(config.webhookUrl, "https://backend.example/hooks/herald");
  assert.equal(config.webhookSecret, NEXT_API_KEY);
  assert.equal(config.forwardClientMessages, true);
  assert.equal(configOf([]).forwardClientMessages, false);
  assert.equal(configOf([]).webhookMaxQueue, 10_000);
  assert.equal(configOf(["--webhook-max-queue", "5"]).webhookMaxQueue, 5);
  assert.equal(configOf([]).webhookUrl, undefined);
  assert.throws(
    () => loadConfig([], { HERALD_WEBHOOK_URL: "https://backend.example/h" }),
    new RangeError(
      "Cannot start: --webhook-secret must be set too when HERALD_WEBHOOK_URL is set",
    ),
  );
  assert.throws(
    () => loadConfig([], { HERALD_WEBHOOK_SECRET: NEXT_API_KEY }),
    new RangeError(
      "Cannot start: --webhook-url must be set too when HERALD_WEBHOOK_SECRET is set",
    ),
  );
  assert.throws(
    () => loadConfig([], { HERALD_WEBHOOK_URL: "ftp://x/", HERALD_WEBHOOK_SECRET: NEXT_API_KEY }),
    new RangeError(
      "Cannot start: HERALD_WEBHOOK_URL must be an http:// or https:// URL: current value is ftp://x/",
    ),
  );
  const withPassword = "https://user:hunter2hunter2@backend.example/h";
  assert.throws(
    () => loadConfig([], { HERALD_WEBHOOK_URL: withPassword, HERALD_WEBHOOK_SECRET: NEXT_API_KEY }),
    (error: Error) =>
      /must not carry a user or password/.test(error.message) &&
      !error.message.includes("hunter2"),
  );
  assert.throws(
    () => loadConfig(["--forward-client-messages"], {}),
    /--forward-client-messages needs --webhook-url and --webhook-secret/,
  );
});

Deno.test("loadConfig() turns the demo page on with --demo only", () => {
  assert.equal(configOf([]).demo, false);
  assert.equal(configOf(["--demo"]).demo, true);
  assert.equal(configOf([], { HERALD_DEMO: "1" }).demo, true);
});

Deno.test("loadConfig() reads the cluster settings: off without --redis, defaults otherwise", () => {
  const single = configOf([]);
  assert.equal(single.redisUrl, undefined);
  assert.equal(single.nodeId, undefined);
  assert.equal(single.redisPrefix, "herald:");
  assert.equal(single.presenceTtlSeconds, 15);
  assert.equal(single.redisTimeoutSeconds, 2);
  const cluster = configOf(["--node-id", "web-1.eu:a"], {
    HERALD_REDIS_URL: "rediss://user:pw@redis.example:6380/3",
    HERALD_REDIS_PREFIX: "app1:herald:",
    HERALD_PRESENCE_TTL: "5",
  });
  assert.equal(cluster.redisUrl, "rediss://user:pw@redis.example:6380/3");
  assert.equal(cluster.nodeId, "web-1.eu:a");
  assert.equal(cluster.redisPrefix, "app1:herald:");
  assert.equal(cluster.presenceTtlSeconds, 5);
});

Deno.test("loadConfig() refuses a bad Redis URL by name without showing its password", () => {
  const refusal = (url: string) => {
    try {
      loadConfig(["--redis", url], {});
    } catch (error) {
      return (error as Error).message;
    }
    return assert.fail(`${url} was accepted`);
  };
  assert.equal(
    refusal("http://u:hunter2@h:1"),
    "Cannot start: --redis must start with redis:// or rediss:// (TLS): " +
      "current value is (not a redis:// URL, not shown)",
  );
  assert.doesNotMatch(refusal("redis://:hunter2@h:1/db"), /hunter2/);
  assert.match(refusal("redis://:hunter2@h:1/db"), /database number 0-9999/);
  assert.match(refusal("not a url"), /must be a URL like redis:\/\/.*current value is \(not a URL/);
  assert.match(refusal("redis://h:1?x=1"), /must not carry a query/);
  assert.throws(
    () => loadConfig([], { HERALD_REDIS_URL: "" }),
    /HERALD_REDIS_URL is set but empty/,
  );
  assert.throws(
    () => loadConfig(["--node-id", "has space"], {}),
    /--node-id must be 1-64 letters, digits and \. _ : -: current value is "has space"/,
  );
  assert.throws(
    () => loadConfig(["--presence-ttl", "1"], {}),
    /--presence-ttl must be an integer 2-3600/,
  );
});

Deno.test("loadConfig() warns when a Redis password comes as a flag", () => {
  const loaded = loadConfig(["--redis", "redis://:pw-in-ps@h:6379"], {});
  assert.ok(loaded.kind === "run");
  assert.equal(loaded.warnings.length, 1);
  assert.match(loaded.warnings[0]!, /--redis on the command line is visible.*HERALD_REDIS_URL/);
  assert.doesNotMatch(loaded.warnings[0]!, /pw-in-ps/);
  const plain = loadConfig(["--redis", "redis://h:6379"], {});
  assert.ok(plain.kind === "run" && plain.warnings.length === 0);
});

Deno.test("loadConfig() reads the history bounds, with their defaults; 0 turns history off", () => {
  const defaults = configOf([]);
  assert.equal(defaults.historySize, 100);
  assert.equal(defaults.historyTtlSeconds, 300);
  assert.equal(defaults.historyMaxBytes, 64 * 1024 * 1024);
  const set = configOf(["--history-size", "0", "--history-ttl", "60"], {
    HERALD_HISTORY_MAX_BYTES: "4096",
  });
  assert.deepEqual([set.historySize, set.historyTtlSeconds, set.historyMaxBytes], [0, 60, 4096]);
  assert.throws(
    () => configOf(["--history-ttl", "0"], {}),
    /Cannot start: --history-ttl must be an integer 1-86400: current value is 0/,
  );
  assert.throws(
    () => configOf(["--history-size", "100001"], {}),
    /--history-size must be an integer 0-100000: current value is 100001/,
  );
});
