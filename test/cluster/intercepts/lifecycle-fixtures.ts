// Fixtures of the intercept lifecycle tests on the real API server (deploy-stack-intercepts, untrusted
// inputs, cleanup, result, sweeper): objects a run leaves behind, created as the admin with the labels the
// deploy scripts give them, PipelineRuns with the status the Tekton controller would write, and workspace
// files pinned as resolve-stack pins them.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { auditSince, eventsSince } from "../audit";
import {
    adminRequest, ADMIN_KUBECONFIG, apply, cluster, deleteSelected, getJson, installRbac, kubectl, kubectlOk, listObjects, PIPELINE_SA, PIPELINES_NS, purgeRunObjects, Run, RUN_KINDS, runObjects, ScriptRun, sleep, TARGET_NS, waitCan,
} from "../harness";
import { failure, resourcePath, splitResource } from "../kubeApi";

export const ok = (r: ScriptRun) => assert.equal(r.status, 0, `${r.script} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);

/** The run directory resolve-stack writes, relative to the shared workspace. */
export const runRel = (run: Run) => `.tekton-dag/runs/${run.id}`;

/** Writes a file into the run directory as resolve-stack does; returns its pinned reference (@path@sha256:...). */
export function pin(run: Run, name: string, text: string): string {
    fs.mkdirSync(path.join(run.ws, runRel(run)), { recursive: true });
    fs.writeFileSync(path.join(run.ws, runRel(run), name), text);
    return `@${runRel(run)}/${name}@sha256:${createHash("sha256").update(text).digest("hex")}`;
}

/**
 * Asserts that a script run created nothing: no object carries the run's label, and the audit log (which
 * records every create in the target namespace) shows no create with the script's token since `mark`.
 */
export function assertCreatedNothing(run: Run, r: ScriptRun, mark: number): void {
    assert.deepEqual([...runObjects(run.id).keys()], [], `objects labelled with run ${run.id}`);
    const creates = auditSince(mark).filter((e) => e.verb === "create" && e.tokenId === r.tokenId);
    assert.deepEqual(creates.map((e) => `${e.resource}/${e.name}`), [], "creates made with the script's token");
}

/** An RFC 3339 time (UTC, whole seconds, as metav1.Time writes it) this many seconds ago. */
export const iso = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, "Z");

export interface Made { kind: string; name: string; namespace: string; uid: string; run: string; created: number }

function labels(run: string, role: string, app = "demo-fe"): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "tekton-dag", "app.kubernetes.io/managed-by": "tekton-dag-pipeline",
        "tekton-dag.io/run": run, "tekton-dag.io/app": app, "tekton-dag.io/role": role,
    };
}

/** Creates objects as the admin; returns what the API server stored (kind, name, uid, run label). */
export function createAll(objects: any[]): Made[] {
    // With several objects kubectl prints one JSON document after another; a jsonpath line each is simpler.
    const fields = ["{.kind}", "{.metadata.name}", "{.metadata.namespace}", "{.metadata.uid}", "{.metadata.labels.tekton-dag\\.io/run}", "{.metadata.creationTimestamp}"].join("{\"\\t\"}");
    const out = kubectlOk(["create", "-f", "-", "-o", `jsonpath=${fields}{"\\n"}`], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
    return out.split("\n").filter(Boolean).map((line) => {
        const [kind, name, namespace, uid, run, created] = line.split("\t");
        return { kind, name, namespace, uid, run, created: Date.parse(created) / 1000 };
    });
}

/** A pod no kubelet takes: its nodeSelector matches no node, so it stays Pending and unbound (deleted at once). */
function pendingPod(name: string, ns: string, lbls: Record<string, string>): any {
    return {
        apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels: lbls },
        spec: { nodeSelector: { "tekton-dag.test/no-such-node": "true" }, containers: [{ name: "c", image: "registry.local/standin:1" }] },
    };
}

/**
 * What a run leaves in a namespace when its cleanup has not run: a mirrord and a Telepresence proxy pod
 * (never scheduled: no kubelet plays them here), a PR pod (kwok runs it), a mirrord agent Job whose pod
 * the Job controller creates, a ConfigMap and the app's Lease. Names carry `tag` so runs do not collide.
 */
export function runLeftovers(run: string, ns: string, tag: string, app = "demo-fe"): Made[] {
    const short = run.slice(0, 8);
    return createAll([
        pendingPod(`mirrord-${tag}-${short}`, ns, labels(run, "mirrord-proxy", app)),
        pendingPod(`tp-${tag}-${short}`, ns, labels(run, "telepresence-intercept", app)),
        {
            apiVersion: "v1", kind: "Pod", metadata: { name: `pr-${tag}-${short}`, namespace: ns, labels: labels(run, "pr-pod", app) },
            spec: { containers: [{ name: "web", image: "registry.local:5000/pr/demo-fe@sha256:" + "a1".repeat(32) }] },
        },
        {
            apiVersion: "batch/v1", kind: "Job",
            metadata: { name: `mirrord-agent-${tag}-${short}`, namespace: ns, labels: { app: "mirrord", ...labels(run, "mirrord-agent", app) } },
            spec: {
                backoffLimit: 0,
                template: {
                    metadata: { labels: { app: "mirrord", ...labels(run, "mirrord-agent", app) } },
                    spec: { restartPolicy: "Never", containers: [{ name: "mirrord-agent", image: "ghcr.io/metalbear-co/mirrord:3.250.0" }] },
                },
            },
        },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `mirrord-${tag}-${short}`, namespace: ns, labels: labels(run, "mirrord-config", app) }, data: { "mirrord.json": "{}" } },
        {
            apiVersion: "coordination.k8s.io/v1", kind: "Lease",
            metadata: { name: `tekton-dag-intercept-${tag}-${short}`, namespace: ns, labels: labels(run, "intercept-lease", app) },
            spec: { holderIdentity: run },
        },
    ]);
}

/** A pod of the run that no kubelet takes (see pendingPod). */
export function runPod(run: string, name: string, ns = TARGET_NS): Made {
    return createAll([pendingPod(name, ns, labels(run, "pr-pod"))])[0];
}

/** A Lease of the run. */
export function runLease(run: string, name: string, ns = TARGET_NS): Made {
    return createAll([{ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: ns, labels: labels(run, "intercept-lease") }, spec: { holderIdentity: run } }])[0];
}

/** One small ConfigMap of a run (what the sweeper tests age and count). */
export function runConfigMap(run: string, name: string, ns = TARGET_NS, data: Record<string, string> = { k: "v" }): Made {
    return createAll([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, labels: labels(run, "mirrord-config") }, data }])[0];
}

/** Many ConfigMaps of a run in one request (prefix-0, prefix-1, ...). */
export function runConfigMaps(run: string, count: number, prefix: string, data: Record<string, string>, ns = TARGET_NS): Made[] {
    return createAll(Array.from({ length: count }, (_, i) => ({
        apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${prefix}-${i}`, namespace: ns, labels: labels(run, "mirrord-config") }, data,
    })));
}

/** Pods of a Job carry its name in job-name; the run's agent pods are what the Job controller made. */
export function jobPods(job: Made): any[] {
    return getJson(["get", "pods", "-n", job.namespace, "-l", `job-name=${job.name}`]).items;
}

/** Waits until the Job controller has made the Job's pod (so a foreground delete has something to wait for). */
export async function waitJobPod(job: Made): Promise<void> {
    for (let i = 0; i < 600 && (await listObjects("pods", job.namespace, `job-name=${job.name}`)).length === 0; i++) await sleep(100);
    assert.ok(jobPods(job).length > 0, `the Job controller made no pod for ${job.name}`);
}

const RESOURCE: Record<string, string> = { Pod: "pods", Job: "jobs.batch", ConfigMap: "configmaps", Lease: "leases.coordination.k8s.io" };

/** Which of the objects still exist (same uid) in the API server: one list per kind and namespace. */
export function remaining(made: Made[]): Made[] {
    const present = new Map<string, Set<string>>();
    for (const key of new Set(made.map((m) => `${RESOURCE[m.kind]} ${m.namespace}`))) {
        const [resource, namespace] = key.split(" ");
        const list = getJson(["get", resource, "-n", namespace]);
        present.set(key, new Set(list.items.map((o: any) => o.metadata.uid)));
    }
    return made.filter((m) => present.get(`${RESOURCE[m.kind]} ${m.namespace}`)!.has(m.uid));
}

/** The run ids among the objects that are gone. */
export function goneRuns(made: Made[]): string[] {
    const left = new Set(remaining(made).map((m) => m.uid));
    return [...new Set(made.filter((m) => !left.has(m.uid)).map((m) => m.run))].sort();
}

/** A finalizer nothing but the test removes: it holds an object being deleted, as a container slow to stop would. */
export const HOLD = "tekton-dag.test/hold";

/**
 * Lets the held object go (removes HOLD) once the script's `kubectl delete --wait` has asked to watch it, as
 * the audit log shows (allowed or refused; the pipeline's requests are logged): kubectl then meets the object
 * still there and must watch it, however slow the machine. If the script ends without that watch, the object
 * is let go then (the test's own assertions tell what went wrong).
 */
export async function releaseWhenWatched(resource: string, obj: { name: string; namespace: string }, since: number, script: Promise<ScriptRun>): Promise<void> {
    const user = `system:serviceaccount:${PIPELINE_SA.namespace}:${PIPELINE_SA.name}`;
    const plural = splitResource(resource).resource;
    let ended = false;
    script.then(() => { ended = true; }, () => { ended = true; });
    const watched = () => eventsSince(since).some((e) => e.user?.username === user && e.verb === "watch"
        && e.objectRef?.resource === plural && e.objectRef?.namespace === obj.namespace && (e.objectRef?.name ?? obj.name) === obj.name);
    while (!ended && !watched()) await sleep(100);
    // The garbage collector changes the finalizers of a foreground deletion meanwhile (it removes
    // foregroundDeletion once the dependents are gone): the patch applies only to the list as read (its test
    // op), and is made again on a newer read if the list moved.
    const path = resourcePath(resource, obj.namespace, obj.name);
    for (;;) {
        const stored = await adminRequest("GET", path);
        if (stored.status === 404) return;
        const finalizers: string[] = stored.body?.metadata?.finalizers ?? [];
        if (!finalizers.includes(HOLD)) return;
        const r = await adminRequest("PATCH", path, [
            { op: "test", path: "/metadata/finalizers", value: finalizers },
            { op: "replace", path: "/metadata/finalizers", value: finalizers.filter((f) => f !== HOLD) },
        ], { contentType: "application/json-patch+json" });
        if (r.status < 300 || r.status === 404) return;
        if (r.status !== 409 && r.status !== 422) throw failure("PATCH", path, r);
    }
}

// ---- PipelineRuns as the Tekton controller would leave them (no controller runs here) ----------------

export type RunStatus =
    | { state: "running" }
    | { state: "finished"; succeeded: "True" | "False" | "Unknown"; reason: string; secondsAgo: number; completionTime?: string };

/** A PipelineRun in the pipelines namespace with the given status; returns its uid (the run id). */
export function pipelineRun(status: RunStatus): string {
    const name = `sweep-${randomUUID().slice(0, 8)}`;
    const pr = JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name, namespace: PIPELINES_NS },
        spec: { pipelineRef: { name: "stack-pr-test" } },
    })));
    const st = status.state === "running"
        ? { conditions: [{ type: "Succeeded", status: "Unknown", reason: "Running", lastTransitionTime: iso(0) }] }
        : {
            completionTime: status.completionTime ?? iso(status.secondsAgo),
            conditions: [{ type: "Succeeded", status: status.succeeded, reason: status.reason, lastTransitionTime: iso(status.secondsAgo) }],
        };
    kubectlOk(["patch", "pipelinerun", name, "-n", PIPELINES_NS, "--subresource", "status", "--type", "merge", "-p", JSON.stringify({ status: st })]);
    return pr.metadata.uid;
}

/** kubectl as the admin without blocking the event loop (for objects created while a script runs). */
export function kubectlAsync(args: string[], input = ""): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(path.join(cluster().bin, "kubectl"), ["--kubeconfig", ADMIN_KUBECONFIG, ...args], { stdio: ["pipe", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { err += d; });
        child.on("close", (code) => code === 0 ? resolve(out) : reject(new Error(`kubectl ${args.join(" ")}: ${err}`)));
        // kubectl exiting before it read its input (an early refusal) is reported by its exit code above;
        // the write's EPIPE must not crash the mocha process.
        child.stdin.on("error", () => undefined);
        child.stdin.end(input);
    });
}

/**
 * A new run as it looks right after Tekton accepted it (no status yet), then one ConfigMap of it: the
 * order in which a real run's objects come to exist. Resolves to the ConfigMap.
 */
export async function newRunWithObject(name: string, ns: string): Promise<Made> {
    const pr = JSON.parse(await kubectlAsync(["create", "-f", "-", "-o", "json"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { generateName: "race-", namespace: PIPELINES_NS },
        spec: { pipelineRef: { name: "stack-pr-test" } },
    })));
    const run = pr.metadata.uid;
    const cm = JSON.parse(await kubectlAsync(["create", "-f", "-", "-o", "json"], JSON.stringify({
        apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, labels: labels(run, "mirrord-config") }, data: { k: "v" },
    })));
    return { kind: "ConfigMap", name, namespace: ns, uid: cm.metadata.uid, run, created: Date.parse(cm.metadata.creationTimestamp) / 1000 };
}

/** Many PipelineRuns in one request (the sweeper's large-list case). */
export function manyPipelineRuns(n: number, annotations: Record<string, string>): void {
    const items = Array.from({ length: n }, (_, i) => ({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: { name: `bulk-${i}-${randomUUID().slice(0, 6)}`, namespace: PIPELINES_NS, annotations },
        spec: { pipelineRef: { name: "stack-pr-test" } },
    }));
    kubectlOk(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

// ---- a second target namespace ------------------------------------------------------------------------

/** A second target namespace, with the pipeline's Role and RoleBinding of the first copied into it. */
export const OTHER_NS = "tekton-dag-test-second";

/** Installs the program's RBAC and the second namespace; returns the pipeline's Role in the first. */
export async function installSecondNamespace(): Promise<any> {
    const rbac = await installRbac();
    const role = rbac.find((o) => o.kind === "Role" && o.metadata.namespace === TARGET_NS && o.metadata.name === PIPELINE_SA.name);
    const binding = rbac.find((o) => o.kind === "RoleBinding" && o.metadata.namespace === TARGET_NS && o.roleRef.name === PIPELINE_SA.name);
    assert.ok(role && binding, "the kind stack renders the pipeline's Role and RoleBinding in the target namespace");
    const copy = (o: any) => ({ ...structuredClone(o), metadata: { name: o.metadata.name, namespace: OTHER_NS, labels: o.metadata.labels } });
    // One an earlier file or run deleted may still be terminating.
    kubectl(["wait", "--for=delete", `namespace/${OTHER_NS}`, "--timeout=180s"]);
    apply([{ apiVersion: "v1", kind: "Namespace", metadata: { name: OTHER_NS } }]);
    apply([copy(role), copy(binding)]);
    await waitCan(PIPELINE_SA, "delete", "leases.coordination.k8s.io", OTHER_NS, true);
    return role;
}

/** Removes every run-labelled object of the second namespace (between tests). */
export function purgeSecondNamespace(): Promise<void> {
    return deleteSelected(RUN_KINDS, OTHER_NS, "tekton-dag.io/run", { force: true, wait: true });
}

/** Deletes the second namespace and waits until it is gone: a file leaves no namespace behind. */
export async function removeSecondNamespace(): Promise<void> {
    await purgeSecondNamespace();
    kubectl(["delete", "namespace", OTHER_NS, "--wait=true", "--timeout=180s"]);
}

/**
 * The hooks of a suite that uses both target namespaces (call inside its describe): installs them first,
 * clears every run-labelled object of both after each test, and removes the second namespace at the end.
 * `pipelineRole` is the pipeline's Role in the first namespace once the first hook ran.
 */
export function twoNamespaceSuite(): { pipelineRole: any } {
    const suite = { pipelineRole: undefined as any };
    before(async () => { suite.pipelineRole = await installSecondNamespace(); });
    after(async () => {
        await purgeRunObjects();
        await removeSecondNamespace();
    });
    afterEach(async () => {
        await purgeRunObjects();
        await purgeSecondNamespace();
    });
    return suite;
}
