/**
 * A server-side `WebSocket` from `Deno.serve` with a {@linkcode RawWsPeer} at the other end, for
 * checking what the runtime itself does with a peer that never reads or never answers.
 * @module
 */
import { RawWsPeer } from "./raw_ws_peer.ts";

/** The two ends of one WebSocket; `await using` closes the peer and stops the server. */
export interface SocketPair extends AsyncDisposable {
  /** The server's end, open. */
  readonly socket: WebSocket;
  /** The client's end, at the TCP level. */
  readonly peer: RawWsPeer;
}

/** Serves one WebSocket on a free loopback port and connects a raw peer to it. */
export async function socketPair(): Promise<SocketPair> {
  const opened = Promise.withResolvers<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onopen = () => opened.resolve(socket);
    return response;
  });
  const peer = await RawWsPeer.handshake(server.addr.port);
  return {
    socket: await opened.promise,
    peer,
    async [Symbol.asyncDispose]() {
      peer[Symbol.dispose]();
      await server.shutdown();
    },
  };
}
