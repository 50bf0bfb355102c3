// A seeded soak of the intercept lock (docs/intercept-lock.md) on the real API server: waves of concurrent
// Telepresence and mirrord runs on two apps, headers that sometimes collide, some deploys SIGKILLed at a random
// step (their cleanup never runs: the sweeper removes them, as the CronJob would). Simulated: the proxy pods'
// containers (test/cluster/standins.ts) and Tekton (PipelineRuns are plain objects; a killed run has none).
// Checked: every state the locks were written in kept its promise, every live run deployed, nothing leaked.
import { strict as assert } from "node:assert";
import { auditMark } from "../audit";
import { Run, runObjects, ScriptRun } from "../harness";
import { deploySuite } from "../standins";
import { ok } from "./lifecycle-fixtures";
import { assertHoldersCompatible, Backend, cleanup, deployAs, liveRun, lockRecords, lockStates, runGone, sweep } from "./lock-fixtures";
import { rng } from "../../support/rng";

const APPS = ["demo-fe", "demo-api"];

describe("cluster: seeded soak of the intercept lock, both backends (proxy containers and Tekton simulated)", function () {
    this.timeout(1_800_000);
    deploySuite();

    it("waves of Telepresence and mirrord runs, some killed mid-deploy: holders always compatible, every live run deploys, nothing leaks", async () => {
        const seed = Number(process.env.TEKTON_DAG_LOCK_SOAK_SEED ?? 7);
        const waves = Number(process.env.TEKTON_DAG_LOCK_SOAK_WAVES ?? 8);
        const random = rng(seed);
        const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
        const mark = auditMark();
        const all: Run[] = [];
        const counts = new Map<string, number>();
        const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
        let waited = 0;
        // The sweeper's passes, one at a time, as the CronJob's are.
        let sweeping: Promise<void> = Promise.resolve();
        const sweepNow = () => (sweeping = sweeping.then(async () => ok(await sweep())));
        const t0 = Date.now();

        for (let w = 0; w < waves; w++) {
            const size = 2 + Math.floor(random() * 3);
            const jobs: Promise<void>[] = [];
            for (let i = 0; i < size; i++) {
                const backend: Backend = random() < 0.65 ? "telepresence" : "mirrord";
                const apps = random() < 0.3 ? APPS : [pick(APPS)];
                const header = `pr-${1 + Math.floor(random() * 4)}`; // four headers: some runs collide
                // 1 = right after the first lock; larger: later steps (a pod created, Ready, ...).
                const killAt = random() < 0.3 ? 1 + Math.floor(random() * 4) : undefined;
                const run = liveRun(`soak-${w}-${i}`);
                all.push(run);
                jobs.push((async () => {
                    const d: ScriptRun = await deployAs(run, backend, header, apps, { killAfterStep: killAt });
                    if (/waiting for lease/.test(d.stderr)) waited++;
                    if (d.killedAfter) {
                        count(`killed (${backend})`);
                        runGone(run);
                        await sweepNow(); // its run is gone: the sweeper removes its records and objects
                        return;
                    }
                    if (killAt) count(`finished before step ${killAt} (${backend})`);
                    ok(d);
                    count(`deployed (${backend})`);
                    ok(await cleanup(run));
                })());
            }
            await Promise.all(jobs);
        }
        await sweepNow(); // a last pass, as the CronJob's next one
        const wall = Date.now() - t0;

        const ids = new Set(all.map((r) => r.id));
        const leaked = [...runObjects()].filter(([, o]) => ids.has(o.run)).map(([k]) => k);
        const records = APPS.flatMap((app) => lockRecords(app).map((r) => `${app}: ${r.pipelineRun} ${r.state}`));
        let states = 0;
        let shared = 0;
        for (const app of APPS) {
            const s = lockStates(mark, app);
            states += s.length;
            shared += assertHoldersCompatible(s);
        }
        const rows: [string, string | number][] = [
            ["seed", seed], ["runs", all.length], ["wall time", `${(wall / 1000).toFixed(1)} s`],
            ...[...counts].sort().map(([k, v]) => [k, v] as [string, number]),
            ["runs that logged waiting", waited], ["lock states written", states], ["states with several holders", shared],
            ["leaked objects", leaked.length], ["records left", records.length],
        ];
        const width = Math.max(...rows.map(([k]) => k.length));
        console.log(`\n    intercept lock soak\n${rows.map(([k, v]) => `    ${k.padEnd(width)}  ${v}`).join("\n")}\n`);
        assert.deepEqual(leaked, [], "objects of soak runs left behind");
        assert.deepEqual(records, [], "lock records left behind");
        assert.ok(shared > 0, "no two runs ever held an app together: the soak did not exercise the shared mode");
    });
});
