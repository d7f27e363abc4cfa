/**
 * `deno task compile`: builds the single `herald` binary with only the permissions it needs
 * baked in, and its version and build facts embedded.
 *
 *   deno task compile [--target <triple>] [--output <path>] [--allow-read <paths>]
 *
 * The binary's runtime (denort) comes from dl.deno.land on first use, cached in DENO_DIR; set
 * DENORT_BIN to a denort binary of the same Deno version to build offline.
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_READ_PATHS, heraldVersion, ROOT, writeBuildEntry } from "./build_entry.ts";

async function compile(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      target: { type: "string" },
      output: { type: "string" },
      "allow-read": { type: "string" },
    },
    strict: true,
  });
  const target = values.target;
  const output = values.output ?? `${ROOT}dist/herald${target === undefined ? "" : `-${target}`}`;
  const readPaths = values["allow-read"]?.split(",").filter((p) => p !== "") ?? DEFAULT_READ_PATHS;
  await using entry = await writeBuildEntry("compiled binary");
  const build = entry.build;
  const compileArgs = [
    "compile",
    "--unstable-net", // SO_REUSEPORT under TLS, for the certificate hand-over on reload.
    "--allow-net",
    "--allow-env=HERALD_*",
    ...readPaths.length > 0 ? [`--allow-read=${readPaths.join(",")}`] : [],
    "--no-prompt",
    ...target === undefined ? [] : ["--target", target],
    "--output",
    output,
    entry.path,
  ];
  const runtime = Deno.env.get("DENORT_BIN");
  console.log(
    `Building ${output} (commit ${build.commit}, target ${target ?? Deno.build.target})\n` +
      `  runtime: ${
        runtime ?? `denort ${Deno.version.deno} from dl.deno.land, cached in DENO_DIR`
      }\n` +
      `  permissions: net, env HERALD_*, read ${readPaths.join(",") || "nothing"}`,
  );
  const status = await new Deno.Command(Deno.execPath(), { args: compileArgs, cwd: ROOT })
    .spawn().status;
  if (!status.success && runtime === undefined) {
    console.error(
      "Could not build. Offline? Point DENORT_BIN at a denort " + Deno.version.deno +
        " binary for the target (see docs/deployment.md), or use deno task bundle.",
    );
  }
  if (!status.success) return status.code;
  return await verify(output, target);
}

/**
 * Runs the binary just built: `deno compile` exits 0 whatever DENORT_BIN names, and with the
 * `deno` command line as runtime the result is that command line, not Herald.
 */
async function verify(output: string, target: string | undefined): Promise<number> {
  if (target !== undefined && target !== Deno.build.target) {
    console.log(`Not run: a ${target} binary cannot run here; check its --version on the target.`);
    return 0;
  }
  const { ok, version } = await heraldVersion([output], "compiled binary");
  if (ok) {
    console.log(`Built ${version}`);
    return 0;
  }
  await Deno.remove(output).catch(() => {});
  console.error(
    `Cannot build: ${output} is not Herald: its --version printed ${JSON.stringify(version)}. ` +
      `DENORT_BIN must name a denort binary (the runtime only, not deno) of Deno ` +
      `${Deno.version.deno}; the output was removed.`,
  );
  return 1;
}

if (import.meta.main) Deno.exit(await compile(Deno.args));
