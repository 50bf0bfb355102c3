import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { created, flag, OTHER_RUN_ID, Rule, RUN_ID, runScript, tempDir } from "./harness";
import { AGENT_PODS, DEPLOYMENT, deployEnv, happyRules, IMAGES } from "./fixtures";

const SCRIPT = "deploy-intercept-mirrord.sh";

function byKind(objs: any[], kind: string, role?: string) {
    return objs.filter((o) => o.kind === kind && (!role || o.metadata.labels?.["tekton-dag.io/role"] === role));
}

describe("deploy-intercept-mirrord.sh (against a recorded kubectl)", () => {
    describe("a deploy that goes well", () => {
        let dir: string;
        let res: ReturnType<typeof runScript>;
        let objs: any[];
        before(() => {
            dir = tempDir();
            res = runScript(SCRIPT, deployEnv(dir), happyRules(), dir);
            objs = created(res.calls);
        });

        it("succeeds", () => assert.equal(res.status, 0, res.stderr));

        it("takes one Lease per (namespace, app), held by this run, before creating any pod", () => {
            const leases = byKind(objs, "Lease");
            assert.deepEqual(leases.map((l) => `${l.metadata.namespace}/${l.metadata.name}`).sort(),
                ["api-ns/tekton-dag-intercept-demo-api", "staging/tekton-dag-intercept-demo-fe"]);
            for (const l of leases) {
                assert.equal(l.apiVersion, "coordination.k8s.io/v1");
                assert.equal(l.spec.holderIdentity, RUN_ID);
                assert.equal(l.metadata.labels["tekton-dag.io/run"], RUN_ID);
                assert.equal(l.metadata.labels["tekton-dag.io/role"], "intercept-lease");
            }
            const firstPod = objs.findIndex((o) => o.kind === "Pod");
            assert.ok(objs.slice(0, firstPod).filter((o) => o.kind === "Lease").length === 2, "both leases precede the first pod");
        });

        it("runs the built image in the PR pod with its own entrypoint, port and readiness probe, and no extra privileges", () => {
            const pods = byKind(objs, "Pod", "pr-pod");
            assert.equal(pods.length, 2);
            const fe = pods.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
            const api = pods.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-api");
            for (const [pod, app] of [[fe, "demo-fe"], [api, "demo-api"]] as const) {
                const c = pod.spec.containers;
                assert.equal(c.length, 1, "no sidecar in the PR pod");
                assert.equal(c[0].image, (IMAGES as any)[app]);
                assert.equal(c[0].command, undefined, "the image's entrypoint must not be replaced");
                assert.equal(c[0].args, undefined, "the image's arguments must not be replaced");
                assert.equal(c[0].securityContext?.capabilities?.add, undefined, "no added capabilities (no NET_ADMIN)");
                assert.ok(pod.metadata.name.length <= 63 && /^[a-z0-9-]+$/.test(pod.metadata.name));
                assert.equal(pod.metadata.labels["tekton-dag.io/run"], RUN_ID);
                assert.equal(pod.metadata.labels["tekton-dag.io/pipeline-run"], "stack-pr-test-run-42");
                assert.equal(pod.metadata.labels["app"], undefined, "must not carry the Deployment's selector labels");
            }
            assert.equal(fe.metadata.namespace, "staging");
            assert.deepEqual(fe.spec.containers[0].ports[0].containerPort, 3000);
            assert.deepEqual(fe.spec.containers[0].readinessProbe.tcpSocket, { port: 3000 });
            assert.deepEqual(fe.spec.containers[0].env, [{ name: "API_URL", value: "http://demo-api.api-ns" }]);
            assert.equal(api.metadata.namespace, "api-ns");
            assert.deepEqual(api.spec.containers[0].readinessProbe.httpGet, { path: "/healthz", port: 8080 });
        });

        it("starts a mirrord proxy pod per app that wraps socat towards the PR pod, under the proxy ServiceAccount", () => {
            const proxies = byKind(objs, "Pod", "mirrord-proxy");
            assert.equal(proxies.length, 2);
            const fe = proxies.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
            assert.equal(fe.metadata.namespace, "staging");
            assert.equal(fe.spec.serviceAccountName, "tekton-dag-mirrord-proxy");
            assert.equal(fe.spec.restartPolicy, "Never");
            const c = fe.spec.containers[0];
            assert.equal(c.image, "registry.local/tekton-dag-build-mirrord:3.250.0");
            assert.deepEqual(c.command, ["mirrord", "exec", "-f", "/config/mirrord.json", "--",
                "socat", "TCP-LISTEN:3000,fork,reuseaddr", "TCP:10.1.2.3:3000"]);
            const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
            assert.equal(env.MIRRORD_CHECK_VERSION, "false");
            assert.equal(env.MIRRORD_TELEMETRY, "false");
            assert.ok(c.readinessProbe.exec.command.join(" ").includes(":0BB8 "), "ready once port 3000 (0x0BB8) is listening");
            assert.equal(fe.metadata.labels["tekton-dag.io/run"], RUN_ID);
        });

        it("keeps the mirrord config in a run-labelled ConfigMap mounted by the proxy", () => {
            const cms = byKind(objs, "ConfigMap", "mirrord-config");
            assert.equal(cms.length, 2);
            const fe = cms.find((c) => c.metadata.labels["tekton-dag.io/app"] === "demo-fe");
            assert.equal(fe.metadata.labels["tekton-dag.io/run"], RUN_ID);
            const config = JSON.parse(fe.data["mirrord.json"]);
            assert.equal(config.target.path, "deployment/demo-fe");
            assert.equal(config.agent.labels["tekton-dag.io/run"], RUN_ID);
            const proxy = byKind(objs, "Pod", "mirrord-proxy").find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
            assert.equal(proxy.spec.volumes[0].configMap.name, fe.metadata.name);
        });

        it("checks the config with mirrord verify-config", () => {
            assert.ok(res.calls.some((c) => c.cmd === "mirrord" && c.argv[0] === "verify-config"));
        });

        it("waits for the agent pod of this attempt's proxy: run label and tekton-dag.io/proxy=<proxy pod>", () => {
            const q = res.calls.find((c) => c.cmd === "kubectl" && c.argv[0] === "get" && c.argv.join(" ").includes("tekton-dag.io/role=mirrord-agent"));
            assert.ok(q, "agent query");
            const proxy = byKind(objs, "Pod", "mirrord-proxy").find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe");
            assert.equal(q!.argv[q!.argv.indexOf("-l") + 1],
                `tekton-dag.io/run=${RUN_ID},tekton-dag.io/app=demo-fe,tekton-dag.io/role=mirrord-agent,tekton-dag.io/proxy=${proxy.metadata.name}`);
            const config = JSON.parse(byKind(objs, "ConfigMap", "mirrord-config").find((c) => c.metadata.labels["tekton-dag.io/app"] === "demo-fe").data["mirrord.json"]);
            assert.equal(config.agent.labels["tekton-dag.io/proxy"], proxy.metadata.name, "the agent gets the label through agent.labels");
        });

        it("names the proxy per attempt, so a retried TaskRun's proxy differs from the earlier one", () => {
            const again = created(runScript(SCRIPT, deployEnv(tempDir()), happyRules()).calls);
            const name = (list: any[]) => byKind(list, "Pod", "mirrord-proxy").find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe").metadata.name;
            assert.match(name(objs), /^mirrord-demo-fe-0f8e6c1a-[0-9a-f]{6}$/);
            assert.notEqual(name(objs), name(again));
        });

        it("removes this run's earlier agent Job of the app (a retry) before it starts the proxy", () => {
            const i = res.calls.findIndex((c) => c.cmd === "kubectl" && c.argv[0] === "delete" && c.argv[1] === "jobs.batch" && flag(c.argv, "-n") === "staging");
            assert.ok(i >= 0, "a delete of jobs.batch in staging");
            assert.equal(flag(res.calls[i].argv, "-l"), `tekton-dag.io/run=${RUN_ID},tekton-dag.io/app=demo-fe,tekton-dag.io/role=mirrord-agent`);
            assert.ok(res.calls[i].argv.includes("--cascade=foreground") && res.calls[i].argv.includes("--wait=true"));
            const proxyCreate = res.calls.findIndex((c) => c.cmd === "kubectl" && c.argv[0] === "create" && c.stdin.includes('"mirrord-proxy"') && c.stdin.includes('"kind": "Pod"') && c.stdin.includes('"staging"'));
            assert.ok(proxyCreate > i, "before the proxy pod");
        });

        it("writes deployed-pods to the run's own directory and to the result", () => {
            const file = path.join(dir, "ws", ".tekton-dag", "runs", RUN_ID, "deployed-pods.json");
            const pods = JSON.parse(fs.readFileSync(file, "utf8"));
            assert.deepEqual(Object.keys(pods).sort(), ["demo-api", "demo-fe"]);
            assert.equal(pods["demo-fe"], byKind(objs, "Pod", "pr-pod").find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe").metadata.name);
            assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, "result-deployed-pods"), "utf8")), pods);
        });

        it("never uses a cluster-wide or unscoped delete", () => {
            for (const c of res.calls.filter((c) => c.cmd === "kubectl" && c.argv[0] === "delete")) {
                assert.ok(c.argv.includes("-l") && c.argv[c.argv.indexOf("-l") + 1].startsWith(`tekton-dag.io/run=${RUN_ID}`), c.argv.join(" "));
            }
        });
    });

    for (const [what, env, message] of [
        ["an app not in the stack", { BUILD_APPS: "demo-fe ghost-app" }, /build app "ghost-app" is not in the stack/],
        ["an app without a built image", { BUILT_IMAGES: JSON.stringify({ "demo-fe": IMAGES["demo-fe"] }) }, /built-images must name exactly the build apps \(demo-api, demo-fe\); it names: demo-fe/],
        ["an empty build-apps", { BUILD_APPS: " " }, /build-apps is empty/],
        ["a header without a value", { INTERCEPT_HEADER_VALUE: "x-dev-session" }, /intercept-header-value/],
        ["an empty run id", { RUN_ID: "" }, /RUN_ID is required|run-id is empty/],
        ["an app outside target-namespaces", { TARGET_NAMESPACES: "staging" },
            /app "demo-api" is in namespace "api-ns", which is not one of target-namespaces \(staging\)/],
        ["an empty target-namespaces", { TARGET_NAMESPACES: " " }, /target-namespaces is empty/],
    ] as Array<[string, Record<string, string>, RegExp]>) {
        it(`fails on ${what}, naming it, before anything is created`, () => {
            const dir = tempDir();
            const res = runScript(SCRIPT, deployEnv(dir, env), happyRules(), dir);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, message);
            assert.deepEqual(res.calls.filter((c) => c.cmd === "kubectl"), [], "no kubectl call at all");
        });
    }

    describe("a Lease held by another run", () => {
        const held: Rule[] = [
            { cmd: "kubectl", match: "^create -f -$", stderr: 'Error from server (AlreadyExists): leases.coordination.k8s.io "tekton-dag-intercept-demo-api" already exists\n', exit: 1, times: 1 },
            { cmd: "kubectl", match: "^get lease ", stdout: {
                metadata: { name: "tekton-dag-intercept-demo-api", labels: { "tekton-dag.io/run": OTHER_RUN_ID, "tekton-dag.io/pipeline-run": "stack-pr-test-other-7" } },
                spec: { holderIdentity: OTHER_RUN_ID },
            } },
        ];

        it("waits the configured time, then fails naming the holder run, deploying nothing", () => {
            const dir = tempDir();
            const rules: Rule[] = [{ ...held[0], times: 1000 }, held[1], ...happyRules()];
            const started = Date.now();
            const res = runScript(SCRIPT, deployEnv(dir, { LEASE_WAIT_SECONDS: "2", POLL_INTERVAL_SECONDS: "1" }), rules, dir);
            assert.notEqual(res.status, 0);
            assert.ok(Date.now() - started >= 1500, "it waited");
            assert.match(res.stderr, /waiting for lease api-ns\/tekton-dag-intercept-demo-api: held by PipelineRun stack-pr-test-other-7/);
            assert.match(res.stderr, /being intercepted by PipelineRun stack-pr-test-other-7 \(run 9a9b9c9d-1111-4222-8333-444455556666\)/);
            assert.equal(created(res.calls).filter((o) => o.kind === "Pod").length, 0);
        });

        it("proceeds once the other run releases it", () => {
            const dir = tempDir();
            const res = runScript(SCRIPT, deployEnv(dir, { LEASE_WAIT_SECONDS: "30" }), [...held, ...happyRules()], dir);
            assert.equal(res.status, 0, res.stderr);
            assert.equal(created(res.calls).filter((o) => o.kind === "Pod").length, 4);
        });

        it("treats a Lease this run already holds (a retried task) as taken", () => {
            const dir = tempDir();
            const mine: Rule[] = [held[0], { ...held[1], stdout: { metadata: { labels: {} }, spec: { holderIdentity: RUN_ID } } }];
            const res = runScript(SCRIPT, deployEnv(dir, { LEASE_WAIT_SECONDS: "1" }), [...mine, ...happyRules()], dir);
            assert.equal(res.status, 0, res.stderr);
        });
    });

    it("fails with mirrord's own error text when the proxy stops", () => {
        const dir = tempDir();
        const rules: Rule[] = [
            { cmd: "kubectl", match: "^get pod mirrord-\\S+ -n \\S+ -o json$", stdout: { status: { phase: "Failed" } } },
            { cmd: "kubectl", match: "^logs mirrord-", stdout: "Error: mirrord-agent: Detected dirty iptables; another session may be stealing\n" },
            ...happyRules(),
        ];
        const res = runScript(SCRIPT, deployEnv(dir), rules, dir);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /mirrord proxy pod staging\/mirrord-demo-fe-0f8e6c1a-[0-9a-f]{6} stopped \(phase Failed\).*Detected dirty iptables/);
        assert.ok(res.calls.some((c) => c.cmd === "kubectl" && c.argv[0] === "describe"), "describes the pod");
        assert.ok(!fs.existsSync(path.join(dir, "ws", ".tekton-dag", "runs", RUN_ID, "deployed-pods.json")));
    });

    it("fails, printing events and logs, when the PR pod never becomes Ready", () => {
        const dir = tempDir();
        const rules: Rule[] = [
            { cmd: "kubectl", match: "^get pod pr-\\S+ -n \\S+ -o json$", stdout: { status: { phase: "Pending", conditions: [{ type: "Ready", status: "False" }] } } },
            { cmd: "kubectl", match: "^get events ", stdout: "Warning  Unhealthy  Readiness probe failed\n" },
            ...happyRules(),
        ];
        const res = runScript(SCRIPT, deployEnv(dir, { POD_READY_TIMEOUT_SECONDS: "1", POLL_INTERVAL_SECONDS: "1" }), rules, dir);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /PR pod staging\/pr-demo-fe-0f8e6c1a was not Ready within pod-ready-timeout-seconds=1/);
        assert.match(res.stderr, /Readiness probe failed/);
        assert.ok(res.calls.some((c) => c.cmd === "kubectl" && c.argv[0] === "logs"));
    });

    it("fails on an image that cannot be pulled without waiting for the timeout", () => {
        const dir = tempDir();
        const rules: Rule[] = [
            { cmd: "kubectl", match: "^get pod pr-\\S+ -n \\S+ -o json$", stdout: { status: { phase: "Pending", containerStatuses: [{ state: { waiting: { reason: "ImagePullBackOff" } } }] } } },
            ...happyRules(),
        ];
        const res = runScript(SCRIPT, deployEnv(dir, { POD_READY_TIMEOUT_SECONDS: "300" }), rules, dir);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /cannot start: ImagePullBackOff/);
    });
    it("does not take an earlier attempt's agent (another proxy label) for this attempt's", () => {
        const dir = tempDir();
        const rules: Rule[] = [
            // The earlier attempt's agent is Running, but only a query without this attempt's proxy label finds it.
            { cmd: "kubectl", match: "^get pods .*tekton-dag.io/role=mirrord-agent,tekton-dag.io/proxy=", stdout: { items: [] } },
            { cmd: "kubectl", match: "^get pods .*tekton-dag.io/role=mirrord-agent", stdout: AGENT_PODS },
            ...happyRules(),
        ];
        const res = runScript(SCRIPT, deployEnv(dir, { POD_READY_TIMEOUT_SECONDS: "1", POLL_INTERVAL_SECONDS: "1" }), rules, dir);
        assert.notEqual(res.status, 0, "must not report the steal active");
        assert.match(res.stderr, /no running mirrord agent with label \S*tekton-dag.io\/proxy=mirrord-demo-fe-0f8e6c1a-[0-9a-f]{6} in staging/);
    });

    for (const replicas of [2, 3]) {
        it(`refuses a target Deployment with ${replicas} replicas before anything is created, naming the app and the alternatives`, () => {
            const dir = tempDir();
            const scaled = { ...DEPLOYMENT, metadata: { name: "demo-api" }, spec: { ...DEPLOYMENT.spec, replicas } };
            const rules: Rule[] = [{ cmd: "kubectl", match: "^get deployment demo-api ", stdout: scaled }, ...happyRules()];
            const res = runScript(SCRIPT, deployEnv(dir), rules, dir);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, new RegExp(`app demo-api: Deployment api-ns/demo-api has ${replicas} replicas`));
            assert.match(res.stderr, /steals from one random pod/);
            assert.match(res.stderr, /kubectl scale deployment\/demo-api -n api-ns --replicas=1/);
            assert.match(res.stderr, /intercept-backend telepresence/);
            assert.deepEqual(res.calls.filter((c) => c.cmd === "kubectl" && c.argv[0] !== "get"), [], "nothing created or deleted");
        });
    }

    it("accepts a Deployment with replicas: 1", () => {
        const dir = tempDir();
        const one = { ...DEPLOYMENT, spec: { ...DEPLOYMENT.spec, replicas: 1 } };
        const res = runScript(SCRIPT, deployEnv(dir), [{ cmd: "kubectl", match: "^get deployment ", stdout: one }, ...happyRules()], dir);
        assert.equal(res.status, 0, res.stderr);
    });
});
