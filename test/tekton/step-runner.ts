// The container runtime of Tekton's TaskRun pods, played by the test (kwok runs no container). kwok makes a
// pod Running; this watcher then ends its step containers the way Tekton's entrypoint would: each step
// terminated with an exit code and a termination message in Tekton's format (pkg/termination, pkg/result):
// [{"key":"StartedAt","value":T,"type":3}, {"key":<result>,"value":V,"type":1}, ...]; steps after a failed
// one end Skipped (exit 1, {"key":"Reason","value":"Skipped","type":3}). Tekton's controller then reconciles
// exactly as after real steps.
//
// What each step does is the test's choice, per pipeline task:
//  - an outcome (exit code, results, files it leaves in the workspace): nothing runs; the test name says the
//    step is simulated;
//  - "real": the step's own command (a script from the pod's scripts ConfigMap) runs as a local process with
//    the container's env, a token of the pod's ServiceAccount bound to the pod (none when the pod mounts no
//    token), the pod's volumes as directories (a PVC workspace is its PersistentVolume's hostPath) and the
//    results it writes reported back as above. CLIs that cannot run here (mirrord, telepresence, git, curl,
//    newman) are the recorded stand-ins of test/cluster/standins/recorded when the plan gives their rules.
// Either may wait on a gate: the pod stays Running (its steps running) until the test opens it; other pods
// go on meanwhile.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { adminOk, adminRequest, cluster, credentials, kubectlOk, listObjects, Rule, SHORT_LIVED_GO_ENV } from "../cluster/harness";
import { resourcePath } from "../cluster/kubeApi";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

/** What a plan can know of the run a pod belongs to. */
export interface StepContext {
    /** The stored PipelineRun. */
    pipelineRun: any;
    /** Its uid: what the pipelines pass as run-id. */
    runId: string;
    /** A param of the run: its value in the PipelineRun, else the Pipeline's default. */
    param(name: string): string;
    /** The results an earlier TaskRun of the run reported, by pipeline task. */
    resultsOf(pipelineTask: string): Record<string, string>;
}

type Derived<T> = T | ((ctx: StepContext) => T);
export type Gate = (ctx: StepContext) => Promise<void>;

export interface Outcome {
    exitCode?: number;
    results?: Derived<Record<string, string>>;
    /** Files the simulated step leaves in the shared workspace (path relative to it -> text). */
    files?: Derived<Record<string, string>>;
    /** Called when the pod is Running: its steps stay running until the promise it returns settles. */
    gate?: Gate;
}
/**
 * The step's own command runs. `env` overrides container env: only for what cannot be reached from here
 * (e.g. GITHUB_API_URL pointed at a local HTTP server playing GitHub); the test name says so.
 */
export interface Real {
    real: true;
    env?: Record<string, string>;
    /** Answers of the recorded stand-ins (mirrord, telepresence, git, curl, newman), put first on PATH. */
    recorded?: Rule[];
    /** Directories put before the cluster's bin on PATH (e.g. the yq the Task's image has). */
    path?: string[];
    gate?: Gate;
}
export type StepPlan = Outcome | Real;

/** What each pipeline task's pod does: by pipeline task name; `default` for the rest. */
export interface RunPlan { tasks: Record<string, StepPlan>; default?: StepPlan }

export interface EndedPod {
    pod: string; task: string; pipelineRun: string; serviceAccount: string;
    /** The pod has the API token volume the ServiceAccount admission adds (kube-api-access-*). */
    tokenVolume: boolean;
    failed: boolean;
    /** The pipeline tasks whose TaskRuns existed when this pod's steps ended. */
    tasksExisting: string[];
}

export interface RealStep {
    /** pipelineRun is undefined for a TaskRun of its own (the ones the EventListener starts); taskRun is always set. */
    pod: string; task: string; pipelineRun: string; taskRun: string; step: string; exitCode: number; stdout: string; stderr: string;
    results: Record<string, string>; serviceAccount: string; hadToken: boolean;
    /** The id (jti) of the pod's token: the audit log names it as the credential of the step's requests. */
    tokenId?: string;
}

interface Container { name: string; image?: string; command?: string[]; args?: string[]; env?: any[]; workingDir?: string; volumeMounts?: any[] }

const RECORDED_BIN = path.join(REPO, "test", "cluster", "standins", "recorded");
/** Where Tekton mounts a Task's workspace `shared-workspace` in its steps. */
const WORKSPACE_MOUNT = "/workspace/shared-workspace";

const TYPE_TASK_RESULT = 1;
const TYPE_INTERNAL = 3;

/** The command Tekton's entrypoint would exec: `-entrypoint X ... -- args` in the rewritten container. */
export function entrypointCommand(c: Container): string[] {
    const args = c.args ?? [];
    const ep = args.indexOf("-entrypoint");
    const dd = args.indexOf("--");
    if (ep < 0 || dd < 0) throw new Error(`container ${c.name} was not rewritten by Tekton (no -entrypoint ... --): ${JSON.stringify(c.args)}`);
    return [args[ep + 1], ...args.slice(dd + 1)];
}

export class StepRunner {
    /** Every pod whose steps this runner ended, in order: the pod name and its pipeline task. */
    readonly ended: EndedPod[] = [];
    readonly realSteps: RealStep[] = [];
    private plans = new Map<string, RunPlan>();
    /** The plan of runs the test did not name (e.g. those a webhook created); none: their pods wait. */
    defaultPlan?: RunPlan;
    private handled = new Set<string>();
    /** The status each ended pod was given: re-applied if kwok's pod-ready play overwrites it (a race at creation). */
    private endedStatus = new Map<string, { name: string; statuses: any[] }>();
    private timer?: NodeJS.Timeout;
    private busy = false;
    /** Pods whose steps are being ended (a gated one may take long): stop() waits for them. */
    private inFlight = new Set<Promise<void>>();
    private stopped = false;
    private work = tmpDir("step-runner-");
    errors: string[] = [];
    private onError = new Set<(e: Error) => void>();

    private fail(message: string): void {
        this.errors.push(message);
        for (const reject of this.onError) reject(new Error(`the step runner failed: ${message}`));
    }

    /**
     * Resolves as `p` does, or rejects with the runner's first error: a test waiting for a step the runner could
     * not end (a gate it never reached) fails at once, naming why, instead of waiting out its timeout.
     */
    orFailure<T>(p: Promise<T>): Promise<T> {
        if (this.errors.length) return Promise.reject(new Error(`the step runner failed: ${this.errors.join("; ")}`));
        let reject!: (e: Error) => void;
        const failed = new Promise<never>((_, r) => { reject = r; });
        this.onError.add(reject);
        return Promise.race([p, failed]).finally(() => this.onError.delete(reject));
    }

    constructor(private readonly namespace: string) {}

    /** The plan for the pods of PipelineRun `name` (set before or while it runs). */
    plan(pipelineRun: string, plan: RunPlan): void {
        this.plans.set(pipelineRun, plan);
    }

    private planOf(pipelineRun: string): RunPlan | undefined {
        return this.plans.get(pipelineRun) ?? this.defaultPlan;
    }

    start(): void {
        // An error of the loop itself goes to errors (waitDone and orFailure report them): as an unhandled
        // rejection mocha would drop it unseen, and the test waiting on the run would only time out.
        this.timer = setInterval(() => { this.tick().catch((e) => { this.fail(`step runner: ${(e as Error).message}`); }); }, 250);
    }

    async stop(): Promise<void> {
        this.stopped = true;
        clearInterval(this.timer);
        while (this.busy) await new Promise((r) => setTimeout(r, 50));
        await Promise.all([...this.inFlight]);
    }

    private async tick(): Promise<void> {
        if (this.busy || this.stopped) return;
        this.busy = true;
        try {
            let pods: any[];
            try {
                pods = await listObjects("pods", this.namespace, "tekton.dev/taskRun");
            } catch {
                return; // the next tick asks again
            }
            for (const p of pods) {
                const done = this.endedStatus.get(p.metadata.uid);
                if (!done || p.metadata.deletionTimestamp || !stepsRunning(p)) continue;
                try {
                    await this.patchStatus(done.name, done.statuses);
                } catch {
                    // A pod deleted since the list (its run cancelled or purged) needs no status: the next list says.
                }
            }
            const ready = pods.filter((p) => !this.handled.has(p.metadata.uid) && this.isRunning(p) && this.planOf(p.metadata.labels["tekton.dev/pipelineRun"]));
            // Pods run concurrently, as kubelets run them; a gated pod holds up no other.
            for (const p of ready) {
                this.handled.add(p.metadata.uid);
                const done: Promise<void> = this.endSteps(p)
                    .catch((e) => { this.fail(`${p.metadata.name}: ${e.message}`); })
                    .finally(() => { this.inFlight.delete(done); });
                this.inFlight.add(done);
            }
        } finally {
            this.busy = false;
        }
    }

    /** Running as kwok's pod-ready play leaves a pod: an IP, Ready, every step container running. */
    private isRunning(pod: any): boolean {
        if (pod.metadata.deletionTimestamp || pod.status?.phase !== "Running" || !pod.status.podIP) return false;
        const ready = (pod.status.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
        return ready && stepsRunning(pod);
    }

    // The step runner's reads and writes go in-process (test/cluster/kubeApi.ts): a kubectl process per call
    // would block this process (its GitHub stand-in, the other pods' steps) for each one.
    private async patchStatus(name: string, statuses: any[]): Promise<void> {
        await adminOk("PATCH", `${resourcePath("pods", this.namespace, name)}/status`, { status: { containerStatuses: statuses } },
            { contentType: "application/merge-patch+json" });
    }

    /** An object of the runner's namespace. */
    private get(resource: string, name: string): Promise<any> {
        return adminOk("GET", resourcePath(resource, this.namespace, name));
    }

    private async endSteps(pod: any): Promise<void> {
        const task = pod.metadata.labels["tekton.dev/pipelineTask"] ?? pod.metadata.labels["tekton.dev/task"];
        const pipelineRun = pod.metadata.labels["tekton.dev/pipelineRun"];
        const plan = this.planOf(pipelineRun)!;
        const stepPlan = plan.tasks[task] ?? plan.default ?? {};
        const steps: Container[] = pod.spec.containers.filter((c: Container) => c.name.startsWith("step-"));
        const ctx = pipelineRun ? await this.context(pipelineRun) : ownTaskRunContext(pod);
        if (stepPlan.gate) {
            await stepPlan.gate(ctx);
            // Deleted meanwhile (a cancelled TaskRun's pod): its kubelet would have killed the containers.
            const now = await adminRequest("GET", resourcePath("pods", this.namespace, pod.metadata.name));
            if (now.status !== 200 || now.body.metadata.deletionTimestamp) return;
        }
        if (this.stopped) return;
        if (!("real" in stepPlan) && stepPlan.files) {
            const ws = await this.workspaceDir(pod, steps);
            for (const [rel, text] of Object.entries(derive(stepPlan.files, ctx))) {
                const file = path.join(ws, rel);
                fs.mkdirSync(path.dirname(file), { recursive: true });
                fs.writeFileSync(file, text);
            }
        }
        const ended: Record<string, { exitCode: number; message: string; started: string; finished: string }> = {};
        let failed = false;
        for (let i = 0; i < steps.length; i++) {
            const started = new Date().toISOString();
            const entries: Array<{ key: string; value: string; type: number }> = [{ key: "StartedAt", value: started, type: TYPE_INTERNAL }];
            let exitCode: number;
            if (failed) {
                entries.push({ key: "Reason", value: "Skipped", type: TYPE_INTERNAL });
                exitCode = 1;
            } else if ("real" in stepPlan) {
                const real = await this.runReal(pod, steps[i], task, stepPlan);
                exitCode = real.exitCode;
                for (const [key, value] of Object.entries(real.results)) entries.push({ key, value, type: TYPE_TASK_RESULT });
            } else {
                // A chosen outcome: the results (and a failure) belong to the last step; a result the Task
                // declares and the test did not choose gets a value naming it as simulated.
                const last = i === steps.length - 1;
                exitCode = last ? stepPlan.exitCode ?? 0 : 0;
                const results = { ...await this.placeholders(pod.metadata.labels["tekton.dev/task"]), ...derive(stepPlan.results ?? {}, ctx) };
                if (last && exitCode === 0) for (const [key, value] of Object.entries(results)) entries.push({ key, value, type: TYPE_TASK_RESULT });
            }
            if (exitCode !== 0) failed = true;
            ended[steps[i].name] = { exitCode, message: JSON.stringify(entries), started, finished: new Date().toISOString() };
        }
        // Which TaskRuns of the run exist as this pod ends: the DAG-order check reads it.
        const existing = !pipelineRun ? [] : (await listObjects("taskruns.tekton.dev", this.namespace, `tekton.dev/pipelineRun=${pipelineRun}`))
            .map((t: any) => t.metadata.labels["tekton.dev/pipelineTask"]);
        // The whole containerStatuses list, each step terminated (others as kwok left them).
        const statuses = pod.status.containerStatuses.map((s: any) => {
            const e = ended[s.name];
            if (!e) return s;
            return {
                ...s, ready: false, started: false,
                state: { terminated: { exitCode: e.exitCode, reason: e.exitCode === 0 ? "Completed" : "Error", message: e.message, startedAt: e.started, finishedAt: e.finished, containerID: s.containerID } },
            };
        });
        this.endedStatus.set(pod.metadata.uid, { name: pod.metadata.name, statuses });
        await this.patchStatus(pod.metadata.name, statuses);
        this.ended.push({ pod: pod.metadata.name, task, pipelineRun, serviceAccount: pod.spec.serviceAccountName, tokenVolume: hasTokenVolume(pod), failed, tasksExisting: existing });
    }

    private pipelineDefaults = new Map<string, Record<string, string>>();

    private async context(pipelineRun: string): Promise<StepContext> {
        const pr = await this.get("pipelineruns.tekton.dev", pipelineRun);
        const pipeline = pr.spec.pipelineRef.name;
        if (!this.pipelineDefaults.has(pipeline)) {
            const p = await this.get("pipelines.tekton.dev", pipeline);
            this.pipelineDefaults.set(pipeline, Object.fromEntries((p.spec.params ?? []).filter((x: any) => x.default !== undefined).map((x: any) => [x.name, x.default])));
        }
        const given = Object.fromEntries((pr.spec.params ?? []).map((x: any) => [x.name, x.value]));
        const ns = this.namespace;
        return {
            pipelineRun: pr, runId: pr.metadata.uid,
            param: (name) => {
                const v = given[name] ?? this.pipelineDefaults.get(pipeline)![name];
                if (v === undefined) throw new Error(`PipelineRun ${pipelineRun} has no param ${name} and ${pipeline} no default for it`);
                return v;
            },
            resultsOf: (pipelineTask) => {
                const trs = JSON.parse(kubectlOk(["get", "taskruns.v1.tekton.dev", "-n", ns, "-l", `tekton.dev/pipelineRun=${pipelineRun},tekton.dev/pipelineTask=${pipelineTask}`, "-o", "json"])).items;
                if (trs.length !== 1) throw new Error(`PipelineRun ${pipelineRun} has ${trs.length} TaskRuns of ${pipelineTask}`);
                return Object.fromEntries((trs[0].status?.results ?? []).map((r: any) => [r.name, r.value]));
            },
        };
    }

    /** The shared workspace of the pod as a directory: where its steps mount it (with the mount's subPath). */
    private async workspaceDir(pod: any, steps: Container[]): Promise<string> {
        const dirs = await this.volumeDirs(pod);
        for (const c of steps) {
            const m = (c.volumeMounts ?? []).find((v: any) => v.mountPath === WORKSPACE_MOUNT);
            if (m) return mountDir(dirs, m);
        }
        throw new Error(`pod ${pod.metadata.name} mounts no ${WORKSPACE_MOUNT}: its plan cannot leave files there`);
    }

    private taskResults = new Map<string, string[]>();

    private async placeholders(taskName: string): Promise<Record<string, string>> {
        if (!this.taskResults.has(taskName)) {
            const task = await this.get("tasks.tekton.dev", taskName);
            this.taskResults.set(taskName, (task.spec.results ?? []).map((r: any) => r.name));
        }
        return Object.fromEntries(this.taskResults.get(taskName)!.map((r) => [r, `simulated-${r}`]));
    }

    /** A directory for each of the pod's volumes, as the kubelet would mount them. */
    private async volumeDirs(pod: any): Promise<Map<string, string>> {
        const key = pod.metadata.uid;
        const base = path.join(this.work, key);
        const dirs = new Map<string, string>();
        for (const v of pod.spec.volumes ?? []) {
            let dir = path.join(base, v.name);
            if (v.persistentVolumeClaim) {
                const pvc = await this.get("persistentvolumeclaims", v.persistentVolumeClaim.claimName);
                const pv = await adminOk("GET", resourcePath("persistentvolumes", undefined, pvc.spec.volumeName)); // cluster-scoped
                if (!pv.spec.hostPath) throw new Error(`PV ${pv.metadata.name} of ${v.name} is not a hostPath volume`);
                dir = pv.spec.hostPath.path;
            } else if (!fs.existsSync(dir)) {
                // Read before the directory is made: it stands for the whole volume once it exists.
                const cm = v.configMap ? await this.get("configmaps", v.configMap.name) : undefined;
                const secret = v.secret ? await this.get("secrets", v.secret.secretName) : undefined;
                fs.mkdirSync(dir, { recursive: true });
                if (cm) {
                    for (const [f, text] of Object.entries<string>(cm.data ?? {})) fs.writeFileSync(path.join(dir, f), text, { mode: v.configMap.defaultMode ?? 0o644 });
                } else if (secret) {
                    const items: Array<{ key: string; path: string }> = v.secret.items ?? Object.keys(secret.data ?? {}).map((k) => ({ key: k, path: k }));
                    for (const it of items) fs.writeFileSync(path.join(dir, it.path), Buffer.from(secret.data[it.key], "base64"), { mode: 0o600 });
                }
                // emptyDir, projected, downwardAPI: an empty directory (Tekton's own paths; nothing reads them here).
            }
            dirs.set(v.name, dir);
        }
        return dirs;
    }

    private async runReal(pod: any, c: Container, task: string, plan: Real): Promise<{ exitCode: number; results: Record<string, string> }> {
        const overrides = plan.env ?? {};
        const dirs = await this.volumeDirs(pod);
        // Longest mount path first, so /workspace/shared-workspace wins over /workspace.
        const mounts = (c.volumeMounts ?? []).map((m: any) => ({ from: m.mountPath as string, to: mountDir(dirs, m) }))
            .sort((a, b) => b.from.length - a.from.length);
        const local = (s: string): string => {
            for (const m of mounts) {
                if (s === m.from || s.startsWith(m.from + "/")) return m.to + s.slice(m.from.length);
            }
            return s;
        };
        const rewrite = (s: string): string => s.split(/(\s+)/).map(local).join("");
        const env: Record<string, string> = {};
        for (const e of c.env ?? []) {
            if (e.value !== undefined) env[e.name] = rewrite(e.value);
            else if (e.valueFrom?.fieldRef) env[e.name] = fieldOf(pod, e.valueFrom.fieldRef.fieldPath);
            else if (e.valueFrom?.secretKeyRef) {
                const s = await this.get("secrets", e.valueFrom.secretKeyRef.name);
                env[e.name] = Buffer.from(s.data[e.valueFrom.secretKeyRef.key], "base64").toString("utf8");
            } else if (e.valueFrom?.configMapKeyRef) {
                const cm = await this.get("configmaps", e.valueFrom.configMapKeyRef.name);
                env[e.name] = cm.data[e.valueFrom.configMapKeyRef.key];
            }
        }
        Object.assign(env, overrides);
        const [cmd, ...args] = entrypointCommand(c).map(rewrite);
        const home = tmpDir("step-home-");
        const sa = pod.spec.serviceAccountName;
        const hadToken = pod.spec.automountServiceAccountToken !== false && (await this.get("serviceaccounts", sa)).automountServiceAccountToken !== false;
        let jti: string | undefined;
        // The pod's token, bound to the pod as the kubelet would project it.
        if (hadToken) ({ kubeconfig: env.KUBECONFIG, tokenId: jti } = await credentials({ name: sa, namespace: this.namespace }, home,
            { boundToPod: { name: pod.metadata.name, uid: pod.metadata.uid }, expirationSeconds: 3600 }));
        const resultsDir = dirs.get(resultsVolume(c)) ?? tmpDir("results-");
        const pathDirs = [...(plan.path ?? []), cluster().bin, "/usr/local/bin", "/usr/bin", "/bin"];
        if (plan.recorded) {
            // The stand-ins are node scripts: node's own directory comes with them.
            pathDirs.unshift(RECORDED_BIN, path.dirname(process.execPath));
            env.FAKE_DIR = tmpDir("recorded-");
            fs.writeFileSync(path.join(env.FAKE_DIR, "rules.json"), JSON.stringify(plan.recorded));
        }
        return new Promise((resolve) => {
            const child = spawn(cmd, args, {
                cwd: c.workingDir ? local(c.workingDir) : home,
                env: { PATH: pathDirs.join(":"), HOME: home, ...SHORT_LIVED_GO_ENV, ...env },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (d) => { stdout += d; });
            child.stderr.on("data", (d) => { stderr += d; });
            const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
            child.on("close", (status) => {
                clearTimeout(timer);
                const results: Record<string, string> = {};
                if (fs.existsSync(resultsDir)) {
                    for (const f of fs.readdirSync(resultsDir)) {
                        const p = path.join(resultsDir, f);
                        if (fs.statSync(p).isFile()) results[f] = fs.readFileSync(p, "utf8");
                    }
                }
                const exitCode = status ?? 137;
                this.realSteps.push({
                    pod: pod.metadata.name, task, pipelineRun: pod.metadata.labels["tekton.dev/pipelineRun"], taskRun: pod.metadata.labels["tekton.dev/taskRun"], step: c.name, exitCode, stdout, stderr,
                    results, serviceAccount: sa, hadToken, tokenId: jti,
                });
                resolve({ exitCode, results });
            });
        });
    }
}

/** A TaskRun of its own has no PipelineRun: a plan that asks for one fails naming the pod. */
function ownTaskRunContext(pod: any): StepContext {
    const none = (): never => { throw new Error(`pod ${pod.metadata.name} belongs to no PipelineRun (a TaskRun of its own)`); };
    return { get pipelineRun() { return none(); }, get runId() { return none(); }, param: none, resultsOf: none };
}

function derive<T>(v: Derived<T>, ctx: StepContext): T {
    return typeof v === "function" ? (v as (c: StepContext) => T)(ctx) : v;
}

/** The directory a volume mount shows the container: the volume's directory, or its subPath in it. */
function mountDir(dirs: Map<string, string>, m: { name: string; subPath?: string }): string {
    const base = dirs.get(m.name);
    if (base === undefined) throw new Error(`volume mount ${m.name} names no volume of the pod`);
    if (!m.subPath) return base;
    const dir = path.join(base, m.subPath);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
}

/** The volume Tekton mounts at /tekton/results in the step (an emptyDir it adds). */
function resultsVolume(c: Container): string {
    return (c.volumeMounts ?? []).find((m: any) => m.mountPath === "/tekton/results")?.name ?? "";
}

function stepsRunning(pod: any): boolean {
    const steps = (pod.status?.containerStatuses ?? []).filter((s: any) => s.name.startsWith("step-"));
    return steps.length > 0 && steps.every((s: any) => s.state?.running);
}

function hasTokenVolume(pod: any): boolean {
    return (pod.spec.volumes ?? []).some((v: any) => v.projected?.sources?.some((s: any) => s.serviceAccountToken));
}

function fieldOf(pod: any, fieldPath: string): string {
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (m) return pod.metadata[m[1]]?.[m[2]] ?? "";
    const parts = fieldPath.split(".");
    let v: any = pod;
    for (const p of parts) v = v?.[p];
    return v === undefined ? "" : String(v);
}
