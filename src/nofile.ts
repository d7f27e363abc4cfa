/**
 * The soft RLIMIT_NOFILE, which caps open sockets. A compiled Deno binary does not raise it the
 * way the `deno` CLI does, so under systemd it is whatever `LimitNOFILE=` says.
 * @module
 */

/** The soft limit and how it was learnt, or why it is unknown. */
export type NofileLimit =
  | { readonly known: true; readonly soft: number; readonly source: string }
  | { readonly known: false; readonly why: string };

/** The environment variable the systemd unit fills with `ulimit -Sn` before starting Herald. */
export const NOFILE_ENV = "HERALD_NOFILE_SOFT";

const LIMITS_PATH = "/proc/self/limits";

/**
 * Reads the soft limit from /proc/self/limits when allowed (Deno 2.9 asks for --allow-all for
 * any /proc/<pid> path), else from {@linkcode NOFILE_ENV}.
 */
export function readNofileLimit(env: Readonly<Record<string, string | undefined>>): NofileLimit {
  if (Deno.permissions.querySync({ name: "read", path: LIMITS_PATH }).state === "granted") {
    try {
      const soft = parseLimits(Deno.readTextFileSync(LIMITS_PATH));
      if (soft !== undefined) return { known: true, soft, source: LIMITS_PATH };
    } catch {
      // Fall back to the environment.
    }
  }
  const fromEnv = env[NOFILE_ENV]?.trim();
  if (fromEnv === "unlimited") return { known: true, soft: Infinity, source: NOFILE_ENV };
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) {
    return { known: true, soft: Number(fromEnv), source: NOFILE_ENV };
  }
  return { known: false, why: `${NOFILE_ENV} is not set` };
}

/** The soft "Max open files" of a /proc/<pid>/limits text. */
export function parseLimits(text: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  if (soft === "unlimited") return Infinity;
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
}
