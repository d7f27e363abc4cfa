import assert from "node:assert/strict";
import { DeadlineQueue } from "./deadline_queue.ts";

/** Resolves once `ms` of real time have passed: the queue keeps a real timer. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue of 20-ms deadlines on a fake clock the test moves, and the keys it expired. */
function fakeClockQueue() {
  const expired: string[] = [];
  const clock = { now: 0 };
  const queue = new DeadlineQueue<string>({
    delayMs: 20,
    onExpire: (key) => expired.push(key),
    clock: () => clock.now,
  });
  return { queue, expired, clock };
}

Deno.test("DeadlineQueue expires keys in the order they were added, each after the delay", async () => {
  const { queue, expired, clock } = fakeClockQueue();
  queue.add("a"); // Due at 20.
  clock.now = 10;
  queue.add("b"); // Due at 30.
  clock.now = 25;
  // Real timers fire in deadline order, so the queue's 20-ms timer runs before this sleep ends,
  // however slow the machine: it sees the fake time, 25.
  await sleep(40);
  assert.deepEqual(expired, ["a"]);
  clock.now = 30;
  await sleep(40);
  assert.deepEqual(expired, ["a", "b"]);
  assert.equal(queue.size, 0);
});

Deno.test("DeadlineQueue.cancel() cancels one deadline; the timer then runs out by itself", async () => {
  const { queue, expired, clock } = fakeClockQueue();
  const a = queue.add("a");
  queue.add("b");
  queue.cancel(a);
  clock.now = 20;
  await sleep(40);
  assert.deepEqual(expired, ["b"]);
  const c = queue.add("c");
  queue.cancel(c);
  queue.cancel(c); // Twice, as a socket that ends after going live does.
  queue.cancel(a); // Cancelled long ago.
  queue.cancel(undefined);
  assert.equal(queue.size, 0);
  clock.now = 40;
  await sleep(40); // The timer armed for "c" fires, finds nothing due and is not re-armed.
  assert.deepEqual(expired, ["b"]);
});

Deno.test("DeadlineQueue.close() stops the timer and ignores later keys", async () => {
  const { queue, expired, clock } = fakeClockQueue();
  queue.add("a");
  queue.close(); // The op sanitizer fails this test if a timer is left behind.
  assert.equal(queue.add("b"), undefined);
  clock.now = 100;
  await sleep(40);
  assert.deepEqual(expired, []);
  assert.equal(queue.size, 0);
});

Deno.test("DeadlineQueue: a deadline that expires cannot be cancelled into another's", async () => {
  const { queue, expired, clock } = fakeClockQueue();
  const a = queue.add("a");
  clock.now = 20;
  await sleep(40);
  const b = queue.add("b"); // Due at 40.
  queue.cancel(a); // Expired already: must not touch "b".
  assert.equal(queue.size, 1);
  clock.now = 40;
  await sleep(40);
  assert.deepEqual(expired, ["a", "b"]);
  queue.cancel(b);
});

Deno.test("new DeadlineQueue() refuses a negative delay", () => {
  assert.throws(() => new DeadlineQueue({ delayMs: -1, onExpire: () => {} }), RangeError);
});
