// An app on a port below 1024 behind mirrord: the proxy runs as uid 65532 without capabilities, so on a
// cluster with Linux's default net.ipv4.ip_unprivileged_port_start (1024) socat may not bind the app's
// port. The layer must bind a high local port (listen_ports) while the steal stays on the app's port.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import type { ValidateFunction } from "ajv";
import { requireSharedSchema } from "../helpers/sharedSchemas";
import { created, RUN_ID, runScript, tempDir } from "./harness";
import { DEPLOYMENT, deployEnv, happyRules, STACK } from "./fixtures";


/** Linux's default net.ipv4.ip_unprivileged_port_start. */
const UNPRIVILEGED_PORT_START = 1024;

describe("mirrord and an app on port 80", () => {
    let compiled: ValidateFunction<any> | undefined;
    /** mirrord's published schema, or this test skipped (failed under CI=true) naming the absent file. */
    const schema = (ctx: Mocha.Context) =>
        (compiled ??= new Ajv2020({ strict: false, allErrors: true, logger: false })
            .compile<any>(JSON.parse(fs.readFileSync(requireSharedSchema(ctx, "mirrord-schema-3.250.0.json"), "utf8"))));
    const stack80 = structuredClone(STACK);
    stack80.apps["demo-fe"].containerPort = 80;

    let proxy: any;
    let config: any;
    let status: number | null;
    let stderr: string;
    before(() => {
        const dir = tempDir();
        const fe80 = structuredClone(DEPLOYMENT);
        fe80.spec.template.spec.containers[0].ports = [{ containerPort: 80 }];
        const res = runScript("deploy-intercept-mirrord.sh", deployEnv(dir, { STACK_JSON: JSON.stringify(stack80) }),
            [{ cmd: "kubectl", match: "^get deployment demo-fe ", stdout: fe80 }, ...happyRules()], dir);
        status = res.status;
        stderr = res.stderr;
        const objs = created(res.calls);
        const fe = (o: any) => o.metadata.labels?.["tekton-dag.io/app"] === "demo-fe";
        proxy = objs.find((o) => o.kind === "Pod" && o.metadata.labels["tekton-dag.io/role"] === "mirrord-proxy" && fe(o));
        const cm = objs.find((o) => o.kind === "ConfigMap" && fe(o));
        config = cm && JSON.parse(cm.data["mirrord.json"]);
    });

    it("deploys", () => assert.equal(status, 0, stderr));

    it("writes a config mirrord 3.250.0's schema accepts", function () {
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

    it("runs the proxy unprivileged, without capabilities or sysctls, socat asking for port 80 and forwarding to port 80", () => {
        assert.equal(proxy.spec.securityContext.runAsUser, 65532);
        assert.equal(proxy.spec.securityContext.runAsNonRoot, true);
        assert.equal(proxy.spec.securityContext.sysctls, undefined);
        const c = proxy.spec.containers[0];
        assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] });
        assert.deepEqual(c.command.slice(-3), ["socat", "TCP-LISTEN:80,fork,reuseaddr", "TCP:10.1.2.3:80"]);
    });

    it("reports Ready once the local port (10080 = 0x2760) listens, not port 80", () => {
        const probe = proxy.spec.containers[0].readinessProbe.exec.command.join(" ");
        assert.ok(probe.includes(":2760 "), probe);
        assert.ok(!probe.includes(":0050 "), probe);
    });

    it("keeps ports from 1024 up as they are", () => {
        const res = runScript("mirrord-config.sh", { APP: "demo-fe", NAMESPACE: "staging", RUN_ID, INTERCEPT_HEADER: "x-dev-session: pr-42", PORT: "1024" });
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(JSON.parse(res.stdout).feature.network.incoming.listen_ports, [[1024, 1024]]);
    });
});
