/**
 * Parsing of backend requests into typed commands. A bad request becomes a typed error, never a
 * throw, so every transport can answer it and keep going.
 * @module
 */
import type { ControlError } from "./errors.ts";
import { Publication } from "./publication.ts";

/** A request's correlation id, echoed in JSON replies. */
export type RequestId = string | number;

/** A validated backend request. A push carries its publication, built once at parse time. */
export type Command =
  | {
    readonly cmd: "send";
    readonly id?: RequestId;
    readonly uids: string[];
    readonly publication: Publication;
    /** Seconds to keep the push for a uid that has no connection now (offline delivery). */
    readonly ttl?: number;
  }
  | {
    readonly cmd: "publish";
    readonly id?: RequestId;
    readonly group: string;
    readonly publication: Publication;
  }
  | { readonly cmd: "broadcast"; readonly id?: RequestId; readonly publication: Publication }
  | {
    readonly cmd: "join" | "leave";
    readonly id?: RequestId;
    readonly uid: string;
    readonly group: string;
  }
  | { readonly cmd: "kick" | "online"; readonly id?: RequestId; readonly uid: string }
  | { readonly cmd: "count" | "uids"; readonly id?: RequestId; readonly group?: string }
  | { readonly cmd: "stats"; readonly id?: RequestId };

/** The outcome of parsing one request. */
export type ParseResult =
  | { readonly ok: true; readonly command: Command }
  | { readonly ok: false; readonly id?: RequestId; readonly error: ControlError };

/** Commands that only read state: always answered in JSON. */
export const QUERY_COMMANDS: ReadonlySet<Command["cmd"]> = new Set([
  "online",
  "count",
  "stats",
  "uids",
]);

/** Fields that address a push; without `data`, the rest of the object is the payload. */
const ADDRESSING_FIELDS = new Set(["cmd", "id", "uid", "uids", "group", "ttl"]);

/** The longest offline `ttl` a push may ask for, in seconds (30 days). */
const MAX_TTL_SECONDS = 2_592_000;

/** Parses one request line (already decoded, newline stripped). */
export function parseCommandLine(line: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return fail("bad_json", `Cannot parse JSON: ${(error as SyntaxError).message}`);
  }
  return parseCommand(value);
}

/** Validates a request that is already parsed JSON. */
export function parseCommand(value: unknown): ParseResult {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(
      "not_object",
      `Cannot run a request that is not a JSON object: got ${kindOf(value)}`,
    );
  }
  const request = value as Record<string, unknown>;
  const id = request.id;
  if (id !== undefined && typeof id !== "string" && !(typeof id === "number" && isFinite(id))) {
    return fail("bad_field", `Cannot use "id": must be a string or a number, got ${kindOf(id)}`);
  }
  try {
    return { ok: true, command: buildCommand(request, id) };
  } catch (error) {
    if (error instanceof FieldError) return fail(error.code, error.message, id);
    throw error;
  }
}

const COMMAND_NAMES: ReadonlySet<string> = new Set<Command["cmd"]>([
  "send",
  "publish",
  "broadcast",
  "join",
  "leave",
  "kick",
  "online",
  "count",
  "uids",
  "stats",
]);

function buildCommand(request: Record<string, unknown>, id: RequestId | undefined): Command {
  const cmd = request.cmd ?? "send";
  if (typeof cmd !== "string") {
    throw new FieldError("bad_field", `Cannot use "cmd": must be a string, got ${kindOf(cmd)}`);
  }
  if (!COMMAND_NAMES.has(cmd)) {
    throw new FieldError(
      "unknown_cmd",
      `Cannot run "cmd": unknown command ${JSON.stringify(cmd.slice(0, 64))}`,
    );
  }
  if (request.ttl !== undefined && (cmd === "publish" || cmd === "broadcast")) {
    throw new FieldError(
      "bad_field",
      `Cannot use "ttl" with "${cmd}": offline delivery is per uid, use "send"`,
    );
  }
  switch (cmd as Command["cmd"]) {
    case "send": {
      const uids = request.uids === undefined ? [name(request, "uid")] : names(request, "uids");
      const publication = publicationOf(request);
      if (request.ttl === undefined) return { cmd: "send", id, uids, publication };
      return { cmd: "send", id, uids, publication, ttl: ttlOf(request.ttl) };
    }
    case "publish":
      return {
        cmd: "publish",
        id,
        group: name(request, "group"),
        publication: publicationOf(request),
      };
    case "broadcast":
      return { cmd: "broadcast", id, publication: publicationOf(request) };
  }
  // The rest take no payload: a field they do not know is a mistake, not data to ignore.
  const known = FIELDS_WITHOUT_PAYLOAD[cmd as CommandWithoutPayload];
  for (const key in request) {
    if (!known.has(key)) {
      throw new FieldError(
        "bad_field",
        `Cannot use ${JSON.stringify(key.slice(0, 64))}: "${cmd}" takes only ${
          [...known].map((field) => `"${field}"`).join(", ")
        }`,
      );
    }
  }
  switch (cmd as CommandWithoutPayload) {
    case "join":
    case "leave":
      return {
        cmd: cmd as "join" | "leave",
        id,
        uid: name(request, "uid"),
        group: name(request, "group"),
      };
    case "kick":
    case "online":
      return { cmd: cmd as "kick" | "online", id, uid: name(request, "uid") };
    case "count":
    case "uids":
      return {
        cmd: cmd as "count" | "uids",
        id,
        group: request.group === undefined ? undefined : name(request, "group"),
      };
    case "stats":
      return { cmd: "stats", id };
  }
}

type CommandWithoutPayload = Exclude<Command["cmd"], "send" | "publish" | "broadcast">;

const FIELDS_WITHOUT_PAYLOAD: Record<CommandWithoutPayload, ReadonlySet<string>> = {
  join: new Set(["cmd", "id", "uid", "group"]),
  leave: new Set(["cmd", "id", "uid", "group"]),
  kick: new Set(["cmd", "id", "uid"]),
  online: new Set(["cmd", "id", "uid"]),
  count: new Set(["cmd", "id", "group"]),
  uids: new Set(["cmd", "id", "group"]),
  stats: new Set(["cmd", "id"]),
};

/** What a push delivers: a JSON string verbatim, anything else as its JSON text. */
function publicationOf(request: Record<string, unknown>): Publication {
  let payload: unknown = request.data;
  if (payload === undefined) {
    const rest: Record<string, unknown> = {};
    let fields = 0;
    for (const key in request) {
      if (!ADDRESSING_FIELDS.has(key)) {
        rest[key] = request[key];
        fields++;
      }
    }
    if (fields === 0) throw new FieldError("bad_field", 'Cannot push: "data" is missing');
    payload = rest;
  }
  return Publication.of(payload);
}

/** An offline ttl: whole seconds, 1 to {@linkcode MAX_TTL_SECONDS}. */
function ttlOf(value: unknown): number {
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_TTL_SECONDS
  ) {
    throw new FieldError(
      "bad_field",
      `Cannot use "ttl": must be an integer 1-${MAX_TTL_SECONDS} (seconds): current value is ${
        JSON.stringify(value)?.slice(0, 64)
      }`,
    );
  }
  return value;
}

/** A uid or group: a non-empty string, or an integer (PHP backends often send numeric ids). */
function name(request: Record<string, unknown>, field: string): string {
  const value = request[field];
  const text = nameOf(value);
  if (text === undefined) {
    throw new FieldError(
      "bad_field",
      value === undefined
        ? `Cannot run this command: "${field}" is missing`
        : `Cannot use "${field}": must be a non-empty string or an integer, got ${kindOf(value)}`,
    );
  }
  return text;
}

function names(request: Record<string, unknown>, field: string): string[] {
  const value = request[field];
  if (!Array.isArray(value) || value.length === 0) {
    throw new FieldError(
      "bad_field",
      `Cannot use "${field}": must be a non-empty array, got ${
        Array.isArray(value) ? "an empty array" : kindOf(value)
      }`,
    );
  }
  return value.map((item, index) => {
    const text = nameOf(item);
    if (text === undefined) {
      throw new FieldError(
        "bad_field",
        `Cannot use "${field}[${index}]": must be a non-empty string or an integer, got ${
          kindOf(item)
        }`,
      );
    }
    return text;
  });
}

function nameOf(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return value === "" ? "an empty string" : "a string";
  return `a ${typeof value}`;
}

function fail(code: ControlError["code"], message: string, id?: RequestId): ParseResult {
  return id === undefined
    ? { ok: false, error: { code, message } }
    : { ok: false, id, error: { code, message } };
}

class FieldError extends Error {
  constructor(readonly code: ControlError["code"], message: string) {
    super(message);
  }
}
