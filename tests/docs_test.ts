/**
 * The replies README.md and docs/protocol.md show are the ones Herald sends: every documented
 * example is parsed (`N` read as 0) and its keys compared with a real reply's.
 * @module
 */
import assert from "node:assert/strict";
import { CLOSE, type CloseCode } from "../src/errors.ts";
import { ControlClient } from "./support/control_client.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const PROTOCOL = await Deno.readTextFile(new URL("../docs/protocol.md", import.meta.url));

/** The JSON examples (`{…}` in backticks) within the first match of `pattern` in `doc`. */
function examples(doc: string, pattern: RegExp): Record<string, unknown>[] {
  const region = doc.match(pattern)?.[0];
  assert.ok(region !== undefined, `nothing matches ${pattern}`);
  return [...region.matchAll(/`(\{[^`]*\})`/g)].map((m) =>
    JSON.parse(m[1]!.replaceAll(/\bN\b/g, "0"))
  );
}

const keys = (value: object) => Object.keys(value).sort();

test("docs: GET /healthz answers with the documented keys", async () => {
  await using herald = await startTestHerald();
  const reply = await fetch(`http://127.0.0.1:${herald.wsAddr.port}/healthz`);
  const body = await reply.json();
  const [documented] = examples(PROTOCOL, /`GET \/healthz` answers `200` with\s+`[^`]*`/);
  assert.deepEqual(keys(body), keys(documented!));
});

test("docs: count answers with the documented keys, with and without a group", async () => {
  await using herald = await startTestHerald();
  await using _client = await TestClient.identified(herald.wsUrl, "u");
  using control = await ControlClient.connect(herald.controlAddr);
  assert.equal(await control.request({ cmd: "join", uid: "u", group: "g" }), "ok");
  const total = (await control.query({ cmd: "count" })).result as object;
  const group = (await control.query({ cmd: "count", group: "g" })).result as object;
  for (const doc of [README, PROTOCOL]) {
    const [documentedTotal, documentedGroup] = examples(doc, /^\| `count` .*$/m);
    assert.deepEqual(keys(total), keys(documentedTotal!));
    assert.ok(documentedGroup !== undefined, "the count row shows the reply with a group");
    assert.deepEqual(keys(group), keys(documentedGroup));
  }
});

test("docs: both close-code tables give each code's reason and retry rule as CLOSE has them", () => {
  const rules = new Map<number, Set<string>>();
  for (const close of Object.values(CLOSE) as CloseCode[]) {
    const cell = close.advice === undefined
      ? (close.reconnect ? "yes" : "no")
      : `${close.reconnect ? "yes" : "no"}, ${close.advice}`;
    rules.set(close.code, (rules.get(close.code) ?? new Set()).add(cell));
  }
  for (const rule of rules.values()) assert.equal(rule.size, 1, "one retry rule per code");
  for (const [name, doc] of [["README.md", README], ["docs/protocol.md", PROTOCOL]] as const) {
    const rows = [...doc.matchAll(/^\| (\d{4}) \|(.*)\| ([^|]+?) +\|$/gm)];
    const documented = new Map(rows.map((row) => [Number(row[1]), row[3]!]));
    assert.deepEqual([...documented.keys()], [...rules.keys()], `${name}: the codes`);
    for (const [code, rule] of rules) {
      assert.equal(documented.get(code), [...rule][0], `${name}: what to do after ${code}`);
    }
  }
  const protocolReasons = [...PROTOCOL.matchAll(/^\| (\d{4}) \| ([a-z ]+?) +\|/gm)];
  for (const [, code, reason] of protocolReasons) {
    const known = Object.values(CLOSE).filter((close) => close.code === Number(code));
    assert.ok(
      known.some((close) => close.reason === reason),
      `docs/protocol.md: ${code} ${reason}`,
    );
  }
});
