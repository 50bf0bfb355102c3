// scripts/runner/deferredModules.ts: the runner and the policy analyzer start without the modules the Pulumi
// SDK loads only for closure serialization (issue 18), and the SDK still does everything it did: the deferred
// modules load at their first use. Each check runs in a Node.js process of its own, given the compiled module
// the way the runner gives it to the analyzer (NODE_OPTIONS), since this mocha process loaded the SDK long ago.
import { strict as assert } from "node:assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { LOADED_DEFERRED_MODULES_JS } from "../support/deferredModules";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";
import { DEFERRED_MODULES, deferredModule, nodeOptionsWithDeferral } from "../../scripts/runner/deferredModules";

const { compiledPath } = require(path.join(REPO, "scripts", "compiled.js")) as typeof import("../../scripts/compiled");

/** Runs a script in a fresh node whose NODE_OPTIONS are `options`; its stdout, parsed as JSON. */
function inNode(script: string, options: string | undefined, cwd = REPO): any {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: "1" };
    delete env.NODE_OPTIONS;
    if (options) env.NODE_OPTIONS = options;
    const r = spawnSync(process.execPath, ["-e", script], { cwd, env, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `node -e failed:\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("scripts/runner/deferredModules.ts (the SDK's closure-serialization modules, loaded at first use)", function () {
    this.timeout(300_000);
    let compiled: string;
    before(() => {
        compiled = compiledPath("scripts/runner/deferredModules.ts");
    });

    it("without it, loading the program loads them all; with it, none, and the program loads the same", () => {
        const script = `${LOADED_DEFERRED_MODULES_JS} const p = require(${JSON.stringify(compiledPath("program.ts"))}); ` +
            "console.log(JSON.stringify({ loaded: loaded(), program: typeof p.tektonDagProgram }));";
        assert.deepEqual(inNode(script, undefined), { loaded: [...DEFERRED_MODULES], program: "function" },
            "the SDK loads them at start (else this deferral has nothing left to do)");
        assert.deepEqual(inNode(script, nodeOptionsWithDeferralFor(compiled)), { loaded: [], program: "function" });
    });

    it("pulumi.runtime.serializeFunction still serializes a function, loading TypeScript's compiler then", () => {
        const script = `${LOADED_DEFERRED_MODULES_JS} const pulumi = require("@pulumi/pulumi"); const before = loaded(); ` +
            "pulumi.runtime.serializeFunction(() => 6 * 7).then((r) => console.log(JSON.stringify({ before, text: r.text, after: loaded() })));";
        const r = inNode(script, nodeOptionsWithDeferralFor(compiled));
        assert.deepEqual(r.before, []);
        assert.match(r.text, /6 \* 7/);
        assert.ok(r.after.includes("typescript"), `loaded after: ${r.after}`);
    });

    it("pulumi.runtime.computeCodePaths still reads a package's tree, loading npm's arborist then", () => {
        const dir = tmpDir("deferred-modules");
        try {
            fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "probe", version: "1.0.0", dependencies: {} }));
            const script = `${LOADED_DEFERRED_MODULES_JS} const pulumi = require(${JSON.stringify(require.resolve("@pulumi/pulumi"))}); ` +
                'pulumi.runtime.computeCodePaths({ extraIncludePaths: ["package.json"] })' +
                ".then((paths) => console.log(JSON.stringify({ paths: [...paths.keys()], after: loaded() })));";
            const r = inNode(script, nodeOptionsWithDeferralFor(compiled), dir);
            assert.deepEqual(r.paths, ["package.json"]);
            assert.ok(r.after.includes("@npmcli/arborist") && r.after.includes("normalize-package-data"), `loaded after: ${r.after}`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("a stand-in loads its module at the first use only, and reads as the module does through TypeScript's import helpers", () => {
        let loads = 0;
        const real = Object.assign((x: number) => x + 1, { version: "1.2.3" });
        const standIn: any = deferredModule(() => { loads++; return real; });
        assert.equal(loads, 0);
        assert.equal(standIn.__esModule, true, "so __importStar/__importDefault keep it as it is");
        assert.equal(loads, 0, "asking whether it is an ES module loads nothing");
        assert.equal(standIn.default(1), 2, "default is the CommonJS module itself, as __importDefault gives");
        assert.equal(standIn(2), 3, "callable like the module");
        assert.equal(standIn.version, "1.2.3");
        assert.ok("version" in standIn);
        assert.deepEqual(Object.keys(standIn).sort(), Object.keys(real).sort());
        assert.equal(loads, 1, "loaded once");
    });

    it("NODE_OPTIONS keep what they held, and a path with a space or a quote still reaches node", () => {
        const dir = tmpDir("deferred modules \"quoted\"");
        try {
            // The compiled module needs nothing beside it, so a copy anywhere is the same module.
            const copy = path.join(dir, "deferredModules.js");
            fs.copyFileSync(compiled, copy);
            const options = nodeOptionsWithDeferralFor(copy, "--max-old-space-size=999");
            assert.match(options, /^--max-old-space-size=999 --require "/);
            const script = `${LOADED_DEFERRED_MODULES_JS} require("@pulumi/pulumi"); ` +
                'console.log(JSON.stringify({ loaded: loaded(), heap: require("v8").getHeapStatistics().heap_size_limit }));';
            const r = inNode(script, options);
            assert.deepEqual(r.loaded, []);
            assert.ok(r.heap > 900 * 1024 * 1024 && r.heap < 1100 * 1024 * 1024, `the earlier option still applies (heap limit ${r.heap})`);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("under ts-node (no plain JavaScript to give node) the NODE_OPTIONS stay as they were", () => {
        assert.equal(nodeOptionsWithDeferral(undefined), undefined);
        assert.equal(nodeOptionsWithDeferral("--inspect"), "--inspect");
    });
});

/** nodeOptionsWithDeferral as the compiled module at `file` computes it (its own __filename). */
function nodeOptionsWithDeferralFor(file: string, current?: string): string {
    const mod = require(file) as typeof import("../../scripts/runner/deferredModules");
    const options = mod.nodeOptionsWithDeferral(current);
    assert.ok(options, `${file} gave no NODE_OPTIONS`);
    return options;
}
