/**
 * Why a file a setting names could not be read, with what to do about it: a compiled binary
 * reads only the paths its build allowed, a run from source only what `deno run` was given.
 * @module
 */

/** The reason to put after "<setting> <path> cannot be read: ". */
export function readErrorReason(error: unknown, path: string): string {
  if (!(error instanceof Deno.errors.NotCapable)) return (error as Error).message;
  if (Deno.build.standalone) {
    return "no read permission (a compiled herald reads only the paths its build was given " +
      "with --allow-read, /etc/herald by default; see docs/deployment.md)";
  }
  return `no read permission: running from source, add --allow-read=${path} to the deno run ` +
    "line (deno task start and dev allow reading)";
}
