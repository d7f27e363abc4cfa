import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { planReload } from "./reload.ts";

function configOf(args: string[]) {
  const loaded = loadConfig(args, {});
  return loaded.kind === "run" ? loaded.config : assert.fail();
}

Deno.test("planReload() applies secrets and log output, keeps the rest until a restart", () => {
  const current = configOf(["--secret", "a".repeat(16), "--ws-port", "1000"]);
  const next = configOf([
    "--secret",
    "b".repeat(16),
    "--previous-secret",
    "a".repeat(16),
    "--ws-port",
    "2000",
    "--log-level",
    "debug",
  ]);
  const plan = planReload(current, next);
  assert.deepEqual(plan.changed, ["--secret", "--previous-secret", "--log-level"]);
  assert.deepEqual(plan.needsRestart, ["--ws-port"]);
  assert.equal(plan.config.secret, "b".repeat(16));
  assert.equal(plan.config.wsPort, 1000);
  assert.ok(Object.isFrozen(plan.config));
});

Deno.test("planReload() treats turning TLS on or off as a restart, a new path as a reload", () => {
  const plain = configOf([]);
  const tls = configOf(["--tls-cert", "a.pem", "--tls-key", "a.key"]);
  assert.deepEqual(planReload(plain, tls).needsRestart, ["--tls-cert", "--tls-key"]);
  assert.equal(planReload(plain, tls).config.tlsCert, undefined);
  const moved = configOf(["--tls-cert", "b.pem", "--tls-key", "a.key"]);
  assert.deepEqual(planReload(tls, moved).changed, ["--tls-cert"]);
});
