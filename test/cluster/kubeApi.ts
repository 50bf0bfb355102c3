// The harness's own requests to the local API server, made in-process over HTTPS as the admin (the client
// certificate of the admin kubeconfig) instead of by spawning kubectl. Why: the real-API stage is CPU-bound on
// two cores, and each kubectl process costs about 0.1 s of CPU (start, config, discovery, TLS) for a request
// the API server answers in a millisecond; the stand-ins' loops and the waits on RBAC made thousands of them
// (issue 18). Only the tests' own view goes through here: task scripts keep running their real kubectl as the
// ServiceAccount their Task runs as.
import * as fs from "node:fs";
import * as https from "node:https";
import type { Socket } from "node:net";
import * as YAML from "yaml";

export interface ApiResponse { status: number; text: string; body: any; retryAfter?: number }

export interface RequestOptions {
    /** Content-Type of the body (JSON by default; e.g. application/merge-patch+json). */
    contentType?: string;
    /** Acts as this user (Impersonate-User), as `kubectl --as` does: e.g. system:serviceaccount:ns:name. */
    impersonate?: string;
    /** A bearer token instead of the admin's certificate (a ServiceAccount's own requests). */
    token?: string;
}

interface Client { server: URL; agent: https.Agent; ca: Buffer }
const clients = new Map<string, Client>();

/** The client of a kubeconfig (server, CA, and the admin's certificate), made once per file. */
function client(kubeconfig: string): Client {
    let c = clients.get(kubeconfig);
    if (!c) {
        const kc = YAML.parse(fs.readFileSync(kubeconfig, "utf8"));
        const cluster = kc.clusters[0].cluster;
        const user = kc.users[0].user;
        const ca = fs.readFileSync(cluster["certificate-authority"]);
        // Keep-alive: one TLS handshake serves many requests (idle sockets do not hold the process open).
        const agent = new https.Agent({
            keepAlive: true, maxSockets: 16, ca,
            cert: user["client-certificate"] ? fs.readFileSync(user["client-certificate"]) : undefined,
            key: user["client-key"] ? fs.readFileSync(user["client-key"]) : undefined,
        });
        c = { server: new URL(cluster.server), agent: tracked(agent), ca };
        clients.set(kubeconfig, c);
    }
    return c;
}

/** Retries of a request the API server asked to retry later: client-go's limit, which kubectl has. */
const MAX_RETRIES = 10;

/**
 * One request; resolves with any HTTP status (the caller decides what a 404 or 409 means). A response that
 * says when to retry (429 or 5xx with Retry-After, e.g. "storage is (re)initializing" while a new CRD's
 * storage comes up) is retried after that wait, as client-go does for kubectl.
 */
export async function request(kubeconfig: string, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<ApiResponse> {
    for (let attempt = 0; ; attempt++) {
        let r: ApiResponse;
        try {
            r = await requestOnce(kubeconfig, method, path, body, opts);
        } catch (e) {
            // A kept-alive socket the server closed as this request went out ("socket hang up", ECONNRESET):
            // the request never reached it, and Go's HTTP client (kubectl's) sends it again on a new connection.
            // Not for POST: a create might have been received.
            if (!(e as { reusedSocket?: boolean }).reusedSocket || method === "POST" || attempt >= MAX_RETRIES) throw e;
            continue;
        }
        if (r.retryAfter === undefined || !(r.status === 429 || r.status >= 500) || attempt >= MAX_RETRIES) return r;
        await new Promise((done) => setTimeout(done, r.retryAfter! * 1000));
    }
}

// ---- kept-alive sockets the API server is about to close ----------------------------------------------
// The API server closes a connection idle for 90 s (k8s.io/apiserver's secure serving, IdleTimeout). A request
// sent on such a socket as it closes fails with "socket hang up", and a POST cannot be sent again (a CI run under
// load failed so, creating a token). Node's agent drops a closed socket only once its event loop sees the close,
// and the tests block that loop (spawnSync of kubectl) while sockets sit idle in the pool; so
// the age of each free socket is checked before every request, and one idle for longer than this is closed.
const MAX_IDLE_MS = 30_000;
const freedAt = new WeakMap<Socket, number>();

function tracked(agent: https.Agent): https.Agent {
    agent.on("free", (socket: Socket) => freedAt.set(socket, Date.now()));
    return agent;
}

/** Closes, and takes out of the agent's pool, every free socket idle for longer than MAX_IDLE_MS. */
function dropIdleSockets(agent: https.Agent): void {
    const now = Date.now();
    const pools = agent.freeSockets as Record<string, Socket[] | undefined>;
    for (const [name, pool] of Object.entries(pools)) {
        if (!pool) continue;
        const stale = pool.filter((s) => now - (freedAt.get(s) ?? now) > MAX_IDLE_MS);
        if (!stale.length) continue;
        // Taken out here, not left to the close event: the agent would hand out a destroyed socket meanwhile.
        const fresh = pool.filter((s) => !stale.includes(s));
        if (fresh.length) pools[name] = fresh;
        else delete pools[name];
        for (const s of stale) s.destroy();
    }
}

function requestOnce(kubeconfig: string, method: string, path: string, body: unknown, opts: RequestOptions): Promise<ApiResponse> {
    const c = client(kubeconfig);
    dropIdleSockets(opts.token ? tokenAgent(c) : c.agent);
    const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (data !== undefined) {
        headers["Content-Type"] = opts.contentType ?? "application/json";
        headers["Content-Length"] = String(Buffer.byteLength(data));
    }
    if (opts.impersonate) headers["Impersonate-User"] = opts.impersonate;
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: c.server.hostname, port: c.server.port, method, path, headers,
            // A bearer-token request must not present the admin's certificate: it gets an agent without it.
            agent: opts.token ? tokenAgent(c) : c.agent,
        }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                let parsed: any;
                try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = undefined; }
                const retryAfter = Number(res.headers["retry-after"]);
                resolve({ status: res.statusCode ?? 0, text, body: parsed, retryAfter: Number.isInteger(retryAfter) && retryAfter >= 0 ? retryAfter : undefined });
            });
            res.on("error", reject);
        });
        req.on("error", (e) => reject(Object.assign(new Error(`${method} ${c.server.origin}${path}: ${e.message}`),
            { reusedSocket: req.reusedSocket && ["ECONNRESET", "EPIPE"].includes((e as NodeJS.ErrnoException).code ?? "") })));
        req.end(data);
    });
}

const tokenAgents = new WeakMap<Client, https.Agent>();
function tokenAgent(c: Client): https.Agent {
    let a = tokenAgents.get(c);
    if (!a) tokenAgents.set(c, (a = tracked(new https.Agent({ keepAlive: true, maxSockets: 16, ca: c.ca }))));
    return a;
}

/** The API server's message for a failed request (its Status object), or the raw text. */
export function failure(method: string, path: string, r: ApiResponse): Error {
    const message = r.body?.message ?? r.text.trim();
    const reason = r.body?.reason ? ` (${r.body.reason})` : "";
    return new Error(`${method} ${path}: HTTP ${r.status}${reason}: ${message}`);
}

/** A request that must succeed (2xx); resolves with the parsed body. */
export async function requestOk(kubeconfig: string, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<any> {
    const r = await request(kubeconfig, method, path, body, opts);
    if (r.status < 200 || r.status >= 300) throw failure(method, path, r);
    return r.body;
}

// ---- where a resource lives: "pods", "jobs.batch", "leases.coordination.k8s.io" as kubectl names them ----

/** API group versions of the resources the harness reads and writes (group -> version). */
const VERSIONS: Record<string, string> = {
    "": "v1", apps: "v1", batch: "v1", "coordination.k8s.io": "v1", "rbac.authorization.k8s.io": "v1",
    "tekton.dev": "v1", "triggers.tekton.dev": "v1beta1", "authorization.k8s.io": "v1",
};

/** Splits kubectl's "resource.group" into its resource and group. */
export function splitResource(resource: string): { resource: string; group: string } {
    const dot = resource.indexOf(".");
    return dot < 0 ? { resource, group: "" } : { resource: resource.slice(0, dot), group: resource.slice(dot + 1) };
}

/** The URL path of a resource (collection, or one object when name is given) in a namespace (or cluster-wide). */
export function resourcePath(resource: string, namespace?: string, name?: string): string {
    const { resource: res, group } = splitResource(resource);
    const version = VERSIONS[group];
    if (!version) throw new Error(`the in-process client knows no version of API group "${group}" (resource ${resource}); add it to VERSIONS`);
    const base = group ? `/apis/${group}/${version}` : "/api/v1";
    return `${base}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ""}/${res}${name ? `/${encodeURIComponent(name)}` : ""}`;
}

/** A query string from the defined values. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
    const s = q.toString();
    return s ? `?${s}` : "";
}
