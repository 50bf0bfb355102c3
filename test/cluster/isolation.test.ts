// Isolation, concurrency and faults of the intercept scripts on a real API server, each script running as
// tekton-dag-pipeline: Leases, label-selected deletes with --wait, Job garbage collection and the sweeper
// behave as the scripts assume. Simulated: the proxy containers (standins.ts) and the Tekton controller
// (a "run" is the deploy script, then the finally cleanup, started here; PipelineRuns are plain objects).
import { strict as assert } from "node:assert";
import { auditMark, auditSince } from "./audit";
import {
    APPS, awaitedLine, cleanupEnv, deployEnv, getJson, kubectlOk, newRun, PIPELINE_SA, PIPELINES_NS, purgeRunObjects, Run, runObjects, runScriptAs, ScriptRun, STEP_MARKER, sweepEnv,
} from "./harness";
import { deploySuite, ProxyPods } from "./standins";
import { rng } from "../support/rng";

let proxies: ProxyPods;

const deploy = (run: Run, apps: string[], extra: Record<string, string> = {}, killAfterStep?: number, backend = "mirrord",
    onLine?: (line: string) => void) =>
    runScriptAs(backend === "mirrord" ? "deploy-intercept-mirrord.sh" : "deploy-stack-intercepts.sh", deployEnv(run, apps, extra), PIPELINE_SA, { killAfterStep, onLine });
const cleanup = (run: Run, killAfterStep?: number) => runScriptAs("cleanup-stack-intercepts.sh", cleanupEnv(run), PIPELINE_SA, { killAfterStep });
const sweep = (extra: Record<string, string> = {}) => runScriptAs("sweep-orphans.sh", sweepEnv(extra), PIPELINE_SA);
const ok = (r: ScriptRun) => assert.equal(r.status, 0, `${r.script} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
const steps = (r: ScriptRun) => r.stderr.split("\n").filter((l) => STEP_MARKER.test(l));

/** Each object as "Kind/name uid": the same list means the same objects, none deleted and made again. */
const identities = (objects: Map<string, { uid: string }>) => [...objects].map(([k, o]) => `${k} ${o.uid}`).sort();

/**
 * The writes (any verb but get, list, watch) the audit log shows since `mark` by the given script runs'
 * tokens to objects of these names. Resource versions cannot tell: controllers move them (the stand-in pods'
 * and the agent Job's status).
 */
function writesBy(mark: number, runs: ScriptRun[], objects: Map<string, unknown>) {
    const tokens = new Set(runs.map((r) => r.tokenId));
    assert.ok(runs.every((r) => r.tokenId), "each script ran with a token of its own");
    const names = new Set([...objects.keys()].map((k) => k.split("/")[1]));
    return auditSince(mark).filter((e) => e.tokenId && tokens.has(e.tokenId) && names.has(e.name) && !["get", "list", "watch"].includes(e.verb));
}

/** A PipelineRun object (no Tekton controller runs): its uid is the run id the scripts label with. */
function livePipelineRun(label: string): Run {
    const name = `${label}-${Math.random().toString(36).slice(2, 8)}`;
    const pr = JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun", metadata: { name, namespace: PIPELINES_NS },
        spec: { pipelineRef: { name: "stack-pr-test" } },
    })));
    const run = newRun(label);
    return { ...run, id: pr.metadata.uid, name };
}

describe("cluster: isolation, concurrency and faults on a real API server (proxy containers and Tekton simulated)", function () {
    this.timeout(900_000);

    proxies = deploySuite().proxies;
    afterEach(() => purgeRunObjects());

    it("two runs on one app: the second waits on the Lease, then proceeds when the first cleans up", async () => {
        const a = newRun("first");
        const b = newRun("second");
        ok(await deploy(a, ["demo-fe"]));
        const waiting = awaitedLine(/waiting for lease staging\/tekton-dag-intercept-demo-fe/);
        const second = deploy(b, ["demo-fe"], { LEASE_WAIT_SECONDS: "120" }, undefined, "mirrord", waiting.onLine);
        await waiting.waitFor(second);
        ok(await cleanup(a));
        const r = await second;
        ok(r);
        assert.match(r.stderr, new RegExp(`waiting for lease staging/tekton-dag-intercept-demo-fe \\(exclusive, mirrord\\): held by PipelineRun ${a.name} \\(run ${a.id}, header x-dev-session: pr-42, mirrord, exclusive\\)`));
        assert.equal(getJson(["get", "lease", "tekton-dag-intercept-demo-fe", "-n", "staging"]).spec.holderIdentity, b.id);
        ok(await cleanup(b));
    });

    it("two runs on one app: the second gives up after lease-wait-seconds, naming the holder", async () => {
        const a = newRun("holder");
        const b = newRun("waiter");
        ok(await deploy(a, ["demo-fe"]));
        const r = await deploy(b, ["demo-fe"], { LEASE_WAIT_SECONDS: "3" });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, new RegExp(`being intercepted by PipelineRun ${a.name} \\(run ${a.id}, header x-dev-session: pr-42, mirrord, exclusive\\); gave up after lease-wait-seconds=3`));
        assert.equal(runObjects(b.id).size, 0, "the run that gave up created nothing");
    });

    it("runs on different apps proceed in parallel (neither waits; their deploys overlap in time)", async () => {
        const runs = APPS.map((app) => ({ run: newRun(app), app }));
        const t0 = Date.now();
        const results = await Promise.all(runs.map(({ run, app }) => deploy(run, [app])));
        const wall = Date.now() - t0;
        results.forEach(ok);
        for (const r of results) assert.doesNotMatch(r.stderr, /waiting for lease/);
        const sum = results.reduce((s, r) => s + r.ms, 0);
        assert.ok(wall < sum * 0.8, `wall ${wall} ms vs ${sum} ms summed: the deploys did not overlap`);
    });

    it("cleanup of one run leaves every object of another run untouched (same uid, and no write to them in the audit log)", async () => {
        const a = newRun("a");
        const b = newRun("b");
        const c = newRun("c");
        await Promise.all([
            deploy(a, ["demo-fe"]).then(ok),
            deploy(b, ["demo-api"]).then(ok), // mirrord: a Job and its agent pod too
            deploy(c, ["demo-db"], {}, undefined, "telepresence").then(ok),
        ]);
        const others = () => new Map([...runObjects(b.id), ...runObjects(c.id)]);
        const before = others();
        // Their intercept locks are the apps' shared Leases, without a run label: compared on their own (only
        // scripts write Leases, so their resourceVersions must not move).
        assert.ok(before.size >= 7, `b and c have ${before.size} objects`);
        const locks = () => ["demo-api", "demo-db"].map((app) => getJson(["get", "lease", `tekton-dag-intercept-${app}`, "-n", "staging"]).metadata.resourceVersion);
        const locksBefore = locks();
        const mark = auditMark();
        const cleaned = await cleanup(a);
        ok(cleaned);
        assert.equal(runObjects(a.id).size, 0);
        assert.deepEqual(identities(others()), identities(before));
        assert.deepEqual(writesBy(mark, [cleaned], before), [], "the cleanup of run a wrote to run b's or c's objects");
        assert.deepEqual(locks(), locksBefore, "the other apps' locks were not written");
    });

    it("a mirrord deploy killed (SIGKILL) after each of its steps in turn, then the finally cleanup: zero objects of that run remain", async () => {
        const full = newRun("steps");
        const all = await deploy(full, ["demo-fe"]);
        ok(all);
        const n = steps(all).length;
        assert.ok(n >= 6, `only ${n} steps:\n${all.stderr}`);
        ok(await cleanup(full));
        for (let k = 1; k < n; k++) {
            const run = newRun(`kill${k}`);
            const r = await deploy(run, ["demo-fe"], {}, k);
            assert.equal(r.signal, "SIGKILL", `deploy was not killed after step ${k}: ${r.stderr}`);
            const c = await cleanup(run);
            ok(c);
            assert.deepEqual([...runObjects(run.id).keys()], [], `after a kill after step ${k} (${r.killedAfter}) and cleanup`);
        }
    });

    it("with the cleanup killed too, the sweeper removes the rest on its next pass, and keeps a live run's objects", async () => {
        const live = livePipelineRun("live");
        ok(await deploy(live, ["demo-api"]));
        const liveBefore = runObjects(live.id);
        const mark = auditMark();
        const run = newRun("orphan");
        const d = await deploy(run, ["demo-fe"], {}, 5);
        assert.equal(d.signal, "SIGKILL");
        const c = await cleanup(run, 1);
        assert.equal(c.signal, "SIGKILL");
        assert.ok(runObjects(run.id).size > 0, "the killed cleanup left nothing: the test would prove nothing");
        const s = await sweep();
        ok(s);
        assert.match(s.stderr, new RegExp(`removing run ${run.id} in staging \\(PipelineRun no longer exists\\)`));
        assert.equal(runObjects(run.id).size, 0);
        assert.deepEqual(identities(runObjects(live.id)), identities(liveBefore));
        assert.deepEqual(writesBy(mark, [d, c, s], liveBefore), [], "the orphan's scripts or the sweep wrote to the live run's objects");
        ok(await cleanup(live));
    });

    it("seeded soak: 50 runs over 3 apps, some concurrent, each with a fault at a random step; then cleanup and one sweep: 0 leaked, 0 cross-run deletions", async () => {
        const seed = Number(process.env.TEKTON_DAG_SOAK_SEED ?? 11);
        const runsWanted = Number(process.env.TEKTON_DAG_SOAK_RUNS ?? 50);
        const random = rng(seed);
        const mark = auditMark();
        const tokenRun = new Map<string, string>();
        const faults = new Map<string, number>();
        const cleanupKills: string[] = [];
        const soak: Run[] = [];
        let leaseGaveUp = 0;
        let swept = 0;
        let passes = 0;
        const t0 = Date.now();
        for (let started = 0; started < runsWanted;) {
            // A wave of 1-4 concurrent runs; apps may collide (then the Lease serialises them).
            const wave = Math.min(runsWanted - started, 1 + Math.floor(random() * 4));
            const jobs: Promise<void>[] = [];
            for (let i = 0; i < wave; i++, started++) {
                const run = newRun(`soak${started}`);
                soak.push(run);
                const app = APPS[Math.floor(random() * APPS.length)];
                const backend = random() < 0.7 ? "mirrord" : "telepresence";
                const killAt = 1 + Math.floor(random() * 7); // 7 = past the last step of one app: no fault
                const killCleanup = random() < 0.15 ? 1 + Math.floor(random() * 3) : undefined;
                jobs.push((async () => {
                    const d = await deploy(run, [app], { LEASE_WAIT_SECONDS: "15", POLL_INTERVAL_SECONDS: "1" }, killAt, backend);
                    tokenRun.set(d.tokenId, run.id);
                    const fault = d.killedAfter ? `after step ${killAt} (${backend})` : d.status === 0 ? `none (${backend})` : /gave up/.test(d.stderr) ? "lease wait gave up" : `deploy failed: ${d.stderr.split("\n").filter(Boolean).pop()}`;
                    if (fault === "lease wait gave up") leaseGaveUp++;
                    faults.set(fault, (faults.get(fault) ?? 0) + 1);
                    const c = await cleanup(run, killCleanup);
                    tokenRun.set(c.tokenId, run.id);
                    if (c.killedAfter) cleanupKills.push(run.id);
                    else ok(c);
                })());
            }
            await Promise.all(jobs);
            // The sweeper CronJob's pass: what a killed cleanup left (its Lease too) goes before the next runs.
            if (cleanupKills.length > swept) {
                swept = cleanupKills.length;
                const p = await sweep();
                passes++;
                ok(p);
                tokenRun.set(p.tokenId, "sweeper");
            }
        }
        const s = await sweep();
        ok(s);
        tokenRun.set(s.tokenId, "sweeper");
        const wall = Date.now() - t0;

        const ids = new Set(soak.map((r) => r.id));
        const audit = auditSince(mark).filter((e) => e.run && ids.has(e.run));
        const created = audit.filter((e) => e.verb === "create").length;
        const deletes = audit.filter((e) => e.verb === "delete" && e.tokenId && tokenRun.has(e.tokenId));
        const crossRun = deletes.filter((e) => tokenRun.get(e.tokenId!) !== "sweeper" && tokenRun.get(e.tokenId!) !== e.run);
        const bySweeper = deletes.filter((e) => tokenRun.get(e.tokenId!) === "sweeper");
        const leaked = [...runObjects()].filter(([, o]) => ids.has(o.run));

        const rows: [string, string | number][] = [
            ["seed", seed], ["runs", soak.length], ["wall time", `${(wall / 1000).toFixed(1)} s`],
            ...[...faults].sort().map(([k, v]) => [`deploy fault: ${k}`, v] as [string, number]),
            ["cleanups killed (left to the sweeper)", cleanupKills.length], ["sweeper passes", passes + 1],
            ["objects created", created], ["deleted by the sweeper", bySweeper.length],
            ["leaked", leaked.length], ["deleted across runs", crossRun.length],
        ];
        const w = Math.max(...rows.map(([k]) => k.length));
        console.log(`\n    soak\n${rows.map(([k, v]) => `    ${k.padEnd(w)}  ${v}`).join("\n")}\n`);
        assert.ok(created > soak.length, `only ${created} creations seen in the audit log`);
        assert.deepEqual(leaked.map(([k]) => k), [], "leaked objects");
        assert.deepEqual(crossRun, [], "deletions of another run's objects");
        assert.ok(leaseGaveUp < soak.length, "every run gave up on the Lease");
    });
});
