/**
 * Why a file a setting names could not be read, in words that fit a compiled binary.
 * @module
 */

/** The reason to put after "cannot be read: ". */
export function readErrorReason(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return "no read permission (a compiled herald reads only the paths its build was given " +
      "with --allow-read, /etc/herald by default; see docs/deployment.md)";
  }
  return (error as Error).message;
}
