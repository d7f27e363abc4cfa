import assert from "node:assert/strict";
import { CLOSE, type CloseCode } from "./errors.ts";
import { type Frame, textFrame } from "./frame.ts";
import { type Conn, Registry } from "./registry.ts";

class FakeConn implements Conn {
  static #nextId = 1;
  readonly id = FakeConn.#nextId++;
  readonly sent: string[] = [];
  closedWith: CloseCode | undefined;
  constructor(readonly uid: string, readonly accepts = true) {}
  send(frame: Frame): boolean {
    if (!this.accepts || this.closedWith !== undefined) return false;
    this.sent.push(frame.text);
    return true;
  }
  close(close: CloseCode): void {
    this.closedWith ??= close;
  }
}

Deno.test("Registry.sendToUid() reaches every tab of a uid", () => {
  const registry = new Registry();
  const tabs = [new FakeConn("u1"), new FakeConn("u1")];
  const other = new FakeConn("u2");
  for (const conn of [...tabs, other]) registry.add(conn);
  assert.equal(registry.sendToUid("u1", textFrame("hi")), 2);
  assert.deepEqual(tabs.map((t) => t.sent), [["hi"], ["hi"]]);
  assert.deepEqual(other.sent, []);
  assert.equal(registry.sendToUid("nobody", textFrame("hi")), 0);
});

Deno.test("Registry.remove() of an old tab keeps a reloaded page's new tab online", () => {
  const registry = new Registry();
  const oldTab = new FakeConn("u1");
  const newTab = new FakeConn("u1");
  registry.add(oldTab, ["g"]);
  registry.add(newTab); // The reload identifies before the old socket closes.
  assert.equal(registry.remove(oldTab), true);
  assert.equal(registry.connectionsOf("u1"), 1);
  assert.equal(registry.publish("g", textFrame("x")), 1);
  assert.deepEqual(newTab.sent, ["x"]);
});

Deno.test("Registry.remove() is idempotent and the last connection takes the uid out of groups", () => {
  const registry = new Registry();
  const conn = new FakeConn("u1");
  registry.add(conn, ["a", "b"]);
  assert.deepEqual(registry.groupSizes(), { a: 1, b: 1 });
  assert.equal(registry.remove(conn), true);
  assert.equal(registry.remove(conn), false);
  assert.equal(registry.connectionCount, 0);
  assert.equal(registry.uidCount, 0);
  assert.deepEqual(registry.groupSizes(), {});
  assert.deepEqual(registry.uids("a"), []);
});

Deno.test("Registry.join() needs an online uid and leave() reports membership", () => {
  const registry = new Registry();
  assert.equal(registry.join("ghost", "g"), false);
  registry.add(new FakeConn("u1"));
  assert.equal(registry.join("u1", "g"), true);
  assert.deepEqual(registry.uids("g"), ["u1"]);
  assert.equal(registry.leave("u1", "g"), true);
  assert.equal(registry.leave("u1", "g"), false);
  assert.deepEqual(registry.groupSizes(), {});
});

Deno.test("Registry.publish() and broadcast() count the connections reached", () => {
  const registry = new Registry();
  registry.add(new FakeConn("a"), ["g"]);
  registry.add(new FakeConn("a"));
  registry.add(new FakeConn("b"), ["g"]);
  registry.add(new FakeConn("c"));
  assert.equal(registry.publish("g", textFrame("x")), 3);
  assert.equal(registry.publish("empty", textFrame("x")), 0);
  assert.equal(registry.broadcast(textFrame("x")), 4);
  assert.deepEqual(registry.groupCounts("g"), { uids: 2, connections: 3 });
  assert.equal(registry.sendToUids(["a", "a", "c"], textFrame("x")), 3);
});

Deno.test("Registry delivery skips a connection that refuses and survives its removal mid-loop", () => {
  const registry = new Registry();
  const slow = new FakeConn("u", false);
  const fine = new FakeConn("u");
  slow.send = () => {
    registry.remove(slow); // What a slow reader's close does while the registry iterates.
    return false;
  };
  registry.add(slow);
  registry.add(fine);
  assert.equal(registry.broadcast(textFrame("x")), 1);
  assert.equal(registry.connectionsOf("u"), 1);
  assert.deepEqual(fine.sent, ["x"]);
});

Deno.test("Registry.kick() unregisters and closes every connection of a uid", () => {
  const registry = new Registry();
  const tabs = [new FakeConn("u"), new FakeConn("u")];
  for (const tab of tabs) registry.add(tab, ["g"]);
  assert.equal(registry.kick("u", CLOSE.kicked), 2);
  assert.deepEqual(tabs.map((t) => t.closedWith), [CLOSE.kicked, CLOSE.kicked]);
  assert.equal(registry.connectionCount, 0);
  assert.deepEqual(registry.groupSizes(), {});
  assert.equal(registry.kick("u", CLOSE.kicked), 0);
});
