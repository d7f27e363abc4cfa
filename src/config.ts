/**
 * The typed configuration, built and validated once from flags and environment variables.
 * Precedence: flag > HERALD_* environment variable > default; decided here and nowhere else.
 * @module
 */
import { parseArgs } from "node:util";

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
  /** Shared secret the control client must send first; undefined means no control auth. */
  readonly controlSecret: string | undefined;
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
  /** Allowed `Origin` values; empty means any origin. */
  readonly allowedOrigins: readonly string[];
  /** The lowest level that is logged. */
  readonly logLevel: LogLevel;
  /** Human-readable text or JSON lines. */
  readonly logFormat: LogFormat;
}

/** What the command line asked for: a configuration to run, or a text to print. */
export type LoadedConfig =
  | { readonly kind: "run"; readonly config: Config }
  | { readonly kind: "help" }
  | { readonly kind: "version" };

interface OptionSpec {
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  readonly default: string | undefined;
}

const OPTIONS = {
  host: opt("host", "Interface for the WebSocket port", "0.0.0.0"),
  wsPort: opt("ws-port", "WebSocket port (0 = any free port)", "1234"),
  controlHost: opt("control-host", "Interface for the control port", "127.0.0.1"),
  controlPort: opt("control-port", "Control port (0 = any free port)", "5678"),
  secret: opt("secret", "HS256 secret for client tokens (unset = open mode)", undefined),
  controlSecret: opt(
    "control-secret",
    'Secret the control client sends first as {"auth":"..."}',
    undefined,
  ),
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
  allowedOrigins: opt("allowed-origins", "Comma-separated Origin allow-list (* = any)", "*"),
  logLevel: opt("log-level", "debug | info | warning | error", "info"),
  logFormat: opt("log-format", "text | json", "text"),
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
 * Builds the configuration from command-line arguments and environment variables.
 * Throws a `RangeError` naming the setting when a value is invalid.
 */
export function loadConfig(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): LoadedConfig {
  const parsed = parseFlags(args);
  if (parsed.values.help) return { kind: "help" };
  if (parsed.values.version) return { kind: "version" };

  const raw = (key: keyof Config): { value: string | undefined; source: string } => {
    const spec = OPTIONS[key];
    const fromFlag = parsed.values[spec.flag];
    if (typeof fromFlag === "string") return { value: fromFlag, source: `--${spec.flag}` };
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: spec.env };
    return { value: spec.default, source: `--${spec.flag}` };
  };
  const text = (key: keyof Config): string => raw(key).value ?? "";
  const secretOf = (key: "secret" | "controlSecret"): string | undefined => {
    const { value, source } = raw(key);
    if (value === undefined) return undefined;
    if (value.length < 16) {
      throw new RangeError(`Cannot start: ${source} must be at least 16 characters long`);
    }
    return value;
  };
  const int = (key: keyof Config, min: number, max: number): number => {
    const { value, source } = raw(key);
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new RangeError(
        `Cannot start: ${source} must be an integer ${min}-${max}: current value is ${value}`,
      );
    }
    return n;
  };
  const oneOf = <T extends string>(key: keyof Config, allowed: readonly T[]): T => {
    const { value, source } = raw(key);
    const found = allowed.find((a) => a === value);
    if (found === undefined) {
      throw new RangeError(
        `Cannot start: ${source} must be one of ${allowed.join(", ")}: current value is ${value}`,
      );
    }
    return found;
  };
  const origins = text("allowedOrigins").split(",").map((o) => o.trim()).filter((o) => o !== "");

  const config: Config = {
    host: text("host"),
    wsPort: int("wsPort", 0, 65535),
    controlHost: text("controlHost"),
    controlPort: int("controlPort", 0, 65535),
    secret: secretOf("secret"),
    controlSecret: secretOf("controlSecret"),
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
    allowedOrigins: Object.freeze(origins.includes("*") ? [] : origins),
    logLevel: oneOf("logLevel", ["debug", "info", "warning", "error"]),
    logFormat: oneOf("logFormat", ["text", "json"]),
  };
  return { kind: "run", config: Object.freeze(config) };
}

function parseFlags(args: readonly string[]) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  };
  for (const spec of Object.values(OPTIONS)) options[spec.flag] = { type: "string" };
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new RangeError(`Cannot start: ${(error as Error).message}`);
  }
}

/** The text `--help` prints: every flag with its environment variable and default. */
export function helpText(): string {
  const lines = [
    "Herald: a real-time push gateway (WebSocket for browsers, line-JSON control port for backends).",
    "",
    "Usage: herald [flags]",
    "",
    "Every flag can also be set through the environment variable shown; a flag wins.",
    "",
  ];
  for (const spec of Object.values(OPTIONS)) {
    const fallback = spec.default === undefined ? "" : ` (default: ${spec.default})`;
    lines.push(`  --${spec.flag.padEnd(20)} ${spec.env.padEnd(26)} ${spec.help}${fallback}`);
  }
  lines.push(`  --${"help".padEnd(20)} ${"".padEnd(26)} Print this text`);
  lines.push(`  --${"version".padEnd(20)} ${"".padEnd(26)} Print the version`);
  return lines.join("\n");
}
