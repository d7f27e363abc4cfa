/**
 * `deno task bundle`: Herald as one JavaScript file, for build hosts where `deno compile`'s
 * runtime (denort) cannot be had. The same Deno version runs it with narrow permissions:
 * the task prints the exact `deno run` line, which scripts/herald-bundle.conf (the systemd
 * drop-in for it) uses too.
 *
 *   deno task bundle [--output <path>] [--allow-read <paths>]
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_READ_PATHS, heraldVersion, ROOT, writeBuildEntry } from "./build_entry.ts";

/** What `deno run` needs for the bundle besides the read paths: the binary's permissions. */
export const BUNDLE_RUN_FLAGS: readonly string[] = [
  "--no-config", // Nothing next to the file is read: no deno.json, no lock file.
  "--no-lock",
  "--no-prompt",
  "--unstable-net", // SO_REUSEPORT under TLS, for the certificate hand-over on reload.
  "--allow-net",
  "--allow-env=HERALD_*",
];

/** The `deno run` line for a bundle at `path`, quoted for a POSIX shell. */
export function bundleRunLine(path: string, readPaths: readonly string[]): string {
  const read = readPaths.length > 0 ? [`--allow-read=${readPaths.join(",")}`] : [];
  return ["deno", "run", ...BUNDLE_RUN_FLAGS, ...read, path]
    .map((word) => /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

async function bundle(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { output: { type: "string" }, "allow-read": { type: "string" } },
    strict: true,
  });
  const output = values.output ?? `${ROOT}dist/herald.js`;
  const readPaths = values["allow-read"]?.split(",").filter((p) => p !== "") ?? DEFAULT_READ_PATHS;
  await using entry = await writeBuildEntry("bundle");
  console.log(`Bundling ${output} (commit ${entry.build.commit})`);
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--output", output, entry.path],
    cwd: ROOT,
  }).spawn().status;
  if (!status.success) return status.code;

  const { ok, version } = await heraldVersion(
    [Deno.execPath(), "run", ...BUNDLE_RUN_FLAGS, output],
    "bundle",
  );
  if (!ok) {
    console.error(`Cannot bundle: ${output} --version printed ${JSON.stringify(version)}`);
    return 1;
  }
  console.log(`Built ${version}\nRun it with:\n  ${bundleRunLine(output, readPaths)}`);
  return 0;
}

if (import.meta.main) Deno.exit(await bundle(Deno.args));
