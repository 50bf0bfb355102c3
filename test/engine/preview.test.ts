/**
 * Previews through the real engine of stacks that are not the render stack: a cluster stack with prebuilt,
 * pinned images and no Tekton or Telepresence install previews cleanly (no cluster is reachable: the
 * kubernetes provider previews without one), with neither the runner nor the policy analyzer loading the SDK
 * modules deferred by scripts/runner/deferredModules.ts; a config error is reported by the program, naming the key.
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderStack } from "../../scripts/mocks/render";
import { LOADED_DEFERRED_MODULES_JS } from "../support/deferredModules";
import { pulumiRun, RunResult } from "./helpers";
import { tmpDir } from "../support/tmpDir";

const PINNED = {
    "tekton-dag:buildImages": false,
    "tekton-dag:mirrordImage": "registry.example.com/tekton-dag/mirrord@sha256:" + "a".repeat(64),
    "tekton-dag:telepresenceImage": "registry.example.com/tekton-dag/telepresence@sha256:" + "b".repeat(64),
    "tekton-dag:installTekton": false,
    "tekton-dag:installTelepresence": false,
};

describe("previews through the real engine", function () {
    this.timeout(20 * 60 * 1000);
    let tmp: string;
    before(() => (tmp = tmpDir("engine-preview")));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    describe("a cluster stack: buildImages=false, pinned images, no Tekton/Telepresence install", () => {
        let run: RunResult;
        let probes: string;
        before(async () => {
            const stackFile = path.join(tmp, "Pulumi.prebuilt.yaml");
            fs.writeFileSync(stackFile, YAML.stringify({ config: PINNED }));
            // Every Node.js process of the run (the runner; the analyzer, which inherits NODE_OPTIONS through the
            // engine) writes the deferred modules it loaded when it ends.
            probes = path.join(tmp, "probes");
            fs.mkdirSync(probes);
            const probe = path.join(tmp, "probe.js");
            fs.writeFileSync(probe, `
                ${LOADED_DEFERRED_MODULES_JS}
                const write = () => require("fs").writeFileSync(${JSON.stringify(probes)} + "/" + process.pid + ".json",
                    JSON.stringify({ argv: process.argv.slice(1), loaded: loaded() }));
                process.on("exit", write);
                for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
            `);
            run = await pulumiRun(["preview", "--stack", "prebuilt", "--stack-file", stackFile, "--state", path.join(tmp, "prebuilt")],
                { PULUMI_CONFIG_PASSPHRASE: "engine-test-prebuilt", NODE_OPTIONS: `--require ${probe}` });
        });

        it("previews cleanly with the policy pack", () => {
            assert.equal(run.status, 0, run.out);
            assert.match(run.out, /preview of stack prebuilt passed/);
            assert.doesNotMatch(run.out, /^\s*error:/m, run.out);
            assert.doesNotMatch(run.out, /\[mandatory\]/, run.out);
        });

        it("plans every resource the program registers (the mocks' count) plus the stack", async () => {
            const overrides = Object.fromEntries(Object.entries(PINNED).map(([k, v]) => [k, String(v)]));
            // Reads (the external traffic manager's namespace, read only in an update) are planned by no preview.
            const expected = (await renderStack({ overrides })).filter((r) => !r.read).length + 1;
            const m = /\+ (\d+) to create/.exec(run.out);
            assert.ok(m, run.out);
            assert.equal(Number(m![1]), expected, run.out);
        });

        it("neither the runner nor the policy analyzer loaded TypeScript's compiler or npm's arborist", () => {
            const processes = fs.readdirSync(probes).map((f) => JSON.parse(fs.readFileSync(path.join(probes, f), "utf8")));
            const which = (pattern: RegExp) => processes.filter((p) => pattern.test(p.argv.join(" ")));
            // The analyzer runs the pack by its path (run-policy-pack sets its argv to it).
            const ours = [...which(/pulumi-run\.js/), ...which(/policy[\\/]bin|run-policy-pack/)];
            assert.equal(ours.length, 2, `the runner and the analyzer among ${JSON.stringify(processes)}`);
            for (const p of ours) assert.deepEqual(p.loaded, [], JSON.stringify(p.argv));
        });
    });

    it("reports a config error from the program, naming the key and what is allowed", async () => {
        const run = await pulumiRun(["preview", "--stack", "render", "--state", path.join(tmp, "bad"), "--set", "interceptBackend=istio"]);
        assert.equal(run.status, 1, run.out);
        assert.match(run.out, /tekton-dag:interceptBackend must be one of telepresence, mirrord; got "istio"/, run.out);
    });
});
