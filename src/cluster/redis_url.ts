/**
 * The cluster's Redis URL: checked when the config is loaded, and shown only with its password
 * hidden. Pure string work: importing it loads no Redis client.
 * @module
 */

/** Why `url` cannot name the cluster's Redis, or undefined when it can. Never quotes `url`. */
export function redisUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be a URL like redis://[user:pass@]host:port[/db]";
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return "must start with redis:// or rediss:// (TLS)";
  }
  if (parsed.hostname === "") return "must name a host";
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^(?:[0-9]|[1-9][0-9]{1,3})$/.test(db)) {
    return "must end with a database number 0-9999 after the host, or nothing";
  }
  if (parsed.search !== "" || parsed.hash !== "") return "must not carry a query or a fragment";
  return undefined;
}

/**
 * `url` with its password replaced by `***`, for logs and errors. Anything that is not a
 * redis:// or rediss:// URL is not shown at all: `user:secret@host` parses with `user:` as its
 * scheme and the secret in its path.
 */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(not a URL, not shown)";
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    return "(not a redis:// URL, not shown)";
  }
  if (parsed.password !== "") parsed.password = "***";
  return parsed.href;
}
