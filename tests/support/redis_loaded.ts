/**
 * Run as a child process by tests/cluster_test.ts: starts a whole Herald in this process with
 * the given flags, then prints how many modules of a Redis client Node's module loader holds
 * (`@redis/` paths in `require.cache`), and shuts down. A fresh process, so no other test's
 * imports count.
 * @module
 */
import { createRequire } from "node:module";
import { loadConfig } from "../../src/config.ts";
import { startHerald } from "../../src/herald.ts";
import { Hub } from "../../src/hub.ts";

const loaded = loadConfig(
  ["--host", "127.0.0.1", "--ws-port", "0", "--control-port", "0", ...Deno.args],
  {},
);
if (loaded.kind !== "run") throw new Error("unreachable: no --help given");
const herald = await startHerald(loaded.config, { hub: new Hub() });
const cache = createRequire(import.meta.url).cache;
console.log(Object.keys(cache).filter((path) => path.includes("@redis")).length);
await herald.shutdown();
