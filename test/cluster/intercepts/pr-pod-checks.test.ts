// What the PR pod must not take from the Deployment's template, and what stops a deploy before anything is
// created: a port the proxies would not reach, what the Pod Security Standards' baseline level refuses,
// shareProcessNamespace, volumes outside the allowlist (network storage), persistent data, preemption; and
// the size of real Deployments (kubectl's last-applied-configuration doubles them). The whole baseline level
// is held to k8s.io/pod-security-admission's own fixtures in test/podsecurity; these cases show the refusal on
// Deployments the API server stored, before any object of the run exists.
// Each case is its own real Deployment (pc-<case>-<m|t>), so its run takes its own Lease and the cases of one
// script run at once; the scripts run as tekton-dag-pipeline and the assertions read what the API server
// stored. Simulated: the proxy pods' containers (test/cluster/standins.ts) and, in the last test, the
// kubelet's report of an image that cannot be pulled.
import { strict as assert } from "node:assert";
import { apply, installApps, installRbac, newRun, PIPELINE_SA, purgeRunObjects, Run, runScriptAs, ScriptRun, TARGET_NS } from "../harness";
import { ProxyPods } from "../standins";
import { assertNothingCreated, envOf, mark, NO_NODE, one, putDeployments, remove, reportStatus, simpleDeployment } from "./pr-pod-fixtures";

const SCRIPTS = ["deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh"];

/** A Deployment (stack containerPort 3000, container web declaring port 3000) with `edit` applied to its pod spec. */
function deployment(app: string, edit: (spec: any, dep: any) => void): any {
    return simpleDeployment(app, 3000, (s, d) => {
        s.containers[0].ports = [{ containerPort: 3000, name: "http" }];
        edit(s, d);
    });
}

/** The cases: each names its template and whether the script must refuse it before creating anything. */
const CASES: Record<string, { refused: boolean; edit: (app: string) => (spec: any, dep: any) => void }> = {
    portmiss: { refused: true, edit: () => (s) => { s.containers[0].ports = [{ containerPort: 8080 }, { containerPort: 9090 }]; } },
    noports: { refused: false, edit: () => (s) => { delete s.containers[0].ports; } },
    amongports: { refused: false, edit: () => (s) => { s.containers[0].ports = [{ containerPort: 9090 }, { containerPort: 3000 }]; } },
    // The local API server allows privileged containers (--allow-privileged, as kubeadm and kind clusters
    // do), so such a Deployment is stored and the script reads it back.
    hostaccess: {
        refused: true, edit: () => (s) => {
            s.hostNetwork = true;
            s.hostPID = true;
            s.hostIPC = true;
            s.volumes = [{ name: "docker", hostPath: { path: "/var/run/docker.sock" } }, { name: "cfg", configMap: { name: "x" } }];
            s.containers[0].securityContext = { privileged: true, capabilities: { add: ["SYS_ADMIN"] } };
            s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { capabilities: { add: ["ALL"] } } }];
        },
    },
    capsbad: {
        refused: true, edit: () => (s) => {
            s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CAP_SYS_ADMIN"] } };
            s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { capabilities: { add: ["net_admin"] } } }];
        },
    },
    capsok: { refused: false, edit: () => (s) => { s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CHOWN"], drop: ["ALL"] } }; } },
    // Inline network storage: PR code would read and write what staging shares.
    netvol: {
        refused: true, edit: () => (s) => {
            s.volumes = [
                { name: "shared", nfs: { server: "nfs.staging.example", path: "/exports/shared" } },
                { name: "assets", csi: { driver: "files.csi.example.com", volumeAttributes: { share: "assets" } } },
                { name: "cfg", configMap: { name: "x" } },
            ];
            s.containers[0].volumeMounts = [{ name: "shared", mountPath: "/shared" }, { name: "assets", mountPath: "/assets" }, { name: "cfg", mountPath: "/etc/cfg" }];
        },
    },
    // Baseline violations other than node-level access, and shareProcessNamespace (baseline allows it).
    baseline: {
        refused: true, edit: () => (s) => {
            s.shareProcessNamespace = true;
            s.securityContext = { seccompProfile: { type: "Unconfined" }, sysctls: [{ name: "kernel.msgmax", value: "65536" }] };
            s.initContainers = [{ name: "logs", image: "registry.local/logs:1", restartPolicy: "Always", ports: [{ containerPort: 24224, hostPort: 24224 }] }];
            s.containers[0].securityContext = { appArmorProfile: { type: "Unconfined" } };
            s.containers[0].readinessProbe = { httpGet: { host: "10.0.0.1", path: "/ready", port: 3000 } };
        },
    },
    optin: {
        refused: true, edit: () => (s, d) => {
            s.hostNetwork = true;
            d.metadata.annotations = { "tekton-dag.io/pr-pod-allow-host-access": "true" };
        },
    },
    pvc: {
        refused: false, edit: (app) => (s) => {
            s.priorityClassName = "pc-staging-critical";
            s.priority = 1000000;
            s.preemptionPolicy = "PreemptLowerPriority";
            s.volumes = [
                { name: "data", persistentVolumeClaim: { claimName: `${app}-data` } },
                { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
                { name: "cfg", configMap: { name: `${app}-config` } },
            ];
            s.containers[0].volumeMounts = [{ name: "data", mountPath: "/data" }, { name: "scratch", mountPath: "/scratch" }, { name: "cfg", mountPath: "/etc/cfg" }];
        },
    },
    big: {
        // kubectl apply's last-applied-configuration annotation alone doubles a Deployment's size.
        refused: false, edit: () => (s, d) => {
            s.containers[0].env = Array.from({ length: 1500 }, (_, i) => ({ name: `SETTING_${i}`, value: "x".repeat(40) }));
            d.metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ spec: { template: { spec: s } } }) };
        },
    },
};

// What a provisioner and the cluster's owner would have set up for staging: volumes for the claims (the app's
// own pod must run: mirrord steals from it) and the priority class. Two claims per pvc case and script.
const PVS = ["pc-pv-1", "pc-pv-2", "pc-pv-3", "pc-pv-4"];
const clusterScoped = () => [...PVS.map((p) => `persistentvolume/${p}`), "priorityclass/pc-staging-critical"];

interface Outcome { app: string; dep: any; r: ScriptRun; run: Run; since: number; fe?: any }

let proxies: ProxyPods;

describe("cluster: what the PR pod may take from a real Deployment's template (proxy containers simulated)", function () {
    this.timeout(600_000);

    before(async () => {
        await installRbac();
        installApps(); // the traffic-manager Service the Telepresence proxy looks up
        apply([
            ...PVS.map((name) => ({
                apiVersion: "v1", kind: "PersistentVolume", metadata: { name },
                spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: `/tmp/${name}` } },
            })),
            { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "pc-staging-critical" }, value: 1000000 },
        ]);
        proxies = new ProxyPods();
        proxies.start();
    });
    after(async () => {
        await proxies?.stop();
        await purgeRunObjects();
        remove(clusterScoped(), undefined);
    });

    for (const script of SCRIPTS) {
        describe(script, () => {
            const suffix = script.includes("mirrord") ? "m" : "t";
            const apps = Object.keys(CASES).map((c) => `pc-${c}-${suffix}`);
            const out: Record<string, Outcome> = {};
            before(async () => {
                const deps = Object.entries(CASES).map(([c, { edit }]) => deployment(`pc-${c}-${suffix}`, edit(`pc-${c}-${suffix}`)));
                apply([{ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: `pc-pvc-${suffix}-data`, namespace: TARGET_NS }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }]);
                // Only the templates the scripts accept need running pods (a refusal happens before any target is used).
                putDeployments(deps.filter((d) => !CASES[d.metadata.name.slice(3, -2)].refused));
                putDeployments(deps.filter((d) => CASES[d.metadata.name.slice(3, -2)].refused), false);
                await Promise.all(Object.keys(CASES).map(async (c) => {
                    const app = `pc-${c}-${suffix}`;
                    const run = newRun("pc");
                    const since = mark();
                    const r = await runScriptAs(script, envOf(run, [{ name: app, containerPort: 3000 }]), PIPELINE_SA);
                    out[c] = { app, dep: deps.find((d) => d.metadata.name === app), r, run, since, fe: r.status === 0 ? one(run, "pods", app, "pr-pod") : undefined };
                }));
            });
            after(async () => {
                await purgeRunObjects();
                remove([...apps.map((a) => `deployment/${a}`), `persistentvolumeclaim/pc-pvc-${suffix}-data`]);
            });

            const ok = (o: Outcome) => assert.equal(o.r.status, 0, `${o.app}: ${o.r.stderr}`);
            const refused = (o: Outcome) => assertNothingCreated(o.r, o.run, o.since);

            it("refuses an app container whose declared ports miss the stack's containerPort, naming both; nothing is created", () => {
                const o = out.portmiss;
                refused(o);
                assert.match(o.r.stderr, new RegExp(`app ${o.app}: the stack's containerPort is 3000, but container web of Deployment staging/${o.app} declares ports 8080, 9090`));
            });

            it("accepts an app container that declares no ports, or the stack's among others", () => {
                ok(out.noports);
                assert.equal(out.noports.fe.spec.containers[0].ports, undefined);
                ok(out.amongports);
                assert.deepEqual(out.amongports.fe.spec.containers[0].ports.map((p: any) => p.containerPort), [9090, 3000]);
            });

            it("refuses node-level access for PR code, listing every offending field; nothing is created", () => {
                const o = out.hostaccess;
                refused(o);
                assert.ok(o.r.stderr.includes(`app ${o.app}: the pod template of Deployment staging/${o.app} cannot become the PR pod, which runs untrusted PR code: `
                    + "volume docker is hostPath (a folder of the node); spec.hostNetwork true; spec.hostPID true; spec.hostIPC true; "
                    + "init container setup: securityContext.capabilities.add ALL; container web: securityContext.privileged true; "
                    + "container web: securityContext.capabilities.add SYS_ADMIN. "), o.r.stderr);
                assert.match(o.r.stderr, /There is no opt-in; see docs\/stack-file\.md, "The PR pod"/);
            });

            it("refuses capabilities beyond the Pod Security Standards' baseline set, and accepts those within it", () => {
                refused(out.capsbad);
                // As the baseline check compares: the exact names of its default set, so CAP_SYS_ADMIN and net_admin are not SYS_ADMIN and NET_ADMIN.
                assert.match(out.capsbad.r.stderr, /PR code: init container setup: securityContext\.capabilities\.add net_admin; container web: securityContext\.capabilities\.add CAP_SYS_ADMIN\. /);
                ok(out.capsok);
                assert.deepEqual(out.capsok.fe.spec.containers[0].securityContext.capabilities.add, ["NET_BIND_SERVICE", "CHOWN"]);
            });

            it("refuses inline network volumes (nfs, csi), naming each volume, its type and what is allowed; nothing is created", () => {
                const o = out.netvol;
                refused(o);
                assert.ok(o.r.stderr.includes(`app ${o.app}: the pod template of Deployment staging/${o.app} cannot become the PR pod, which runs untrusted PR code: `
                    + "volume shared is nfs; volume assets is csi. "), o.r.stderr);
                assert.ok(o.r.stderr.includes("may have only configMap, secret, downwardAPI, projected and emptyDir volumes (persistentVolumeClaim and ephemeral ones become emptyDir)"), o.r.stderr);
            });

            it("refuses seccomp and AppArmor Unconfined, an unsafe sysctl, a sidecar's hostPort, a probe host and shareProcessNamespace; nothing is created", () => {
                const o = out.baseline;
                refused(o);
                assert.ok(o.r.stderr.includes("PR code: spec.shareProcessNamespace true; spec.securityContext.seccompProfile.type Unconfined; "
                    + "spec.securityContext.sysctls kernel.msgmax (not a safe sysctl); init container logs: ports[].hostPort 24224; "
                    + "container web: securityContext.appArmorProfile.type Unconfined; container web: readinessProbe.httpGet.host 10.0.0.1. "), o.r.stderr);
            });

            it("has no opt-in for node-level access: an annotation does not change the answer", () => {
                refused(out.optin);
                assert.match(out.optin.r.stderr, /spec\.hostNetwork/);
            });

            it("replaces persistent and ephemeral volumes with emptyDir, and takes neither the priority class nor its priority", () => {
                const o = out.pvc;
                ok(o);
                const volumes = o.fe.spec.volumes.filter((v: any) => !v.name.startsWith("kube-api-access-"));
                assert.deepEqual(volumes, [
                    { name: "data", emptyDir: {} },
                    { name: "scratch", emptyDir: {} },
                    { name: "cfg", configMap: { name: `${o.app}-config`, defaultMode: 420 } },
                ]);
                assert.deepEqual(o.fe.spec.containers[0].volumeMounts.map((m: any) => m.name).filter((n: string) => !n.startsWith("kube-api-access-")), ["data", "scratch", "cfg"]);
                assert.equal(o.fe.spec.priorityClassName, undefined);
                assert.equal(o.fe.spec.priority, 0, "the priority admission gave the PR pod the default priority, not staging's");
                assert.match(o.r.stderr, new RegExp(`volumes data \\(persistentVolumeClaim\\), scratch \\(ephemeral\\) of Deployment staging/${o.app} become emptyDir in the PR pod`));
            });

            it("builds the PR pod from a Deployment larger than the kernel's 128 KiB argument limit", () => {
                const o = out.big;
                assert.ok(JSON.stringify(o.dep).length > 140_000, `${JSON.stringify(o.dep).length} bytes`);
                ok(o);
                assert.equal(o.fe.spec.containers[0].env.length, 1500);
            });
        });
    }

    describe("wait_pod_ready: init containers and native sidecars", () => {
        const APP = "pc-init";
        after(async () => {
            await purgeRunObjects();
            remove([`deployment/${APP}`]);
        });

        it("fails at once when an init container cannot start, naming it, instead of waiting for the timeout (kubelet's pull failure simulated)", async () => {
            // Pending on no node, so kwok leaves the PR pod alone and the test reports the kubelet's view.
            putDeployments([deployment(APP, (s) => {
                s.nodeSelector = NO_NODE;
                s.initContainers = [{ name: "setup", image: "registry.local/setup:1" }];
            })], false);
            const run = newRun("pc");
            // A timeout far past mocha's: waiting for it would end with "was not Ready within", not the state.
            const deploying = runScriptAs("deploy-intercept-mirrord.sh", envOf(run, [{ name: APP, containerPort: 3000 }], { POD_READY_TIMEOUT_SECONDS: "3600", POLL_INTERVAL_SECONDS: "1" }), PIPELINE_SA);
            const pod = await reportStatus(run, APP, "pr-pod", {
                phase: "Pending",
                initContainerStatuses: [{ name: "setup", image: "registry.local/setup:1", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ImagePullBackOff" } } }],
                containerStatuses: [{ name: "web", image: "registry.local/pc-init:1.0", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "PodInitializing" } } }],
            }, deploying);
            const r = await deploying;
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`PR pod staging/${pod} cannot start: ImagePullBackOff \\(setup\\)`));
            assert.doesNotMatch(r.stderr, /was not Ready within/);
        });
    });
});
