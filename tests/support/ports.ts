/**
 * Loopback ports: a free one to give a server that cannot listen on port 0, and whether one
 * listens yet.
 * @module
 */

/** A port free on 127.0.0.1 right now (the OS picks it; another process may take it later). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export async function canConnect(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
