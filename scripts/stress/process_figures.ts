/**
 * Resident memory and open file descriptors of the server process, read with `ps` and `ls`:
 * Deno reads /proc only with --allow-all, which the stress run does not take (the bench, which
 * does, reads /proc itself in `scripts/bench/proc.ts`).
 * @module
 */

/** Resident memory of process `pid` in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  return Number(await run("ps", ["-o", "rss=", "-p", String(pid)])) * 1024;
}

/** Open file descriptors of process `pid`. */
export async function openFileCount(pid: number): Promise<number> {
  const listing = await run("ls", [`/proc/${pid}/fd`]);
  return listing.split("\n").filter((line) => line !== "").length;
}

async function run(program: string, args: string[]): Promise<string> {
  const { stdout, success } = await new Deno.Command(program, { args, stderr: "null" }).output();
  if (!success) throw new Error(`${program} ${args.join(" ")} failed`);
  return new TextDecoder().decode(stdout).trim();
}
