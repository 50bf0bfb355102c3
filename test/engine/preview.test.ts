/**
 * Previews through the real engine of stacks that are not the render stack: a cluster stack with prebuilt,
 * pinned images and no Tekton or Telepresence install previews cleanly (no cluster is reachable: the
 * kubernetes provider previews without one), and a config error is reported by the program, naming the key.
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { renderStack } from "../../scripts/mocks/render";
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
        before(async () => {
            const stackFile = path.join(tmp, "Pulumi.prebuilt.yaml");
            fs.writeFileSync(stackFile, YAML.stringify({ config: PINNED }));
            run = await pulumiRun(["preview", "--stack", "prebuilt", "--stack-file", stackFile, "--state", path.join(tmp, "prebuilt")],
                { PULUMI_CONFIG_PASSPHRASE: "engine-test-prebuilt" });
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
    });

    it("reports a config error from the program, naming the key and what is allowed", async () => {
        const run = await pulumiRun(["preview", "--stack", "render", "--state", path.join(tmp, "bad"), "--set", "interceptBackend=istio"]);
        assert.equal(run.status, 1, run.out);
        assert.match(run.out, /tekton-dag:interceptBackend must be one of telepresence, mirrord; got "istio"/, run.out);
    });
});
