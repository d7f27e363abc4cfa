import assert from "node:assert/strict";
import fc from "fast-check";
import { LineReader } from "./line_reader.ts";

const encode = (text: string) => new TextEncoder().encode(text);
/** The blocks' lines, each without its newline. */
const decode = (blocks: Uint8Array[]) =>
  blocks.flatMap((block) => new TextDecoder().decode(block).split("\n").slice(0, -1));

Deno.test("LineReader.push() returns the complete lines of a chunk as one block, \\r kept", () => {
  const reader = new LineReader(100);
  const chunk = reader.push(encode('{"a":1}\n{"b":2}\r\n\nrest'));
  assert.deepEqual(decode(chunk.blocks), ['{"a":1}', '{"b":2}\r', ""]);
  assert.equal(chunk.tooLong, false);
  assert.equal(reader.pendingBytes, 4);
});

Deno.test("LineReader.push() joins a line split across chunks, one byte at a time", () => {
  const reader = new LineReader(100);
  const lines: string[] = [];
  for (const byte of encode("héllo\nwörld\n")) {
    lines.push(...decode(reader.push(new Uint8Array([byte])).blocks));
  }
  assert.deepEqual(lines, ["héllo", "wörld"]);
  assert.equal(reader.pendingBytes, 0);
});

Deno.test("LineReader.push() copies only the line it completes, not the lines after it", () => {
  const reader = new LineReader(100);
  reader.push(encode('{"a":'));
  const chunk = encode('1}\n{"b":2}\n{"c":3}\n{"d"');
  const { blocks } = reader.push(chunk);
  assert.deepEqual(decode(blocks), ['{"a":1}', '{"b":2}', '{"c":3}']);
  assert.equal(blocks.length, 2);
  assert.notEqual(blocks[0]!.buffer, chunk.buffer);
  assert.equal(blocks[1]!.buffer, chunk.buffer);
});

Deno.test("LineReader.push() keeps its tail when the caller reuses the buffer", () => {
  const reader = new LineReader(100);
  const buffer = encode("abc");
  reader.push(buffer);
  buffer.set(encode("xyz"));
  assert.deepEqual(decode(reader.push(encode("d\n")).blocks), ["abcd"]);
});

Deno.test("LineReader.push() accepts a line of exactly maxLineBytes, with or without \\r", () => {
  const reader = new LineReader(5);
  assert.deepEqual(decode(reader.push(encode("12345\n12345\r\n")).blocks), ["12345", "12345\r"]);
});

Deno.test("LineReader.push() allows the \\r slack when only the newline comes in the next chunk", () => {
  const reader = new LineReader(5);
  assert.equal(reader.push(encode("12345\r")).blocks.length, 0);
  const chunk = reader.push(encode("\n"));
  assert.deepEqual(decode(chunk.blocks), ["12345\r"]);
  assert.equal(chunk.tooLong, false);
  assert.equal(new LineReader(5).push(encode("123456")).tooLong, false);
  const over = new LineReader(5);
  over.push(encode("123456"));
  assert.equal(over.push(encode("\n")).tooLong, true);
});

Deno.test("LineReader.push() reports a complete line over the cap, after the lines before it", () => {
  const reader = new LineReader(5);
  const chunk = reader.push(encode("ok\n123456\nnever\n"));
  assert.deepEqual(decode(chunk.blocks), ["ok"]);
  assert.equal(chunk.tooLong, true);
});

Deno.test("LineReader.push() stops holding bytes once an unfinished line passes the cap", () => {
  const reader = new LineReader(1024);
  const block = new Uint8Array(512).fill(0x61);
  assert.equal(reader.push(block).tooLong, false);
  assert.equal(reader.push(block).tooLong, false);
  assert.equal(reader.push(block).tooLong, true);
  assert.ok(reader.pendingBytes <= 1025, `held ${reader.pendingBytes} bytes`);
});

Deno.test("new LineReader() refuses a cap below one byte", () => {
  assert.throws(() => new LineReader(0), RangeError);
});

Deno.test("LineReader.push() gives the same lines on its fast and its checked path", () => {
  // Cap 64: chunks of up to 64 bytes (with what is held) skip the per-line checks, longer ones not.
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 60, unit: "grapheme" }), { maxLength: 30 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }),
      (texts, sizes) => {
        const lines = texts.map((text) => text.replaceAll("\n", " "))
          .filter((line) => encode(line).length <= 64);
        const bytes = encode(lines.map((line) => line + "\n").join(""));
        const reader = new LineReader(64);
        const got: string[] = [];
        for (let offset = 0, i = 0; offset < bytes.length; i++) {
          const size = sizes[i % sizes.length]!;
          const chunk = reader.push(bytes.slice(offset, offset + size));
          assert.equal(chunk.tooLong, false);
          got.push(...decode(chunk.blocks));
          offset += size;
        }
        assert.deepEqual(got, lines);
        assert.equal(reader.pendingBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});
