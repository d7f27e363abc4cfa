/**
 * The process lifecycle through a real `deno run main.ts` child: graceful SIGTERM, the shutdown
 * timeout, a second signal, and SIGHUP reloads.
 * @module
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { CLOSE } from "../src/errors.ts";
import { ControlClient } from "./support/control_client.ts";
import { MAIN, RUN_PERMISSIONS, ServerProcess } from "./support/server_process.ts";
import { tempDir } from "./support/temp_dir.ts";
import { eventually } from "./support/wait.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";

const SECRET_A = "a-token-secret-Zx7Pm3Vn8Rt5Yb1CHk2w9Lq4";
const SECRET_B = "b-token-secret-Hk2w9Lq4Zx7Pm3Vn8Rt5Yb1C";
/** Requests written, and a pause in their progress, that show Herald has stopped reading. */
const STUCK_MIN_BYTES = 1024 * 1024;
const STUCK_QUIET_MS = 2000;

function tokenFor(uid: string, secret: string): Promise<string> {
  return new SignJWT({ sub: uid }).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

/** A client that sends a token as its first message; resolves once it is identified or closed. */
async function tokenClient(port: number, uid: string, secret: string): Promise<TestClient> {
  const client = new TestClient(`ws://127.0.0.1:${port}/`);
  await client.open();
  client.socket.send(JSON.stringify({ token: await tokenFor(uid, secret) }));
  await client.waitFor(() =>
    client.received.length > 0 || client.socket.readyState === WebSocket.CLOSED
  );
  if (client.received.length > 0) {
    assert.equal(client.received.shift(), JSON.stringify({ event: "identified", uid }));
  }
  return client;
}

test("SIGTERM closes every socket with 1001, answers requests already sent, exits 0", async () => {
  await using herald = await ServerProcess.start({ args: ["--shutdown-timeout", "5"] });
  const clients = await Promise.all(
    ["a", "b", "c"].map((uid) => TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, uid)),
  );
  using control = await ControlClient.connect(herald.controlAddr);
  assert.equal(await control.request({ uid: "a", data: "before" }), "ok");
  assert.equal(await clients[0]!.next(), "before");

  const requests = 2000;
  await control.write(`{"cmd":"count","id":1}\n`.repeat(requests));
  const started = performance.now();
  herald.signal("SIGTERM");
  for (const client of clients) {
    const event = await client.closeEvent();
    assert.equal(event.code, CLOSE.goingAway.code);
  }
  let replies = 0;
  while (await control.readLine() !== null) replies++;
  assert.equal(replies, requests, "every pipelined request sent before SIGTERM is answered");
  const status = await herald.exit();
  assert.equal(status.code, 0, herald.log);
  assert.ok(performance.now() - started < 5000, "exits within --shutdown-timeout");
  assert.match(herald.log, /SIGTERM: shutting down/);
  assert.match(herald.log, /Stopped/);
});

/**
 * A control client that pipelines requests without end and never reads the replies, so
 * Herald's reply writes block: a connection that cannot drain. Resolves once Herald has
 * stopped reading it, which is when the flood's writes stop making progress.
 */
async function stuckControlClient(herald: ServerProcess) {
  const control = await ControlClient.connect(herald.controlAddr);
  const chunk = new TextEncoder().encode(`{"cmd":"count"}\n`.repeat(4096));
  let written = 0;
  let flooding = true;
  const writing = (async () => {
    try {
      while (flooding) {
        await control.write(chunk);
        written += chunk.length;
      }
    } catch {
      // Closed by the dispose below, or by Herald exiting.
    }
  })();
  let seen = -1;
  let stillSince = Date.now();
  await eventually(
    () => {
      if (written !== seen) [seen, stillSince] = [written, Date.now()];
      return written >= STUCK_MIN_BYTES && Date.now() - stillSince >= STUCK_QUIET_MS;
    },
    30_000,
    "Herald to stop reading a client that never reads its replies",
  );
  return {
    async [Symbol.asyncDispose]() {
      flooding = false;
      control[Symbol.dispose]();
      await writing;
    },
  };
}

test("SIGTERM exits 0 at once though a control client never reads its replies", async () => {
  await using herald = await ServerProcess.start({ args: ["--shutdown-timeout", "5"] });
  await using client = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "a");
  await using _control = await stuckControlClient(herald);
  const started = performance.now();
  herald.signal("SIGTERM");
  assert.equal((await client.closeEvent()).code, CLOSE.goingAway.code);
  const status = await herald.exit();
  const took = performance.now() - started;
  assert.equal(status.code, 0, herald.log);
  assert.ok(took < 3000, `took ${took} ms of a 5 s --shutdown-timeout`);
  assert.match(herald.log, /control connections that did not read their replies/);
});

test("SIGTERM exits 1 after --shutdown-timeout when the drain cannot finish in time", async () => {
  // A control client that never reads gets a 1 s grace after the 100 ms drain: more than 1 s.
  await using herald = await ServerProcess.start({ args: ["--shutdown-timeout", "1"] });
  await using _control = await stuckControlClient(herald);
  const started = performance.now();
  herald.signal("SIGTERM");
  const status = await herald.exit();
  const took = performance.now() - started;
  assert.equal(status.code, 1, herald.log);
  assert.ok(took >= 900 && took < 4000, `took ${took} ms`);
  assert.match(herald.log, /longer than --shutdown-timeout/);
});

test("a second signal during a slow shutdown exits at once", async () => {
  await using herald = await ServerProcess.start({ args: ["--shutdown-timeout", "60"] });
  // Shutdown then takes over a second: the grace a control client that never reads gets.
  await using _control = await stuckControlClient(herald);
  herald.signal("SIGTERM");
  await herald.waitForLog(/SIGTERM: shutting down/);
  const started = performance.now();
  herald.signal("SIGINT");
  const status = await herald.exit();
  assert.equal(status.code, 1, herald.log);
  assert.ok(performance.now() - started < 3000);
  assert.match(herald.log, /Second signal: exiting at once/);
});

test("SIGHUP reloads secrets, the control secret and the log level from the config file", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/herald.json`;
  const write = (settings: Record<string, unknown>) =>
    Deno.writeTextFile(file, JSON.stringify(settings));
  const controlSecret = "control-secret-0123456789";
  await write({ secret: SECRET_A, "control-secret": controlSecret, "log-level": "info" });
  await using herald = await ServerProcess.start({
    command: [Deno.execPath(), "run", ...RUN_PERMISSIONS, `--allow-read=${dir.path}`, MAIN],
    args: ["--config", file],
  });
  await using early = await tokenClient(herald.wsPort, "early", SECRET_A);
  assert.equal(early.socket.readyState, WebSocket.OPEN);

  // Rotation: B signs new tokens, A is still accepted.
  await write({
    secret: SECRET_B,
    "previous-secret": [SECRET_A],
    "control-secret": controlSecret.toUpperCase(),
    "log-level": "debug",
  });
  herald.signal("SIGHUP");
  await herald.waitForLog(
    /Reloaded: --secret, --previous-secret, --control-secret, --log-level/,
  );
  await using viaB = await tokenClient(herald.wsPort, "via-b", SECRET_B);
  await using viaA = await tokenClient(herald.wsPort, "via-a", SECRET_A);
  assert.equal(viaB.socket.readyState, WebSocket.OPEN);
  assert.equal(viaA.socket.readyState, WebSocket.OPEN);
  await herald.waitForLog(/identified as via-a/); // Debug lines now show.
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(
      await control.request({ auth: controlSecret.toUpperCase() }),
      "ok",
      "the new control secret",
    );
    assert.equal(await control.request({ uid: "early", data: "still here" }), "ok");
    assert.equal(await early.next(), "still here", "sockets identified before stay");
  }

  // End of the window: only B.
  await write({ secret: SECRET_B, "control-secret": controlSecret.toUpperCase() });
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reloaded: --previous-secret, --log-level/);
  await using lateA = await tokenClient(herald.wsPort, "late-a", SECRET_A);
  assert.equal((await lateA.closeEvent()).code, CLOSE.invalidToken.code);

  // A bad file keeps the running config; a limit change waits for a restart.
  await write({ secret: SECRET_B, "ws-prot": 1 });
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reload refused, the running config stays: .*unknown keys: "ws-prot"/);
  await write({
    secret: SECRET_B,
    "control-secret": controlSecret.toUpperCase(),
    "max-connections": 5,
  });
  herald.signal("SIGHUP");
  await herald.waitForLog(/kept until a restart: --max-connections/);
  await using lateB = await tokenClient(herald.wsPort, "late-b", SECRET_B);
  assert.equal(lateB.socket.readyState, WebSocket.OPEN);
  assert.ok(!herald.log.includes(SECRET_A) && !herald.log.includes(SECRET_B), "no secret logged");

  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0);
});

test("SIGHUP refuses a config that lost its secrets unless it allows open mode explicitly", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/herald.json`;
  const write = (settings: Record<string, unknown>) =>
    Deno.writeTextFile(file, JSON.stringify(settings));
  const controlSecret = "control-secret-Zx7Pm3Vn8R";
  await write({ secret: SECRET_A, "control-secret": controlSecret });
  await using herald = await ServerProcess.start({
    command: [Deno.execPath(), "run", ...RUN_PERMISSIONS, `--allow-read=${dir.path}`, MAIN],
    args: ["--config", file],
  });

  // The operator edits the file and the secrets are gone: the running ones stay.
  await write({ "log-level": "debug" });
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reload refused, the running config stays: .*no --secret/);
  await using claimer = new TestClient(`ws://127.0.0.1:${herald.wsPort}/`);
  await claimer.open();
  claimer.socket.send("someone-else");
  assert.equal((await claimer.closeEvent()).code, CLOSE.invalidToken.code, "still token mode");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.match(await control.request({ cmd: "count" }), /^error: unauthorized/);
  }

  await write({ secret: SECRET_A });
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reload refused, the running config stays: .*no --control-secret/);

  // Said explicitly, it is done, and shouted about.
  await write({ "allow-open-mode": true, "allow-open-control": true });
  herald.signal("SIGHUP");
  await herald.waitForLog(/OPEN MODE from now on/);
  await herald.waitForLog(/control port takes requests without a secret/);
  await using open = await TestClient.identified(`ws://127.0.0.1:${herald.wsPort}/`, "anyone");
  {
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ uid: "anyone", data: "hi" }), "ok");
  }
  assert.equal(await open.next(), "hi");
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);
});

test("--secret-file is read at start and again on SIGHUP; a --secret flag is warned about", async () => {
  await using dir = await tempDir();
  const secretFile = `${dir.path}/secret`;
  await Deno.writeTextFile(secretFile, `${SECRET_A}\n`);
  await using herald = await ServerProcess.start({
    command: [Deno.execPath(), "run", ...RUN_PERMISSIONS, `--allow-read=${dir.path}`, MAIN],
    env: { HERALD_SECRET_FILE: secretFile },
  });
  await using viaA = await tokenClient(herald.wsPort, "via-a", SECRET_A);
  assert.equal(viaA.socket.readyState, WebSocket.OPEN);
  assert.doesNotMatch(herald.log, /on the command line/);

  await Deno.writeTextFile(secretFile, SECRET_B);
  herald.signal("SIGHUP");
  await herald.waitForLog(/Reloaded: --secret$/);
  await using viaB = await tokenClient(herald.wsPort, "via-b", SECRET_B);
  assert.equal(viaB.socket.readyState, WebSocket.OPEN);
  herald.signal("SIGTERM");
  assert.equal((await herald.exit()).code, 0, herald.log);

  await using flagged = await ServerProcess.start({ args: ["--secret", SECRET_A] });
  await flagged.waitForLog(/--secret on the command line is visible to every local user/);
  assert.ok(!flagged.log.includes(SECRET_A), "the warning does not quote the secret");
  flagged.signal("SIGTERM");
  assert.equal((await flagged.exit()).code, 0, flagged.log);
});
