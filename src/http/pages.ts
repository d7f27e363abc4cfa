/**
 * The pages served on the WebSocket port: `GET /dashboard` (behind the API keys, which the page
 * asks for) and `GET /demo` (with --demo). Their files are imported as text, so the compiled
 * binary and the bundle carry them with nothing beside them; uPlot (MIT) is inlined into the
 * dashboard from its npm package.
 * @module
 */
import UPLOT_JS from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import UPLOT_CSS from "uplot/dist/uPlot.min.css" with { type: "text" };
import DASHBOARD_HTML from "./pages/dashboard.html" with { type: "text" };
import DEMO_HTML from "./pages/demo.html" with { type: "text" };
import type { ApiKeys } from "./api_keys.ts";
import type { Handler } from "./router.ts";

const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * Serves the dashboard page; 404 while no API key is configured, since it shows nothing
 * without one. The page itself holds no data: it reads /metrics and /api with the key it asks for.
 */
export function dashboardHandler(keys: ApiKeys): Handler {
  // A function as replacement: uPlot's code holds `$&`-like sequences a string would expand.
  const page = DASHBOARD_HTML
    .replace("/*UPLOT_CSS*/", () => UPLOT_CSS)
    .replace("/*UPLOT_JS*/", () => UPLOT_JS);
  return () => {
    if (!keys.enabled) {
      return new Response("Herald: the dashboard needs --api-key\n", { status: 404 });
    }
    return new Response(page, { headers: PAGE_HEADERS });
  };
}

/** Serves the demo page: the SDK from /herald.js, a progress bar and a form that pushes to it. */
export function demoHandler(): Handler {
  return () => new Response(DEMO_HTML, { headers: PAGE_HEADERS });
}
