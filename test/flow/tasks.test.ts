// The PR-flow Tasks as Tekton objects: catalog metadata, params only through env, scripts through the
// scripts ConfigMap, pinned images, the results the pipelines read, and shellcheck-clean scripts.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { readTask } from "../../lib/tasks";
import { SCRIPTS } from "../support/repo";

const FLOW_TASKS: Record<string, { results: string[]; scripts: string[]; workspaces?: string[] }> = {
    "resolve-stack": {
        results: ["stack-json", "app-list", "propagation-chain", "entry-app", "changed-app", "build-apps", "intercept-header-value",
            "build-tool", "app-repo-url", "app-context-dir", "app-dockerfile"],
        scripts: ["resolve-stack-parse.sh", "resolve-stack.py"],
    },
    "validate-stack-propagation": { results: ["answered-by"], scripts: ["validate-routing.sh"] },
    "validate-original-traffic": { results: ["answered-by"], scripts: ["validate-routing.sh"] },
    "run-stack-tests": { results: ["test-summary"], scripts: ["run-stack-tests-plan.sh", "run-stack-tests-newman.sh", "run-stack-tests-summary.sh"] },
    "pr-comment": { results: [], scripts: ["pr-comment.sh"] },
    "commit-status": { results: [], scripts: ["commit-status.sh"], workspaces: [] },
};

const SHELL_SCRIPTS = ["resolve-stack-parse.sh", "validate-routing.sh", "run-stack-tests-plan.sh", "run-stack-tests-newman.sh",
    "run-stack-tests-summary.sh", "pr-comment.sh", "commit-status.sh", "lib-github.sh"];

/** A pinned image: a tag that is a version (has a digit), never latest; a digest is better still. */
function isPinned(image: string): boolean {
    if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
    const tag = image.split("/").pop()!.split(":")[1];
    return !!tag && tag !== "latest" && /\d/.test(tag);
}

describe("PR-flow Tasks (tekton/tasks and lib/validateTasks.ts)", () => {
    for (const [name, expected] of Object.entries(FLOW_TASKS)) {
        describe(name, () => {
            const task: any = readTask(name);
            const params = new Map<string, any>((task.spec.params ?? []).map((p: any) => [p.name, p]));

            it("is an installed tekton.dev/v1 Task of that name, with catalog metadata", () => {
                assert.equal(task.apiVersion, "tekton.dev/v1");
                assert.equal(task.kind, "Task");
                assert.equal(task.metadata.name, name);
                assert.match(task.metadata.labels["app.kubernetes.io/version"], /^\d+\.\d+\.\d+$/);
                for (const a of ["tekton.dev/pipelines.minVersion", "tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName", "tekton.dev/platforms"]) {
                    assert.ok(task.metadata.annotations?.[a], `annotation ${a}`);
                }
                assert.ok(task.spec.description?.length > 80, "spec.description");
                for (const p of params.values()) assert.ok(p.description, `param ${p.name} has a description`);
            });

            it("declares the results the pipelines read and the shared workspace", () => {
                assert.deepEqual((task.spec.results ?? []).map((r: any) => r.name).sort(), [...expected.results].sort());
                assert.deepEqual((task.spec.workspaces ?? []).map((w: any) => w.name), expected.workspaces ?? ["shared-workspace"]);
            });

            it("passes params only through env and runs scripts from the scripts ConfigMap", () => {
                const volume = task.spec.volumes.find((v: any) => v.name === "tekton-dag-scripts");
                assert.deepEqual(volume.configMap, { name: "tekton-dag-scripts", defaultMode: 365 });
                const used = new Set<string>();
                const ran: string[] = [];
                for (const step of task.spec.steps) {
                    assert.equal(step.script, undefined, `${step.name}: no inline script`);
                    assert.equal(step.args, undefined, `${step.name}: no args`);
                    assert.equal(step.command.length, 1);
                    const m = /^\/tekton-dag\/scripts\/([A-Za-z0-9._-]+)$/.exec(step.command[0]);
                    assert.ok(m, `${step.name}: command runs a script of the ConfigMap`);
                    ran.push(m![1]);
                    const file = path.join(SCRIPTS, m![1]);
                    assert.ok(fs.existsSync(file), `${file} exists`);
                    assert.ok(fs.statSync(file).mode & 0o111, `${file} is executable`);
                    const mount = step.volumeMounts.find((v: any) => v.name === "tekton-dag-scripts");
                    assert.deepEqual(mount, { name: "tekton-dag-scripts", mountPath: "/tekton-dag/scripts", readOnly: true });
                    for (const e of step.env ?? []) {
                        for (const ref of String(e.value ?? "").matchAll(/\$\(params\.([a-z0-9-]+)\)/g)) {
                            assert.ok(params.has(ref[1]), `${step.name}: env ${e.name} uses undeclared param ${ref[1]}`);
                            used.add(ref[1]);
                        }
                    }
                    const img = /^\$\(params\.([a-z0-9-]+)\)$/.exec(step.image);
                    if (img) {
                        used.add(img[1]);
                        assert.ok(isPinned(params.get(img[1]).default), `${step.name}: image param ${img[1]} default ${params.get(img[1]).default} is pinned`);
                    } else {
                        assert.ok(isPinned(step.image), `${step.name}: image ${step.image} is pinned`);
                    }
                }
                assert.deepEqual([...new Set(ran)].sort(), [...expected.scripts].sort());
                for (const p of params.keys()) assert.ok(used.has(p), `param ${p} reaches a step`);
                for (const s of expected.scripts) {
                    assert.ok(!fs.readFileSync(path.join(SCRIPTS, s), "utf8").includes("$(params."), `${s} never reads $(params.x)`);
                }
            });
        });
    }

    it("the scripts are shellcheck-clean", function () {
        const probe = spawnSync("shellcheck", ["--version"]);
        if (probe.status !== 0) {
            console.log("    shellcheck is not installed (apt-get install -y shellcheck); not checked here");
            this.skip();
        }
        const r = spawnSync("shellcheck", ["-x", ...SHELL_SCRIPTS], { cwd: SCRIPTS, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
    });

    it("resolve-stack.py compiles with the python3 here", () => {
        const r = spawnSync("python3", ["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", path.join(SCRIPTS, "resolve-stack.py")], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
    });
});
