// scripts/runner/policyPack.ts: the compiled pack is rebuilt exactly when its sources change, type errors fail
// the build by name, and a failed build leaves nothing half-written for the engine to load.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { compiledPolicyPack } from "../../scripts/runner/policyPack";
import { tmpDir } from "../support/tmpDir";
import { REPO } from "../support/repo";

const POLICY_DIR = path.join(REPO, "policy");

/** A copy of the pack's sources in a temp dir, sharing the real pack's node_modules. */
function packCopy(): string {
    const dir = tmpDir("policy-copy");
    for (const f of ["index.ts", "tsconfig.json", "package.json", "package-lock.json", "PulumiPolicy.yaml"]) fs.copyFileSync(path.join(POLICY_DIR, f), path.join(dir, f));
    fs.cpSync(path.join(POLICY_DIR, "policies"), path.join(dir, "policies"), { recursive: true });
    fs.symlinkSync(path.join(POLICY_DIR, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

describe("the compiled policy pack (scripts/runner/policyPack.ts)", function () {
    this.timeout(300000);
    let dir: string;
    before(function () {
        if (!fs.existsSync(path.join(POLICY_DIR, "node_modules", "typescript"))) this.skip(); // npm ci --prefix policy not run
        dir = packCopy();
    });
    after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("builds JavaScript the analyzer loads as the same pack: main index.js, the pack's own node_modules", () => {
        const lines: string[] = [];
        const out = compiledPolicyPack(dir, (l) => lines.push(l));
        assert.equal(out, path.join(dir, "bin"));
        assert.match(lines.join("\n"), /compiling the policy pack/);
        const pkg = JSON.parse(fs.readFileSync(path.join(out, "package.json"), "utf8"));
        assert.equal(pkg.main, "index.js");
        assert.equal(pkg.name, "tekton-dag-policy");
        assert.ok(fs.existsSync(path.join(out, "index.js")) && fs.existsSync(path.join(out, "policies", "index.js")));
        assert.ok(fs.existsSync(path.join(out, "node_modules", "@pulumi", "policy")), "node_modules reachable from the compiled pack");
        const compiled = require(path.join(out, "policies", "index.js")).policies.map((p: any) => p.name);
        const source = require(path.join(POLICY_DIR, "policies")).policies.map((p: any) => p.name);
        assert.deepEqual(compiled, source);
    });

    it("is reused while the sources are unchanged, and rebuilt when one changes", () => {
        const index = path.join(dir, "bin", "policies", "index.js");
        const before = fs.statSync(index).mtimeMs;
        const reused: string[] = [];
        compiledPolicyPack(dir, (l) => reused.push(l));
        assert.equal(reused.length, 0, "no rebuild");
        assert.equal(fs.statSync(index).mtimeMs, before);
        fs.appendFileSync(path.join(dir, "policies", "labels.ts"), "\nexport const compiledPackMarker = 42;\n");
        const rebuilt: string[] = [];
        compiledPolicyPack(dir, (l) => rebuilt.push(l));
        assert.equal(rebuilt.length, 1, "rebuilt");
        assert.match(fs.readFileSync(path.join(dir, "bin", "policies", "labels.js"), "utf8"), /compiledPackMarker = 42/);
        // A file in a sub-folder of policies/ is a source too (the pack's tsconfig includes policies/**).
        fs.mkdirSync(path.join(dir, "policies", "more"));
        fs.writeFileSync(path.join(dir, "policies", "more", "extra.ts"), "export const nested = 1;\n");
        const nested: string[] = [];
        compiledPolicyPack(dir, (l) => nested.push(l));
        assert.equal(nested.length, 1, "rebuilt for a new file in a sub-folder");
        assert.ok(fs.existsSync(path.join(dir, "bin", "policies", "more", "extra.js")));
    });

    it("fails a build with a type error, naming the file, and keeps no half-written build", () => {
        fs.appendFileSync(path.join(dir, "policies", "labels.ts"), "\nexport const broken: number = \"not a number\";\n");
        assert.throws(() => compiledPolicyPack(dir), /does not compile[\s\S]*labels\.ts.*TS2322/);
        assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith(".bin-")), [], "no temporary build left");
        assert.notEqual(fs.readFileSync(path.join(dir, "bin", ".source-sha256"), "utf8").trim().length, 0);
    });
});
