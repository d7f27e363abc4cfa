import assert from "node:assert/strict";
import { parseCommandLine } from "./command.ts";
import { Publication } from "./publication.ts";

Deno.test("parseCommandLine() reads the seed's request as a send of the rest of the object", () => {
  assert.deepEqual(parseCommandLine('{"uid":"uid1","percent":"88%"}'), {
    ok: true,
    command: {
      cmd: "send",
      id: undefined,
      uids: ["uid1"],
      publication: new Publication('{"percent":"88%"}'),
    },
  });
});

Deno.test("parseCommandLine() sends a string payload verbatim and others as JSON text", () => {
  const frame = (line: string) => {
    const parsed = parseCommandLine(line);
    assert.ok(parsed.ok && "publication" in parsed.command);
    return parsed.command.publication.payload;
  };
  assert.equal(frame('{"uid":"u","data":"88%"}'), "88%");
  assert.equal(frame('{"uid":"u","data":{"a":[1,2]}}'), '{"a":[1,2]}');
  assert.equal(frame('{"uid":"u","data":42}'), "42");
  assert.equal(frame('{"uid":"u","data":null}'), "null");
  assert.equal(frame('{"cmd":"broadcast","data":"hi"}'), "hi");
});

Deno.test("parseCommandLine() accepts integer uids and groups, as PHP backends send them", () => {
  const parsed = parseCommandLine('{"cmd":"send","uids":[1,"b"],"data":"x","id":9}');
  assert.deepEqual(parsed, {
    ok: true,
    command: { cmd: "send", id: 9, uids: ["1", "b"], publication: new Publication("x") },
  });
});

Deno.test("parseCommandLine() reads every command", () => {
  const cmdOf = (line: string) => {
    const parsed = parseCommandLine(line);
    assert.ok(parsed.ok, line);
    return parsed.command;
  };
  assert.deepEqual(cmdOf('{"cmd":"publish","group":"g","data":1}'), {
    cmd: "publish",
    id: undefined,
    group: "g",
    publication: new Publication("1"),
  });
  assert.deepEqual(cmdOf('{"cmd":"join","uid":"u","group":"g"}'), {
    cmd: "join",
    id: undefined,
    uid: "u",
    group: "g",
  });
  assert.equal(cmdOf('{"cmd":"leave","uid":"u","group":"g"}').cmd, "leave");
  assert.equal(cmdOf('{"cmd":"kick","uid":"u"}').cmd, "kick");
  assert.equal(cmdOf('{"cmd":"online","uid":"u"}').cmd, "online");
  assert.deepEqual(cmdOf('{"cmd":"count"}'), { cmd: "count", id: undefined, group: undefined });
  assert.deepEqual(cmdOf('{"cmd":"uids","group":"g","id":"q"}'), {
    cmd: "uids",
    id: "q",
    group: "g",
  });
  assert.deepEqual(cmdOf('{"cmd":"stats"}'), { cmd: "stats", id: undefined });
});

Deno.test("parseCommandLine() names the problem of each bad request", () => {
  const errorOf = (line: string) => {
    const parsed = parseCommandLine(line);
    assert.ok(!parsed.ok, line);
    return parsed;
  };
  assert.equal(errorOf("{nope").error.code, "bad_json");
  assert.equal(errorOf("[1,2]").error.code, "not_object");
  assert.equal(errorOf('"uid1"').error.code, "not_object");
  assert.equal(errorOf("null").error.code, "not_object");
  assert.deepEqual(errorOf('{"cmd":"explode","id":3}'), {
    ok: false,
    id: 3,
    error: { code: "unknown_cmd", message: 'Cannot run "cmd": unknown command "explode"' },
  });
  assert.equal(errorOf('{"cmd":7}').error.code, "bad_field");
  assert.equal(errorOf('{"data":"x"}').error.message, 'Cannot run this command: "uid" is missing');
  assert.equal(
    errorOf('{"uid":true,"data":"x"}').error.message,
    'Cannot use "uid": must be a non-empty string or an integer, got a boolean',
  );
  assert.equal(errorOf('{"uid":"","data":"x"}').error.code, "bad_field");
  assert.equal(errorOf('{"uid":1.5,"data":"x"}').error.code, "bad_field");
  assert.equal(
    errorOf('{"uids":["a",{}],"data":"x"}').error.message,
    'Cannot use "uids[1]": must be a non-empty string or an integer, got an object',
  );
  assert.equal(errorOf('{"uids":"a","data":"x"}').error.code, "bad_field");
  assert.equal(errorOf('{"uid":"u"}').error.message, 'Cannot push: "data" is missing');
  assert.equal(errorOf('{"cmd":"publish","data":1}').error.code, "bad_field");
  assert.equal(errorOf('{"cmd":"join","uid":"u"}').error.code, "bad_field");
  assert.equal(errorOf('{"cmd":"stats","id":{"x":1}}').error.code, "bad_field");
  assert.equal(errorOf('{"cmd":"stats","id":{"x":1}}').id, undefined);
});

Deno.test("parseCommandLine() echoes the id of a request it refuses", () => {
  const parsed = parseCommandLine('{"id":"abc","cmd":"send"}');
  assert.ok(!parsed.ok);
  assert.equal(parsed.id, "abc");
});

Deno.test("parseCommandLine() refuses an empty uids list instead of answering fail", () => {
  const parsed = parseCommandLine('{"uids":[],"data":"x","id":1}');
  assert.deepEqual(parsed, {
    ok: false,
    id: 1,
    error: {
      code: "bad_field",
      message: 'Cannot use "uids": must be a non-empty array, got an empty array',
    },
  });
});

Deno.test("parseCommandLine() refuses unknown fields on commands that take no payload", () => {
  for (
    const line of [
      '{"cmd":"kick","uid":"u","reason":"spam"}',
      '{"cmd":"join","uid":"u","group":"g","data":"x"}',
      '{"cmd":"leave","uid":"u","group":"g","groups":["h"]}',
      '{"cmd":"online","uid":"u","uids":["v"]}',
      '{"cmd":"count","uid":"u"}',
      '{"cmd":"uids","groups":"g"}',
      '{"cmd":"stats","verbose":true}',
    ]
  ) {
    const parsed = parseCommandLine(line);
    assert.ok(!parsed.ok, line);
    assert.equal(parsed.error.code, "bad_field", line);
  }
  const parsed = parseCommandLine('{"cmd":"kick","uid":"u","reason":"spam"}');
  assert.ok(!parsed.ok);
  assert.equal(parsed.error.message, 'Cannot use "reason": "kick" takes only "cmd", "id", "uid"');
});
