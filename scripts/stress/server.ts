/**
 * Herald as a child process on fixed loopback ports, so the stress run can SIGKILL it and start
 * a new one where the clients will look for it.
 * @module
 */

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A Herald child process. */
export class ServerProcess {
  readonly child: Deno.ChildProcess;
  readonly wsPort: number;
  readonly controlPort: number;

  private constructor(child: Deno.ChildProcess, wsPort: number, controlPort: number) {
    this.child = child;
    this.wsPort = wsPort;
    this.controlPort = controlPort;
  }

  /** Starts Herald with `args` and resolves once its control port answers, within 20 s. */
  static async start(wsPort: number, controlPort: number, args: string[]): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-env=HERALD_*",
        MAIN,
        "--host",
        "127.0.0.1",
        "--ws-port",
        String(wsPort),
        "--control-port",
        String(controlPort),
        ...args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const deadline = Date.now() + 20_000;
    while (true) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: controlPort });
        conn.close();
        break;
      } catch {
        if (Date.now() > deadline) {
          child.kill("SIGKILL");
          await child.status;
          throw new Error(`Herald did not listen on ${controlPort} within 20 s`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    return new ServerProcess(child, wsPort, controlPort);
  }

  /** Resident memory of the child in bytes, from `ps` (Deno reads /proc only with -A). */
  async rss(): Promise<number> {
    return Number(await run("ps", ["-o", "rss=", "-p", String(this.child.pid)])) * 1024;
  }

  /** Open file descriptors of the child. */
  async fdCount(): Promise<number> {
    const listing = await run("ls", [`/proc/${this.child.pid}/fd`]);
    return listing.split("\n").filter((line) => line !== "").length;
  }

  /** Sends `signal` and waits for the process to end. */
  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    this.child.kill(signal);
    return await this.child.status;
  }
}

/** Two free loopback ports, found by binding port 0 and letting go. */
export function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((listener) => listener.addr.port);
  for (const listener of listeners) listener.close();
  return ports;
}

/** Sends one request line and reads one reply line: enough for `stats` between phases. */
export async function controlQuery(
  port: number,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    const buffer = new Uint8Array(1 << 20);
    let text = "";
    while (!text.includes("\n")) {
      const read = await conn.read(buffer);
      if (read === null) throw new Error("The control port closed without a reply");
      text += new TextDecoder().decode(buffer.subarray(0, read));
    }
    return JSON.parse(text.slice(0, text.indexOf("\n")));
  } finally {
    conn.close();
  }
}

async function run(program: string, args: string[]): Promise<string> {
  const { stdout, success } = await new Deno.Command(program, { args, stderr: "null" }).output();
  if (!success) throw new Error(`${program} ${args.join(" ")} failed`);
  return new TextDecoder().decode(stdout).trim();
}
