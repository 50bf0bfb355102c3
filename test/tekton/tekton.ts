// The tier of tests run by Tekton's own controllers (scripts/cluster.sh tekton-start): the program's objects
// as it renders them for the local stack (Pulumi mocks, `scripts/manifests.ts --stack local`), applied as the
// admin; PipelineRuns made from the program's own TriggerTemplate; and waits on what the API server stores.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { adminRequest, apply, kubectl, kubectlOk, PIPELINES_NS, runObjects, sleep } from "../cluster/harness";
import { resourcePath } from "../cluster/kubeApi";
import { repoId } from "./sink";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

const STATE = process.env.TEKTON_DAG_CLUSTER_DIR ?? path.join(REPO, ".cluster");
const CONTROLLERS = ["tekton-pipelines-controller", "tekton-triggers-controller", "tekton-interceptors"];

/** Throws naming what is missing unless tekton-start's processes run (these tests never skip). */
export function controllersRunning(): void {
    for (const name of CONTROLLERS) {
        const pidFile = path.join(STATE, "pids", name);
        const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, "utf8")) : 0;
        let alive = false;
        try { alive = pid > 0 && (process.kill(pid, 0), true); } catch { alive = false; }
        if (!alive) throw new Error(`${name} does not run: start Tekton's controllers with 'bash scripts/cluster.sh tekton-start' (scripts/test.sh does)`);
    }
}

const renders = new Map<string, Promise<string>>();

/** The local stack's objects as the program renders them (with config overrides); returns the dir. */
export function renderLocalStack(overrides: Record<string, string> = {}): Promise<string> {
    const sets = Object.entries(overrides).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
    const key = sets.join(" ");
    if (!renders.has(key)) renders.set(key, new Promise((resolve, reject) => {
        const out = tmpDir("local-manifests-");
        const child = spawn(process.execPath, ["scripts/compiled.js", "scripts/manifests.ts", "--stack", "local", "--out", out, ...sets],
            { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => { err += d; });
        child.on("close", (code) => code === 0 ? resolve(out) : reject(new Error(`scripts/manifests.ts --stack local ${key} failed: ${err}`)));
    }));
    return renders.get(key)!;
}

export function readObjects(dir: string): any[] {
    const objs: any[] = [];
    for (const ns of fs.readdirSync(dir)) {
        const sub = path.join(dir, ns);
        if (!fs.statSync(sub).isDirectory()) continue;
        for (const f of fs.readdirSync(sub).sort()) objs.push(YAML.parse(fs.readFileSync(path.join(sub, f), "utf8")));
    }
    return objs;
}

/** Applies every object the program renders for the local stack; returns them. */
export async function installProgram(overrides: Record<string, string> = {}): Promise<any[]> {
    const objs = readObjects(await renderLocalStack(overrides));
    apply(objs);
    return objs;
}

export function one(objs: any[], kind: string, name: string): any {
    const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
    if (found.length !== 1) throw new Error(`expected one ${kind} ${name} among the rendered objects, found ${found.length}`);
    return found[0];
}

/**
 * The PipelineRun the program's TriggerTemplate makes for these params (defaults from the template), as the
 * EventListener would create it; created as the admin. Returns the stored object.
 */
export function createFromTemplate(objs: any[], params: Record<string, string>): any {
    const tt = one(objs, "TriggerTemplate", "stack-pr-test-template");
    // GitHub's id of the repository, as a delivery would carry it.
    if (params["repo-full-name"] && !params["repo-id"]) params = { ...params, "repo-id": String(repoId(params["repo-full-name"])) };
    const values: Record<string, string> = {};
    for (const p of tt.spec.params) {
        const v = params[p.name] ?? p.default;
        if (v === undefined) throw new Error(`TriggerTemplate param ${p.name} has no default: the test must give it`);
        values[p.name] = v;
    }
    for (const k of Object.keys(params)) if (!(k in values)) throw new Error(`the TriggerTemplate has no param ${k}`);
    const text = JSON.stringify(tt.spec.resourcetemplates[0]).replace(/\$\(tt\.params\.([a-z0-9-]+)\)/g, (_, n) => JSON.stringify(values[n]).slice(1, -1))
        .replaceAll("$(uid)", randomUUID());
    const pr = JSON.parse(text);
    pr.metadata.namespace = PIPELINES_NS;
    return JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], JSON.stringify(pr)));
}

export function succeeded(obj: any): any {
    return (obj.status?.conditions ?? []).find((c: any) => c.type === "Succeeded");
}

/** Waits until the PipelineRun is done (its Succeeded condition is not Unknown), or the step runner reports errors; returns it. */
export async function waitDone(name: string, errors: string[] = [], timeoutMs = 300_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        // The step runner failed to end a pod: the run would wait forever.
        if (errors.length > 0) throw new Error(`the step runner failed while ${name} ran: ${errors.join("; ")}`);
        const r = await adminRequest("GET", resourcePath("pipelineruns.tekton.dev", PIPELINES_NS, name));
        const pr = r.status === 200 ? r.body : undefined;
        const c = pr && succeeded(pr);
        if (c && c.status !== "Unknown") return pr;
        if (Date.now() > deadline) throw new Error(`PipelineRun ${name} not done within ${timeoutMs / 1000}s: ${JSON.stringify(pr ?? "not there").slice(0, 2000)}`);
        await sleep(250);
    }
}

export function taskRunsOf(pipelineRun: string): any[] {
    return JSON.parse(kubectlOk(["get", "taskruns.v1.tekton.dev", "-n", PIPELINES_NS, "-l", `tekton.dev/pipelineRun=${pipelineRun}`, "-o", "json"])).items;
}

export function podsOf(pipelineRun: string): any[] {
    return JSON.parse(kubectlOk(["get", "pods", "-n", PIPELINES_NS, "-l", `tekton.dev/pipelineRun=${pipelineRun}`, "-o", "json"])).items;
}

/** Deletes every PipelineRun (and with them their TaskRuns and pods) an earlier suite left. */
export function purgePipelineRuns(): void {
    kubectlOk(["delete", "pipelineruns.v1.tekton.dev", "-n", PIPELINES_NS, "--all", "--wait=true", "--timeout=120s"]);
    // The EventListener's own TaskRuns (stop-pr-runs, retest-pr) belong to no PipelineRun.
    kubectlOk(["delete", "taskruns.v1.tekton.dev", "-n", PIPELINES_NS, "--all", "--wait=true", "--timeout=120s"]);
}

/** Waits until the API server stores no object labelled with the run (its pods end gracefully first). */
export async function noObjectsOf(runId: string, timeoutMs = 60_000): Promise<void> {
    for (const end = Date.now() + timeoutMs; ; await sleep(250)) {
        const left = runObjects(runId);
        if (left.size === 0) return;
        if (Date.now() > end) throw new Error(`objects of run ${runId} left after ${timeoutMs / 1000}s: ${[...left.keys()].join(", ")}`);
    }
}

/** The runs that hold (or wait for) an app's intercept lock: the records of its Lease (docs/intercept-lock.md). */
export function lockRecords(app: string, namespace = "staging"): Array<{ run: string; state: string; mode: string; header: string }> {
    const r = kubectl(["get", "leases.coordination.k8s.io", `tekton-dag-intercept-${app}`, "-n", namespace, "-o", "json"]);
    if (r.status !== 0) return [];
    const text = JSON.parse(r.stdout).metadata.annotations?.["tekton-dag.io/holders"];
    return text ? JSON.parse(text) : [];
}
