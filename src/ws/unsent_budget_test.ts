import assert from "node:assert/strict";
import { UnsentBudget, type UnsentHolder } from "./unsent_budget.ts";

class FakeHolder implements UnsentHolder {
  shedCount = 0;
  constructor(public bytes: number) {}
  measure(): number {
    return this.bytes;
  }
  shed(): void {
    this.shedCount++;
  }
}

Deno.test("UnsentBudget.report() sums what holders hold and forget() removes one", () => {
  const budget = new UnsentBudget(1000);
  const a = new FakeHolder(100);
  const b = new FakeHolder(200);
  budget.report(a, 100);
  budget.report(b, 200);
  budget.report(a, 300);
  assert.equal(budget.totalBytes, 500);
  budget.forget(a);
  assert.equal(budget.totalBytes, 200);
});

Deno.test("UnsentBudget sheds the largest holders until the sum is at 90 % of the cap", () => {
  const budget = new UnsentBudget(1000);
  const small = new FakeHolder(100);
  const medium = new FakeHolder(300);
  const large = new FakeHolder(500);
  budget.report(small, 100);
  budget.report(medium, 300);
  budget.report(large, 500);
  assert.equal(large.shedCount, 0, "under the cap nothing is shed");
  const newcomer = new FakeHolder(200);
  budget.report(newcomer, 200);
  assert.deepEqual([small, medium, large, newcomer].map((h) => h.shedCount), [0, 0, 1, 0]);
});

Deno.test("UnsentBudget measures afresh before shedding: stale figures shed nobody", () => {
  const budget = new UnsentBudget(1000);
  const drained = new FakeHolder(900);
  budget.report(drained, 900);
  drained.bytes = 0; // Its reader caught up since it last reported.
  const other = new FakeHolder(500);
  budget.report(other, 500);
  assert.equal(drained.shedCount + other.shedCount, 0);
  assert.equal(budget.totalBytes, 500);
});

Deno.test("new UnsentBudget() refuses a cap below one byte", () => {
  assert.throws(() => new UnsentBudget(0), RangeError);
});
