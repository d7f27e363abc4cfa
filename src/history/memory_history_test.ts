import assert from "node:assert/strict";
import { Publication } from "../publication.ts";
import {
  ENTRY_OVERHEAD_BYTES,
  MemoryHistory,
  type MemoryHistoryOptions,
} from "./memory_history.ts";

function store(options: Partial<MemoryHistoryOptions> = {}) {
  const clock = { now: 1_000_000 };
  let epochs = 0;
  const history = new MemoryHistory({
    maxEntries: 100,
    ttlSeconds: 300,
    maxBytes: 64 * 1024 * 1024,
    clock: () => clock.now,
    newEpoch: () => `e${++epochs}`,
    ...options,
  });
  return { history, clock };
}

const pub = (text: string) => new Publication(text);
const payloads = (entries: readonly { publication: Publication }[]) =>
  entries.map((entry) => entry.publication.payload);

Deno.test("MemoryHistory keeps nothing for a stream nobody subscribed to and no ttl", async () => {
  const { history } = store();
  assert.equal(await history.append("user:u", pub("a")), undefined);
  assert.equal(history.streamCount, 0);
  assert.equal(history.entryCount, 0);
});

Deno.test("MemoryHistory numbers a subscribed stream's messages from 1 under one epoch", async () => {
  const { history } = store();
  assert.deepEqual(await history.subscribe("user:u"), { epoch: "e1", offset: 0 });
  assert.deepEqual(await history.append("user:u", pub("a")), { epoch: "e1", offset: 1 });
  assert.deepEqual(await history.append("user:u", pub("b")), { epoch: "e1", offset: 2 });
  const recovery = await history.since("user:u", { epoch: "e1", offset: 0 });
  assert.equal(recovery.recovered, true);
  assert.deepEqual(payloads(recovery.entries), ["a", "b"]);
  assert.deepEqual(recovery.entries.map((e) => e.offset), [1, 2]);
  assert.deepEqual(recovery.position, { epoch: "e1", offset: 2 });
  assert.deepEqual(
    payloads((await history.since("user:u", { epoch: "e1", offset: 2 })).entries),
    [],
  );
});

Deno.test("MemoryHistory.since() refuses another epoch, a future offset and a gap", async () => {
  const { history } = store({ maxEntries: 3 });
  await history.subscribe("s");
  for (const text of ["1", "2", "3", "4", "5"]) await history.append("s", pub(text));
  assert.equal((await history.since("s", { epoch: "other", offset: 5 })).recovered, false);
  assert.equal((await history.since("s", { epoch: "e1", offset: 6 })).recovered, false);
  // Kept: 3, 4, 5. From offset 2 every missed one is kept; from 1, message 2 is gone.
  assert.deepEqual(payloads((await history.since("s", { epoch: "e1", offset: 2 })).entries), [
    "3",
    "4",
    "5",
  ]);
  const gap = await history.since("s", { epoch: "e1", offset: 1 });
  assert.equal(gap.recovered, false);
  assert.deepEqual(gap.entries, []);
});

Deno.test("MemoryHistory keeps a stream the ttl after its last subscriber left, then deletes it", async () => {
  const { history, clock } = store({ ttlSeconds: 10 });
  await history.subscribe("s");
  history.unsubscribe("s");
  clock.now += 9_000;
  assert.deepEqual(await history.append("s", pub("while away")), { epoch: "e1", offset: 1 });
  clock.now += 2_000; // 11 s after leaving: nobody will resume, so nothing more is kept.
  assert.equal(await history.append("s", pub("too late")), undefined);
  history.sweep(); // The message (kept 10 s from 9 s) is still there: the stream stays.
  assert.equal(history.streamCount, 1);
  clock.now += 9_000;
  history.sweep();
  assert.equal(history.entryCount, 0);
  assert.equal(history.streamCount, 0, "empty and unsubscribed: deleted");
  assert.equal(history.bytes, 0);
});

Deno.test("MemoryHistory never deletes a subscribed stream, and expires its messages", async () => {
  const { history, clock } = store({ ttlSeconds: 10 });
  await history.subscribe("s");
  await history.append("s", pub("old"));
  clock.now += 10_000;
  history.sweep();
  assert.equal(history.streamCount, 1);
  assert.equal(history.entryCount, 0);
  const recovery = await history.since("s", { epoch: "e1", offset: 0 });
  assert.equal(recovery.recovered, false, "message 1 expired");
  assert.equal((await history.since("s", { epoch: "e1", offset: 1 })).recovered, true);
});

Deno.test("MemoryHistory bounds all streams' bytes, evicting the oldest message first", async () => {
  const each = 1 + ENTRY_OVERHEAD_BYTES;
  const { history } = store({ maxBytes: each * 3 });
  await history.subscribe("a");
  await history.subscribe("b");
  await history.append("a", pub("1"));
  await history.append("b", pub("2"));
  await history.append("a", pub("3"));
  await history.append("b", pub("4")); // Over by one message: "1" (stream a) goes.
  assert.equal(history.entryCount, 3);
  assert.equal(history.bytes, each * 3);
  assert.equal((await history.since("a", { epoch: "e1", offset: 0 })).recovered, false);
  assert.deepEqual(payloads((await history.since("a", { epoch: "e1", offset: 1 })).entries), ["3"]);
  assert.deepEqual(payloads((await history.since("b", { epoch: "e2", offset: 0 })).entries), [
    "2",
    "4",
  ]);
});

Deno.test("MemoryHistory stays bounded under a long run of evictions", async () => {
  const { history } = store({ maxEntries: 5, maxBytes: 50 * (ENTRY_OVERHEAD_BYTES + 8) });
  for (let s = 0; s < 20; s++) await history.subscribe(`s${s}`);
  for (let i = 0; i < 20_000; i++) await history.append(`s${i % 20}`, pub(String(i).padStart(8)));
  assert.ok(history.entryCount <= 50, `${history.entryCount} kept`);
  assert.equal(history.bytes, history.entryCount * (ENTRY_OVERHEAD_BYTES + 8));
});

Deno.test("MemoryHistory hands a ttl mailbox over once, and not after its ttl", async () => {
  const { history, clock } = store({ ttlSeconds: 10 });
  await history.append("user:u", pub("a"), { ttlSeconds: 60 });
  await history.append("user:u", pub("b"), { ttlSeconds: 60 });
  assert.deepEqual(payloads(await history.takeMailbox("user:u")), ["a", "b"]);
  assert.deepEqual(payloads(await history.takeMailbox("user:u")), [], "handed over already");
  await history.append("user:u", pub("c"), { ttlSeconds: 30 });
  clock.now += 31_000;
  assert.deepEqual(payloads(await history.takeMailbox("user:u")), [], "c expired");
  clock.now += 30_000;
  history.sweep();
  assert.equal(history.streamCount, 0, "a mailbox nobody came back for is deleted");
});

Deno.test("MemoryHistory keeps a ttl message past --history-ttl until its own ttl", async () => {
  const { history, clock } = store({ ttlSeconds: 10 });
  await history.append("user:u", pub("a"), { ttlSeconds: 100 });
  clock.now += 50_000;
  history.sweep();
  assert.deepEqual(payloads(await history.takeMailbox("user:u")), ["a"]);
});

Deno.test("MemoryHistory refuses limits below 1, naming them", () => {
  assert.throws(
    () => new MemoryHistory({ maxEntries: 0, ttlSeconds: 1, maxBytes: 1 }),
    /maxEntries must be an integer >= 1: current value is 0/,
  );
});
