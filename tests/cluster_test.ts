/**
 * Many nodes behave as one gateway: the core acceptance cases run against one node without
 * Redis, one node with Redis, and three nodes with clients spread over them, with the same
 * expected outcomes. Real redis-server (the test's own, on a free port), real node processes,
 * real sockets.
 * @module
 */
import assert from "node:assert/strict";
import { ControlClient, controlQuery } from "./support/control_client.ts";
import { FramedClient } from "./support/framed_client.ts";
import { RedisServer } from "./support/redis_server.ts";
import { ServerProcess } from "./support/server_process.ts";
import { TestClient } from "./support/test_client.ts";
import { test } from "./support/test_herald.ts";
import { eventually } from "./support/wait.ts";

/** Presence TTL of the test nodes, in seconds: short, so a dead node leaves quickly. */
const TTL_S = 2;

/** Some nodes, on one Redis or none; clients and requests name a node by index. */
class Topology implements AsyncDisposable {
  readonly nodes: ServerProcess[];
  readonly redis: RedisServer | undefined;

  private constructor(nodes: ServerProcess[], redis: RedisServer | undefined) {
    this.nodes = nodes;
    this.redis = redis;
  }

  /** `count` nodes; with Redis when `redis` (a server of the topology's own unless given). */
  static async start(
    count: number,
    redis: boolean | RedisServer,
    extraArgs: string[] = [],
  ): Promise<Topology> {
    const server = redis === true ? await RedisServer.start() : redis || undefined;
    const args = (i: number) =>
      server === undefined ? extraArgs : [
        "--redis",
        server.url,
        "--node-id",
        `n${i}`,
        "--presence-ttl",
        String(TTL_S),
        ...extraArgs,
      ];
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) => ServerProcess.start({ args: args(i) })),
    );
    const nodes = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    const failed = started.find((s) => s.status === "rejected");
    const topology = new Topology(nodes, redis === true ? server : undefined);
    if (failed !== undefined) {
      await topology[Symbol.asyncDispose]();
      throw (failed as PromiseRejectedResult).reason;
    }
    if (server !== undefined) {
      await Promise.all(nodes.map((node) => node.waitForLog(/presence rebuilt/, 15_000)));
    }
    return topology;
  }

  /** The node for the `k`-th client or request: spread round-robin. */
  node(k: number): ServerProcess {
    return this.nodes[k % this.nodes.length]!;
  }

  /** A client identified as `uid` on node `k`. */
  client(k: number, uid: string): Promise<TestClient> {
    return TestClient.identified(`ws://127.0.0.1:${this.node(k).wsPort}/`, uid);
  }

  /** One request line on node `k`'s control port; its reply line. */
  async request(k: number, request: Record<string, unknown>): Promise<string> {
    using control = await ControlClient.connect(this.node(k).controlPort);
    return await control.request(request);
  }

  query(k: number, request: Record<string, unknown>): Promise<Record<string, unknown>> {
    return controlQuery(this.node(k).controlPort, request);
  }

  /** Waits until every node sees `uid` with `connections` connections. */
  async waitOnline(uid: string, connections: number): Promise<void> {
    for (let k = 0; k < this.nodes.length; k++) {
      await eventually(
        async () => {
          const { result } = await this.query(k, { cmd: "online", uid }) as {
            result: { connections: number };
          };
          return result.connections === connections;
        },
        10_000,
        `${uid} with ${connections} connections, seen from node ${k}`,
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((node) => node[Symbol.asyncDispose]()));
    await this.redis?.stop();
  }
}

const TOPOLOGIES: Array<[string, () => Promise<Topology>]> = [
  ["one node", () => Topology.start(1, false)],
  ["one node on Redis", () => Topology.start(1, true)],
  ["three nodes on Redis", () => Topology.start(3, true)],
];

for (const [name, start] of TOPOLOGIES) {
  test(`cluster, ${name}: a push reaches a uid wherever it is, and fail only when it is nowhere`, async () => {
    await using topology = await start();
    await using alice = await topology.client(0, "alice");
    await topology.waitOnline("alice", 1);
    for (let k = 0; k < 3; k++) {
      assert.equal(await topology.request(k, { uid: "alice", data: `hello ${k}` }), "ok");
      assert.equal(await alice.next(), `hello ${k}`);
    }
    assert.equal(await topology.request(1, { uid: "nobody", data: "x" }), "fail");
    assert.equal(await topology.request(2, { uids: ["nobody", "alice"], data: "both" }), "ok");
    assert.equal(await alice.next(), `both`);
  });

  test(`cluster, ${name}: tabs on different nodes each get the push once`, async () => {
    await using topology = await start();
    await using tab1 = await topology.client(0, "bob");
    await using tab2 = await topology.client(1, "bob");
    await using tab3 = await topology.client(2, "bob");
    await topology.waitOnline("bob", 3);
    for (let k = 0; k < 3; k++) {
      assert.equal(await topology.request(k, { uid: "bob", data: k }), "ok");
      for (const tab of [tab1, tab2, tab3]) assert.equal(await tab.next(), String(k));
    }
    await tab2[Symbol.asyncDispose]();
    await topology.waitOnline("bob", 2);
    assert.equal(await topology.request(1, { uid: "bob", data: "after" }), "ok");
    for (const tab of [tab1, tab3]) assert.equal(await tab.next(), `after`);
    for (const tab of [tab1, tab3]) assert.deepEqual(tab.received, []);
  });

  test(`cluster, ${name}: groups are joined, published to and left from any node`, async () => {
    await using topology = await start();
    await using member = await topology.client(0, "m1");
    await using other = await topology.client(1, "m2");
    await using outsider = await topology.client(2, "out");
    await topology.waitOnline("m1", 1);
    await topology.waitOnline("m2", 1);
    await topology.waitOnline("out", 1);
    assert.equal(await topology.request(1, { cmd: "join", uid: "m1", group: "g" }), "ok");
    assert.equal(await topology.request(2, { cmd: "join", uid: "m2", group: "g" }), "ok");
    assert.equal(await topology.request(0, { cmd: "join", uid: "ghost", group: "g" }), "fail");
    for (let k = 0; k < 3; k++) {
      assert.equal(await topology.request(k, { cmd: "publish", group: "g", data: k }), "ok");
      assert.equal(await member.next(), String(k));
      assert.equal(await other.next(), String(k));
    }
    assert.deepEqual(await topology.query(2, { cmd: "count", group: "g" }), {
      result: { group: "g", connections: 2, uids: 2 },
    });
    const uids = await topology.query(1, { cmd: "uids", group: "g" }) as {
      result: { uids: string[] };
    };
    assert.deepEqual(uids.result.uids.toSorted(), ["m1", "m2"]);
    assert.equal(await topology.request(2, { cmd: "leave", uid: "m1", group: "g" }), "ok");
    assert.equal(await topology.request(1, { cmd: "leave", uid: "m1", group: "g" }), "fail");
    assert.equal(await topology.request(0, { cmd: "publish", group: "g", data: "left" }), "ok");
    assert.equal(await other.next(), `left`);
    assert.equal(await topology.request(0, { cmd: "leave", uid: "m2", group: "g" }), "ok");
    assert.equal(await topology.request(1, { cmd: "publish", group: "g", data: "none" }), "fail");
    assert.equal(await topology.request(2, { cmd: "publish", group: "nope", data: "x" }), "fail");
    // Nobody got what they were not meant to.
    assert.equal(await topology.request(0, { uid: "m1", data: "end" }), "ok");
    assert.equal(await member.next(), `end`);
    assert.deepEqual([outsider.received, other.received], [[], []]);
  });

  test(`cluster, ${name}: a broadcast reaches every connection on every node once`, async () => {
    await using topology = await start();
    const clients = await Promise.all(
      Array.from({ length: 6 }, (_, k) => topology.client(k, `b${k}`)),
    );
    try {
      for (let k = 0; k < 6; k++) await topology.waitOnline(`b${k}`, 1);
      for (let k = 0; k < 3; k++) {
        assert.equal(await topology.request(k, { cmd: "broadcast", data: `all ${k}` }), "ok");
        for (const client of clients) assert.equal(await client.next(), `all ${k}`);
      }
      for (const client of clients) assert.deepEqual(client.received, []);
    } finally {
      for (const client of clients) await client[Symbol.asyncDispose]();
    }
  });

  test(`cluster, ${name}: kick closes every tab of a uid on every node with 4005`, async () => {
    await using topology = await start();
    await using tab1 = await topology.client(0, "k");
    await using tab2 = await topology.client(1, "k");
    await using bystander = await topology.client(2, "by");
    await topology.waitOnline("k", 2);
    await topology.waitOnline("by", 1);
    assert.deepEqual(await topology.query(2, { cmd: "kick", uid: "k", id: 1 }), {
      id: 1,
      result: { closed: 2 },
    });
    assert.equal((await tab1.closeEvent()).code, 4005);
    assert.equal((await tab2.closeEvent()).code, 4005);
    await topology.waitOnline("k", 0);
    assert.equal(await topology.request(1, { cmd: "kick", uid: "k" }), "fail");
    assert.equal(await topology.request(0, { uid: "by", data: "still here" }), "ok");
    assert.equal(await bystander.next(), `still here`);
  });

  test(`cluster, ${name}: online, count, uids and stats answer for every node`, async () => {
    await using topology = await start();
    await using _a1 = await topology.client(0, "q1");
    await using _a2 = await topology.client(1, "q1");
    await using _b = await topology.client(2, "q2");
    await topology.waitOnline("q1", 2);
    await topology.waitOnline("q2", 1);
    for (let k = 0; k < 3; k++) {
      assert.deepEqual(await topology.query(k, { cmd: "online", uid: "q1" }), {
        result: { uid: "q1", online: true, connections: 2 },
      });
      assert.deepEqual(await topology.query(k, { cmd: "count" }), {
        result: { connections: 3, uids: 2 },
      });
      const uids = await topology.query(k, { cmd: "uids" }) as { result: { uids: string[] } };
      assert.deepEqual(uids.result.uids.toSorted(), ["q1", "q2"]);
      const { result: stats } = await topology.query(k, { cmd: "stats" }) as {
        result: Record<string, unknown>;
      };
      assert.equal(stats.connections, 3);
      assert.equal(stats.uids, 2);
      if (topology.redis !== undefined) {
        assert.equal(stats.redis_up, 1);
        assert.deepEqual(
          Object.keys(stats.nodes as object).toSorted(),
          topology.nodes.map((_, i) => `n${i}`),
        );
      }
    }
    assert.deepEqual(await topology.query(0, { cmd: "online", uid: "nobody" }), {
      result: { uid: "nobody", online: false, connections: 0 },
    });
  });
}

test("cluster: a push for a uid only this node holds costs no Redis command; one held elsewhere too does", async () => {
  await using topology = await Topology.start(2, true);
  const redis = topology.redis!;
  await using solo = await topology.client(0, "solo");
  await using _tab1 = await topology.client(0, "both");
  await using _tab2 = await topology.client(1, "both");
  await topology.waitOnline("solo", 1);
  await topology.waitOnline("both", 2);
  /** PUBLISH calls so far: what a push to another node costs (heartbeats publish nothing). */
  const publishes = async () => {
    const info = await redis.cli("info", "commandstats");
    return Number(info.match(/^cmdstat_publish:calls=(\d+)/m)?.[1] ?? 0);
  };
  using control = await ControlClient.connect(topology.nodes[0]!.controlPort);
  const before = await publishes();
  for (let i = 0; i < 200; i++) assert.equal(await control.request({ uid: "solo", data: i }), "ok");
  const soloCost = await publishes() - before;
  assert.equal(soloCost, 0, `${soloCost} PUBLISH for 200 pushes to a uid only this node holds`);
  await solo.waitFor(() => solo.received.length === 200);
  const before2 = await publishes();
  for (let i = 0; i < 200; i++) assert.equal(await control.request({ uid: "both", data: i }), "ok");
  assert.ok(await publishes() - before2 >= 200, "a uid also held elsewhere is published");
  const { result } = await topology.query(0, { cmd: "stats" }) as {
    result: Record<string, number>;
  };
  assert.equal(result.cluster_published, 200);
});

test("cluster: nothing is left in Redis for uids and groups once they are offline", async () => {
  await using topology = await Topology.start(2, true);
  const redis = topology.redis!;
  {
    await using _a = await topology.client(0, "gone1");
    await using _b = await topology.client(1, "gone1");
    await topology.waitOnline("gone1", 2);
    assert.equal(await topology.request(0, { cmd: "join", uid: "gone1", group: "gg" }), "ok");
    await eventually(
      async () => (await redis.cli("exists", "herald:group:gg")) === "1",
      10_000,
      "the group in Redis",
    );
  }
  await topology.waitOnline("gone1", 0);
  await eventually(
    async () => {
      const keys = (await redis.cli("--scan")).split("\n").filter((k) => k !== "").toSorted();
      // Only the nodes' own records remain: their figures, heartbeats and connection counts.
      return JSON.stringify(keys) ===
        JSON.stringify(["herald:conns", "herald:node:n0", "herald:node:n1", "herald:nodes"]);
    },
    10_000,
    "no key of the uid or the group left",
  );
  assert.equal(await redis.cli("hlen", "herald:uids"), "0");
});

test("cluster: a node killed with SIGKILL leaves presence within --presence-ttl; the others keep working", async () => {
  await using topology = await Topology.start(3, true);
  await using _doomed = await topology.client(2, "doomed");
  await using shared1 = await topology.client(0, "shared");
  await using _shared2 = await topology.client(2, "shared");
  await using survivor = await topology.client(1, "survivor");
  await topology.waitOnline("doomed", 1);
  await topology.waitOnline("shared", 2);
  await topology.waitOnline("survivor", 1);
  const killed = Date.now();
  topology.nodes[2]!.signal("SIGKILL");
  await topology.nodes[2]!.exit();
  await eventually(
    async () => {
      const { result } = await topology.query(0, { cmd: "online", uid: "doomed" }) as {
        result: { online: boolean };
      };
      return !result.online;
    },
    TTL_S * 1000 + 8000,
    "the dead node's uid to leave presence",
  );
  const elapsed = Date.now() - killed;
  // The bound is the TTL; the slack is for a loaded machine and the test's own polling.
  assert.ok(elapsed < TTL_S * 1000 + 1500, `left presence after ${elapsed} ms`);
  assert.deepEqual(await topology.query(1, { cmd: "online", uid: "shared" }), {
    result: { uid: "shared", online: true, connections: 1 },
  });
  assert.deepEqual(await topology.query(0, { cmd: "count" }), {
    result: { connections: 2, uids: 2 },
  });
  assert.equal(await topology.request(1, { uid: "doomed", data: "x" }), "fail");
  assert.equal(await topology.request(1, { uid: "shared", data: "s" }), "ok");
  assert.equal(await shared1.next(), `s`);
  assert.equal(await topology.request(0, { uid: "survivor", data: "v" }), "ok");
  assert.equal(await survivor.next(), `v`);
  const { result: stats } = await topology.query(0, { cmd: "stats" }) as {
    result: { nodes: Record<string, unknown> };
  };
  assert.deepEqual(Object.keys(stats.nodes).toSorted(), ["n0", "n1"]);
});

const METRICS_KEY = "metrics-key-0123456789abcdef";

test("cluster: with Redis down, local pushes go on, others fail promptly and honestly, and all comes back", async () => {
  await using topology = await Topology.start(2, true, [
    "--redis-timeout",
    "2",
    "--api-key",
    METRICS_KEY,
  ]);
  const redis = topology.redis!;
  const base = (i: number) => `http://127.0.0.1:${topology.nodes[i]!.wsPort}`;
  /** This node's /readyz status and its herald_redis_up sample. */
  const readiness = async (i: number) => {
    const ready = await fetch(`${base(i)}/readyz`);
    const body = await ready.json();
    const metrics = await (await fetch(`${base(i)}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_KEY}` },
    })).text();
    return { status: ready.status, body, redisUp: metrics.match(/^herald_redis_up (\d)$/m)?.[1] };
  };
  assert.deepEqual(await readiness(0), { status: 200, body: { status: "ready" }, redisUp: "1" });
  await using here = await topology.client(0, "here");
  await using there = await topology.client(1, "there");
  await topology.waitOnline("here", 1);
  await topology.waitOnline("there", 1);
  using control = await ControlClient.connect(topology.nodes[0]!.controlPort);

  await redis.stop();
  await topology.nodes[0]!.waitForLog(/Redis link down/);
  let n = 0;
  const downSince = Date.now();
  // Numbered pushes for a few seconds of Redis being gone.
  while (Date.now() - downSince < 3000) {
    n++;
    assert.equal(await control.request({ uid: "here", data: n }), "ok");
    assert.equal(await here.next(), String(n));
    n++;
    const asked = Date.now();
    const reply = await control.request({ uid: "there", data: n, id: n });
    assert.ok(Date.now() - asked < 3000, `answered after ${Date.now() - asked} ms`);
    const { error } = JSON.parse(reply) as { error: { code: string; message: string } };
    assert.equal(error.code, "unavailable", reply);
    assert.match(error.message, /Redis link is down.*no other node got it$/);
    assert.match(await control.request({ uid: "there", data: n }), /^error: unavailable: /);
    await new Promise((resolve) => setTimeout(resolve, 100)); // Pacing, not correctness.
  }
  assert.match(await control.request({ cmd: "count" }), /^\{"error"|^error: unavailable/);
  // stats still answers, with this node's figures: the link state and why totals are missing.
  const { result: degraded } = await control.query({ cmd: "stats" }) as {
    result: Record<string, unknown>;
  };
  assert.equal(degraded.redis_up, 0);
  assert.match(String(degraded.presence_unavailable), /Redis link is down/);
  assert.equal(degraded.connections, undefined);
  const health = await (await fetch(`http://127.0.0.1:${topology.nodes[0]!.wsPort}/healthz`))
    .json();
  assert.deepEqual(health.cluster, { node: "n0", redis: "down" });
  assert.deepEqual(await readiness(0), {
    status: 503,
    body: { status: "degraded", redis: "down" },
    redisUp: "0",
  });
  assert.deepEqual(there.received, []);

  await redis.restart();
  await eventually(
    async () => {
      // An `error: unavailable` line until the link is back.
      const reply = await topology.request(0, { cmd: "online", uid: "there" });
      return reply === JSON.stringify({ result: { uid: "there", online: true, connections: 1 } });
    },
    15_000,
    "presence rebuilt after Redis returned",
  );
  n++;
  assert.equal(await control.request({ uid: "there", data: n }), "ok");
  assert.equal(await there.next(), String(n));
  n++;
  assert.equal(await topology.request(1, { uid: "here", data: n }), "ok");
  assert.equal(await here.next(), String(n));
  for (const node of topology.nodes) assert.ok(node.running, "every node survived Redis' death");
  const after = await (await fetch(`http://127.0.0.1:${topology.nodes[1]!.wsPort}/healthz`))
    .json();
  assert.deepEqual(after.cluster, { node: "n1", redis: "up" });
  assert.deepEqual(await readiness(0), { status: 200, body: { status: "ready" }, redisUp: "1" });
});

test("cluster: a Redis that stops answering fails pushes within --redis-timeout, never parks them", async () => {
  await using topology = await Topology.start(2, true, ["--redis-timeout", "1"]);
  const redis = topology.redis!;
  await using here = await topology.client(0, "here");
  await using there = await topology.client(1, "there");
  await topology.waitOnline("here", 1);
  await topology.waitOnline("there", 1);
  using control = await ControlClient.connect(topology.nodes[0]!.controlPort);
  redis.pause();
  try {
    const asked = Date.now();
    // Sent before Redis was known to hang: the reply cannot say whether it will arrive.
    assert.match(
      await control.request({ uid: "there", data: 1 }),
      /^error: unavailable: Cannot confirm: .* other nodes may still get it if Redis recovers$/,
    );
    assert.ok(Date.now() - asked < 2500, `answered after ${Date.now() - asked} ms`);
    // Now the link counts as down: the next one fails at once, the local one is delivered.
    assert.match(
      await control.request({ uid: "there", data: 2 }),
      /^error: unavailable: .*link is down.* no other node got it$/,
    );
    assert.equal(await control.request({ uid: "here", data: 3 }), "ok");
    assert.equal(await here.next(), "3");
  } finally {
    redis.resume();
  }
  await eventually(
    async () => (await topology.request(0, { uid: "there", data: 4 })) === "ok",
    15_000,
    "pushes to the other node after Redis answers again",
  );
  await there.waitFor(() => there.received.includes("4"), 5000);
  // What was refused while the link was known down was never queued, so never delivered.
  assert.ok(!there.received.includes("2"), `${there.received}`);
});

test("cluster: past --redis-max-pending requests in flight, a push fails at once instead of queueing", async () => {
  await using topology = await Topology.start(2, true, [
    "--redis-max-pending",
    "16",
    "--redis-timeout",
    "5",
  ]);
  const redis = topology.redis!;
  await using _there = await topology.client(1, "there");
  await topology.waitOnline("there", 1);
  const controls = await Promise.all(
    Array.from({ length: 24 }, () => ControlClient.connect(topology.nodes[0]!.controlPort)),
  );
  redis.pause();
  try {
    const asked = Date.now();
    const replies = controls.map((c, i) => c.request({ uid: "there", data: i }));
    const first = await Promise.race(replies);
    assert.match(first, /^error: unavailable: Cannot complete: 16 Redis requests are in flight/);
    assert.ok(Date.now() - asked < 2000, `answered after ${Date.now() - asked} ms`);
  } finally {
    redis.resume();
    for (const control of controls) control[Symbol.dispose]();
  }
});

test("cluster: PUBLISH <prefix>cmd runs a control command on every node, counted; bad ones are refused", async () => {
  await using topology = await Topology.start(2, true, ["--max-line-bytes", "1024"]);
  const redis = topology.redis!;
  await using a = await topology.client(0, "in");
  await using b = await topology.client(1, "in");
  await topology.waitOnline("in", 2);
  assert.equal(await redis.cli("publish", "herald:cmd", '{"uid":"in","data":"via redis"}'), "2");
  assert.equal(await a.next(), `via redis`);
  assert.equal(await b.next(), `via redis`);
  await redis.cli("publish", "herald:cmd", "{not json");
  await redis.cli("publish", "herald:cmd", '{"cmd":"count"}');
  // Over --max-line-bytes, as a control line would be.
  await redis.cli("publish", "herald:cmd", `{"uid":"in","data":"${"x".repeat(2000)}"}`);
  for (let k = 0; k < 2; k++) {
    await eventually(
      async () => {
        const { result } = await topology.query(k, { cmd: "stats" }) as {
          result: Record<string, number>;
        };
        return result.ingress_commands === 1 && result.ingress_refused === 3;
      },
      10_000,
      `node ${k} to count the ingress`,
    );
  }
  assert.deepEqual([a.received, b.received], [[], []]);
});

test("cluster: without --redis no Redis client module is loaded; with it, one is", async () => {
  const loaded = async (args: string[]) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./support/redis_loaded.ts", import.meta.url).pathname,
        ...args,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    return Number(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1));
  };
  assert.equal(await loaded([]), 0);
  // A Redis that is not there: the node starts anyway and serves its own sockets.
  assert.ok(await loaded(["--redis", "redis://127.0.0.1:1", "--log-level", "error"]) > 0);
});

test("cluster: a second node started with a live node's --node-id is warned about", async () => {
  await using topology = await Topology.start(1, true);
  await using twin = await ServerProcess.start({
    args: ["--redis", topology.redis!.url, "--node-id", "n0"],
  });
  await twin.waitForLog(/--node-id n0 is live in Redis already/);
});

test("cluster: the Redis password never reaches the log", async () => {
  await using redis = await RedisServer.start();
  await redis.cli("config", "set", "requirepass", "s3cret-pass");
  const url = `redis://:s3cret-pass@127.0.0.1:${redis.port}`;
  await using node = await ServerProcess.start({ env: { HERALD_REDIS_URL: url } });
  await node.waitForLog(/presence rebuilt/);
  await redis.stop();
  await node.waitForLog(/Redis link down/);
  assert.doesNotMatch(node.log, /s3cret-pass/);
  assert.match(node.log, /redis:\/\/:\*\*\*@127\.0\.0\.1/);
});

/** The Redis keys of the cluster, sorted. */
async function redisKeys(redis: RedisServer): Promise<string[]> {
  return (await redis.cli("--scan")).split("\n").filter((k) => k !== "").toSorted();
}

test("cluster history: a framed client that loses its node reconnects to another and resumes exactly once, in order", async () => {
  await using topology = await Topology.start(3, true);
  const redis = topology.redis!;
  const url = (k: number) => `ws://127.0.0.1:${topology.nodes[k]!.wsPort}/`;
  const first = await FramedClient.open(url(0), { type: "auth", uid: "roamer" });
  const positions = first.positions();
  const epoch = positions.get("user:roamer")!.epoch;
  await topology.waitOnline("roamer", 1);
  let n = 0;
  for (; n < 3; n++) {
    assert.equal(await topology.request(1 + n % 2, { uid: "roamer", data: n + 1 }), "ok");
    assert.deepEqual(await first.next(), {
      type: "msg",
      stream: "user:roamer",
      offset: n + 1,
      data: n + 1,
    });
  }
  positions.set("user:roamer", { epoch, offset: n });
  topology.nodes[0]!.signal("SIGKILL");
  await topology.nodes[0]!.exit();
  await first[Symbol.asyncDispose]();
  await eventually(
    async () => (await redis.cli("pubsub", "numsub", "herald:u:roamer")).endsWith("0"),
    10_000,
    "the dead node's subscription to leave Redis",
  );
  // Numbered pushes while the client is away, through both surviving nodes.
  for (; n < 20; n++) {
    assert.equal(await topology.request(1 + n % 2, { uid: "roamer", data: n + 1 }), "queued");
  }
  await using second = await FramedClient.open(url(2), {
    type: "resume",
    uid: "roamer",
    streams: Object.fromEntries(positions),
  });
  for (let k = 4; k <= 20; k++) {
    assert.deepEqual(await second.next(), {
      type: "msg",
      stream: "user:roamer",
      offset: k,
      data: k,
    });
  }
  const resumed = await second.next();
  assert.equal(resumed.type, "resumed");
  assert.equal(resumed.recovered, true);
  assert.deepEqual(
    (resumed.streams as Record<string, unknown>)["user:roamer"],
    { recovered: true, epoch, offset: 20 },
  );
  // Live again, on either node, with the next offsets; and nothing twice.
  assert.equal(await topology.request(1, { uid: "roamer", data: 21 }), "ok");
  assert.equal(await topology.request(2, { uid: "roamer", data: 22 }), "ok");
  for (const k of [21, 22]) {
    assert.deepEqual(await second.next(), {
      type: "msg",
      stream: "user:roamer",
      offset: k,
      data: k,
    });
  }
  second.send({ type: "ping" });
  assert.deepEqual(await second.next(), { type: "pong" });
});

test("cluster: a JSON value pushed on one node reaches a framed client on another as JSON, kept or not", async () => {
  for (const historyArgs of [["--history-size", "0"], []]) {
    await using topology = await Topology.start(2, true, historyArgs);
    await using framed = await FramedClient.open(
      `ws://127.0.0.1:${topology.nodes[1]!.wsPort}/`,
      { type: "auth", uid: "typed" },
    );
    await topology.waitOnline("typed", 1);
    assert.equal(await topology.request(0, { uid: "typed", data: { a: 1 } }), "ok");
    assert.equal(await topology.request(0, { uid: "typed", data: "text" }), "ok");
    const values = [(await framed.next()).data, (await framed.next()).data];
    assert.deepEqual(values, [{ a: 1 }, "text"], `with ${historyArgs.join(" ") || "history"}`);
  }
});

test("cluster history: a ttl push to an offline uid waits in Redis for its next connection on any node", async () => {
  await using topology = await Topology.start(2, true);
  assert.equal(await topology.request(0, { uid: "later", data: "nobody keeps this" }), "fail");
  assert.equal(await topology.request(0, { uid: "later", data: "m1", ttl: 60 }), "queued");
  assert.equal(await topology.request(0, { uid: "later", data: "m2", ttl: 60 }), "queued");
  await using plain = await topology.client(1, "later");
  assert.equal(await plain.next(), "m1");
  assert.equal(await plain.next(), "m2");
  await using framed = await FramedClient.open(
    `ws://127.0.0.1:${topology.nodes[0]!.wsPort}/`,
    { type: "auth", uid: "later" },
  );
  // Handed over once: the second connection gets only what is pushed now, with its offset.
  assert.equal(await topology.request(1, { uid: "later", data: "live", ttl: 60 }), "ok");
  assert.deepEqual(await framed.next(), {
    type: "msg",
    stream: "user:later",
    offset: 3,
    data: "live",
  });
  assert.equal(await plain.next(), "live");
});

test("cluster history: nothing is left in Redis for a uid once it is offline and its history and mailbox expired", async () => {
  await using topology = await Topology.start(2, true, ["--history-ttl", "1"]);
  const redis = topology.redis!;
  {
    await using framed = await FramedClient.open(
      `ws://127.0.0.1:${topology.nodes[0]!.wsPort}/`,
      { type: "auth", uid: "brief" },
    );
    await topology.waitOnline("brief", 1);
    assert.equal(await topology.request(1, { uid: "brief", data: "x" }), "ok");
    assert.equal((await framed.next()).data, "x");
    assert.equal(await topology.request(1, { cmd: "broadcast", data: "b" }), "ok");
    assert.equal((await framed.next()).data, "b");
    assert.ok((await redisKeys(redis)).includes("herald:h:user:brief"));
  }
  assert.equal(await topology.request(1, { uid: "boxed", data: "y", ttl: 2 }), "queued");
  await topology.waitOnline("brief", 0);
  await eventually(
    async () =>
      JSON.stringify(await redisKeys(redis)) ===
        JSON.stringify(["herald:conns", "herald:node:n0", "herald:node:n1", "herald:nodes"]),
    15_000,
    "no history or mailbox key left",
  );
});

test("cluster history: with Redis down, a push history would keep fails as unavailable; an unkept local one is delivered", async () => {
  await using topology = await Topology.start(1, true);
  const redis = topology.redis!;
  await using framed = await FramedClient.open(
    `ws://127.0.0.1:${topology.nodes[0]!.wsPort}/`,
    { type: "auth", uid: "kept" },
  );
  await using plain = await topology.client(0, "plain");
  await topology.waitOnline("plain", 1);
  assert.equal(await topology.request(0, { uid: "kept", data: 1 }), "ok");
  assert.equal((await framed.next()).offset, 1);
  await redis.stop();
  await topology.nodes[0]!.waitForLog(/Redis link down/);
  assert.match(await topology.request(0, { uid: "kept", data: 2 }), /^error: unavailable: /);
  assert.equal(await topology.request(0, { uid: "plain", data: 3 }), "ok");
  assert.equal(await plain.next(), "3");
  assert.deepEqual(framed.client.received, [], "never delivered without its offset");
});
