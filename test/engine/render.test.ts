/**
 * `up` of the render stack through the real engine: the kubernetes provider writes the manifests, the policy
 * pack is loaded, and what it writes is, as data, what the test mocks see the program register (the mocks
 * are what every other test reads, so this is what keeps those tests honest).
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import { kubernetesObjects, renderStack } from "../../scripts/mocks/render";
import { objectKey, pulumiRun, readManifests, RunResult } from "./helpers";
import { tmpDir } from "../support/tmpDir";

/** Every difference between two JSON values, as "path: a vs b" lines. */
function diff(a: unknown, b: unknown, at = ""): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
        const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
        return [...keys].flatMap((k) => diff((a as any)[k], (b as any)[k], `${at}.${k}`));
    }
    return [`${at || "."}: engine ${JSON.stringify(a)} vs mocks ${JSON.stringify(b)}`];
}

describe("the render stack through the real Pulumi engine (scripts/pulumi-run.ts up --stack render)", function () {
    this.timeout(20 * 60 * 1000);
    let tmp: string;
    let run: RunResult;
    let written: any[];

    before(async () => {
        tmp = tmpDir("engine-render");
        // --fresh, as scripts/render.sh runs it: one update into a staging directory (no separate preview).
        fs.mkdirSync(path.join(tmp, "manifests", "1-manifest"), { recursive: true });
        fs.writeFileSync(path.join(tmp, "manifests", "1-manifest", "stale.yaml"), "kind: Stale\n");
        fs.writeFileSync(path.join(tmp, "manifests", "NOTES.txt"), "not the provider's\n");
        run = await pulumiRun(["up", "--stack", "render", "--fresh", "--state", path.join(tmp, "state"), "--set", `renderYamlToDirectory=${path.join(tmp, "manifests")}`]);
        written = fs.existsSync(path.join(tmp, "manifests")) ? readManifests(path.join(tmp, "manifests")) : [];
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("updates once with the policy pack, into a staging directory put in place afterwards", () => {
        assert.equal(run.status, 0, run.out);
        assert.match(run.out, /policy pack: policy\//);
        assert.match(run.out, /fresh render: one update into .*\.manifests\.staging-\d+, moved to .*manifests when it passes/);
        assert.doesNotMatch(run.out, /preview of stack render passed/);
        assert.match(run.out, /up of stack render done/);
        assert.doesNotMatch(run.out, /\[mandatory\]/);
        assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes("staging")), [], "no staging directory left");
    });

    it("replaces the provider's folders of an earlier render (a stale object goes) and leaves other files alone", () => {
        assert.ok(!fs.existsSync(path.join(tmp, "manifests", "1-manifest", "stale.yaml")), "the earlier render's object is gone");
        assert.equal(fs.readFileSync(path.join(tmp, "manifests", "NOTES.txt"), "utf8"), "not the provider's\n");
    });

    it("runs the policy pack once, in the update, and it passes", () => {
        const passed = run.out.match(/^Policies:\n\s+✅ tekton-dag@v[0-9.]+ \(local: [^)]*policy\/bin\)$/gm) ?? [];
        assert.equal(passed.length, 1, run.out);
        assert.doesNotMatch(run.out, /❌/);
    });

    it("writes every object through the kubernetes provider into renderYamlToDirectory (0-crd/, 1-manifest/)", () => {
        assert.ok(written.length > 0, `nothing under ${tmp}/manifests:\n${run.out}`);
        assert.ok(fs.existsSync(path.join(tmp, "manifests", "1-manifest")), "no 1-manifest/ folder");
    });

    it("writes, as data, exactly the objects the test mocks see the program register", async () => {
        const mocked = kubernetesObjects(await renderStack({ stack: "render" }));
        const byKey = (objs: any[]) => new Map(objs.map((o) => [objectKey(o), o]));
        const engine = byKey(written);
        const mocks = byKey(mocked);
        assert.equal(engine.size, written.length, "the engine wrote one object twice");
        assert.equal(mocks.size, mocked.length, "the mocks registered one object twice");
        const problems: string[] = [];
        for (const key of mocks.keys()) if (!engine.has(key)) problems.push(`${key}: registered under the mocks, not written by the engine`);
        for (const key of engine.keys()) if (!mocks.has(key)) problems.push(`${key}: written by the engine, not registered under the mocks`);
        for (const [key, o] of engine) if (mocks.has(key)) problems.push(...diff(o, mocks.get(key)).map((d) => `${key} ${d}`));
        assert.deepEqual(problems, [], problems.join("\n"));
    });
});
