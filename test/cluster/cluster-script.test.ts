// scripts/cluster.sh and scripts/cluster-build.sh on bad input: each error names what is wrong. Runs a
// second, throw-away cluster state dir; never touches the running cluster.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { REPO } from "../support/repo";
import { cleanTmpDirs, tmpDir } from "../support/tmpDir";

function cluster(args: string[], env: Record<string, string>) {
    return spawnSync("bash", [path.join(REPO, "scripts", "cluster.sh"), ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 });
}

describe("cluster: scripts/cluster.sh names its errors", function () {
    this.timeout(180_000);

    it("env and status without a kubeconfig name the missing file and how to start", () => {
        const dir = tmpDir("no-cluster-");
        const r = cluster(["env"], { TEKTON_DAG_CLUSTER_DIR: dir });
        assert.equal(r.status, 1);
        assert.match(r.stderr, new RegExp(`no kubeconfig at ${dir}/admin.kubeconfig; start the cluster with 'bash scripts/cluster.sh start'`));
        const s = cluster(["status"], { TEKTON_DAG_CLUSTER_DIR: dir });
        assert.notEqual(s.status, 0);
        assert.match(s.stdout, /kube-apiserver\s+not running/);
    });

    it("start on an API server port in use names the port and starts nothing", async () => {
        const server = net.createServer().listen(0, "127.0.0.1");
        await new Promise((r) => server.once("listening", r));
        const port = (server.address() as net.AddressInfo).port;
        const dir = tmpDir("busy-port-");
        try {
            const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
                // spawnSync would block the event loop that holds the port open: run it asynchronously.
                const child = spawn("bash", [path.join(REPO, "scripts", "cluster.sh"), "start"],
                    { env: { ...process.env, TEKTON_DAG_CLUSTER_DIR: dir, TEKTON_DAG_CLUSTER_PORT: String(port) } });
                let stderr = "";
                child.stderr.on("data", (d: Buffer) => { stderr += d; });
                child.on("close", (status: number | null) => resolve({ status, stderr }));
            });
            assert.equal(r.status, 1);
            assert.match(r.stderr, new RegExp(`port ${port} on 127.0.0.1 \\(TEKTON_DAG_CLUSTER_PORT\\) is in use by another process`));
            assert.deepEqual(fs.existsSync(path.join(dir, "pids")) ? fs.readdirSync(path.join(dir, "pids")) : [], []);
        } finally {
            server.close();
        }
    });

    it("rejects a port that is not a number", () => {
        const r = cluster(["start"], { TEKTON_DAG_CLUSTER_DIR: tmpDir("bad-port-"), TEKTON_DAG_CLUSTER_PORT: "80x" });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /TEKTON_DAG_CLUSTER_PORT must be a port number 1024-65535; got '80x'/);
    });

    it("a binary that fails to build is named, with the end of its log, and nothing starts", () => {
        // An empty module cache and no proxy: the first go build cannot get its modules.
        const r = cluster(["start"], {
            TEKTON_DAG_CLUSTER_DIR: tmpDir("no-build-"), TEKTON_DAG_CLUSTER_BIN: tmpDir("no-bin-"),
            GOMODCACHE: tmpDir("no-mods-"), GOPROXY: "off", GOFLAGS: "-mod=mod",
        });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /cluster-build: FAILED to build etcd \(tools\/kube-control-plane\/etcd\) after \d+s; last lines of .*build-etcd\.log:\n.*\n?module lookup disabled by GOPROXY=off/);
        assert.match(r.stderr, /a control-plane binary failed to build \(see the lines above\); nothing started/);
    });

    it("a PID file naming a process that is not the component does not count as running", () => {
        const dir = tmpDir("stale-pid-");
        fs.mkdirSync(path.join(dir, "pids"));
        // This test's own node process: alive, but not etcd (as after the kernel reused etcd's PID).
        fs.writeFileSync(path.join(dir, "pids", "etcd"), String(process.pid));
        const r = cluster(["status"], { TEKTON_DAG_CLUSTER_DIR: dir });
        assert.notEqual(r.status, 0);
        assert.match(r.stdout, /etcd\s+not running/);
    });

    it("start that fails after etcd and the API server are up stops what it launched", () => {
        const dir = tmpDir("half-start-");
        /** Processes whose command line names the throw-away state dir: only what this start launched. */
        const launched = () => fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
            try { return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir); } catch { return false; }
        }).map(Number);
        // With an empty module cache and no proxy the CRD step fails, after every component was launched
        // (the binaries are built already, so their build needs no modules).
        try {
            const r = cluster(["start"], { TEKTON_DAG_CLUSTER_DIR: dir, GOMODCACHE: tmpDir("no-mods-"), GOPROXY: "off" });
            assert.equal(r.status, 1, r.stderr);
            assert.match(r.stderr, /API server ready on/);
            assert.match(r.stderr, /could not download github.com\/tektoncd\/pipeline@v[\d.]+ from the Go module proxy \(GOPROXY=off\)/);
            assert.match(r.stderr, /stopped 5 process\(es\)/);
            assert.deepEqual(launched(), []);
            assert.deepEqual(fs.readdirSync(path.join(dir, "pids")), []);
        } finally {
            for (const pid of launched()) try { process.kill(pid, "SIGKILL"); } catch { /* gone */ }
        }
    });

    it("the harness's temp dirs (token kubeconfigs among them) are removed by cleanTmpDirs, which its root after hook runs", () => {
        const dir = tmpDir("cleanup-");
        const other = tmpDir("cleanup-other-");
        fs.writeFileSync(path.join(dir, "sa.kubeconfig"), "token: not-a-real-one\n");
        // Only this test's dir: the later suites made theirs when their files were loaded.
        cleanTmpDirs([dir]);
        assert.equal(fs.existsSync(dir), false);
        assert.equal(fs.existsSync(other), true, "a dir it was not given stays until the run ends");
        cleanTmpDirs([other]);
    });

    it("unknown commands get the usage", () => {
        const r = cluster(["restart"], {});
        assert.equal(r.status, 1);
        assert.match(r.stderr, /usage: bash scripts\/cluster.sh start\|stop\|status\|env\|tekton-start\|tekton-stop\|tekton-sink NS NAME \(got 'restart'\)/);
    });
});
