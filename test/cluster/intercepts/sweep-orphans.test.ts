// sweep-orphans.sh on the real API server, as tekton-dag-pipeline (the sweeper CronJob's identity), under
// the Roles the program installs: a run's objects are created as the admin with their run label, the
// sweeper runs, and the tests read what the API server still stores, by uid. Simulated: the Tekton
// controller (PipelineRuns are plain objects whose status the tests write).
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { cluster, kubectlOk, PIPELINE_SA, PIPELINES_NS, runScriptAs, ScriptRun, sleep, sweepEnv, TARGET_NS } from "../harness";
import { auditMark, auditSince } from "../audit";
import {
    goneRuns, Made, manyPipelineRuns, newRunWithObject, ok, OTHER_NS, pipelineRun, remaining, runConfigMap, runConfigMaps, runLease, runPod,
    twoNamespaceSuite,
} from "./lifecycle-fixtures";
import { tmpDir } from "../../support/tmpDir";

/**
 * Runs the sweeper; with `clockAt` (epoch seconds) its clock (`date +%s`, read once after its lists) is held at
 * that instant by a `date` stand-in first on its PATH, so the ages it computes are the ones the test set its
 * thresholds from, however long the sweep itself takes on a busy machine.
 */
const sweep = (extra: Record<string, string> = {}, clockAt?: number) => {
    const env = sweepEnv({ TARGET_NAMESPACES: `${TARGET_NS} ${OTHER_NS}`, ...extra });
    if (clockAt !== undefined) {
        const bin = tmpDir("sweep-clock-");
        fs.writeFileSync(path.join(bin, "date"),
            `#!/bin/bash\nif [ "$*" = "+%s" ]; then echo ${clockAt}; else PATH="\${PATH#*:}" exec date "$@"; fi\n`, { mode: 0o755 });
        env.PATH = `${bin}:${cluster().bin}:/usr/local/bin:/usr/bin:/bin`;
    }
    return runScriptAs("sweep-orphans.sh", env, PIPELINE_SA);
};
/** Now, in whole seconds, as the API server's creationTimestamps count. */
const epochNow = () => Math.floor(Date.now() / 1000);
const tokenEntries = (r: ScriptRun, mark: number) => auditSince(mark).filter((e) => e.tokenId === r.tokenId);

describe("cluster: sweep-orphans.sh as tekton-dag-pipeline, the sweeper CronJob's identity (Tekton controller simulated)", function () {
    this.timeout(300_000);

    twoNamespaceSuite();

    const removed = (r: ScriptRun) => Number(/sweep done: (\d+) run\(s\) removed/.exec(r.stderr)?.[1]);

    // Ages come from the API server's creationTimestamps (whole seconds): objects made at least GAP seconds
    // apart, thresholds set SLACK seconds above the younger one's age, and the sweeper's clock held at the
    // instant those ages were measured (sweep's clockAt), so the old ones stay old (GAP > SLACK) and the young
    // ones young however long the sweep takes.
    const GAP = 3;
    const SLACK = 1;

    it("removes only the objects of runs that no longer exist or are too old, by their run label, and logs them (its clock held: time simulated)", async () => {
        const liveOld = pipelineRun({ state: "running" });
        const gone = randomUUID();
        const made = [
            runConfigMap(liveOld, "cm-live-old"),
            runPod(gone, "pr-gone"), runLease(gone, "tekton-dag-intercept-gone"),
        ];
        await sleep(GAP * 1000);
        const liveYoung = pipelineRun({ state: "running" });
        made.push(runConfigMap(liveYoung, "cm-live-young"), runConfigMap(liveYoung, "cm-live-young-2", OTHER_NS));
        // liveYoung's objects are younger than this at the sweeper's clock; liveOld's first one is GAP s older.
        const now = epochNow();
        const maxAge = Math.max(1, now - made[3].created + SLACK);
        const r = await sweep({ MAX_AGE_SECONDS: String(maxAge), MIN_AGE_SECONDS: "0" }, now);
        ok(r);
        assert.deepEqual(goneRuns(made), [gone, liveOld].sort(), r.stderr);
        assert.match(r.stderr, new RegExp(`removing run ${gone} in staging \\(PipelineRun no longer exists\\): pods/pr-gone leases.coordination.k8s.io/tekton-dag-intercept-gone`));
        assert.match(r.stderr, new RegExp(`removing run ${liveOld} in staging \\(older than ${maxAge}s\\)`));
        assert.equal(removed(r), 2);
    });

    it("removes nothing when the PipelineRuns cannot be listed (Forbidden: no Role in that namespace)", async () => {
        const made = [runConfigMap(randomUUID(), "cm-gone")];
        const r = await sweep({ PIPELINES_NAMESPACE: "default" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /pipelineruns.tekton.dev is forbidden/);
        assert.match(r.stderr, /cannot list PipelineRuns in default/);
        assert.deepEqual(remaining(made).map((m) => m.uid), made.map((m) => m.uid));
    });

    it("removes nothing when the PipelineRun list cannot be read (a completionTime with a zone offset, which the API server stores as sent)", async () => {
        // A real API server never answers a list with something that is not one; what it does store is a
        // date-time the sweeper's jq cannot parse (Tekton itself writes UTC): the list is unreadable then.
        pipelineRun({ state: "finished", succeeded: "True", reason: "Succeeded", secondsAgo: 300, completionTime: "2026-01-01T10:00:00+01:00" });
        const made = [runConfigMap(randomUUID(), "cm-gone")];
        const r = await sweep({ MIN_AGE_SECONDS: "0" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /does not match format/);
        assert.match(r.stderr, /cannot list PipelineRuns in tekton-dag \(or read the list\); nothing removed/);
        assert.deepEqual(remaining(made).map((m) => m.uid), made.map((m) => m.uid));
    });

    it("lists the objects before the PipelineRuns: runs created (run first, then its objects) while it sweeps never look gone", async () => {
        const made: Made[] = [];
        let done = false;
        const running = sweep({ MIN_AGE_SECONDS: "0" }).then((r) => { done = true; return r; });
        // Three creators at once; the objects go to the namespace listed last, so that listing the
        // PipelineRuns first (the wrong order) would leave a wide window for a run to look gone.
        await Promise.all([0, 1, 2].map(async (w) => {
            for (let i = 0; !done; i++) made.push(await newRunWithObject(`cm-race-${w}-${i}`, OTHER_NS));
        }));
        const r = await running;
        ok(r);
        assert.ok(made.length >= 6, `only ${made.length} runs were created during the sweep: the test would prove nothing`);
        assert.deepEqual(goneRuns(made), [], `a run created during the sweep was taken for gone:\n${r.stderr}`);
        assert.equal(removed(r), 0);
    });

    it("keeps the objects of a run it does not see while its newest object is younger than MIN_AGE_SECONDS (default 600) (its clock held but for the default: time simulated)", async () => {
        const gone = randomUUID();
        const goneYoung = randomUUID();
        const made = [runConfigMap(gone, "cm-gone-old")];
        await sleep(GAP * 1000);
        made.push(runConfigMap(gone, "cm-gone-newer"));
        await sleep(GAP * 1000);
        made.push(runConfigMap(goneYoung, "cm-gone-young"));
        // gone: its oldest object is past this minimum age, its newest is not.
        let now = epochNow();
        const byNewest = await sweep({ MIN_AGE_SECONDS: String(now - made[1].created + SLACK) }, now);
        ok(byNewest);
        assert.deepEqual(goneRuns(made), [], `the newest object decides, not the oldest:\n${byNewest.stderr}`);
        const byDefault = await sweep({ MIN_AGE_SECONDS: "" });
        ok(byDefault);
        assert.deepEqual(goneRuns(made), [], byDefault.stderr);
        assert.match(byDefault.stderr, new RegExp(`keeping run ${goneYoung} in staging \\(PipelineRun no longer exists\\): its newest object is \\d+s old, younger than MIN_AGE_SECONDS=600`));
        // gone's newest object is now GAP s older than goneYoung's only one.
        now = epochNow();
        const shorter = await sweep({ MIN_AGE_SECONDS: String(now - made[2].created + SLACK) }, now);
        ok(shorter);
        assert.deepEqual(goneRuns(made), [gone], shorter.stderr);
    });

    it("removes the objects of a finished run (cancelled, failed or succeeded) once FINISHED_GRACE_SECONDS (default 120) have passed, however young", async () => {
        const live = pipelineRun({ state: "running" });
        const cancelled = pipelineRun({ state: "finished", succeeded: "False", reason: "Cancelled", secondsAgo: 300 });
        const succeeded = pipelineRun({ state: "finished", succeeded: "True", reason: "Succeeded", secondsAgo: 200 });
        const justDone = pipelineRun({ state: "finished", succeeded: "False", reason: "Failed", secondsAgo: 30 });
        const made = [
            runConfigMap(live, "cm-live"), runPod(cancelled, "pr-x"), runConfigMap(justDone, "cm-just-done"),
            runConfigMap(succeeded, "mirrord-s", OTHER_NS),
        ];
        const r = await sweep({ MIN_AGE_SECONDS: "", FINISHED_GRACE_SECONDS: "" });
        ok(r);
        assert.deepEqual(goneRuns(made), [cancelled, succeeded].sort());
        assert.match(r.stderr, new RegExp(`removing run ${cancelled} in staging \\(PipelineRun finished \\d+s ago \\(Succeeded=False\\) and left them\\): pods/pr-x`));
        assert.match(r.stderr, new RegExp(`removing run ${succeeded} in ${OTHER_NS} \\(PipelineRun finished \\d+s ago \\(Succeeded=True\\)`));
        assert.match(r.stderr, new RegExp(`keeping run ${justDone} in staging: its PipelineRun finished \\d+s ago \\(grace 120s\\)`));
    });

    it("takes a run with a completionTime as finished even while its condition still says Unknown", async () => {
        const stuck = pipelineRun({ state: "finished", succeeded: "Unknown", reason: "Running", secondsAgo: 400 });
        const made = [runConfigMap(stuck, "cm-stuck")];
        const r = await sweep({ MIN_AGE_SECONDS: "" });
        ok(r);
        assert.deepEqual(goneRuns(made), [stuck]);
    });

    it("survives PipelineRun and object lists far over 64 KiB with no writable temp directory (read-only root filesystem)", async () => {
        // bash writes a here-string over 64 KiB to a temp file; the CronJob's root filesystem is read-only.
        const padding = "x".repeat(2000);
        manyPipelineRuns(60, { note: padding });
        const live = pipelineRun({ state: "running" });
        const gone = randomUUID();
        const many = runConfigMaps(live, 60, "cm-big", { note: padding });
        const made = [...many, runConfigMap(gone, "cm-gone")];
        const size = (args: string[]) => kubectlOk([...args, "-o", "json"]).length;
        assert.ok(size(["get", "pipelineruns.tekton.dev", "-n", PIPELINES_NS]) > 70_000);
        assert.ok(size(["get", "configmaps", "-n", TARGET_NS, "-l", "tekton-dag.io/run"]) > 70_000);
        const r = await sweep({ MIN_AGE_SECONDS: "0", TMPDIR: unwritableDir() });
        ok(r);
        assert.doesNotMatch(r.stderr, /temp file/);
        assert.deepEqual(goneRuns(made), [gone]);
    });

    it("rejects a MIN_AGE_SECONDS or FINISHED_GRACE_SECONDS that is not a whole number, and removes nothing", async () => {
        const made = [runConfigMap(randomUUID(), "cm-gone")];
        for (const [k, v] of [["MIN_AGE_SECONDS", "ten"], ["FINISHED_GRACE_SECONDS", "-1"]]) {
            const mark = auditMark();
            const r = await sweep({ [k]: v });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`${k} must be a whole number of seconds; got "${v}"`));
            assert.deepEqual(tokenEntries(r, mark), []);
        }
        assert.deepEqual(remaining(made).map((m) => m.uid), made.map((m) => m.uid));
    });
});

/** A directory no file can be created in, even by root (where a chmod 0555 directory is still writable). */
function unwritableDir(): string {
    const dir = tmpDir("ro-tmp-");
    fs.chmodSync(dir, 0o555);
    for (const candidate of [dir, "/proc", "/sys"]) {
        try {
            fs.writeFileSync(path.join(candidate, "probe"), "x");
            fs.rmSync(path.join(candidate, "probe"), { force: true });
        } catch {
            return candidate;
        }
    }
    throw new Error("no unwritable directory found for the test");
}
