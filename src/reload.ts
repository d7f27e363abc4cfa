/**
 * What a SIGHUP may change in a running Herald: secrets and API keys, log output and the TLS
 * certificate.
 * Everything else (ports, limits, timeouts) keeps its running value until a restart.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Config, flagOf } from "./config.ts";
import type { Herald } from "./herald.ts";
import { setupLogging } from "./logging.ts";

const log = getLogger(["herald", "reload"]);

/** Settings a reload applies; the rest need a restart. */
export const RELOADABLE: ReadonlySet<keyof Config> = new Set<keyof Config>([
  "secret",
  "secretFile",
  "previousSecrets",
  "controlSecret",
  "controlSecretFile",
  "allowOpenMode",
  "allowOpenControl",
  "apiKeys",
  "logLevel",
  "logFormat",
  "tlsCert",
  "tlsKey",
]);

/** The outcome of comparing the running config with a freshly loaded one. */
export interface ReloadPlan {
  /** The config to run with: the new reloadable settings, the running values of the rest. */
  readonly config: Config;
  /** Flags of the settings that change now, e.g. `--secret`. */
  readonly changed: readonly string[];
  /** Flags of settings that differ but keep their running value until a restart. */
  readonly needsRestart: readonly string[];
}

/**
 * Decides what a reload changes; pure, so it never touches the running Herald. Throws a
 * `RangeError` when `next` would drop a secret without the config saying so explicitly: a file
 * that lost its "secret" line must not turn authentication off.
 */
export function planReload(current: Config, next: Config): ReloadPlan {
  if (current.secret !== undefined && next.secret === undefined && !next.allowOpenMode) {
    throw new RangeError(
      "Cannot reload: the new config has no --secret, so any page could claim any uid; " +
        'the running secret stays. To switch to open mode on purpose, set "allow-open-mode": true',
    );
  }
  if (
    current.controlSecret !== undefined && next.controlSecret === undefined &&
    !next.allowOpenControl
  ) {
    throw new RangeError(
      "Cannot reload: the new config has no --control-secret, so any local process could push; " +
        "the running control secret stays. To run the control port without one on purpose, " +
        'set "allow-open-control": true',
    );
  }
  const merged: Record<string, unknown> = { ...current };
  const changed: string[] = [];
  const needsRestart: string[] = [];
  // Turning TLS on or off changes the URL scheme clients use: that is a restart.
  const tlsSwitch = (current.tlsCert === undefined) !== (next.tlsCert === undefined);
  for (const key of Object.keys(current) as (keyof Config)[]) {
    if (same(current[key], next[key])) continue;
    const tlsKey = key === "tlsCert" || key === "tlsKey";
    if (RELOADABLE.has(key) && !(tlsKey && tlsSwitch)) {
      merged[key] = next[key];
      changed.push(flagOf(key));
    } else {
      needsRestart.push(flagOf(key));
    }
  }
  return { config: Object.freeze(merged as unknown as Config), changed, needsRestart };
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((value, i) => value === b[i]);
  }
  return a === b;
}

/**
 * Applies a freshly loaded config to the running Herald and its logging, and logs what changed.
 * Returns the config now running: the old one when the new one could not be applied.
 */
export async function reloadHerald(herald: Herald, current: Config, next: Config): Promise<Config> {
  let plan;
  let outcome;
  try {
    plan = planReload(current, next);
    outcome = await herald.reload(plan.config);
  } catch (error) {
    log.error("Reload refused, the running config stays: {message}", {
      message: (error as Error).message,
    });
    return current;
  }
  const config = plan.config;
  if (config.logLevel !== current.logLevel || config.logFormat !== current.logFormat) {
    await setupLogging(config.logLevel, config.logFormat);
  }
  const changed = [...plan.changed];
  if (outcome.tlsReloaded && !changed.includes("--tls-cert")) changed.push("TLS certificate");
  if (changed.length > 0) log.info("Reloaded: {changed}", { changed: changed.join(", ") });
  else log.info("Reloaded: nothing changed");
  if (current.secret !== undefined && config.secret === undefined) {
    log.warn("OPEN MODE from now on (allow-open-mode): any client can claim any uid");
  }
  if (current.controlSecret !== undefined && config.controlSecret === undefined) {
    log.warn("The control port takes requests without a secret from now on (allow-open-control)");
  }
  if (plan.needsRestart.length > 0) {
    log.warn("Changed but kept until a restart: {settings}", {
      settings: plan.needsRestart.join(", "),
    });
  }
  return config;
}
