/**
 * A production stack with intercept tooling on fails through the policy pack in the real engine, naming the
 * policy and the offending objects, and writes nothing: scripts/pulumi-run.ts runs the preview with the pack
 * before `up`, because `up --skip-preview` creates resources before stack policies run; a --fresh render
 * updates once into a staging directory that replaces the output only when the update passed.
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import { pulumiRun, RunResult } from "./helpers";
import { tmpDir } from "../support/tmpDir";

describe("a production=true stack with intercepts on, through the real engine and the policy pack", function () {
    this.timeout(20 * 60 * 1000);
    let tmp: string;
    let run: RunResult;

    before(async () => {
        tmp = tmpDir("engine-production");
        run = await pulumiRun(["up", "--stack", "render", "--state", path.join(tmp, "state"),
            "--set", "production=true", "--set", `renderYamlToDirectory=${path.join(tmp, "manifests")}`]);
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("fails", () => {
        assert.equal(run.status, 1, run.out);
        assert.match(run.out, /pulumi-run: up of stack render failed/);
        assert.doesNotMatch(run.out, /up of stack render done/);
    });

    it("fails through the pack's production policy, as a mandatory violation", () => {
        assert.match(run.out, /❌ tekton-dag@v[0-9.]+ \(local: [^)]*policy\/bin\)/, run.out);
        assert.match(run.out, /- \[mandatory\]\s+production\s+\(kubernetes:/, run.out);
    });

    it("names the offending objects: the mirrord proxy ServiceAccount, Role and RoleBinding", () => {
        for (const kind of ["ServiceAccount", "Role", "RoleBinding"]) {
            assert.match(run.out, new RegExp(`\\[mandatory\\]\\s+production\\s+\\(kubernetes:[\\w./]*:${kind}: [\\w-]*mirrord-proxy\\)`), run.out);
            assert.match(run.out, new RegExp(`${kind} staging/tekton-dag-mirrord-proxy: metadata.name — mirrord proxy RBAC is intercept tooling`), run.out);
        }
    });

    it("writes no manifest: the preview with the pack stopped it before up", () => {
        assert.ok(!fs.existsSync(path.join(tmp, "manifests")), `${tmp}/manifests exists`);
        assert.match(run.out, /Previewing update/);
        assert.doesNotMatch(run.out, /Updating \(render\)/);
    });
});

describe("the same stack rendered --fresh (one update into a staging directory, as scripts/render.sh runs it)", function () {
    this.timeout(20 * 60 * 1000);
    let tmp: string;
    let run: RunResult;
    const previous = () => path.join(tmp, "manifests", "1-manifest", "from-an-earlier-render.yaml");

    before(async () => {
        tmp = tmpDir("engine-production-fresh");
        fs.mkdirSync(path.dirname(previous()), { recursive: true });
        fs.writeFileSync(previous(), "# an earlier render's output\n");
        run = await pulumiRun(["up", "--stack", "render", "--fresh", "--state", path.join(tmp, "state"),
            "--set", "production=true", "--set", `renderYamlToDirectory=${path.join(tmp, "manifests")}`]);
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("fails through the pack's production policy in the update", () => {
        assert.equal(run.status, 1, run.out);
        assert.match(run.out, /Updating \(render\)/);
        assert.match(run.out, /- \[mandatory\]\s+production\s+\(kubernetes:[\w./]*:ServiceAccount: [\w-]*mirrord-proxy\)/, run.out);
        assert.doesNotMatch(run.out, /up of stack render done/);
    });

    it("leaves the output as it was and no staging directory: what the rejected update wrote is discarded", () => {
        assert.equal(fs.readFileSync(previous(), "utf8"), "# an earlier render's output\n");
        assert.deepEqual(fs.readdirSync(path.join(tmp, "manifests", "1-manifest")), ["from-an-earlier-render.yaml"]);
        assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.includes("staging")), [], "no staging directory left");
    });
});
