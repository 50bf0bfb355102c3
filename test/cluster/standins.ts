// What runs inside the proxy pods on a real cluster, simulated here (kwok runs no container):
//  - mirrord proxy pods: the mirrord CLI resolves its target and spawns the agent Job. The stand-in does
//    those API calls as the pod's ServiceAccount (tekton-dag-mirrord-proxy) with the agent labels of the
//    pod's mirrord.json, so the Job controller and kwok then run the agent pod as they would.
//  - Telepresence proxy pods: telepresence-proxy.sh itself runs (from the pod's ConfigMap, with the pod's
//    env) against a stand-in `telepresence` (standins/telepresence) that makes the client's API calls as
//    tekton-dag-telepresence-client; deleting the pod sends it TERM, as the kubelet would.
// Port-forwards, logs and the network are not simulated: the stand-ins only ask whether they are allowed.
// kwok leaves proxy pods alone (scripts/cluster.sh), so this also plays their kubelet: Running and Ready
// once the CLI stand-in succeeded, Failed with its message if not, and on deletion TERM, then removal.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Account, ADMIN_KUBECONFIG, adminOk, adminRequest, cluster, credentials, Credentials, installApps, installRbac, listObjects, purgeRunObjects, SHORT_LIVED_GO_ENV } from "./harness";
import { failure, query, request, resourcePath } from "./kubeApi";
import { tmpDir } from "../support/tmpDir";

const STANDIN_BIN = path.join(__dirname, "standins");

export interface StandInEvent { pod: string; actor: string; ok: boolean; message: string }

/**
 * A request of the simulated mirrord CLI, made in-process with the proxy pod's ServiceAccount token (RBAC
 * decides as it would for the CLI); fails with the API server's message (e.g. Forbidden, naming the resource).
 */
async function asAccount(creds: Credentials, what: string, method: string, urlPath: string, body?: unknown): Promise<any> {
    const r = await request(ADMIN_KUBECONFIG, method, urlPath, body, { token: creds.token });
    if (r.status < 200 || r.status >= 300) throw new Error(`${what}: ${failure(method, urlPath, r).message}`);
    return r.body;
}

export class ProxyPods {
    readonly events: StandInEvent[] = [];
    private seen = new Set<string>();
    private terminating = new Set<string>();
    private proxies = new Map<string, ChildProcess>();
    private creds = new Map<string, Promise<Credentials>>();
    private timer?: NodeJS.Timeout;
    private busy = false;
    // Made on first use, not when a suite is defined (all suites are defined before the first test runs).
    private dirMade?: string;
    private get dir(): string {
        return (this.dirMade ??= tmpDir("proxy-pods-"));
    }

    start(): void {
        // A list of a few pods is a millisecond in-process: a kubelet-like reaction within 0.1 s costs little.
        this.timer = setInterval(() => {
            this.tick().catch((e) => { this.events.push({ pod: "", actor: "kubelet stand-in", ok: false, message: `poll loop: ${(e as Error).message}` }); });
        }, 100);
    }

    async stop(): Promise<void> {
        clearInterval(this.timer);
        while (this.busy) await new Promise((r) => setTimeout(r, 50));
        for (const p of this.proxies.values()) p.kill("SIGKILL");
        this.proxies.clear();
    }

    /** Events of one pod, or of every pod whose name starts with the prefix. */
    of(prefix: string): StandInEvent[] {
        return this.events.filter((e) => e.pod.startsWith(prefix));
    }

    /** A fresh token each time the ServiceAccount changes rights is not needed: RBAC is checked per request. */
    private account(a: Account): Promise<Credentials> {
        const key = `${a.namespace}/${a.name}`;
        if (!this.creds.has(key)) this.creds.set(key, credentials(a, this.dir));
        return this.creds.get(key)!;
    }

    private async tick(): Promise<void> {
        if (this.busy) return;
        this.busy = true;
        try {
            let pods: any[];
            try {
                pods = await listObjects("pods", undefined, "tekton-dag.io/role in (mirrord-proxy,telepresence-intercept)");
            } catch {
                return; // as a kubelet retries: the next tick reads again
            }
            for (const pod of pods) {
                const key = `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`;
                if (pod.metadata.deletionTimestamp) {
                    this.terminate(pod, key);
                    continue;
                }
                if (this.seen.has(key) || !pod.spec.nodeName) continue; // not scheduled yet: no kubelet has it
                this.seen.add(key);
                if (pod.metadata.labels["tekton-dag.io/role"] === "mirrord-proxy") void this.mirrord(pod);
                else await this.telepresence(pod, key).catch((e) => this.notStarted(pod, e));
            }
        } finally {
            this.busy = false;
        }
    }

    /** The kubelet's part of a deletion: TERM to the container, removal of the pod once it has exited. */
    private terminate(pod: any, key: string): void {
        if (this.terminating.has(key)) return;
        this.terminating.add(key);
        // kubectl delete --grace-period 0 --force --ignore-not-found --wait=false, in-process: a failure is the
        // test's to see (the pod stays), as it was with kubectl.
        const remove = () => void adminRequest("DELETE", resourcePath("pods", pod.metadata.namespace, pod.metadata.name),
            { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0 }).catch(() => undefined);
        const child = this.proxies.get(key);
        if (child && child.exitCode === null && child.signalCode === null) {
            child.once("close", remove);
            child.kill("SIGTERM");
        } else {
            remove();
        }
        this.proxies.delete(key);
    }

    /**
     * A container the stand-in kubelet could not start (its ConfigMap or ServiceAccount gone: the run that made
     * the pod is being cleaned up): a kubelet would leave it waiting, so the status stays; the event says why.
     * Without this the error escaped the poll loop as an unhandled rejection, which mocha drops unseen: the
     * pod was never started and the test waiting on it only timed out, with no word of why.
     */
    private notStarted(pod: any, e: unknown): void {
        this.events.push({ pod: pod.metadata.name, actor: "kubelet stand-in", ok: false, message: `container not started: ${(e as Error).message}` });
    }

    /** Pod status as the kubelet would report it for the one container. */
    private setStatus(pod: any, ready: boolean, message = ""): void {
        const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const c = pod.spec.containers[0];
        const status = ready
            ? {
                phase: "Running", podIP: "10.245.0.1", startTime: now,
                conditions: ["Initialized", "ContainersReady", "Ready", "PodScheduled"].map((type) => ({ type, status: "True", lastTransitionTime: now })),
                containerStatuses: [{ name: c.name, image: c.image, imageID: "", ready: true, restartCount: 0, started: true, state: { running: { startedAt: now } } }],
            }
            : {
                phase: "Failed", startTime: now,
                conditions: [{ type: "Ready", status: "False", reason: "PodFailed", lastTransitionTime: now }],
                containerStatuses: [{ name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false,
                    state: { terminated: { exitCode: 1, reason: "Error", message: message.slice(0, 2000), startedAt: now, finishedAt: now } } }],
            };
        void adminRequest("PATCH", `${resourcePath("pods", pod.metadata.namespace, pod.metadata.name)}/status`, { status },
            { contentType: "application/merge-patch+json" }).catch(() => undefined);
    }

    private async mirrord(pod: any): Promise<void> {
        const ns = pod.metadata.namespace;
        const name = pod.metadata.name;
        const record = (ok: boolean, message: string) => {
            this.events.push({ pod: name, actor: "mirrord CLI stand-in", ok, message });
            // Ready once socat listens under mirrord; the CLI exiting on an error fails the pod.
            this.setStatus(pod, ok, `mirrord: ${message}`);
        };
        try {
            // The kubelet mounts the ConfigMap; the CLI reads /config/mirrord.json.
            const cm = pod.spec.volumes.find((v: any) => v.configMap)?.configMap.name;
            const config = JSON.parse((await adminOk("GET", resourcePath("configmaps", ns, cm))).data["mirrord.json"]);
            const sa = await this.account({ name: pod.spec.serviceAccountName, namespace: ns });
            const [kind, target] = config.target.path.split("/");
            if (kind !== "deployment") throw new Error(`unexpected target ${config.target.path}`);
            const dep = await asAccount(sa, `get deployment ${target}`, "GET", resourcePath("deployments.apps", config.target.namespace, target));
            if (dep.metadata.annotations?.["tekton-dag.test/mirrord-agent"] === "never-starts") {
                // mirrord waits for an agent that never comes: the proxy stays unready (startup_timeout is longer
                // than the tests wait).
                this.events.push({ pod: name, actor: "mirrord CLI stand-in", ok: false, message: "the agent never starts (test fixture)" });
                return;
            }
            const sel = Object.entries(dep.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(",");
            const targets = (await asAccount(sa, "get pods", "GET", resourcePath("pods", config.target.namespace) + query({ labelSelector: sel }))).items;
            const targetPod = targets.find((p: any) => p.status.phase === "Running" && !p.metadata.deletionTimestamp);
            if (!targetPod) throw new Error(`no running pod of deployment/${target}`);
            const agent = config.agent;
            const jobName = `mirrord-agent-${Math.random().toString(36).slice(2, 12)}`;
            const job = {
                apiVersion: "batch/v1", kind: "Job",
                metadata: { name: jobName, namespace: agent.namespace, labels: { app: "mirrord", ...agent.labels }, annotations: agent.annotations },
                spec: {
                    ttlSecondsAfterFinished: agent.ttl, backoffLimit: 0,
                    template: {
                        metadata: { labels: { app: "mirrord", ...agent.labels }, annotations: agent.annotations },
                        spec: {
                            nodeName: targetPod.spec.nodeName, hostPID: true, restartPolicy: "Never",
                            tolerations: [{ operator: "Exists" }],
                            containers: [{
                                name: "mirrord-agent", image: agent.image ?? "ghcr.io/metalbear-co/mirrord:3.250.0",
                                securityContext: { capabilities: { add: ["NET_ADMIN", "SYS_PTRACE", "SYS_ADMIN"] } },
                            }],
                        },
                    },
                },
            };
            await asAccount(sa, "create job", "POST", resourcePath("jobs.batch", agent.namespace), job);
            // The CLI waits for the agent pod, then connects through a port-forward.
            await asAccount(sa, "get pods", "GET", resourcePath("pods", agent.namespace) + query({ labelSelector: `job-name=${jobName}` }));
            for (const [verb, sub] of [["create", "portforward"], ["get", "log"]]) {
                // What `kubectl auth can-i VERB pods --subresource SUB` asks with the CLI's token.
                const review = await asAccount(sa, `can-i ${verb} pods/${sub}`, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
                    apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview",
                    spec: { resourceAttributes: { namespace: agent.namespace, verb, group: "", resource: "pods", subresource: sub } },
                });
                if (review.status?.allowed !== true) throw new Error(`Forbidden: ${verb} pods/${sub} in namespace ${agent.namespace} would be refused`);
            }
            record(true, `agent Job ${jobName} created`);
        } catch (e) {
            record(false, (e as Error).message);
        }
    }

    private async telepresence(pod: any, key: string): Promise<void> {
        const ns = pod.metadata.namespace;
        const name = pod.metadata.name;
        const cm = pod.spec.volumes.find((v: any) => v.configMap)?.configMap.name;
        const script = Object.values((await adminOk("GET", resourcePath("configmaps", ns, cm))).data)[0] as string;
        const dir = fs.mkdtempSync(path.join(this.dir, `${name}-`));
        fs.writeFileSync(path.join(dir, "proxy.sh"), script);
        const sa = await this.account({ name: pod.spec.serviceAccountName, namespace: ns });
        const podEnv = Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        const url = new URL(cluster().server);
        const child = spawn("bash", [path.join(dir, "proxy.sh")], {
            env: {
                ...podEnv, ...SHORT_LIVED_GO_ENV, PATH: `${STANDIN_BIN}:${cluster().bin}:/usr/bin:/bin`, HOME: dir,
                KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port,
                TP_KUBECONFIG: path.join(dir, "kubeconfig"), TP_READY_FILE: path.join(dir, "ready"), TP_STANDIN_KUBECONFIG: sa.kubeconfig,
            },
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
        });
        // A container ends with its main process: what it left running (the program's `sleep`, which would
        // hold the pipes open for up to 30 s more) goes with it.
        child.on("exit", () => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* all gone */ } });
        let out = "";
        child.stdout!.on("data", (d) => { out += d; });
        child.stderr!.on("data", (d) => {
            out += d;
            if (String(d).includes("intercept active")) {
                this.events.push({ pod: name, actor: "telepresence-proxy.sh", ok: true, message: "intercept active" });
                this.setStatus(pod, true); // the readiness probe finds the ready file
            }
        });
        child.on("close", (status, signal) => {
            if (status !== 0 || signal) {
                this.events.push({ pod: name, actor: "telepresence-proxy.sh", ok: false, message: `exit ${status ?? signal}: ${out.trim()}` });
                if (!this.terminating.has(key)) this.setStatus(pod, false, out.trim());
            } else this.events.push({ pod: name, actor: "telepresence-proxy.sh", ok: true, message: `ended on TERM: ${out.trim().split("\n").slice(-2).join(" ")}` });
        });
        this.proxies.set(key, child);
    }
}

/**
 * The setup most suites that run deploy scripts share, as mocha hooks of the calling describe (call it
 * before the suite's own hooks: mocha runs them in the order they were registered): the program's RBAC and
 * the staging apps installed, the proxy pods' stand-ins running; afterwards the stand-ins stopped and every
 * run-labelled object removed. `roles` holds the installed RBAC objects once the hook ran.
 */
export function deploySuite(): { proxies: ProxyPods; roles: any[] } {
    const suite = { proxies: new ProxyPods(), roles: [] as any[] };
    before(async () => {
        suite.roles = await installRbac();
        installApps();
        suite.proxies.start();
    });
    after(async () => {
        await suite.proxies.stop();
        await purgeRunObjects();
    });
    return suite;
}
