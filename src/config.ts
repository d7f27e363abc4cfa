/**
 * The typed configuration, built and validated once from flags, environment variables and an
 * optional JSON file. Precedence: flag > HERALD_* environment variable > file > default; decided
 * here and nowhere else.
 * @module
 */
import { parseArgs } from "node:util";
import { redactRedisUrl, redisUrlProblem } from "./cluster/redis_url.ts";
import { readErrorReason } from "./read_error.ts";
import { secretRefusal, type SecretUse, secretWeakness } from "./secret_policy.ts";
import { webhookUrlProblem } from "./webhook/webhook_url.ts";

/** How log records are written. */
export type LogFormat = "text" | "json";
/** The lowest level that is logged. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** Herald's whole configuration; frozen once built. */
export interface Config {
  /** Interface the WebSocket port listens on. */
  readonly host: string;
  /** WebSocket port; 0 picks a free port. */
  readonly wsPort: number;
  /** Interface the control port listens on. */
  readonly controlHost: string;
  /** Control port; 0 picks a free port. */
  readonly controlPort: number;
  /** HS256 secret for client tokens; undefined means open mode (the first message is the uid). */
  readonly secret: string | undefined;
  /** The file `secret` was read from, if any; SIGHUP reads it again. */
  readonly secretFile: string | undefined;
  /** Older HS256 secrets still accepted, so tokens signed before a rotation keep working. */
  readonly previousSecrets: readonly string[];
  /** Shared secret the control client must send first; undefined means no control auth. */
  readonly controlSecret: string | undefined;
  /** The file `controlSecret` was read from, if any; SIGHUP reads it again. */
  readonly controlSecretFile: string | undefined;
  /** A reload may drop `secret` (open mode); without it such a reload is refused. */
  readonly allowOpenMode: boolean;
  /** A reload may drop `controlSecret`; without it such a reload is refused. */
  readonly allowOpenControl: boolean;
  /** Seconds a new WebSocket may take to identify. */
  readonly authTimeoutSeconds: number;
  /** Seconds of peer silence before the socket is dropped (a ping goes out at half). */
  readonly idleTimeoutSeconds: number;
  /** Clock skew, in seconds, tolerated on token `exp` and `nbf`. */
  readonly tokenLeewaySeconds: number;
  /** Open WebSockets allowed at once, identified or not. */
  readonly maxConnections: number;
  /** Largest client message, in bytes. */
  readonly maxMessageBytes: number;
  /** Largest control line, in bytes, newline excluded. */
  readonly maxLineBytes: number;
  /** Unsent bytes one socket may hold before it is closed as a slow reader. */
  readonly maxUnsentBytes: number;
  /** Unsent frames one socket may hold before it is closed as a slow reader. */
  readonly maxUnsentFrames: number;
  /** Unsent bytes all sockets together may hold before the slowest readers are closed. */
  readonly maxUnsentTotalBytes: number;
  /** Open WebSockets one client IP may hold, counting those still closing. */
  readonly maxConnectionsPerIp: number;
  /** WebSocket handshakes one client IP may start per second (the burst allowed too). */
  readonly maxHandshakesPerIp: number;
  /** Messages one WebSocket may send per second (the burst allowed too) before it is closed. */
  readonly maxMessagesPerSecond: number;
  /** Seconds a socket Herald closed may wait for the peer's close reply before it is dropped. */
  readonly closeTimeoutSeconds: number;
  /** Control connections open at once. */
  readonly maxControlConnections: number;
  /** Seconds a control connection may take to complete a line it has begun, or its first one. */
  readonly controlLineTimeoutSeconds: number;
  /** Seconds one reply write may stay blocked on a control client that does not read. */
  readonly controlWriteTimeoutSeconds: number;
  /** Allowed `Origin` values; empty means any origin. */
  readonly allowedOrigins: readonly string[];
  /** Proxy addresses whose `X-Forwarded-For` names the client for per-IP limits. */
  readonly trustedProxies: readonly string[];
  /** The lowest level that is logged. */
  readonly logLevel: LogLevel;
  /** Human-readable text or JSON lines. */
  readonly logFormat: LogFormat;
  /** PEM certificate chain file; with `tlsKey`, both ports' browser side speaks wss:// and https://. */
  readonly tlsCert: string | undefined;
  /** PEM private key file of `tlsCert`. */
  readonly tlsKey: string | undefined;
  /** Messages kept per history stream for resume and offline delivery; 0 turns history off. */
  readonly historySize: number;
  /** Seconds a kept message, and a stream nobody subscribes to any more, is kept. */
  readonly historyTtlSeconds: number;
  /** Bytes all history streams may hold together; the oldest message goes first. */
  readonly historyMaxBytes: number;
  /** Seconds SIGTERM/SIGINT may take to close every socket before Herald exits anyway. */
  readonly shutdownTimeoutSeconds: number;
  /** Keys that open `POST /api` and `GET /metrics`; several at once for rotation; empty: 404. */
  readonly apiKeys: readonly string[];
  /** Largest `POST /api` body, in bytes. */
  readonly maxApiBodyBytes: number;
  /** Where presence and client-message events are POSTed; undefined: no webhooks. */
  readonly webhookUrl: string | undefined;
  /** Shared secret that signs each webhook request (HMAC-SHA256). */
  readonly webhookSecret: string | undefined;
  /** Webhook events held at most, in flight included; beyond, new events are dropped. */
  readonly webhookMaxQueue: number;
  /** Forward what identified plain clients send (other than `ping`) as `message` webhooks. */
  readonly forwardClientMessages: boolean;
  /** Serve the `GET /demo` page. */
  readonly demo: boolean;
  /** The JSON file the configuration was read from, if any; SIGHUP reads it again. */
  readonly configFile: string | undefined;
  /** `redis://` or `rediss://` URL of the cluster's Redis; undefined runs a single node. */
  readonly redisUrl: string | undefined;
  /** This node's name in the cluster; undefined picks hostname (when readable) and pid. */
  readonly nodeId: string | undefined;
  /** Prefix of every Redis key and channel the cluster uses. */
  readonly redisPrefix: string;
  /** Seconds a node's presence outlives its last heartbeat (a node dying without goodbye). */
  readonly presenceTtlSeconds: number;
  /** Seconds a Redis request may take before the command that waits for it fails. */
  readonly redisTimeoutSeconds: number;
  /** Redis requests in flight at once; past it, requests fail at once as if the link were down. */
  readonly redisMaxPending: number;
}

/**
 * What the command line asked for: a configuration to run, with warnings to log about it (they
 * name settings, never secret values), or a text to print.
 */
export type LoadedConfig =
  | { readonly kind: "run"; readonly config: Config; readonly warnings: readonly string[] }
  | { readonly kind: "help" }
  | { readonly kind: "version" };

/** How {@linkcode loadConfig} reads the config file, and what its errors say it was doing. */
export interface LoadConfigOptions {
  /** Reads the files named by `--config` and the secret files. @default Deno.readTextFileSync */
  readonly readTextFile?: (path: string) => string;
  /** Starts error messages: "Cannot start: …" or "Cannot reload: …". @default "start" */
  readonly action?: "start" | "reload";
}

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly default: string | undefined;
  /** Repeatable flag; a comma-separated list in the environment; a string array in the file. */
  readonly list?: true;
  /** One comma-separated value as a flag or variable; a string or string array in the file. */
  readonly commaSeparated?: true;
  /** A flag without a value; `true`/`false` in the environment and the file. */
  readonly boolean?: true;
  /** A secret or where one comes from: an empty environment variable is an error, not unset. */
  readonly secret?: true;
}

const OPTIONS = {
  host: opt("host", "Interface for the WebSocket port", "0.0.0.0"),
  wsPort: opt("ws-port", "WebSocket port (0 = any free port)", "1234"),
  controlHost: opt("control-host", "Interface for the control port", "127.0.0.1"),
  controlPort: opt("control-port", "Control port (0 = any free port)", "5678"),
  secret: {
    ...opt("secret", "HS256 secret for client tokens, 32+ bytes (unset = open mode)", undefined),
    secret: true,
  },
  secretFile: {
    ...opt("secret-file", "File holding --secret (read at start and on SIGHUP)", undefined),
    secret: true,
  },
  previousSecrets: {
    ...opt("previous-secret", "Older token secret still accepted (repeatable)", undefined),
    list: true,
    secret: true,
  },
  controlSecret: {
    ...opt("control-secret", 'Secret the control client sends first as {"auth":"..."}', undefined),
    secret: true,
  },
  controlSecretFile: {
    ...opt(
      "control-secret-file",
      "File holding --control-secret (read again on SIGHUP)",
      undefined,
    ),
    secret: true,
  },
  allowOpenMode: {
    ...opt(
      "allow-open-mode",
      "Let a reload drop --secret (then any page may claim any uid)",
      "false",
    ),
    boolean: true,
  },
  allowOpenControl: {
    ...opt("allow-open-control", "Let a reload drop --control-secret", "false"),
    boolean: true,
  },
  authTimeoutSeconds: opt("auth-timeout", "Seconds a new socket may take to identify", "10"),
  idleTimeoutSeconds: opt("idle-timeout", "Seconds of peer silence before a drop", "30"),
  tokenLeewaySeconds: opt("token-leeway", "Seconds of clock skew allowed on exp/nbf", "0"),
  maxConnections: opt("max-connections", "Open WebSockets allowed at once", "100000"),
  maxMessageBytes: opt("max-message-bytes", "Largest client message in bytes", "65536"),
  maxLineBytes: opt("max-line-bytes", "Largest control line in bytes", "1048576"),
  maxUnsentBytes: opt("max-unsent-bytes", "Unsent bytes per socket before closing it", "1048576"),
  maxUnsentFrames: opt("max-unsent-frames", "Unsent frames per socket before closing it", "8192"),
  maxUnsentTotalBytes: opt(
    "max-unsent-total-bytes",
    "Unsent bytes of all sockets together before the slowest are closed",
    "268435456",
  ),
  maxConnectionsPerIp: opt("max-connections-per-ip", "Open WebSockets per client IP", "1000"),
  maxHandshakesPerIp: opt("max-handshakes-per-ip", "WebSocket handshakes per second per IP", "50"),
  maxMessagesPerSecond: opt(
    "max-messages-per-second",
    "Messages per second one WebSocket may send",
    "20",
  ),
  closeTimeoutSeconds: opt("close-timeout", "Seconds to await a peer's close reply", "5"),
  maxControlConnections: opt("max-control-connections", "Control connections at once", "1024"),
  controlLineTimeoutSeconds: opt(
    "control-line-timeout",
    "Seconds to finish a begun (or the first) control line",
    "30",
  ),
  controlWriteTimeoutSeconds: opt(
    "control-write-timeout",
    "Seconds a control client may leave a reply unread",
    "10",
  ),
  allowedOrigins: {
    ...opt("allowed-origins", "Comma-separated Origin allow-list (* = any)", "*"),
    commaSeparated: true,
  },
  trustedProxies: {
    ...opt(
      "trusted-proxies",
      "Comma-separated proxy IPs whose X-Forwarded-For names the client (none = trust no one)",
      "127.0.0.1,::1",
    ),
    commaSeparated: true,
  },
  logLevel: opt("log-level", "debug | info | warning | error", "info"),
  logFormat: opt("log-format", "text | json", "text"),
  tlsCert: opt("tls-cert", "PEM certificate chain file: serve wss:// and https://", undefined),
  tlsKey: opt("tls-key", "PEM private key file of --tls-cert", undefined),
  historySize: opt("history-size", "Messages kept per stream for resume (0 = history off)", "100"),
  historyTtlSeconds: opt("history-ttl", "Seconds a stream's messages are kept for resume", "300"),
  historyMaxBytes: opt("history-max-bytes", "Bytes of history over all streams", "67108864"),
  shutdownTimeoutSeconds: opt("shutdown-timeout", "Seconds to drain before exiting anyway", "10"),
  apiKeys: {
    ...opt("api-key", "Key for POST /api and GET /metrics, 16+ chars (repeatable)", undefined),
    env: "HERALD_API_KEYS",
    list: true,
    secret: true,
  },
  maxApiBodyBytes: opt("max-api-body-bytes", "Largest POST /api body in bytes", "1048576"),
  webhookUrl: opt("webhook-url", "URL Herald POSTs online/offline/message events to", undefined),
  webhookSecret: {
    ...opt("webhook-secret", "Secret signing each webhook request, 16+ chars", undefined),
    secret: true,
  },
  webhookMaxQueue: opt(
    "webhook-max-queue",
    "Webhook events held at most; beyond, new ones are dropped",
    "10000",
  ),
  forwardClientMessages: {
    ...opt(
      "forward-client-messages",
      "Send what identified clients send (other than ping) to --webhook-url",
      "false",
    ),
    boolean: true,
  },
  demo: {
    ...opt("demo", "Serve the demo page on GET /demo", "false"),
    boolean: true,
  },
  configFile: opt("config", "JSON file with the flags' names as keys", undefined),
  redisUrl: {
    ...opt("redis", "redis[s]://[user:pass@]host:port[/db]: join the cluster on it", undefined),
    env: "HERALD_REDIS_URL",
    secret: true,
  },
  nodeId: opt("node-id", "This node's name in the cluster (default: hostname-pid)", undefined),
  redisPrefix: opt("redis-prefix", "Prefix of the cluster's Redis keys and channels", "herald:"),
  presenceTtlSeconds: opt(
    "presence-ttl",
    "Seconds a dead node's uids stay in cluster presence",
    "15",
  ),
  redisTimeoutSeconds: opt(
    "redis-timeout",
    "Seconds a Redis request may take before its command fails",
    "2",
  ),
  redisMaxPending: opt(
    "redis-max-pending",
    "Redis requests in flight at once before more fail at once",
    "65536",
  ),
} as const satisfies Record<keyof Config, OptionSpec>;

function opt(flag: string, help: string, fallback: string | undefined): OptionSpec {
  return {
    flag,
    env: `HERALD_${flag.toUpperCase().replaceAll("-", "_")}`,
    help,
    default: fallback,
  };
}

/**
 * Builds the configuration from command-line arguments, environment variables and the JSON file
 * `--config` names. Throws a `RangeError` naming the setting when a value is invalid.
 */
export function loadConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions = {},
): LoadedConfig {
  const prefix = `Cannot ${options.action ?? "start"}:`;
  const parsed = parseFlags(args, prefix);
  if (parsed.values.help) return { kind: "help" };
  if (parsed.values.version) return { kind: "version" };

  const fromFlagOrEnv = (key: keyof Config): Raw | undefined => {
    const spec: OptionSpec = OPTIONS[key];
    const flagValue = parsed.values[spec.flag];
    if (typeof flagValue === "string") return { value: flagValue, source: `--${spec.flag}` };
    if (typeof flagValue === "boolean") {
      return { value: String(flagValue), source: `--${spec.flag}` };
    }
    if (Array.isArray(flagValue)) return { value: flagValue.map(String), source: `--${spec.flag}` };
    const envValue = env[spec.env];
    // `HERALD_SECRET=` in an env file is a mistake, not a wish for open mode.
    if (envValue === "" && spec.secret) {
      throw new RangeError(
        `${prefix} ${spec.env} is set but empty: unset it to run without it, or give the secret`,
      );
    }
    if (envValue !== undefined && envValue !== "") return { value: envValue, source: spec.env };
    return undefined;
  };
  const readTextFile = options.readTextFile ?? Deno.readTextFileSync;
  const configFile = fromFlagOrEnv("configFile")?.value as string | undefined;
  const file = configFile === undefined
    ? new Map<string, Raw>()
    : readConfigFile(configFile, readTextFile, prefix);

  const raw = (key: keyof Config): Raw => {
    const spec = OPTIONS[key];
    return fromFlagOrEnv(key) ?? file.get(spec.flag) ??
      { value: spec.default, source: `--${spec.flag}` };
  };
  const text = (key: keyof Config): string | undefined => {
    const { value, source } = raw(key);
    if (Array.isArray(value)) throw new RangeError(`${prefix} ${source} must be a single value`);
    return value;
  };
  const list = (key: keyof Config): { values: string[]; source: string } => {
    const { value, source } = raw(key);
    if (value === undefined) return { values: [], source };
    const values = Array.isArray(value) ? value : value.split(",");
    return { values: values.map((v) => v.trim()).filter((v) => v !== ""), source };
  };
  const warnings: string[] = [];
  const checkSecret = (use: SecretUse, value: string, source: string): string => {
    const refusal = secretRefusal(use, value);
    if (refusal !== undefined) throw new RangeError(`${prefix} ${source} ${refusal}`);
    const weakness = secretWeakness(value);
    if (weakness !== undefined) {
      warnings.push(
        `${source} looks weak: ${weakness}; use a random one (openssl rand -base64 48)`,
      );
    }
    return value;
  };
  const warnIfFlag = (key: keyof Config, source: string) => {
    if (source !== `--${OPTIONS[key].flag}`) return;
    const spec = OPTIONS[key];
    warnings.push(
      `${source} on the command line is visible to every local user (ps): in production use ` +
        `${spec.env}, the --config file${
          WITHOUT_SECRET_FILE.has(key) ? "" : ` or --${spec.flag}-file`
        }`,
    );
  };
  /** A secret given directly or through its file, never both. */
  const secretOf = (
    use: SecretUse,
    key: "secret" | "controlSecret",
    fileKey: "secretFile" | "controlSecretFile",
  ): { value: string | undefined; file: string | undefined } => {
    const value = text(key);
    const file = text(fileKey);
    if (value !== undefined && file !== undefined) {
      throw new RangeError(
        `${prefix} set ${flagOf(key)} or ${flagOf(fileKey)}, not both: ` +
          `${raw(key).source} and ${raw(fileKey).source}`,
      );
    }
    if (value !== undefined) {
      checkSecret(use, value, raw(key).source);
      warnIfFlag(key, raw(key).source);
      return { value, file };
    }
    if (file === undefined) return { value: undefined, file };
    const source = raw(fileKey).source;
    let content: string;
    try {
      content = readTextFile(file);
    } catch (error) {
      throw new RangeError(
        `${prefix} ${source} ${file} cannot be read: ${readErrorReason(error, file)}`,
      );
    }
    // Editors and `echo` end files with a newline that is no part of the secret.
    content = content.replace(/\r?\n$/, "");
    return { value: checkSecret(use, content, `the secret in ${source} ${file}`), file };
  };
  const bool = (key: keyof Config): boolean => {
    const value = text(key);
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw new RangeError(
      `${prefix} ${raw(key).source} must be true or false: current value is ${value}`,
    );
  };
  const int = (key: keyof Config, min: number, max: number): number => {
    const value = text(key);
    const n = Number(value);
    if (value === undefined || value.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new RangeError(
        `${prefix} ${raw(key).source} must be an integer ${min}-${max}: current value is ${value}`,
      );
    }
    return n;
  };
  const oneOf = <T extends string>(key: keyof Config, allowed: readonly T[]): T => {
    const value = text(key);
    const found = allowed.find((a) => a === value);
    if (found === undefined) {
      throw new RangeError(
        `${prefix} ${raw(key).source} must be one of ${
          allowed.join(", ")
        }: current value is ${value}`,
      );
    }
    return found;
  };
  const matching = (key: keyof Config, pattern: RegExp, what: string): string | undefined => {
    const value = text(key);
    if (value !== undefined && !pattern.test(value)) {
      throw new RangeError(
        `${prefix} ${raw(key).source} must be ${what}: current value is ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
  /** The Redis URL, checked; errors and warnings show it with the password hidden. */
  const redisUrl = (): string | undefined => {
    const value = text("redisUrl");
    if (value === undefined) return undefined;
    const source = raw("redisUrl").source;
    const problem = redisUrlProblem(value);
    if (problem !== undefined) {
      throw new RangeError(
        `${prefix} ${source} ${problem}: current value is ${redactRedisUrl(value)}`,
      );
    }
    if (new URL(value).password !== "") warnIfFlag("redisUrl", source);
    return value;
  };
  const secret = secretOf("token", "secret", "secretFile");
  const previous = list("previousSecrets");
  for (const value of previous.values) checkSecret("token", value, previous.source);
  if (previous.values.length > 0) warnIfFlag("previousSecrets", previous.source);
  const controlSecret = secretOf("control", "controlSecret", "controlSecretFile");
  const apiKeys = list("apiKeys");
  for (const value of apiKeys.values) checkSecret("api", value, apiKeys.source);
  if (apiKeys.values.length > 0) warnIfFlag("apiKeys", apiKeys.source);
  const webhookUrl = text("webhookUrl") || undefined;
  const webhookUrlRefusal = webhookUrl === undefined ? undefined : webhookUrlProblem(webhookUrl);
  if (webhookUrlRefusal !== undefined) {
    throw new RangeError(`${prefix} ${raw("webhookUrl").source} ${webhookUrlRefusal}`);
  }
  const webhookSecret = text("webhookSecret");
  if (webhookSecret !== undefined) {
    checkSecret("webhook", webhookSecret, raw("webhookSecret").source);
    warnIfFlag("webhookSecret", raw("webhookSecret").source);
  }
  if ((webhookUrl === undefined) !== (webhookSecret === undefined)) {
    const missing = webhookUrl === undefined ? "--webhook-url" : "--webhook-secret";
    const given = webhookUrl === undefined ? raw("webhookSecret").source : raw("webhookUrl").source;
    throw new RangeError(`${prefix} ${missing} must be set too when ${given} is set`);
  }
  const forwardClientMessages = bool("forwardClientMessages");
  if (forwardClientMessages && webhookUrl === undefined) {
    throw new RangeError(
      `${prefix} ${raw("forwardClientMessages").source} needs --webhook-url and ` +
        "--webhook-secret: forwarded messages are sent there",
    );
  }
  const origins = list("allowedOrigins").values;
  const proxies = list("trustedProxies").values;
  const tlsCert = text("tlsCert") || undefined;
  const tlsKey = text("tlsKey") || undefined;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const missing = tlsCert === undefined ? "--tls-cert" : "--tls-key";
    const given = tlsCert === undefined ? raw("tlsKey").source : raw("tlsCert").source;
    throw new RangeError(`${prefix} ${missing} must be set too when ${given} is set`);
  }

  const config: Config = {
    host: text("host") ?? "",
    wsPort: int("wsPort", 0, 65535),
    controlHost: text("controlHost") ?? "",
    controlPort: int("controlPort", 0, 65535),
    secret: secret.value,
    secretFile: secret.file,
    previousSecrets: Object.freeze(previous.values),
    controlSecret: controlSecret.value,
    controlSecretFile: controlSecret.file,
    allowOpenMode: bool("allowOpenMode"),
    allowOpenControl: bool("allowOpenControl"),
    authTimeoutSeconds: int("authTimeoutSeconds", 1, 3600),
    idleTimeoutSeconds: int("idleTimeoutSeconds", 2, 3600),
    tokenLeewaySeconds: int("tokenLeewaySeconds", 0, 3600),
    maxConnections: int("maxConnections", 1, 10_000_000),
    maxMessageBytes: int("maxMessageBytes", 64, 64 * 1024 * 1024),
    maxLineBytes: int("maxLineBytes", 64, 1024 * 1024 * 1024),
    maxUnsentBytes: int("maxUnsentBytes", 1024, 1024 * 1024 * 1024),
    maxUnsentFrames: int("maxUnsentFrames", 1, 1_000_000),
    maxUnsentTotalBytes: int("maxUnsentTotalBytes", 1024, 64 * 1024 * 1024 * 1024),
    maxConnectionsPerIp: int("maxConnectionsPerIp", 1, 10_000_000),
    maxHandshakesPerIp: int("maxHandshakesPerIp", 1, 1_000_000),
    maxMessagesPerSecond: int("maxMessagesPerSecond", 1, 1_000_000),
    closeTimeoutSeconds: int("closeTimeoutSeconds", 1, 3600),
    maxControlConnections: int("maxControlConnections", 1, 1_000_000),
    controlLineTimeoutSeconds: int("controlLineTimeoutSeconds", 1, 86400),
    controlWriteTimeoutSeconds: int("controlWriteTimeoutSeconds", 1, 86400),
    allowedOrigins: Object.freeze(origins.includes("*") ? [] : origins),
    trustedProxies: Object.freeze(proxies.includes("none") ? [] : proxies),
    logLevel: oneOf("logLevel", ["debug", "info", "warning", "error"]),
    logFormat: oneOf("logFormat", ["text", "json"]),
    tlsCert,
    tlsKey,
    historySize: int("historySize", 0, 100_000),
    historyTtlSeconds: int("historyTtlSeconds", 1, 86400),
    historyMaxBytes: int("historyMaxBytes", 1024, 64 * 1024 * 1024 * 1024),
    shutdownTimeoutSeconds: int("shutdownTimeoutSeconds", 0, 3600),
    apiKeys: Object.freeze(apiKeys.values),
    maxApiBodyBytes: int("maxApiBodyBytes", 64, 1024 * 1024 * 1024),
    webhookUrl,
    webhookSecret,
    webhookMaxQueue: int("webhookMaxQueue", 1, 10_000_000),
    forwardClientMessages,
    demo: bool("demo"),
    configFile,
    redisUrl: redisUrl(),
    nodeId: matching("nodeId", NODE_ID, "1-64 letters, digits and . _ : -"),
    redisPrefix: matching("redisPrefix", REDIS_PREFIX, "1-64 printable characters, no spaces") ??
      "herald:",
    presenceTtlSeconds: int("presenceTtlSeconds", 2, 3600),
    redisTimeoutSeconds: int("redisTimeoutSeconds", 1, 3600),
    redisMaxPending: int("redisMaxPending", 16, 10_000_000),
  };
  if (config.secret === undefined && config.previousSecrets.length > 0) {
    throw new RangeError(`${prefix} --secret must be set when ${previous.source} is set`);
  }
  return { kind: "run", config: Object.freeze(config), warnings: Object.freeze(warnings) };
}

/** Secrets that have no `--…-file` flag: the warning about flags names the other ways only. */
const WITHOUT_SECRET_FILE: ReadonlySet<keyof Config> = new Set<keyof Config>([
  "previousSecrets",
  "apiKeys",
  "webhookSecret",
]);

/** Throws unless `url` is an http(s) URL without credentials, as the webhook sender needs. */

const NODE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const REDIS_PREFIX = /^[\x21-\x7e]{1,64}$/;

/** A setting's raw value and where it came from, for error messages. */
interface Raw {
  readonly value: string | string[] | undefined;
  readonly source: string;
}

/** Reads the JSON config file: keys are flag names, values strings, numbers or string lists. */
function readConfigFile(
  path: string,
  readTextFile: (path: string) => string,
  prefix: string,
): Map<string, Raw> {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new RangeError(
      `${prefix} --config ${path} cannot be read: ${readErrorReason(error, path)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RangeError(`${prefix} --config ${path} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new RangeError(`${prefix} --config ${path} must hold a JSON object`);
  }
  const specs = new Map(
    Object.values(OPTIONS).filter((s) => s.flag !== "config").map((s) => [s.flag, s]),
  );
  const unknown = Object.keys(parsed).filter((key) => !specs.has(key));
  if (unknown.length > 0) {
    throw new RangeError(
      `${prefix} ${path} has unknown keys: ${unknown.map((k) => `"${k}"`).join(", ")} ` +
        `(known keys: ${[...specs.keys()].join(", ")})`,
    );
  }
  const values = new Map<string, Raw>();
  for (const [key, value] of Object.entries(parsed)) {
    const source = `"${key}" in ${path}`;
    const spec = specs.get(key)!;
    if (
      typeof value === "string" || (typeof value === "number" && Number.isFinite(value)) ||
      (spec.boolean && typeof value === "boolean")
    ) {
      values.set(key, { value: String(value), source });
    } else if (
      (spec.list || spec.commaSeparated) &&
      Array.isArray(value) &&
      value.every((v) => typeof v === "string")
    ) {
      values.set(key, { value: value as string[], source });
    } else if (value !== null) {
      throw new RangeError(
        `${prefix} ${source} must be ${
          spec.boolean
            ? "true or false"
            : spec.list || spec.commaSeparated
            ? "a string or an array of strings"
            : "a string or a number"
        }: current value is ${JSON.stringify(value)}`,
      );
    }
  }
  return values;
}

function parseFlags(args: readonly string[], prefix: string) {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const spec of Object.values(OPTIONS) as OptionSpec[]) {
    options[spec.flag] = spec.list
      ? { type: "string", multiple: true }
      : { type: spec.boolean ? "boolean" : "string" };
  }
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new RangeError(`${prefix} ${(error as Error).message}`);
  }
}

/** The text `--help` prints: every flag with its environment variable and default. */
export function helpText(): string {
  const lines = [
    "Herald: a real-time push gateway (WebSocket for browsers, line-JSON control port for backends).",
    "",
    "Usage: herald [flags]",
    "",
    "Every flag can also be set through the environment variable shown, or as a key of the",
    "--config JSON file; a flag wins over the environment, which wins over the file.",
    "",
  ];
  const specs = Object.values(OPTIONS);
  const flagWidth = Math.max(...specs.map((spec) => spec.flag.length));
  const envWidth = Math.max(...specs.map((spec) => spec.env.length));
  const row = (flag: string, env: string, help: string) =>
    `  --${flag.padEnd(flagWidth)}  ${env.padEnd(envWidth)}  ${help}`;
  for (const spec of specs) {
    const fallback = spec.default === undefined ? "" : ` (default: ${spec.default})`;
    lines.push(row(spec.flag, spec.env, spec.help + fallback));
  }
  lines.push(row("help", "", "Print this text"));
  lines.push(row("version", "", "Print the version"));
  return lines.join("\n");
}

/** The flag that sets `key`, e.g. `--ws-port` for `wsPort`; how logs and errors name a setting. */
export function flagOf(key: keyof Config): string {
  return `--${OPTIONS[key].flag}`;
}

/** Every environment variable {@linkcode loadConfig} reads, for a process allowed only those. */
export const ENV_VARIABLES: readonly string[] = Object.values(OPTIONS).map((spec) => spec.env);
