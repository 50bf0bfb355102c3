// tekton-dag:mirrordAgentImagePullSecret -> the mirrord-agent-image-pull-secret param of the deploy Task and
// both Pipelines -> env MIRRORD_AGENT_IMAGE_PULL_SECRET -> the mirrord config's agent.image_pull_secrets, so an
// agent image from a private mirror can be pulled. The deploy script passing it on, on the real API server:
// test/cluster/intercepts/mirrord-agent-image.test.ts.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import { requireSharedSchema } from "../support/sharedSchemas";
import { parseConfig } from "../../lib/loadConfig";
import { named, objects, paramDefault } from "../support/render";
import { problemsOf } from "../support/config";
import { SCRIPTS } from "../support/repo";

const PARAM = "mirrord-agent-image-pull-secret";
const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";

/** mirrord-config.sh (it calls no kubectl) with the environment the deploy task gives it. */
function mirrordConfig(env: Record<string, string>) {
    const res = spawnSync("bash", [path.join(SCRIPTS, "mirrord-config.sh")], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", APP: "demo-fe", NAMESPACE: "staging", RUN_ID, INTERCEPT_HEADER: "x-dev-session: pr-42", ...env },
        encoding: "utf8",
    });
    return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}
const HOLDERS: Array<[string, string]> = [["Task", "deploy-intercept-mirrord"], ["Pipeline", "stack-pr-test"], ["Pipeline", "stack-pr-continue"]];

describe("mirrord agent image pull secret (tekton-dag:mirrordAgentImagePullSecret)", () => {
    let compiled: ValidateFunction<any> | undefined;
    /** mirrord's published schema, or this test skipped (failed under CI=true) naming the absent file. */
    const schema = (ctx: Mocha.Context) =>
        (compiled ??= new Ajv2020({ strict: false, allErrors: true, logger: false })
            .compile<any>(JSON.parse(fs.readFileSync(requireSharedSchema(ctx, "mirrord-schema-3.250.0.json"), "utf8"))));

    it("is empty (none) by default and takes a Secret name", () => {
        assert.equal(parseConfig({}).mirrordAgentImagePullSecret, "");
        assert.equal(parseConfig({ "tekton-dag:mirrordAgentImagePullSecret": "corp-registry" }).mirrordAgentImagePullSecret, "corp-registry");
        assert.equal(parseConfig({ "tekton-dag:mirrordAgentImagePullSecret": "regcred.corp" }).mirrordAgentImagePullSecret, "regcred.corp");
    });

    it("rejects a value that is not a Secret name, naming the key", () => {
        for (const bad of ["Corp_Registry", "-x", "a b"]) {
            const problems = problemsOf({ "tekton-dag:mirrordAgentImagePullSecret": bad });
            assert.equal(problems.length, 1, bad);
            assert.match(problems[0], /^tekton-dag:mirrordAgentImagePullSecret must be /);
        }
    });

    it("sets the param default of the deploy Task and both Pipelines, and passes it on to the step's env", async () => {
        const objs = await objects({ stack: "kind", overrides: { mirrordAgentImagePullSecret: "corp-registry" } });
        for (const [kind, name] of HOLDERS) assert.equal(paramDefault(named(objs, kind, name), PARAM), "corp-registry", `${kind} ${name}`);
        for (const name of ["stack-pr-test", "stack-pr-continue"]) {
            const t = named(objs, "Pipeline", name).spec.tasks.find((x: any) => x.name === "deploy-intercepts-mirrord");
            assert.equal(t.params.find((p: any) => p.name === PARAM)?.value, `$(params.${PARAM})`, name);
        }
        const step = named(objs, "Task", "deploy-intercept-mirrord").spec.steps[0];
        assert.equal(step.env.find((e: any) => e.name === "MIRRORD_AGENT_IMAGE_PULL_SECRET")?.value, `$(params.${PARAM})`);
    });

    it("defaults the param to empty when none is configured", async () => {
        const objs = await objects({ stack: "kind" });
        for (const [kind, name] of HOLDERS) assert.equal(paramDefault(named(objs, kind, name), PARAM), "", `${kind} ${name}`);
    });

    it("mirrord-config.sh writes agent.image_pull_secrets, in the shape mirrord 3.250.0's schema accepts", function () {
        const validate = schema(this);
        const res = mirrordConfig({ AGENT_IMAGE_PULL_SECRET: "corp-registry", PORT: "3000" });
        assert.equal(res.status, 0, res.stderr);
        const config = JSON.parse(res.stdout);
        assert.deepEqual(config.agent.image_pull_secrets, [{ name: "corp-registry" }]);
        assert.ok(validate(config), JSON.stringify(validate.errors, null, 2));
    });

    it("mirrord-config.sh leaves agent.image_pull_secrets out without a secret", () => {
        const res = mirrordConfig({});
        assert.equal(res.status, 0, res.stderr);
        assert.equal(JSON.parse(res.stdout).agent.image_pull_secrets, undefined);
    });

    it("mirrord-config.sh refuses a pull secret that is not a Secret name, printing no config", () => {
        const res = mirrordConfig({ AGENT_IMAGE_PULL_SECRET: "Bad Name" });
        assert.notEqual(res.status, 0);
        assert.equal(res.stdout, "");
        assert.match(res.stderr, /AGENT_IMAGE_PULL_SECRET \(task param mirrord-agent-image-pull-secret\) "Bad Name" is not a Secret name/);
    });
});
