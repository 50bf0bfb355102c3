// stack-pr-continue is derived from stack-pr-test by lib/continuePipeline.ts: which tasks it keeps, which
// results become params, where runAfter is re-rooted, and what continue-pr.sh reads off it.
import { strict as assert } from "assert";
import {
    ANNOTATION_CLUSTER_TASKS, ANNOTATION_PARAMS, ContinuationParams, deriveContinuation, readWrittenPipelines, STACK_PR_CONTINUE,
} from "../../lib/continuePipeline";
import { CLUSTER_PIPELINE_TASKS } from "../../lib/identities";
import { allPipelineTasks, ancestors, paramValue, pipelineTask, resultRefs } from "./helpers";

/** stack-pr-test as written, with its compile stage; each test changes its own copy. */
const source = () => structuredClone(readWrittenPipelines().find((p) => p.metadata.name === "stack-pr-test")!);
const params = (p: any): Record<string, any> => Object.fromEntries(p.spec.params.map((x: any) => [x.name, x]));
const annotation = (p: any): ContinuationParams => JSON.parse(p.metadata.annotations[ANNOTATION_PARAMS]);
const BUILD = ["fetch-platform", "resolve-stack", "clone-app", "hook-pre-build", "compile-npm", "compile-maven",
    "compile-gradle", "compile-pip", "compile-composer", "containerize", "hook-post-build"];

describe("stack-pr-continue derived from stack-pr-test", () => {
    const test = source();
    const cont = deriveContinuation(source());

    it("drops the tasks upstream of deploy, except the backend check, and keeps the rest in order", () => {
        const keptNames = test.spec.tasks.map((t: any) => t.name).filter((n: string) => !BUILD.includes(n));
        assert.deepEqual(cont.spec.tasks.map((t: any) => t.name), keptNames);
        assert.ok(keptNames.includes("check-intercept-backend") && keptNames.includes("status-pending"));
        assert.deepEqual(cont.spec.finally.map((t: any) => t.name), test.spec.finally.map((t: any) => t.name));
    });

    it("roots the deploy tasks at the backend check: the nearest kept task above containerize and hook-post-build", () => {
        for (const name of STACK_PR_CONTINUE.startAt) {
            assert.deepEqual(pipelineTask(test, name).runAfter, ["containerize", "hook-post-build"]);
            assert.deepEqual(pipelineTask(cont, name).runAfter, ["check-intercept-backend"]);
        }
        assert.deepEqual(pipelineTask(cont, "hook-pre-test").runAfter, ["validate-stack-propagation", "validate-original-traffic"]);
    });

    it("turns every result of a dropped task into a required param of the same name, and leaves kept tasks' results alone", () => {
        const refs = allPipelineTasks(cont).flatMap((t) => resultRefs(t));
        assert.deepEqual([...new Set(refs.map((r) => r.task))], ["deploy-intercepts-result"], "only a kept task's results are read");
        const a = annotation(cont);
        assert.deepEqual(a.results, {
            "stack-json": "resolve-stack", "build-apps": "resolve-stack", "propagation-chain": "resolve-stack",
            "built-images": "containerize", "intercept-header-value": "resolve-stack", "entry-app": "resolve-stack",
            "changed-app": "resolve-stack", "app-list": "resolve-stack",
        });
        for (const [name, task] of Object.entries(a.results)) {
            const before = `$(tasks.${task}.results.${name})`;
            for (const t of allPipelineTasks(test).filter((x) => JSON.stringify(x.params ?? []).includes(before))) {
                if (BUILD.includes(t.name)) continue;
                const changed = (t.params as any[]).filter((p) => p.value === before).map((p) => p.name);
                for (const p of changed) assert.equal(paramValue(pipelineTask(cont, t.name), p), `$(params.${name})`, `${t.name} ${p}`);
            }
        }
        for (const name of Object.keys(a.results).filter((n) => n !== "changed-app")) {
            assert.equal(params(cont)[name].default, undefined, `${name} is required`);
        }
        assert.equal(params(cont)["stack-json"].description, "resolve-stack's stack-json of the earlier run (inline or @path).");
    });

    it("hands the hooks the earlier run's platform checkout through platform-dir", () => {
        for (const hook of ["hook-pre-test", "hook-post-test"]) {
            assert.equal(paramValue(pipelineTask(test, hook), "platform-dir"), ".tekton-dag/runs/$(context.pipelineRun.uid)/platform");
            assert.equal(paramValue(pipelineTask(cont, hook), "platform-dir"), "$(params.platform-dir)");
        }
        assert.deepEqual(annotation(cont).earlierRunPaths, { "platform-dir": ".tekton-dag/runs/{uid}/platform" });
    });

    it("copies exactly the params the kept tasks read, declared as stack-pr-test declares them unless overridden", () => {
        const a = annotation(cont);
        const ours = [...Object.keys(a.results), ...Object.keys(a.earlierRunPaths), ...a.own, ...a.copied];
        assert.deepEqual([...ours].sort(), cont.spec.params.map((p: any) => p.name).sort(), "each declared param is of one kind");
        for (const build of ["git-url", "compile-image-npm", "pre-build-hook", "insecure-registry"]) assert.ok(!(build in params(cont)), build);
        for (const name of a.copied) {
            const expected = { ...params(test)[name], ...STACK_PR_CONTINUE.paramOverrides[name] };
            assert.deepEqual(params(cont)[name], expected, name);
        }
        // The deploy tasks check every built image lies in image-registry, so the continuation needs it too,
        // declared as the registry it is (the hand-kept copy called it unused).
        assert.equal(paramValue(pipelineTask(cont, "deploy-intercepts-mirrord"), "image-registry"), "$(params.image-registry)");
        assert.equal(params(cont)["image-registry"].description, params(test)["image-registry"].description);
        assert.equal(params(cont)["pr-number"].default, "", "a continuation only needs pr-number for the comment");
    });

    it("keeps the results and workspaces its tasks make or use, and nothing of the build", () => {
        assert.deepEqual(cont.spec.results.map((r: any) => r.name), ["deployed-pods", "test-summary"]);
        assert.deepEqual(cont.spec.workspaces.map((w: any) => w.name), ["shared-workspace"]);
        assert.match(cont.spec.workspaces[0].description, /same volume the earlier run used/);
    });

    it("names the cluster tasks of lib/identities.ts on the Pipeline, for continue-pr.sh", () => {
        assert.deepEqual(cont.metadata.annotations![ANNOTATION_CLUSTER_TASKS].split(" "), Object.keys(CLUSTER_PIPELINE_TASKS));
        assert.equal(annotation(cont).continues, "stack-pr-test");
        assert.equal(cont.metadata.annotations!["tekton.dev/displayName"], STACK_PR_CONTINUE.displayName);
    });

    it("follows a task added after deploy in stack-pr-test (simulated: a copy with a smoke task), with the params it reads", () => {
        const changed = source();
        changed.spec.params.push({ name: "smoke-url", type: "string", default: "/" });
        changed.spec.tasks.push({
            name: "smoke", runAfter: ["run-stack-tests"], taskRef: { name: "run-hook" },
            params: [{ name: "stack-json", value: "$(tasks.resolve-stack.results.stack-json)" }, { name: "url", value: "$(params.smoke-url)" }],
        });
        const derived = deriveContinuation(changed);
        const smoke = pipelineTask(derived, "smoke");
        assert.deepEqual(smoke.runAfter, ["run-stack-tests"]);
        assert.equal(paramValue(smoke, "stack-json"), "$(params.stack-json)");
        assert.deepEqual(params(derived)["smoke-url"], { name: "smoke-url", type: "string", default: "/" });
    });

    it("leaves out a task added to the build (simulated: a scan between containerize and hook-post-build), results and all", () => {
        const changed = source();
        changed.spec.tasks.push({
            name: "scan", runAfter: ["containerize"], taskRef: { name: "run-hook" },
            params: [{ name: "image", value: "$(tasks.containerize.results.built-images)" }],
        });
        pipelineTask(changed, "hook-post-build").runAfter = ["scan"];
        for (const d of STACK_PR_CONTINUE.startAt) {
            pipelineTask(changed, d).params.push({ name: "report", value: "$(tasks.scan.results.report)" });
        }
        const derived = deriveContinuation(changed);
        assert.ok(!allPipelineTasks(derived).some((t) => t.name === "scan"));
        for (const d of STACK_PR_CONTINUE.startAt) {
            assert.deepEqual(pipelineTask(derived, d).runAfter, ["check-intercept-backend"]);
            assert.equal(paramValue(pipelineTask(derived, d), "report"), "$(params.report)");
        }
        assert.equal(annotation(derived).results.report, "scan");
        assert.ok(ancestors(derived, "deploy-intercepts-result").has("check-intercept-backend"));
    });

    describe("refuses a source it cannot cut, naming why", () => {
        it("a start task that is not there", () => {
            assert.throws(() => deriveContinuation(source(), { ...STACK_PR_CONTINUE, startAt: ["deploy"] }),
                /deriving stack-pr-continue from Pipeline stack-pr-test: it has no task "deploy"; tasks: status-pending, /);
        });
        it("a task to run again that reads an earlier task's results", () => {
            assert.throws(() => deriveContinuation(source(), { ...STACK_PR_CONTINUE, rerun: ["check-intercept-backend", "clone-app"] }),
                /"clone-app" runs again but reads results of resolve-stack, which a continuation does not run/);
        });
        it("a task to run again that is not upstream of the start tasks", () => {
            assert.throws(() => deriveContinuation(source(), { ...STACK_PR_CONTINUE, rerun: ["status-pending"] }),
                /"status-pending" is to run again but is not upstream of deploy-intercepts-telepresence, deploy-intercepts-mirrord/);
        });
        it("two dropped tasks with a result of the same name", () => {
            const changed = source();
            pipelineTask(changed, "run-stack-tests").params.push({ name: "c", value: "$(tasks.clone-app.results.changed-app)" });
            assert.throws(() => deriveContinuation(changed), /results "changed-app" of both resolve-stack and clone-app would become param "changed-app"/);
        });
        it("a result whose param name the kept tasks already read", () => {
            const changed = source();
            pipelineTask(changed, "run-stack-tests").params.push({ name: "n", value: "$(params.changed-app)" });
            assert.throws(() => deriveContinuation(changed), /params changed-app would mean two things/);
        });
        it("a cluster task the cut would drop", () => {
            const changed = source();
            pipelineTask(changed, "deploy-intercepts-result").runAfter = ["validate-stack-propagation"];
            pipelineTask(changed, "validate-stack-propagation").runAfter = ["hook-post-build"];
            pipelineTask(changed, "deploy-intercepts-telepresence").runAfter = ["validate-stack-propagation"];
            assert.throws(() => deriveContinuation(changed), /it would lack the cluster tasks validate-stack-propagation \(lib\/identities.ts\)/);
        });
    });
});
