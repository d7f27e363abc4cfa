/**
 * Direct TLS through a real `deno run main.ts` child: wss:// and https:// with a self-signed
 * certificate made by openssl, and a certificate swap on SIGHUP.
 * @module
 */
import assert from "node:assert/strict";
import { CLOSE } from "../src/errors.ts";
import { startHerald } from "../src/herald.ts";
import { Hub } from "../src/hub.ts";
import { ControlClient } from "./support/control_client.ts";
import { runCommand } from "./support/run_command.ts";
import { MAIN, RUN_PERMISSIONS, ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { test, testConfig } from "./support/test_herald.ts";
import { eventually, within } from "./support/wait.ts";

/**
 * Makes a throwaway CA and a certificate for 127.0.0.1 it signs (`<name>.crt`, `<name>.key`);
 * returns the CA's PEM, which a client trusts.
 */
async function makeCertificate(dir: string, name: string): Promise<string> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const [ca, leaf] = [`${dir}/${name}-ca`, `${dir}/${name}`];
  await Deno.writeTextFile(
    `${leaf}.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
  );
  const steps = [
    ["req", "-x509", ...ec, "-days", "2", "-subj", `/CN=herald-test-ca-${name}`],
    ["req", ...ec, "-subj", "/CN=127.0.0.1", "-keyout", `${leaf}.key`, "-out", `${leaf}.csr`],
    ["x509", "-req", "-in", `${leaf}.csr`, "-days", "2", "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`],
  ];
  steps[0]!.push("-keyout", `${ca}.key`, "-out", `${ca}.crt`);
  steps[2]!.push("-CAcreateserial", "-extfile", `${leaf}.ext`, "-out", `${leaf}.crt`);
  for (const args of steps) {
    const result = await runCommand("openssl", args);
    assert.equal(result.code, 0, result.stderr);
  }
  return await Deno.readTextFile(`${dir}/${name}-ca.crt`);
}

/** Opens a wss:// socket trusting `ca`, identifies as `uid`, and resolves once identified. */
async function wssClient(port: number, ca: string, uid: string) {
  const client = Deno.createHttpClient({ caCerts: [ca] });
  const socket = new WebSocket(`wss://127.0.0.1:${port}/`, { client });
  const received: string[] = [];
  const closed = Promise.withResolvers<CloseEvent>();
  const identified = Promise.withResolvers<void>();
  socket.onopen = () => socket.send(JSON.stringify({ uid }));
  socket.onerror = () => {};
  socket.onmessage = (event) => {
    received.push(String(event.data));
    if (received.length === 1) identified.resolve();
  };
  socket.onclose = (event) => {
    identified.reject(new Error(`closed before identifying: ${event.code}`));
    closed.resolve(event);
  };
  await within(5000, identified.promise, "the wss:// socket to identify");
  return {
    socket,
    received,
    closed: closed.promise,
    async [Symbol.asyncDispose]() {
      if (socket.readyState !== WebSocket.CLOSED) {
        socket.close();
        await within(5000, closed.promise, "the wss:// socket to close");
      }
      client.close();
    },
  };
}

async function healthz(port: number, ca: string): Promise<Response> {
  using client = Deno.createHttpClient({ caCerts: [ca] });
  const response = await fetch(`https://127.0.0.1:${port}/healthz`, { client });
  await response.body?.cancel();
  return response;
}

test("--tls-cert/--tls-key serve wss:// and https://, and SIGHUP swaps the certificate", async () => {
  await using dir = await tempDir();
  const certA = await makeCertificate(dir.path, "a");
  const certB = await makeCertificate(dir.path, "b");
  await Deno.copyFile(`${dir.path}/a.crt`, `${dir.path}/live.crt`);
  await Deno.copyFile(`${dir.path}/a.key`, `${dir.path}/live.key`);
  await using herald = await ServerProcess.start({
    command: [Deno.execPath(), "run", ...RUN_PERMISSIONS, `--allow-read=${dir.path}`, MAIN],
    args: ["--tls-cert", `${dir.path}/live.crt`, "--tls-key", `${dir.path}/live.key`],
  });
  assert.match(herald.log, /listening on wss:\/\/127\.0\.0\.1:/);

  const health = await healthz(herald.wsPort, certA);
  assert.equal(health.status, 200);
  await using first = await wssClient(herald.wsPort, certA, "u1");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ uid: "u1", data: "over tls" }), "ok");
    await eventually(() => first.received.length === 2, 5000, "the push");
    assert.equal(first.received[1], "over tls");
  }

  // certbot renews in place: same paths, new files.
  await Deno.copyFile(`${dir.path}/b.crt`, `${dir.path}/live.crt`);
  await Deno.copyFile(`${dir.path}/b.key`, `${dir.path}/live.key`);
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reloaded: TLS certificate/);
  assert.equal((await within(5000, first.closed, "the old socket to close")).code, 1001);
  assert.equal((await healthz(herald.wsPort, certB)).status, 200);
  await assert.rejects(() => healthz(herald.wsPort, certA), "the old certificate is gone");
  await using second = await wssClient(herald.wsPort, certB, "u2");

  // A broken certificate file keeps the running one.
  await Deno.writeTextFile(`${dir.path}/live.crt`, "not a certificate");
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reload refused.*--tls-cert .*live\.crt is not a PEM file/);
  assert.equal((await healthz(herald.wsPort, certB)).status, 200);
  assert.equal(second.socket.readyState, WebSocket.OPEN);

  herald.signal("SIGTERM");
  assert.equal((await within(5000, second.closed, "shutdown")).code, CLOSE.goingAway.code);
  assert.equal((await herald.exit()).code, 0, herald.log);
});

test("a TLS file the process may not read stops start-up with a message naming the flag", async () => {
  await using dir = await tempDir();
  await makeCertificate(dir.path, "a");
  await using herald = await ServerProcess.start({
    args: ["--tls-cert", `${dir.path}/a.crt`, "--tls-key", `${dir.path}/a.key`],
    expectFailure: true,
  });
  const status = await herald.exit();
  assert.equal(status.code, 1);
  assert.match(herald.log, /Cannot start: --tls-cert .*a\.crt cannot be read: no read permission/);
});

test("a certificate reload racing a shutdown leaves no server listening", async () => {
  await using dir = await tempDir();
  await makeCertificate(dir.path, "a");
  await makeCertificate(dir.path, "b");
  const files = (name: string) => ({
    tlsCert: `${dir.path}/${name}.crt`,
    tlsKey: `${dir.path}/${name}.key`,
  });
  const herald = await startHerald(testConfig(files("a")), { hub: new Hub() });
  const port = herald.wsAddr.port;
  // The reload reads the new files and starts a second server while the shutdown runs.
  const reloading = herald.reload(testConfig(files("b")));
  await herald.shutdown();
  assert.deepEqual(await reloading, { tlsReloaded: false });
  await assert.rejects(
    () => Deno.connect({ hostname: "127.0.0.1", port }).then((conn) => conn.close()),
    Deno.errors.ConnectionRefused,
    "nothing listens on the WebSocket port after shutdown",
  );
});
