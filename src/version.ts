/**
 * Herald's version and build facts; `herald --version` prints them.
 * @module
 */

/** Herald's version. */
export const VERSION = "0.1.0";

/** Where a binary came from; `deno task compile` fills it in. */
export interface BuildInfo {
  /** Short git commit, with `-dirty` when the tree had changes; "dev" when run from source. */
  readonly commit: string;
  /** ISO 8601 time of the build; empty when run from source. */
  readonly date: string;
  /** How Herald is shipped: `deno task compile`'s binary, `deno task bundle`'s file, or neither. */
  readonly form: "compiled binary" | "bundle" | "from source";
}

/** The build info of `deno run main.ts`. */
export const SOURCE_BUILD: BuildInfo = Object.freeze({
  commit: "dev",
  date: "",
  form: "from source",
});

/** The `--version` text, e.g. `herald 0.1.0 (commit 1a2b3c4, built …, deno 2.9.6, x86_64-…)`. */
export function versionText(build: BuildInfo): string {
  const facts = [
    `commit ${build.commit}`,
    ...build.date === "" ? [] : [`built ${build.date}`],
    `deno ${Deno.version.deno}`,
    Deno.build.target,
    // The runtime's own word for a binary: one built on deno instead of denort is no binary.
    Deno.build.standalone ? "compiled binary" : build.form === "bundle" ? "bundle" : "from source",
  ];
  return `herald ${VERSION} (${facts.join(", ")})`;
}
