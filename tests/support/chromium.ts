/**
 * Headless Chromium for the page tests (Debian's `chromium`, driven by npm `playwright-core`;
 * nothing is downloaded). A missing browser is an installation error, not a skip.
 * @module
 */
import { type Browser, chromium } from "playwright-core";

/** Where Chromium is: Debian's, unless HERALD_TEST_CHROMIUM says otherwise. */
const CHROMIUM = Deno.env.get("HERALD_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** Flags for a closed network: no background connections to hosts that cannot be reached. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Launches headless Chromium, or throws saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` ` +
        "(deno task test does as root on Debian), or set HERALD_TEST_CHROMIUM",
    );
  }
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
