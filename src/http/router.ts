/**
 * The WebSocket port's one router. A request asking for a WebSocket goes to the upgrade route
 * whatever its path (proxies often put Herald under `/ws`); every other request is matched by
 * path, then method. Handlers take a plain `Request`, so tests call them with `new Request(…)`.
 * @module
 */

/** Serves one request. `info` is absent when a test calls the handler directly. */
export type Handler = (
  request: Request,
  info?: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Routes a port's requests to handlers registered by method and exact path. */
export class Router {
  readonly #upgrade: Handler;
  /** Path → method → handler. */
  readonly #routes = new Map<string, Map<string, Handler>>();

  /** `upgrade` gets every request with `Upgrade: websocket`, on any path. */
  constructor(upgrade: Handler) {
    this.#upgrade = upgrade;
  }

  /** Serves `path` for each of `methods`; a GET route answers HEAD too. */
  route(methods: readonly string[], path: string, handler: Handler): this {
    let byMethod = this.#routes.get(path);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#routes.set(path, byMethod);
    }
    for (const method of methods) {
      if (byMethod.has(method)) {
        throw new Error(`Cannot route ${method} ${path}: already routed`);
      }
      byMethod.set(method, handler);
      if (method === "GET" && !byMethod.has("HEAD")) byMethod.set("HEAD", handler);
    }
    return this;
  }

  /** The handler `Deno.serve` calls. */
  handle = (
    request: Request,
    info?: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> => {
    // Checked first and without parsing the URL: every connection comes this way.
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return this.#upgrade(request, info);
    }
    const byMethod = this.#routes.get(pathOf(request.url));
    if (byMethod === undefined) {
      return new Response("Herald: open a WebSocket here\n", {
        status: 426,
        headers: { upgrade: "websocket" },
      });
    }
    const handler = byMethod.get(request.method);
    if (handler === undefined) {
      return new Response(`method ${request.method} not allowed\n`, {
        status: 405,
        headers: { allow: [...byMethod.keys()].join(", ") },
      });
    }
    return handler(request, info);
  };
}

/** The path of an absolute request URL, without building a URL object. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  // A request URL has no fragment: the path ends at the query, if any.
  const query = url.indexOf("?", start);
  return url.slice(start, query === -1 ? undefined : query);
}
