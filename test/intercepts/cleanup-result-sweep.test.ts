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
        it(`accepts ${ok} with intercepts-enabled "true"`, () =>
            assert.equal(runScript("check-intercept-backend.sh", { INTERCEPTS_ENABLED: "true", INTERCEPT_BACKEND: ok }).status, 0));
        it(`fails with intercepts-enabled "false" even for ${ok}, saying intercepts are disabled here`, () => {
            const res = runScript("check-intercept-backend.sh", { INTERCEPTS_ENABLED: "false", INTERCEPT_BACKEND: ok });
            assert.notEqual(res.status, 0);
            assert.ok(res.stderr.includes("intercepts are disabled in this environment (tekton-dag:enableIntercepts is false); no intercept backend can run here"), res.stderr);
        });
    }
    for (const bad of ["", "False", "yes"]) {
        it(`rejects intercepts-enabled ${JSON.stringify(bad)}`, () => {
            const res = runScript("check-intercept-backend.sh", { INTERCEPTS_ENABLED: bad, INTERCEPT_BACKEND: "mirrord" });
            assert.notEqual(res.status, 0);
            assert.ok(res.stderr.includes(`intercepts-enabled must be true or false; got "${bad}"`), res.stderr);
        });
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
    const GONE_YOUNG = "2c3d4e5f-6071-4829-93a4-b5c6d7e8f9a0";
    const CANCELLED = "3d4e5f60-7182-493a-a4b5-c6d7e8f9a0b1";
    const JUST_DONE = "4e5f6071-8293-4a4b-b5c6-d7e8f9a0b1c2";
    const SUCCEEDED = "5f607182-93a4-4b5c-86d7-e8f9a0b1c2d3";
    const iso = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    const item = (name: string, run: string, age: number) => ({ metadata: { name, creationTimestamp: iso(age), labels: { "tekton-dag.io/run": run } } });
    const running = (uid: string) => ({ metadata: { uid }, status: { conditions: [{ type: "Succeeded", status: "Unknown", reason: "Running" }] } });
    const finished = (uid: string, status: string, reason: string, agoSeconds: number) => ({
        metadata: { uid },
        status: { completionTime: iso(agoSeconds), conditions: [{ type: "Succeeded", status, reason, lastTransitionTime: iso(agoSeconds) }] },
    });
    const runsRule = (items: any[]): Rule => ({ cmd: "kubectl", match: "^get pipelineruns.tekton.dev -n tekton-pipelines ", stdout: { items } });
    const rules = (): Rule[] => [
        runsRule([running(LIVE_YOUNG), running(LIVE_OLD)]),
        { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [item("pr-a", LIVE_YOUNG, 60), item("pr-b", GONE, 900), item("pr-c", LIVE_OLD, 90_000)] } },
        { cmd: "kubectl", match: "^get leases.coordination.k8s.io -n staging ", stdout: { items: [item("tekton-dag-intercept-x", GONE, 700)] } },
        { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
    ];
    const env = { TARGET_NAMESPACES: "staging api-ns", PIPELINES_NAMESPACE: "tekton-pipelines", MAX_AGE_SECONDS: "86400" };
    const deletedRuns = (res: ReturnType<typeof runScript>) =>
        [...new Set(kubectlCalls(res.calls).filter((c) => c.argv[0] === "delete").map((c) => flag(c.argv, "-l")!.split(",")[0].replace("tekton-dag.io/run=", "")))].sort();

    it("removes only the objects of runs that no longer exist or are too old, by their run label, and logs them", () => {
        const res = runScript("sweep-orphans.sh", env, rules());
        assert.equal(res.status, 0, res.stderr);
        const deletes = kubectlCalls(res.calls).filter((c) => c.argv[0] === "delete");
        assert.deepEqual(deletedRuns(res), [LIVE_OLD, GONE].sort());
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

    it("removes nothing when the PipelineRun list is not a list", () => {
        const res = runScript("sweep-orphans.sh", env, [{ cmd: "kubectl", match: "^get pipelineruns", stdout: "<html>proxy error</html>" }, ...rules()]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /cannot list PipelineRuns/);
        assert.equal(kubectlCalls(res.calls).filter((c) => c.argv[0] === "delete").length, 0);
    });

    it("lists the objects before the PipelineRuns, so a run created in between cannot look gone", () => {
        const res = runScript("sweep-orphans.sh", env, rules());
        const gets = kubectlCalls(res.calls).filter((c) => c.argv[0] === "get").map((c) => c.argv[1]);
        assert.equal(gets[gets.length - 1], "pipelineruns.tekton.dev", `order: ${gets.join(", ")}`);
        assert.equal(gets.filter((g) => g === "pipelineruns.tekton.dev").length, 1);
        assert.equal(gets.length, 1 + 2 * 4, "four kinds in each of two namespaces, then the runs");
    });

    it("keeps the objects of a run it does not see while they are younger than MIN_AGE_SECONDS (default 600)", () => {
        const young: Rule[] = [
            runsRule([]),
            { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [item("pr-old", GONE, 5000), item("pr-new", GONE_YOUNG, 30), item("pr-newer", GONE, 120)] } },
            { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
        ];
        const res = runScript("sweep-orphans.sh", env, young);
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(deletedRuns(res), [], "GONE has an object 120s old, GONE_YOUNG one 30s old");
        assert.match(res.stderr, new RegExp(`keeping run ${GONE_YOUNG} in staging \\(PipelineRun no longer exists\\): its newest object is \\d+s old, younger than MIN_AGE_SECONDS=600`));
        const shorter = runScript("sweep-orphans.sh", { ...env, MIN_AGE_SECONDS: "60" }, young);
        assert.deepEqual(deletedRuns(shorter), [GONE]);
    });

    it("removes the objects of a finished run (cancelled, failed or succeeded) once FINISHED_GRACE_SECONDS (default 120) have passed", () => {
        const res = runScript("sweep-orphans.sh", env, [
            runsRule([running(LIVE_YOUNG), finished(CANCELLED, "False", "Cancelled", 300), finished(SUCCEEDED, "True", "Succeeded", 200),
                finished(JUST_DONE, "False", "Failed", 30)]),
            { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [item("pr-a", LIVE_YOUNG, 60), item("pr-x", CANCELLED, 400), item("pr-j", JUST_DONE, 100)] } },
            // A finished run's objects go even when they are young: the run will not clean up any more.
            { cmd: "kubectl", match: "^get configmaps -n api-ns ", stdout: { items: [item("mirrord-s", SUCCEEDED, 250)] } },
            { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
        ]);
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(deletedRuns(res), [CANCELLED, SUCCEEDED].sort());
        assert.match(res.stderr, new RegExp(`removing run ${CANCELLED} in staging \\(PipelineRun finished \\d+s ago \\(Succeeded=False\\) and left them\\): pods/pr-x`));
        assert.match(res.stderr, new RegExp(`keeping run ${JUST_DONE} in staging: its PipelineRun finished \\d+s ago \\(grace 120s\\)`));
    });

    it("takes a run with a completionTime as finished even while its condition still says Unknown", () => {
        const res = runScript("sweep-orphans.sh", env, [
            runsRule([{ metadata: { uid: CANCELLED }, status: { completionTime: iso(400), conditions: [{ type: "Succeeded", status: "Unknown" }] } }]),
            { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [item("pr-x", CANCELLED, 500)] } },
            { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
        ]);
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(deletedRuns(res), [CANCELLED]);
    });

    it("survives PipelineRun and object lists far over 64 KiB with no writable temp directory (read-only root filesystem)", () => {
        // bash writes a here-string over 64 KiB to a temp file; the CronJob's root filesystem is read-only.
        const noTmp = unwritableDir();
        const padding = "x".repeat(2000);
        const bigRuns = Array.from({ length: 60 }, (_, i) => ({
            ...running(`6${String(i).padStart(7, "0")}-0000-4000-8000-000000000000`),
            metadata: { uid: `6${String(i).padStart(7, "0")}-0000-4000-8000-000000000000`, annotations: { note: padding } },
        }));
        bigRuns.push(running(LIVE_YOUNG) as any, running(LIVE_OLD) as any);
        const bigPods = Array.from({ length: 60 }, (_, i) => ({ ...item(`pr-${i}`, LIVE_YOUNG, 60), spec: { note: padding } }));
        const rs: Rule[] = [
            runsRule(bigRuns),
            { cmd: "kubectl", match: "^get pods -n staging ", stdout: { items: [...bigPods, item("pr-b", GONE, 900), item("pr-c", LIVE_OLD, 90_000)] } },
            { cmd: "kubectl", match: "^get \\S+ -n \\S+ ", stdout: { items: [] } },
        ];
        assert.ok(JSON.stringify(rs[0].stdout).length > 70_000 && JSON.stringify(rs[1].stdout).length > 70_000);
        const res = runScript("sweep-orphans.sh", { ...env, TMPDIR: noTmp }, rs);
        assert.equal(res.status, 0, res.stderr);
        assert.doesNotMatch(res.stderr, /temp file/);
        assert.deepEqual(deletedRuns(res), [LIVE_OLD, GONE].sort());
    });

    it("rejects a MIN_AGE_SECONDS or FINISHED_GRACE_SECONDS that is not a whole number, before listing anything", () => {
        for (const [k, v] of [["MIN_AGE_SECONDS", "ten"], ["FINISHED_GRACE_SECONDS", "-1"]]) {
            const res = runScript("sweep-orphans.sh", { ...env, [k]: v }, rules());
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, new RegExp(`${k} must be a whole number of seconds; got "${v}"`));
            assert.deepEqual(kubectlCalls(res.calls), []);
        }
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
