/**
 * The dashboard and the demo in real headless Chromium (Debian's `chromium`, driven by
 * npm:playwright-core) against a real Herald: no console errors, the chart follows pushes, a push
 * moves the demo's progress bar, and the demo's SDK reconnects after Herald restarts. Screenshots
 * go to `<temp dir>/herald-browser-tests/`.
 *
 * `deno task test` runs this file on its own with --allow-all: playwright-core looks at
 * /proc/sys/fs/binfmt_misc when it loads, which Deno allows only then. The other tests keep
 * their narrower permissions.
 * @module
 */
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./support/chromium.ts";
import { ControlClient } from "./support/control_client.ts";
import { freePort } from "./support/ports.ts";
import { TestClient } from "./support/test_client.ts";
import { startTestHerald, test } from "./support/test_herald.ts";

/** What the functions run in the page use of its DOM (this file is type-checked without DOM). */
declare const document: {
  getElementById(id: string): {
    readonly textContent: string | null;
    readonly dataset: Record<string, string | undefined>;
    getAttribute(name: string): string | null;
  } | null;
};

const KEY = "browser-test-key-0123456789";
const SCREENSHOTS = `${tmpdir()}/herald-browser-tests`;
const PATIENCE_MS = 20_000;

/** A page that records every console error and uncaught exception. */
async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(`uncaught: ${error.message}`));
  return { page, errors };
}

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
}

/** Browser tests: Chromium's pipes and playwright's timers are ours to close, and are. */
function browserTest(name: string, fn: (browser: Browser) => Promise<void>): void {
  test(name, async () => {
    const browser = await launchChromium();
    try {
      await fn(browser);
    } finally {
      await browser.close();
    }
  });
}

browserTest(
  "browser: the dashboard asks for a key, then charts connections and pushes",
  async (browser) => {
    await using herald = await startTestHerald({ apiKeys: [KEY] });
    await using _alice = await TestClient.identified(herald.wsUrl, "alice");
    await using _bob = await TestClient.identified(herald.wsUrl, "bob");
    using control = await ControlClient.connect(herald.controlAddr);
    assert.equal(await control.request({ cmd: "join", uid: "alice", group: "room" }), "ok");
    const { page, errors } = await openPage(browser);
    await page.goto(`http://127.0.0.1:${herald.wsAddr.port}/dashboard?interval=250`);
    await page.locator("#key").fill(KEY);
    await page.locator("#key-form button").click();
    await page.waitForFunction(
      () => Number(document.getElementById("chart")!.dataset.points) >= 2,
      null,
      {
        timeout: PATIENCE_MS,
      },
    );
    assert.equal(await page.textContent("#connections"), "2");
    for (let i = 0; i < 40; i++) {
      assert.equal(await control.request({ cmd: "publish", group: "room", data: i }), "ok");
    }
    await page.waitForFunction(
      () =>
        document.getElementById("pushes-total")!.textContent === "40" &&
        Number(document.getElementById("chart")!.dataset.maxRate) > 0,
      null,
      { timeout: PATIENCE_MS },
    );
    const pointsBefore = Number(await page.getAttribute("#chart", "data-points"));
    await page.waitForFunction(
      (before) => Number(document.getElementById("chart")!.dataset.points) > before,
      pointsBefore,
      { timeout: PATIENCE_MS },
    );
    assert.ok(await page.locator("#chart canvas").count() > 0, "uPlot drew its canvas");
    assert.match(await page.textContent("#groups") ?? "", /room\s*1/);
    assert.match(await page.textContent("#uids") ?? "", /alice/);
    // A kick shows up among the recent disconnects, with its meaning.
    assert.equal(await control.request({ cmd: "kick", uid: "bob" }), "ok");
    await page.waitForFunction(
      () => /4005\s*kicked\s*1/.test(document.getElementById("disconnects")!.textContent ?? ""),
      null,
      { timeout: PATIENCE_MS },
    );
    await screenshot(page, "dashboard");
    assert.deepEqual(errors, []);
  },
);

browserTest(
  "browser: the demo connects through the SDK, the bar follows pushes, and it reconnects after a restart",
  async (browser) => {
    // Fixed ports, so the Herald started after the restart is where the page's SDK reconnects.
    const ports = { wsPort: freePort(), controlPort: freePort() };
    let herald = await startTestHerald({ apiKeys: [KEY], demo: true, ...ports });
    try {
      const { page, errors } = await openPage(browser);
      await page.goto(`http://127.0.0.1:${ports.wsPort}/demo`);
      await waitForState(page, "connected");
      const uid = await page.textContent("#uid");
      assert.match(uid ?? "", /^demo-[a-z0-9]+$/);
      assert.equal(herald.hub.connectionsOf(uid!), 1);
      await page.locator("#key").fill(KEY);
      await page.locator("#percent").fill("73");
      await page.locator("#push-form button").click();
      await waitForBar(page, "73");
      // The push reaches the bar through the socket, maybe before the form shows the reply.
      await page.waitForFunction(
        () => document.getElementById("reply")!.textContent !== "",
        null,
        { timeout: PATIENCE_MS },
      );
      assert.match(await page.textContent("#reply") ?? "", /^200: \{"result":\{"delivered":1\}\}/);
      {
        using control = await ControlClient.connect(herald.controlAddr);
        assert.equal(await control.request({ uid: uid!, percent: "15%" }), "ok");
      }
      await waitForBar(page, "15");
      await screenshot(page, "demo");
      assert.deepEqual([...errors], []); // A copy: asserting on `errors` would narrow it to never[].

      // A restart drops the link with 1001; nothing listens until the new Herald is up.
      await herald.shutdown();
      await waitForState(page, "disconnected");
      await screenshot(page, "demo-disconnected");
      herald = await startTestHerald({ apiKeys: [KEY], demo: true, ...ports });
      await waitForState(page, "connected");
      assert.equal(herald.hub.connectionsOf(uid!), 1);
      {
        using control = await ControlClient.connect(herald.controlAddr);
        assert.equal(await control.request({ uid: uid!, percent: "64%" }), "ok");
      }
      await waitForBar(page, "64");
      assert.match(await page.textContent("#received") ?? "", /pushes may have been missed/);
      await screenshot(page, "demo-reconnected");
      // Chromium itself logs each retry that found the port closed (or draining); the page's own
      // code logged nothing and threw nothing.
      const refused = `WebSocket connection to 'ws://127.0.0.1:${ports.wsPort}/' failed: `;
      assert.deepEqual(errors.filter((error) => !error.startsWith(refused)), []);
    } finally {
      await herald.shutdown();
    }
  },
);

/** Waits until the demo page shows the SDK's `state`. */
async function waitForState(page: Page, state: string): Promise<void> {
  await page.waitForFunction(
    (expected) => document.getElementById("status")!.dataset.state === expected,
    state,
    { timeout: PATIENCE_MS },
  );
}

/** Waits until the demo's progress bar stands at `percent`. */
async function waitForBar(page: Page, percent: string): Promise<void> {
  await page.waitForFunction(
    (expected) => document.getElementById("bar")!.getAttribute("aria-valuenow") === expected,
    percent,
    { timeout: PATIENCE_MS },
  );
}

test("browser: /demo is served only with --demo, /dashboard only with an API key", async () => {
  await using plain = await startTestHerald();
  for (const path of ["/demo", "/dashboard"]) {
    const response = await fetch(`http://127.0.0.1:${plain.wsAddr.port}${path}`);
    await response.body?.cancel();
    assert.notEqual(response.status, 200, path);
  }
  await using demo = await startTestHerald({ demo: true, apiKeys: [KEY] });
  for (const path of ["/demo", "/dashboard"]) {
    const response = await fetch(`http://127.0.0.1:${demo.wsAddr.port}${path}`);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await response.text();
    assert.ok(!html.includes("/*UPLOT_"), "the placeholders were filled");
  }
});
