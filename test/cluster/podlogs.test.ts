// The pod-log path scripts/cluster.sh sets up: the API server proxies pods/log (after RBAC) to kwok's endpoint
// on 127.0.0.1, which serves what the test wrote (podlogs.ts). Also what that endpoint exposes.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { ADMIN_KUBECONFIG, cluster, credentials, installRbac, kubectl, kubectlOk, PIPELINE_SA, PR_CODE_SA, TARGET_NS } from "./harness";
import { PodLog } from "./podlogs";
import { tmpDir } from "../support/tmpDir";

const STATE = path.dirname(ADMIN_KUBECONFIG);
const POD = "tekton-dag-podlogs-check";

function kwokPort(): number {
    const m = /^kwok=(\d+)$/m.exec(fs.readFileSync(path.join(STATE, "ports"), "utf8"));
    assert.ok(m, "cluster.sh records kwok's port in .cluster/ports");
    return Number(m[1]);
}

/** GET over TLS, trusting only the cluster's CA. */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        https.get({ host: "127.0.0.1", port, path: urlPath, ca: fs.readFileSync(path.join(STATE, "certs", "ca.crt")) }, (res) => {
            let body = "";
            res.on("data", (d) => { body += d; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        }).on("error", reject);
    });
}

/** Local addresses (hex, as /proc/net/tcp* shows them) listening on a port. */
function listeners(port: number): string[] {
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) => fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").slice(1) : [])
        .map((l) => l.trim().split(/\s+/)).filter((c) => c[3] === "0A" && c[1]?.endsWith(`:${hexPort}`)).map((c) => c[1].split(":")[0]);
}

describe("cluster: pod logs through the API server from kwok's endpoint (no container runs: the test writes the log)", function () {
    this.timeout(120_000);
    let log: PodLog;

    before(async () => {
        await installRbac();
        kubectlOk(["run", POD, "-n", TARGET_NS, "--image", "registry.local/logs-check:1", "--restart", "Never"]);
        kubectlOk(["wait", "--for", "condition=Ready", `pod/${POD}`, "-n", TARGET_NS, "--timeout", "60s"]);
        log = await PodLog.attach(TARGET_NS, POD);
    });
    after(() => {
        log?.detach();
        kubectl(["delete", "pod", POD, "-n", TARGET_NS, "--grace-period", "0", "--force", "--ignore-not-found"]);
    });

    it("the node sends the API server to kwok on 127.0.0.1, which listens on loopback only", () => {
        const port = kwokPort();
        const node = JSON.parse(kubectlOk(["get", "node", "kwok-node-0", "-o", "json"]));
        assert.deepEqual(node.status.addresses.filter((a: any) => a.type === "InternalIP").map((a: any) => a.address), ["127.0.0.1"]);
        assert.equal(node.status.daemonEndpoints.kubeletEndpoint.Port, port);
        const addrs = listeners(port);
        assert.ok(addrs.length > 0, `nothing listens on ${port}`);
        assert.deepEqual([...new Set(addrs)], ["0100007F"], `kwok listens beyond 127.0.0.1: ${addrs.join(" ")}`);
    });

    it("kwok's certificate is the cluster CA's for 127.0.0.1, and its profiling handler is off", async () => {
        const port = kwokPort();
        const health = await get(port, "/healthz");
        assert.equal(health.status, 200);
        const pprof = await get(port, "/debug/pprof/");
        assert.doesNotMatch(pprof.body, /goroutine|heap/, "pprof answers");
        assert.match(pprof.body, /profiling endpoint is disabled/);
    });

    it("kubectl logs returns the lines written, --since leaves out older ones, --timestamps shows the written times", () => {
        const old = new Date(Date.now() - 3600_000);
        log.write(["started an hour ago"], old);
        log.write(["just now", "and again"]);
        log.write("to stderr", new Date(), "stderr");
        assert.equal(kubectlOk(["logs", POD, "-n", TARGET_NS]), "started an hour ago\njust now\nand again\nto stderr\n");
        assert.equal(kubectlOk(["logs", POD, "-n", TARGET_NS, "--since=60s"]), "just now\nand again\nto stderr\n");
        assert.match(kubectlOk(["logs", POD, "-n", TARGET_NS, "--timestamps", "--tail=4"]).split("\n")[0], new RegExp(`^${old.toISOString().slice(0, 19)}\\.\\d+Z started an hour ago$`));
    });

    it("pods/log is authorized by RBAC: tekton-dag-pipeline reads it in the target namespace, tekton-dag-pr-code is Forbidden", async () => {
        const run = async (account: typeof PIPELINE_SA) => spawnSync("kubectl", ["logs", POD, "-n", TARGET_NS], {
            encoding: "utf8", env: { PATH: `${cluster().bin}:/usr/bin:/bin`, HOME: tmpDir("kubectl-home-"), KUBECONFIG: (await credentials(account)).kubeconfig },
        });
        const ok = await run(PIPELINE_SA);
        assert.equal(ok.status, 0, ok.stderr);
        const denied = await run(PR_CODE_SA);
        assert.notEqual(denied.status, 0);
        assert.match(denied.stderr, /Forbidden/);
    });
});
