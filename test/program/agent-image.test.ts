// tekton-dag:mirrordAgentImage -> the mirrord-agent-image param of the deploy Task and both Pipelines ->
// env MIRRORD_AGENT_IMAGE -> the mirrord config's agent.image (the images policy: test/policy/agent-image.test.ts;
// the deploy script, on the real API server: test/cluster/intercepts/mirrord-agent-image.test.ts).
import { strict as assert } from "node:assert";
import { parseConfig } from "../../lib/loadConfig";
import { named, objects, paramDefault } from "../support/render";
import { problemsOf } from "../support/config";

const MIRROR = "registry.corp.example/mirrors/metalbear-co/mirrord:3.250.0";
const HOLDERS: Array<[string, string]> = [["Task", "deploy-intercept-mirrord"], ["Pipeline", "stack-pr-test"], ["Pipeline", "stack-pr-continue"]];

describe("mirrord agent image (tekton-dag:mirrordAgentImage)", () => {
    describe("stack config", () => {
        it("defaults to mirrord's own image for mirrordVersion", () => {
            assert.equal(parseConfig({}).mirrordAgentImage, "ghcr.io/metalbear-co/mirrord:3.250.0");
        });

        it("takes a pinned mirror by tag or digest", () => {
            assert.equal(parseConfig({ "tekton-dag:mirrordAgentImage": MIRROR }).mirrordAgentImage, MIRROR);
            const digest = `registry.corp.example/mirrord@sha256:${"c".repeat(64)}`;
            assert.equal(parseConfig({ "tekton-dag:mirrordAgentImage": digest }).mirrordAgentImage, digest);
        });

        for (const bad of ["ghcr.io/metalbear-co/mirrord:latest", "ghcr.io/metalbear-co/mirrord:Latest", "ghcr.io/metalbear-co/mirrord", "not an image"]) {
            it(`rejects ${JSON.stringify(bad)}, naming the key`, () => {
                const problems = problemsOf({ "tekton-dag:mirrordAgentImage": bad });
                assert.ok(problems.length >= 1, "rejected");
                for (const p of problems) {
                    assert.match(p, /^tekton-dag:mirrordAgentImage must be /);
                    assert.ok(p.includes(JSON.stringify(bad)), p);
                }
            });
        }
    });

    describe("program", () => {
        it("sets the param default of the deploy Task and both Pipelines to the configured image", async () => {
            const objs = await objects({ stack: "kind", overrides: { mirrordAgentImage: MIRROR } });
            for (const [kind, name] of HOLDERS) assert.equal(paramDefault(named(objs, kind, name), "mirrord-agent-image"), MIRROR, `${kind} ${name}`);
        });

        it("sets mirrord's default for mirrordVersion when none is configured", async () => {
            const objs = await objects({ stack: "kind" });
            for (const [kind, name] of HOLDERS) {
                assert.equal(paramDefault(named(objs, kind, name), "mirrord-agent-image"), "ghcr.io/metalbear-co/mirrord:3.250.0", `${kind} ${name}`);
            }
        });

        it("passes the param from both Pipelines to the deploy task, and from the Task to its step's env", async () => {
            const objs = await objects({ stack: "kind" });
            for (const name of ["stack-pr-test", "stack-pr-continue"]) {
                const t = named(objs, "Pipeline", name).spec.tasks.find((x: any) => x.name === "deploy-intercepts-mirrord");
                assert.equal(t.params.find((p: any) => p.name === "mirrord-agent-image")?.value, "$(params.mirrord-agent-image)", name);
            }
            const step = named(objs, "Task", "deploy-intercept-mirrord").spec.steps[0];
            assert.equal(step.env.find((e: any) => e.name === "MIRRORD_AGENT_IMAGE")?.value, "$(params.mirrord-agent-image)");
        });
    });
});
