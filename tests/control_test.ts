import assert from "node:assert/strict";
import { ControlClient } from "./support/control_client.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

test("control: the seed's request pushes the rest of the object and answers ok, then fail", async () => {
  await using herald = await startTestHerald();
  await using browser = new TestClient(herald.wsUrl);
  await browser.open();
  browser.socket.send("uid1"); // The seed's plain first packet: no acknowledgement.
  await eventually(() => herald.hub.connectionsOf("uid1") === 1, 5000, "uid1 to identify");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request('{"uid":"uid1","percent":"88%"}'), "ok");
  assert.equal(await browser.next(), '{"percent":"88%"}');
  assert.equal(await backend.request({ uid: "uid1", data: "88%" }), "ok");
  assert.equal(await browser.next(), "88%");
  assert.equal(await backend.request({ uid: "uid2", data: "x" }), "fail");
});

test("control: send with an id and uids answers how many connections were reached", async () => {
  await using herald = await startTestHerald();
  await using a1 = await TestClient.identified(herald.wsUrl, "a");
  await using a2 = await TestClient.identified(herald.wsUrl, "a");
  await using b = await TestClient.identified(herald.wsUrl, "b");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.deepEqual(
    await backend.query({ id: 1, cmd: "send", uids: ["a", "b", "zed"], data: { n: 1 } }),
    { id: 1, result: { delivered: 3 } },
  );
  for (const client of [a1, a2, b]) assert.equal(await client.next(), '{"n":1}');
  assert.deepEqual(await backend.query({ id: "x", uid: "zed", data: 1 }), {
    id: "x",
    result: { delivered: 0 },
  });
});

test("control: join, publish, leave, count and uids follow group membership", async () => {
  await using herald = await startTestHerald();
  await using a = await TestClient.identified(herald.wsUrl, "a");
  await using b = await TestClient.identified(herald.wsUrl, "b");
  await using c = await TestClient.identified(herald.wsUrl, "c");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ cmd: "join", uid: "a", group: "room" }), "ok");
  assert.equal(await backend.request({ cmd: "join", uid: "b", group: "room" }), "ok");
  assert.equal(await backend.request({ cmd: "join", uid: "ghost", group: "room" }), "fail");
  assert.deepEqual(await backend.query({ cmd: "join", uid: "c", group: "other", id: 5 }), {
    id: 5,
    result: { joined: true },
  });
  assert.equal(await backend.request({ cmd: "publish", group: "room", data: "hello" }), "ok");
  assert.equal(await a.next(), "hello");
  assert.equal(await b.next(), "hello");
  assert.equal(await backend.request({ cmd: "publish", group: "nobody", data: "x" }), "fail");
  assert.deepEqual(await backend.query({ cmd: "count", group: "room" }), {
    result: { group: "room", uids: 2, connections: 2 },
  });
  const members = await backend.query({ cmd: "uids", group: "room" });
  assert.deepEqual((members.result as { uids: string[] }).uids.sort(), ["a", "b"]);
  assert.equal(await backend.request({ cmd: "leave", uid: "a", group: "room" }), "ok");
  assert.equal(await backend.request({ cmd: "leave", uid: "a", group: "room" }), "fail");
  assert.equal(await backend.request({ cmd: "publish", group: "room", data: "again" }), "ok");
  assert.equal(await b.next(), "again");
  // A direct push arrives after anything the publishes sent them would have: nothing did.
  for (const [uid, client] of [["a", a], ["c", c]] as const) {
    assert.equal(await backend.request({ uid, data: "mark" }), "ok");
    assert.equal(await client.next(), "mark");
  }
});

test("control: broadcast reaches every identified connection and none that is identifying", async () => {
  await using herald = await startTestHerald();
  await using a = await TestClient.identified(herald.wsUrl, "a");
  await using b = await TestClient.identified(herald.wsUrl, "b");
  await using stranger = new TestClient(herald.wsUrl);
  await stranger.open();
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.deepEqual(await backend.query({ cmd: "broadcast", data: [1, 2], id: 1 }), {
    id: 1,
    result: { delivered: 2 },
  });
  assert.equal(await a.next(), "[1,2]");
  assert.equal(await b.next(), "[1,2]");
  // The acknowledgement comes after anything the broadcast sent the stranger would have.
  stranger.socket.send(JSON.stringify({ uid: "late" }));
  assert.equal(await stranger.next(), '{"event":"identified","uid":"late"}');
});

test("control: online, count, stats and uids describe who is connected", async () => {
  await using herald = await startTestHerald();
  await using _a1 = await TestClient.identified(herald.wsUrl, "a");
  await using _a2 = await TestClient.identified(herald.wsUrl, "a");
  await using _b = await TestClient.identified(herald.wsUrl, "b");
  using backend = await ControlClient.connect(herald.controlAddr);
  await backend.request({ cmd: "join", uid: "b", group: "g" });
  assert.deepEqual(await backend.query({ cmd: "online", uid: "a" }), {
    result: { uid: "a", online: true, connections: 2 },
  });
  assert.deepEqual(await backend.query({ cmd: "online", uid: "nobody", id: 2 }), {
    id: 2,
    result: { uid: "nobody", online: false, connections: 0 },
  });
  assert.deepEqual(await backend.query({ cmd: "count" }), {
    result: { connections: 3, uids: 2 },
  });
  const stats = (await backend.query({ cmd: "stats" })).result as Record<string, unknown>;
  assert.equal(stats.connections, 3);
  assert.equal(stats.uids, 2);
  assert.equal(stats.pending, 0);
  assert.equal(stats.control_connections, 1);
  assert.deepEqual(stats.groups, { g: 1 });
  assert.equal(typeof stats.uptime_s, "number");
  const uids = (await backend.query({ cmd: "uids" })).result as { uids: string[] };
  assert.deepEqual(uids.uids.sort(), ["a", "b"]);
});

test("control: kick closes every connection of the uid with 4005", async () => {
  await using herald = await startTestHerald();
  await using tab1 = await TestClient.identified(herald.wsUrl, "a");
  await using tab2 = await TestClient.identified(herald.wsUrl, "a");
  await using other = await TestClient.identified(herald.wsUrl, "b");
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.deepEqual(await backend.query({ cmd: "kick", uid: "a", id: 1 }), {
    id: 1,
    result: { closed: 2 },
  });
  for (const tab of [tab1, tab2]) {
    const event = await tab.closeEvent();
    assert.equal(event.code, 4005);
    assert.equal(event.reason, "kicked");
  }
  assert.equal(herald.hub.connectionsOf("a"), 0);
  assert.equal(await backend.request({ cmd: "kick", uid: "a" }), "fail");
  assert.equal(other.socket.readyState, WebSocket.OPEN);
});

test("control: thousands of pipelined requests in one write get their replies in order", async () => {
  await using herald = await startTestHerald();
  await using browser = await TestClient.identified(herald.wsUrl, "u");
  using backend = await ControlClient.connect(herald.controlAddr);
  const count = 5000;
  let lines = "";
  for (let i = 0; i < count; i++) lines += JSON.stringify({ id: i, uid: "u", data: i }) + "\n";
  await backend.write(lines);
  for (let i = 0; i < count; i++) {
    assert.deepEqual(JSON.parse((await backend.readLine())!), { id: i, result: { delivered: 1 } });
  }
  await browser.waitFor(() => browser.received.length === count);
  assert.deepEqual(browser.received, Array.from({ length: count }, (_, i) => String(i)));
});

test("control: each bad line gets one precise error reply and the connection stays usable", async () => {
  await using herald = await startTestHerald();
  using backend = await ControlClient.connect(herald.controlAddr);
  const cases: Array<[string, string]> = [
    ["{not json", "error: bad_json: Cannot parse JSON"],
    ["[1,2,3]", "error: not_object: Cannot run a request that is not a JSON object: got an array"],
    ['{"cmd":"shout"}', 'error: unknown_cmd: Cannot run "cmd": unknown command "shout"'],
    ['{"cmd":"send","uid":{},"data":1}', 'error: bad_field: Cannot use "uid": must be'],
    ['{"cmd":"publish","data":1}', 'error: bad_field: Cannot run this command: "group" is missing'],
    ['{"uid":"u"}', 'error: bad_field: Cannot push: "data" is missing'],
  ];
  for (const [line, expected] of cases) {
    const reply = await backend.request(line);
    assert.ok(reply.startsWith(expected), `${line} → ${reply}`);
  }
  assert.deepEqual(await backend.query({ id: 7, cmd: "shout" }), {
    id: 7,
    error: { code: "unknown_cmd", message: 'Cannot run "cmd": unknown command "shout"' },
  });
  assert.deepEqual(await backend.query({ cmd: "count" }), { result: { connections: 0, uids: 0 } });
});

test("control: binary junk gets bad_encoding or bad_json replies, one per line", async () => {
  await using herald = await startTestHerald();
  using backend = await ControlClient.connect(herald.controlAddr);
  await backend.write(new Uint8Array([0xff, 0xfe, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x0a, 0xc3, 0x0a]));
  assert.equal(await backend.readLine(), "error: bad_encoding: Cannot read line: not UTF-8");
  assert.match((await backend.readLine())!, /^error: bad_json: /);
  assert.equal(await backend.readLine(), "error: bad_encoding: Cannot read line: not UTF-8");
  assert.equal(await backend.request({ cmd: "broadcast", data: 1 }), "fail");
});

test("control: blank lines get no reply", async () => {
  await using herald = await startTestHerald();
  using backend = await ControlClient.connect(herald.controlAddr);
  await backend.write('\n\r\n   \n{"cmd":"count"}\n');
  assert.deepEqual(JSON.parse((await backend.readLine())!), {
    result: { connections: 0, uids: 0 },
  });
});

test("control: a line over --max-line-bytes is answered line_too_long and closed", async () => {
  await using herald = await startTestHerald({ maxLineBytes: 1024 });
  using backend = await ControlClient.connect(herald.controlAddr);
  await backend.write('{"cmd":"count"}\n' + "x".repeat(2000) + "\n");
  assert.deepEqual(JSON.parse((await backend.readLine())!), {
    result: { connections: 0, uids: 0 },
  });
  assert.equal(
    await backend.readLine(),
    "error: line_too_long: Cannot read line: longer than --max-line-bytes (1024)",
  );
  assert.equal(await backend.readLine(), null);
  using fresh = await ControlClient.connect(herald.controlAddr);
  assert.equal(await fresh.request({ cmd: "broadcast", data: 1 }), "fail");
});

test("control: a stream without newlines is cut off at the cap, holding bounded memory", async () => {
  await using herald = await startTestHerald({ maxLineBytes: 64 * 1024 });
  using backend = await ControlClient.connect(herald.controlAddr);
  const block = new Uint8Array(1024 * 1024).fill(0x7b);
  const rssBefore = Deno.memoryUsage().rss;
  let written = 0;
  try {
    // Up to 256 MiB; the server closes long before.
    for (; written < 256; written++) await backend.write(block);
  } catch (error) {
    assert.ok(
      error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe,
      String(error),
    );
  }
  assert.ok(written < 256, `the server read ${written} MiB without closing`);
  const growth = Deno.memoryUsage().rss - rssBefore;
  assert.ok(growth < 64 * 1024 * 1024, `RSS grew ${growth} bytes`);
});

test("control: a half line at disconnect is dropped and the server keeps serving", async () => {
  await using herald = await startTestHerald();
  await using browser = await TestClient.identified(herald.wsUrl, "u");
  {
    using quitter = await ControlClient.connect(herald.controlAddr);
    await quitter.write('{"uid":"u","data":"never');
  }
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ uid: "u", data: "fine" }), "ok");
  assert.equal(await browser.next(), "fine");
  // The quitter's session ends: only this connection is left.
  await eventually(
    async () => {
      const stats = (await backend.query({ cmd: "stats" })).result as Record<string, unknown>;
      return stats.control_connections === 1;
    },
    5000,
    "the quitter's connection to be released",
  );
});

test("control: hundreds of control clients at once are all answered", async () => {
  await using herald = await startTestHerald();
  await using browser = await TestClient.identified(herald.wsUrl, "u");
  const clients = await Promise.all(
    Array.from({ length: 300 }, () => ControlClient.connect(herald.controlAddr)),
  );
  try {
    const replies = await Promise.all(
      clients.map((client, i) => client.request({ uid: "u", data: i, id: i })),
    );
    replies.forEach((reply, i) =>
      assert.deepEqual(JSON.parse(reply), { id: i, result: { delivered: 1 } })
    );
    await browser.waitFor(() => browser.received.length === 300);
  } finally {
    for (const client of clients) client[Symbol.dispose]();
  }
});

test("control: with --control-secret the first line must authenticate", async () => {
  const controlSecret = "control-secret-0123456789";
  await using herald = await startTestHerald({ controlSecret });
  {
    using intruder = await ControlClient.connect(herald.controlAddr);
    assert.match(
      await intruder.request({ cmd: "stats" }),
      /^error: unauthorized: Cannot accept requests/,
    );
    assert.equal(await intruder.readLine(), null);
  }
  {
    using guesser = await ControlClient.connect(herald.controlAddr);
    assert.equal(
      await guesser.request({ auth: "wrong" }),
      "error: unauthorized: Cannot accept requests: wrong control secret",
    );
    assert.equal(await guesser.readLine(), null);
  }
  using backend = await ControlClient.connect(herald.controlAddr);
  assert.equal(await backend.request({ auth: controlSecret }), "ok");
  assert.equal(await backend.request({ uid: "u", data: 1 }), "fail");
});
