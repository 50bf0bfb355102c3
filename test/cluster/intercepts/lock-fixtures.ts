// What the intercept lock's tests share: runs whose PipelineRun exists (so the sweeper keeps them), the deploy
// of either backend with its own header, the lock's records as stored, and every state the lock was written
// in, read back from the API server's audit log (scripts/cluster.sh logs lock updates with their bodies).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { randomUUID } from "node:crypto";
import {
    adminRequest, AUDIT_LOG, cleanupEnv, deployEnv, kubectl, kubectlOk, PIPELINE_SA, PIPELINES_NS, Run, RunOptions, runScriptAs, ScriptRun, sleep, sweepEnv, TARGET_NS,
} from "../harness";
import { failure, resourcePath } from "../kubeApi";
import { ok } from "./lifecycle-fixtures";
import { tmpDir } from "../../support/tmpDir";

export type Backend = "telepresence" | "mirrord";
const SCRIPT: Record<Backend, string> = { telepresence: "deploy-stack-intercepts.sh", mirrord: "deploy-intercept-mirrord.sh" };

export const lockName = (app: string) => `tekton-dag-intercept-${app}`;

export interface LockRecord { run: string; pipelineRun: string; header: string; backend: string; mode: string; state: string; since: number }

/** A run as Tekton starts it: its PipelineRun (of the run's name) exists and is running, so the sweeper leaves it alone. */
export function liveRun(label: string): Run {
    const name = `${label}-${randomUUID().slice(0, 8)}`;
    const pr = JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name, namespace: PIPELINES_NS }, spec: { pipelineRef: { name: "stack-pr-test" } },
    })));
    const status = { conditions: [{ type: "Succeeded", status: "Unknown", reason: "Running", lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") }] };
    kubectlOk(["patch", "pipelinerun", name, "-n", PIPELINES_NS, "--subresource", "status", "--type", "merge", "-p", JSON.stringify({ status })]);
    return { id: pr.metadata.uid, name, ws: tmpDir("ws-") };
}

/** The run's PipelineRun deleted, as after a cancelled run was removed: the sweeper then removes what it left. */
export function runGone(run: Run): void {
    kubectlOk(["delete", "pipelinerun", run.name, "-n", PIPELINES_NS, "--wait=true"]);
}

/** The deploy of `backend` for the run on the apps, with header `x-dev-session: <header>`. */
export function deployAs(run: Run, backend: Backend, header: string, apps: string[], opts: RunOptions = {}, extra: Record<string, string> = {}): Promise<ScriptRun> {
    const env = deployEnv(run, apps, { INTERCEPT_HEADER_VALUE: `x-dev-session: ${header}`, LEASE_WAIT_SECONDS: "300", ...extra });
    return runScriptAs(SCRIPT[backend], env, PIPELINE_SA, { timeoutMs: 420_000, ...opts });
}

export const cleanup = (run: Run, opts: RunOptions = {}) => runScriptAs("cleanup-stack-intercepts.sh", cleanupEnv(run), PIPELINE_SA, opts);
export const sweep = () => runScriptAs("sweep-orphans.sh", sweepEnv(), PIPELINE_SA);

export async function cleanedUp(run: Run): Promise<void> {
    ok(await cleanup(run));
}

const recordsOf = (lease: any): LockRecord[] => JSON.parse(lease.metadata.annotations?.["tekton-dag.io/holders"] ?? "[]");

/** The records of the app's lock as stored now (none when it does not exist). */
export function lockRecords(app: string): LockRecord[] {
    const r = kubectl(["get", "lease", lockName(app), "-n", TARGET_NS, "-o", "json"]);
    if (r.status !== 0) return [];
    return recordsOf(JSON.parse(r.stdout));
}

/** The same, read in-process: for polls, where a kubectl process per read would cost more CPU than the wait. */
async function lockRecordsPolled(app: string): Promise<LockRecord[]> {
    const path = resourcePath("leases.coordination.k8s.io", TARGET_NS, lockName(app));
    const r = await adminRequest("GET", path);
    if (r.status === 404) return [];
    if (r.status >= 300) throw failure("GET", path, r);
    return recordsOf(r.body);
}

export const holding = (app: string) => lockRecords(app).filter((r) => r.state === "holding").map((r) => r.run);

/** Waits until the condition on API objects holds (polls them; the limit only turns a hang into a failure). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
        await sleep(200);
    }
}

/** Waits until the run is queued as a waiter of the app's lock. */
export const queued = (run: Run, app: string) =>
    until(`run ${run.name} queued on ${lockName(app)}`, async () => (await lockRecordsPolled(app)).some((r) => r.run === run.id && r.state === "waiting"));

/** A deploy started now, with the lines it logged while waiting for a lock. */
export function deployWatched(run: Run, backend: Backend, header: string, apps: string[], extra: Record<string, string> = {}) {
    const waits: string[] = [];
    const done = deployAs(run, backend, header, apps, { onLine: (l) => { if (/waiting for lease/.test(l)) waits.push(l); } }, extra);
    return { waits, done };
}

/** Every state the app's lock was written in (created or replaced, successfully) since the audit mark. */
export function lockStates(since: number, app: string): LockRecord[][] {
    const text = fs.readFileSync(AUDIT_LOG).subarray(since).toString("utf8");
    return text.split("\n").filter(Boolean).map((l) => JSON.parse(l))
        .filter((e) => e.stage === "ResponseComplete" && (e.verb === "create" || e.verb === "update")
            && e.objectRef?.resource === "leases" && e.objectRef?.namespace === TARGET_NS
            && (e.objectRef?.name ?? e.requestObject?.metadata?.name) === lockName(app) && (e.responseStatus?.code ?? 500) < 300)
        .map((e) => JSON.parse(e.requestObject?.metadata?.annotations?.["tekton-dag.io/holders"] ?? "[]"));
}

/**
 * The lock's promise, checked on every state it was in: the holders are pairwise compatible (all shared, no two
 * with one header), so a mirrord run always held alone. Returns how many states held more than one run.
 */
export function assertHoldersCompatible(states: LockRecord[][]): number {
    let shared = 0;
    for (const state of states) {
        const holders = state.filter((r) => r.state === "holding");
        if (holders.length > 1) shared++;
        for (const h of holders) {
            if (holders.length > 1) assert.equal(h.mode, "shared", `an exclusive holder with others: ${JSON.stringify(holders)}`);
        }
        const headers = holders.map((h) => h.header);
        assert.equal(new Set(headers).size, headers.length, `two holders with one header: ${JSON.stringify(holders)}`);
    }
    return shared;
}
