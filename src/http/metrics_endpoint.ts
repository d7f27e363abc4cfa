/**
 * `GET /metrics`: the Prometheus text exposition, behind the API keys (Prometheus sends one with
 * `authorization: {credentials: …}`); 404 while no key is configured, as `/api`.
 * @module
 */
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/exposition.ts";
import { type ApiKeys, notConfigured, unauthorized } from "./api_keys.ts";
import type { Handler } from "./router.ts";

/** Answers with `render()` to a request bearing a valid API key. */
export function metricsHandler(keys: ApiKeys, render: () => string): Handler {
  return (request) => {
    if (!keys.enabled) return notConfigured("/metrics");
    if (!keys.verify(request.headers.get("authorization"))) return unauthorized("serve /metrics");
    return new Response(render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  };
}
