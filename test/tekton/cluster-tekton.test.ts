// scripts/cluster.sh tekton-start's refusals, against the running controllers: a second start in the same
// checkout, and a start from another checkout (another state dir) while this one holds the fixed ports.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN_KUBECONFIG, cluster } from "../cluster/harness";
import { controllersRunning } from "./tekton";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

const STATE = path.dirname(ADMIN_KUBECONFIG);

function clusterSh(args: string[], env: Record<string, string> = {}) {
    return spawnSync("bash", [path.join(REPO, "scripts", "cluster.sh"), ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

describe("scripts/cluster.sh tekton-start refuses to start twice (real controllers running)", function () {
    this.timeout(120_000);
    before(() => { cluster(); controllersRunning(); });

    it("in the same checkout: names the running controller and says to stop it first", () => {
        const r = clusterSh(["tekton-start"]);
        assert.equal(r.status, 1);
        const pid = fs.readFileSync(path.join(STATE, "pids", "tekton-pipelines-controller"), "utf8").trim();
        assert.match(r.stderr, new RegExp(`Tekton's controllers already run \\(tekton-pipelines-controller pid ${pid}\\); 'bash scripts/cluster.sh tekton-stop' first`));
    });

    it("from another checkout while 8080 is taken: names the process holding the port, starts nothing", () => {
        // Another checkout's state dir, pointing at the same API server (its own pids/: nothing of its own runs).
        const other = tmpDir("other-checkout-");
        fs.copyFileSync(ADMIN_KUBECONFIG, path.join(other, "admin.kubeconfig"));
        const r = clusterSh(["tekton-start"], { TEKTON_DAG_CLUSTER_DIR: other });
        assert.equal(r.status, 1, r.stderr);
        const pid = fs.readFileSync(path.join(STATE, "pids", "tekton-pipelines-controller"), "utf8").trim();
        assert.match(r.stderr, new RegExp(`port 8080 on 127\\.0\\.0\\.1 is held by pid ${pid} \\(\\S*tekton-pipelines-controller `));
        assert.match(r.stderr, /only one checkout per machine can run them/);
        assert.ok(!fs.existsSync(path.join(other, "pids")) || fs.readdirSync(path.join(other, "pids")).length === 0, "the refused start launched something");
    });
});
