// The per-app intercept lock (docs/intercept-lock.md) on the real API server: both deploy scripts, cleanup and
// the sweeper as tekton-dag-pipeline under the program's Roles. Simulated: the proxy pods' containers
// (test/cluster/standins.ts: telepresence-proxy.sh against the recorded-behaviour telepresence stand-in, the
// mirrord CLI's API calls), and Tekton (PipelineRuns are plain objects with a running status).
// Every wait is on the lock's stored records or on a log line, never on time.
import { strict as assert } from "node:assert";
import { auditMark } from "../audit";
import { getJson, newRun, Run, runObjects, ScriptRun, TARGET_NS } from "../harness";
import { deploySuite } from "../standins";
import { ok } from "./lifecycle-fixtures";
import {
    assertHoldersCompatible, cleanedUp, deployAs, deployWatched, holding, lockRecords, lockStates, queued, liveRun, sweep, until,
} from "./lock-fixtures";

const APP = "demo-fe";
const role = (o: any) => o.metadata.labels?.["tekton-dag.io/role"];
const podsOf = (run: Run) => getJson(["get", "pods", "-n", TARGET_NS, "-l", `tekton-dag.io/run=${run.id}`]).items as any[];
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Waits for the waiting log line a queued record promises (the script logs right after writing it). */
const logged = (waits: string[]) => until("the waiting log line", () => waits.length > 0, 60_000);
/** How a waiting run names a record it waits for. */
const named = (run: Run, header: string, backend: string, mode: string) =>
    `PipelineRun ${esc(run.name)} \\(run ${run.id}, header x-dev-session: ${header}, ${backend}, ${mode}`;

describe("cluster: the intercept lock, deploy scripts as tekton-dag-pipeline (proxy containers and Tekton simulated)", function () {
    this.timeout(900_000);
    const { proxies } = deploySuite();
    let since = 0;
    before(() => { since = auditMark(); });

    describe("three Telepresence PRs of one app, then mirrord, then Telepresence again", () => {
        const tp = [1, 2, 3].map((i) => ({ header: `pr-${i}`, run: undefined as unknown as Run }));
        let results: ScriptRun[];
        let m: Run;

        before(async () => {
            for (const t of tp) t.run = liveRun(`tp${t.header}`);
            results = await Promise.all(tp.map((t) => deployAs(t.run, "telepresence", t.header, [APP])));
        });

        it("all three deploy at once: none logged waiting, and the lock lists the three as shared holders with their own headers", () => {
            results.forEach(ok);
            for (const r of results) {
                assert.doesNotMatch(r.stderr, /waiting for lease/);
                assert.match(r.stderr, /lease staging\/tekton-dag-intercept-demo-fe taken \(shared\)/);
            }
            const records = lockRecords(APP);
            assert.deepEqual(records.map((r) => [r.state, r.mode, r.backend]), tp.map(() => ["holding", "shared", "telepresence"]));
            assert.deepEqual(records.map((r) => r.run).sort(), tp.map((t) => t.run.id).sort());
            assert.deepEqual(records.map((r) => r.header).sort(), tp.map((t) => `x-dev-session: ${t.header}`));
            const lease = getJson(["get", "lease", "tekton-dag-intercept-demo-fe", "-n", TARGET_NS]);
            assert.equal(lease.metadata.labels["tekton-dag.io/run"], undefined, "the shared lock carries no run label");
            assert.deepEqual(lease.spec.holderIdentity.split(",").sort(), tp.map((t) => t.run.id).sort());
        });

        it("each run's proxy intercepts with its own header and is Ready (telepresence-proxy.sh against the stand-in)", () => {
            for (const t of tp) {
                const proxy = podsOf(t.run).find((p) => role(p) === "telepresence-intercept");
                const env = Object.fromEntries(proxy.spec.containers[0].env.map((e: any) => [e.name, e.value]));
                assert.equal(env.TP_HTTP_HEADER, `x-dev-session=${t.header}`);
                assert.ok(proxies.of(proxy.metadata.name).some((e) => e.ok && e.message === "intercept active"));
            }
        });

        it("cleanup of one run removes its own intercept and record only: the other two keep theirs, untouched", async () => {
            const before = [tp[1], tp[2]].map((t) => runObjects(t.run.id));
            const proxyNames = [tp[1], tp[2]].map((t) => podsOf(t.run).find((p) => role(p) === "telepresence-intercept").metadata.name);
            await cleanedUp(tp[0].run);
            assert.equal(runObjects(tp[0].run.id).size, 0, "nothing of the cleaned-up run is left");
            [tp[1], tp[2]].forEach((t, i) => {
                const now = runObjects(t.run.id);
                assert.deepEqual([...now.keys()].sort(), [...before[i].keys()].sort());
                for (const [k, o] of before[i]) assert.equal(now.get(k)?.uid, o.uid, k);
                for (const p of podsOf(t.run)) assert.equal(p.metadata.deletionTimestamp, undefined, p.metadata.name);
            });
            for (const name of proxyNames) assert.ok(!proxies.of(name).some((e) => e.message.startsWith("ended on TERM")), `${name} still intercepts`);
            assert.deepEqual(holding(APP).sort(), [tp[1].run.id, tp[2].run.id].sort());
        });

        it("a mirrord run queues, logs whom it waits for and how long it has left, and takes the app alone once both cleaned up", async () => {
            m = liveRun("mirrord");
            const { waits, done } = deployWatched(m, "mirrord", "pr-9", [APP]);
            await queued(m, APP);
            await cleanedUp(tp[1].run);
            // One Telepresence run still holds: the mirrord run cannot hold with it.
            assert.deepEqual(lockRecords(APP).map((r) => [r.run, r.state]), [[tp[2].run.id, "holding"], [m.id, "waiting"]]);
            await cleanedUp(tp[2].run);
            const r = await done;
            ok(r);
            assert.match(waits[0], new RegExp(`waiting for lease staging/tekton-dag-intercept-demo-fe \\(exclusive, mirrord\\): held by .*${named(tp[2].run, "pr-3", "telepresence", "shared")}.*; \\d+s left$`));
            assert.match(r.stderr, new RegExp(`taken \\(exclusive\\) for run ${esc(m.name)} \\(${m.id}\\); holders now: ${esc(m.name)}\\n`));
            assert.deepEqual(lockRecords(APP).map((x) => [x.run, x.state, x.mode]), [[m.id, "holding", "exclusive"]]);
            assert.ok(podsOf(m).some((p) => role(p) === "mirrord-proxy"), "the steal runs");
        });

        it("a Telepresence run waits for the mirrord run, naming it, and proceeds after its cleanup", async () => {
            const t = liveRun("tp-after");
            const { waits, done } = deployWatched(t, "telepresence", "pr-10", [APP]);
            await queued(t, APP);
            await logged(waits);
            assert.match(waits[0], new RegExp(`held by ${named(m, "pr-9", "mirrord", "exclusive")}\\); \\d+s left$`));
            await cleanedUp(m);
            ok(await done);
            assert.deepEqual(holding(APP), [t.id]);
            await cleanedUp(t);
        });
    });

    describe("waiting, header collisions and a killed holder", () => {
        it("no starvation: a waiting mirrord run keeps a later Telepresence run out; they get the app in arrival order", async () => {
            const first = liveRun("tp-first");
            ok(await deployAs(first, "telepresence", "pr-21", [APP]));
            const m = liveRun("mirrord-waits");
            const md = deployWatched(m, "mirrord", "pr-22", [APP]);
            await queued(m, APP);
            const later = liveRun("tp-later");
            const ld = deployWatched(later, "telepresence", "pr-23", [APP]);
            await queued(later, APP);
            await logged(ld.waits);
            // Compatible with the only holder, but behind an exclusive waiter.
            assert.match(ld.waits[0], new RegExp(`held by ${named(m, "pr-22", "mirrord", "exclusive")}, waiting\\)`));
            await cleanedUp(first);
            ok(await md.done);
            assert.deepEqual(lockRecords(APP).map((r) => [r.run, r.state]), [[m.id, "holding"], [later.id, "waiting"]]);
            await cleanedUp(m);
            ok(await ld.done);
            assert.deepEqual(holding(APP), [later.id]);
            await cleanedUp(later);
        });

        it("a run with a holder's header waits, then gives up after lease-wait-seconds naming it, and takes its record away", async () => {
            const holder = liveRun("tp-holder");
            ok(await deployAs(holder, "telepresence", "pr-31", [APP]));
            const same = liveRun("tp-same");
            const r = await deployAs(same, "telepresence", "pr-31", [APP], {}, { LEASE_WAIT_SECONDS: "3" });
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`being intercepted by ${named(holder, "pr-31", "telepresence", "shared")}\\); gave up after lease-wait-seconds=3`));
            assert.deepEqual(lockRecords(APP).map((x) => x.run), [holder.id], "the waiting record is gone");
            assert.equal(runObjects(same.id).size, 0, "it created nothing");
            await cleanedUp(holder);
        });

        it("a killed holder (deploy SIGKILLed right after it took the lock) blocks a mirrord run only until the sweeper sees its run gone", async () => {
            const killed = newRun("killed"); // no PipelineRun: as after a deleted run
            const k = await deployAs(killed, "telepresence", "pr-41", [APP], { killAfterStep: 1 });
            assert.match(k.killedAfter ?? "", /lease staging\/tekton-dag-intercept-demo-fe taken \(shared\)/);
            assert.deepEqual(holding(APP), [killed.id]);
            const m = liveRun("mirrord-after-kill");
            const md = deployWatched(m, "mirrord", "pr-42", [APP]);
            await queued(m, APP);
            await logged(md.waits);
            assert.match(md.waits[0], new RegExp(named(killed, "pr-41", "telepresence", "shared")));
            const s = await sweep();
            ok(s);
            assert.match(s.stderr, new RegExp(`removing run ${killed.id} in staging \\(PipelineRun no longer exists\\):.* intercept-lock/tekton-dag-intercept-demo-fe`));
            assert.doesNotMatch(s.stderr, new RegExp(`removing run ${m.id}`), "the waiting run's PipelineRun is running");
            ok(await md.done);
            assert.deepEqual(holding(APP), [m.id]);
            await cleanedUp(m);
        });
    });

    describe("the lock's audit trail over all of the above", () => {
        it("in every state the lock was written in, its holders were compatible (a mirrord run alone, no header twice)", () => {
            const states = lockStates(since, APP);
            assert.ok(states.length > 20, `${states.length} states`);
            assert.ok(assertHoldersCompatible(states) > 0, "some state had several holders");
            assert.deepEqual(lockRecords(APP), [], "every record was removed");
        });
    });
});
