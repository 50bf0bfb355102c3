// The apps the PR-pod and mirrord deploy tests intercept, as real Deployments in the target namespace, and
// what those tests read back from the API server. Each test file names its own Deployments (a prefix per
// file), so it can shape their pod templates freely and delete them afterwards without touching the shared
// demo-* apps of test/cluster/harness.ts.
import * as assert from "node:assert/strict";
import { auditMark, auditSince } from "../audit";
import { adminOk, apply, deployEnv, getJson, kubectl, kubectlOk, listObjects, Run, ScriptRun, sleep, TARGET_NS } from "../harness";
import { resourcePath } from "../kubeApi";

export interface AppSpec {
    name: string;
    containerPort: number;
    /** The stack's readinessPath ("" = a TCP probe on containerPort). */
    readinessPath?: string;
}

/** A stack graph over these apps, all in the target namespace, every one a build app. */
export function stackOf(apps: AppSpec[]): any {
    const names = apps.map((a) => a.name);
    return {
        name: "cluster-test", headerName: "x-dev-session", interceptHeaderValue: "x-dev-session: pr-42",
        entryApp: names[0], order: names, propagationChain: names, buildApps: names,
        apps: Object.fromEntries(apps.map((a) => [a.name, {
            name: a.name, namespace: TARGET_NS, containerPort: a.containerPort, servicePort: 80, readinessPath: a.readinessPath ?? "",
        }])),
    };
}

/** The deploy tasks' environment for a run over these apps (harness deployEnv with this stack). */
export function envOf(run: Run, apps: AppSpec[], extra: Record<string, string> = {}): Record<string, string> {
    return deployEnv(run, apps.map((a) => a.name), { STACK_JSON: JSON.stringify(stackOf(apps)), ...extra });
}

/** The image containerize reported for the app in this environment. */
export function builtImage(env: Record<string, string>, app: string): string {
    return JSON.parse(env.BUILT_IMAGES)[app];
}

/** A one-replica Deployment whose pods (label app=<name>) run on the simulated node. */
export function simpleDeployment(name: string, containerPort: number, edit: (spec: any, dep: any) => void = () => undefined): any {
    const labels = { app: name };
    const dep = {
        apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: TARGET_NS, labels },
        spec: {
            replicas: 1, selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: { containers: [{ name: "web", image: `registry.local/${name}:1.0`, ports: [{ containerPort }], env: [{ name: "APP", value: name }] }] },
            },
        },
    };
    edit(dep.spec.template.spec, dep);
    return dep;
}

/**
 * Creates (or replaces) Deployments as the admin. With `ready`, waits until each has its replicas: the
 * mirrord CLI stand-in steals from a Running pod of the target, as the real CLI does.
 */
export function putDeployments(deps: any[], ready = true): void {
    // Foreground: the old pods go first, so a new template's host ports are free on the one node.
    for (const d of deps) kubectl(["delete", "deployment", d.metadata.name, "-n", TARGET_NS, "--ignore-not-found", "--cascade=foreground", "--wait=true"]);
    apply(deps);
    if (ready) kubectlOk(["rollout", "status", "-n", TARGET_NS, "--timeout", "60s", ...deps.map((d) => `deployment/${d.metadata.name}`)]);
}

/** Removes the named objects as the admin and waits until they are gone (kind/name, e.g. "deployment/pp-fe"). */
export function remove(refs: string[], namespace: string | undefined = TARGET_NS): void {
    if (refs.length === 0) return;
    kubectl(["delete", ...refs, ...(namespace ? ["-n", namespace] : []), "--ignore-not-found", "--wait=true"]);
}

/** The Deployment as the API server stores it (defaults filled in). */
export function storedDeployment(name: string): any {
    return getJson(["get", "deployment", name, "-n", TARGET_NS]);
}

/** This run's objects of one kind, as stored, optionally of one app and role. */
export function stored(run: Run, kind: string, app?: string, role?: string): any[] {
    return getJson(["get", kind, "-n", TARGET_NS, "-l", selectorOf(run, app, role)]).items;
}

/** The label selector of a run's objects, optionally of one app and role. */
function selectorOf(run: Run, app?: string, role?: string): string {
    return [`tekton-dag.io/run=${run.id}`, app && `tekton-dag.io/app=${app}`, role && `tekton-dag.io/role=${role}`].filter(Boolean).join(",");
}

export function one(run: Run, kind: string, app: string, role: string): any {
    const items = stored(run, kind, app, role);
    assert.equal(items.length, 1, `one ${kind} of ${app} with role ${role}: found ${items.map((o) => o.metadata.name).join(", ") || "none"}`);
    return items[0];
}

/**
 * What the API server and its admission plugins add to every pod, not to a pod template: the node, the
 * ServiceAccount token volume and its mounts, the default not-ready/unreachable tolerations, priority 0,
 * enableServiceLinks and the default ServiceAccount. Removed from both sides of a comparison.
 */
export function withoutPodDefaults(spec: any): any {
    const s = structuredClone(spec);
    delete s.nodeName;
    const token = (name: string) => name.startsWith("kube-api-access-");
    s.volumes = (s.volumes ?? []).filter((v: any) => !token(v.name));
    if (s.volumes.length === 0) delete s.volumes;
    for (const c of [...(s.containers ?? []), ...(s.initContainers ?? [])]) {
        c.volumeMounts = (c.volumeMounts ?? []).filter((m: any) => !token(m.name));
        if (c.volumeMounts.length === 0) delete c.volumeMounts;
    }
    const defaultToleration = (t: any) => t.effect === "NoExecute" && t.operator === "Exists" && t.tolerationSeconds === 300
        && ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"].includes(t.key);
    s.tolerations = (s.tolerations ?? []).filter((t: any) => !defaultToleration(t));
    if (s.tolerations.length === 0) delete s.tolerations;
    if (s.enableServiceLinks === true) delete s.enableServiceLinks;
    if (s.priority === 0 && s.preemptionPolicy === "PreemptLowerPriority" && !s.priorityClassName) {
        delete s.priority;
        delete s.preemptionPolicy;
    }
    if (s.serviceAccountName === "default") {
        delete s.serviceAccountName;
        delete s.serviceAccount;
    }
    return s;
}

/** A mark in the audit log, to tell afterwards what one script run created or deleted. */
export const mark = auditMark;

/** The create/delete requests this script run made (its token), in order. */
export function writesOf(r: ScriptRun, since: number): { verb: string; resource: string; name: string; run?: string }[] {
    return auditSince(since).filter((e) => e.tokenId === r.tokenId && ["create", "delete", "deletecollection"].includes(e.verb));
}

/**
 * A refusal before anything is created: the script failed, the API server holds no object of the run, and
 * the audit log shows no create or delete by the script's token (reads are not logged).
 */
export function assertNothingCreated(r: ScriptRun, run: Run, since: number): void {
    assert.notEqual(r.status, 0, `${r.script} should have failed:\n${r.stderr}`);
    for (const kind of ["pods", "configmaps", "jobs.batch", "leases.coordination.k8s.io"]) {
        assert.deepEqual(stored(run, kind).map((o) => o.metadata.name), [], `no ${kind} of the run`);
    }
    assert.deepEqual(writesOf(r, since), [], "no create or delete request by the script");
}

/**
 * Plays the kubelet for one pod kwok leaves alone (it is not scheduled: its nodeSelector matches no node):
 * waits until the run's pod of the app appears, then reports the container states given. Image pulls cannot
 * happen here (no container runtime), so this is how a pull that fails is shown to the script.
 * The wait has no deadline of its own (how long the script takes to get there depends on the machine's
 * load): it ends with the pod, or with an error when the script ends without having created it.
 */
export async function reportStatus(run: Run, app: string, role: string, status: any, script: Promise<ScriptRun>): Promise<string> {
    let ended: ScriptRun | undefined;
    script.then((r) => { ended = r; }, () => undefined);
    for (;;) {
        // Read before looking at `ended`: a pod created just before the script ended is still found.
        const finished = ended;
        const pods = await listObjects("pods", TARGET_NS, selectorOf(run, app, role));
        if (pods.length > 0) {
            const name = pods[0].metadata.name;
            await adminOk("PATCH", `${resourcePath("pods", TARGET_NS, name)}/status`, { status }, { contentType: "application/merge-patch+json" });
            return name;
        }
        if (finished) throw new Error(`${finished.script} ended (status ${finished.status}) before a ${role} pod of ${app} for run ${run.id} appeared:\n${finished.stderr}`);
        await sleep(100);
    }
}

/** A node selector no node matches: the scheduler keeps such a pod Pending, so it never becomes Ready. */
export const NO_NODE = { "tekton-dag.test/node": "none" };

/** Pods of the target namespace the label selector selects, as stored. */
export function getPods(selector: string): any[] {
    return getJson(["get", "pods", "-n", TARGET_NS, "-l", selector]).items;
}
