// The compile-<tool> Tasks come from one shape and the table of tools in lib/compileTasks.ts.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { COMPILE_TOOLS, compileTask, withCompileImageDefaults } from "../../lib/compileTasks";
import { readFolder } from "../../lib/tektonSources";
import { pipeline, task } from "./helpers";
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

    describe("compile-image-<tool> defaults of a Pipeline come from the table", () => {
        const written = () => structuredClone(readFolder("pipelines", "Pipeline").find((p) => p.metadata.name === "stack-pr-test")!);

        it("stack-pr-test's YAML declares them without a default; the program fills in the table's image", () => {
            const raw = written();
            const declared = raw.spec.params.filter((p: any) => p.name.startsWith("compile-image-"));
            assert.deepEqual(declared.map((p: any) => p.name), TOOLS.map((t) => `compile-image-${t}`));
            for (const p of declared) assert.equal(p.default, undefined, p.name);
            const filled = withCompileImageDefaults(raw);
            for (const t of COMPILE_TOOLS) assert.equal(filled.spec.params.find((p: any) => p.name === `compile-image-${t.tool}`).default, t.image);
            assert.equal(raw.spec.params.find((p: any) => p.name === "compile-image-npm").default, undefined, "the source is not changed");
        });

        it("refuses a second copy of an image (simulated: a default written in the YAML), naming the param", () => {
            const raw = written();
            raw.spec.params.find((p: any) => p.name === "compile-image-pip").default = "python:3.13";
            assert.throws(() => withCompileImageDefaults(raw),
                /Pipeline stack-pr-test: param compile-image-pip sets a default of its own; leave it out, the program sets docker.io\/library\/python:3.12.11-slim-bookworm/);
        });

        it("refuses a compile image of a tool the table does not have (simulated: compile-image-ant)", () => {
            const raw = written();
            raw.spec.params.push({ name: "compile-image-ant", type: "string" });
            assert.throws(() => withCompileImageDefaults(raw),
                /param compile-image-ant names no tool of lib\/compileTasks.ts \(tools: npm, maven, gradle, pip, composer\)/);
        });
    });
});
