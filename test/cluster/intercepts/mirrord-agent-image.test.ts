// The task params mirrord-agent-image and mirrord-agent-image-pull-secret (env MIRRORD_AGENT_IMAGE,
// MIRRORD_AGENT_IMAGE_PULL_SECRET) on the real API server: deploy-intercept-mirrord.sh as
// tekton-dag-pipeline stores them in each app's mirrord config, and the agent Job the mirrord CLI creates
// from that config runs the image. Simulated: the mirrord CLI in the proxy pods (test/cluster/standins.ts).
// The config keys and the program's wiring: test/program/agent-image.test.ts, agent-pull-secret.test.ts.
import { strict as assert } from "node:assert";
import { installRbac, newRun, PIPELINE_SA, purgeRunObjects, runScriptAs, ScriptRun } from "../harness";
import { ProxyPods } from "../standins";
import { AppSpec, assertNothingCreated, envOf, mark, one, putDeployments, remove, simpleDeployment } from "./pr-pod-fixtures";

const MIRROR = "registry.corp.example/mirrors/metalbear-co/mirrord:3.250.0";
const APPS: AppSpec[] = [{ name: "ai-fe", containerPort: 3000 }, { name: "ai-api", containerPort: 8080 }];

describe("cluster: the mirrord agent image and its pull secret through deploy-intercept-mirrord.sh (mirrord CLI simulated)", function () {
    this.timeout(300_000);
    let proxies: ProxyPods;
    const run = newRun("ai");
    let res: ScriptRun;
    before(async () => {
        await installRbac();
        putDeployments(APPS.map((a) => simpleDeployment(a.name, a.containerPort)));
        proxies = new ProxyPods();
        proxies.start();
        res = await runScriptAs("deploy-intercept-mirrord.sh", envOf(run, APPS, { MIRRORD_AGENT_IMAGE: MIRROR, MIRRORD_AGENT_IMAGE_PULL_SECRET: "corp-registry" }), PIPELINE_SA);
    });
    after(async () => {
        await proxies?.stop();
        await purgeRunObjects();
        remove(APPS.map((a) => `deployment/${a.name}`));
    });

    const configs = () => APPS.map((a) => JSON.parse(one(run, "configmaps", a.name, "mirrord-config").data["mirrord.json"]));

    it("deploys", () => assert.equal(res.status, 0, res.stderr));

    it("stores MIRRORD_AGENT_IMAGE as each config's agent.image, and the agent Job runs it", () => {
        for (const c of configs()) assert.equal(c.agent.image, MIRROR);
        for (const a of APPS) {
            const job = one(run, "jobs.batch", a.name, "mirrord-agent");
            assert.deepEqual(job.spec.template.spec.containers.map((c: any) => c.image), [MIRROR]);
        }
    });

    it("stores MIRRORD_AGENT_IMAGE_PULL_SECRET as each config's agent.image_pull_secrets", () => {
        for (const c of configs()) assert.deepEqual(c.agent.image_pull_secrets, [{ name: "corp-registry" }]);
    });

    for (const [what, env, message] of [
        ["an unpinned agent image (:latest)", { MIRRORD_AGENT_IMAGE: "ghcr.io/metalbear-co/mirrord:latest" }, /mirrord-agent-image "ghcr.io\/metalbear-co\/mirrord:latest" is not a pinned image reference/],
        ["an unpinned agent image (:LATEST)", { MIRRORD_AGENT_IMAGE: "ghcr.io/metalbear-co/mirrord:LATEST" }, /mirrord-agent-image "ghcr.io\/metalbear-co\/mirrord:LATEST" is not a pinned image reference/],
        ["a pull secret that is not a Secret name", { MIRRORD_AGENT_IMAGE_PULL_SECRET: "Bad Name" }, /mirrord-agent-image-pull-secret "Bad Name" is not a Secret name/],
    ] as Array<[string, Record<string, string>, RegExp]>) {
        it(`refuses ${what} before anything is created, naming the param`, async () => {
            const bad = newRun("ai-bad");
            const since = mark();
            const r = await runScriptAs("deploy-intercept-mirrord.sh", envOf(bad, APPS, env), PIPELINE_SA);
            assertNothingCreated(r, bad, since);
            assert.match(r.stderr, message);
        });
    }
});
