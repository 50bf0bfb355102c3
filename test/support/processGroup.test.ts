import { strict as assert } from "node:assert";
import { runProcessGroup } from "./processGroup";
import { processAlive } from "../../scripts/runner/stackLock";


describe("runProcessGroup (the engine tests' runner)", function () {
    this.timeout(30_000);

    it("returns the exit status and the output", async () => {
        const r = await runProcessGroup("bash", ["-c", "echo out; echo err >&2; exit 3"], { timeoutMs: 10_000 });
        assert.equal(r.status, 3);
        assert.equal(r.timedOut, false);
        assert.match(r.out, /out/);
        assert.match(r.out, /err/);
    });

    it("past the deadline kills the whole group, grandchildren included, not just the direct child", async () => {
        // The grandchild ignores SIGTERM, as a wedged plugin might; SIGKILL after the grace period ends it.
        const script = "bash -c 'trap \"\" TERM; sleep 300' & echo $!; wait";
        const started = Date.now();
        const r = await runProcessGroup("bash", ["-c", script], { timeoutMs: 500, graceMs: 500 });
        assert.ok(Date.now() - started < 15_000, "did not wait for the sleep");
        assert.equal(r.timedOut, true);
        const grandchild = Number(r.out.trim().split("\n")[0]);
        assert.ok(grandchild > 0, r.out);
        for (let i = 0; i < 50 && processAlive(grandchild); i++) await new Promise((res) => setTimeout(res, 100));
        assert.equal(processAlive(grandchild), false, `pid ${grandchild} survived the timeout`);
    });

    it("kills a descendant left running after the leader exits", async () => {
        const started = Date.now();
        const r = await runProcessGroup("bash", ["-c", "sleep 300 & echo $!"], { timeoutMs: 60_000 });
        assert.equal(r.timedOut, false);
        assert.ok(Date.now() - started < 10_000, "returned when the leader exited");
        const orphan = Number(r.out.trim());
        for (let i = 0; i < 50 && processAlive(orphan); i++) await new Promise((res) => setTimeout(res, 100));
        assert.equal(processAlive(orphan), false, `pid ${orphan} outlived the run`);
    });
});
