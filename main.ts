/**
 * Herald's entry point: parse flags, start, then live by signals: SIGHUP reloads, SIGTERM or
 * SIGINT drains and exits (a second one exits at once). The only place that exits.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Config, ENV_VARIABLES, helpText, loadConfig } from "./src/config.ts";
import { type Herald, startHerald } from "./src/herald.ts";
import { setupLogging } from "./src/logging.ts";
import { NOFILE_ENV, readNofileLimit } from "./src/nofile.ts";
import { reloadHerald } from "./src/reload.ts";
import { type BuildInfo, SOURCE_BUILD, VERSION, versionText } from "./src/version.ts";

const log = getLogger(["herald"]);

/** Runs Herald until it is told to stop; resolves with the exit code. */
async function main(build: BuildInfo): Promise<number> {
  // Only Herald's own variables: the binary is allowed to read nothing else.
  const env: Record<string, string | undefined> = {};
  for (const name of [...ENV_VARIABLES, NOFILE_ENV]) env[name] = Deno.env.get(name);
  let loaded;
  try {
    loaded = loadConfig(Deno.args, env);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (loaded.kind === "help") {
    console.log(helpText());
    return 0;
  }
  if (loaded.kind === "version") {
    console.log(versionText(build));
    return 0;
  }
  let config = loaded.config;
  await setupLogging(config.logLevel, config.logFormat);
  log.info("Herald {version} starting (commit {commit}, pid {pid})", {
    version: VERSION,
    commit: build.commit,
    pid: Deno.pid,
  });
  logWarnings(loaded.warnings);
  logNofileLimit(config, env);

  // Listen before starting: SIGHUP's default action would end the process, and systemd may send
  // it as soon as the process runs.
  const stop = [Promise.withResolvers<Deno.Signal>(), Promise.withResolvers<Deno.Signal>()];
  let stopSignals = 0;
  const onStop = (signal: Deno.Signal) => () => stop[Math.min(stopSignals++, 1)]!.resolve(signal);
  let herald: Herald | undefined;
  let reloading = Promise.resolve();
  const onReload = () => {
    reloading = reloading.then(async () => {
      if (herald === undefined) return log.warn("SIGHUP before start-up finished: ignored");
      try {
        const next = loadConfig(Deno.args, env, { action: "reload" });
        if (next.kind === "run") {
          logWarnings(next.warnings);
          config = await reloadHerald(herald, config, next.config);
        }
      } catch (error) {
        log.error("Reload refused, the running config stays: {message}", {
          message: (error as Error).message,
        });
      }
    });
  };
  Deno.addSignalListener("SIGINT", onStop("SIGINT"));
  if (Deno.build.os !== "windows") {
    Deno.addSignalListener("SIGTERM", onStop("SIGTERM"));
    Deno.addSignalListener("SIGHUP", onReload);
  }

  try {
    herald = await startHerald(config);
  } catch (error) {
    const message = (error as Error).message;
    log.error("{message}", {
      message: message.startsWith("Cannot") ? message : `Cannot start: ${message}`,
    });
    return 1;
  }

  const signal = await stop[0]!.promise;
  const running = herald;
  const timeout = config.shutdownTimeoutSeconds;
  log.info(
    "{signal}: shutting down, {connections} sockets get close 1001 (at most {timeout} s; " +
      "signal again to exit at once)",
    { signal, connections: running.hub.connectionCount, timeout },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    running.shutdown().then(() => "stopped" as const),
    new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), timeout * 1000)
    ),
    stop[1]!.promise.then(() => "again" as const),
  ]);
  clearTimeout(timer);
  switch (outcome) {
    case "stopped":
      log.info("Stopped");
      return 0;
    case "timeout":
      log.warn("Shutdown took longer than --shutdown-timeout ({timeout} s): exiting anyway", {
        timeout,
      });
      return 1;
    case "again":
      log.warn("Second signal: exiting at once");
      return 1;
  }
}

/** Logs what loading the config found questionable but allowed (weak secrets, secret flags). */
function logWarnings(warnings: readonly string[]): void {
  for (const warning of warnings) log.warn("{warning}", { warning });
}

/** Logs the open-file limit and warns when it cannot hold --max-connections sockets. */
function logNofileLimit(config: Config, env: Record<string, string | undefined>): void {
  const limit = readNofileLimit(env);
  if (!limit.known) {
    // Deno asks for --allow-all to read /proc/self/limits, so this is the usual case from source.
    log.info("Open-file limit not checked: {why}", { why: limit.why });
    return;
  }
  log.info("Open-file limit (RLIMIT_NOFILE soft): {soft} (from {source})", { ...limit });
  if (limit.soft < config.maxConnections) {
    log.warn(
      "Open-file limit {soft} is below --max-connections {max}: sockets past it will fail. " +
        "Raise LimitNOFILE= in the systemd unit (or ulimit -n), or lower --max-connections.",
      { soft: limit.soft, max: config.maxConnections },
    );
  }
}

/** Runs {@linkcode main} and exits with its code; `deno task compile`'s entry passes build info. */
export async function run(build: BuildInfo = SOURCE_BUILD): Promise<never> {
  Deno.exit(await main(build));
}

if (import.meta.main) await run();
