/**
 * The benchmark's yardstick: a minimal Deno push server with Herald's two-port behaviour and
 * nothing else (no auth, groups, limits, logging). Herald's figures are reported as ratios
 * against this server measured in the same run.
 *
 * WebSocket port: the first text message is the uid. When it is JSON `{"uid":"u1"}` the server
 * answers `{"event":"identified","uid":"u1"}` exactly as Herald does, so the load generator can
 * wait for identification the same way on both servers (see docs/benchmarks.md).
 *
 * Control port: one JSON object per line, `{"uid":..,"data":..}` or
 * `{"cmd":"broadcast","data":..}`, answered `ok` / `fail`; replies to the lines of one read are
 * written with one `write`.
 *
 * Usage: deno run --allow-net scripts/bench/reference_server.ts --ws-port 9001 --control-port 9002
 *   [--host 127.0.0.1] (the flags Herald takes, so one process harness starts both)
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    "ws-port": { type: "string", default: "1234" },
    "control-port": { type: "string", default: "5678" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
const wsPort = parsePort("--ws-port", values["ws-port"]);
const controlPort = parsePort("--control-port", values["control-port"]);

const sockets = new Map<string, Set<WebSocket>>();
const encoder = new TextEncoder();

Deno.serve({ hostname: values.host, port: wsPort, onListen() {} }, (req) => {
  if (req.headers.get("upgrade") !== "websocket") {
    return new Response("websocket only\n", { status: 400 });
  }
  const { socket, response } = Deno.upgradeWebSocket(req);
  let uid: string | undefined;
  socket.onmessage = (event) => {
    if (uid !== undefined || typeof event.data !== "string") return;
    uid = event.data;
    let json = false;
    if (uid.startsWith("{")) {
      try {
        const parsed = JSON.parse(uid);
        if (typeof parsed?.uid === "string") {
          uid = parsed.uid as string;
          json = true;
        }
      } catch {
        // Not JSON: the whole message is the uid, as in the original script.
      }
    }
    let set = sockets.get(uid);
    if (set === undefined) {
      set = new Set();
      sockets.set(uid, set);
    }
    set.add(socket);
    if (json) socket.send(JSON.stringify({ event: "identified", uid }));
  };
  socket.onclose = () => {
    if (uid === undefined) return;
    const set = sockets.get(uid);
    if (set === undefined) return;
    set.delete(socket);
    if (set.size === 0) sockets.delete(uid);
  };
  return response;
});

function push(line: string): string {
  let msg: { uid?: unknown; cmd?: unknown; data?: unknown };
  try {
    msg = JSON.parse(line);
  } catch {
    return "fail\n";
  }
  if (msg === null || typeof msg !== "object") return "fail\n";
  const text = typeof msg.data === "string" ? msg.data : JSON.stringify(msg.data);
  let delivered = 0;
  if (msg.cmd === "broadcast") {
    for (const set of sockets.values()) {
      for (const socket of set) {
        socket.send(text);
        delivered++;
      }
    }
  } else if (typeof msg.uid === "string") {
    const set = sockets.get(msg.uid);
    if (set !== undefined) {
      for (const socket of set) {
        socket.send(text);
        delivered++;
      }
    }
  }
  return delivered > 0 ? "ok\n" : "fail\n";
}

async function serveControl(conn: Deno.Conn): Promise<void> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let pending = "";
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      pending += decoder.decode(buf.subarray(0, n), { stream: true });
      let replies = "";
      let start = 0;
      let nl: number;
      while ((nl = pending.indexOf("\n", start)) !== -1) {
        const line = pending.slice(start, nl).trim();
        start = nl + 1;
        if (line !== "") replies += push(line);
      }
      pending = pending.slice(start);
      if (replies !== "") await writeAll(conn, encoder.encode(replies));
    }
  } catch {
    // Peer reset: nothing to clean up beyond closing.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function parsePort(name: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Cannot start: ${name} must be 1-65535: current value is ${value}`);
  }
  return port;
}

// Exit cleanly on SIGTERM so that `--cpu-prof` gets to write its profile.
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));

const listener = Deno.listen({ hostname: values.host, port: controlPort });
for await (const conn of listener) serveControl(conn);
