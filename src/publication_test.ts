import assert from "node:assert/strict";
import fc from "fast-check";
import { Publication, textFrame } from "./publication.ts";

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

Deno.test("a publication encodes each protocol's frame once and shares it", () => {
  const publication = new Publication('{"percent":"88%"}');
  const first = publication.plain;
  assert.deepEqual(first, { text: '{"percent":"88%"}', bytes: 17 });
  assert.equal(publication.plain, first, "the same frame object for every socket");
});
