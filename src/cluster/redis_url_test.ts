import assert from "node:assert/strict";
import { redactRedisUrl, redisUrlProblem } from "./redis_url.ts";

Deno.test("redisUrlProblem() accepts redis:// and rediss:// with or without user, password, db", () => {
  for (
    const url of [
      "redis://127.0.0.1:6379",
      "redis://redis",
      "rediss://user:p%40ss@redis.example:6380/15",
      "redis://:pw@[::1]:6379/0",
    ]
  ) {
    assert.equal(redisUrlProblem(url), undefined, url);
  }
});

Deno.test("redisUrlProblem() says what is wrong without quoting the URL", () => {
  const cases: Array<[string, RegExp]> = [
    ["127.0.0.1:6379", /must be a URL like redis:\/\//],
    ["user:secret@h:6379", /must start with redis:\/\/ or rediss:\/\//],
    ["redis://:secret@h/abc", /database number 0-9999/],
    ["redis://:secret@h/10000", /database number 0-9999/],
    ["redis://:secret@h/?db=1", /query or a fragment/],
    ["nonsense", /must be a URL like/],
  ];
  for (const [url, problem] of cases) {
    const found = redisUrlProblem(url);
    assert.match(found ?? "", problem, url);
    assert.doesNotMatch(found!, /secret/);
  }
});

Deno.test("redactRedisUrl() hides the password and nothing else", () => {
  assert.equal(redactRedisUrl("redis://u:hunter2@h:1/2"), "redis://u:***@h:1/2");
  assert.equal(redactRedisUrl("redis://h:1"), "redis://h:1");
  assert.equal(redactRedisUrl("::not a url hunter2"), "(not a URL, not shown)");
  assert.equal(redactRedisUrl("user:hunter2@h:6379"), "(not a redis:// URL, not shown)");
});
