// cleanup-stack-intercepts.sh and sweep-orphans.sh on the real API server, as tekton-dag-pipeline (the
// identity of the cleanup task and of the sweeper CronJob), under the Roles the program installs: a run's
// leftovers are created as the admin with the labels the deploy scripts give them, the script runs, and the
// tests read what the API server still stores, by uid. deploy-intercepts-result.sh and
// check-intercept-backend.sh call no kubectl; they run as tekton-dag-pr-code, their tasks' identity.
// Simulated: the Tekton controller (PipelineRuns are plain objects whose status the tests write) and the
// kubelet of proxy pods (those here are never scheduled, so the API server deletes them at once).
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    apply, getJson, installRbac, kubectl, kubectlOk, newRun, PIPELINE_SA, PIPELINES_NS, PR_CODE_SA, purgeRunObjects,
    RUN_KINDS, runScript, ScriptRun, sleep, sweepEnv, TARGET_NS, tempDir, waitCan,
} from "../harness";
import { auditMark, auditSince } from "../audit";
import {
    ageOf, goneRuns, jobPods, Made, manyPipelineRuns, ok, pipelineRun, remaining, runConfigMap, runLease, runLeftovers,
    newRunWithObject, runConfigMaps, runPod, waitJobPod,
} from "./lifecycle-fixtures";

/** A second target namespace, with the pipeline's Role and RoleBinding of the first copied into it. */
const OTHER_NS = "tekton-dag-test-second";
let pipelineRole: any;

const cleanup = (runId: string, namespaces = `${TARGET_NS} ${OTHER_NS}`, env: Record<string, string> = {}) =>
    runScript("cleanup-stack-intercepts.sh", { RUN_ID: runId, TARGET_NAMESPACES: namespaces, DEFAULT_NAMESPACE: TARGET_NS, ...env }, PIPELINE_SA);
const sweep = (extra: Record<string, string> = {}) =>
    runScript("sweep-orphans.sh", sweepEnv({ TARGET_NAMESPACES: `${TARGET_NS} ${OTHER_NS}`, ...extra }), PIPELINE_SA);
const tokenEntries = (r: ScriptRun, mark: number) => auditSince(mark).filter((e) => e.tokenId === r.tokenId);

/** A finalizer nothing but the test removes. */
const HOLD = "tekton-dag.test/hold";

/** Waits until the object is being deleted, keeps it a second longer, then lets it go (removes HOLD). */
async function releaseWhenDeleted(resource: string, obj: Made): Promise<void> {
    for (let i = 0; i < 300; i++, await sleep(100)) {
        const r = kubectl(["get", resource, obj.name, "-n", obj.namespace, "-o", "jsonpath={.metadata.deletionTimestamp}"]);
        if (r.status !== 0 || r.stdout) break;
    }
    await sleep(1000);
    const finalizers = JSON.parse(kubectl(["get", resource, obj.name, "-n", obj.namespace, "-o", "jsonpath={.metadata.finalizers}"]).stdout || "[]");
    kubectl(["patch", resource, obj.name, "-n", obj.namespace, "--type", "json", "-p",
        JSON.stringify([{ op: "replace", path: "/metadata/finalizers", value: finalizers.filter((f: string) => f !== HOLD) }])]);
}

function purgeOther(): void {
    kubectl(["delete", RUN_KINDS.join(","), "-n", OTHER_NS, "-l", "tekton-dag.io/run", "--grace-period", "0", "--force", "--wait=true"]);
}

describe("cluster: cleanup-stack-intercepts.sh, deploy-intercepts-result.sh, check-intercept-backend.sh, sweep-orphans.sh (Tekton controller simulated)", function () {
    this.timeout(300_000);

    before(async () => {
        const rbac = await installRbac();
        pipelineRole = rbac.find((o) => o.kind === "Role" && o.metadata.namespace === TARGET_NS && o.metadata.name === PIPELINE_SA.name);
        const binding = rbac.find((o) => o.kind === "RoleBinding" && o.metadata.namespace === TARGET_NS && o.roleRef.name === PIPELINE_SA.name);
        assert.ok(pipelineRole && binding, "the kind stack renders the pipeline's Role and RoleBinding in the target namespace");
        const copy = (o: any) => ({ ...structuredClone(o), metadata: { name: o.metadata.name, namespace: OTHER_NS, labels: o.metadata.labels } });
        // A namespace an earlier run of this file deleted may still be terminating.
        kubectl(["wait", "--for=delete", `namespace/${OTHER_NS}`, "--timeout=180s"]);
        apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: OTHER_NS } }]);
        apply([copy(pipelineRole), copy(binding)]);
        await waitCan(PIPELINE_SA, "delete", "leases.coordination.k8s.io", OTHER_NS, true);
    });
    after(() => {
        purgeRunObjects();
        purgeOther();
        kubectl(["delete", "namespace", OTHER_NS, "--wait=true", "--timeout=180s"]);
    });
    afterEach(() => {
        purgeRunObjects();
        purgeOther();
    });

    describe("cleanup-stack-intercepts.sh as tekton-dag-pipeline", () => {
        it("deletes every kind of the run's objects in every target namespace: proxies first, agent Jobs with their pods, the Lease last; another run's stay (by uid)", async () => {
            const run = randomUUID();
            const other = randomUUID();
            const mine = [...runLeftovers(run, TARGET_NS, "a"), ...runLeftovers(run, OTHER_NS, "a")];
            const theirs = runLeftovers(other, TARGET_NS, "b");
            for (const job of [...mine, ...theirs].filter((m) => m.kind === "Job")) await waitJobPod(job);
            const myJob = mine.find((m) => m.kind === "Job" && m.namespace === TARGET_NS)!;
            const myAgentPod = jobPods(myJob)[0].metadata.name;
            const mark = auditMark();
            const r = await cleanup(run);
            ok(r);
            assert.doesNotMatch(r.stderr, /forbidden|failed to watch/i, "every list, delete and watch of --wait is allowed");
            assert.deepEqual(remaining(mine), [], "this run's objects in both namespaces");
            for (const ns of [TARGET_NS, OTHER_NS]) {
                assert.deepEqual(getJson(["get", "pods", "-n", ns, "-l", `tekton-dag.io/run=${run}`]).items.map((p: any) => p.metadata.name), [], `agent pods in ${ns}`);
            }
            assert.deepEqual(remaining(theirs).map((m) => m.uid), theirs.map((m) => m.uid), "the other run's objects");
            // The order of the deletions the script made (the audit log records the target namespace).
            const deletes = tokenEntries(r, mark).filter((e) => e.verb === "delete").map((e) => `${e.resource}/${e.name}`);
            const name = (kind: string, prefix: string) => mine.find((m) => m.namespace === TARGET_NS && m.kind === kind && m.name.startsWith(prefix))!.name;
            assert.deepEqual(deletes, [
                `pods/${name("Pod", "mirrord-")}`, `pods/${name("Pod", "tp-")}`, `jobs/${myJob.name}`, `pods/${name("Pod", "pr-")}`,
                `configmaps/${name("ConfigMap", "mirrord-")}`, `leases/${name("Lease", "tekton-dag-intercept-")}`,
            ], "proxies first, the Lease last; the agent pod was gone (with its Job, --cascade=foreground --wait) before the pods' turn");
            assert.ok(!deletes.includes(`pods/${myAgentPod}`), "the agent pod went with its Job, not by the script's pod deletion");
            assert.match(r.stderr, new RegExp(`removing objects labelled tekton-dag.io/run=${run} in ${TARGET_NS}\\n[^]*in ${OTHER_NS}`));
            // Idempotent: a second cleanup (a retried finally task) finds nothing and succeeds.
            ok(await cleanup(run));
            assert.deepEqual(remaining(theirs).map((m) => m.uid), theirs.map((m) => m.uid));
        });

        it("touches only the namespaces it is given (target-namespaces and default-namespace, each once)", async () => {
            const run = randomUUID();
            const here = runLeftovers(run, TARGET_NS, "a");
            const there = runLeftovers(run, OTHER_NS, "a");
            const r = await cleanup(run, `${TARGET_NS} ${TARGET_NS}`);
            ok(r);
            assert.deepEqual(remaining(here), []);
            assert.deepEqual(remaining(there).map((m) => m.uid), there.map((m) => m.uid), `${OTHER_NS} is not a target namespace of this cleanup`);
            assert.equal(r.stderr.match(/removing objects labelled/g)?.length, 1, "staging once");
        });

        it("keeps going when a deletion is refused in one namespace (its Role lacks configmaps), then reports that namespace", async () => {
            const cut = structuredClone(pipelineRole);
            cut.metadata = { name: pipelineRole.metadata.name, namespace: OTHER_NS };
            cut.rules = cut.rules.filter((rule: any) => !rule.resources.includes("configmaps"));
            apply([cut]);
            try {
                await waitCan(PIPELINE_SA, "delete", "configmaps", OTHER_NS, false);
                const run = randomUUID();
                const here = runLeftovers(run, TARGET_NS, "a");
                const there = runLeftovers(run, OTHER_NS, "a");
                const r = await cleanup(run);
                assert.notEqual(r.status, 0);
                assert.match(r.stderr, /configmaps is forbidden/);
                assert.match(r.stderr, new RegExp(`some deletions failed in: ${OTHER_NS}`));
                assert.deepEqual(remaining(here), [], "the namespace that allows it is cleaned");
                assert.deepEqual(remaining(there).map((m) => m.kind), ["ConfigMap"], "everything else there, the Lease after the ConfigMap too, is deleted");
            } finally {
                apply([{ ...structuredClone(pipelineRole), metadata: { name: pipelineRole.metadata.name, namespace: OTHER_NS } }]);
                await waitCan(PIPELINE_SA, "delete", "configmaps", OTHER_NS, true);
            }
        });

        // kubectl delete --wait=true waits for each object through a list and a watch (client-go's reflector);
        // a Job deleted with --cascade=foreground stays until its pods are gone. Found here: without the watch
        // verb kubectl logs the Forbidden and falls back to listing again, so the cleanup still ends; the
        // verb is what keeps its waits free of Forbidden. (It reads nothing with get: see the report on the
        // jobs rule's get verb.)
        for (const resource of ["pods", "jobs"]) {
            it(`its --wait deletes watch ${resource}: without watch on ${resource} kubectl meets Forbidden (with the program's Role it meets none)`, async () => {
                const cut = structuredClone(pipelineRole);
                const rule = cut.rules.find((r: any) => r.resources.includes(resource));
                rule.verbs = rule.verbs.filter((v: string) => v !== "watch");
                const probe = resource === "jobs" ? "jobs.batch" : resource;
                apply([cut]);
                try {
                    await waitCan(PIPELINE_SA, "watch", probe, TARGET_NS, false);
                    const run = randomUUID();
                    const made = runLeftovers(run, TARGET_NS, "a");
                    for (const job of made.filter((m) => m.kind === "Job")) await waitJobPod(job);
                    // The PR pod or the Job is held by a finalizer for a moment after its deletion (as a container
                    // slow to stop would hold it), so kubectl's wait must watch it rather than find it gone at once.
                    const held = made.find((m) => resource === "jobs" ? m.kind === "Job" : m.kind === "Pod" && m.name.startsWith("pr-"))!;
                    kubectlOk(["patch", probe, held.name, "-n", TARGET_NS, "--type", "merge", "-p", JSON.stringify({ metadata: { finalizers: [HOLD] } })]);
                    const running = cleanup(run, TARGET_NS);
                    await releaseWhenDeleted(probe, held);
                    const r = await running;
                    assert.match(r.stderr, new RegExp(`cannot watch resource .{0,2}${resource}`), r.stderr);
                } finally {
                    apply([pipelineRole]);
                    await waitCan(PIPELINE_SA, "watch", probe, TARGET_NS, true);
                }
            });
        }

        describe("refuses a run-id that would select other runs' objects, touching nothing", () => {
            let theirs: Made[];
            beforeEach(async () => {
                theirs = runLeftovers(randomUUID(), TARGET_NS, "b");
                for (const job of theirs.filter((m) => m.kind === "Job")) await waitJobPod(job);
            });
            // "abc,tekton-dag.io/run" would make the selector match every run's objects.
            for (const [what, runId] of [["an empty run-id", ""], ["a run-id that is not a uid", "abc,tekton-dag.io/run"], ["a missing run-id", undefined]] as const) {
                it(`refuses ${what}`, async () => {
                    const env: Record<string, string> = { TARGET_NAMESPACES: TARGET_NS, DEFAULT_NAMESPACE: TARGET_NS };
                    if (runId !== undefined) env.RUN_ID = runId;
                    const mark = auditMark();
                    const r = await runScript("cleanup-stack-intercepts.sh", env, PIPELINE_SA);
                    assert.notEqual(r.status, 0);
                    assert.match(r.stderr, /run-id/);
                    assert.deepEqual(tokenEntries(r, mark), [], "no deletion");
                    assert.deepEqual(remaining(theirs).map((m) => m.uid), theirs.map((m) => m.uid));
                });
            }
        });
    });

    describe("deploy-intercepts-result.sh as tekton-dag-pr-code", () => {
        function setup(writeFor?: "this" | "other", content = '{"demo-fe":"pr-demo-fe-0f8e6c1a"}') {
            const run = newRun("result");
            const owner = writeFor === "other" ? randomUUID() : run.id;
            if (writeFor) {
                fs.mkdirSync(path.join(run.ws, ".tekton-dag", "runs", owner), { recursive: true });
                fs.writeFileSync(path.join(run.ws, ".tekton-dag", "runs", owner, "deployed-pods.json"), content);
            }
            const result = path.join(tempDir("result-"), "result");
            return { result, env: { SHARED_WORKSPACE: run.ws, RUN_ID: run.id, RESULT_PATH: result } };
        }

        it("publishes this run's deployed-pods", async () => {
            const { result, env } = setup("this");
            const r = await runScript("deploy-intercepts-result.sh", env, PR_CODE_SA);
            ok(r);
            assert.equal(fs.readFileSync(result, "utf8"), '{"demo-fe":"pr-demo-fe-0f8e6c1a"}');
        });

        it("fails when neither deploy task wrote it, even if an older run's file is in the workspace", async () => {
            for (const { result, env } of [setup(), setup("other")]) {
                fs.writeFileSync(path.join(env.SHARED_WORKSPACE, "deployed-pods.json"), '{"old":"pod"}');
                const r = await runScript("deploy-intercepts-result.sh", env, PR_CODE_SA);
                assert.notEqual(r.status, 0);
                assert.match(r.stderr, /neither deploy-intercepts-telepresence nor deploy-intercepts-mirrord wrote deployed-pods/);
                assert.ok(!fs.existsSync(result));
            }
        });

        it("fails on a file that is not an app -> pod map", async () => {
            const { env } = setup("this", "[1,2]");
            const r = await runScript("deploy-intercepts-result.sh", env, PR_CODE_SA);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /JSON object mapping app -> PR pod name/);
        });
    });

    describe("check-intercept-backend.sh as tekton-dag-pr-code", () => {
        const check = (env: Record<string, string>) => runScript("check-intercept-backend.sh", env, PR_CODE_SA);
        for (const good of ["telepresence", "mirrord"]) {
            it(`accepts ${good}, alone and with intercepts-enabled "true"`, async () => {
                ok(await check({ INTERCEPT_BACKEND: good }));
                ok(await check({ INTERCEPTS_ENABLED: "true", INTERCEPT_BACKEND: good }));
            });
            it(`fails with intercepts-enabled "false" even for ${good}, saying intercepts are disabled here`, async () => {
                const r = await check({ INTERCEPTS_ENABLED: "false", INTERCEPT_BACKEND: good });
                assert.notEqual(r.status, 0);
                assert.ok(r.stderr.includes("intercepts are disabled in this environment (tekton-dag:enableIntercepts is false); no intercept backend can run here"), r.stderr);
            });
        }
        it(`rejects an intercepts-enabled other than true or false, naming it`, async () => {
            for (const bad of ["", "False", "yes"]) {
                const r = await check({ INTERCEPTS_ENABLED: bad, INTERCEPT_BACKEND: "mirrord" });
                assert.notEqual(r.status, 0);
                assert.ok(r.stderr.includes(`intercepts-enabled must be true or false; got "${bad}"`), r.stderr);
            }
        });
        it(`rejects an unknown backend naming the value and the allowed ones`, async () => {
            for (const bad of ["", "Mirrord", "istio", "mirrord "]) {
                const r = await check({ INTERCEPT_BACKEND: bad });
                assert.notEqual(r.status, 0);
                assert.ok(r.stderr.includes(`intercept-backend must be one of telepresence, mirrord; got "${bad}"`), r.stderr);
            }
        });
    });

    describe("sweep-orphans.sh as tekton-dag-pipeline (the sweeper CronJob's identity)", () => {
        const removed = (r: ScriptRun) => Number(/sweep done: (\d+) run\(s\) removed/.exec(r.stderr)?.[1]);

        // Ages come from the API server's creationTimestamps (whole seconds): objects made GAP seconds apart,
        // thresholds set between them with SLACK seconds to spare for the sweep's own run time on a busy machine.
        const GAP = 8;
        const SLACK = 6;

        it("removes only the objects of runs that no longer exist or are too old, by their run label, and logs them", async () => {
            const liveOld = pipelineRun({ state: "running" });
            const gone = randomUUID();
            const made = [
                runConfigMap(liveOld, "cm-live-old"),
                runPod(gone, "pr-gone"), runLease(gone, "tekton-dag-intercept-gone"),
            ];
            await sleep(GAP * 1000);
            const liveYoung = pipelineRun({ state: "running" });
            made.push(runConfigMap(liveYoung, "cm-live-young"), runConfigMap(liveYoung, "cm-live-young-2", OTHER_NS));
            // liveYoung's objects stay younger than this while the sweep runs; liveOld's first one is GAP s older.
            const maxAge = Math.max(1, ageOf(made[3]) + SLACK);
            const r = await sweep({ MAX_AGE_SECONDS: String(maxAge), MIN_AGE_SECONDS: "0" });
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

        it("keeps the objects of a run it does not see while its newest object is younger than MIN_AGE_SECONDS (default 600)", async () => {
            const gone = randomUUID();
            const goneYoung = randomUUID();
            const made = [runConfigMap(gone, "cm-gone-old")];
            await sleep(GAP * 1000);
            made.push(runConfigMap(gone, "cm-gone-newer"));
            await sleep(GAP * 1000);
            made.push(runConfigMap(goneYoung, "cm-gone-young"));
            // gone: its oldest object is past this minimum age, its newest is not.
            const byNewest = await sweep({ MIN_AGE_SECONDS: String(ageOf(made[1]) + SLACK) });
            ok(byNewest);
            assert.deepEqual(goneRuns(made), [], `the newest object decides, not the oldest:\n${byNewest.stderr}`);
            const byDefault = await sweep({ MIN_AGE_SECONDS: "" });
            ok(byDefault);
            assert.deepEqual(goneRuns(made), [], byDefault.stderr);
            assert.match(byDefault.stderr, new RegExp(`keeping run ${goneYoung} in staging \\(PipelineRun no longer exists\\): its newest object is \\d+s old, younger than MIN_AGE_SECONDS=600`));
            // gone's newest object is now GAP s older than goneYoung's only one.
            const shorter = await sweep({ MIN_AGE_SECONDS: String(ageOf(made[2]) + SLACK) });
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
});

/** A directory no file can be created in, even by root (where a chmod 0555 directory is still writable). */
function unwritableDir(): string {
    const dir = tempDir("ro-tmp-");
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
