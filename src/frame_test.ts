import assert from "node:assert/strict";
import fc from "fast-check";
import { textFrame } from "./frame.ts";

const encoder = new TextEncoder();

Deno.test("textFrame() counts the bytes WebSocket.send writes, for any UTF-16 text", () => {
  for (const text of ["", "ascii", "é", "€", "😀", "a\ud800", "\udc00b", "\ud83d\ude00\ud83d"]) {
    assert.equal(textFrame(text).bytes, encoder.encode(text).length, JSON.stringify(text));
  }
  // Lone surrogates included: send() writes each as U+FFFD, as TextEncoder does.
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      assert.equal(textFrame(text).bytes, encoder.encode(text).length);
    }),
    { numRuns: 2000 },
  );
});
