import assert from "node:assert/strict";
import fc from "fast-check";
import { parseClientFrame, resumedFrame } from "./framed.ts";

Deno.test("parseClientFrame() reads auth, resume and ping", () => {
  assert.deepEqual(parseClientFrame('{"type":"auth","uid":"u"}'), {
    ok: true,
    frame: { type: "auth", credential: "u", streams: new Map() },
  });
  assert.deepEqual(
    parseClientFrame('{"type":"resume","token":"t","streams":{"all":{"epoch":"e","offset":3}}}'),
    {
      ok: true,
      frame: {
        type: "resume",
        credential: "t",
        streams: new Map([["all", { epoch: "e", offset: 3 }]]),
      },
    },
  );
  assert.deepEqual(parseClientFrame('{"type":"ping"}'), { ok: true, frame: { type: "ping" } });
});

Deno.test("parseClientFrame() names the field of every malformed frame", () => {
  const cases: [string, string, RegExp][] = [
    ['{"type":"auth","uid":"u","token":"t"}', "bad_frame", /both "uid" and "token"/],
    ['{"type":"auth","uid":7}', "bad_frame", /"uid": must be a non-empty string/],
    ['{"type":"auth","uid":"u","streams":{}}', "bad_frame", /send "resume"/],
    ['{"type":"resume","uid":"u"}', "bad_resume", /"streams" must be an object/],
    ['{"type":"resume","uid":"u","streams":{"a":1}}', "bad_resume", /"streams"."a": must be/],
    [
      '{"type":"resume","uid":"u","streams":{"a":{"epoch":"e","offset":1.5}}}',
      "bad_resume",
      /current value is 1.5/,
    ],
    [
      '{"type":"resume","uid":"u","streams":{"a":{"offset":1}}}',
      "bad_resume",
      /"epoch" must be a string/,
    ],
    ['{"type":7}', "unknown_type", /Cannot handle "type": 7/],
    ["null", "bad_frame", /not a JSON object/],
  ];
  for (const [text, code, message] of cases) {
    const parsed = parseClientFrame(text);
    assert.ok(!parsed.ok, text);
    assert.equal(parsed.error.code, code, text);
    assert.match(parsed.error.message, message, text);
  }
});

Deno.test("parseClientFrame() never throws, whatever it is given", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
      parseClientFrame(text);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("resumedFrame() is recovered only when every stream is", () => {
  const both = new Map([["a", { recovered: true }], ["b", { recovered: true }]]);
  assert.equal(JSON.parse(resumedFrame(both).text).recovered, true);
  both.set("b", { recovered: false });
  assert.equal(JSON.parse(resumedFrame(both).text).recovered, false);
});
