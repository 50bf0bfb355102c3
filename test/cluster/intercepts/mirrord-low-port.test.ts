// An app on a port below 1024 behind mirrord: the proxy runs as uid 65532 without capabilities, so on a
// cluster with Linux's default net.ipv4.ip_unprivileged_port_start (1024) socat may not bind the app's
// port. The layer must bind a high local port (listen_ports) while the steal stays on the app's port.
// A real Deployment (lp-fe, port 80), deploy-intercept-mirrord.sh as tekton-dag-pipeline; the assertions
// read the ConfigMap and proxy pod the API server stored. Simulated: the mirrord CLI in the proxy pod.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import { requireSharedSchema } from "../../support/sharedSchemas";
import { installRbac, newRun, PIPELINE_SA, purgeRunObjects, runScriptAs, ScriptRun } from "../harness";
import { ProxyPods } from "../standins";
import { envOf, one, putDeployments, remove, simpleDeployment } from "./pr-pod-fixtures";

/** Linux's default net.ipv4.ip_unprivileged_port_start. */
const UNPRIVILEGED_PORT_START = 1024;
const APP = "lp-fe";

describe("cluster: mirrord and an app on port 80 (mirrord CLI simulated)", function () {
    this.timeout(300_000);
    let compiled: ValidateFunction<any> | undefined;
    /** mirrord's published schema, or this test skipped (failed under CI=true) naming the absent file. */
    const schema = (ctx: Mocha.Context) =>
        (compiled ??= new Ajv2020({ strict: false, allErrors: true, logger: false })
            .compile<any>(JSON.parse(fs.readFileSync(requireSharedSchema(ctx, "mirrord-schema-3.250.0.json"), "utf8"))));

    const run = newRun("lp");
    let proxies: ProxyPods;
    let res: ScriptRun;
    let proxy: any;
    let config: any;
    let prPod: any;
    before(async () => {
        await installRbac();
        putDeployments([simpleDeployment(APP, 80)]);
        proxies = new ProxyPods();
        proxies.start();
        res = await runScriptAs("deploy-intercept-mirrord.sh", envOf(run, [{ name: APP, containerPort: 80 }]), PIPELINE_SA);
        if (res.status !== 0) return;
        proxy = one(run, "pods", APP, "mirrord-proxy");
        prPod = one(run, "pods", APP, "pr-pod");
        config = JSON.parse(one(run, "configmaps", APP, "mirrord-config").data["mirrord.json"]);
    });
    after(async () => {
        await proxies?.stop();
        await purgeRunObjects();
        remove([`deployment/${APP}`]);
    });

    it("deploys", () => assert.equal(res.status, 0, res.stderr));

    it("stores a config mirrord 3.250.0's schema accepts", function () {
        const validate = schema(this);
        assert.ok(validate(config), JSON.stringify(validate.errors, null, 2));
    });

    it("steals port 80 of the target but has the layer bind an unprivileged local port", () => {
        const incoming = config.feature.network.incoming;
        assert.deepEqual(incoming.ports, [80]);
        assert.deepEqual(incoming.http_filter.ports, [80]);
        assert.equal(incoming.listen_ports.length, 1);
        const [remote, local] = incoming.listen_ports[0];
        assert.equal(remote, 80, "listen_ports maps the port socat binds (the app's)");
        assert.ok(local >= UNPRIVILEGED_PORT_START, `local port ${local} needs no privilege`);
        assert.equal(local, 10080);
    });

    it("runs the proxy unprivileged, without capabilities or sysctls, socat asking for port 80 and forwarding to the PR pod's port 80", () => {
        assert.equal(proxy.spec.securityContext.runAsUser, 65532);
        assert.equal(proxy.spec.securityContext.runAsNonRoot, true);
        assert.equal(proxy.spec.securityContext.sysctls, undefined);
        const c = proxy.spec.containers[0];
        assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
        assert.deepEqual(c.command.slice(-3), ["socat", "TCP-LISTEN:80,fork,reuseaddr", `TCP:${prPod.status.podIP}:80`]);
    });

    it("reports Ready once the local port (10080 = 0x2760) listens, not port 80", () => {
        const probe = proxy.spec.containers[0].readinessProbe.exec.command.join(" ");
        assert.ok(probe.includes(":2760 "), probe);
        assert.ok(!probe.includes(":0050 "), probe);
    });

    it("keeps ports from 1024 up as they are", async () => {
        const r = await runScriptAs("mirrord-config.sh", { APP, NAMESPACE: "staging", RUN_ID: run.id, INTERCEPT_HEADER: "x-dev-session: pr-42", PORT: "1024" }, PIPELINE_SA);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout).feature.network.incoming.listen_ports, [[1024, 1024]]);
    });
});
