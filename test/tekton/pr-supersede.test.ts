// A PR's runs follow the PR, through the real sink, Triggers' own interceptors and Tekton's own controllers:
// a push stops the PR's running run (its finally tasks clean up and report "superseded"), a closed PR stops
// its run and starts none, `/retest` from a member reruns the PR's head and from anyone else does nothing,
// and another PR of the same app is never touched. The listener's own TaskRuns (stop-pr-runs, retest-pr) and
// the runs' cluster-side tasks run their real scripts; what is simulated is as test/tekton/real-steps.ts says.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { AUDIT_LOG, cluster, listObjects, PIPELINES_NS, sleep } from "../cluster/harness";
import { PR_STOPPER_SERVICE_ACCOUNT, RETEST_SERVICE_ACCOUNT } from "../../lib/identities";
import { APP_REPOS, realPlan, realStepSuite } from "./real-steps";
import { examples, post, prDelivery, repoId, startSink } from "./sink";
import { noObjectsOf, succeeded, waitDone } from "./tekton";

const FIRST = "1111111111111111111111111111111111111111";
const PUSHED = "2222222222222222222222222222222222222222";
const RETESTED = "4444444444444444444444444444444444444444";
const API = APP_REPOS["demo-api"];
const FE = APP_REPOS["demo-fe"];

const runsOfPr = async (number: number): Promise<any[]> => (await listObjects("pipelineruns.tekton.dev", PIPELINES_NS, `tekton-dag.io/pr=${number}`))
    .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
const ownTaskRuns = async (task: string, number: number): Promise<any[]> => (await listObjects("taskruns.tekton.dev", PIPELINES_NS,
    `tekton.dev/task=${task},tekton-dag.io/pr=${number}`)).filter((t: any) => !t.metadata.labels["tekton.dev/pipelineRun"]);

/** The step runner's errors: a wait below gives up at once when the runner failed to end a pod. */
let runnerErrors: string[] = [];

/** Waits until `find` gives something (what the listener or a controller created); returns it. */
async function until<T>(what: string, find: () => T | undefined | Promise<T | undefined>, timeoutMs = 600_000): Promise<T> {
    for (const end = Date.now() + timeoutMs; ; await sleep(250)) {
        if (runnerErrors.length) throw new Error(`${what}: the step runner failed: ${runnerErrors.join("; ")}`);
        const found = await find();
        if (found) return found;
        if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    }
}

/** Waits until the TaskRun (of the listener's own) is done; returns it. */
const taskRunDone = (task: string, number: number) => until(`${task} of PR ${number} done`, async () =>
    (await ownTaskRuns(task, number)).find((t) => succeeded(t) && succeeded(t).status !== "Unknown"));

/** How many times Triggers' cel interceptor has refused a delivery with this filter (its log, one line per refusal). */
function celRefusals(filterFragment: string): number {
    const log = path.join(path.dirname(AUDIT_LOG), "tekton-interceptors.log");
    return fs.readFileSync(log, "utf8").split("\n").filter((l) => l.includes("did not return true") && l.includes(filterFragment)).length;
}

/** A real issue_comment delivery: `text` on PR `number` of `repo` by someone with this association. */
function commentDelivery(repo: string, number: number, text: string, association: string): any {
    const p = structuredClone(examples("issue_comment").find((e) => e.action === "created"));
    p.issue.number = number;
    p.issue.state = "open";
    p.issue.pull_request = { url: `https://api.github.com/repos/${repo}/pulls/${number}` };
    p.comment.body = text;
    p.comment.author_association = association;
    p.repository.full_name = repo;
    p.repository.name = repo.split("/")[1];
    p.repository.id = repoId(repo);
    return p;
}

describe("a PR's lifecycle through the real sink and Tekton's own controllers: a push supersedes the running run, closing stops it, /retest reruns (real scripts: stop-pr-runs, retest-pr, resolve-stack, deploy, cleanup, pr-comment, commit-status; simulated: git clones, build, hooks, tests, validation HTTP, the Telepresence CLI in the proxy pods, GitHub)", function () {
    this.timeout(1_200_000);
    const suite = realStepSuite();
    let url: string;
    /** Runs whose validation is held until the test releases them (they end stopped, or when the test says). */
    const held = new Map<string, () => void>();
    const holds = new Map<string, Promise<void>>();
    const reached = new Set<string>();
    const hold = (name: string): void => { holds.set(name, new Promise<void>((r) => held.set(name, r))); };
    const release = (name: string): void => held.get(name)?.();

    before(() => {
        cluster();
        runnerErrors = suite.runner.errors;
        url = startSink();
        suite.runner.defaultPlan = realPlan(suite.github, {
            gates: {
                "validate-stack-propagation": (ctx) => {
                    reached.add(ctx.pipelineRun.metadata.name);
                    return holds.get(ctx.pipelineRun.metadata.name) ?? Promise.resolve();
                },
            },
        });
    });

    describe("opened, then a push to the same PR while a PR of the same app runs beside it", () => {
        let first: any;
        let second: any;
        let other: any;
        const done: Record<string, any> = {};

        before(async () => {
            assert.ok((await post(url, prDelivery("opened", API, 61, FIRST))) < 300);
            assert.ok((await post(url, prDelivery("opened", API, 62))) < 300);
            first = await until("the run of PR 61", async () => (await runsOfPr(61))[0]);
            other = await until("the run of PR 62", async () => (await runsOfPr(62))[0]);
            hold(first.metadata.name);
            hold(other.metadata.name);
            await until("both runs at validation, their intercepts up", () => reached.has(first.metadata.name) && reached.has(other.metadata.name));
            assert.ok((await post(url, prDelivery("synchronize", API, 61, PUSHED))) < 300);
            second = await until("the push's run of PR 61", async () => (await runsOfPr(61)).find((r) => r.metadata.name !== first.metadata.name));
            // The push's run reports only after the stopped run has ended: the comment's last word is the push's.
            const firstEnded = waitDone(first.metadata.name, suite.runner.errors, 600_000).finally(() => release(first.metadata.name));
            holds.set(second.metadata.name, firstEnded.then(() => undefined));
            done.first = await firstEnded;
            done.second = await waitDone(second.metadata.name, suite.runner.errors, 600_000);
            release(other.metadata.name);
            done.other = await waitDone(other.metadata.name, suite.runner.errors, 600_000);
        });

        it("the push's stop-pr-runs TaskRun, as tekton-dag-pr-stopper, stopped the first run and nothing else", async () => {
            const stops = await ownTaskRuns("stop-pr-runs", 61);
            const mine = stops.find((t) => t.metadata.labels["tekton-dag.io/delivery"] === second.metadata.labels["tekton-dag.io/delivery"]);
            assert.ok(mine, JSON.stringify(stops.map((t) => t.metadata.labels)));
            const done61 = await until("the push's stop-pr-runs done", async () => (await ownTaskRuns("stop-pr-runs", 61)).find((t) => t.metadata.name === mine.metadata.name && succeeded(t)?.status === "True"));
            const step = suite.runner.realSteps.find((s) => s.taskRun === done61.metadata.name)!;
            assert.equal(step.serviceAccount, PR_STOPPER_SERVICE_ACCOUNT);
            assert.match(step.stderr, new RegExp(`stopped ${PIPELINES_NS}/${first.metadata.name} \\(superseded by 2222222\\)`));
            assert.equal(step.stderr.match(/stopped /g)?.length, 1, step.stderr);
        });

        it("the first run ended cancelled; its finally tasks ran their real scripts, and nothing of it is left", async () => {
            assert.equal(succeeded(done.first).status, "False");
            assert.match(succeeded(done.first).reason, /Cancelled/, JSON.stringify(succeeded(done.first)));
            for (const task of ["cleanup-intercepts", "pr-comment", "status-final"]) {
                const step = suite.runner.realSteps.find((s) => s.pipelineRun === first.metadata.name && s.task === task);
                assert.ok(step, `${task} ran`);
                assert.equal(step.exitCode, 0, `${task}: ${step.stderr}`);
            }
            await noObjectsOf(first.metadata.uid);
        });

        it("the push's run and the other PR's run completed; the other PR's run was never stopped", () => {
            assert.equal(succeeded(done.second).status, "True", JSON.stringify(succeeded(done.second)));
            assert.equal(succeeded(done.other).status, "True", JSON.stringify(succeeded(done.other)));
            assert.equal(done.other.spec.status, undefined);
            assert.equal(done.other.metadata.annotations?.["tekton-dag.io/stopped-because"], undefined);
        });

        it("statuses: the first commit pending then error superseded by the pushed one; the pushed commit and the other PR pending then success", () => {
            const states = (repo: string, sha: string) => suite.github.statuses(repo, sha).map((x) => [x.state, x.description]);
            assert.deepEqual(states(API, FIRST), [["pending", "stack-pr-test: running"], ["error", "stack-pr-test: superseded by 2222222"]]);
            assert.deepEqual(states(API, PUSHED), [["pending", "stack-pr-test: running"], ["success", "stack-pr-test: passed"]]);
            const otherSha = other.spec.params.find((p: any) => p.name === "app-revision").value;
            assert.deepEqual(suite.github.statuses(API, otherSha).map((x) => x.state), ["pending", "success"]);
            assert.deepEqual(suite.github.invalid(), []);
        });

        it("PR 61 has one comment, updated in place, naming the pushed commit's run", () => {
            const comments = suite.github.comments(API, 61);
            assert.equal(comments.length, 1, JSON.stringify(comments));
            assert.ok(comments[0].body.includes(second.metadata.name), comments[0].body);
            assert.equal(suite.github.commentWrites(API, 61).length, 2, "written by the stopped run, then updated by the push's");
        });
    });

    describe("closed", () => {
        let run: any;
        let done: any;
        before(async () => {
            assert.ok((await post(url, prDelivery("opened", FE, 63))) < 300);
            run = await until("the run of PR 63", async () => (await runsOfPr(63))[0]);
            hold(run.metadata.name);
            await until("the run at validation", () => reached.has(run.metadata.name));
            assert.ok((await post(url, prDelivery("closed", FE, 63))) < 300);
            await until("the closed delivery's stop-pr-runs", async () => (await ownTaskRuns("stop-pr-runs", 63)).find((t) => t.spec.params.some((p: any) => p.name === "reason" && p.value === "closed")));
            done = await waitDone(run.metadata.name, suite.runner.errors, 600_000).finally(() => release(run.metadata.name));
        });

        it("stops the running run, whose status says the PR was closed, and starts none; nothing of the run is left", async () => {
            assert.match(succeeded(done).reason, /Cancelled/);
            assert.equal(done.metadata.annotations["tekton-dag.io/stopped-because"], "closed");
            const sha = run.spec.params.find((p: any) => p.name === "app-revision").value;
            assert.deepEqual(suite.github.statuses(FE, sha).map((x) => [x.state, x.description]),
                [["pending", "stack-pr-test: running"], ["error", "stack-pr-test: stopped, the PR was closed"]]);
            const stops = await ownTaskRuns("stop-pr-runs", 63);
            for (const t of stops) await until(`${t.metadata.name} done`, async () => (await ownTaskRuns("stop-pr-runs", 63)).find((x) => x.metadata.name === t.metadata.name && succeeded(x)?.status === "True"));
            assert.deepEqual((await runsOfPr(63)).map((r) => r.metadata.name), [run.metadata.name], "the closed delivery started no run");
            await noObjectsOf(run.metadata.uid);
        });
    });

    describe("/retest", () => {
        it("from someone who is not the repository's owner, a member or a collaborator does nothing (Triggers' cel interceptor refuses it)", async () => {
            const before = celRefusals("== '/retest'");
            assert.ok((await post(url, commentDelivery(FE, 64, "/retest", "CONTRIBUTOR"), { "x-github-event": "issue_comment" })) < 300);
            await until("the refusal in the interceptors' log", () => celRefusals("== '/retest'") > before || undefined);
            assert.deepEqual(await ownTaskRuns("retest-pr", 64), []);
            assert.deepEqual(await runsOfPr(64), []);
        });

        it("from a member reruns the PR's head, as GitHub names it, through retest-pr as tekton-dag-retest; the run completes", async () => {
            suite.github.pulls.set(`${FE}#64`, { state: "open", headSha: RETESTED, headRepo: FE });
            assert.ok((await post(url, commentDelivery(FE, 64, "/retest", "MEMBER"), { "x-github-event": "issue_comment" })) < 300);
            const retest = await taskRunDone("retest-pr", 64);
            assert.equal(succeeded(retest).status, "True", JSON.stringify(succeeded(retest)));
            const step = suite.runner.realSteps.find((s) => s.taskRun === retest.metadata.name)!;
            assert.equal(step.serviceAccount, RETEST_SERVICE_ACCOUNT);
            const [run, ...more] = await runsOfPr(64);
            assert.equal(more.length, 0);
            assert.equal(run.spec.params.find((p: any) => p.name === "app-revision").value, RETESTED);
            assert.equal(run.metadata.labels["tekton-dag.io/delivery"], retest.metadata.labels["tekton-dag.io/delivery"]);
            const done = await waitDone(run.metadata.name, suite.runner.errors, 600_000);
            assert.equal(succeeded(done).status, "True", JSON.stringify(succeeded(done)));
            assert.deepEqual(suite.github.statuses(FE, RETESTED).map((x) => x.state), ["pending", "success"]);
            assert.deepEqual(suite.github.invalid(), []);
        });
    });
});
