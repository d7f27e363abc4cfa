/**
 * What history adds to a push on the server's own path (`deno bench src/broker_bench.ts`): the
 * Broker publishing to framed connections that only count frames, with history on (default
 * bounds, every stream subscribed) and off, so network and client noise stay out. The figures
 * are in docs/benchmarks.md.
 * @module
 */
import { LocalBroker } from "./broker.ts";
import { MemoryHistory } from "./history/memory_history.ts";
import { type Conn, Hub } from "./hub.ts";
import { type Frame, Publication } from "./publication.ts";

const UIDS = 1000;

/** A framed connection that takes every frame. */
class CountingConn implements Conn {
  readonly protocol = "herald.v1" as const;
  bytes = 0;
  constructor(readonly id: number, readonly uid: string) {}
  send(frame: Frame): boolean {
    this.bytes += frame.bytes;
    return true;
  }
  close(): void {}
}

function brokerWith(history: boolean): LocalBroker {
  const hub = new Hub();
  const store = history
    ? new MemoryHistory({ maxEntries: 100, ttlSeconds: 300, maxBytes: 64 * 1024 * 1024 })
    : undefined;
  for (let i = 0; i < UIDS; i++) {
    hub.add(new CountingConn(i, `u${i}`));
    store?.subscribe(`user:u${i}`);
  }
  store?.subscribe("all");
  return new LocalBroker(hub, store);
}

for (const history of [false, true]) {
  const broker = brokerWith(history);
  let n = 0;
  Deno.bench(`unicast send to 1 of ${UIDS} framed uids, history ${history ? "on" : "off"}`, {
    group: "unicast",
    baseline: !history,
  }, async () => {
    const i = n++;
    await broker.publish({ kind: "user", uid: `u${i % UIDS}` }, Publication.of({ n: i }));
  });
  Deno.bench(`broadcast to ${UIDS} framed connections, history ${history ? "on" : "off"}`, {
    group: "broadcast",
    baseline: !history,
  }, async () => {
    await broker.publish({ kind: "all" }, Publication.of({ n: n++ }));
  });
}
