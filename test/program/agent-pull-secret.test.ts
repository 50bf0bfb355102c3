// tekton-dag:mirrordAgentImagePullSecret -> the mirrord-agent-image-pull-secret param of the deploy Task and
// both Pipelines -> env MIRRORD_AGENT_IMAGE_PULL_SECRET -> the mirrord config's agent.image_pull_secrets, so an
// agent image from a private mirror can be pulled.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import { requireSharedSchema } from "../helpers/sharedSchemas";
import { parseConfig } from "../../lib/loadConfig";
import { named, objects, paramDefault } from "../helpers/render";
import { created, RUN_ID, runScript, tempDir } from "../intercepts/harness";
import { deployEnv, happyRules } from "../intercepts/fixtures";
import { problemsOf } from "../helpers/config";

const PARAM = "mirrord-agent-image-pull-secret";
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

    it("writes agent.image_pull_secrets, in the shape mirrord 3.250.0's schema accepts", function () {
        const validate = schema(this);
        const dir = tempDir();
        const res = runScript("deploy-intercept-mirrord.sh", deployEnv(dir, { MIRRORD_AGENT_IMAGE_PULL_SECRET: "corp-registry" }), happyRules(), dir);
        assert.equal(res.status, 0, res.stderr);
        const configs = created(res.calls).filter((o) => o.kind === "ConfigMap").map((c) => JSON.parse(c.data["mirrord.json"]));
        assert.equal(configs.length, 2);
        for (const c of configs) {
            assert.deepEqual(c.agent.image_pull_secrets, [{ name: "corp-registry" }]);
            assert.ok(validate(c), JSON.stringify(validate.errors, null, 2));
        }
    });

    it("leaves agent.image_pull_secrets out without a secret", () => {
        const res = runScript("mirrord-config.sh", { APP: "demo-fe", NAMESPACE: "staging", RUN_ID, INTERCEPT_HEADER: "x-dev-session: pr-42" });
        assert.equal(res.status, 0, res.stderr);
        assert.equal(JSON.parse(res.stdout).agent.image_pull_secrets, undefined);
    });

    it("refuses a pull secret that is not a Secret name before anything is created", () => {
        const dir = tempDir();
        const res = runScript("deploy-intercept-mirrord.sh", deployEnv(dir, { MIRRORD_AGENT_IMAGE_PULL_SECRET: "Bad Name" }), happyRules(), dir);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /mirrord-agent-image-pull-secret "Bad Name" is not a Secret name/);
        assert.deepEqual(created(res.calls), []);
    });
});
