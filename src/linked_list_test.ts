import assert from "node:assert/strict";
import { LinkedList } from "./linked_list.ts";

Deno.test("LinkedList keeps push order and removes any entry in place", () => {
  const list = new LinkedList<string>();
  const a = list.push("a");
  const b = list.push("b");
  const c = list.push("c");
  assert.deepEqual(list.values(), ["a", "b", "c"]);
  list.remove(b);
  assert.deepEqual(list.values(), ["a", "c"]);
  list.remove(c); // The tail.
  list.push("d");
  assert.deepEqual(list.values(), ["a", "d"]);
  list.remove(a); // The head.
  assert.deepEqual(list.values(), ["d"]);
  assert.equal(list.size, 1);
  assert.equal(list.first, "d");
});

Deno.test("LinkedList.remove() ignores an entry removed already, or undefined", () => {
  const list = new LinkedList<number>();
  const one = list.push(1);
  list.push(2);
  list.remove(one);
  list.remove(one);
  list.remove(undefined);
  assert.deepEqual(list.values(), [2]);
  assert.equal(list.size, 1);
});

Deno.test("LinkedList: a removed entry forgets its value and its neighbours", () => {
  // What the list is for: nothing removed may keep a live value reachable (see the module doc).
  const list = new LinkedList<object>();
  list.push({});
  const middle = list.push({});
  list.push({});
  list.remove(middle);
  assert.equal(middle.value, undefined);
  assert.equal(middle.prev, undefined);
  assert.equal(middle.next, undefined);
});

Deno.test("LinkedList.shift() takes the oldest; clear() empties the list", () => {
  const list = new LinkedList<string>();
  assert.equal(list.shift(), undefined);
  list.push("a");
  list.push("b");
  assert.equal(list.shift(), "a");
  assert.deepEqual(list.values(), ["b"]);
  list.push("c");
  list.clear();
  assert.deepEqual(list.values(), []);
  assert.equal(list.size, 0);
  assert.equal(list.first, undefined);
});

Deno.test("LinkedList.values() is a snapshot: removing while acting on it is safe", () => {
  const list = new LinkedList<string>();
  const entries = ["a", "b", "c"].map((v) => list.push(v));
  const seen: string[] = [];
  for (const value of list.values()) {
    seen.push(value);
    for (const entry of entries) list.remove(entry);
  }
  assert.deepEqual(seen, ["a", "b", "c"]);
  assert.equal(list.size, 0);
});
