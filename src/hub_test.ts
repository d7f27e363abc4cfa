import assert from "node:assert/strict";
import { CLOSE, type CloseCode } from "./errors.ts";
import { ALL, type Channel } from "./channel.ts";
import { type Conn, Hub } from "./hub.ts";
import { type Frame, Publication } from "./publication.ts";

const user = (uid: string): Channel => ({ kind: "user", uid });
const group = (name: string): Channel => ({ kind: "group", group: name });

class FakeConn implements Conn {
  static #nextId = 1;
  readonly id = FakeConn.#nextId++;
  readonly protocol = "plain";
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

Deno.test("Hub.deliver() to a user reaches every tab of a uid", () => {
  const hub = new Hub();
  const tabs = [new FakeConn("u1"), new FakeConn("u1")];
  const other = new FakeConn("u2");
  for (const conn of [...tabs, other]) hub.add(conn);
  assert.equal(hub.deliver(user("u1"), new Publication("hi").at("user:u1")), 2);
  assert.deepEqual(tabs.map((t) => t.sent), [["hi"], ["hi"]]);
  assert.deepEqual(other.sent, []);
  assert.equal(hub.deliver(user("nobody"), new Publication("hi").at("user:nobody")), 0);
});

Deno.test("Hub.remove() of an old tab keeps a reloaded page's new tab online", () => {
  const hub = new Hub();
  const oldTab = new FakeConn("u1");
  const newTab = new FakeConn("u1");
  hub.add(oldTab, ["g"]);
  hub.add(newTab); // The reload identifies before the old socket closes.
  assert.equal(hub.remove(oldTab), true);
  assert.equal(hub.connectionsOf("u1"), 1);
  assert.equal(hub.deliver(group("g"), new Publication("x").at("group:g")), 1);
  assert.deepEqual(newTab.sent, ["x"]);
});

Deno.test("Hub.remove() is idempotent and the last connection takes the uid out of groups", () => {
  const hub = new Hub();
  const conn = new FakeConn("u1");
  hub.add(conn, ["a", "b"]);
  assert.deepEqual(hub.groupSizes(), { a: 1, b: 1 });
  assert.equal(hub.remove(conn), true);
  assert.equal(hub.remove(conn), false);
  assert.equal(hub.connectionCount, 0);
  assert.equal(hub.uidCount, 0);
  assert.deepEqual(hub.groupSizes(), {});
  assert.deepEqual(hub.uids("a"), []);
});

Deno.test("Hub.join() needs an online uid and leave() reports membership", () => {
  const hub = new Hub();
  assert.equal(hub.join("ghost", "g"), false);
  hub.add(new FakeConn("u1"));
  assert.equal(hub.join("u1", "g"), true);
  assert.deepEqual(hub.uids("g"), ["u1"]);
  assert.equal(hub.leave("u1", "g"), true);
  assert.equal(hub.leave("u1", "g"), false);
  assert.deepEqual(hub.groupSizes(), {});
});

Deno.test("Hub.deliver() to a group and to all counts the connections reached", () => {
  const hub = new Hub();
  hub.add(new FakeConn("a"), ["g"]);
  hub.add(new FakeConn("a"));
  hub.add(new FakeConn("b"), ["g"]);
  hub.add(new FakeConn("c"));
  assert.equal(hub.deliver(group("g"), new Publication("x").at("group:g")), 3);
  assert.equal(hub.deliver(group("empty"), new Publication("x").at("group:empty")), 0);
  assert.equal(hub.deliver(ALL, new Publication("x").at("all")), 4);
  assert.deepEqual(hub.groupCounts("g"), { uids: 2, connections: 3 });
});

Deno.test("Registry delivery skips a connection that refuses and survives its removal mid-loop", () => {
  const hub = new Hub();
  const slow = new FakeConn("u", false);
  const fine = new FakeConn("u");
  slow.send = () => {
    hub.remove(slow); // What a slow reader's close does while the hub iterates.
    return false;
  };
  hub.add(slow);
  hub.add(fine);
  assert.equal(hub.deliver(ALL, new Publication("x").at("all")), 1);
  assert.equal(hub.connectionsOf("u"), 1);
  assert.deepEqual(fine.sent, ["x"]);
});

Deno.test("Hub.kick() unregisters and closes every connection of a uid", () => {
  const hub = new Hub();
  const tabs = [new FakeConn("u"), new FakeConn("u")];
  for (const tab of tabs) hub.add(tab, ["g"]);
  assert.equal(hub.kick("u", CLOSE.kicked), 2);
  assert.deepEqual(tabs.map((t) => t.closedWith), [CLOSE.kicked, CLOSE.kicked]);
  assert.equal(hub.connectionCount, 0);
  assert.deepEqual(hub.groupSizes(), {});
  assert.equal(hub.kick("u", CLOSE.kicked), 0);
});

Deno.test("Hub.deliver() encodes a publication once for all its sockets", () => {
  const hub = new Hub();
  const frames: Frame[] = [];
  for (let i = 0; i < 3; i++) {
    const conn = new FakeConn("u");
    conn.send = (frame) => frames.push(frame) > 0;
    hub.add(conn);
  }
  assert.equal(hub.deliver(ALL, new Publication("x").at("all")), 3);
  assert.ok(frames.every((frame) => frame === frames[0]), "one frame object shared");
});

Deno.test("Hub.observe() hears every change once, after it happened, going offline included", () => {
  const hub = new Hub();
  const events: string[] = [];
  hub.observe({
    added: (conn) => events.push(`added ${conn.uid} (${hub.connectionsOf(conn.uid)})`),
    removed: (conn) => events.push(`removed ${conn.uid} (${hub.connectionsOf(conn.uid)})`),
    joined: (uid, g) => events.push(`joined ${uid} ${g}`),
    left: (uid, g) => events.push(`left ${uid} ${g}`),
  });
  const tab1 = new FakeConn("u1");
  const tab2 = new FakeConn("u1");
  hub.add(tab1, ["g1"]);
  hub.add(tab2, ["g1"]); // Already a member: no second `joined`.
  hub.join("u1", "g2");
  hub.join("nobody", "g2"); // Not here: nothing happens, nothing is heard.
  hub.leave("u1", "g1");
  hub.leave("u1", "g1");
  hub.remove(tab1);
  hub.kick("u1", CLOSE.kicked);
  assert.deepEqual(events, [
    "added u1 (1)",
    "joined u1 g1",
    "added u1 (2)",
    "joined u1 g2",
    "left u1 g1",
    "removed u1 (1)",
    "left u1 g2",
    "removed u1 (0)",
  ]);
  hub.observe(undefined);
  hub.add(new FakeConn("u3"));
  assert.equal(events.length, 8);
});
