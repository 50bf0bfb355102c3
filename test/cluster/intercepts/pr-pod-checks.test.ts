// What the PR pod must not take from the Deployment's template, and what stops a deploy before anything is
// created: a port the proxies would not reach, node-level access for untrusted PR code, persistent data,
// preemption; and the size of real Deployments (kubectl's last-applied-configuration doubles them).
// The templates are real Deployments (pc-fe), the scripts run as tekton-dag-pipeline, the assertions read
// what the API server stored. Simulated: the proxy pods' containers (test/cluster/standins.ts) and, in the
// last test, the kubelet's report of an image that cannot be pulled.
import { strict as assert } from "node:assert";
import { apply, installApps, installRbac, newRun, PIPELINE_SA, purgeRunObjects, Run, runScript, ScriptRun, TARGET_NS } from "../harness";
import { ProxyPods } from "../standins";
import { assertNothingCreated, envOf, mark, NO_NODE, one, putDeployments, remove, reportStatus, simpleDeployment } from "./pr-pod-fixtures";

const SCRIPTS = ["deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh"];
const APP = "pc-fe";
const APPS = [{ name: APP, containerPort: 3000 }];

/** pc-fe's Deployment (stack containerPort 3000, container web) with `edit` applied to its pod spec. */
function feDeployment(edit: (spec: any, dep: any) => void): any {
    return simpleDeployment(APP, 3000, (s, d) => {
        s.containers[0].ports = [{ containerPort: 3000, name: "http" }];
        edit(s, d);
    });
}

let proxies: ProxyPods;

interface Deployed { r: ScriptRun; run: Run; fe?: any }

/** Puts the Deployment, runs the script, returns its result and the stored PR pod (when it succeeded). */
async function deploy(script: string, dep: any, env: Record<string, string> = {}): Promise<Deployed> {
    putDeployments([dep]);
    const run = newRun("pc");
    const r = await runScript(script, envOf(run, APPS, env), PIPELINE_SA);
    return { r, run, fe: r.status === 0 ? one(run, "pods", APP, "pr-pod") : undefined };
}

/** Puts a Deployment the script must refuse, runs it, and checks that nothing was created. */
async function refused(script: string, dep: any): Promise<ScriptRun> {
    putDeployments([dep], false);
    const since = mark();
    const run = newRun("pc");
    const r = await runScript(script, envOf(run, APPS), PIPELINE_SA);
    assertNothingCreated(r, run, since);
    return r;
}

const ok = (d: Deployed) => assert.equal(d.r.status, 0, d.r.stderr);

describe("cluster: what the PR pod may take from a real Deployment's template (proxy containers simulated)", function () {
    this.timeout(600_000);

    before(async () => {
        await installRbac();
        installApps(); // the traffic-manager Service the Telepresence proxy looks up
        proxies = new ProxyPods();
        proxies.start();
    });
    after(async () => {
        await proxies?.stop();
        purgeRunObjects();
        remove([`deployment/${APP}`]);
    });
    afterEach(() => purgeRunObjects());

    for (const script of SCRIPTS) {
        describe(script, () => {
            it("refuses an app container whose declared ports miss the stack's containerPort, naming both; nothing is created", async () => {
                const r = await refused(script, feDeployment((s) => { s.containers[0].ports = [{ containerPort: 8080 }, { containerPort: 9090 }]; }));
                assert.match(r.stderr, new RegExp(`app ${APP}: the stack's containerPort is 3000, but container web of Deployment staging/${APP} declares ports 8080, 9090`));
            });

            it("accepts an app container that declares no ports, or the stack's among others", async () => {
                for (const ports of [undefined, [{ containerPort: 9090 }, { containerPort: 3000 }]]) {
                    const d = await deploy(script, feDeployment((s) => { s.containers[0].ports = ports; }));
                    ok(d);
                    purgeRunObjects();
                }
            });

            it("refuses node-level access for PR code, listing every offending field; nothing is created", async () => {
                // Not here: privileged containers. The local API server runs without --allow-privileged, so it
                // refuses to store such a Deployment at all ("disallowed by cluster policy"); the script's
                // privileged check (lib-intercept.sh check_pr_pod_template) has no stored template to read here.
                const r = await refused(script, feDeployment((s) => {
                    s.hostNetwork = true;
                    s.hostPID = true;
                    s.hostIPC = true;
                    s.volumes = [{ name: "docker", hostPath: { path: "/var/run/docker.sock" } }, { name: "cfg", configMap: { name: "x" } }];
                    s.containers[0].securityContext = { capabilities: { add: ["SYS_ADMIN"] } };
                    s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { capabilities: { add: ["ALL"] } } }];
                }));
                assert.match(r.stderr, new RegExp(`app ${APP}: Deployment staging/${APP} gives its pods node-level access, which the PR pod \\(untrusted PR code\\) must not get: spec.hostNetwork, spec.hostPID, spec.hostIPC, volume docker \\(hostPath\\), container web \\(capability SYS_ADMIN\\), init container setup \\(capability ALL\\)\\.`));
            });

            it("refuses capabilities beyond the Pod Security Standards' baseline set, and accepts those within it", async () => {
                const r = await refused(script, feDeployment((s) => {
                    s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CAP_SYS_ADMIN"] } };
                    s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { capabilities: { add: ["net_admin"] } } }];
                }));
                assert.match(r.stderr, /must not get: container web \(capability SYS_ADMIN\), init container setup \(capability NET_ADMIN\)\./);

                const d = await deploy(script, feDeployment((s) => {
                    s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CHOWN"], drop: ["ALL"] } };
                }));
                ok(d);
                assert.deepEqual(d.fe.spec.containers[0].securityContext.capabilities.add, ["NET_BIND_SERVICE", "CHOWN"]);
            });

            it("has no opt-in for node-level access: an annotation does not change the answer", async () => {
                const r = await refused(script, feDeployment((s, d) => {
                    s.hostNetwork = true;
                    d.metadata.annotations = { "tekton-dag.io/pr-pod-allow-host-access": "true" };
                }));
                assert.match(r.stderr, /spec\.hostNetwork/);
            });

            describe("persistent data and preemption", () => {
                // What a provisioner and the cluster's owner would have set up for staging: volumes for the
                // claims (the app's own pod must run: mirrord steals from it) and the priority class.
                const pvs = ["pc-pv-data", "pc-pv-scratch"];
                before(() => apply([
                    ...pvs.map((name) => ({
                        apiVersion: "v1", kind: "PersistentVolume", metadata: { name },
                        spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/tmp/${name}` } },
                    })),
                    { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "pc-fe-data", namespace: TARGET_NS }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
                    { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "pc-staging-critical" }, value: 1000000 },
                ]));
                after(() => {
                    remove([`deployment/${APP}`, "persistentvolumeclaim/pc-fe-data"]);
                    remove([...pvs.map((p) => `persistentvolume/${p}`), "priorityclass/pc-staging-critical"], undefined);
                });

                it("replaces persistent and ephemeral volumes with emptyDir, and takes neither the priority class nor its priority", async () => {
                    const d = await deploy(script, feDeployment((s) => {
                        s.priorityClassName = "pc-staging-critical";
                        s.priority = 1000000;
                        s.preemptionPolicy = "PreemptLowerPriority";
                        s.volumes = [
                            { name: "data", persistentVolumeClaim: { claimName: "pc-fe-data" } },
                            { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
                            { name: "cfg", configMap: { name: "pc-fe-config" } },
                        ];
                        s.containers[0].volumeMounts = [{ name: "data", mountPath: "/data" }, { name: "scratch", mountPath: "/scratch" }, { name: "cfg", mountPath: "/etc/cfg" }];
                    }));
                    ok(d);
                    const volumes = d.fe.spec.volumes.filter((v: any) => !v.name.startsWith("kube-api-access-"));
                    assert.deepEqual(volumes, [
                        { name: "data", emptyDir: {} },
                        { name: "scratch", emptyDir: {} },
                        { name: "cfg", configMap: { name: "pc-fe-config", defaultMode: 420 } },
                    ]);
                    assert.deepEqual(d.fe.spec.containers[0].volumeMounts.map((m: any) => m.name).filter((n: string) => !n.startsWith("kube-api-access-")), ["data", "scratch", "cfg"]);
                    assert.equal(d.fe.spec.priorityClassName, undefined);
                    assert.equal(d.fe.spec.priority, 0, "the priority admission gave the PR pod the default priority, not staging's");
                    assert.match(d.r.stderr, new RegExp(`volumes data \\(persistentVolumeClaim\\), scratch \\(ephemeral\\) of Deployment staging/${APP} become emptyDir in the PR pod`));
                });
            });

            it("builds the PR pod from a Deployment larger than the kernel's 128 KiB argument limit", async () => {
                // kubectl apply's last-applied-configuration annotation alone doubles a Deployment's size.
                const big = feDeployment((s, d) => {
                    s.containers[0].env = Array.from({ length: 1500 }, (_, i) => ({ name: `SETTING_${i}`, value: "x".repeat(40) }));
                    d.metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ spec: { template: { spec: s } } }) };
                });
                assert.ok(JSON.stringify(big).length > 140_000, `${JSON.stringify(big).length} bytes`);
                const d = await deploy(script, big);
                ok(d);
                assert.equal(d.fe.spec.containers[0].env.length, 1500);
            });
        });
    }

    describe("wait_pod_ready: init containers and native sidecars", () => {
        it("fails at once when an init container cannot start, naming it, instead of waiting for the timeout (kubelet's pull failure simulated)", async () => {
            // Pending on no node, so kwok leaves the PR pod alone and the test reports the kubelet's view.
            putDeployments([feDeployment((s) => {
                s.nodeSelector = NO_NODE;
                s.initContainers = [{ name: "setup", image: "registry.local/setup:1" }];
            })], false);
            const run = newRun("pc");
            const started = Date.now();
            const deploying = runScript("deploy-intercept-mirrord.sh", envOf(run, APPS, { POD_READY_TIMEOUT_SECONDS: "20", POLL_INTERVAL_SECONDS: "1" }), PIPELINE_SA);
            const pod = await reportStatus(run, APP, "pr-pod", {
                phase: "Pending",
                initContainerStatuses: [{ name: "setup", image: "registry.local/setup:1", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } }],
                containerStatuses: [{ name: "web", image: "registry.local/pc-fe:1.0", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "PodInitializing" } } }],
            });
            const r = await deploying;
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`PR pod staging/${pod} cannot start: ImagePullBackOff \\(setup\\)`));
            assert.ok(Date.now() - started < 15_000, "did not wait for pod-ready-timeout-seconds");
        });
    });
});
