/** Writes every byte of `bytes` to `conn`, looping over short writes. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}
