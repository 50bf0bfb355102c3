// The harness's in-process API client (kubeApi.ts) on the answers a busy API server gives: "retry after N s"
// (429, or 5xx while a new CRD's storage comes up) and a kept-alive connection the server closed just as the
// next request went out on it. Simulated: the API server, by a local HTTPS server that answers with the
// cluster's own server certificate; what is real is the client code and Node's agent under it.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { ADMIN_KUBECONFIG } from "./harness";
import { request } from "./kubeApi";
import { tmpDir } from "../support/tmpDir";

type Answer = (req: { method: string; url: string; onReusedSocket: boolean }, res: import("node:http").ServerResponse) => void;

/** A stand-in API server on 127.0.0.1 that answers each request with `answer`; returns a kubeconfig for it. */
async function standIn(answer: Answer): Promise<{ kubeconfig: string; seen: string[]; close: () => void }> {
    const certs = path.join(path.dirname(ADMIN_KUBECONFIG), "certs");
    assert.ok(fs.existsSync(path.join(certs, "server.crt")), `no ${certs}/server.crt: start the local cluster ('bash scripts/cluster.sh start'; scripts/test.sh does)`);
    const seen: string[] = [];
    const requestsOn = new WeakMap<object, number>();
    const server = https.createServer({ cert: fs.readFileSync(path.join(certs, "server.crt")), key: fs.readFileSync(path.join(certs, "server.key")) }, (req, res) => {
        const n = (requestsOn.get(req.socket) ?? 0) + 1;
        requestsOn.set(req.socket, n);
        seen.push(`${req.method} ${req.url}${n > 1 ? " (reused connection)" : ""}`);
        req.resume();
        req.on("end", () => answer({ method: req.method!, url: req.url!, onReusedSocket: n > 1 }, res));
    });
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    const port = (server.address() as AddressInfo).port;
    const kubeconfig = path.join(tmpDir("kubeapi-standin"), "kubeconfig");
    fs.writeFileSync(kubeconfig, JSON.stringify({
        apiVersion: "v1", kind: "Config", "current-context": "standin",
        clusters: [{ name: "standin", cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority": path.join(certs, "ca.crt") } }],
        users: [{ name: "admin", user: { "client-certificate": path.join(certs, "admin.crt"), "client-key": path.join(certs, "admin.key") } }],
        contexts: [{ name: "standin", context: { cluster: "standin", user: "admin" } }],
    }));
    return { kubeconfig, seen, close: () => { server.closeAllConnections(); server.close(); } };
}

function json(res: import("node:http").ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
}

describe("cluster: the harness's in-process API client on a busy API server's answers (simulated: the API server)", function () {
    this.timeout(60_000);

    it("waits and sends again when the server answers 429 or 503 with Retry-After, and returns the answer that follows", async () => {
        let calls = 0;
        const s = await standIn((_req, res) => {
            calls++;
            if (calls === 1) json(res, 429, { kind: "Status", reason: "TooManyRequests" }, { "Retry-After": "0" });
            else if (calls === 2) json(res, 503, { kind: "Status", message: "storage is (re)initializing" }, { "Retry-After": "0" });
            else json(res, 200, { kind: "PodList", items: [] });
        });
        try {
            const r = await request(s.kubeconfig, "GET", "/api/v1/namespaces/staging/pods");
            assert.equal(r.status, 200);
            assert.equal(r.body.kind, "PodList");
            assert.equal(s.seen.length, 3, `requests seen: ${s.seen.join(", ")}`);
        } finally { s.close(); }
    });

    it("returns a 5xx without Retry-After, and a 409, as they are: only the server's 'retry later' is retried", async () => {
        const s = await standIn((req, res) => req.method === "GET"
            ? json(res, 500, { kind: "Status", message: "internal error" })
            : json(res, 409, { kind: "Status", reason: "AlreadyExists" }, { "Retry-After": "0" }));
        try {
            assert.equal((await request(s.kubeconfig, "GET", "/api/v1/pods")).status, 500);
            assert.equal((await request(s.kubeconfig, "POST", "/api/v1/namespaces/staging/pods", {})).status, 409);
            assert.deepEqual(s.seen.map((r) => r.replace(" (reused connection)", "")), ["GET /api/v1/pods", "POST /api/v1/namespaces/staging/pods"]);
        } finally { s.close(); }
    });

    it("sends a GET or PATCH again on a new connection when the server closed the kept-alive one as it went out; never a POST", async () => {
        // The server answers the first request of each connection and drops the connection on the second,
        // without an answer: what a client sees when the server's idle timeout closes a socket it reuses.
        const s = await standIn((req, res) => req.onReusedSocket ? res.socket!.destroy() : json(res, 200, { kind: "Status", status: "Success" }));
        try {
            assert.equal((await request(s.kubeconfig, "GET", "/api/v1/namespaces")).status, 200);
            assert.equal((await request(s.kubeconfig, "GET", "/api/v1/namespaces")).status, 200, "a GET on the dropped connection is sent again");
            assert.equal((await request(s.kubeconfig, "PATCH", "/api/v1/namespaces/staging", {}, { contentType: "application/merge-patch+json" })).status, 200);
            await assert.rejects(request(s.kubeconfig, "POST", "/api/v1/namespaces/staging/pods", {}), /POST https:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/staging\/pods: socket hang up/,
                "a POST that may have reached the server is not sent twice: the caller hears of it");
            assert.equal(s.seen.filter((r) => r.startsWith("POST")).length, 1, `requests seen: ${s.seen.join(", ")}`);
        } finally { s.close(); }
    });

    it("opens a new connection for a request after a kept-alive one sat idle for over 30 s, so a POST then never meets the server's idle close", async () => {
        // The API server closes connections idle for 90 s; this stand-in drops every reused one, so only a
        // request on a new connection gets an answer. The clock is moved on instead of waited on.
        const s = await standIn((req, res) => req.onReusedSocket ? res.socket!.destroy() : json(res, 201, { kind: "TokenRequest" }));
        const realNow = Date.now;
        try {
            assert.equal((await request(s.kubeconfig, "GET", "/api/v1/namespaces")).status, 201);
            const freed = realNow();
            Date.now = () => freed + 31_000;
            const r = await request(s.kubeconfig, "POST", "/api/v1/namespaces/tekton-dag/serviceaccounts/x/token", {});
            assert.equal(r.status, 201, "the POST went out on a new connection");
            assert.deepEqual(s.seen, ["GET /api/v1/namespaces", "POST /api/v1/namespaces/tekton-dag/serviceaccounts/x/token"]);
        } finally {
            Date.now = realNow;
            s.close();
        }
    });
});
