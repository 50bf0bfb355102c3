import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { flag, OTHER_RUN_ID, Rule, RUN_ID, runScript, tempDir } from "./harness";

const kubectlCalls = (calls: any[]) => calls.filter((c) => c.cmd === "kubectl");

describe("cleanup-stack-intercepts.sh", () => {
    it("deletes every kind of intercept object in every namespace, selecting only this run's label", () => {
        const res = runScript("cleanup-stack-intercepts.sh", { RUN_ID, TARGET_NAMESPACES: "staging api-ns", DEFAULT_NAMESPACE: "staging" });
        assert.equal(res.status, 0, res.stderr);
        const calls = kubectlCalls(res.calls);
        assert.ok(calls.length > 0);
        for (const c of calls) {
            assert.equal(c.argv[0], "delete", c.argv.join(" "));
            const sel = flag(c.argv, "-l");
            assert.ok(sel, `a selector on ${c.argv.join(" ")}`);
            assert.equal(sel!.split(",")[0], `tekton-dag.io/run=${RUN_ID}`);
            assert.ok(c.argv.includes("--ignore-not-found"), "idempotent");
        }
        const done = new Set(calls.map((c) => `${flag(c.argv, "-n")} ${c.argv[1]}`));
        for (const ns of ["staging", "api-ns"]) {
            for (const kind of ["pods", "jobs.batch", "configmaps", "leases.coordination.k8s.io"]) assert.ok(done.has(`${ns} ${kind}`), `${ns} ${kind}`);
        }
        assert.equal(calls.filter((c) => flag(c.argv, "-n") === "staging" && c.argv[1] === "leases.coordination.k8s.io").length, 1, "staging once");
        const job = calls.find((c) => c.argv[1] === "jobs.batch");
        assert.ok(job!.argv.includes("--cascade=foreground"), "agent Jobs go with their pods");
        const order = calls.filter((c) => flag(c.argv, "-n") === "staging").map((c) => `${c.argv[1]} ${flag(c.argv, "-l")}`);
        assert.match(order[0], /role=mirrord-proxy$/, "proxies first");
        assert.match(order[order.length - 1], /^leases/, "the Lease last");
    });

    for (const [what, runId] of [["an empty run-id", ""], ["a run-id that is not a uid", "abc,tekton-dag.io/run"], ["a missing run-id", undefined]] as const) {
        it(`refuses ${what} without calling kubectl`, () => {
            const env: Record<string, string> = { TARGET_NAMESPACES: "staging", DEFAULT_NAMESPACE: "staging" };
            if (runId !== undefined) env.RUN_ID = runId;
            const res = runScript("cleanup-stack-intercepts.sh", env);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /run-id/);
            assert.deepEqual(kubectlCalls(res.calls), []);
        });
    }

    it("keeps going when one deletion fails and then reports the failure", () => {
        const res = runScript("cleanup-stack-intercepts.sh", { RUN_ID, TARGET_NAMESPACES: "staging api-ns", DEFAULT_NAMESPACE: "staging" },
            [{ cmd: "kubectl", match: "-n api-ns .*configmaps|configmaps -n api-ns", stderr: "forbidden\n", exit: 1 }]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /some deletions failed in: api-ns/);
        assert.ok(kubectlCalls(res.calls).some((c) => c.argv[1] === "leases.coordination.k8s.io" && flag(c.argv, "-n") === "api-ns"));
    });
});

describe("deploy-intercepts-result.sh", () => {
    function setup(writeFor?: string, content = '{"demo-fe":"pr-demo-fe-0f8e6c1a"}') {
        const dir = tempDir();
        const ws = path.join(dir, "ws");
        if (writeFor) {
            fs.mkdirSync(path.join(ws, ".tekton-dag", "runs", writeFor), { recursive: true });
            fs.writeFileSync(path.join(ws, ".tekton-dag", "runs", writeFor, "deployed-pods.json"), content);
        }
        fs.mkdirSync(ws, { recursive: true });
        return { dir, env: { SHARED_WORKSPACE: ws, RUN_ID, RESULT_PATH: path.join(dir, "result") } };
    }

    it("publishes this run's deployed-pods", () => {
        const { dir, env } = setup(RUN_ID);
        const res = runScript("deploy-intercepts-result.sh", env, [], dir);
        assert.equal(res.status, 0, res.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "result"), "utf8"), '{"demo-fe":"pr-demo-fe-0f8e6c1a"}');
    });

    it("fails when neither deploy task wrote it, even if an older run's file is in the workspace", () => {
        for (const { dir, env } of [setup(), setup(OTHER_RUN_ID)]) {
            fs.writeFileSync(path.join(env.SHARED_WORKSPACE, "deployed-pods.json"), '{"old":"pod"}');
            const res = runScript("deploy-intercepts-result.sh", env, [], dir);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /neither deploy-intercepts-telepresence nor deploy-intercepts-mirrord wrote deployed-pods/);
            assert.ok(!fs.existsSync(path.join(dir, "result")));
        }
    });

    it("fails on a file that is not an app -> pod map", () => {
        const { dir, env } = setup(RUN_ID, "[1,2]");
        const res = runScript("deploy-intercepts-result.sh", env, [], dir);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /JSON object mapping app -> PR pod name/);
    });
});

describe("check-intercept-backend.sh", () => {
    for (const ok of ["telepresence", "mirrord"]) {
        it(`accepts ${ok}`, () => assert.equal(runScript("check-intercept-backend.sh", { INTERCEPT_BACKEND: ok }).status, 0));
    }
    for (const bad of ["", "Mirrord", "istio", "mirrord "]) {
        it(`rejects ${JSON.stringify(bad)} naming the value and the allowed ones`, () => {
            const res = runScript("check-intercept-backend.sh", { INTERCEPT_BACKEND: bad });
            assert.notEqual(res.status, 0);
            assert.ok(res.stderr.includes(`intercept-backend must be one of telepresence, mirrord; got "${bad}"`), res.stderr);
        });
    }
});

describe("sweep-orphans.sh", () => {
    const LIVE_YOUNG = RUN_ID;
    const GONE = OTHER_RUN_ID;
    const LIVE_OLD = "1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9";
    const iso = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const item = (name: string, run: string, age: number) => ({ metadata: { name, creationTimestamp: iso(age), labels: { "tekton-dag.io/run": run } } });
    const rules = (): Rule[] => [
        { cmd: "kubectl", match: "^get pipelineruns.tekton.dev -n tekton-pipelines ", stdout: { items: [{ metadata: { uid: LIVE_YOUNG } }, { metadata: { uid: LIVE_OLD } }] } },
        { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [item("pr-a", LIVE_YOUNG, 60), item("pr-b", GONE, 60), item("pr-c", LIVE_OLD, 90_000)] } },
        { cmd: "kubectl", match: "^get leases.coordination.k8s.io -n staging ", stdout: { items: [item("tekton-dag-intercept-x", GONE, 30)] } },
        { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
    ];
    const env = { TARGET_NAMESPACES: "staging api-ns", PIPELINES_NAMESPACE: "tekton-pipelines", MAX_AGE_SECONDS: "86400" };

    it("removes only the objects of runs that no longer exist or are too old, by their run label, and logs them", () => {
        const res = runScript("sweep-orphans.sh", env, rules());
        assert.equal(res.status, 0, res.stderr);
        const deletes = kubectlCalls(res.calls).filter((c) => c.argv[0] === "delete");
        const runs = new Set(deletes.map((c) => flag(c.argv, "-l")!.split(",")[0]));
        assert.deepEqual([...runs].sort(), [`tekton-dag.io/run=${LIVE_OLD}`, `tekton-dag.io/run=${GONE}`].sort());
        assert.ok(deletes.every((c) => flag(c.argv, "-n") === "staging"));
        assert.match(res.stderr, new RegExp(`removing run ${GONE} in staging \\(PipelineRun no longer exists\\): pods/pr-b leases.coordination.k8s.io/tekton-dag-intercept-x`));
        assert.match(res.stderr, new RegExp(`removing run ${LIVE_OLD} in staging \\(older than 86400s\\)`));
        assert.match(res.stderr, /2 run\(s\) removed/);
    });

    it("removes nothing when the PipelineRuns cannot be listed", () => {
        const res = runScript("sweep-orphans.sh", env, [{ cmd: "kubectl", match: "^get pipelineruns", stderr: "forbidden\n", exit: 1 }, ...rules()]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /cannot list PipelineRuns/);
        assert.equal(kubectlCalls(res.calls).filter((c) => c.argv[0] === "delete").length, 0);
    });
});
