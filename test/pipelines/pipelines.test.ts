// The wiring of stack-pr-test and stack-pr-continue (docs/conventions.md, "Pipeline shape").
import { strict as assert } from "assert";
import * as path from "path";
import {
    PIPELINE_NAMES, allPipelineTasks, ancestors, paramValue, pipeline, pipelineTask, resultRefs, simulate, task,
} from "./helpers";
import { CLUSTER_PIPELINE_TASKS } from "../../lib/identities";
import { COMPILE_TOOLS } from "../../lib/compileTasks";
import { SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";

const DEPLOY_TASKS = ["deploy-intercepts-telepresence", "deploy-intercepts-mirrord"];
const DEPLOYED_PODS = "$(tasks.deploy-intercepts-result.results.deployed-pods)";

/** check-intercept-backend as it would run: the real script. */
function checkBackend(backend: string, enabled = "true"): boolean {
    const script = path.join(SCRIPTS, "check-intercept-backend.sh");
    return runScript(script, { INTERCEPT_BACKEND: backend, INTERCEPTS_ENABLED: enabled }).status === 0;
}

function runWith(name: string, backend: string, enabled?: string) {
    const p = pipeline(name);
    const params: Record<string, string> = {};
    for (const decl of p.spec.params) params[decl.name] = decl.default ?? `value-of-${decl.name}`;
    params["intercept-backend"] = backend;
    if (enabled !== undefined) params["intercepts-enabled"] = enabled;
    // The check task gets what the pipeline passes it (its params, resolved), as Tekton would.
    const check = pipelineTask(p, "check-intercept-backend");
    const resolve = (v: string | undefined) => (v ?? "").replace(/\$\(params\.([a-z0-9-]+)\)/g, (_m, n) => params[n]);
    return simulate(p, params, { "resolve-stack": { "build-tool": "npm" } }, (t) =>
        t === "check-intercept-backend"
            ? checkBackend(resolve(paramValue(check, "intercept-backend")), resolve(paramValue(check, "intercepts-enabled")) || "true")
            : true,
    );
}

for (const name of PIPELINE_NAMES) {
    describe(`pipeline ${name}`, () => {
        const p = pipeline(name);
        const tasks: any[] = p.spec.tasks;

        it("has metadata.name equal to its file name and uses tekton.dev/v1", () => {
            assert.equal(p.metadata.name, name);
            assert.equal(p.apiVersion, "tekton.dev/v1");
            assert.equal(p.kind, "Pipeline");
        });

        it("declares intercept-backend with default telepresence and the other stack-config params", () => {
            const decl = p.spec.params.find((x: any) => x.name === "intercept-backend");
            assert.ok(decl, "param intercept-backend");
            assert.equal(decl.default, "telepresence");
            for (const param of ["mirrord-image", "telepresence-image", "default-namespace", "target-namespaces", "image-registry", "lease-wait-seconds"]) {
                assert.ok(p.spec.params.some((x: any) => x.name === param), `param ${param}`);
            }
            const byName = Object.fromEntries(p.spec.params.map((x: any) => [x.name, x]));
            assert.equal(byName["default-namespace"].default, "staging");
            assert.equal(byName["target-namespaces"].default, "staging");
            assert.equal(byName["lease-wait-seconds"].default, "600");
            assert.equal(byName["intercepts-enabled"]?.default, "true", "param intercepts-enabled, default \"true\"");
            assert.equal(byName["request-path"].default, "/");
        });

        it("has one workspace shared-workspace, bound by every task whose Task declares it", () => {
            assert.ok(p.spec.workspaces.some((w: any) => w.name === "shared-workspace" && !w.optional));
            for (const t of allPipelineTasks(p)) {
                const decl = task(t.taskRef.name);
                if (!decl) continue; // reported by the taskRef test below
                for (const ws of decl.spec.workspaces ?? []) {
                    const binding = (t.workspaces ?? []).find((b: any) => b.name === ws.name);
                    if (ws.optional && !binding) continue;
                    assert.ok(binding, `${t.name} binds workspace ${ws.name} of Task ${t.taskRef.name}`);
                    assert.ok(p.spec.workspaces.some((w: any) => w.name === binding.workspace), `${t.name}: workspace ${binding.workspace} is declared`);
                }
            }
        });

        it("binds no workspace a Task does not declare (Tekton fails such a TaskRun)", () => {
            for (const t of allPipelineTasks(p)) {
                const decl = task(t.taskRef.name);
                if (!decl) continue;
                for (const b of t.workspaces ?? []) {
                    assert.ok((decl.spec.workspaces ?? []).some((w: any) => w.name === b.name), `${t.name} binds ${b.name}, which Task ${t.taskRef.name} does not declare`);
                }
            }
        });

        it("references every Task by a plain name (no $(params) in taskRef) that exists in tekton/tasks", () => {
            const missing: string[] = [];
            for (const t of allPipelineTasks(p)) {
                assert.ok(t.taskRef?.name, `${t.name} has taskRef.name`);
                assert.match(t.taskRef.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${t.name}: taskRef.name must be a plain name`);
                if (!task(t.taskRef.name)) missing.push(`${t.name} -> ${t.taskRef.name}`);
            }
            assert.deepEqual(missing, [], "Tasks not found in tekton/tasks");
        });

        it("passes only params the Task declares and every param the Task requires", () => {
            for (const t of allPipelineTasks(p)) {
                const decl = task(t.taskRef.name);
                if (!decl) continue;
                const declared = new Map<string, any>((decl.spec.params ?? []).map((x: any) => [x.name, x]));
                const passed = new Set((t.params ?? []).map((x: any) => x.name));
                for (const n of passed) assert.ok(declared.has(n as string), `${t.name} passes ${n}, which Task ${t.taskRef.name} does not declare`);
                for (const [n, x] of declared) {
                    if (x.default === undefined) assert.ok(passed.has(n), `${t.name} does not pass required param ${n} of Task ${t.taskRef.name}`);
                }
            }
        });

        it("only uses params the pipeline declares and results the producing Task declares", () => {
            const declared = new Set(p.spec.params.map((x: any) => x.name));
            for (const t of allPipelineTasks(p)) {
                const text = JSON.stringify({ params: t.params, when: t.when });
                for (const m of text.matchAll(/\$\(params\.([a-z0-9-]+)\)/g)) assert.ok(declared.has(m[1]), `${t.name} uses undeclared param ${m[1]}`);
                for (const ref of resultRefs(t)) {
                    const producer = tasks.find((x) => x.name === ref.task);
                    assert.ok(producer, `${t.name} reads a result of unknown task ${ref.task}`);
                    const decl = task(producer.taskRef.name);
                    if (!decl) continue;
                    assert.ok((decl.spec.results ?? []).some((r: any) => r.name === ref.result), `${t.name} reads result ${ref.result}, which Task ${producer.taskRef.name} does not declare`);
                }
            }
        });

        it("runs check-intercept-backend first, and every deploy task depends on it", () => {
            const check = pipelineTask(p, "check-intercept-backend");
            assert.equal(check.taskRef.name, "check-intercept-backend");
            assert.equal(paramValue(check, "intercept-backend"), "$(params.intercept-backend)");
            assert.equal(paramValue(check, "intercepts-enabled"), "$(params.intercepts-enabled)");
            assert.deepEqual(check.runAfter ?? [], []);
            assert.deepEqual(check.when ?? [], []);
            for (const d of [...DEPLOY_TASKS, "deploy-intercepts-result"]) {
                assert.ok(ancestors(p, d).has("check-intercept-backend"), `${d} depends on check-intercept-backend`);
            }
        });

        it("has exactly two when-guarded deploy tasks with disjoint conditions on intercept-backend", () => {
            const guarded = tasks.filter((t) => (t.when ?? []).some((w: any) => w.input === "$(params.intercept-backend)"));
            assert.deepEqual(guarded.map((t) => t.name).sort(), [...DEPLOY_TASKS].sort());
            const tp = pipelineTask(p, "deploy-intercepts-telepresence");
            const md = pipelineTask(p, "deploy-intercepts-mirrord");
            assert.equal(tp.taskRef.name, "deploy-stack-intercepts");
            assert.equal(md.taskRef.name, "deploy-intercept-mirrord");
            assert.deepEqual(tp.when, [{ input: "$(params.intercept-backend)", operator: "in", values: ["telepresence"] }]);
            assert.deepEqual(md.when, [{ input: "$(params.intercept-backend)", operator: "in", values: ["mirrord"] }]);
            for (const d of [tp, md]) {
                assert.equal(paramValue(d, "run-id"), "$(context.pipelineRun.uid)");
                assert.equal(paramValue(d, "run-name"), "$(context.pipelineRun.name)");
                for (const n of ["stack-json", "build-apps", "propagation-chain", "built-images", "intercept-header-value", "default-namespace", "lease-wait-seconds"]) {
                    assert.ok(paramValue(d, n), `${d.name} passes ${n}`);
                }
                assert.equal(paramValue(d, "target-namespaces"), "$(params.target-namespaces)", `${d.name} passes target-namespaces`);
            }
            assert.equal(paramValue(md, "mirrord-image"), "$(params.mirrord-image)");
            assert.equal(paramValue(tp, "telepresence-image"), "$(params.telepresence-image)");
        });

        it("runs deploy-intercepts-result after both deploy tasks, reading no result of either", () => {
            const r = pipelineTask(p, "deploy-intercepts-result");
            assert.equal(r.taskRef.name, "deploy-intercepts-result");
            assert.deepEqual([...(r.runAfter ?? [])].sort(), [...DEPLOY_TASKS].sort());
            assert.deepEqual(resultRefs(r), []);
            assert.equal(paramValue(r, "run-id"), "$(context.pipelineRun.uid)");
        });

        it("reads deployed-pods only from deploy-intercepts-result", () => {
            for (const t of allPipelineTasks(p)) {
                for (const ref of resultRefs(t)) assert.ok(!DEPLOY_TASKS.includes(ref.task), `${t.name} reads a result of ${ref.task}`);
                const v = paramValue(t, "deployed-pods");
                if (v !== undefined) assert.equal(v, DEPLOYED_PODS, `${t.name} deployed-pods`);
            }
            for (const n of ["validate-stack-propagation", "validate-original-traffic"]) {
                assert.equal(paramValue(pipelineTask(p, n), "deployed-pods"), DEPLOYED_PODS);
            }
        });

        it("gives no finally task a task result ($(tasks.status) is allowed)", () => {
            const fin = p.spec.finally ?? [];
            assert.deepEqual(fin.map((t: any) => t.name).sort(), ["cleanup-intercepts", "pr-comment", "status-final"]);
            for (const t of fin) {
                assert.doesNotMatch(JSON.stringify(t), /\$\(tasks\.[^)]*\.results\./, `${t.name} reads a task result`);
                assert.equal(paramValue(t, "run-id"), "$(context.pipelineRun.uid)");
            }
            const cleanup = pipelineTask(p, "cleanup-intercepts");
            assert.equal(cleanup.taskRef.name, "cleanup-stack-intercepts");
            assert.equal(paramValue(cleanup, "target-namespaces"), "$(params.target-namespaces)");
            const status = pipelineTask(p, "status-final");
            assert.equal(status.taskRef.name, "commit-status");
            assert.equal(paramValue(status, "phase"), "end");
            assert.equal(paramValue(status, "pipeline-status"), "$(tasks.status)");
            assert.equal(paramValue(status, "sha"), "$(params.app-revision)");
            const comment = pipelineTask(p, "pr-comment");
            assert.equal(comment.taskRef.name, "pr-comment");
            assert.equal(paramValue(comment, "pipeline-status"), "$(tasks.status)");
            assert.equal(paramValue(comment, "propagation-status"), "$(tasks.validate-stack-propagation.status)");
            assert.equal(paramValue(comment, "original-traffic-status"), "$(tasks.validate-original-traffic.status)");
            assert.equal(paramValue(comment, "tests-status"), "$(tasks.run-stack-tests.status)");
            assert.equal(paramValue(comment, "github-token-secret"), "$(params.github-token-secret)");
        });

        // Issue 12: a task with the pipeline's cluster rights takes each value either from a task result
        // written before any PR code ran (resolve-stack; its @path results carry their file's sha256) or
        // from a PipelineRun param; built-images, which PR code produces, only with the registry to check
        // it against. A value straight from a PR-code task's result or the workspace would be PR-chosen.
        it("feeds the cluster tasks only values PR code cannot choose", () => {
            const fromResolve = /^\$\(tasks\.resolve-stack\.results\.[a-z-]+\)$/;
            // Execution statuses ($(tasks.status), $(tasks.<name>.status)) are Tekton's, not a task's output.
            const fromParams = /^\$\((params\.[a-z-]+|context\.pipelineRun\.(uid|name|namespace)|context\.pipeline\.name|tasks(\.[a-z-]+)?\.status)\)$/;
            // A constant the Pipeline itself sets (commit-status's phase).
            const literal = /^[a-z]+$/;
            const pinnedValues = ["stack-json", "build-apps", "propagation-chain", "app-list", "entry-app", "intercept-header-value"];
            for (const name of Object.keys(CLUSTER_PIPELINE_TASKS)) {
                const t = pipelineTask(p, name);
                for (const param of t.params ?? []) {
                    const v = String(param.value);
                    const what = `${name} param ${param.name} = ${v}`;
                    if (param.name === "built-images") {
                        assert.match(v, /^\$\((tasks\.containerize\.results|params)\.built-images\)$/, what);
                        assert.equal(paramValue(t, "image-registry"), "$(params.image-registry)", `${name} checks built-images against image-registry`);
                    } else if (param.name === "deployed-pods") {
                        assert.equal(v, DEPLOYED_PODS, what); // checked against the run id and the pinned graph
                    } else if (pinnedValues.includes(param.name) && p.metadata.name === "stack-pr-test") {
                        assert.equal(v, `$(tasks.resolve-stack.results.${param.name})`, what);
                    } else {
                        assert.ok(fromResolve.test(v) || fromParams.test(v) || literal.test(v), what);
                    }
                }
            }
        });

        if (name === "stack-pr-test") {
            it("runs resolve-stack before any task that runs PR code", () => {
                // Its results (with the digests) are fixed before the PR's repository is even cloned.
                assert.deepEqual([...ancestors(p, "resolve-stack")].sort(), ["check-intercept-backend", "fetch-platform"]);
                assert.equal(paramValue(pipelineTask(p, "fetch-platform"), "url"), "$(params.git-url)", "fetch-platform clones the platform repo, not the PR");
                assert.ok(ancestors(p, "clone-app").has("resolve-stack"));
            });
        }

        it("passes run-id = the PipelineRun uid to every task that takes one", () => {
            for (const t of allPipelineTasks(p)) {
                const v = paramValue(t, "run-id");
                if (v !== undefined) assert.equal(v, "$(context.pipelineRun.uid)", t.name);
                const n = paramValue(t, "run-name");
                if (n !== undefined) assert.equal(n, "$(context.pipelineRun.name)", t.name);
            }
        });

        describe("when-expressions, evaluated", () => {
            it("backend telepresence: only the Telepresence deploy runs", () => {
                const o = runWith(name, "telepresence");
                assert.equal(o["check-intercept-backend"], "succeeded");
                assert.equal(o["deploy-intercepts-telepresence"], "succeeded");
                assert.equal(o["deploy-intercepts-mirrord"], "skipped");
                assert.equal(o["deploy-intercepts-result"], "succeeded");
                assert.equal(o["run-stack-tests"], "succeeded");
            });

            it("backend mirrord: only the mirrord deploy runs", () => {
                const o = runWith(name, "mirrord");
                assert.equal(o["deploy-intercepts-telepresence"], "skipped");
                assert.equal(o["deploy-intercepts-mirrord"], "succeeded");
                assert.equal(o["deploy-intercepts-result"], "succeeded");
                assert.equal(o["validate-stack-propagation"], "succeeded");
            });

            for (const bad of ["foo", "", "Telepresence"]) {
                it(`backend ${JSON.stringify(bad)}: check-intercept-backend fails and no deploy task runs`, () => {
                    const o = runWith(name, bad);
                    assert.equal(o["check-intercept-backend"], "failed");
                    for (const d of [...DEPLOY_TASKS, "deploy-intercepts-result"]) {
                        assert.notEqual(o[d], "succeeded", `${d} must not run`);
                    }
                    // status-pending runs beside it: it only says the run has started.
                    assert.ok(Object.entries(o).every(([t, s]) => ["check-intercept-backend", "status-pending"].includes(t) || s !== "succeeded"), JSON.stringify(o));
                });
            }

            it("intercepts-enabled \"false\": check-intercept-backend fails and no deploy task runs, whatever the backend", () => {
                for (const backend of ["telepresence", "mirrord"]) {
                    const o = runWith(name, backend, "false");
                    assert.equal(o["check-intercept-backend"], "failed");
                    assert.ok(Object.entries(o).every(([t, s]) => ["check-intercept-backend", "status-pending"].includes(t) || s !== "succeeded"), JSON.stringify(o));
                }
            });

            it("the backends check-intercept-backend accepts are exactly those one deploy task's when-guard selects", () => {
                // Tekton skips every when-guarded deploy task for a value no guard names and carries on; the
                // check is what stops that, so the script and the guards in this file must agree.
                const guarded = DEPLOY_TASKS.map((d) => pipelineTask(p, d));
                const guardValues = guarded.flatMap((t) => t.when.flatMap((w: any) => w.values));
                for (const backend of [...new Set([...guardValues, "", "foo", "Telepresence", "mirrord ", "istio"])]) {
                    const selecting = guarded.filter((t) => t.when.every((w: any) =>
                        w.input === "$(params.intercept-backend)" && (w.operator === "in") === w.values.includes(backend)));
                    assert.equal(checkBackend(backend), selecting.length === 1,
                        `backend ${JSON.stringify(backend)}: accepted=${checkBackend(backend)}, deploy tasks selecting it: ${selecting.map((t) => t.name)}`);
                }
            });
        });
    });
}

describe("pipeline stack-pr-test: build stages", () => {
    const p = pipeline("stack-pr-test");
    const tools = COMPILE_TOOLS.map((t) => t.tool);

    it("declares the params of the brief with their defaults", () => {
        const byName = Object.fromEntries(p.spec.params.map((x: any) => [x.name, x]));
        for (const n of ["git-url", "stack-file", "changed-app", "app-revision", "pr-number", "image-registry", "mirrord-image", "telepresence-image"]) {
            assert.ok(byName[n], `param ${n}`);
        }
        assert.equal(byName["git-revision"].default, "main");
        assert.equal(byName["repo-full-name"].default, "");
        assert.equal(byName["github-token-secret"].default, "");
        assert.equal(byName["insecure-registry"].default, "false");
        for (const stage of ["pre-build", "post-build", "pre-test", "post-test"]) assert.equal(byName[`${stage}-hook`].default, "");
    });

    it("clones the platform and the app into the run's directory", () => {
        const fp = pipelineTask(p, "fetch-platform");
        assert.equal(fp.taskRef.name, "fetch-source");
        assert.equal(paramValue(fp, "path"), ".tekton-dag/runs/$(context.pipelineRun.uid)/platform");
        assert.deepEqual(fp.runAfter, ["check-intercept-backend"]);
        const ca = pipelineTask(p, "clone-app");
        assert.equal(ca.taskRef.name, "fetch-source");
        assert.equal(paramValue(ca, "url"), "$(tasks.resolve-stack.results.app-repo-url)");
        assert.equal(paramValue(ca, "revision"), "$(params.app-revision)");
        assert.equal(paramValue(ca, "path"), ".tekton-dag/runs/$(context.pipelineRun.uid)/apps/$(tasks.resolve-stack.results.changed-app)");
        assert.equal(paramValue(ca, "pr-number"), "$(params.pr-number)", "clone-app checks the PR's head is still app-revision");
    });

    it("every task after resolve-stack uses the app resolve-stack chose, never the param (empty in webhook runs)", () => {
        const rs = pipelineTask(p, "resolve-stack");
        assert.equal(paramValue(rs, "changed-app"), "$(params.changed-app)");
        assert.equal(paramValue(rs, "repo-full-name"), "$(params.repo-full-name)");
        const byName = Object.fromEntries(p.spec.params.map((x: any) => [x.name, x]));
        assert.equal(byName["changed-app"].default, "", "webhook runs leave it out");
        for (const t of [...p.spec.tasks, ...(p.spec.finally ?? [])]) {
            if (t.name === "resolve-stack") continue;
            assert.doesNotMatch(JSON.stringify(t), /\$\(params\.changed-app\)/, t.name);
        }
    });

    it("has one compile task per tool, each guarded by build-tool, and containerize after all of them", () => {
        for (const tool of tools) {
            const t = pipelineTask(p, `compile-${tool}`);
            assert.equal(t.taskRef.name, `compile-${tool}`);
            assert.deepEqual(t.when, [{ input: "$(tasks.resolve-stack.results.build-tool)", operator: "in", values: [tool] }]);
            assert.equal(paramValue(t, "image"), `$(params.compile-image-${tool})`);
            const decl = task(`compile-${tool}`);
            const taskDefault = decl.spec.params.find((x: any) => x.name === "image").default;
            const pipeDefault = p.spec.params.find((x: any) => x.name === `compile-image-${tool}`).default;
            assert.equal(pipeDefault, taskDefault, `compile-image-${tool} default matches the Task's`);
            assert.doesNotMatch(taskDefault, /:latest$|^[^:]+$/, "pinned");
        }
        const c = pipelineTask(p, "containerize");
        assert.deepEqual([...c.runAfter].sort(), tools.map((t) => `compile-${t}`).sort());
        // containerize must read no result of a compile task: it would be skipped with the skipped ones.
        assert.ok(resultRefs(c).every((r) => !r.task.startsWith("compile-")));
        assert.equal(paramValue(c, "commit"), "$(tasks.clone-app.results.commit)");
    });

    for (const tool of ["npm", "maven", "gradle", "pip", "composer"]) {
        it(`build-tool ${tool}: only compile-${tool} runs, containerize and deploy still run`, () => {
            const params: Record<string, string> = {};
            for (const decl of p.spec.params) params[decl.name] = decl.default ?? "x";
            const o = simulate(p, params, { "resolve-stack": { "build-tool": tool } }, (t) => t !== "check-intercept-backend" || checkBackend(params["intercept-backend"]));
            for (const other of tools) assert.equal(o[`compile-${other}`], other === tool ? "succeeded" : "skipped");
            assert.equal(o.containerize, "succeeded");
            assert.equal(o["deploy-intercepts-telepresence"], "succeeded");
        });
    }

    it("a failing compile stops the run before containerize and deploy", () => {
        const params: Record<string, string> = {};
        for (const decl of p.spec.params) params[decl.name] = decl.default ?? "x";
        const o = simulate(p, params, { "resolve-stack": { "build-tool": "maven" } }, (t) => t !== "compile-maven");
        assert.equal(o["compile-maven"], "failed");
        assert.equal(o.containerize, "not-run");
        assert.equal(o["deploy-intercepts-telepresence"], "not-run");
    });

    it("runs the hooks through the run-hook Task at their stages", () => {
        const order: Record<string, string[]> = {
            "hook-pre-build": ["clone-app"],
            "hook-post-build": ["containerize"],
            "hook-pre-test": ["validate-stack-propagation", "validate-original-traffic"],
            "hook-post-test": ["run-stack-tests"],
        };
        for (const [hook, after] of Object.entries(order)) {
            const t = pipelineTask(p, hook);
            assert.equal(t.taskRef.name, "run-hook");
            for (const a of after) assert.ok(ancestors(p, hook).has(a), `${hook} runs after ${a}`);
        }
        for (const c of ["compile-npm", "compile-maven"]) assert.ok(ancestors(p, c).has("hook-pre-build"));
        for (const d of DEPLOY_TASKS) assert.ok(ancestors(p, d).has("hook-post-build"));
        assert.ok(ancestors(p, "run-stack-tests").has("hook-pre-test"));
    });
});

describe("pipeline stack-pr-continue: starts at deploy", () => {
    const p = pipeline("stack-pr-continue");
    const byName = Object.fromEntries(p.spec.params.map((x: any) => [x.name, x]));

    it("takes the earlier run's results as params", () => {
        for (const n of ["stack-json", "build-apps", "propagation-chain", "intercept-header-value", "app-list", "entry-app", "built-images"]) {
            assert.ok(byName[n], `param ${n}`);
            assert.equal(byName[n].default, undefined, `${n} is required`);
        }
    });

    it("passes intercept-backend and mirrord-image on to the tasks", () => {
        assert.equal(paramValue(pipelineTask(p, "check-intercept-backend"), "intercept-backend"), "$(params.intercept-backend)");
        assert.equal(paramValue(pipelineTask(p, "deploy-intercepts-mirrord"), "mirrord-image"), "$(params.mirrord-image)");
        assert.equal(paramValue(pipelineTask(p, "deploy-intercepts-telepresence"), "telepresence-image"), "$(params.telepresence-image)");
        assert.equal(paramValue(pipelineTask(p, "deploy-intercepts-mirrord"), "built-images"), "$(params.built-images)");
        assert.equal(paramValue(pipelineTask(p, "deploy-intercepts-mirrord"), "stack-json"), "$(params.stack-json)");
    });

    it("clones and builds nothing", () => {
        const refs = allPipelineTasks(p).map((t) => t.taskRef.name);
        for (const r of refs) assert.doesNotMatch(r, /^(fetch-source|resolve-stack|compile-|containerize)/);
    });
});
