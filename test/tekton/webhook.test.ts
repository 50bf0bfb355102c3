// GitHub deliveries through the program's EventListener: the real sink of Tekton Triggers v0.37.0 (run by
// scripts/cluster.sh tekton-sink as its Deployment would run it), the real core interceptors (github: the
// HMAC signature and event type; cel: the program's filter), the program's TriggerBinding and TriggerTemplate.
// Simulated: GitHub itself (the test POSTs real example payloads of npm @octokit/webhooks-examples, signed
// as GitHub signs them); the steps of the runs it starts (ended by the step runner with chosen outcomes).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import * as path from "node:path";
import { apply, cluster, kubectlOk, PIPELINES_NS, REPO, sleep } from "../cluster/harness";
import { StepRunner } from "./step-runner";
import { controllersRunning, installProgram, purgePipelineRuns, one, succeeded, waitDone } from "./tekton";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const EXAMPLES: Array<{ name: string; examples: any[] }> = require("@octokit/webhooks-examples/api.github.com/index.json");
const SECRET = "webhook-test-secret-0f3c";

function examples(event: string): any[] {
    return EXAMPLES.find((e) => e.name === event)!.examples;
}

/** A pull_request delivery of this action, from the examples, with the fields a test sets. */
function delivery(action: string, edit: (p: any) => void = () => {}): any {
    const p = structuredClone(examples("pull_request").find((e) => e.action === action));
    assert.ok(p, `no pull_request example with action ${action}`);
    edit(p);
    return p;
}

function sign(body: string, secret = SECRET): string {
    return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** The value of `$(body.a.b)` in the payload, as the sink's binding resolution reads it. */
function bodyPath(payload: any, expr: string): string {
    const m = /^\$\(body\.([A-Za-z0-9_.-]+)\)$/.exec(expr);
    if (!m) throw new Error(`binding value ${expr} is not $(body.path): extend this test to read it`);
    let v = payload;
    for (const k of m[1].split(".")) v = v?.[k];
    return typeof v === "string" ? v : JSON.stringify(v);
}

function pipelineRuns(): any[] {
    return JSON.parse(kubectlOk(["get", "pipelineruns.v1.tekton.dev", "-n", PIPELINES_NS, "-o", "json"])).items;
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
        apply([{ apiVersion: "v1", kind: "Secret", metadata: { name: "github-webhook-secret", namespace: PIPELINES_NS }, type: "Opaque", data: { secret: Buffer.from(SECRET).toString("base64") } }]);
        const sink = spawnSync("bash", [path.join(REPO, "scripts", "cluster.sh"), "tekton-sink", PIPELINES_NS, "tekton-dag-github"], { encoding: "utf8" });
        assert.equal(sink.status, 0, sink.stderr);
        url = sink.stdout.trim();
        runner.defaultPlan = { tasks: {}, default: {} };
        runner.start();
    });
    after(async () => { await runner.stop(); });
    afterEach(() => { purgePipelineRuns(); });

    async function post(payload: any, headers: Record<string, string>): Promise<number> {
        const body = JSON.stringify(payload);
        const res = await fetch(url, {
            method: "POST", body,
            headers: { "content-type": "application/json", "x-github-event": "pull_request", "x-github-delivery": `d-${Date.now()}`, "x-hub-signature-256": sign(body), ...headers },
        });
        await res.text();
        return res.status;
    }

    /** Waits until a PipelineRun for PR `number` exists; returns it. */
    async function runFor(number: number): Promise<any> {
        for (const end = Date.now() + 60_000; ; await sleep(250)) {
            const found = pipelineRuns().filter((p) => p.metadata.labels?.["tekton-dag.io/pr"] === String(number));
            if (found.length > 1) throw new Error(`${found.length} PipelineRuns for PR ${number}`);
            if (found.length === 1) return found[0];
            if (Date.now() > end) throw new Error(`no PipelineRun for PR ${number} within 60s`);
        }
    }

    it("a signed pull_request 'opened' creates one stack-pr-test run whose params are the binding's values from the payload, and it completes", async () => {
        const payload = delivery("opened", (p) => { p.number = 1001; p.pull_request.number = 1001; });
        await post(payload, {});
        const pr = await runFor(1001);
        assert.equal(pr.spec.pipelineRef.name, "stack-pr-test");
        const binding = one(objs, "TriggerBinding", "github-pr-binding");
        const tt = one(objs, "TriggerTemplate", "stack-pr-test-template");
        const got = Object.fromEntries(pr.spec.params.map((p: any) => [p.name, p.value]));
        for (const b of binding.spec.params) {
            const want = bodyPath(payload, b.value);
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
            ["wrong signature", delivery("opened", (p) => { p.number = 2002; p.pull_request.number = 2002; }), { "x-hub-signature-256": sign("other body") }],
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
