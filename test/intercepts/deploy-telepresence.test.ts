import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { created, fakeEnv, readCalls, RUN_ID, runScript, SCRIPTS, tempDir } from "./harness";
import { deployEnv, happyRules } from "./fixtures";

const SCRIPT = "deploy-stack-intercepts.sh";

describe("deploy-stack-intercepts.sh (Telepresence, against a recorded kubectl)", () => {
    let dir: string;
    let res: ReturnType<typeof runScript>;
    let objs: any[];
    before(() => {
        dir = tempDir();
        res = runScript(SCRIPT, deployEnv(dir, { TRAFFIC_MANAGER_NAMESPACE: "ambassador" }), happyRules(), dir);
        objs = created(res.calls);
    });

    it("succeeds and writes deployed-pods to the run's directory", () => {
        assert.equal(res.status, 0, res.stderr);
        const pods = JSON.parse(fs.readFileSync(path.join(dir, "ws", ".tekton-dag", "runs", RUN_ID, "deployed-pods.json"), "utf8"));
        assert.deepEqual(Object.keys(pods).sort(), ["demo-api", "demo-fe"]);
    });

    it("takes the same Leases as the mirrord task", () => {
        const leases = objs.filter((o) => o.kind === "Lease");
        assert.deepEqual(leases.map((l) => l.metadata.name).sort(), ["tekton-dag-intercept-demo-api", "tekton-dag-intercept-demo-fe"]);
        assert.ok(leases.every((l) => l.spec.holderIdentity === RUN_ID));
    });

    it("keeps the PR pod clean: the built image alone, own entrypoint, no NET_ADMIN", () => {
        const pr = objs.filter((o) => o.kind === "Pod" && o.metadata.labels["tekton-dag.io/role"] === "pr-pod");
        assert.equal(pr.length, 2);
        for (const pod of pr) {
            assert.equal(pod.spec.containers.length, 1);
            assert.equal(pod.spec.containers[0].command, undefined);
            assert.equal(pod.spec.containers[0].args, undefined);
            assert.equal(JSON.stringify(pod).includes("NET_ADMIN"), false);
        }
    });

    it("runs the Telepresence client in a proxy pod with --http-header Name=value towards the PR pod", () => {
        const proxies = objs.filter((o) => o.kind === "Pod" && o.metadata.labels["tekton-dag.io/role"] === "telepresence-intercept");
        assert.equal(proxies.length, 2);
        const fe = proxies.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
        assert.equal(fe.spec.serviceAccountName, "tekton-dag-telepresence-client");
        assert.equal(fe.metadata.labels["tekton-dag.io/run"], RUN_ID);
        const c = fe.spec.containers[0];
        assert.equal(c.image, "registry.local/tekton-dag-build-telepresence:2.31.2");
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
        assert.equal(env.TP_HTTP_HEADER, "x-dev-session=pr-42");
        assert.equal(env.TP_TARGET_IP, "10.1.2.3");
        assert.equal(env.TP_APP_PORT, "3000");
        assert.equal(env.TP_SERVICE_PORT, "80");
        assert.equal(env.TP_MANAGER_NAMESPACE, "ambassador");
        assert.deepEqual(c.securityContext.capabilities.add, ["NET_ADMIN"]);
        const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === fe.spec.volumes[0].configMap.name);
        assert.equal(cm.metadata.labels["tekton-dag.io/run"], RUN_ID);
        assert.equal(cm.data["telepresence-proxy.sh"], fs.readFileSync(path.join(SCRIPTS, "telepresence-proxy.sh"), "utf8"));
    });

    it("tells the proxy the agent arrival time and waits for it long enough to retry once", () => {
        const d = tempDir();
        const notReadyOnce = { cmd: "kubectl" as const, match: "^get pod tp-\\S+ -n \\S+ -o json$", stdout: { status: { phase: "Pending" } }, times: 1 };
        const r = runScript(SCRIPT, deployEnv(d, { AGENT_ARRIVAL_SECONDS: "300", POD_READY_TIMEOUT_SECONDS: "30" }),
            [notReadyOnce, ...happyRules()], d);
        assert.equal(r.status, 0, r.stderr);
        const proxy = created(r.calls).find((o) => o.kind === "Pod" && o.metadata.labels["tekton-dag.io/role"] === "telepresence-intercept");
        const env = Object.fromEntries(proxy.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        assert.equal(env.TP_AGENT_ARRIVAL_SECONDS, "300");
        // Two intercepts of up to (300 + 30) s each plus 120 s to connect, not the 30 s a PR pod gets.
        assert.match(r.stderr, /waiting for Telepresence proxy pod \S+ to be Ready \(phase Pending\); 7[78]\ds left/);
    });

    it("rejects an agent arrival time that is not a positive number of seconds, before anything is created", () => {
        const d = tempDir();
        const r = runScript(SCRIPT, deployEnv(d, { AGENT_ARRIVAL_SECONDS: "2m" }), happyRules(), d);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /telepresence-agent-arrival-seconds must be a positive whole number of seconds; got "2m"/);
        assert.deepEqual(r.calls, []);
    });

    it("rejects an app whose namespace is not a target namespace, naming it, before anything is created", () => {
        const d = tempDir();
        const r = runScript(SCRIPT, deployEnv(d, { TARGET_NAMESPACES: "staging other" }), happyRules(), d);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /app "demo-api" is in namespace "api-ns", which is not one of target-namespaces \(staging other\)/);
        assert.deepEqual(r.calls, []);
    });

    it("rejects a header value Telepresence would read as a regular expression, before anything is created", () => {
        const d = tempDir();
        const r = runScript(SCRIPT, deployEnv(d, { INTERCEPT_HEADER_VALUE: "x-dev-session: pr.42" }), happyRules(), d);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /must not contain any of/);
        assert.deepEqual(r.calls, []);
    });
});

describe("telepresence-proxy.sh (the proxy pod's program, against a recorded telepresence)", () => {
    it("connects, intercepts with --http-header and --address, becomes ready, and leaves on TERM", async function () {
        this.timeout(30_000);
        const dir = tempDir();
        const ready = path.join(dir, "ready");
        const env = {
            ...process.env, ...fakeEnv(dir, []),
            KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443",
            TP_WORKLOAD: "demo-fe", TP_NAMESPACE: "staging", TP_MANAGER_NAMESPACE: "ambassador",
            TP_APP_PORT: "3000", TP_SERVICE_PORT: "80", TP_TARGET_IP: "10.1.2.3", TP_HTTP_HEADER: "x-dev-session=pr-42",
            TP_READY_FILE: ready, TP_KUBECONFIG: path.join(dir, "kubeconfig"),
        };
        const child = spawn("bash", [path.join(SCRIPTS, "telepresence-proxy.sh")], { env, stdio: "ignore" });
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const deadline = Date.now() + 20_000;
        while (!fs.existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.ok(fs.existsSync(ready), "readiness file written once the intercept is active");
        child.kill("SIGTERM");
        assert.equal(await exited, 0);
        const calls = readCalls(dir).filter((c) => c.cmd === "telepresence").map((c) => c.argv);
        assert.deepEqual(calls.map((a) => a[0]), ["connect", "intercept", "leave", "quit"]);
        assert.deepEqual(calls[1], ["intercept", "demo-fe", "--port", "3000:80", "--address", "10.1.2.3",
            "--http-header", "x-dev-session=pr-42", "--mount=false"]);
        assert.ok(calls[0].includes("--manager-namespace") && calls[0].includes("ambassador"));
        assert.ok(!calls.flat().some((a) => a.includes("http-match") || a === "helm"), "no --http-match, no traffic-manager install");
        assert.ok(!fs.existsSync(ready), "not ready after leaving");
        assert.match(fs.readFileSync(path.join(dir, "kubeconfig"), "utf8"), /tokenFile: \/var\/run\/secrets\/kubernetes.io\/serviceaccount\/token/);
    });

    const ARRIVAL_TIMEOUT = "telepresence intercept: error: request timed out while waiting for agent demo-fe.staging to arrive\n";
    const proxyEnv = (dir: string) => ({
        KUBERNETES_SERVICE_HOST: "10.96.0.1", TP_WORKLOAD: "demo-fe", TP_NAMESPACE: "staging", TP_MANAGER_NAMESPACE: "ambassador",
        TP_APP_PORT: "3000", TP_SERVICE_PORT: "80", TP_TARGET_IP: "10.1.2.3", TP_HTTP_HEADER: "x-dev-session=pr-42",
        TP_AGENT_ARRIVAL_SECONDS: "180", TP_READY_FILE: path.join(dir, "ready"), TP_KUBECONFIG: path.join(dir, "kubeconfig"),
        TP_CONFIG_HOME: path.join(dir, "config"),
    });
    const intercepts = (r: ReturnType<typeof runScript>) => r.calls.filter((c) => c.cmd === "telepresence" && c.argv[0] === "intercept");

    it("retries the intercept once when the traffic agent did not arrive in time, then becomes ready", async function () {
        this.timeout(30_000);
        const dir = tempDir();
        const ready = path.join(dir, "ready");
        const env = { ...process.env, ...fakeEnv(dir, [{ cmd: "telepresence", match: "^intercept ", stderr: ARRIVAL_TIMEOUT, exit: 1, times: 1 }]),
            ...proxyEnv(dir) };
        let stderr = "";
        const child = spawn("bash", [path.join(SCRIPTS, "telepresence-proxy.sh")], { env, stdio: ["ignore", "ignore", "pipe"] });
        child.stderr.on("data", (b) => { stderr += b; });
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const deadline = Date.now() + 20_000;
        while (!fs.existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        assert.ok(fs.existsSync(ready), `ready after the retry; stderr:\n${stderr}`);
        child.kill("SIGTERM");
        assert.equal(await exited, 0);
        const calls = readCalls(dir).filter((c) => c.cmd === "telepresence").map((c) => c.argv[0]);
        assert.deepEqual(calls, ["connect", "intercept", "intercept", "leave", "quit"]);
        assert.match(stderr, /did not arrive within timeouts\.agentArrival \(180s\).*retrying the intercept once/);
        // The client bounds the whole intercept call with timeouts.intercept (agentInstall is an unused key to
        // current clients): it must outlast the manager's agentArrival, so the manager's answer is what it sees.
        assert.equal(fs.readFileSync(path.join(dir, "config", "telepresence", "config.yml"), "utf8"), "timeouts:\n  intercept: 210s\n");
    });

    // What the client prints when its own timeouts.intercept runs out first (pkg/client/config.go, timeoutError).
    const CLIENT_INTERCEPT_TIMEOUT = "telepresence intercept: error: the intercept timed out.  The current timeout 30s can be configured as \"timeouts.intercept\" in \"/tmp/config/telepresence/config.yml\"\n";

    it("also retries once when the client's own intercept timeout ran out first", () => {
        const dir = tempDir();
        const r = runScript("telepresence-proxy.sh", proxyEnv(dir),
            [{ cmd: "telepresence", match: "^intercept ", stderr: CLIENT_INTERCEPT_TIMEOUT, exit: 1 }], dir);
        assert.notEqual(r.status, 0);
        assert.equal(intercepts(r).length, 2, "one retry, no more");
        assert.match(r.stderr, /did not arrive within timeouts\.agentArrival \(180s\), twice \(one retry\)/);
    });

    it("fails with a message naming the config key when the agent misses its arrival twice", () => {
        const dir = tempDir();
        const r = runScript("telepresence-proxy.sh", proxyEnv(dir),
            [{ cmd: "telepresence", match: "^intercept ", stderr: ARRIVAL_TIMEOUT, exit: 1 }], dir);
        assert.notEqual(r.status, 0);
        assert.equal(intercepts(r).length, 2, "one retry, no more");
        assert.match(r.stderr, /error: the traffic agent of demo-fe did not arrive within timeouts\.agentArrival \(180s\), twice \(one retry\)/);
        assert.match(r.stderr, /tekton-dag:telepresenceAgentArrivalSeconds/);
        assert.ok(!fs.existsSync(path.join(dir, "ready")));
        assert.ok(r.calls.some((c) => c.argv[0] === "quit"), "disconnects on failure");
    });

    it("does not retry any other intercept error", () => {
        for (const error of ["telepresence intercept: error: no such workload\n",
            "telepresence intercept: error: request timed out while waiting for the traffic-manager\n"]) {
            const dir = tempDir();
            const r = runScript("telepresence-proxy.sh", proxyEnv(dir),
                [{ cmd: "telepresence", match: "^intercept ", stderr: error, exit: 1, times: 1 }], dir);
            assert.notEqual(r.status, 0, error);
            assert.equal(intercepts(r).length, 1, error);
            assert.ok(r.stderr.includes(`error: telepresence intercept demo-fe failed: ${error.trim()}`), r.stderr);
        }
    });

    it("fails (so the deploy task reports it) when the intercept is refused", () => {
        const dir = tempDir();
        const r = runScript("telepresence-proxy.sh", {
            KUBERNETES_SERVICE_HOST: "10.96.0.1", TP_WORKLOAD: "demo-fe", TP_NAMESPACE: "staging", TP_MANAGER_NAMESPACE: "ambassador",
            TP_APP_PORT: "3000", TP_SERVICE_PORT: "80", TP_TARGET_IP: "10.1.2.3", TP_HTTP_HEADER: "x-dev-session=pr-42",
            TP_READY_FILE: path.join(dir, "ready"), TP_KUBECONFIG: path.join(dir, "kubeconfig"),
        }, [{ cmd: "telepresence", match: "^intercept ", stderr: "telepresence intercept: error: no such workload\n", exit: 1 }], dir);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /no such workload/);
        assert.ok(r.calls.some((c) => c.argv[0] === "quit"), "disconnects on failure too");
    });
});
