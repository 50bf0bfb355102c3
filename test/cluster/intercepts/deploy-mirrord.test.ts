// deploy-intercept-mirrord.sh on the real API server, as tekton-dag-pipeline, against real Deployments
// (md-fe, md-api). Simulated: the mirrord CLI in the proxy pods (test/cluster/standins.ts: it creates the
// agent Job as tekton-dag-mirrord-proxy, the Job controller and kwok run the agent pod), `mirrord
// verify-config` in the task (a recorded stand-in), and where a test says so the kubelet's report of a pod.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    apply, awaitedLine, kubectlOk, newRun, PIPELINE_SA, purgeRunObjects, Rule, Run, RunOptions, runScriptAs, ScriptRun, TARGET_NS, installRbac,
} from "../harness";
import { ProxyPods } from "../standins";
import {
    AppSpec, assertNothingCreated, builtImage, envOf, mark, NO_NODE, one, putDeployments, remove, reportStatus, simpleDeployment,
    stackOf, stored, writesOf,
} from "./pr-pod-fixtures";

const SCRIPT = "deploy-intercept-mirrord.sh";
const FE: AppSpec = { name: "md-fe", containerPort: 3000, readinessPath: "" };
const API: AppSpec = { name: "md-api", containerPort: 8080, readinessPath: "/healthz" };
const APPS = [FE, API];
const VERIFY: Rule[] = [{ cmd: "mirrord", match: "^verify-config ", stdout: { type: "Success", config: {} } }];

function feDeployment(edit: (spec: any, dep: any) => void = () => undefined): any {
    return simpleDeployment(FE.name, 3000, (s, d) => {
        s.containers[0].env = [{ name: "API_URL", value: "http://md-api.staging" }];
        edit(s, d);
    });
}
const apiDeployment = () => simpleDeployment(API.name, 8080);

let proxies: ProxyPods;

const deploy = (run: Run, env: Record<string, string> = {}, apps = APPS, opts: RunOptions = { recorded: VERIFY }) =>
    runScriptAs(SCRIPT, envOf(run, apps, env), PIPELINE_SA, opts);
const ok = (r: ScriptRun) => assert.equal(r.status, 0, `${r.script} failed:\n${r.stderr}`);
const proxyOf = (run: Run, app: string) => one(run, "pods", app, "mirrord-proxy");

/** A Lease of another run on the app, as that run's deploy would have taken it. */
function foreignLease(app: string, holder: string, labels: Record<string, string>): void {
    apply([{
        apiVersion: "coordination.k8s.io/v1", kind: "Lease",
        metadata: { name: `tekton-dag-intercept-${app}`, namespace: TARGET_NS, labels },
        spec: { holderIdentity: holder },
    }]);
}

describe("cluster: deploy-intercept-mirrord.sh as tekton-dag-pipeline (mirrord CLI simulated)", function () {
    this.timeout(600_000);

    before(async () => {
        await installRbac();
        putDeployments([feDeployment(), apiDeployment()]);
        proxies = new ProxyPods();
        proxies.start();
    });
    after(async () => {
        await proxies?.stop();
        await purgeRunObjects();
        remove([`deployment/${FE.name}`, `deployment/${API.name}`]);
    });

    describe("a deploy that goes well, then its retry", () => {
        const run = newRun("md");
        const other = newRun("other");
        let res: ScriptRun;
        let since: number;
        let env: Record<string, string>;
        let otherCm: any;
        before(async () => {
            // Another run's object in the same namespace, app and role: no delete of this run may touch it.
            otherCm = JSON.parse(kubectlOk(["create", "-o", "json", "-f", "-"], JSON.stringify({
                apiVersion: "v1", kind: "ConfigMap",
                metadata: { name: `mirrord-md-fe-${other.id.slice(0, 8)}`, namespace: TARGET_NS, labels: { "tekton-dag.io/run": other.id, "tekton-dag.io/app": FE.name, "tekton-dag.io/role": "mirrord-config" } },
                data: { "mirrord.json": "{}" },
            })));
            env = envOf(run, APPS);
            since = mark();
            res = await deploy(run);
        });
        after(() => purgeRunObjects());

        it("succeeds (both targets have replicas: 1)", () => ok(res));

        it("holds each app's intercept lock exclusively, as this run, before creating any pod", () => {
            for (const app of [FE.name, API.name]) {
                const l = JSON.parse(kubectlOk(["get", "lease", `tekton-dag-intercept-${app}`, "-n", TARGET_NS, "-o", "json"]));
                assert.equal(l.spec.holderIdentity, run.id);
                assert.equal(l.metadata.labels["tekton-dag.io/role"], "intercept-lock");
                assert.equal(l.metadata.labels["tekton-dag.io/run"], undefined, "the lock is shared between runs: no run label");
                const records = JSON.parse(l.metadata.annotations["tekton-dag.io/holders"]);
                assert.deepEqual(records.map((r: any) => [r.run, r.mode, r.state, r.backend]), [[run.id, "exclusive", "holding", "mirrord"]]);
            }
            const creates = writesOf(res, since).filter((e) => e.verb === "create");
            const firstPod = creates.findIndex((e) => e.resource === "pods");
            assert.ok(firstPod > 0, "the script created pods");
            assert.equal(creates.slice(0, firstPod).filter((e) => e.resource === "leases").length, 2, "both locks precede the first pod");
        });

        it("runs the built image in the PR pod with its own entrypoint, port and readiness probe, and no extra privileges", () => {
            const fe = one(run, "pods", FE.name, "pr-pod");
            const api = one(run, "pods", API.name, "pr-pod");
            for (const [pod, app] of [[fe, FE.name], [api, API.name]] as const) {
                const c = pod.spec.containers;
                assert.equal(c.length, 1, "no sidecar in the PR pod");
                assert.equal(c[0].image, builtImage(env, app));
                assert.equal(c[0].command, undefined, "the image's entrypoint must not be replaced");
                assert.equal(c[0].args, undefined, "the image's arguments must not be replaced");
                assert.equal(c[0].securityContext?.capabilities?.add, undefined, "no added capabilities (no NET_ADMIN)");
                assert.ok(pod.metadata.name.length <= 63 && /^[a-z0-9-]+$/.test(pod.metadata.name));
                assert.equal(pod.metadata.labels["tekton-dag.io/pipeline-run"], run.name);
                assert.equal(pod.metadata.labels.app, undefined, "must not carry the Deployment's selector labels");
                assert.equal(pod.status.phase, "Running");
            }
            assert.equal(fe.spec.containers[0].ports[0].containerPort, 3000);
            assert.deepEqual(fe.spec.containers[0].readinessProbe.tcpSocket, { port: 3000 });
            assert.deepEqual(fe.spec.containers[0].env, [{ name: "API_URL", value: "http://md-api.staging" }]);
            const probe = api.spec.containers[0].readinessProbe.httpGet;
            assert.deepEqual([probe.path, probe.port], ["/healthz", 8080]);
        });

        it("starts a mirrord proxy pod per app that wraps socat towards the PR pod's IP, under the proxy ServiceAccount", () => {
            const fe = proxyOf(run, FE.name);
            proxyOf(run, API.name);
            const ip = one(run, "pods", FE.name, "pr-pod").status.podIP;
            assert.ok(ip, "the PR pod has an IP");
            assert.equal(fe.spec.serviceAccountName, "tekton-dag-mirrord-proxy");
            assert.equal(fe.spec.restartPolicy, "Never");
            const c = fe.spec.containers[0];
            assert.equal(c.image, "registry.local/tekton-dag-build-mirrord:3.250.0");
            assert.deepEqual(c.command, ["mirrord", "exec", "-f", "/config/mirrord.json", "--", "socat", "TCP-LISTEN:3000,fork,reuseaddr", `TCP:${ip}:3000`]);
            const e = Object.fromEntries(c.env.map((x: any) => [x.name, x.value]));
            assert.equal(e.MIRRORD_CHECK_VERSION, "false");
            assert.equal(e.MIRRORD_TELEMETRY, "false");
            assert.ok(c.readinessProbe.exec.command.join(" ").includes(":0BB8 "), "ready once port 3000 (0x0BB8) is listening");
        });

        it("keeps the mirrord config in a run-labelled ConfigMap mounted by the proxy", () => {
            const cm = one(run, "configmaps", FE.name, "mirrord-config");
            const config = JSON.parse(cm.data["mirrord.json"]);
            assert.deepEqual(config.target, { path: "deployment/md-fe", namespace: TARGET_NS });
            assert.equal(config.agent.labels["tekton-dag.io/run"], run.id);
            const proxy = proxyOf(run, FE.name);
            assert.equal(proxy.spec.volumes.find((v: any) => v.configMap).configMap.name, cm.metadata.name);
        });

        it("checks each config with mirrord verify-config (recorded stand-in)", () => {
            const checks = res.calls.filter((c) => c.cmd === "mirrord" && c.argv[0] === "verify-config");
            assert.ok(checks.length >= 2, `${checks.length} verify-config calls`);
        });

        it("waits for the agent of this attempt's proxy: the Running agent pod carries tekton-dag.io/proxy=<proxy pod>", () => {
            const proxy = proxyOf(run, FE.name);
            const config = JSON.parse(one(run, "configmaps", FE.name, "mirrord-config").data["mirrord.json"]);
            assert.equal(config.agent.labels["tekton-dag.io/proxy"], proxy.metadata.name, "the agent gets the label through agent.labels");
            const agents = stored(run, "pods", FE.name, "mirrord-agent");
            assert.equal(agents.length, 1);
            assert.equal(agents[0].metadata.labels["tekton-dag.io/proxy"], proxy.metadata.name);
            assert.equal(agents[0].status.phase, "Running");
            assert.match(res.stderr, /mirrord agent for staging\/md-fe is running; steal active/);
        });

        it("writes deployed-pods to the run's own directory and to the result", () => {
            const pods = JSON.parse(fs.readFileSync(path.join(run.ws, ".tekton-dag", "runs", run.id, "deployed-pods.json"), "utf8"));
            assert.deepEqual(Object.keys(pods).sort(), ["md-api", "md-fe"]);
            assert.equal(pods["md-fe"], one(run, "pods", FE.name, "pr-pod").metadata.name);
            assert.deepEqual(JSON.parse(fs.readFileSync(env.RESULT_PATH, "utf8")), pods);
        });

        describe("a retry of the same run (a retried TaskRun)", () => {
            let first: { proxy: any; job: any; cm: any };
            let retry: ScriptRun;
            let retrySince: number;
            before(async () => {
                first = {
                    proxy: proxyOf(run, FE.name),
                    job: one(run, "jobs.batch", FE.name, "mirrord-agent"),
                    cm: one(run, "configmaps", FE.name, "mirrord-config"),
                };
                retrySince = mark();
                retry = await deploy(run);
            });

            it("succeeds, the Lease it already holds counting as taken", () => {
                ok(retry);
                assert.match(retry.stderr, /intercept lock staging\/tekton-dag-intercept-md-fe is already held by this run/);
            });

            it("names the proxy per attempt, so the retry's proxy differs from the earlier one", () => {
                const again = proxyOf(run, FE.name);
                assert.match(first.proxy.metadata.name, new RegExp(`^mirrord-md-fe-${run.id.slice(0, 8)}-[0-9a-f]{6}$`));
                assert.match(again.metadata.name, new RegExp(`^mirrord-md-fe-${run.id.slice(0, 8)}-[0-9a-f]{6}$`));
                assert.notEqual(again.metadata.name, first.proxy.metadata.name);
            });

            it("removes this run's earlier proxy, agent Job and config of the app before it starts the new proxy", () => {
                const writes = writesOf(retry, retrySince);
                const del = (resource: string, name: string) => writes.findIndex((e) => e.verb === "delete" && e.resource === resource && e.name === name);
                const newProxy = proxyOf(run, FE.name).metadata.name;
                const created = writes.findIndex((e) => e.verb === "create" && e.resource === "pods" && e.name === newProxy);
                for (const [resource, obj] of [["pods", first.proxy], ["jobs", first.job], ["configmaps", first.cm]] as const) {
                    const i = del(resource, obj.metadata.name);
                    assert.ok(i >= 0, `the retry deleted ${resource}/${obj.metadata.name}`);
                    assert.ok(i < created, `${resource}/${obj.metadata.name} went before the new proxy pod was created`);
                }
                const jobs = stored(run, "jobs.batch", FE.name, "mirrord-agent");
                assert.deepEqual(jobs.map((j) => j.metadata.uid).filter((u) => u === first.job.metadata.uid), [], "the earlier agent Job is gone");
                assert.ok(stored(run, "pods", FE.name, "mirrord-agent").every((p) => p.metadata.labels["tekton-dag.io/proxy"] === newProxy), "only the new proxy's agent is left");
            });

            it("never deletes beyond this run: another run's object is untouched, and every delete was of this run's objects", () => {
                const now = JSON.parse(kubectlOk(["get", "configmap", otherCm.metadata.name, "-n", TARGET_NS, "-o", "json"]));
                assert.deepEqual([now.metadata.uid, now.metadata.resourceVersion], [otherCm.metadata.uid, otherCm.metadata.resourceVersion]);
                // From the first mark: the audit reader learns each object's run from its creation.
                const deletes = [...writesOf(res, since), ...writesOf(retry, since)].filter((e) => e.verb !== "create");
                assert.ok(deletes.length >= 3, `${deletes.length} deletes`);
                for (const e of deletes) assert.equal(e.run, run.id, `${e.verb} ${e.resource}/${e.name}`);
                assert.ok(deletes.every((e) => e.verb === "delete"), "no deletecollection");
            });
        });
    });

    describe("inputs refused before anything is created", () => {
        const api2 = structuredClone(stackOf(APPS));
        api2.apps["md-api"].namespace = "api-ns";
        for (const [what, env, message] of [
            ["an app not in the stack", { BUILD_APPS: "md-fe ghost-app" }, /build app "ghost-app" is not in the stack/],
            ["an app without a built image", { BUILT_IMAGES: JSON.stringify({ "md-fe": builtImage(envOf(newRun("x"), APPS), "md-fe") }) },
                /built-images must name exactly the build apps \(md-api, md-fe\); it names: md-fe/],
            ["an empty build-apps", { BUILD_APPS: " " }, /build-apps is empty/],
            ["a header without a value", { INTERCEPT_HEADER_VALUE: "x-dev-session" }, /intercept-header-value/],
            ["an empty run id", { RUN_ID: "" }, /RUN_ID is required|run-id is empty/],
            ["an app outside target-namespaces", { STACK_JSON: JSON.stringify(api2) },
                /app "md-api" is in namespace "api-ns", which is not one of target-namespaces \(staging\)/],
            ["an empty target-namespaces", { TARGET_NAMESPACES: " " }, /target-namespaces is empty/],
        ] as Array<[string, Record<string, string>, RegExp]>) {
            it(`fails on ${what}, naming it`, async () => {
                const run = newRun("bad");
                const since = mark();
                const r = await deploy(run, env);
                assertNothingCreated(r, run, since);
                assert.match(r.stderr, message);
            });
        }
    });

    describe("a one-holder Lease of the earlier design, held by another run (counts as an exclusive holder)", () => {
        const holder = newRun("stack-pr-test-other-7");
        const labels = { "tekton-dag.io/run": holder.id, "tekton-dag.io/pipeline-run": "stack-pr-test-other-7" };
        afterEach(() => purgeRunObjects());

        it("waits the configured time, then fails naming the holder run, deploying nothing", async () => {
            foreignLease(API.name, holder.id, labels);
            const run = newRun("md");
            const since = mark();
            const r = await deploy(run, { LEASE_WAIT_SECONDS: "2", POLL_INTERVAL_SECONDS: "1" });
            assert.notEqual(r.status, 0);
            assert.ok(r.ms >= 1500, "it waited");
            assert.match(r.stderr, /waiting for lease staging\/tekton-dag-intercept-md-api \(exclusive, mirrord\): held by PipelineRun stack-pr-test-other-7/);
            assert.match(r.stderr, new RegExp(`being intercepted by PipelineRun stack-pr-test-other-7 \\(run ${holder.id}, header unknown, unknown, exclusive\\)`));
            assertNothingCreated(r, run, since);
        });

        it("proceeds once the other run releases it", async () => {
            foreignLease(API.name, holder.id, labels);
            const run = newRun("md");
            const waiting = awaitedLine(/waiting for lease/);
            const deploying = deploy(run, { LEASE_WAIT_SECONDS: "120", POLL_INTERVAL_SECONDS: "1" }, [API], { recorded: VERIFY, onLine: waiting.onLine });
            await waiting.waitFor(deploying);
            kubectlOk(["delete", "lease", "tekton-dag-intercept-md-api", "-n", TARGET_NS]);
            const r = await deploying;
            ok(r);
            assert.match(r.stderr, /waiting for lease staging\/tekton-dag-intercept-md-api/);
            one(run, "pods", API.name, "pr-pod");
            one(run, "pods", API.name, "mirrord-proxy");
        });

        it("treats a Lease this run already holds (a retried task) as taken", async () => {
            const run = newRun("md");
            foreignLease(API.name, run.id, { "tekton-dag.io/run": run.id });
            const r = await deploy(run, { LEASE_WAIT_SECONDS: "1" }, [API]);
            ok(r);
            assert.match(r.stderr, /intercept lock staging\/tekton-dag-intercept-md-api is already held by this run/);
        });
    });

    describe("failures", () => {
        let changed: any[] = [];
        const put = (dep: any, ready = false) => {
            changed.push(dep.metadata.name === FE.name ? feDeployment() : apiDeployment());
            putDeployments([dep], ready);
        };
        afterEach(async () => {
            await purgeRunObjects();
            if (changed.length) putDeployments(changed); // back to the targets the other tests expect
            changed = [];
        });

        it("fails with the mirrord CLI's error when the proxy stops (its target has no running pod)", async () => {
            // Open-source mirrord needs a running pod of the target to steal from; with none the CLI exits.
            put(feDeployment((_, d) => { d.spec.replicas = 0; }));
            const run = newRun("md");
            const r = await deploy(run);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`mirrord proxy pod staging/mirrord-md-fe-${run.id.slice(0, 8)}-[0-9a-f]{6} stopped \\(phase Failed\\)`));
            assert.match(r.stderr, /---- kubectl describe pod staging\/mirrord-md-fe-/, "describes the pod");
            assert.match(r.stderr, /no running pod of deployment\/md-fe/, "the CLI's message (the pod's termination message)");
            assert.ok(!fs.existsSync(path.join(run.ws, ".tekton-dag", "runs", run.id, "deployed-pods.json")));
        });

        it("fails, printing events and logs, when the PR pod never becomes Ready (it fits no node)", async () => {
            put(feDeployment((s) => { s.nodeSelector = NO_NODE; }));
            const run = newRun("md");
            const r = await deploy(run, { POD_READY_TIMEOUT_SECONDS: "3", POLL_INTERVAL_SECONDS: "1" });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`PR pod staging/pr-md-fe-${run.id.slice(0, 8)} was not Ready within pod-ready-timeout-seconds=3 \\(phase Pending\\)`));
            assert.match(r.stderr, /FailedScheduling/, "the scheduler's event");
            assert.match(r.stderr, /---- logs of staging\/pr-md-fe-/);
        });

        it("fails on an image that cannot be pulled without waiting for the timeout (kubelet's pull failure simulated)", async () => {
            put(feDeployment((s) => { s.nodeSelector = NO_NODE; }));
            const run = newRun("md");
            // A timeout far past mocha's: a deploy that waited for it instead of failing on the state would
            // end with "was not Ready within", not with the state.
            const deploying = deploy(run, { POD_READY_TIMEOUT_SECONDS: "3600", POLL_INTERVAL_SECONDS: "1" });
            await reportStatus(run, FE.name, "pr-pod", {
                phase: "Pending",
                containerStatuses: [{ name: "web", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } }],
            }, deploying);
            const r = await deploying;
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /cannot start: ImagePullBackOff/);
            assert.doesNotMatch(r.stderr, /was not Ready within/);
        });

        it("does not take an earlier attempt's running agent (another proxy label) for this attempt's (proxy's kubelet simulated)", async () => {
            // The CLI of this attempt never gets its agent up; the proxy pod itself is Ready (socat listens).
            put(feDeployment((_, d) => { d.metadata.annotations = { "tekton-dag.test/mirrord-agent": "never-starts" }; }), true);
            const run = newRun("md");
            // The earlier attempt's agent: a bare pod, so the script's removal of earlier agent Jobs leaves it
            // (what is checked here is the proxy label in the query, not that removal).
            apply([{
                apiVersion: "v1", kind: "Pod",
                metadata: {
                    name: `mirrord-agent-earlier-${run.id.slice(0, 8)}`, namespace: TARGET_NS,
                    labels: { "tekton-dag.io/run": run.id, "tekton-dag.io/app": FE.name, "tekton-dag.io/role": "mirrord-agent", "tekton-dag.io/proxy": `mirrord-md-fe-${run.id.slice(0, 8)}-000000` },
                },
                spec: { containers: [{ name: "mirrord-agent", image: "ghcr.io/metalbear-co/mirrord:3.250.0" }] },
            }]);
            kubectlOk(["wait", "pod", `mirrord-agent-earlier-${run.id.slice(0, 8)}`, "-n", TARGET_NS, "--for", "jsonpath={.status.phase}=Running", "--timeout", "30s"]);
            const deploying = deploy(run, { POD_READY_TIMEOUT_SECONDS: "8", POLL_INTERVAL_SECONDS: "1" });
            const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
            await reportStatus(run, FE.name, "mirrord-proxy", {
                phase: "Running", podIP: "10.245.0.9",
                conditions: ["Initialized", "ContainersReady", "Ready", "PodScheduled"].map((type) => ({ type, status: "True", lastTransitionTime: now })),
                containerStatuses: [{ name: "mirrord", image: "x", imageID: "", ready: true, restartCount: 0, started: true, state: { running: { startedAt: now } } }],
            }, deploying);
            const r = await deploying;
            assert.notEqual(r.status, 0, "must not report the steal active");
            assert.match(r.stderr, new RegExp(`no running mirrord agent with label \\S*tekton-dag.io/proxy=mirrord-md-fe-${run.id.slice(0, 8)}-[0-9a-f]{6} in staging`));
            assert.doesNotMatch(r.stderr, /steal active/);
        });

        for (const replicas of [2, 3]) {
            it(`refuses a target Deployment with ${replicas} replicas before anything is created, naming the app and the alternatives`, async () => {
                changed.push(apiDeployment());
                kubectlOk(["scale", "deployment/md-api", "-n", TARGET_NS, `--replicas=${replicas}`]);
                const run = newRun("md");
                const since = mark();
                const r = await deploy(run);
                assertNothingCreated(r, run, since);
                assert.match(r.stderr, new RegExp(`app md-api: Deployment staging/md-api has ${replicas} replicas`));
                assert.match(r.stderr, /steals from one random pod/);
                assert.match(r.stderr, /kubectl scale deployment\/md-api -n staging --replicas=1/);
                assert.match(r.stderr, /intercept-backend telepresence/);
            });
        }
    });
});
