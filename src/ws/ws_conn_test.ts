import assert from "node:assert/strict";
import { textFrame } from "../publication.ts";
import { UnsentBudget } from "./unsent_budget.ts";
import { WsConn } from "./ws_conn.ts";

/** The few WebSocket members WsConn reads, with the state a test sets. */
class FakeSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  send(text: string): void {
    this.sent.push(text);
    this.bufferedAmount += new TextEncoder().encode(text).length;
  }
  close(): void {
    this.readyState = WebSocket.CLOSING;
  }
}

function connOver(socket: FakeSocket, limits: { bytes?: number; frames?: number } = {}) {
  const closed: WsConn[] = [];
  const conn = new WsConn(1, "u", socket as unknown as WebSocket, {
    maxUnsentBytes: limits.bytes ?? 1024 * 1024,
    maxUnsentFrames: limits.frames ?? 1000,
    unsentBudget: new UnsentBudget(1024 * 1024 * 1024),
  }, (conn) => closed.push(conn));
  return { conn, closed };
}

Deno.test("WsConn.send() refuses a socket whose peer is closing, so no drop counts as delivered", () => {
  const socket = new FakeSocket();
  const { conn } = connOver(socket);
  assert.equal(conn.send(textFrame("a")), true);
  socket.readyState = WebSocket.CLOSING; // The peer's close frame arrived; no close event yet.
  assert.equal(conn.send(textFrame("b")), false);
  assert.deepEqual(socket.sent, ["a"]);
});

Deno.test("WsConn.send() closes a reader whose unsent frames reach the bound, 1013", () => {
  const socket = new FakeSocket();
  const { conn, closed } = connOver(socket, { frames: 3 });
  for (let i = 0; i < 3; i++) assert.equal(conn.send(textFrame("x")), true);
  assert.equal(conn.send(textFrame("x")), false);
  assert.deepEqual(closed, [conn]);
  assert.equal(socket.readyState, WebSocket.CLOSING);
});

Deno.test("WsConn.send() checks large bounds every 1/16 of them, so they hold within ~6 %", () => {
  const socket = new FakeSocket();
  const { conn, closed } = connOver(socket, { frames: 1600 });
  let accepted = 0;
  while (conn.send(textFrame("x")) && accepted < 10_000) accepted++;
  assert.deepEqual(closed, [conn]);
  assert.ok(accepted >= 1600 && accepted <= 1700, `closed after ${accepted} frames`);
});

Deno.test("WsConn.send() counts only frames still unsent: written ones free the bound", () => {
  const socket = new FakeSocket();
  const { conn, closed } = connOver(socket, { frames: 3 });
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 3; i++) assert.equal(conn.send(textFrame("ü")), true);
    socket.bufferedAmount = 0; // Deno wrote them all.
  }
  assert.deepEqual(closed, []);
});

Deno.test("WsConn.send() closes a reader whose unsent bytes would pass the bound", () => {
  const socket = new FakeSocket();
  const { conn, closed } = connOver(socket, { bytes: 10 });
  assert.equal(conn.send(textFrame("12345")), true);
  assert.equal(conn.send(textFrame("€€")), false); // 6 more UTF-8 bytes: 11 > 10.
  assert.deepEqual(closed, [conn]);
});

Deno.test("WsConn.send() counts frames written in part of a backlog, overstating by < 1/16", () => {
  const socket = new FakeSocket();
  const { conn, closed } = connOver(socket, { frames: 160 }); // Checked every 10 frames.
  for (let i = 0; i < 150; i++) assert.equal(conn.send(textFrame("x")), true);
  socket.bufferedAmount = 75; // Deno wrote the oldest 75 frames.
  let accepted = 0;
  while (conn.send(textFrame("x")) && accepted < 1000) accepted++;
  assert.deepEqual(closed, [conn]);
  // Exact counting would take 160 - 75 = 85 more; a mark every 10 frames may hide up to 10.
  assert.ok(accepted >= 75 && accepted <= 85, `closed after ${accepted} more frames`);
});
