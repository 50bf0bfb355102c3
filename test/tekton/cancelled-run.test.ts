// A run stopped while its intercept is up (spec.status CancelledRunFinally, set by the test the way a newer
// commit's run would stop it, with the annotation naming that commit), reconciled by Tekton's own
// controller: the running task is cancelled, the finally tasks still run their real scripts, the commit
// status says the run was superseded, and nothing of the run is left. Real and simulated parts as
// test/tekton/real-steps.ts says.
import { strict as assert } from "node:assert";
import { cluster, kubectlOk, PIPELINES_NS } from "../cluster/harness";
import { APP_REPOS, realPlan, realStepSuite } from "./real-steps";
import { createFromTemplate, noObjectsOf, succeeded, taskRunsOf, waitDone } from "./tekton";

const SHA = "fedcba9876543210fedcba9876543210fedcba98";
const NEWER = "89abcdef0123456789abcdef0123456789abcdef";

describe("a run stopped with CancelledRunFinally while its intercept is up, by Tekton's own controller: finally cleans up and the commit status says superseded (real scripts: resolve-stack, deploy, cleanup, pr-comment, commit-status; simulated: git clones, build, hooks, tests, validation HTTP, the Telepresence CLI in the proxy pods, GitHub)", function () {
    this.timeout(900_000);
    const suite = realStepSuite();
    let done: any;
    let runId: string;

    before(async () => {
        cluster();
        let reached!: (name: string) => void;
        const atValidation = new Promise<string>((r) => { reached = r; });
        // Validation never ends by itself: the gate opens only once the run has ended, when Tekton has
        // deleted the pod (the runner then leaves it alone).
        let release!: () => void;
        const afterTheEnd = new Promise<void>((r) => { release = r; });
        const created = createFromTemplate(suite.objs, { "repo-full-name": APP_REPOS["demo-fe"], "app-revision": SHA, "pr-number": "77", "intercept-backend": "telepresence" });
        runId = created.metadata.uid;
        suite.runner.plan(created.metadata.name, realPlan(suite.github, { gates: { "validate-stack-propagation": (ctx) => { reached(ctx.pipelineRun.metadata.name); return afterTheEnd; } } }));
        const name = await suite.runner.orFailure(atValidation);
        kubectlOk(["annotate", "pipelineruns.v1.tekton.dev", name, "-n", PIPELINES_NS, `tekton-dag.io/superseded-by=${NEWER}`]);
        kubectlOk(["patch", "pipelineruns.v1.tekton.dev", name, "-n", PIPELINES_NS, "--type", "merge", "-p", JSON.stringify({ spec: { status: "CancelledRunFinally" } })]);
        try {
            done = await waitDone(name, suite.runner.errors, 600_000);
        } finally {
            release();
        }
    });

    it("the run ends cancelled and its finally tasks ran their real scripts to success", () => {
        assert.equal(succeeded(done).status, "False");
        assert.match(succeeded(done).reason, /Cancelled/, JSON.stringify(succeeded(done)));
        for (const task of ["cleanup-intercepts", "pr-comment", "status-final"]) {
            const step = suite.runner.realSteps.find((s) => s.pipelineRun === done.metadata.name && s.task === task);
            assert.ok(step, `${task} ran`);
            assert.equal(step.exitCode, 0, `${task}: ${step.stderr}`);
        }
        const validate = taskRunsOf(done.metadata.name).find((t) => t.metadata.labels["tekton.dev/pipelineTask"] === "validate-stack-propagation");
        assert.match(succeeded(validate).reason, /Cancelled/);
    });

    it("the commit status goes from pending to error, superseded by the newer commit", () => {
        const statuses = suite.github.statuses(APP_REPOS["demo-fe"], SHA);
        assert.deepEqual(statuses.map((x) => [x.state, x.description]), [
            ["pending", "stack-pr-test: running"],
            ["error", `stack-pr-test: superseded by ${NEWER.slice(0, 7)}`],
        ]);
        assert.deepEqual(suite.github.invalid(), []);
    });

    it("nothing of the run is left", async () => {
        await noObjectsOf(runId);
    });
});
