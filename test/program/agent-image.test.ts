// tekton-dag:mirrordAgentImage -> the mirrord-agent-image param of the deploy Task and both Pipelines ->
// env MIRRORD_AGENT_IMAGE -> the mirrord config's agent.image (the images policy: test/policy/agent-image.test.ts).
import { strict as assert } from "node:assert";
import { parseConfig } from "../../lib/loadConfig";
import { named, objects, paramDefault } from "../helpers/render";
import { created, runScript, tempDir } from "../intercepts/harness";
import { deployEnv, happyRules } from "../intercepts/fixtures";
import { problemsOf } from "../helpers/config";

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

    describe("deploy-intercept-mirrord.sh", () => {
        it("writes MIRRORD_AGENT_IMAGE into the config's agent.image", () => {
            const dir = tempDir();
            const res = runScript("deploy-intercept-mirrord.sh", deployEnv(dir, { MIRRORD_AGENT_IMAGE: MIRROR }), happyRules(), dir);
            assert.equal(res.status, 0, res.stderr);
            const configs = created(res.calls).filter((o) => o.kind === "ConfigMap").map((c) => JSON.parse(c.data["mirrord.json"]));
            assert.equal(configs.length, 2);
            for (const c of configs) assert.equal(c.agent.image, MIRROR);
        });

        for (const tag of ["latest", "LATEST"]) {
            it(`refuses an unpinned agent image (:${tag}) before anything is created, naming the param`, () => {
                const dir = tempDir();
                const res = runScript("deploy-intercept-mirrord.sh", deployEnv(dir, { MIRRORD_AGENT_IMAGE: `ghcr.io/metalbear-co/mirrord:${tag}` }), happyRules(), dir);
                assert.notEqual(res.status, 0);
                assert.match(res.stderr, new RegExp(`mirrord-agent-image "ghcr.io/metalbear-co/mirrord:${tag}" is not a pinned image reference`));
                assert.deepEqual(res.calls.filter((c) => c.cmd === "kubectl"), [], "no kubectl call at all");
            });
        }
    });
});
