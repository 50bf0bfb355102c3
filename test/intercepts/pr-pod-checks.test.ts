// What the PR pod must not take from the Deployment's template, and what stops a deploy before anything is
// created: a port the proxies would not reach, node-level access for untrusted PR code, persistent data,
// preemption; and the size of real Deployments (kubectl's last-applied-configuration doubles them).
import { strict as assert } from "node:assert";
import { created, Rule, runScript, tempDir } from "./harness";
import { DEPLOYMENT, deployEnv, happyRules } from "./fixtures";

const SCRIPTS = ["deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh"];

/** demo-fe's Deployment (stack containerPort 3000) with `edit` applied to a copy of its pod spec. */
function feDeployment(edit: (spec: any, dep: any) => void): any {
    const dep = structuredClone(DEPLOYMENT) as any;
    dep.spec.template.spec.containers[0].ports = [{ containerPort: 3000, name: "http" }];
    edit(dep.spec.template.spec, dep);
    return dep;
}

function deploy(script: string, fe: any, env: Record<string, string> = {}, extra: Rule[] = []) {
    const dir = tempDir();
    const rules: Rule[] = [...extra, { cmd: "kubectl", match: "^get deployment demo-fe ", stdout: fe }, ...happyRules()];
    const res = runScript(script, deployEnv(dir, env), rules, dir);
    const pods = created(res.calls).filter((o) => o.kind === "Pod" && o.metadata.labels?.["tekton-dag.io/role"] === "pr-pod");
    return { res, fe: pods.find((p) => p.metadata.labels["tekton-dag.io/app"] === "demo-fe") };
}

for (const script of SCRIPTS) {
    describe(`${script}: what the PR pod may take from the template`, () => {
        it("refuses an app container whose declared ports miss the stack's containerPort, naming both, before anything is created", () => {
            const { res } = deploy(script, feDeployment((s) => { s.containers[0].ports = [{ containerPort: 8080 }, { containerPort: 9090 }]; }));
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /app demo-fe: the stack's containerPort is 3000, but container web of Deployment staging\/demo-fe declares ports 8080, 9090/);
            assert.deepEqual(created(res.calls), [], "nothing created");
        });

        it("accepts an app container that declares no ports, or the stack's among others", () => {
            for (const ports of [undefined, [{ containerPort: 9090 }, { containerPort: 3000 }]]) {
                const { res } = deploy(script, feDeployment((s) => { s.containers[0].ports = ports; }));
                assert.equal(res.status, 0, res.stderr);
            }
        });

        it("refuses node-level access for PR code, listing every offending field, before anything is created", () => {
            const dep = feDeployment((s) => {
                s.hostNetwork = true;
                s.hostPID = true;
                s.hostIPC = true;
                s.volumes = [{ name: "docker", hostPath: { path: "/var/run/docker.sock" } }, { name: "cfg", configMap: { name: "x" } }];
                s.containers[0].securityContext = { privileged: true };
                s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { privileged: true } }];
            });
            const { res } = deploy(script, dep);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /app demo-fe: Deployment staging\/demo-fe gives its pods node-level access, which the PR pod \(untrusted PR code\) must not get: spec.hostNetwork, spec.hostPID, spec.hostIPC, volume docker \(hostPath\), container web \(privileged\), init container setup \(privileged\)/);
            assert.deepEqual(created(res.calls), [], "nothing created");
        });

        it("refuses capabilities beyond the Pod Security Standards' baseline set, and accepts those within it", () => {
            const dep = feDeployment((s) => {
                s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CAP_SYS_ADMIN"] } };
                s.initContainers = [{ name: "setup", image: "registry.local/setup:1", securityContext: { capabilities: { add: ["net_admin"] } } }];
            });
            const { res } = deploy(script, dep);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /must not get: container web \(capability SYS_ADMIN\), init container setup \(capability NET_ADMIN\)\./);
            assert.deepEqual(created(res.calls), [], "nothing created");

            const baseline = feDeployment((s) => {
                s.containers[0].securityContext = { capabilities: { add: ["NET_BIND_SERVICE", "CHOWN"], drop: ["ALL"] } };
            });
            const ok = deploy(script, baseline);
            assert.equal(ok.res.status, 0, ok.res.stderr);
            assert.deepEqual(ok.fe.spec.containers[0].securityContext.capabilities.add, ["NET_BIND_SERVICE", "CHOWN"]);
        });

        it("has no opt-in for node-level access: an annotation does not change the answer", () => {
            const dep = feDeployment((s, d) => {
                s.hostNetwork = true;
                d.metadata.annotations = { "tekton-dag.io/pr-pod-allow-host-access": "true" };
            });
            const { res } = deploy(script, dep);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /spec\.hostNetwork/);
        });

        it("replaces persistent and ephemeral volumes with emptyDir, and drops the priority class", () => {
            const dep = feDeployment((s) => {
                s.priorityClassName = "staging-critical";
                s.priority = 1000000;
                s.preemptionPolicy = "PreemptLowerPriority";
                s.volumes = [
                    { name: "data", persistentVolumeClaim: { claimName: "demo-fe-data" } },
                    { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
                    { name: "cfg", configMap: { name: "demo-fe-config" } },
                ];
                s.containers[0].volumeMounts = [{ name: "data", mountPath: "/data" }, { name: "scratch", mountPath: "/scratch" }, { name: "cfg", mountPath: "/etc/cfg" }];
            });
            const { res, fe } = deploy(script, dep);
            assert.equal(res.status, 0, res.stderr);
            assert.deepEqual(fe.spec.volumes, [
                { name: "data", emptyDir: {} },
                { name: "scratch", emptyDir: {} },
                { name: "cfg", configMap: { name: "demo-fe-config" } },
            ]);
            assert.deepEqual(fe.spec.containers[0].volumeMounts.map((m: any) => m.name), ["data", "scratch", "cfg"]);
            for (const field of ["priorityClassName", "priority", "preemptionPolicy"]) assert.equal(fe.spec[field], undefined, field);
            assert.match(res.stderr, /volumes data \(persistentVolumeClaim\), scratch \(ephemeral\) of Deployment staging\/demo-fe become emptyDir in the PR pod/);
        });

        it("builds the PR pod from a Deployment larger than the kernel's 128 KiB argument limit", () => {
            // kubectl apply's last-applied-configuration annotation alone doubles a Deployment's size.
            const big = feDeployment((s, d) => {
                s.containers[0].env = Array.from({ length: 1500 }, (_, i) => ({ name: `SETTING_${i}`, value: "x".repeat(40) }));
                d.metadata.annotations = { "kubectl.kubernetes.io/last-applied-configuration": JSON.stringify({ spec: { template: { spec: s } } }) };
            });
            assert.ok(JSON.stringify(big).length > 140_000, `${JSON.stringify(big).length} bytes`);
            const { res, fe } = deploy(script, big);
            assert.equal(res.status, 0, res.stderr);
            assert.equal(fe.spec.containers[0].env.length, 1500);
        });
    });
}

describe("wait_pod_ready: init containers and native sidecars", () => {
    it("fails at once when an init container cannot start, naming it, instead of waiting for the timeout", () => {
        const stuck: Rule = {
            cmd: "kubectl", match: "^get pod pr-demo-fe-\\S+ -n \\S+ -o json$",
            stdout: {
                status: {
                    phase: "Pending",
                    initContainerStatuses: [{ name: "setup", state: { waiting: { reason: "ImagePullBackOff" } } }],
                    containerStatuses: [{ name: "web", state: { waiting: { reason: "PodInitializing" } } }],
                },
            },
        };
        const started = Date.now();
        const { res } = deploy("deploy-intercept-mirrord.sh", feDeployment(() => undefined), { POD_READY_TIMEOUT_SECONDS: "20", POLL_INTERVAL_SECONDS: "1" }, [stuck]);
        assert.notEqual(res.status, 0);
        assert.match(res.stderr, /PR pod staging\/pr-demo-fe-0f8e6c1a cannot start: ImagePullBackOff \(setup\)/);
        assert.ok(Date.now() - started < 15_000, "did not wait for pod-ready-timeout-seconds");
    });
});
