/**
 * `POST /api`: the control port's commands over HTTP, for backends that would rather POST than
 * hold a TCP socket. The body is one command object or an array of them (a batch, run in order);
 * the reply is the control port's JSON reply for each. The same parser and `dispatch` run them.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Awaitable } from "../awaitable.ts";
import { parseCommand } from "../command.ts";
import { errorReply, type JsonReply, outcomeReply } from "../control/reply.ts";
import { dispatch, type DispatchContext } from "../dispatch.ts";
import { type ApiKeys, jsonError, notConfigured, unauthorized } from "./api_keys.ts";
import type { Handler } from "./router.ts";

const log = getLogger(["herald", "api"]);

/** Every method `/api` is routed for, so that each gets 404 while the API is off. */
export const API_METHODS: readonly string[] = ["POST", "GET", "PUT", "PATCH", "DELETE", "OPTIONS"];

/** Options of {@linkcode apiHandler}. */
export interface ApiOptions {
  readonly keys: ApiKeys;
  /** Largest body in bytes; a longer one gets 413 and is not read further. */
  readonly maxBodyBytes: number;
  readonly context: DispatchContext;
}

/**
 * Answers `/api`: 404 with no key configured, 405 for a method other than POST, 401 without a
 * valid `Authorization: Bearer` key, 415 for a content type other than JSON, 413 over the body
 * limit, 400 for a body that is not UTF-8 JSON, else 200 with the replies.
 */
export function apiHandler(options: ApiOptions): Handler {
  return async (request) => {
    if (!options.keys.enabled) return notConfigured("/api");
    if (request.method !== "POST") {
      return jsonError(
        405,
        "method_not_allowed",
        `Cannot run ${request.method} /api: send commands with POST`,
        { allow: "POST" },
      );
    }
    if (!options.keys.verify(request.headers.get("authorization"))) {
      return unauthorized("run commands");
    }
    const contentType = request.headers.get("content-type");
    if (!isJson(contentType)) {
      return jsonError(
        415,
        "bad_content_type",
        `Cannot run the body: Content-Type must be application/json: current value is ${
          contentType?.slice(0, 100) ?? "none"
        }`,
      );
    }
    const body = await readBody(request, options.maxBodyBytes);
    if (body.kind === "too_large") {
      return jsonError(
        413,
        "body_too_large",
        `Cannot run the body: over --max-api-body-bytes (${options.maxBodyBytes} bytes)`,
      );
    }
    if (body.kind === "not_utf8") {
      return jsonError(400, "bad_encoding", "Cannot read the body: not UTF-8");
    }
    if (body.kind !== "text") {
      return jsonError(400, "bad_json", "Cannot read the body: the request ended early");
    }
    let value: unknown;
    try {
      value = JSON.parse(body.text);
    } catch (error) {
      return jsonError(400, "bad_json", `Cannot parse JSON: ${(error as SyntaxError).message}`);
    }
    let replies: JsonReply | JsonReply[];
    if (Array.isArray(value)) {
      replies = [];
      // In order, each done before the next: a batch's commands see each other's effects, as
      // on one line. A push the local broker answers at once is not awaited (no promise each).
      for (const item of value) {
        const reply = run(item, options.context);
        replies.push(reply instanceof Promise ? await reply : reply);
      }
    } else {
      replies = await run(value, options.context);
    }
    return Response.json(replies);
  };
}

function run(value: unknown, context: DispatchContext): Awaitable<JsonReply> {
  const parsed = parseCommand(value);
  if (!parsed.ok) {
    log.warn("Refused API command: {code}: {message}", { ...parsed.error });
    return errorReply(parsed.error, parsed.id);
  }
  const { command } = parsed;
  const outcome = dispatch(command, context);
  return outcome instanceof Promise
    ? outcome.then((done) => outcomeReply(command, done))
    : outcomeReply(command, outcome);
}

/** `application/json`, with parameters (charset) or not, any case. */
function isJson(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semicolon = contentType.indexOf(";");
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return type.toLowerCase() === "application/json";
}

type Body =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "too_large" }
  | { readonly kind: "not_utf8" }
  | { readonly kind: "aborted" };

/** Reads the body as UTF-8, stopping as soon as it passes `max` bytes (announced or not). */
async function readBody(request: Request, max: number): Promise<Body> {
  const announced = Number(request.headers.get("content-length") ?? "NaN");
  if (announced > max) {
    await request.body?.cancel().catch(() => {});
    return { kind: "too_large" };
  }
  if (request.body === null) return { kind: "text", text: "" };
  let bytes: Uint8Array;
  if (Number.isInteger(announced)) {
    // The length is known and within bounds (the server holds the peer to it): one read, which
    // costs far less than walking the stream's chunks.
    try {
      bytes = new Uint8Array(await request.arrayBuffer());
    } catch {
      return { kind: "aborted" };
    }
  } else {
    const streamed = await readStream(request.body, max);
    if (streamed === undefined || streamed === "too_large") {
      return { kind: streamed === undefined ? "aborted" : "too_large" };
    }
    bytes = streamed;
  }
  try {
    return { kind: "text", text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { kind: "not_utf8" };
  }
}

/** Reads a body of unknown length, stopping as soon as it passes `max` bytes. */
async function readStream(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array | "too_large" | undefined> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > max) {
        await reader.cancel().catch(() => {});
        return "too_large";
      }
      chunks.push(value);
    }
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
