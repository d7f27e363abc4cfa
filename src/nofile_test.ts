import assert from "node:assert/strict";
import { parseLimits, readNofileLimit } from "./nofile.ts";

Deno.test("parseLimits() reads the soft open-files limit of /proc/<pid>/limits", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max open files            1024                 524288               files     ",
  ].join("\n");
  assert.equal(parseLimits(text), 1024);
  assert.equal(parseLimits("Max open files  unlimited  unlimited  files"), Infinity);
  assert.equal(parseLimits("nothing here"), undefined);
});

Deno.test("readNofileLimit() falls back to HERALD_NOFILE_SOFT and says when it cannot know", () => {
  const granted = Deno.permissions.querySync({ name: "read", path: "/proc/self/limits" });
  if (granted.state === "granted") return; // Under --allow-all the file wins; covered above.
  assert.deepEqual(readNofileLimit({ HERALD_NOFILE_SOFT: "65536" }), {
    known: true,
    soft: 65536,
    source: "HERALD_NOFILE_SOFT",
  });
  const unknown = readNofileLimit({});
  assert.ok(!unknown.known && unknown.why.includes("HERALD_NOFILE_SOFT"));
});
