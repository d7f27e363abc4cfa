/**
 * The address per-IP limits count against. Behind nginx or Caddy every socket comes from the
 * proxy, so a trusted proxy's `X-Forwarded-For` names the real client.
 * @module
 */

/**
 * Returns the client address of a request from `peer`. When `peer` is a trusted proxy, it is the
 * rightmost `X-Forwarded-For` entry that is not itself a trusted proxy: entries to its left were
 * written by the client and prove nothing.
 */
export function clientIp(
  peer: string,
  forwardedFor: string | null,
  trustedProxies: ReadonlySet<string>,
): string {
  if (forwardedFor === null || !trustedProxies.has(peer)) return peer;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop !== "" && !trustedProxies.has(hop)) return hop;
  }
  return peer;
}
