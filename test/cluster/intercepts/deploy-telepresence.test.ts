// deploy-stack-intercepts.sh (Telepresence) on the real API server, as tekton-dag-pipeline under the Roles
// the program installs, and telepresence-proxy.sh, the proxy pod's program. Simulated: the proxy pod's
// container and kubelet (ProxyPods runs the real telepresence-proxy.sh from the pod's ConfigMap, as
// tekton-dag-telepresence-client, against a telepresence stand-in that makes the client's API calls), and
// for telepresence-proxy.sh alone, the telepresence CLI (recorded: its arguments and answers).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    cleanupEnv, deployEnv, getJson, newRun, PIPELINE_SA, Rule, Run, runScriptAs, ScriptRun, sleep, stackJson, TARGET_NS, TELEPRESENCE_NS, TELEPRESENCE_SA,
} from "../harness";
import { deploySuite } from "../standins";
import { auditMark } from "../audit";
import { assertCreatedNothing, ok, runRel } from "./lifecycle-fixtures";
import { SCRIPTS } from "../../support/repo";
import { tmpDir } from "../../support/tmpDir";

const SCRIPT = "deploy-stack-intercepts.sh";
const APPS = ["demo-fe", "demo-api"];
const deploy = (run: Run, extra: Record<string, string> = {}) => runScriptAs(SCRIPT, deployEnv(run, APPS, extra), PIPELINE_SA);
const role = (o: any) => o.metadata.labels?.["tekton-dag.io/role"];
const envOf = (pod: any) => Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]));

describe("cluster: deploy-stack-intercepts.sh as tekton-dag-pipeline (Telepresence proxy containers simulated)", function () {
    this.timeout(300_000);
    const { proxies } = deploySuite();
    let run: Run;
    let res: ScriptRun;
    let objs: any[];

    before(async () => {
        run = newRun("tp");
        res = await deploy(run, { AGENT_ARRIVAL_SECONDS: "300" });
        objs = getJson(["get", "pods,configmaps,leases.coordination.k8s.io", "-n", TARGET_NS, "-l", `tekton-dag.io/run=${run.id}`]).items;
    });
    it("succeeds and writes deployed-pods, naming PR pods the API server stores, to the run's directory", () => {
        ok(res);
        const pods = JSON.parse(fs.readFileSync(path.join(run.ws, runRel(run), "deployed-pods.json"), "utf8"));
        assert.deepEqual(Object.keys(pods).sort(), [...APPS].sort());
        for (const app of APPS) {
            const pod = objs.find((o) => o.kind === "Pod" && o.metadata.name === pods[app]);
            assert.equal(role(pod), "pr-pod", `${app}: ${pods[app]}`);
        }
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run.ws, "result"), "utf8")), pods);
    });

    it("holds the apps' intercept locks (the mirrord task's Leases) in shared mode, under its header", () => {
        assert.deepEqual(objs.filter((o) => o.kind === "Lease"), [], "the locks are shared: no Lease carries the run label");
        for (const app of APPS) {
            const lease = getJson(["get", "lease", `tekton-dag-intercept-${app}`, "-n", TARGET_NS]);
            const records = JSON.parse(lease.metadata.annotations["tekton-dag.io/holders"]);
            assert.deepEqual(records.map((r: any) => [r.run, r.pipelineRun, r.header, r.backend, r.mode, r.state]),
                [[run.id, run.name, "x-dev-session: pr-42", "telepresence", "shared", "holding"]]);
            assert.equal(lease.spec.holderIdentity, run.id);
        }
    });

    it("keeps the PR pod clean: the built image alone, its own entrypoint, no NET_ADMIN", () => {
        const pr = objs.filter((o) => o.kind === "Pod" && role(o) === "pr-pod");
        assert.equal(pr.length, 2);
        for (const pod of pr) {
            assert.equal(pod.spec.containers.length, 1);
            assert.match(pod.spec.containers[0].image, /^registry\.local:5000\/pr\/demo-(fe|api)@sha256:/);
            assert.equal(pod.spec.containers[0].command, undefined);
            assert.equal(pod.spec.containers[0].args, undefined);
            assert.equal(JSON.stringify(pod).includes("NET_ADMIN"), false);
        }
    });

    it("runs the Telepresence client in a proxy pod with --http-header Name=value towards the PR pod's IP", () => {
        const tps = objs.filter((o) => o.kind === "Pod" && role(o) === "telepresence-intercept");
        assert.equal(tps.length, 2);
        const fe = tps.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
        const prFe = objs.find((o) => o.kind === "Pod" && role(o) === "pr-pod" && o.metadata.labels["tekton-dag.io/app"] === "demo-fe");
        assert.equal(fe.spec.serviceAccountName, TELEPRESENCE_SA.name);
        assert.equal(fe.metadata.labels["tekton-dag.io/run"], run.id);
        const c = fe.spec.containers[0];
        assert.equal(c.image, deployEnv(run, APPS).TELEPRESENCE_IMAGE);
        const env = envOf(fe);
        assert.equal(env.TP_HTTP_HEADER, "x-dev-session=pr-42");
        assert.ok(prFe.status.podIP, "kwok gave the PR pod an IP");
        assert.equal(env.TP_TARGET_IP, prFe.status.podIP);
        assert.equal(env.TP_APP_PORT, "8080");
        assert.equal(env.TP_SERVICE_PORT, "80");
        assert.equal(env.TP_MANAGER_NAMESPACE, TELEPRESENCE_NS);
        assert.deepEqual(c.securityContext.capabilities.add, ["NET_ADMIN"]);
        const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === fe.spec.volumes[0].configMap.name);
        assert.equal(cm.metadata.labels["tekton-dag.io/run"], run.id);
        assert.equal(cm.data["telepresence-proxy.sh"], fs.readFileSync(path.join(SCRIPTS, "telepresence-proxy.sh"), "utf8"));
    });

    it("tells the proxy the agent arrival time and waits for it long enough to retry once", () => {
        const tp = objs.find((o) => o.kind === "Pod" && role(o) === "telepresence-intercept");
        assert.equal(envOf(tp).TP_AGENT_ARRIVAL_SECONDS, "300");
        // Two intercepts of up to (300 + 30) s each plus 120 s to connect, not the 30 s a PR pod gets; the
        // proxy is Pending until its program reports the intercept active.
        assert.match(res.stderr, /waiting for Telepresence proxy pod \S+ to be Ready \(phase Pending\); 7[78]\ds left/);
    });

    it("each proxy pod's telepresence-proxy.sh connected and intercepted as tekton-dag-telepresence-client, and the pod became Ready", () => {
        for (const tp of objs.filter((o) => o.kind === "Pod" && role(o) === "telepresence-intercept")) {
            const events = proxies.of(tp.metadata.name);
            assert.ok(events.some((e) => e.ok && e.message === "intercept active"), JSON.stringify(events));
            const stored = getJson(["get", "pod", tp.metadata.name, "-n", TARGET_NS]);
            assert.equal(stored.status.conditions.find((c: any) => c.type === "Ready")?.status, "True");
        }
    });

    it("the finally cleanup ends each intercept (the proxy program gets TERM and leaves) and nothing of the run remains", async () => {
        ok(await runScriptAs("cleanup-stack-intercepts.sh", cleanupEnv(run), PIPELINE_SA));
        assert.deepEqual(getJson(["get", "pods,configmaps,leases.coordination.k8s.io", "-n", TARGET_NS, "-l", `tekton-dag.io/run=${run.id}`]).items, []);
        for (const app of APPS) {
            const lease = getJson(["get", "lease", `tekton-dag-intercept-${app}`, "-n", TARGET_NS]);
            assert.deepEqual(JSON.parse(lease.metadata.annotations["tekton-dag.io/holders"]), [], `${app}: the run's record is gone`);
        }
        for (const tp of objs.filter((o) => o.kind === "Pod" && role(o) === "telepresence-intercept")) {
            let ended: any;
            // Polls what the proxy stand-in recorded; the bound only ends a failing wait.
            for (let i = 0; i < 600 && !ended; i++, await sleep(100)) ended = proxies.of(tp.metadata.name).find((e) => e.message.startsWith("ended on TERM"));
            assert.ok(ended?.ok, JSON.stringify(proxies.of(tp.metadata.name)));
            assert.match(ended.message, new RegExp(`ending intercept ${tp.metadata.labels["tekton-dag.io/app"]}`));
        }
    });

    describe("refuses bad input, naming it, before anything is created", () => {
        const refused = async (extra: Record<string, string>, message: RegExp) => {
            const bad = newRun("bad");
            const mark = auditMark();
            const r = await deploy(bad, extra);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, message);
            assertCreatedNothing(bad, r, mark);
        };

        it("an agent arrival time that is not a positive number of seconds", () =>
            refused({ AGENT_ARRIVAL_SECONDS: "2m" }, /telepresence-agent-arrival-seconds must be a positive whole number of seconds; got "2m"/));

        it("an app whose namespace is not a target namespace", () => {
            const stack = JSON.parse(stackJson());
            stack.apps["demo-api"].namespace = "api-ns";
            return refused({ STACK_JSON: JSON.stringify(stack), TARGET_NAMESPACES: `${TARGET_NS} other` },
                /app "demo-api" is in namespace "api-ns", which is not one of target-namespaces \(staging other\)/);
        });

        it("a header value Telepresence would read as a regular expression", () =>
            refused({ INTERCEPT_HEADER_VALUE: "x-dev-session: pr.42" }, /must not contain any of/));
    });
});

describe("cluster: telepresence-proxy.sh as tekton-dag-telepresence-client (telepresence CLI recorded)", function () {
    this.timeout(60_000);
    const ARRIVAL_TIMEOUT = "telepresence intercept: error: request timed out while waiting for agent demo-fe.staging to arrive\n";
    // What the client prints when its own timeouts.intercept runs out first (pkg/client/config.go, timeoutError).
    const CLIENT_INTERCEPT_TIMEOUT = "telepresence intercept: error: the intercept timed out.  The current timeout 30s can be configured as \"timeouts.intercept\" in \"/tmp/config/telepresence/config.yml\"\n";
    const proxyEnv = (dir: string, arrival = "180") => ({
        KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443",
        TP_WORKLOAD: "demo-fe", TP_NAMESPACE: TARGET_NS, TP_MANAGER_NAMESPACE: TELEPRESENCE_NS,
        TP_APP_PORT: "8080", TP_SERVICE_PORT: "80", TP_TARGET_IP: "10.1.2.3", TP_HTTP_HEADER: "x-dev-session=pr-42",
        TP_AGENT_ARRIVAL_SECONDS: arrival, TP_READY_FILE: path.join(dir, "ready"), TP_KUBECONFIG: path.join(dir, "kubeconfig"),
        TP_CONFIG_HOME: path.join(dir, "config"),
    });
    const tp = (r: ScriptRun) => r.calls.filter((c) => c.cmd === "telepresence");
    const intercepts = (r: ScriptRun) => tp(r).filter((c) => c.argv[0] === "intercept");

    /** Runs the proxy program until it reports the intercept active, then sends TERM (the pod's deletion). */
    async function untilActiveThenTerm(dir: string, recorded: Rule[] = []) {
        let readyWhenActive = false;
        const r = await runScriptAs("telepresence-proxy.sh", proxyEnv(dir), TELEPRESENCE_SA, {
            recorded,
            terminateWhen: (line) => {
                if (!/intercept active/.test(line)) return false;
                readyWhenActive = fs.existsSync(path.join(dir, "ready"));
                return true;
            },
        });
        return { r, readyWhenActive };
    }

    it("connects, intercepts with --http-header and --address, becomes ready, and leaves on TERM", async () => {
        const dir = tmpDir("tp-proxy-");
        const { r, readyWhenActive } = await untilActiveThenTerm(dir);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(readyWhenActive, "readiness file written once the intercept is active");
        const calls = tp(r).map((c) => c.argv);
        assert.deepEqual(calls.map((a) => a[0]), ["connect", "intercept", "leave", "quit"]);
        assert.deepEqual(calls[1], ["intercept", "demo-fe", "--port", "8080:80", "--address", "10.1.2.3",
            "--http-header", "x-dev-session=pr-42", "--mount=false"]);
        assert.ok(calls[0].includes("--manager-namespace") && calls[0].includes(TELEPRESENCE_NS));
        assert.ok(!calls.flat().some((a) => a.includes("http-match") || a === "helm"), "no --http-match, no traffic-manager install");
        assert.ok(!fs.existsSync(path.join(dir, "ready")), "not ready after leaving");
        assert.match(fs.readFileSync(path.join(dir, "kubeconfig"), "utf8"), /tokenFile: \/var\/run\/secrets\/kubernetes.io\/serviceaccount\/token/);
    });

    it("retries the intercept once when the traffic agent did not arrive in time, then becomes ready", async () => {
        const dir = tmpDir("tp-proxy-");
        const { r, readyWhenActive } = await untilActiveThenTerm(dir, [{ cmd: "telepresence", match: "^intercept ", stderr: ARRIVAL_TIMEOUT, exit: 1, times: 1 }]);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(readyWhenActive, `ready after the retry; stderr:\n${r.stderr}`);
        assert.deepEqual(tp(r).map((c) => c.argv[0]), ["connect", "intercept", "intercept", "leave", "quit"]);
        assert.match(r.stderr, /did not arrive within timeouts\.agentArrival \(180s\).*retrying the intercept once/);
        // The client bounds the whole intercept call with timeouts.intercept (agentInstall is an unused key to
        // current clients): it must outlast the manager's agentArrival, so the manager's answer is what it sees.
        assert.equal(fs.readFileSync(path.join(dir, "config", "telepresence", "config.yml"), "utf8"), "timeouts:\n  intercept: 210s\n");
    });

    const fails = (dir: string, rule: { stderr: string; times?: number }) => runScriptAs("telepresence-proxy.sh", proxyEnv(dir), TELEPRESENCE_SA,
        { recorded: [{ cmd: "telepresence", match: "^intercept ", exit: 1, ...rule }] });

    it("also retries once when the client's own intercept timeout ran out first", async () => {
        const r = await fails(tmpDir("tp-proxy-"), { stderr: CLIENT_INTERCEPT_TIMEOUT });
        assert.notEqual(r.status, 0);
        assert.equal(intercepts(r).length, 2, "one retry, no more");
        assert.match(r.stderr, /did not arrive within timeouts\.agentArrival \(180s\), twice \(one retry\)/);
    });

    it("fails with a message naming the config key when the agent misses its arrival twice", async () => {
        const dir = tmpDir("tp-proxy-");
        const r = await fails(dir, { stderr: ARRIVAL_TIMEOUT });
        assert.notEqual(r.status, 0);
        assert.equal(intercepts(r).length, 2, "one retry, no more");
        assert.match(r.stderr, /error: the traffic agent of demo-fe did not arrive within timeouts\.agentArrival \(180s\), twice \(one retry\)/);
        assert.match(r.stderr, /tekton-dag:telepresenceAgentArrivalSeconds/);
        assert.ok(!fs.existsSync(path.join(dir, "ready")));
        assert.ok(tp(r).some((c) => c.argv[0] === "quit"), "disconnects on failure");
    });

    it("does not retry any other intercept error", async () => {
        for (const error of ["telepresence intercept: error: no such workload\n",
            "telepresence intercept: error: request timed out while waiting for the traffic-manager\n"]) {
            const r = await fails(tmpDir("tp-proxy-"), { stderr: error, times: 1 });
            assert.notEqual(r.status, 0, error);
            assert.equal(intercepts(r).length, 1, error);
            assert.ok(r.stderr.includes(`error: telepresence intercept demo-fe failed: ${error.trim()}`), r.stderr);
        }
    });

    it("fails (so the deploy task reports it) when the intercept is refused, and disconnects", async () => {
        const dir = tmpDir("tp-proxy-");
        const r = await fails(dir, { stderr: "telepresence intercept: error: no such workload\n" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no such workload/);
        assert.ok(!fs.existsSync(path.join(dir, "ready")));
        assert.ok(tp(r).some((c) => c.argv[0] === "quit"), "disconnects on failure too");
    });
});
