/**
 * `GET /herald.js`: the browser SDK (client/) as one ES module, embedded in the code so the
 * compiled binary needs no file beside it.
 * @module
 */
import { HERALD_JS } from "./herald_js.ts";

/** Serves the SDK; any origin may import it (it is public code). */
export function clientScriptHandler(): Response {
  return new Response(HERALD_JS, {
    headers: {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-cache",
      "access-control-allow-origin": "*",
    },
  });
}
