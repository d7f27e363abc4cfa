/**
 * The generated entry both `deno task compile` and `deno task bundle` build from: it passes the
 * build facts (commit, date, form) to main.ts, so nothing in the source tree changes.
 * @module
 */
import { type BuildInfo, VERSION } from "../src/version.ts";

/** Folders and files a build may read by default: where its config file and TLS files live. */
export const DEFAULT_READ_PATHS: readonly string[] = ["/etc/herald"];

/** The repository's root folder, with a trailing slash. */
export const ROOT = new URL("..", import.meta.url).pathname;

/** A generated entry file; `await using` removes its folder. */
export interface BuildEntry extends AsyncDisposable {
  readonly path: string;
  readonly build: BuildInfo;
}

async function git(...args: string[]): Promise<string> {
  try {
    const output = await new Deno.Command("git", { args, cwd: ROOT, stderr: "null" }).output();
    return output.success ? new TextDecoder().decode(output.stdout).trim() : "";
  } catch {
    return ""; // No git: the build is still fine, only less traceable.
  }
}

/** Writes an entry under dist/ that runs main.ts with this checkout's build facts. */
export async function writeBuildEntry(form: BuildInfo["form"]): Promise<BuildEntry> {
  const commit = await git("rev-parse", "--short=12", "HEAD") || "unknown";
  const dirty = (await git("status", "--porcelain", "--untracked-files=no")) !== "";
  const build: BuildInfo = {
    commit: dirty ? `${commit}-dirty` : commit,
    date: new Date().toISOString(),
    form,
  };
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${ROOT}dist`, prefix: ".build-" });
  const path = `${dir}/herald.ts`;
  await Deno.writeTextFile(
    path,
    `import { run } from ${JSON.stringify(`${ROOT}main.ts`)};\n` +
      `await run(${JSON.stringify(build)});\n`,
  );
  return { path, build, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/**
 * Runs `command --version`: its first line, and whether it names this Herald version built as
 * `form` (e.g. "compiled binary"). A build step exits 0 whatever runtime it was given, so only
 * running the result tells.
 */
export async function heraldVersion(
  command: readonly string[],
  form: string,
): Promise<{ ok: boolean; version: string }> {
  const run = await new Deno.Command(command[0]!, {
    args: [...command.slice(1), "--version"],
    stdin: "null",
    stderr: "null",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const version = new TextDecoder().decode(run.stdout).split("\n")[0]!.trim();
  const expected = `herald ${VERSION} (`;
  const ok = run.success && version.startsWith(expected) && version.endsWith(`, ${form})`);
  return { ok, version };
}
