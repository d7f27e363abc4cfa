import assert from "node:assert/strict";
import { runCommand } from "../../tests/support/run_command.ts";
import { eventually } from "../../tests/support/wait.ts";
import { type ReceivedRequest, TestReceiver } from "./receiver_for_tests.ts";
import { type WebhookEvent, WebhookSender } from "./webhook_sender.ts";

const RECEIVER_PHP = new URL("../../examples/php/webhook_receiver.php", import.meta.url).pathname;
const SECRET = "php-webhook-secret-0123";
const PATIENCE_MS = 20_000;

const EVENTS: WebhookEvent[] = [
  { event: "online", uid: "u1", time_ms: 1_700_000_000_000 },
  { event: "message", uid: "u1", time_ms: 1_700_000_000_001, data: 'héllo "👋"' },
  { event: "offline", uid: "u1", time_ms: 1_700_000_000_002, code: 4005 },
];

/** The request a real sender made for EVENTS, with its clock `skewMs` off. */
async function captureRequest(skewMs = 0): Promise<ReceivedRequest> {
  await using receiver = await TestReceiver.start({ secret: SECRET });
  const webhook = new WebhookSender({
    url: receiver.url,
    secret: SECRET,
    clock: () => Date.now() + skewMs,
  });
  for (const event of EVENTS) webhook.enqueue(event);
  await webhook.close();
  assert.equal(receiver.requests.length, 1);
  return receiver.requests[0]!;
}

/** Runs the example from the command line: body on stdin, signature in the environment. */
function phpCheck(body: string, signature: string, secret = SECRET) {
  return runCommand("php", [RECEIVER_PHP], {
    env: { HERALD_WEBHOOK_SECRET: secret, HERALD_SIGNATURE: signature },
    stdin: body,
    install: "php-cli",
  });
}

Deno.test("php: the example receiver accepts a request the sender really made", async () => {
  const request = await captureRequest();
  const result = await phpCheck(request.body, request.signature);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    'online u1\nmessage u1 "héllo \\"👋\\""\noffline u1 4005\n',
  );
});

Deno.test("php: the example receiver refuses a tampered body, a wrong secret and a replay", async () => {
  const request = await captureRequest();
  const tampered = request.body.replace('"u1"', '"admin"');
  assert.notEqual(tampered, request.body);
  for (
    const [what, result] of [
      ["tampered body", await phpCheck(tampered, request.signature)],
      ["wrong secret", await phpCheck(request.body, request.signature, "another-secret")],
      ["no signature", await phpCheck(request.body, "")],
    ] as const
  ) {
    assert.equal(result.code, 1, what);
    assert.equal(result.stderr.trim(), "invalid signature", what);
  }
  // A request signed ten minutes ago, as a recorded one replayed now would be.
  const replayed = await captureRequest(-600_000);
  const result = await phpCheck(replayed.body, replayed.signature);
  assert.equal(result.code, 1);
  assert.equal(result.stderr.trim(), "invalid signature");
});

Deno.test("php: the sender delivers to the example served by php -S, which refuses a wrong secret", async () => {
  const port = await (async () => {
    await using probe = await TestReceiver.start({ secret: SECRET });
    return probe.port;
  })();
  const server = new Deno.Command("php", {
    args: ["-S", `127.0.0.1:${port}`, RECEIVER_PHP],
    env: { HERALD_WEBHOOK_SECRET: SECRET },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const url = `http://127.0.0.1:${port}/webhook`;
    const webhook = new WebhookSender({ url, secret: SECRET, retryBaseMs: 20, retryMaxMs: 200 });
    const forged = new WebhookSender({ url, secret: "not-the-secret", retryBaseMs: 20 });
    try {
      // Retried until php -S listens.
      for (const event of EVENTS) webhook.enqueue(event);
      await eventually(() => webhook.delivered === 3, PATIENCE_MS, "delivery to php -S");
      forged.enqueue(EVENTS[0]!);
      await eventually(() => forged.dropped === 1, PATIENCE_MS, "the forged batch refused");
      assert.equal(forged.delivered, 0);
    } finally {
      await Promise.all([webhook.close(), forged.close()]);
    }
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
});

Deno.test("php: the README shows the example's verification function, unchanged", async () => {
  const example = await Deno.readTextFile(RECEIVER_PHP);
  const start = example.indexOf("function herald_verify_webhook(");
  const verify = example.slice(start, example.indexOf("\n}\n", start) + 3);
  assert.ok(start >= 0 && verify.length > 100);
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  assert.ok(readme.includes(verify), "README.md's webhook section differs from the example");
});
