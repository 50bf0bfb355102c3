// Tekton's controllers, interceptors and the EventListener sink killed (SIGKILL) while a run is in flight,
// then started again with scripts/cluster.sh: the run still ends, as Tekton's controller picks its state up
// from the API server, and after the orphan sweeper (its real script, as its CronJob's ServiceAccount)
// nothing of any run is left. Real scripts and simulated parts as test/tekton/real-steps.ts says.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN_KUBECONFIG, cluster, PIPELINE_SA, runObjects, runScriptAs, sleep, sweepEnv } from "../cluster/harness";
import { APP_REPOS, realPlan, realStepSuite } from "./real-steps";
import { post, prDelivery, runFor, startSink } from "./sink";
import { controllersRunning, succeeded, waitDone } from "./tekton";
import { REPO } from "../support/repo";

const PIDS = path.join(path.dirname(ADMIN_KUBECONFIG), "pids");

function alive(pid: number): boolean {
    try { process.kill(pid, 0); return true; } catch { return false; }
}

/** SIGKILLs every process tekton-start and tekton-sink recorded; returns their names once all are gone. */
async function killTekton(): Promise<string[]> {
    const killed: Array<{ name: string; pid: number }> = [];
    for (const name of fs.readdirSync(PIDS).filter((f) => f.startsWith("tekton-"))) {
        const pid = Number(fs.readFileSync(path.join(PIDS, name), "utf8"));
        if (pid > 0 && alive(pid)) {
            process.kill(pid, "SIGKILL");
            killed.push({ name, pid });
        }
    }
    for (const end = Date.now() + 30_000; killed.some((k) => alive(k.pid)); await sleep(100)) {
        if (Date.now() > end) throw new Error(`still alive after SIGKILL: ${killed.filter((k) => alive(k.pid)).map((k) => k.name).join(", ")}`);
    }
    return killed.map((k) => k.name).sort();
}

describe("the controllers, interceptors and sink SIGKILLed mid-run and started again: the run ends and the sweeper leaves nothing (real controllers and sink; real scripts: resolve-stack, deploy, cleanup, pr-comment, sweep-orphans; simulated: git clones, build, hooks, tests, validation HTTP, the Telepresence CLI in the proxy pods, GitHub)", function () {
    this.timeout(900_000);
    const suite = realStepSuite();
    let killed: string[] = [];
    let first: any;
    let second: any;

    before(async () => {
        cluster();
        const url = startSink();
        let reached!: () => void;
        const atValidation = new Promise<void>((r) => { reached = r; });
        let open!: () => void;
        const restarted = new Promise<void>((r) => { open = r; });
        suite.runner.defaultPlan = realPlan(suite.github, { gates: { "validate-stack-propagation": () => { reached(); return restarted; } } });
        await post(url, prDelivery("opened", APP_REPOS["demo-fe"], 61));
        const run = await runFor(61);
        // The intercept is up and validation is running: everything Tekton holds is mid-flight.
        await suite.runner.orFailure(atValidation);
        killed = await killTekton();
        const start = spawnSync("bash", [path.join(REPO, "scripts", "cluster.sh"), "tekton-start"], { encoding: "utf8" });
        assert.equal(start.status, 0, `tekton-start after the kill: ${start.stderr}`);
        controllersRunning();
        // The sink comes back too, on a new port, and takes deliveries again.
        const url2 = startSink();
        open();
        first = await waitDone(run.metadata.name, suite.runner.errors, 600_000);
        await post(url2, prDelivery("opened", APP_REPOS["demo-api"], 62));
        second = await waitDone((await runFor(62)).metadata.name, suite.runner.errors, 600_000);
    });

    it("killed the pipelines and triggers controllers, the interceptors and the sink", () => {
        for (const name of ["tekton-pipelines-controller", "tekton-triggers-controller", "tekton-interceptors"]) assert.ok(killed.includes(name), killed.join(", "));
        assert.ok(killed.some((n) => n.startsWith("tekton-eventlistenersink")), killed.join(", "));
    });

    it("the run in flight completes after the restart, and a delivery to the restarted sink starts a run that completes", () => {
        assert.equal(succeeded(first).status, "True", JSON.stringify(succeeded(first)));
        assert.equal(succeeded(second).status, "True", JSON.stringify(succeeded(second)));
    });

    it("after the orphan sweeper, no object of any run is left", async () => {
        const r = await runScriptAs("sweep-orphans.sh", sweepEnv(), PIPELINE_SA);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual([...runObjects().keys()], []);
    });
});
