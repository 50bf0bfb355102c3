// Three PRs delivered at once through the real sink (two of one app, one of another), the runs reconciled at
// the same time by Tekton's own controller with the cluster-side tasks running their real scripts
// (test/tekton/real-steps.ts says what is real and what is simulated). All intercepts are up together: each
// run's validation waits until every deploy ended, so the runs overlap whatever the machine's speed. The two
// PRs of one app share the app's intercept lock (Telepresence, docs/intercept-lock.md).
import { strict as assert } from "node:assert";
import { auditMark, auditSince } from "../cluster/audit";
import { cluster, runObjects } from "../cluster/harness";
import { APP_REPOS, realPlan, realStepSuite } from "./real-steps";
import { post, prDelivery, runFor, startSink } from "./sink";
import { lockRecords, noObjectsOf, succeeded, waitDone } from "./tekton";

const PRS: Array<{ app: string; number: number }> = [{ app: "demo-fe", number: 51 }, { app: "demo-api", number: 52 }, { app: "demo-api", number: 53 }];
const DEPLOY_TASKS = ["deploy-intercepts-telepresence", "deploy-intercepts-mirrord"];

describe("three webhooks for three PRs (two of one app), run concurrently by Tekton's own controller (real sink and interceptors; real scripts: resolve-stack, deploy, cleanup, pr-comment; simulated: git clones, build, hooks, tests, validation HTTP, the Telepresence CLI in the proxy pods, GitHub)", function () {
    this.timeout(900_000);
    const suite = realStepSuite();
    const runs: any[] = [];
    const done: any[] = [];
    /** Each run's objects while all intercepts were up: run uid -> "kind/name" keys. */
    const whileBothUp = new Map<string, string[]>();
    /** The records of each app's lock at that moment. */
    const locksThen = new Map<string, Array<{ run: string; state: string; mode: string; header: string }>>();
    let mark: number;

    before(async () => {
        cluster();
        const url = startSink();
        let open!: () => void;
        const bothDeployed = new Promise<void>((r) => { open = r; });
        const watcher = setInterval(() => {
            const deploys = suite.runner.realSteps.filter((s) => DEPLOY_TASKS.includes(s.task));
            if (deploys.length < PRS.length && !deploys.some((d) => d.exitCode !== 0)) return;
            try {
                for (const d of deploys) {
                    const run = runs.find((r) => r.metadata.name === d.pipelineRun);
                    if (run) whileBothUp.set(run.metadata.uid, [...runObjects(run.metadata.uid).keys()]);
                }
                for (const app of new Set(PRS.map((p) => p.app))) locksThen.set(app, lockRecords(app));
            } catch {
                return; // a failed read (kubectl under load) is retried on the next tick, not thrown into mocha
            }
            clearInterval(watcher);
            open();
        }, 200);
        suite.runner.defaultPlan = realPlan(suite.github, { gates: { "validate-stack-propagation": () => bothDeployed } });
        mark = auditMark();
        const statuses = await Promise.all(PRS.map((p) => post(url, prDelivery("opened", APP_REPOS[p.app], p.number))));
        assert.ok(statuses.every((s) => s < 300), `the sink answered ${statuses.join(", ")}`);
        for (const p of PRS) runs.push(await runFor(p.number));
        try {
            for (const r of runs) done.push(await waitDone(r.metadata.name, suite.runner.errors, 600_000));
        } finally {
            clearInterval(watcher);
        }
    });

    it("all complete", () => {
        for (const d of done) assert.equal(succeeded(d).status, "True", `${d.metadata.name}: ${JSON.stringify(succeeded(d))}`);
    });

    it("each run resolved its own app from its repository and deployed only that app", () => {
        for (const [i, p] of PRS.entries()) {
            const name = runs[i].metadata.name;
            const resolve = suite.runner.realSteps.filter((s) => s.pipelineRun === name && s.task === "resolve-stack");
            assert.equal(resolve.at(-1)?.results["changed-app"], p.app);
            const deploy = suite.runner.realSteps.find((s) => s.pipelineRun === name && DEPLOY_TASKS.includes(s.task))!;
            assert.equal(deploy.exitCode, 0, deploy.stderr);
        }
    });

    it("while all intercepts were up, each run's objects carried its own run label, and each app's lock listed exactly its runs as shared holders with their own headers", () => {
        assert.equal(whileBothUp.size, PRS.length);
        for (const [i, p] of PRS.entries()) {
            const keys = whileBothUp.get(runs[i].metadata.uid)!;
            assert.ok(keys.some((k) => k.startsWith("Pod/")), `${p.app}: ${keys.join(", ")}`);
        }
        for (const app of new Set(PRS.map((p) => p.app))) {
            const records = locksThen.get(app)!;
            const want = PRS.map((p, i) => (p.app === app ? runs[i].metadata.uid : "")).filter(Boolean).sort();
            assert.deepEqual(records.map((r) => r.run).sort(), want, `${app}: ${JSON.stringify(records)}`);
            assert.ok(records.every((r) => r.state === "holding" && r.mode === "shared"), `${app}: ${JSON.stringify(records)}`);
            assert.equal(new Set(records.map((r) => r.header)).size, records.length, `${app}: one header per PR`);
        }
    });

    it("each run's cleanup deleted only its own run's objects (audit log), and nothing of any run is left, in the locks neither", async () => {
        const audit = auditSince(mark);
        for (const r of runs) {
            const cleanup = suite.runner.realSteps.find((s) => s.pipelineRun === r.metadata.name && s.task === "cleanup-intercepts")!;
            assert.equal(cleanup.exitCode, 0, cleanup.stderr);
            const deletes = audit.filter((e) => e.verb === "delete" && e.tokenId === cleanup.tokenId);
            assert.ok(deletes.length > 0, `${r.metadata.name}'s cleanup deleted nothing`);
            for (const d of deletes) assert.equal(d.run, r.metadata.uid, `${r.metadata.name}'s cleanup deleted ${d.resource}/${d.name} of run ${d.run}`);
            await noObjectsOf(r.metadata.uid);
        }
        for (const app of new Set(PRS.map((p) => p.app))) assert.deepEqual(lockRecords(app), [], app);
    });

    it("each PR got one comment, on its own PR, saying its run succeeded", () => {
        for (const [i, p] of PRS.entries()) {
            const comments = suite.github.comments(APP_REPOS[p.app], p.number);
            assert.equal(comments.length, 1, `${p.app}#${p.number}: ${JSON.stringify(suite.github.requests.map((r) => r.url))}`);
            assert.match(comments[0].body, /\n### tekton-dag: ✅ (Succeeded|Completed)/);
            assert.ok(comments[0].body.includes(runs[i].metadata.name));
        }
    });

    it("each PR's head commit got pending, then success, from its own run (every request valid by GitHub's REST description)", () => {
        for (const [i, p] of PRS.entries()) {
            const sha = runs[i].spec.params.find((x: any) => x.name === "app-revision").value;
            assert.deepEqual(suite.github.statuses(APP_REPOS[p.app], sha).map((x) => x.state), ["pending", "success"], p.app);
        }
        assert.deepEqual(suite.github.invalid(), []);
    });
});
