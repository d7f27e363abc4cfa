import assert from "node:assert/strict";
import { clientIp } from "./client_ip.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1"]);

Deno.test("clientIp() is the peer when the peer is not a trusted proxy, whatever it forwards", () => {
  assert.equal(clientIp("203.0.113.9", "1.2.3.4", LOOPBACK), "203.0.113.9");
  assert.equal(clientIp("203.0.113.9", null, LOOPBACK), "203.0.113.9");
});

Deno.test("clientIp() behind a trusted proxy is the rightmost untrusted forwarded address", () => {
  assert.equal(clientIp("127.0.0.1", "198.51.100.7", LOOPBACK), "198.51.100.7");
  // The client wrote "6.6.6.6" itself; the proxy appended the address it saw.
  assert.equal(clientIp("127.0.0.1", "6.6.6.6, 198.51.100.7", LOOPBACK), "198.51.100.7");
  assert.equal(clientIp("::1", "198.51.100.7, 127.0.0.1", LOOPBACK), "198.51.100.7");
});

Deno.test("clientIp() falls back to the peer when a trusted proxy forwards nothing useful", () => {
  assert.equal(clientIp("127.0.0.1", null, LOOPBACK), "127.0.0.1");
  assert.equal(clientIp("127.0.0.1", " , 127.0.0.1", LOOPBACK), "127.0.0.1");
  assert.equal(clientIp("127.0.0.1", "198.51.100.7", new Set()), "127.0.0.1");
});
