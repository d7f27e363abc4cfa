/**
 * Runs a program to completion, such as a PHP or Python client in a test.
 * @module
 */

/** Options of {@linkcode runCommand}. */
export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Written to the program's standard input, which is then closed; none by default. */
  readonly stdin?: string;
  /** The Debian package with the program: a missing program then says how to install it. */
  readonly install?: string;
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  program: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let child;
  try {
    child = new Deno.Command(program, {
      args: [...args],
      cwd: options.cwd,
      env: options.env,
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw options.install === undefined ? error : notInstalled(error, program, options.install);
  }
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** `error`, or when it says `program` is missing, an error that says how to install it. */
export function notInstalled(error: unknown, program: string, pkg: string): unknown {
  return error instanceof Deno.errors.NotFound
    ? new Error(
      `${program} is not installed: run \`apt-get install -y ${pkg}\` (deno task test does)`,
    )
    : error;
}
