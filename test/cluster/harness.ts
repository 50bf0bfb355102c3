// The one harness of the real-API tests: a local control plane started by scripts/cluster.sh (etcd,
// kube-apiserver with RBAC, controller manager, scheduler, kwok). Task scripts run unchanged, as the
// ServiceAccount their Task runs as (a token from `kubectl create token`); only what needs a container
// runtime or the network is a stand-in (./standins.ts).
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { REPO, SCRIPTS } from "../support/repo";
import { cleanTmpDirs, tmpDir } from "../support/tmpDir";
import { query, request, RequestOptions, requestOk, resourcePath, splitResource } from "./kubeApi";

const STATE = process.env.TEKTON_DAG_CLUSTER_DIR ?? path.join(REPO, ".cluster");
export const ADMIN_KUBECONFIG = path.join(STATE, "admin.kubeconfig");
export const AUDIT_LOG = path.join(STATE, "logs", "audit.log");

/** Namespaces of the kind stack (Pulumi.kind.yaml), whose RBAC the tests install. */
export const PIPELINES_NS = "tekton-dag";
export const TARGET_NS = "staging";
export const TELEPRESENCE_NS = "ambassador";
export const PIPELINE_SA = { name: "tekton-dag-pipeline", namespace: PIPELINES_NS };
export const MIRRORD_SA = { name: "tekton-dag-mirrord-proxy", namespace: TARGET_NS };
export const TELEPRESENCE_SA = { name: "tekton-dag-telepresence-client", namespace: TARGET_NS };
/** What the tasks that run PR code run as (lib/identities.ts): no rule file names it, so it may do nothing. */
export const PR_CODE_SA = { name: "tekton-dag-pr-code", namespace: PIPELINES_NS };
export type Account = typeof PIPELINE_SA;

/** The apps the tests intercept: Deployments with one replica in the target namespace. */
export const APPS = ["demo-fe", "demo-api", "demo-db"];

interface ClusterInfo { bin: string; server: string; ca: string }
let info: ClusterInfo | undefined;

/**
 * The running local cluster, or an error naming what is missing: these tests never skip (the test command
 * starts the cluster before it runs them, and CI must not pass without them).
 */
export function cluster(): ClusterInfo {
    if (info) return info;
    if (!fs.existsSync(ADMIN_KUBECONFIG)) {
        throw new Error(`no kubeconfig at ${ADMIN_KUBECONFIG}: the local cluster is not running; start it with 'bash scripts/cluster.sh start' (scripts/test.sh does)`);
    }
    const check = spawnSync("bash", [path.join(REPO, "scripts", "cluster-build.sh"), "--check"], { encoding: "utf8" });
    if (check.status !== 0) throw new Error(`the control plane is not built: ${check.stderr.trim()}`);
    const bin = check.stdout.trim();
    const kc = YAML.parse(fs.readFileSync(ADMIN_KUBECONFIG, "utf8"));
    info = { bin, server: kc.clusters[0].cluster.server, ca: kc.clusters[0].cluster["certificate-authority"] };
    const ready = kubectl(["get", "--raw", "/readyz"]);
    if (ready.status !== 0) {
        info = undefined;
        throw new Error(`the local API server does not answer (${ready.stderr.trim()}); 'bash scripts/cluster.sh status' says why`);
    }
    return info;
}

export interface Result { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** kubectl as the cluster admin (the test's own view; never given to a task script). */
/**
 * Added to the environment of the processes the tests start that run kubectl (the task scripts, the Tekton
 * steps, the Telepresence stand-in's proxy script, the harness's own kubectl). A kubectl call lives a fraction
 * of a second, and Go's garbage collector and the threads of a second core cost it a quarter of its CPU
 * (measured: 118 ms down to 88 ms a call); a test command makes thousands of calls, on two busy cores. What a
 * script does does not depend on either. Never for the control plane's long-lived processes.
 */
export const SHORT_LIVED_GO_ENV: Readonly<Record<string, string>> = { GOGC: "off", GOMAXPROCS: "1" };

export function kubectl(args: string[], input = ""): Result {
    const t0 = Date.now();
    // Lists of many pods run past spawnSync's 1 MiB default, which would read as a failed kubectl.
    const res = spawnSync(path.join(cluster().bin, "kubectl"), ["--kubeconfig", ADMIN_KUBECONFIG, ...args],
        { encoding: "utf8", input, maxBuffer: 512 * 1024 * 1024, env: { ...process.env, ...SHORT_LIVED_GO_ENV } });
    return { status: res.status, signal: res.signal, stdout: res.stdout, stderr: res.stderr, ms: Date.now() - t0 };
}

export function kubectlOk(args: string[], input = ""): string {
    const r = kubectl(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
}

export function getJson(args: string[]): any {
    return JSON.parse(kubectlOk([...args, "-o", "json"]));
}

/**
 * A request of the admin made in-process (kubeApi.ts), for the harness's own reads and writes in loops and
 * hooks, where a kubectl process per call would cost more CPU than the work. Resolves with any status.
 */
export function adminRequest(method: string, urlPath: string, body?: unknown, opts: RequestOptions = {}) {
    cluster();
    return request(ADMIN_KUBECONFIG, method, urlPath, body, opts);
}

/** An in-process request of the admin that must succeed (2xx); resolves with the parsed body. */
export function adminOk(method: string, urlPath: string, body?: unknown, opts: RequestOptions = {}): Promise<any> {
    cluster();
    return requestOk(ADMIN_KUBECONFIG, method, urlPath, body, opts);
}

/** The objects of a resource ("pods", "jobs.batch", ...) in a namespace (all when omitted) matching the label selector. */
export async function listObjects(resource: string, namespace: string | undefined, labelSelector?: string): Promise<any[]> {
    return (await adminOk("GET", resourcePath(resource, namespace) + query({ labelSelector }))).items;
}

/**
 * Deletes what the selector matches of each resource, as `kubectl delete -l SELECTOR` does (one request per
 * resource), and with wait (kubectl's --wait=true) returns once every object it deleted is gone (by uid:
 * finalizers, e.g. a foreground deletion's, hold some a moment). force: no grace period (--grace-period 0 --force).
 */
export async function deleteSelected(resources: string[], namespace: string, labelSelector: string | undefined, opts: { force?: boolean; wait?: boolean } = {}): Promise<void> {
    const options = { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background", ...(opts.force ? { gracePeriodSeconds: 0 } : {}) };
    const doomed = await Promise.all(resources.map(async (resource) => {
        const items = await listObjects(resource, namespace, labelSelector);
        if (items.length === 0) return { resource, uids: new Set<string>() };
        const p = resourcePath(resource, namespace) + query({ labelSelector });
        const r = await adminRequest("DELETE", p, options);
        if (r.status >= 300 && r.status !== 404) throw new Error(`deleting ${resource} in ${namespace} (${labelSelector ?? "all"}): HTTP ${r.status}: ${r.body?.message ?? r.text}`);
        return { resource, uids: new Set<string>(items.map((o) => o.metadata.uid)) };
    }));
    if (!opts.wait) return;
    // A deadline only for the failure message: the wait is on the objects being gone.
    const deadline = Date.now() + 120_000;
    for (const { resource, uids } of doomed) {
        while (uids.size) {
            const left = (await listObjects(resource, namespace, labelSelector)).filter((o) => uids.has(o.metadata.uid));
            if (!left.length) break;
            if (Date.now() > deadline) throw new Error(`not gone within 120 s: ${resource} ${left.map((o) => o.metadata.name).join(", ")} in ${namespace}`);
            await sleep(50);
        }
    }
}

// A root-level hook (this module is loaded with the test files): after the last test of the run, the tmpDirs
// go (they hold ServiceAccount token kubeconfigs, the stand-ins' homes, workspaces).
if (typeof after === "function") after(() => cleanTmpDirs());

/** A ServiceAccount token's id (jti): the audit log names it as the credential of each request. */
export function tokenId(token: string): string {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8")).jti;
}

export interface Credentials { kubeconfig: string; tokenId: string; account: Account; token: string }

/** A kubeconfig holding a fresh token of the ServiceAccount, as the pod of a TaskRun would have. */
export async function credentials(account: Account, dir = tmpDir("sa"), opts: { boundToPod?: { name: string; uid: string }; expirationSeconds?: number } = {}): Promise<Credentials> {
    // What `kubectl create token --duration 2h` asks for: a TokenRequest with the API server's own audiences
    // (bound to a pod, as the kubelet projects a pod's token: `--bound-object-kind Pod`).
    const spec = {
        expirationSeconds: opts.expirationSeconds ?? 7200,
        ...(opts.boundToPod ? { boundObjectRef: { kind: "Pod", apiVersion: "v1", ...opts.boundToPod } } : {}),
    };
    const review = await adminOk("POST", `${resourcePath("serviceaccounts", account.namespace, account.name)}/token`,
        { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec });
    const token: string = review.status.token;
    const { server, ca } = cluster();
    const file = path.join(dir, `${account.namespace}-${account.name}-${randomUUID().slice(0, 8)}.kubeconfig`);
    fs.writeFileSync(file, YAML.stringify({
        apiVersion: "v1", kind: "Config",
        clusters: [{ name: "local", cluster: { server, "certificate-authority": ca } }],
        users: [{ name: account.name, user: { token } }],
        contexts: [{ name: "sa", context: { cluster: "local", user: account.name, namespace: account.namespace } }],
        "current-context": "sa",
    }), { mode: 0o600 });
    return { kubeconfig: file, tokenId: tokenId(token), account, token };
}

/** A call a script made to a recorded stand-in (standins/recorded-cli.js). */
export interface Call { cmd: string; argv: string[]; stdin: string }

/** How a recorded stand-in answers: the first rule whose cmd is the program and whose regex matches the argv. */
export interface Rule {
    cmd: "mirrord" | "telepresence" | "curl" | "newman" | "git";
    match: string;
    stdout?: string | object;
    stderr?: string;
    exit?: number;
    /** Answers this many calls, then stands aside. */
    times?: number;
}

export interface ScriptRun extends Result {
    script: string;
    tokenId: string;
    killedAfter?: string;
    /** Every call to a recorded stand-in, in order (empty unless RunOptions.recorded was given). */
    calls: Call[];
}

export interface RunOptions {
    /** SIGKILL the script (its whole process group) right after the n-th step marker (1-based) it prints. */
    killAfterStep?: number;
    timeoutMs?: number;
    /**
     * Puts the recorded stand-ins (mirrord, telepresence, curl, newman, git) first on PATH, answering from
     * these rules; without it those programs are simply absent, as the scripts allow where they can.
     */
    recorded?: Rule[];
    /** SIGTERM the script once a line it prints to stderr satisfies this, as a kubelet stops a container's main process. */
    terminateWhen?: (line: string) => boolean;
    /** Called with each line the script prints to stderr, as it prints it (to wait for a log line). */
    onLine?: (line: string) => void;
}

const RECORDED_BIN = path.join(__dirname, "standins", "recorded");

function readCalls(dir: string): Call[] {
    const file = path.join(dir, "calls.jsonl");
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * The step markers of the intercept scripts: lines they (or kubectl) print once a step is done. A deploy
 * killed after each of them in turn covers every point where it can leave objects behind.
 */
export const STEP_MARKER = /^(pod|configmap)\/\S+ created$|^\S+ "\S+" deleted|lease \S+ taken|is Ready$|steal active/;

/** Runs tekton/scripts/<script> as `account` with the task's environment; resolves when it exits. */
export async function runScriptAs(script: string, env: Record<string, string>, account: Account, opts: RunOptions = {}): Promise<ScriptRun> {
    const creds = await credentials(account);
    const t0 = Date.now();
    const fakeDir = tmpDir("recorded-");
    fs.writeFileSync(path.join(fakeDir, "rules.json"), JSON.stringify(opts.recorded ?? []));
    // The stand-ins are node scripts: node's own directory comes with them.
    const standins = opts.recorded ? `${RECORDED_BIN}:${path.dirname(process.execPath)}:` : "";
    return new Promise((resolve) => {
        const child = spawn("bash", [path.join(SCRIPTS, script)], {
            env: {
                HOME: process.env.HOME ?? "/tmp",
                // kubectl, jq and coreutils; nothing of the test's own environment (no admin kubeconfig).
                PATH: `${standins}${cluster().bin}:/usr/local/bin:/usr/bin:/bin`,
                KUBECONFIG: creds.kubeconfig,
                FAKE_DIR: fakeDir,
                ...SHORT_LIVED_GO_ENV,
                ...env,
            },
            detached: true,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        let steps = 0;
        let killedAfter: string | undefined;
        let terminated = false;
        let partial = "";
        const timer = setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* gone */ } }, opts.timeoutMs ?? 120_000);
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => {
            stderr += d;
            partial += d;
            const lines = partial.split("\n");
            partial = lines.pop() ?? "";
            for (const line of lines) {
                opts.onLine?.(line);
                if (opts.terminateWhen && !terminated && opts.terminateWhen(line)) {
                    terminated = true;
                    try { process.kill(child.pid!, "SIGTERM"); } catch { /* already gone */ }
                }
                if (opts.killAfterStep === undefined || killedAfter !== undefined || !STEP_MARKER.test(line)) continue;
                steps++;
                if (steps === opts.killAfterStep) {
                    killedAfter = line;
                    try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
                }
            }
        });
        // As a container ends with its main process: what a terminated script left running goes with it.
        child.on("exit", () => { if (terminated) try { process.kill(-child.pid!, "SIGKILL"); } catch { /* all gone */ } });
        child.on("close", (status, signal) => {
            clearTimeout(timer);
            resolve({ script, status, signal, stdout, stderr, ms: Date.now() - t0, tokenId: creds.tokenId, killedAfter, calls: readCalls(fakeDir) });
        });
    });
}

// ---- the program's RBAC, rendered by the program itself --------------------------------------------------

const rendered = new Map<string, Promise<string>>();

/**
 * Renders the kind stack with `npm run manifests` (Pulumi mocks) once per process and set of config
 * overrides (`--set key=value`, e.g. githubTokenSecret); returns the dir.
 */
export function renderKindStack(overrides: Record<string, string> = {}): Promise<string> {
    const sets = Object.entries(overrides).flatMap(([k, v]) => ["--set", `${k}=${v}`]);
    const key = sets.join(" ");
    if (!rendered.has(key)) rendered.set(key, new Promise((resolve, reject) => {
        const out = tmpDir("kind-manifests-");
        const child = spawn(process.execPath, ["scripts/compiled.js", "scripts/manifests.ts", "--stack", "kind", "--out", out, ...sets],
            { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => { err += d; });
        child.on("close", (code) => code === 0 ? resolve(out) : reject(new Error(`npm run manifests -- --stack kind ${key} failed: ${err}`)));
    }));
    return rendered.get(key)!;
}

export const RBAC_KINDS = ["ServiceAccount", "Role", "RoleBinding"];

/** The ServiceAccounts, Roles and RoleBindings the program installs for the kind stack (with overrides). */
export async function rbacObjects(overrides: Record<string, string> = {}): Promise<any[]> {
    const dir = await renderKindStack(overrides);
    const objects: any[] = [];
    for (const ns of fs.readdirSync(dir)) {
        const sub = path.join(dir, ns);
        if (!fs.statSync(sub).isDirectory() || ns === "_cluster") continue;
        for (const f of fs.readdirSync(sub).sort()) {
            const obj = YAML.parse(fs.readFileSync(path.join(sub, f), "utf8"));
            if (RBAC_KINDS.includes(obj.kind)) objects.push(obj);
        }
    }
    return objects;
}

/** Applies objects as the admin (server-side; our field manager owns them, so a re-apply restores them). */
export function apply(objects: any[]): void {
    const list = { apiVersion: "v1", kind: "List", items: objects };
    kubectlOk(["apply", "--server-side", "--force-conflicts", "--field-manager", "tekton-dag-tests", "-f", "-"], JSON.stringify(list));
}

/** Installs exactly the program's RBAC and waits until the authorizer sees it. */
export async function installRbac(): Promise<any[]> {
    const objects = await rbacObjects();
    apply(objects);
    await waitCan(PIPELINE_SA, "create", "pods", TARGET_NS, true);
    return objects;
}

/** The Role and RoleBinding the program renders for githubTokenSecret (components/rbac.ts). */
export const TOKEN_ROLE = "tekton-dag-pr-comment-token";

/**
 * The GitHub token Secret that githubTokenSecret names, holding `token`, with the Role the program renders for
 * it (get on that one Secret), once the authorizer sees it. Returns what removes both and waits until the
 * authorizer no longer grants it (later suites' can-i checks must find the kind stack's RBAC alone).
 */
export async function installTokenSecret(name: string, token: string): Promise<() => Promise<void>> {
    const role = (await rbacObjects({ githubTokenSecret: name })).filter((o) => o.metadata.name === TOKEN_ROLE);
    apply([...role, { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: PIPELINES_NS }, type: "Opaque", data: { token: Buffer.from(token).toString("base64") } }]);
    await waitCan(PIPELINE_SA, "get", `secrets/${name}`, PIPELINES_NS, true);
    return async () => {
        kubectl(["delete", "secret", name, "-n", PIPELINES_NS, "--ignore-not-found"]);
        kubectl(["delete", "role,rolebinding", TOKEN_ROLE, "-n", PIPELINES_NS, "--ignore-not-found"]);
        await waitCan(PIPELINE_SA, "get", `secrets/${name}`, PIPELINES_NS, false);
    };
}

/**
 * What `kubectl auth can-i --as system:serviceaccount:NS:NAME` asks, in-process: a SelfSubjectAccessReview
 * impersonating the account (the API server adds its ServiceAccount groups). The RBAC authorizer reads from an
 * informer: changes land a moment later.
 */
// resource is "pods", "deployments.apps", "configmaps/NAME" or "pods/log" (then asked as the subresource).
export async function canI(account: Account, verb: string, resource: string, namespace: string): Promise<boolean> {
    const [res, sub] = resource.split("/");
    const isSubresource = sub !== undefined && ["log", "portforward", "exec", "status"].includes(sub);
    const { resource: plural, group } = splitResource(res);
    const review = await adminOk("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { namespace, verb, group, resource: plural, subresource: isSubresource ? sub : undefined, name: isSubresource ? undefined : sub } },
    }, { impersonate: `system:serviceaccount:${account.namespace}:${account.name}` });
    return review.status?.allowed === true;
}

export async function waitCan(account: Account, verb: string, resource: string, namespace: string, want: boolean): Promise<void> {
    // A deadline only for the failure message: the wait itself is on the answer changing.
    const deadline = Date.now() + 60_000;
    while (await canI(account, verb, resource, namespace) !== want) {
        if (Date.now() > deadline) throw new Error(`RBAC did not settle: can ${account.name} ${verb} ${resource} in ${namespace} should be ${want}`);
        await sleep(50);
    }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A line a running script will print: hand `onLine` to runScriptAs, then `await waitFor(run)` before acting
 * on what the line says (e.g. release a Lease only once the script is waiting on it). The wait is on the
 * line itself, never on the script being slower than a sleep; a script that ends without printing it fails
 * the wait, naming the pattern.
 */
export function awaitedLine(pattern: RegExp): { onLine: (line: string) => void; waitFor: (run: Promise<ScriptRun>) => Promise<string> } {
    let resolve!: (line: string) => void;
    const seen = new Promise<string>((r) => { resolve = r; });
    return {
        onLine: (line) => { if (pattern.test(line)) resolve(line); },
        waitFor: (run) => Promise.race([seen, run.then((r) => {
            throw new Error(`${r.script} ended (status ${r.status}) without printing a line matching ${pattern}:\n${r.stderr}`);
        })]),
    };
}

/**
 * Returns once the API server's clock (creationTimestamp: whole seconds) has moved past `after`'s, as probe
 * objects it stamps show: stop-pr-runs.sh keeps runs created in the same second as the newer one, so the
 * tests wait on the server's own timestamps, not on a sleep.
 */
export async function serverClockPast(after: { metadata: { creationTimestamp: string } }): Promise<void> {
    for (;;) {
        const probe = await adminOk("POST", resourcePath("configmaps", PIPELINES_NS), {
            apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "clock-probe-", namespace: PIPELINES_NS },
        });
        await adminOk("DELETE", resourcePath("configmaps", PIPELINES_NS, probe.metadata.name));
        if (probe.metadata.creationTimestamp > after.metadata.creationTimestamp) return;
        await sleep(100);
    }
}

// ---- the apps and the traffic manager the scripts expect -------------------------------------------------

/** The staging apps (what the stack's Deployments would be) and a stand-in traffic-manager Service. */
export function installApps(): void {
    const objs: any[] = [];
    for (const app of APPS) {
        const labels = { app };
        objs.push({
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: app, namespace: TARGET_NS, labels },
            spec: {
                replicas: 1, selector: { matchLabels: labels },
                template: { metadata: { labels }, spec: { containers: [{ name: "web", image: `registry.local/${app}:1.0`, ports: [{ containerPort: 8080 }], env: [{ name: "APP", value: app }] }] } },
            },
        });
        objs.push({ apiVersion: "v1", kind: "Service", metadata: { name: app, namespace: TARGET_NS }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } });
    }
    // What the Telepresence chart installs and the client looks up (the chart itself needs the network).
    objs.push({ apiVersion: "v1", kind: "Service", metadata: { name: "traffic-manager", namespace: TELEPRESENCE_NS }, spec: { selector: { app: "traffic-manager" }, ports: [{ name: "api", port: 8081 }] } });
    apply(objs);
    kubectlOk(["rollout", "status", "-n", TARGET_NS, "--timeout", "60s", ...APPS.map((a) => `deployment/${a}`)]);
}

export function stackJson(apps = APPS): string {
    return JSON.stringify({
        name: "cluster-test", headerName: "x-dev-session", interceptHeaderValue: "x-dev-session: pr-42",
        entryApp: apps[0], order: apps, propagationChain: apps, buildApps: apps,
        apps: Object.fromEntries(APPS.map((a) => [a, { name: a, namespace: TARGET_NS, containerPort: 8080, servicePort: 80, readinessPath: "/healthz" }])),
    });
}

/** Where the PR builds are pushed (the image-registry param). */
export const PR_IMAGE_REGISTRY = "registry.local:5000/pr";

export interface Run { id: string; name: string; ws: string }

export function newRun(label = "run"): Run {
    const id = randomUUID();
    return { id, name: `${label}-${id.slice(0, 8)}`, ws: tmpDir("ws-") };
}

/** The environment of deploy-intercept-mirrord / deploy-stack-intercepts for one run (params through env). */
export function deployEnv(run: Run, apps: string[], extra: Record<string, string> = {}): Record<string, string> {
    return {
        STACK_JSON: stackJson(), BUILD_APPS: apps.join(" "), PROPAGATION_CHAIN: apps.join(" "),
        // What containerize reports: exactly the build apps, each <image-registry>/<app>@sha256:<digest>.
        BUILT_IMAGES: JSON.stringify(Object.fromEntries(apps.map((a) => [a, `${PR_IMAGE_REGISTRY}/${a}@sha256:${createHash("sha256").update(a).digest("hex")}`]))),
        IMAGE_REGISTRY: PR_IMAGE_REGISTRY,
        INTERCEPT_HEADER_VALUE: "x-dev-session: pr-42", DEFAULT_NAMESPACE: TARGET_NS, TARGET_NAMESPACES: TARGET_NS,
        RUN_ID: run.id, RUN_NAME: run.name, LEASE_WAIT_SECONDS: "60", POD_READY_TIMEOUT_SECONDS: "30", POLL_INTERVAL_SECONDS: "1",
        MIRRORD_IMAGE: "registry.local/tekton-dag-build-mirrord:3.250.0", TELEPRESENCE_IMAGE: "registry.local/tekton-dag-telepresence:2.25.0",
        TRAFFIC_MANAGER_NAMESPACE: TELEPRESENCE_NS, SHARED_WORKSPACE: run.ws, RESULT_PATH: path.join(run.ws, "result"),
        ...extra,
    };
}

export function cleanupEnv(run: Run): Record<string, string> {
    return { RUN_ID: run.id, TARGET_NAMESPACES: TARGET_NS, DEFAULT_NAMESPACE: TARGET_NS };
}

export function sweepEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { TARGET_NAMESPACES: TARGET_NS, PIPELINES_NAMESPACE: PIPELINES_NS, MAX_AGE_SECONDS: "3600", MIN_AGE_SECONDS: "0", FINISHED_GRACE_SECONDS: "0", ...extra };
}

export const RUN_KINDS = ["pods", "jobs.batch", "configmaps", "leases.coordination.k8s.io"];

/** Every object labelled with the run (or with any run label when run is omitted): kind/name -> {uid, rv}. */
export function runObjects(runId?: string): Map<string, { uid: string; rv: string; run: string }> {
    const sel = runId ? `tekton-dag.io/run=${runId}` : "tekton-dag.io/run";
    const out = new Map<string, { uid: string; rv: string; run: string }>();
    const list = getJson(["get", RUN_KINDS.join(","), "-n", TARGET_NS, "-l", sel]);
    for (const o of list.items) {
        out.set(`${o.kind}/${o.metadata.name}`, { uid: o.metadata.uid, rv: o.metadata.resourceVersion, run: o.metadata.labels["tekton-dag.io/run"] });
    }
    return out;
}

/** Removes every run-labelled object as the admin (between tests), without waiting for graceful ends. */
export async function purgeRunObjects(): Promise<void> {
    await deleteSelected(RUN_KINDS, TARGET_NS, "tekton-dag.io/run", { force: true, wait: true });
    // The apps' shared intercept locks carry no run label; records of runs a test left would hold the apps.
    await deleteSelected(["leases.coordination.k8s.io"], TARGET_NS, "tekton-dag.io/role=intercept-lock", { wait: true });
    await deleteSelected(["pipelineruns.tekton.dev"], PIPELINES_NS, undefined);
}
