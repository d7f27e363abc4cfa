/**
 * A whole Herald in the test's own process, on free loopback ports, and the `test` wrapper that
 * turns the sanitizers on.
 * @module
 */
import { type Config, loadConfig } from "../../src/config.ts";
import { type Herald, type HeraldDependencies, startHerald } from "../../src/herald.ts";
import { Hub } from "../../src/hub.ts";

/** A test that runs with the op and resource sanitizers on. */
export function test(name: string, fn: () => Promise<void> | void): void {
  Deno.test({ name, fn, sanitizeOps: true, sanitizeResources: true });
}

/** A valid config on free loopback ports, with `overrides` applied. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const loaded = loadConfig(["--host", "127.0.0.1", "--ws-port", "0", "--control-port", "0"], {});
  if (loaded.kind !== "run") throw new Error("unreachable: no --help given");
  return Object.freeze({ ...loaded.config, ...overrides });
}

/** Starts a Herald with its own hub; `await using` shuts it down. */
export async function startTestHerald(
  overrides: Partial<Config> = {},
  dependencies: HeraldDependencies = {},
): Promise<Herald & AsyncDisposable & { wsUrl: string }> {
  const herald = await startHerald(testConfig(overrides), { hub: new Hub(), ...dependencies });
  return {
    ...herald,
    wsUrl: `ws://127.0.0.1:${herald.wsAddr.port}/`,
    [Symbol.asyncDispose]: () => herald.shutdown(),
  };
}
