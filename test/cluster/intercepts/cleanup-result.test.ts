// cleanup-stack-intercepts.sh on the real API server, as tekton-dag-pipeline (the cleanup task's identity),
// under the Roles the program installs: a run's leftovers are created as the admin with the labels the
// deploy scripts give them, the script runs, and the tests read what the API server still stores, by uid.
// deploy-intercepts-result.sh and check-intercept-backend.sh call no kubectl; they run as
// tekton-dag-pr-code, their tasks' identity. Simulated: the kubelet of proxy pods (those here are never
// scheduled, so the API server deletes them at once).
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    apply, getJson, kubectl, kubectlOk, newRun, PIPELINE_SA, PR_CODE_SA, runScriptAs, ScriptRun, sleep, TARGET_NS, waitCan,
} from "../harness";
import { auditMark, auditSince } from "../audit";
import {
    HOLD, jobPods, Made, ok, OTHER_NS, releaseWhenWatched, remaining, runLeftovers, waitJobPod, twoNamespaceSuite,
} from "./lifecycle-fixtures";
import { tmpDir } from "../../support/tmpDir";

let pipelineRole: any;

const cleanup = (runId: string, namespaces = `${TARGET_NS} ${OTHER_NS}`) =>
    runScriptAs("cleanup-stack-intercepts.sh", { RUN_ID: runId, TARGET_NAMESPACES: namespaces, DEFAULT_NAMESPACE: TARGET_NS }, PIPELINE_SA);
const tokenEntries = (r: ScriptRun, mark: number) => auditSince(mark).filter((e) => e.tokenId === r.tokenId);

describe("cluster: cleanup-stack-intercepts.sh, deploy-intercepts-result.sh, check-intercept-backend.sh", function () {
    this.timeout(300_000);

    const suite = twoNamespaceSuite();
    before(() => { pipelineRole = suite.pipelineRole; });

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
            // The order of the deletions the script made, in each namespace (the audit log has every request of
            // the script's token).
            const deletes = tokenEntries(r, mark).filter((e) => e.verb === "delete");
            for (const ns of [TARGET_NS, OTHER_NS]) {
                const name = (kind: string, prefix: string) => mine.find((m) => m.namespace === ns && m.kind === kind && m.name.startsWith(prefix))!.name;
                assert.deepEqual(deletes.filter((e) => e.namespace === ns).map((e) => `${e.resource}/${e.name}`), [
                    `pods/${name("Pod", "mirrord-")}`, `pods/${name("Pod", "tp-")}`, `jobs/${name("Job", "mirrord-agent-")}`, `pods/${name("Pod", "pr-")}`,
                    `configmaps/${name("ConfigMap", "mirrord-")}`, `leases/${name("Lease", "tekton-dag-intercept-")}`,
                ], `in ${ns}: proxies first, the Lease last; the agent pod was gone (with its Job, --cascade=foreground --wait) before the pods' turn`);
            }
            assert.ok(!deletes.some((e) => e.name === myAgentPod), "the agent pod went with its Job, not by the script's pod deletion");
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
                    const since = auditMark();
                    const running = cleanup(run, TARGET_NS);
                    await releaseWhenWatched(probe, held, since, running);
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
                    const r = await runScriptAs("cleanup-stack-intercepts.sh", env, PIPELINE_SA);
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
            const result = path.join(tmpDir("result-"), "result");
            return { result, env: { SHARED_WORKSPACE: run.ws, RUN_ID: run.id, RESULT_PATH: result } };
        }

        it("publishes this run's deployed-pods", async () => {
            const { result, env } = setup("this");
            const r = await runScriptAs("deploy-intercepts-result.sh", env, PR_CODE_SA);
            ok(r);
            assert.equal(fs.readFileSync(result, "utf8"), '{"demo-fe":"pr-demo-fe-0f8e6c1a"}');
        });

        it("fails when neither deploy task wrote it, even if an older run's file is in the workspace", async () => {
            for (const { result, env } of [setup(), setup("other")]) {
                fs.writeFileSync(path.join(env.SHARED_WORKSPACE, "deployed-pods.json"), '{"old":"pod"}');
                const r = await runScriptAs("deploy-intercepts-result.sh", env, PR_CODE_SA);
                assert.notEqual(r.status, 0);
                assert.match(r.stderr, /neither deploy-intercepts-telepresence nor deploy-intercepts-mirrord wrote deployed-pods/);
                assert.ok(!fs.existsSync(result));
            }
        });

        it("fails on a file that is not an app -> pod map", async () => {
            const { env } = setup("this", "[1,2]");
            const r = await runScriptAs("deploy-intercepts-result.sh", env, PR_CODE_SA);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /JSON object mapping app -> PR pod name/);
        });
    });

    describe("check-intercept-backend.sh as tekton-dag-pr-code", () => {
        const check = (env: Record<string, string>) => runScriptAs("check-intercept-backend.sh", env, PR_CODE_SA);
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
});
