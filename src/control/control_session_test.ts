import assert from "node:assert/strict";
import fc from "fast-check";
import { parseCommandLine } from "../command.ts";
import { dispatch } from "../dispatch.ts";
import type { CloseCode } from "../errors.ts";
import { LocalBroker } from "../broker.ts";
import { type Conn, Hub } from "../hub.ts";
import { LocalPresence } from "../presence.ts";
import type { Frame } from "../publication.ts";
import { ControlSession, type ControlSessionEnd } from "./control_session.ts";
import { formatError, formatOutcome } from "./reply.ts";

const MAX_LINE = 256;
const encoder = new TextEncoder();

class FakeConn implements Conn {
  static nextId = 1;
  readonly id = FakeConn.nextId++;
  readonly protocol = "plain";
  closed = false;
  constructor(readonly uid: string) {}
  send(_frame: Frame): boolean {
    return !this.closed;
  }
  close(_close: CloseCode): void {
    this.closed = true;
  }
}

/** A session answering with the real parser and dispatch over a fresh hub with a, a, b. */
function realSession(checkSecret?: (secret: string) => boolean): ControlSession {
  const hub = new Hub();
  for (const uid of ["a", "a", "b"]) hub.add(new FakeConn(uid));
  const context = {
    broker: new LocalBroker(hub),
    presence: new LocalPresence(hub),
    serverStats: () => ({ pending: 0 }),
  };
  return new ControlSession({
    maxLineBytes: MAX_LINE,
    checkSecret,
    async answer(line) {
      const parsed = parseCommandLine(line);
      if (!parsed.ok) return formatError(parsed.error, parsed.id);
      return formatOutcome(parsed.command, await dispatch(parsed.command, context));
    },
  });
}

interface Transcript {
  replies: string;
  end: ControlSessionEnd | undefined;
  maxPending: number;
}

async function feed(
  session: ControlSession,
  chunks: Iterable<Uint8Array>,
): Promise<Transcript> {
  let replies = "";
  let end: ControlSessionEnd | undefined;
  let maxPending = 0;
  for (const chunk of chunks) {
    const output = await session.push(chunk);
    replies += output.replies;
    end ??= output.end;
    maxPending = Math.max(maxPending, session.pendingBytes);
  }
  return { replies, end, maxPending };
}

/** Cuts `bytes` into chunks of the given sizes (cycled), or one byte at a time, or whole. */
function* cut(bytes: Uint8Array, plan: "bytes" | "whole" | number[]): Generator<Uint8Array> {
  if (plan === "whole") {
    yield bytes;
    return;
  }
  const sizes = plan === "bytes" ? [1] : plan;
  let offset = 0;
  for (let i = 0; offset < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    // A fresh copy per chunk, then scribbled over: the session must not keep references into it.
    const chunk = bytes.slice(offset, offset + size);
    yield chunk;
    chunk.fill(0x7b);
    offset += size;
  }
}

const name = fc.constantFrom("a", "b", "c", "", "é", 7);
const commandLine = fc.oneof(
  fc.record({ uid: name, data: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({
    cmd: fc.constantFrom("send"),
    uids: fc.array(name, { maxLength: 3 }),
    data: fc.string(),
  }),
  fc.record({ cmd: fc.constantFrom("join", "leave"), uid: name, group: fc.constantFrom("g", "h") }),
  fc.record({ cmd: fc.constantFrom("publish"), group: fc.constantFrom("g", "h"), data: fc.nat() }),
  fc.record({ cmd: fc.constantFrom("kick", "online"), uid: name }),
  fc.record({ cmd: fc.constantFrom("count", "uids", "stats", "broadcast", "nope") }),
  fc.record({ id: fc.oneof(fc.nat(), fc.string(), fc.boolean()), cmd: fc.string(), uid: name }),
).map((request) => JSON.stringify(request));

/** Pieces of a control stream, good and bad, each ending its line unless it is raw bytes. */
const piece = fc.oneof(
  { weight: 5, arbitrary: commandLine.map((line) => encoder.encode(line + "\n")) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }).map((json) => encoder.encode(json + "\r\n")) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("\n", "\r\n", "   \n", "\t\r\n").map((s) => encoder.encode(s)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_LINE - 2, max: MAX_LINE + 3 }).map((n) =>
      encoder.encode("x".repeat(n) + "\n")
    ),
  },
);

const stream = fc.array(piece, { maxLength: 40 }).map((pieces) => {
  const bytes = new Uint8Array(pieces.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    bytes.set(p, offset);
    offset += p.length;
  }
  return bytes;
});

const plan = fc.oneof(
  fc.constant("bytes" as const),
  fc.constant("whole" as const),
  fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
);

Deno.test("ControlSession gives the same replies however the stream is cut into chunks", async () => {
  await fc.assert(
    fc.asyncProperty(stream, plan, async (bytes, chunking) => {
      const whole = await feed(realSession(), [bytes]);
      const split = await feed(realSession(), cut(bytes, chunking));
      assert.equal(split.replies, whole.replies);
      assert.equal(split.end, whole.end);
      assert.ok(split.maxPending <= MAX_LINE + 1, `held ${split.maxPending} bytes`);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("ControlSession answers every non-blank line exactly once, until a line is too long", async () => {
  await fc.assert(
    fc.asyncProperty(stream, plan, async (bytes, chunking) => {
      const transcript = await feed(realSession(), cut(bytes, chunking));
      // The model: split on \n, drop one trailing \r, skip blank lines, stop at the first long one.
      let expected = 0;
      let tooLong = false;
      let start = 0;
      for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
        let line = bytes.subarray(start, end);
        start = end + 1;
        if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
        if (line.length > MAX_LINE) {
          tooLong = true;
          break;
        }
        if (!isBlank(line)) expected++;
      }
      if (!tooLong && bytes.length - start > MAX_LINE + 1) tooLong = true;
      const replies = transcript.replies.split("\n").slice(0, -1);
      assert.equal(replies.length, expected + (tooLong ? 1 : 0));
      assert.equal(transcript.end, tooLong ? "line_too_long" : undefined);
      for (const reply of replies) {
        assert.match(reply, /^(ok|fail|error: [a-z_]+: .+|\{"(id|result)".*\})$/);
      }
    }),
    { numRuns: 300 },
  );
});

/** Blank for the session: valid UTF-8 that trims to nothing. */
function isBlank(line: Uint8Array): boolean {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(line).trim() === "";
  } catch {
    return false;
  }
}

Deno.test("ControlSession never throws and holds at most maxLineBytes + 1 bytes on random input", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }),
      async (chunks) => {
        const transcript = await feed(realSession(), chunks);
        assert.ok(transcript.maxPending <= MAX_LINE + 1, `held ${transcript.maxPending} bytes`);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("ControlSession answers any JSON value with one reply line", async () => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (value) => {
      const line = JSON.stringify(value);
      fc.pre(line !== undefined && encoder.encode(line).length <= MAX_LINE);
      const { replies } = await feed(realSession(), [encoder.encode(line + "\n")]);
      assert.equal(replies.split("\n").length, 2, replies);
    }),
    { numRuns: 500 },
  );
});

Deno.test("ControlSession ends a stream without newlines at the cap and ignores what follows", async () => {
  const session = realSession();
  const block = new Uint8Array(1024 * 1024).fill(0x61);
  let end: ControlSessionEnd | undefined;
  for (let i = 0; i < 1024 && end === undefined; i++) end = (await session.push(block)).end;
  assert.equal(end, "line_too_long");
  assert.equal(session.pendingBytes, 0);
  assert.deepEqual(await session.push(encoder.encode('{"cmd":"count"}\n')), {
    replies: "",
    lines: 0,
    end: "line_too_long",
  });
});

Deno.test("ControlSession with checkSecret answers ok to a good first line, ends on a bad one", async () => {
  const checkSecret = (secret: string) => secret === "s";
  const good = await feed(realSession(checkSecret), [
    encoder.encode('{"auth":"s"}\n{"cmd":"count"}\n'),
  ]);
  assert.equal(good.replies, 'ok\n{"result":{"connections":3,"uids":2}}\n');
  const bad = await feed(realSession(checkSecret), [
    encoder.encode('{"cmd":"count"}\n{"cmd":"count"}\n'),
  ]);
  assert.match(bad.replies, /^error: unauthorized: [^\n]+\n$/);
  assert.equal(bad.end, "unauthorized");
});

Deno.test("ControlSession tells a wrong secret apart from a first line that is not auth", async () => {
  const checkSecret = (secret: string) => secret === "s";
  const wrong = await feed(realSession(checkSecret), [encoder.encode('{"auth":"t"}\n')]);
  assert.equal(
    wrong.replies,
    "error: unauthorized: Cannot accept requests: wrong control secret\n",
  );
  const notAuth = await feed(realSession(checkSecret), [encoder.encode('{"cmd":"count"}\n')]);
  assert.equal(
    notAuth.replies,
    'error: unauthorized: Cannot accept requests: the first line must be {"auth":"<control secret>"}\n',
  );
});

Deno.test("ControlSession split property holds with authorization too", async () => {
  const checkSecret = (secret: string) => secret === "secret";
  await fc.assert(
    fc.asyncProperty(stream, plan, fc.boolean(), async (bytes, chunking, authFirst) => {
      const prefix = authFirst ? encoder.encode('{"auth":"secret"}\n') : new Uint8Array();
      const all = new Uint8Array(prefix.length + bytes.length);
      all.set(prefix);
      all.set(bytes, prefix.length);
      const whole = await feed(realSession(checkSecret), [all]);
      const split = await feed(realSession(checkSecret), cut(all, chunking));
      assert.equal(split.replies, whole.replies);
      assert.equal(split.end, whole.end);
    }),
    { numRuns: 100 },
  );
});

Deno.test("ControlSession escapes control characters an error message quotes from the line", async () => {
  const { replies } = await feed(realSession(), [encoder.encode('\r\x00{"uid":"a"}\n')]);
  assert.equal(replies.split("\n").length, 2);
  assert.ok(!replies.slice(0, -1).includes("\r"), JSON.stringify(replies));
  assert.ok(!replies.includes("\x00"), JSON.stringify(replies));
  assert.match(replies, /\\u0000/);
});

Deno.test("ControlSession answers a bad UTF-8 line alone and drops a BOM or \\r on any line", async () => {
  const bom = "\ufeff";
  const good = '{"uid":"a","data":"x"}';
  const bytes = new Uint8Array([
    ...encoder.encode(`${bom}${good}\n`),
    0xff,
    0x0a,
    ...encoder.encode(`${good}\r\n${bom}${good}\r\n`),
  ]);
  const expected = `ok\n${
    formatError({ code: "bad_encoding", message: "Cannot read line: not UTF-8" })
  }\nok\nok\n`;
  assert.equal((await feed(realSession(), cut(bytes, "whole"))).replies, expected);
  assert.equal((await feed(realSession(), cut(bytes, "bytes"))).replies, expected);
});
