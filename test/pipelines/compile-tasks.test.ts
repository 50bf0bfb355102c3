// The compile-<tool> Tasks come from one shape and the table of tools in lib/compileTasks.ts.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { COMPILE_TOOLS, compileTask } from "../../lib/compileTasks";
import { withCompileStage } from "../../lib/compileStage";
import { readFolder } from "../../lib/tektonSources";
import { paramValue, pipeline, pipelineTask, task } from "./helpers";
import { SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";
import { tmpDir } from "../support/tmpDir";

const TOOLS = COMPILE_TOOLS.map((t) => t.tool);

describe("compile Tasks from the table of tools", () => {
    it("has exactly the tools compile-app.sh supports (its own list, read from its error for an unknown tool)", () => {
        const ws = tmpDir("compile-tools");
        fs.mkdirSync(path.join(ws, ".tekton-dag/runs/r1/apps/a"), { recursive: true });
        const r = runScript(path.join(SCRIPTS, "compile-app.sh"),
            { BUILD_TOOL: "no-such-tool", APP: "a", RUN_ID: "r1", SHARED_WORKSPACE: ws }, [], { shell: "sh" });
        assert.notEqual(r.status, 0);
        const allowed = /build tool 'no-such-tool' is not supported \(allowed: ([a-z, ]+)\)/.exec(r.stderr);
        assert.ok(allowed, r.stderr);
        assert.deepEqual(allowed[1].split(", "), TOOLS);
    });

    it("has exactly the tools stack-pr-test runs a compile task for, each Task's image the installed pipeline's default", () => {
        const p = pipeline("stack-pr-test");
        const compileTasks = p.spec.tasks.filter((t: any) => t.name.startsWith("compile-"));
        assert.deepEqual(compileTasks.map((t: any) => t.taskRef.name), TOOLS.map((t) => `compile-${t}`));
        for (const t of COMPILE_TOOLS) {
            const pipeDefault = p.spec.params.find((x: any) => x.name === `compile-image-${t.tool}`).default;
            assert.equal(pipeDefault, t.image, `compile-image-${t.tool}`);
        }
    });

    it("makes a Task for a new tool from its row alone (simulated: a cargo row)", () => {
        const t = compileTask({ tool: "cargo", tags: ["rust"], runs: "Rust (cargo build --release)", image: "docker.io/library/rust:1.89.0-slim" });
        assert.equal(t.metadata.name, "compile-cargo");
        assert.equal(t.metadata.annotations!["tekton.dev/tags"], "cargo, rust, build");
        assert.equal(t.spec.steps[0].env.find((e: any) => e.name === "BUILD_TOOL").value, "cargo");
        assert.equal(t.spec.params.find((p: any) => p.name === "image").default, "docker.io/library/rust:1.89.0-slim");
        assert.match(t.spec.description, /with Rust \(cargo build --release\)\. .*\.tekton-dag\/cache\/cargo .*build tool "cargo"\.$/);
    });

    it("passes composer the superuser switch (its image runs as root) and no other tool any extra env", () => {
        for (const tool of TOOLS) {
            const extra = task(`compile-${tool}`).spec.steps[0].env.slice(6).map((e: any) => e.name);
            assert.deepEqual(extra, tool === "composer" ? ["COMPOSER_ALLOW_SUPERUSER"] : [], tool);
        }
    });

    describe("stack-pr-test's compile stage comes from the table (lib/compileStage.ts)", () => {
        const written = () => structuredClone(readFolder("pipelines", "Pipeline").find((p) => p.metadata.name === "stack-pr-test")!);

        it("one guarded task per tool after hook-pre-build, containerize after all of them, one image param per tool", () => {
            const p = withCompileStage(written());
            const names = p.spec.tasks.map((t: any) => t.name);
            const at = names.indexOf("hook-pre-build");
            assert.deepEqual(names.slice(at + 1, at + 1 + TOOLS.length), TOOLS.map((t) => `compile-${t}`));
            for (const t of TOOLS) {
                const task = pipelineTask(p, `compile-${t}`);
                assert.deepEqual(task.runAfter, ["hook-pre-build"]);
                assert.deepEqual(task.when, [{ input: "$(tasks.resolve-stack.results.build-tool)", operator: "in", values: [t] }]);
                assert.equal(paramValue(task, "image"), `$(params.compile-image-${t})`);
            }
            assert.deepEqual(pipelineTask(p, "containerize").runAfter, TOOLS.map((t) => `compile-${t}`));
            const params = p.spec.params.map((x: any) => x.name);
            assert.deepEqual(params.slice(params.indexOf("pre-build-hook") - TOOLS.length, params.indexOf("pre-build-hook")),
                TOOLS.map((t) => `compile-image-${t}`));
        });

        it("a new tool is its row alone (simulated: a cargo row): its task, its param, and containerize waits for it", () => {
            const cargo = { tool: "cargo", tags: ["rust"], runs: "Rust (cargo build --release)", image: "docker.io/library/rust:1.89.0-slim" };
            const p = withCompileStage(written(), [...COMPILE_TOOLS, cargo]);
            assert.deepEqual(pipelineTask(p, "compile-cargo").when[0].values, ["cargo"]);
            assert.ok(pipelineTask(p, "containerize").runAfter.includes("compile-cargo"));
            assert.equal(p.spec.params.find((x: any) => x.name === "compile-image-cargo").default, cargo.image);
        });

        it("refuses a compile task written in the YAML (a second copy), naming it", () => {
            const raw = written();
            raw.spec.tasks.push({ name: "compile-npm", taskRef: { name: "compile-npm" } });
            assert.throws(() => withCompileStage(raw),
                /^Error: Pipeline stack-pr-test: task compile-npm is built by lib\/compileStage.ts from the table of tools in lib\/compileTasks.ts; remove it from the YAML$/);
        });

        it("refuses a compile image param written in the YAML (a second copy), naming it", () => {
            const raw = written();
            raw.spec.params.push({ name: "compile-image-pip", type: "string", default: "python:3.13" });
            assert.throws(() => withCompileStage(raw), /^Error: Pipeline stack-pr-test: param compile-image-pip is built by lib\/compileStage.ts/);
        });

        it("refuses a Pipeline without the task the stage runs after, naming it", () => {
            const raw = written();
            raw.spec.tasks = raw.spec.tasks.filter((t: any) => t.name !== "hook-pre-build");
            assert.throws(() => withCompileStage(raw), /^Error: Pipeline stack-pr-test has no task hook-pre-build, which the compile stage runs after$/);
        });
    });
});
