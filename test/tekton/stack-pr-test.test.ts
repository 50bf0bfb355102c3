// stack-pr-test reconciled by Tekton Pipelines v1.15.0's own controller against the local control plane. The
// steps are simulated (scripts/cluster.sh runs no container): test/tekton/step-runner.ts ends each step with
// the exit code and results the test chose, in Tekton's termination-message format.
import { strict as assert } from "node:assert";
import { CLUSTER_PIPELINE_TASKS, PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT } from "../../lib/identities";
import { cluster, PIPELINES_NS } from "../cluster/harness";
import { RunPlan, StepRunner } from "./step-runner";
import { controllersRunning, createFromTemplate, purgePipelineRuns, installProgram, one, podsOf, succeeded, taskRunsOf, waitDone } from "./tekton";

const BUILD_TOOLS = ["npm", "maven", "gradle", "pip", "composer"];
/** The runs this suite checks, one per build tool: [build tool, intercept backend]. */
const CASES: Array<[string, string]> = [["npm", "telepresence"], ["maven", "mirrord"], ["gradle", "telepresence"], ["pip", "mirrord"], ["composer", "telepresence"]];

/** Results of resolve-stack a test chooses: the build tool decides which compile task runs. */
function plan(buildTool: string): RunPlan {
    return { tasks: { "resolve-stack": { results: { "build-tool": buildTool } } }, default: {} };
}

describe("stack-pr-test run by Tekton's own controller (steps simulated: exit codes and results chosen by the test)", function () {
    this.timeout(900_000);
    let objs: any[];
    let pipeline: any;
    const runner = new StepRunner(PIPELINES_NS);
    /** Each case's run, all started at once: they are independent PipelineRuns, as a busy cluster runs them. */
    const runs = new Map<string, Promise<{ pr: any; name: string }>>();

    before(async () => {
        cluster();
        controllersRunning();
        objs = await installProgram();
        purgePipelineRuns();
        pipeline = one(objs, "Pipeline", "stack-pr-test");
        runner.start();
        for (const [tool, backend] of CASES) {
            const started = run(tool, backend);
            started.catch(() => undefined); // awaited (and reported) by its own test
            runs.set(tool, started);
        }
    });
    after(async () => {
        await Promise.allSettled(runs.values());
        await runner.stop();
        purgePipelineRuns();
    });

    async function run(buildTool: string, backend: string): Promise<{ pr: any; name: string }> {
        const created = createFromTemplate(objs, { "repo-full-name": "example-org/demo-api", "app-revision": "0123456789abcdef0123456789abcdef01234567", "pr-number": "42", "intercept-backend": backend });
        const name = created.metadata.name;
        runner.plan(name, plan(buildTool));
        // A bound for a failing wait only: five runs share the controller (and a busy CI machine's cores).
        const pr = await waitDone(name, runner.errors, 840_000);
        assert.deepEqual(runner.errors, []);
        return { pr, name };
    }

    function checkRun(pr: any, name: string, buildTool: string, backend: string): void {
        const cond = succeeded(pr);
        assert.equal(cond.status, "True", `${cond.reason}: ${cond.message}`);
        const deployTasks: Record<string, string> = { telepresence: "deploy-intercepts-telepresence", mirrord: "deploy-intercepts-mirrord" };
        // Skipped by their when-guards: the other build tools' compile tasks and the other backend's deploy task.
        const expectSkipped = [
            ...BUILD_TOOLS.filter((t) => t !== buildTool).map((t) => `compile-${t}`),
            ...Object.entries(deployTasks).filter(([b]) => b !== backend).map(([, t]) => t),
        ].sort();
        const skipped = (pr.status.skippedTasks ?? []).map((s: any) => s.name).sort();
        assert.deepEqual(skipped, expectSkipped);
        for (const s of pr.status.skippedTasks) assert.equal(s.reason, "When Expressions evaluated to false", s.name);

        const trs = taskRunsOf(name);
        const ran = trs.map((t) => t.metadata.labels["tekton.dev/pipelineTask"]).sort();
        const all = [...pipeline.spec.tasks, ...pipeline.spec.finally].map((t: any) => t.name);
        assert.deepEqual(ran, all.filter((t) => !expectSkipped.includes(t)).sort());

        // DAG order: no TaskRun existed before every task it runs after had ended.
        const ended = runner.ended.filter((e) => e.pipelineRun === name);
        for (const t of pipeline.spec.tasks) {
            for (const before of t.runAfter ?? []) {
                const e = ended.find((x) => x.task === before);
                if (!e) { assert.ok(expectSkipped.includes(before), `${before} neither ran nor was skipped`); continue; }
                assert.ok(!e.tasksExisting.includes(t.name), `${t.name} existed before ${before} ended`);
            }
        }
        // finally starts after every task ended.
        for (const f of pipeline.spec.finally) {
            for (const e of ended.filter((x) => !pipeline.spec.finally.some((g: any) => g.name === x.task))) {
                assert.ok(!e.tasksExisting.includes(f.name), `finally ${f.name} existed before ${e.task} ended`);
            }
        }

        // The pod of every task: cluster tasks as the pipeline ServiceAccount, everything else (PR code) as
        // the one without RBAC and without a token volume.
        const pods = podsOf(name);
        assert.deepEqual(pods.map((p) => p.metadata.labels["tekton.dev/pipelineTask"]).sort(), ran);
        for (const p of pods) {
            const task = p.metadata.labels["tekton.dev/pipelineTask"];
            const token = (p.spec.volumes ?? []).some((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken));
            if (task in CLUSTER_PIPELINE_TASKS) {
                assert.equal(p.spec.serviceAccountName, PIPELINE_SERVICE_ACCOUNT, task);
                assert.equal(token, true, `${task} has its token`);
            } else {
                assert.equal(p.spec.serviceAccountName, PR_CODE_SERVICE_ACCOUNT, task);
                assert.equal(token, false, `${task} (PR code) has no token`);
            }
        }
    }

    it("telepresence + npm: Completed in DAG order, the when-guards skip the other compile tasks and mirrord, each pod's ServiceAccount as identities.ts says", async () => {
        const { pr, name } = await runs.get("npm")!;
        checkRun(pr, name, "npm", "telepresence");
    });

    for (const [tool, backend] of CASES.slice(1)) {
        it(`${backend} + ${tool}: Completed, only compile-${tool} and the ${backend} deploy task of their groups run (run alongside the others)`, async () => {
            const { pr, name } = await runs.get(tool)!;
            checkRun(pr, name, tool, backend);
        });
    }
});
