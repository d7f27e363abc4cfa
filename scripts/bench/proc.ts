/**
 * Process figures from Linux procfs: resident memory and CPU time, for the benchmark's server
 * and client processes.
 */

/** Clock ticks per second of /proc/PID/stat times; 100 on every Linux this runs on. */
const CLK_TCK = 100;

/** Resident set size of a process in bytes, from `VmRSS` of /proc/PID/status. */
export function readRssBytes(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`Cannot read RSS: /proc/${pid}/status has no VmRSS`);
  return Number(match[1]) * 1024;
}

/** User plus system CPU seconds a process has used, all threads, from /proc/PID/stat. */
export function readCpuSeconds(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * CPU seconds all processes of the machine have used, every CPU, plus time stolen by the
 * hypervisor. Interrupt and softirq time are left out: loopback traffic is processed there and
 * is accounted to no process, so counting it would blame our own sockets on "other processes".
 */
export function readMachineBusySeconds(): number {
  const line = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0]!;
  const [user, nice, system, _idle, _iowait, _irq, _softirq, steal] = line.split(/\s+/).slice(1)
    .map(Number);
  return (user! + nice! + system! + steal!) / CLK_TCK;
}

/** CPU use of the server and of the client processes over one measured window. */
export interface CpuSample {
  /** Wall-clock seconds of the window. */
  wall_s: number;
  /** Server CPU seconds used in the window. */
  server_cpu_s: number;
  /** Client CPU seconds used in the window: the sum over the window's client processes. */
  client_cpu_s: number;
  /** Server CPU seconds per wall second: 1.0 is one core saturated. */
  server_util: number;
  /** Client CPU seconds per wall second: near 1.0 the client may be the bottleneck. */
  client_util: number;
  /**
   * CPU seconds per wall second used by every other process of the machine: above ~0.1 the
   * figure shared the 2 cores with something else and is suspect.
   */
  other_util: number;
}

/**
 * Starts a CPU window for `serverPid` and the client, whose CPU time is summed over
 * `clientPids` (this load generator by default; the broadcast figure adds the native receiver);
 * call the result to close it.
 */
export function startCpuWindow(
  serverPid: number,
  clientPids: readonly (number | "self")[] = ["self"],
): () => CpuSample {
  const clientSeconds = () => {
    let sum = 0;
    for (const pid of clientPids) sum += readCpuSeconds(pid);
    return sum;
  };
  const t0 = performance.now();
  const s0 = readCpuSeconds(serverPid);
  const c0 = clientSeconds();
  const m0 = readMachineBusySeconds();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const server = readCpuSeconds(serverPid) - s0;
    const client = clientSeconds() - c0;
    const other = Math.max(0, readMachineBusySeconds() - m0 - server - client);
    return {
      wall_s: round(wall, 3),
      server_cpu_s: round(server, 2),
      client_cpu_s: round(client, 2),
      server_util: round(server / wall, 2),
      client_util: round(client / wall, 2),
      other_util: round(other / wall, 2),
    };
  };
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
