/**
 * The SDK in real headless Chromium, loaded from Herald's own /herald.js: it receives pushes,
 * and after Herald restarts it reconnects, is told nothing could be recovered (a new epoch), and
 * receives again. Playwright reads files under /proc/sys that Deno grants only with --allow-all,
 * so `deno task test` runs this file apart, with it, by name (it is not named *_test.ts, so the
 * main run, with narrow permissions, does not pick it up).
 * @module
 */
import assert from "node:assert/strict";
import { launchChromium } from "../support/chromium.ts";
import { ControlClient } from "../support/control_client.ts";
import { freePort } from "../support/ports.ts";
import { startTestHerald } from "../support/test_herald.ts";
import { eventually } from "../support/wait.ts";

// Playwright keeps pipes and timers to the browser between calls, which the op sanitizer would
// count against the test; the browser is closed in `finally` all the same.
Deno.test({
  name: "browser: the SDK from /herald.js receives pushes in Chromium and recovers after a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const wsPort = freePort();
    let herald = await startTestHerald({ wsPort });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      // Any page of Herald's origin will do; the module is imported from it as a page would.
      await page.goto(`http://127.0.0.1:${wsPort}/healthz`);
      await page.evaluate(async (url) => {
        const { HeraldClient } = await import("/herald.js");
        const w = globalThis as unknown as Record<string, unknown>;
        const got: unknown[] = [];
        const states: string[] = [];
        const resumes: unknown[] = [];
        w.got = got;
        w.states = states;
        w.resumes = resumes;
        w.client = new HeraldClient(url, {
          uid: "browser",
          onMessage: (data: unknown) => got.push(data),
          onState: (state: string) => states.push(state),
          onResume: (result: unknown) => resumes.push(result),
          minDelayMs: 100,
          maxDelayMs: 500,
        });
      }, `ws://127.0.0.1:${wsPort}/`);
      // deno-lint-ignore no-explicit-any -- what the page recorded, as JSON.
      const read = (name: string): Promise<any> =>
        page.evaluate((key) => (globalThis as unknown as Record<string, unknown>)[key], name);
      await eventually(() => herald.hub.connectionsOf("browser") === 1, 20_000, "Chromium");
      {
        using backend = await ControlClient.connect(herald.controlAddr);
        assert.equal(await backend.request({ uid: "browser", data: { n: 1 } }), "ok");
      }
      await eventually(async () => (await read("got")).length === 1, 10_000, "the first push");

      await herald.shutdown();
      herald = await startTestHerald({ wsPort });
      await eventually(async () => (await read("resumes")).length === 1, 20_000, "the resume");
      const [resume] = await read("resumes");
      assert.equal(resume.recovered, false, "a restarted Herald has new epochs");
      {
        using backend = await ControlClient.connect(herald.controlAddr);
        assert.equal(await backend.request({ uid: "browser", data: "after" }), "ok");
      }
      await eventually(async () => (await read("got")).length === 2, 10_000, "a push after it");
      assert.deepEqual(await read("got"), [{ n: 1 }, "after"]);
      const states: string[] = await read("states");
      assert.deepEqual(states.slice(0, 1), ["connected"]);
      assert.ok(states.includes("disconnected"), states.join());
      assert.equal(states.at(-1), "connected");
      await page.evaluate(() =>
        (globalThis as unknown as Record<string, { close(): void }>).client?.close()
      );
    } finally {
      await browser.close();
      await herald.shutdown();
    }
  },
});
