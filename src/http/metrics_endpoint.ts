/**
 * `GET /metrics`: the Prometheus text exposition, behind the API keys (Prometheus sends one with
 * `authorization: {credentials: …}`); 404 while no key is configured, as `/api`.
 * @module
 */
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/exposition.ts";
import type { ApiKeys } from "./api_keys.ts";
import type { Handler } from "./router.ts";

/** Answers with `render()` to a request bearing a valid API key. */
export function metricsHandler(keys: ApiKeys, render: () => string): Handler {
  return (request) => {
    if (!keys.enabled) {
      return Response.json({
        error: { code: "not_found", message: "Cannot serve /metrics: no --api-key is configured" },
      }, { status: 404 });
    }
    if (!keys.verify(request.headers.get("authorization"))) {
      return Response.json({
        error: {
          code: "unauthorized",
          message: "Cannot serve /metrics: send a key of --api-key as Authorization: Bearer <key>",
        },
      }, { status: 401, headers: { "www-authenticate": 'Bearer realm="herald"' } });
    }
    return new Response(render(), { headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  };
}
