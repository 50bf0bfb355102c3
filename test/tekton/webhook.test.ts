// GitHub deliveries through the program's EventListener: the real sink of Tekton Triggers v0.37.0 (run by
// scripts/cluster.sh tekton-sink as its Deployment would run it), the real core interceptors (github: the
// HMAC signature and event type; cel: the program's filter), the program's TriggerBinding and TriggerTemplate.
// Simulated: GitHub itself (the test POSTs real example payloads of npm @octokit/webhooks-examples, signed
// as GitHub signs them); the steps of the runs it starts (ended by the step runner with chosen outcomes).
import { strict as assert } from "node:assert";
import { cluster, PIPELINES_NS } from "../cluster/harness";
import { sign } from "../support/triggers";
import { INTERCEPT_BACKEND_BINDING } from "../../lib/interceptLabel";
import { delivery, pipelineRuns, post as postTo, runFor, startSink, WEBHOOK_SECRET } from "./sink";
import { StepRunner } from "./step-runner";
import { controllersRunning, installProgram, purgePipelineRuns, one, succeeded, waitDone } from "./tekton";

/** The value of `$(body.a.b)` in the payload, as the sink's binding resolution reads it. */
function bodyPath(payload: any, expr: string): string {
    const m = /^\$\(body\.([A-Za-z0-9_.-]+)\)$/.exec(expr);
    if (!m) throw new Error(`binding value ${expr} is not $(body.path): extend this test to read it`);
    let v = payload;
    for (const k of m[1].split(".")) v = v?.[k];
    return typeof v === "string" ? v : JSON.stringify(v);
}

describe("webhook deliveries through the real EventListener sink and interceptors (GitHub simulated: signed example payloads POSTed by the test; steps simulated)", function () {
    this.timeout(600_000);
    let objs: any[];
    let url: string;
    const runner = new StepRunner(PIPELINES_NS);

    before(async () => {
        cluster();
        controllersRunning();
        objs = await installProgram();
        purgePipelineRuns();
        url = startSink();
        runner.defaultPlan = { tasks: {}, default: {} };
        runner.start();
    });
    after(async () => { await runner.stop(); });
    afterEach(() => { purgePipelineRuns(); });

    const post = (payload: any, headers: Record<string, string>) => postTo(url, payload, headers);

    it("a signed pull_request 'opened' creates one stack-pr-test run whose params are the binding's values from the payload, and it completes", async () => {
        const payload = delivery("opened", (p) => { p.number = 1001; p.pull_request.number = 1001; });
        await post(payload, {});
        const pr = await runFor(1001);
        assert.equal(pr.spec.pipelineRef.name, "stack-pr-test");
        const binding = one(objs, "TriggerBinding", "github-pr-binding");
        const tt = one(objs, "TriggerTemplate", "stack-pr-test-template");
        const got = Object.fromEntries(pr.spec.params.map((p: any) => [p.name, p.value]));
        for (const b of binding.spec.params) {
            // The example PR has no intercept label: the cel overlay gives the stack config's backend, the
            // template's default (labelled PRs: test/triggers/deliveries.test.ts).
            const want = b.value === INTERCEPT_BACKEND_BINDING
                ? tt.spec.params.find((p: any) => p.name === "intercept-backend").default
                : bodyPath(payload, b.value);
            // GitHub's repository id labels the run (with the PR number it finds the PR's runs), not a param.
            if (b.name === "repo-id") {
                assert.equal(pr.metadata.labels["tekton-dag.io/repo-id"], String(want));
                continue;
            }
            // The template hands the binding's param on under the same name.
            const tp = tt.spec.resourcetemplates[0].spec.params.find((p: any) => p.value === `$(tt.params.${b.name})`);
            assert.ok(tp, `the TriggerTemplate does not use binding param ${b.name}`);
            assert.equal(got[tp.name], want, `param ${tp.name}`);
        }
        const done = await waitDone(pr.metadata.name, runner.errors);
        assert.equal(succeeded(done).status, "True", succeeded(done).message);
    });

    it("closed PRs, a wrong or missing signature, another event type and an untrusted fork create no PipelineRun", async () => {
        const before = pipelineRuns().length;
        const rejected: Array<[string, any, Record<string, string>]> = [
            ["closed", delivery("closed", (p) => { p.number = 2001; p.pull_request.number = 2001; }), {}],
            ["wrong signature", delivery("opened", (p) => { p.number = 2002; p.pull_request.number = 2002; }), { "x-hub-signature-256": sign("other body", WEBHOOK_SECRET) }],
            ["signed with another secret", delivery("opened", (p) => { p.number = 2003; p.pull_request.number = 2003; }), { "x-hub-signature-256": sign("x", "not-the-secret") }],
            ["push event", delivery("opened", (p) => { p.number = 2004; p.pull_request.number = 2004; }), { "x-github-event": "push" }],
            ["untrusted fork", delivery("opened", (p) => { p.number = 2005; p.pull_request.number = 2005; p.pull_request.head.repo.full_name = "mallory/Hello-World"; }), {}],
        ];
        for (const [what, payload, headers] of rejected) {
            const status = await post(payload, headers);
            assert.ok(status < 500, `${what}: the sink answered ${status}`);
        }
        // Missing signature: the header left out entirely.
        const unsigned = JSON.stringify(delivery("opened", (p) => { p.number = 2006; p.pull_request.number = 2006; }));
        await (await fetch(url, { method: "POST", body: unsigned, headers: { "content-type": "application/json", "x-github-event": "pull_request" } })).text();
        // A delivery that is accepted, sent last: once its run exists, the sink has handled the ones before.
        await post(delivery("synchronize", (p) => { p.number = 2999; p.pull_request.number = 2999; }), {});
        await runFor(2999);
        const now = pipelineRuns();
        assert.equal(now.length, before + 1, `PipelineRuns: ${now.map((p) => p.metadata.labels?.["tekton-dag.io/pr"]).join(" ")}`);
        for (const n of [2001, 2002, 2003, 2004, 2005, 2006]) {
            assert.ok(!now.some((p) => p.metadata.labels?.["tekton-dag.io/pr"] === String(n)), `a run was created for rejected delivery PR ${n}`);
        }
    });
});
