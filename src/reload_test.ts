import assert from "node:assert/strict";
import { loadConfig } from "./config.ts";
import { planReload } from "./reload.ts";

const A = "a-secret-of-32-bytes-or-more-Zx7Pm3Vn8R";
const B = "b-secret-of-32-bytes-or-more-Hk2w9Lq4Zx";
const CONTROL = "control-secret-Zx7Pm3Vn8R";

function configOf(args: string[]) {
  const loaded = loadConfig(args, {});
  return loaded.kind === "run" ? loaded.config : assert.fail();
}

Deno.test("planReload() applies secrets and log output, keeps the rest until a restart", () => {
  const current = configOf(["--secret", A, "--ws-port", "1000"]);
  const next = configOf([
    "--secret",
    B,
    "--previous-secret",
    A,
    "--ws-port",
    "2000",
    "--log-level",
    "debug",
  ]);
  const plan = planReload(current, next);
  assert.deepEqual(plan.changed, ["--secret", "--previous-secret", "--log-level"]);
  assert.deepEqual(plan.needsRestart, ["--ws-port"]);
  assert.equal(plan.config.secret, B);
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

Deno.test("planReload() refuses to drop --secret (open mode) unless allow-open-mode says so", () => {
  const current = configOf(["--secret", A]);
  assert.throws(
    () => planReload(current, configOf([])),
    new RangeError(
      "Cannot reload: the new config has no --secret, so any page could claim any uid; " +
        'the running secret stays. To switch to open mode on purpose, set "allow-open-mode": true',
    ),
  );
  const open = planReload(current, configOf(["--allow-open-mode"]));
  assert.equal(open.config.secret, undefined);
  assert.deepEqual(open.changed, ["--secret", "--allow-open-mode"]);
});

Deno.test("planReload() refuses to drop --control-secret unless allow-open-control says so", () => {
  const current = configOf(["--control-secret", CONTROL]);
  assert.throws(
    () => planReload(current, configOf(["--allow-open-mode"])),
    /^RangeError: Cannot reload: the new config has no --control-secret, so any local process could push; the running control secret stays\. To run the control port without one on purpose, set "allow-open-control": true$/,
  );
  assert.equal(
    planReload(current, configOf(["--allow-open-control"])).config.controlSecret,
    undefined,
  );
});
