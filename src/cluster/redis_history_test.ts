import assert from "node:assert/strict";
import { Publication } from "../publication.ts";
import { RedisServer } from "../../tests/support/redis_server.ts";
import { eventually, within } from "../../tests/support/wait.ts";
import { RedisHistory, type RedisHistoryOptions } from "./redis_history.ts";
import { RedisLink } from "./redis_link.ts";
import { RedisNames } from "./redis_scripts.ts";

/** Runs `body` with a RedisHistory on a redis-server of its own. */
async function withHistory(
  options: Partial<RedisHistoryOptions>,
  body: (history: RedisHistory, redis: RedisServer) => Promise<void>,
): Promise<void> {
  await using redis = await RedisServer.start();
  const up = Promise.withResolvers<void>();
  const link = new RedisLink({
    url: redis.url,
    timeoutMs: 5000,
    maxPending: 1000,
    onUp: () => up.resolve(),
    onDown: () => {},
    onMessage: () => {},
  });
  link.start();
  const history = new RedisHistory({
    link,
    names: new RedisNames("t:"),
    nodeId: "n1",
    maxEntries: 100,
    ttlSeconds: 300,
    maxBytes: 1 << 20,
    ...options,
  });
  try {
    await within(10_000, up.promise, "the Redis link");
    await body(history, redis);
  } finally {
    history.close();
    link.close();
  }
}

const payloads = (entries: readonly { publication: Publication }[]) =>
  entries.map((entry) => entry.publication.payload);

Deno.test("RedisHistory keeps nothing in Redis for a stream nobody subscribed to and no ttl", async () => {
  await withHistory({}, async (history, redis) => {
    assert.equal(await history.append("user:u", Publication.of("a")), undefined);
    assert.equal(await redis.cli("dbsize"), "0");
  });
});

Deno.test("RedisHistory numbers messages under one epoch and replays them with their types", async () => {
  await withHistory({}, async (history) => {
    const start = await history.subscribe("user:u");
    assert.equal(start.offset, 0);
    assert.deepEqual(await history.append("user:u", Publication.of("a")), { ...start, offset: 1 });
    assert.deepEqual(await history.append("user:u", Publication.of({ n: 2 })), {
      ...start,
      offset: 2,
    });
    const recovery = await history.since("user:u", start);
    assert.equal(recovery.recovered, true);
    assert.deepEqual(recovery.entries.map((e) => [e.offset, e.publication.json]), [
      [1, '"a"'],
      [2, '{"n":2}'],
    ]);
    assert.equal((await history.since("user:u", { ...start, epoch: "other" })).recovered, false);
    assert.equal((await history.since("user:u", { ...start, offset: 3 })).recovered, false);
  });
});

Deno.test("RedisHistory bounds a stream by --history-size and by --history-max-bytes", async () => {
  await withHistory({ maxEntries: 3, maxBytes: 4 * (64 + 2) }, async (history) => {
    const start = await history.subscribe("s");
    for (const text of ["1", "2", "3", "4", "5"]) await history.append("s", Publication.of(text));
    assert.equal((await history.since("s", { ...start, offset: 1 })).recovered, false);
    assert.deepEqual(payloads((await history.since("s", { ...start, offset: 2 })).entries), [
      "3",
      "4",
      "5",
    ]);
    // Kept: 3 messages of 66 bytes (tag, text, overhead). One of 165 more: over 264 until two go.
    await history.append("s", Publication.of("6".repeat(100)));
    assert.equal((await history.since("s", { ...start, offset: 3 })).recovered, false);
    assert.deepEqual(payloads((await history.since("s", { ...start, offset: 4 })).entries), [
      "5",
      "6".repeat(100),
    ]);
  });
});

Deno.test("RedisHistory hands a ttl mailbox over once, and its keys expire", async () => {
  await withHistory({ ttlSeconds: 1 }, async (history, redis) => {
    await history.append("user:u", Publication.of("a"), { ttlSeconds: 1 });
    await history.append("user:u", Publication.of("b"), { ttlSeconds: 1 });
    assert.deepEqual(payloads(await history.takeMailbox("user:u")), ["a", "b"]);
    assert.deepEqual(payloads(await history.takeMailbox("user:u")), []);
    await eventually(async () => (await redis.cli("dbsize")) === "0", 5000, "the keys to expire");
  });
});
