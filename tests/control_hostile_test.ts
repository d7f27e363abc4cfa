/**
 * Hostile control clients over real sockets: slowloris, connection floods, and the same stream
 * cut into random TCP writes.
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { ControlClient } from "./support/control_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

test("control-hostile: a connection that sends no line within --control-line-timeout is closed", async () => {
  await using herald = await startTestHerald({ controlLineTimeoutSeconds: 1 });
  using silent = await ControlClient.connect(herald.controlAddr);
  const started = Date.now();
  assert.equal(
    await silent.readLine(10_000),
    "error: line_timeout: Cannot read line: not complete within --control-line-timeout (1 s)",
  );
  assert.equal(await silent.readLine(10_000), null);
  assert.ok(Date.now() - started >= 900, "closed before the timeout");
});

test("control-hostile: drip-feeding one line does not extend its deadline", async () => {
  await using herald = await startTestHerald({ controlLineTimeoutSeconds: 1 });
  using dripper = await ControlClient.connect(herald.controlAddr);
  assert.equal(
    await dripper.request({ cmd: "count", id: 1 }),
    '{"id":1,"result":{"connections":0,"uids":0}}',
  );
  // One byte every 100 ms for 10 s, until the server answers. Were each byte to extend the
  // deadline, the answer would come only a second after the last byte, past 10 s.
  const started = Date.now();
  const replied = dripper.readLine(20_000).then(
    (line) => ({ line, ms: Date.now() - started }),
    (error) => ({ line: String(error), ms: Date.now() - started }),
  );
  let answered = false;
  replied.then(() => answered = true);
  try {
    for (const byte of `{"cmd":"count"${" ".repeat(85)}}`) {
      if (answered) break;
      await dripper.write(byte);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch {
    // The server closed the connection: writes may fail once it has.
  }
  const { line, ms } = await replied;
  assert.match(line ?? "", /^error: line_timeout: /);
  assert.ok(ms >= 900 && ms < 6000, `answered after ${ms} ms of dripping`);
});

test("control-hostile: a connection idle between complete lines is kept", async () => {
  await using herald = await startTestHerald({ controlLineTimeoutSeconds: 1 });
  using pooled = await ControlClient.connect(herald.controlAddr);
  assert.equal(await pooled.request({ cmd: "broadcast", data: 1 }), "fail");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(await pooled.request({ cmd: "broadcast", data: 2 }), "fail");
});

test("control-hostile: --max-control-connections refuses the next connection", async () => {
  await using herald = await startTestHerald({ maxControlConnections: 2 });
  using a = await ControlClient.connect(herald.controlAddr);
  using b = await ControlClient.connect(herald.controlAddr);
  assert.equal(await a.request({ cmd: "broadcast", data: 1 }), "fail");
  assert.equal(await b.request({ cmd: "broadcast", data: 1 }), "fail");
  {
    using refused = await ControlClient.connect(herald.controlAddr);
    assert.equal(
      await refused.readLine(),
      "error: too_many_connections: Cannot accept requests: --max-control-connections (2) reached",
    );
    assert.equal(await refused.readLine(), null);
  }
  a[Symbol.dispose]();
  // Herald frees the slot once it has seen the close: until then it refuses, as above.
  await eventually(
    async () => {
      using c = await ControlClient.connect(herald.controlAddr);
      return await c.request({ cmd: "broadcast", data: 1 }) === "fail";
    },
    5000,
    "a freed slot to accept a connection",
  );
});

const requests = fc.array(
  fc.oneof(
    fc.constantFrom(
      '{"cmd":"count"}',
      '{"uid":"nobody","data":1}',
      '{"cmd":"stats"}',
      "{bad",
      "[]",
    ),
    fc.record({ id: fc.nat(), cmd: fc.constantFrom("online", "uids", "kick"), uid: fc.string() })
      .map((r) => JSON.stringify(r)),
    fc.json({ maxDepth: 2 }),
  ),
  { minLength: 1, maxLength: 60 },
);

test("control-hostile: a stream cut into random TCP writes gets the replies of one write", async () => {
  await using herald = await startTestHerald();
  await fc.assert(
    fc.asyncProperty(
      requests,
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
      async (lines, sizes) => {
        const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
        const whole = await exchange(herald.controlAddr, [bytes], lines.length);
        const chunks: Uint8Array[] = [];
        let offset = 0;
        for (let i = 0; offset < bytes.length; i++) {
          const size = sizes[i % sizes.length]!;
          chunks.push(bytes.subarray(offset, offset + size));
          offset += size;
        }
        const split = await exchange(herald.controlAddr, chunks, lines.length);
        assert.deepEqual(
          split.map(withoutUptime),
          whole.map(withoutUptime),
        );
      },
    ),
    { numRuns: 25 },
  );
});

/** Writes `chunks` one by one, yielding between them, and reads `count` replies. */
async function exchange(addr: Deno.NetAddr, chunks: Uint8Array[], count: number) {
  using client = await ControlClient.connect(addr);
  for (const chunk of chunks) {
    await client.write(chunk);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  const replies: string[] = [];
  for (let i = 0; i < count; i++) {
    const reply = await client.readLine();
    if (reply === null) break;
    replies.push(reply);
  }
  return replies;
}

/** `stats` replies carry uptime and the connection count of the moment: not the stream's doing. */
function withoutUptime(reply: string): string {
  return reply.replace(/"uptime_s":\d+/, "").replace(/"control_connections":\d+/, "");
}

/** Writes `lines` copies of `line` in the background; the write blocks while Herald cannot read. */
function flood(client: ControlClient, line: string, lines: number): Promise<void> {
  return client.write(line.repeat(lines)).catch(() => {});
}

test("control-hostile: a reply write blocked on a slow reader is not cut by the line timeout", async () => {
  await using herald = await startTestHerald({
    controlLineTimeoutSeconds: 1,
    controlWriteTimeoutSeconds: 30,
  });
  using slow = await ControlClient.connect(herald.controlAddr);
  // Replies far larger than the socket buffers, requests cut mid-line across reads: Herald's
  // reply writes block while a begun line is pending, for longer than the line timeout.
  const requests = 40_000;
  const writing = flood(slow, `{"cmd":"stats","id":"${"x".repeat(200)}"}\n`, requests);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  let replies = 0;
  for (let line = await slow.readLine(); line !== null; line = await slow.readLine()) {
    assert.match(line, /^\{"id":"x+","result":\{"connections":0/, `reply ${replies}`);
    if (++replies === requests) break;
  }
  assert.equal(replies, requests, "every request answered, none cut by line_timeout");
  await writing;
});

test("control-hostile: a client that leaves replies unread past --control-write-timeout is closed", async () => {
  await using herald = await startTestHerald({ controlWriteTimeoutSeconds: 1 });
  using stuck = await ControlClient.connect(herald.controlAddr);
  const writing = flood(stuck, `{"cmd":"stats","id":"${"x".repeat(200)}"}\n`, 40_000);
  using other = await ControlClient.connect(herald.controlAddr);
  const started = Date.now();
  let controlConnections = 2;
  while (controlConnections > 1 && Date.now() - started < 10_000) {
    const stats = await other.query({ cmd: "stats" });
    controlConnections = (stats.result as { control_connections: number }).control_connections;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(controlConnections, 1, "the stuck client was closed");
  assert.ok(Date.now() - started >= 800, "not before --control-write-timeout");
  assert.equal(await other.request({ uid: "nobody", data: "x" }), "fail", "others are served");
  stuck[Symbol.dispose]();
  await writing;
});
