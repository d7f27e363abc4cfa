import assert from "node:assert/strict";

Deno.test({
  name: "bench:cluster --quick runs end to end: three nodes on Redis hold every connection and " +
    "report each figure",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const out = await Deno.makeTempFile({ suffix: ".json" });
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("./cluster.ts", import.meta.url).pathname,
          "--quick",
          "--per-node",
          "300",
          "--duration",
          "0.5",
          "--out",
          out,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
      const result = JSON.parse(await Deno.readTextFile(out));
      assert.equal(result.cluster.connections, 900);
      for (
        const figure of ["unicast_local", "unicast_cross_node", "unicast_cross_node_x16"]
      ) {
        assert.ok(result.cluster[figure].pushes_per_s > 0, figure);
        assert.equal(result.cluster[figure].not_ok, 0, figure);
      }
      assert.ok(result.cluster.broadcast.deliveries_per_s > 0);
      assert.ok(result.cluster.latency_cross_node.p50_ms > 0);
      assert.ok(result.single.unicast.pushes_per_s > 0);
    } finally {
      await Deno.remove(out);
    }
  },
});
