/**
 * The flags every benchmark starts Herald with.
 * @module
 */

/**
 * Quiet logs, and the per-IP guards lifted: every bench client comes from 127.0.0.1, so the
 * guards against hostile peers would refuse the 1001st connection and pace handshakes to 50/s
 * (the reference server has none). Every other limit keeps its default.
 */
export const BENCH_HERALD_ARGS: readonly string[] = [
  "--log-level",
  "warning",
  "--max-connections-per-ip",
  "10000000",
  "--max-handshakes-per-ip",
  "1000000",
];
