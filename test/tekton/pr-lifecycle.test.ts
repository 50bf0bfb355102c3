// A failing stack-pr-test run and its continuation, reconciled by Tekton Pipelines' own controller, with the
// cluster-side tasks running their real scripts (test/tekton/real-steps.ts says what is real and what is
// simulated). The deploy fails for real: the mirrord proxy's agent never starts (the stand-in CLI waits for
// it, as mirrord would) and the deploy's pod-ready-timeout is cut to 20 s through the step's env.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { auditMark, auditSince } from "../cluster/audit";
import { ADMIN_KUBECONFIG, cluster, kubectl, kubectlOk, PIPELINE_SA, PIPELINES_NS, TARGET_NS } from "../cluster/harness";
import { APP_REPOS, realPlan, realStepSuite, TOKEN } from "./real-steps";
import { createFromTemplate, lockRecords, noObjectsOf, succeeded, taskRunsOf, waitDone } from "./tekton";
import { REPO } from "../support/repo";

const APP = "demo-api";
const PR = 4242;
const SHA = "0123456789abcdef0123456789abcdef01234567";

/** The directory of the run's shared workspace: the hostPath of the PV its claim is bound to. */
function workspaceDirOf(pipelineRun: string): { claim: string; dir: string } {
    const claims = new Set(taskRunsOf(pipelineRun).flatMap((t) => (t.spec.workspaces ?? []).map((w: any) => w.persistentVolumeClaim?.claimName)).filter(Boolean));
    assert.equal(claims.size, 1, `${pipelineRun}'s TaskRuns bind ${[...claims].join(", ")}`);
    const claim = [...claims][0] as string;
    const pvc = JSON.parse(kubectlOk(["get", "pvc", claim, "-n", PIPELINES_NS, "-o", "json"]));
    const pv = JSON.parse(kubectlOk(["get", "pv", pvc.spec.volumeName, "-o", "json"]));
    return { claim, dir: pv.spec.hostPath.path };
}

function taskRunOf(pipelineRun: string, task: string): any | undefined {
    return taskRunsOf(pipelineRun).find((t) => t.metadata.labels["tekton.dev/pipelineTask"] === task);
}

describe("stack-pr-test failing at deploy, then scripts/continue-pr.sh, run by Tekton's own controller (real scripts: check-intercept-backend, resolve-stack, deploy, deploy-intercepts-result, cleanup, pr-comment; simulated: git clones, build, hooks, tests, validation HTTP, the mirrord CLI in the proxy pod, GitHub)", function () {
    this.timeout(900_000);
    const suite = realStepSuite();
    let failed: any;
    let failedName: string;
    let runId: string;
    let mark: number;

    before(async () => {
        cluster();
        // The proxy's agent never starts: mirrord (the stand-in) waits, the proxy pod never becomes Ready.
        kubectlOk(["annotate", `deployment/${APP}`, "-n", TARGET_NS, "--overwrite", "tekton-dag.test/mirrord-agent=never-starts"]);
        mark = auditMark();
        const created = createFromTemplate(suite.objs, { "repo-full-name": APP_REPOS[APP], "app-revision": SHA, "pr-number": String(PR), "intercept-backend": "mirrord" });
        failedName = created.metadata.name;
        runId = created.metadata.uid;
        suite.runner.plan(failedName, realPlan(suite.github, { deployEnv: { POD_READY_TIMEOUT_SECONDS: "20" } }));
        failed = await waitDone(failedName, suite.runner.errors);
    });
    after(() => { kubectl(["annotate", `deployment/${APP}`, "-n", TARGET_NS, "tekton-dag.test/mirrord-agent-"]); });

    it("the run fails at deploy-intercepts-mirrord, whose real script names the proxy pod that was not Ready", () => {
        assert.equal(succeeded(failed).status, "False", JSON.stringify(succeeded(failed)));
        const deploy = suite.runner.realSteps.find((s) => s.pipelineRun === failedName && s.task === "deploy-intercepts-mirrord");
        assert.ok(deploy, "the deploy step ran its script");
        assert.notEqual(deploy.exitCode, 0);
        assert.match(deploy.stderr, /mirrord proxy pod staging\/\S+ was not Ready within pod-ready-timeout-seconds=20/);
        assert.equal(deploy.serviceAccount, PIPELINE_SA.name);
        assert.equal(succeeded(taskRunOf(failedName, "deploy-intercepts-mirrord")).status, "False");
        // resolve-stack found the app by the repository, for real.
        const resolve = suite.runner.realSteps.filter((s) => s.pipelineRun === failedName && s.task === "resolve-stack");
        assert.deepEqual(resolve.map((s) => s.exitCode), [0, 0], resolve.map((s) => s.stderr).join("\n"));
        assert.equal(resolve[1].results["changed-app"], APP);
    });

    it("nothing after the deploy starts: no TaskRun of deploy-intercepts-result, the validate tasks or run-stack-tests", () => {
        const ran = taskRunsOf(failedName).map((t) => t.metadata.labels["tekton.dev/pipelineTask"]);
        for (const t of ["deploy-intercepts-result", "validate-stack-propagation", "validate-original-traffic", "run-stack-tests", "hook-pre-test", "hook-post-test"]) {
            assert.ok(!ran.includes(t), `${t} has a TaskRun`);
        }
    });

    it("finally: the real cleanup deletes every object the deploy created (audit log), and the cluster holds none of the run", async () => {
        const cleanup = suite.runner.realSteps.find((s) => s.pipelineRun === failedName && s.task === "cleanup-intercepts");
        assert.ok(cleanup, "cleanup ran its script");
        assert.equal(cleanup.exitCode, 0, cleanup.stderr);
        const deploy = suite.runner.realSteps.find((s) => s.pipelineRun === failedName && s.task === "deploy-intercepts-mirrord")!;
        const audit = auditSince(mark);
        const created = audit.filter((e) => e.verb === "create" && e.tokenId === deploy.tokenId && e.run === runId);
        // The PR pod, the mirrord config and the proxy pod existed before the deploy failed.
        assert.deepEqual([...new Set(created.map((e) => e.resource))].sort(), ["configmaps", "pods"], JSON.stringify(created.map((e) => `${e.resource}/${e.name}`)));
        await noObjectsOf(runId);
        // The app's lock (a shared Lease) keeps no record of the run.
        assert.deepEqual(lockRecords(APP).filter((r) => r.run === runId), []);
        // Every object created was deleted first by this run's own scripts (the deploy's trap or the cleanup);
        // a pod's later delete is its kubelet's (kwok, as the admin) ending the graceful deletion.
        const ownTokens = new Set([deploy.tokenId, cleanup.tokenId]);
        const after = auditSince(mark);
        for (const c of created) {
            const first = after.find((e) => e.verb === "delete" && e.uid === c.uid);
            assert.ok(first, `${c.resource}/${c.name}: no delete in the audit log`);
            assert.ok(ownTokens.has(first.tokenId), `${c.resource}/${c.name} deleted first by ${first.user} (token ${first.tokenId}), not by the run's deploy or cleanup`);
        }
    });

    it("finally: the real pr-comment posts one comment to the PR (GitHub simulated) saying the run failed and naming the commit, with the token from the Secret", () => {
        const comments = suite.github.comments(APP_REPOS[APP], PR);
        assert.equal(comments.length, 1, JSON.stringify(suite.github.requests.map((r) => r.url)));
        const writes = suite.github.commentWrites(APP_REPOS[APP], PR);
        assert.deepEqual(writes.map((w) => [w.method, w.authorization]), [["POST", `Bearer ${TOKEN}`]]);
        assert.match(comments[0].body, /^<!-- tekton-dag:pr-comment context=tekton-dag\/\S+ -->\n### tekton-dag: ❌ Failed/);
        assert.ok(comments[0].body.includes(`PipelineRun \`${failedName}\``) && comments[0].body.includes(`commit \`${SHA}\``), comments[0].body);
        const pr = suite.runner.realSteps.find((s) => s.pipelineRun === failedName && s.task === "pr-comment")!;
        assert.equal(pr.exitCode, 0, pr.stderr);
    });

    it("the real commit-status steps set pending, then failure naming the failed task, on the PR's commit (every request valid by GitHub's REST description)", () => {
        const statuses = suite.github.statuses(APP_REPOS[APP], SHA);
        assert.deepEqual(statuses.map((x) => [x.state, x.description]), [
            ["pending", "stack-pr-test: running"],
            ["failure", "stack-pr-test: failed at deploy-intercepts-mirrord"],
        ]);
        assert.ok(statuses.every((x) => x.context === statuses[0].context && x.context.startsWith("tekton-dag/")), JSON.stringify(statuses));
        assert.deepEqual(suite.github.invalid(), []);
    });

    describe("scripts/continue-pr.sh on the failed run", () => {
        let contName: string;
        let cont: any;
        let out: string;

        before(async () => {
            kubectlOk(["annotate", `deployment/${APP}`, "-n", TARGET_NS, "tekton-dag.test/mirrord-agent-"]);
            const r = spawnSync("bash", [path.join(REPO, "scripts", "continue-pr.sh"), "-n", PIPELINES_NS, failedName], {
                encoding: "utf8", env: { PATH: `${cluster().bin}:/usr/bin:/bin`, HOME: process.env.HOME ?? "/tmp", KUBECONFIG: ADMIN_KUBECONFIG },
            });
            assert.equal(r.status, 0, r.stderr);
            out = r.stdout;
            const created = JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], out));
            contName = created.metadata.name;
            suite.runner.plan(contName, realPlan(suite.github));
            cont = await waitDone(contName, suite.runner.errors);
        });

        it("creates a stack-pr-continue run that completes", () => {
            assert.equal(cont.spec.pipelineRef.name, "stack-pr-continue");
            assert.equal(succeeded(cont).status, "True", JSON.stringify(succeeded(cont)));
            const deploy = suite.runner.realSteps.find((s) => s.pipelineRun === contName && s.task === "deploy-intercepts-mirrord");
            assert.ok(deploy, "the continued deploy ran its script");
            assert.equal(deploy.exitCode, 0, deploy.stderr);
        });

        it("on the same workspace: the earlier run's claim, where its resolve-stack's stack.json (read by digest) and the new run's deployed-pods.json both are", () => {
            const first = workspaceDirOf(failedName);
            const second = workspaceDirOf(contName);
            assert.equal(second.claim, first.claim);
            assert.ok(fs.existsSync(path.join(first.dir, ".tekton-dag", "runs", runId, "stack.json")));
            const pods = JSON.parse(fs.readFileSync(path.join(first.dir, ".tekton-dag", "runs", cont.metadata.uid, "deployed-pods.json"), "utf8"));
            assert.deepEqual(Object.keys(pods), [APP]);
        });

        it("its finally cleans up (nothing of either run is left) and updates the PR's one comment in place: succeeded", async () => {
            await noObjectsOf(cont.metadata.uid);
            await noObjectsOf(runId);
            const comments = suite.github.comments(APP_REPOS[APP], PR);
            assert.equal(comments.length, 1);
            const writes = suite.github.commentWrites(APP_REPOS[APP], PR);
            assert.deepEqual(writes.map((w) => w.method), ["POST", "PATCH"]);
            assert.equal(writes[1].url, `/repos/${APP_REPOS[APP]}/issues/comments/${comments[0].id}`);
            assert.match(comments[0].body, /\n### tekton-dag: ✅ (Succeeded|Completed)/);
            assert.ok(comments[0].body.includes(`PipelineRun \`${contName}\``), comments[0].body);
        });

        it("sets the same commit's status under the same context: pending, then success", () => {
            const statuses = suite.github.statuses(APP_REPOS[APP], SHA);
            assert.deepEqual(statuses.slice(2).map((x) => [x.state, x.description]), [
                ["pending", "stack-pr-continue: running"],
                ["success", "stack-pr-continue: passed"],
            ]);
            assert.ok(statuses.every((x) => x.context === statuses[0].context), JSON.stringify(statuses));
            assert.deepEqual(suite.github.invalid(), []);
        });
    });
});
