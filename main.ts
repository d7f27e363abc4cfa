/**
 * Herald's entry point: parse flags, start, stop on SIGINT/SIGTERM. The only place that exits.
 * @module
 */
import { helpText, loadConfig } from "./src/config.ts";
import { startHerald } from "./src/herald.ts";
import { setupLogging } from "./src/logging.ts";
import { VERSION } from "./src/version.ts";

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  if (loaded.kind === "help") {
    console.log(helpText());
    return 0;
  }
  if (loaded.kind === "version") {
    console.log(`herald ${VERSION} (deno ${Deno.version.deno}, ${Deno.build.target})`);
    return 0;
  }
  const { config } = loaded;
  await setupLogging(config.logLevel, config.logFormat);
  const herald = await startHerald(config);
  const stopped = Promise.withResolvers<void>();
  const stop = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  await stopped.promise;
  await herald.shutdown();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
