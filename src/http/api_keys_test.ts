import assert from "node:assert/strict";
import { ApiKeys } from "./api_keys.ts";

const KEY = "api-key-0123456789abcdef";
const OTHER = "other-key-0123456789abc";

Deno.test("ApiKeys.verify() takes any configured key as a Bearer credential, nothing else", () => {
  const keys = new ApiKeys([KEY, OTHER]);
  assert.ok(keys.enabled);
  assert.ok(keys.verify(`Bearer ${KEY}`));
  assert.ok(keys.verify(`bearer ${OTHER}`));
  for (
    const header of [null, "", KEY, `Bearer`, `Bearer ${KEY}x`, `Basic ${KEY}`, `Bearer ${KEY} x`]
  ) {
    assert.equal(keys.verify(header), false, String(header));
  }
});

Deno.test("ApiKeys.set() replaces the keys; none disables them", () => {
  const keys = new ApiKeys([KEY]);
  keys.set([OTHER]);
  assert.equal(keys.verify(`Bearer ${KEY}`), false);
  assert.ok(keys.verify(`Bearer ${OTHER}`));
  keys.set([]);
  assert.equal(keys.enabled, false);
  assert.equal(keys.verify(`Bearer ${OTHER}`), false);
});
