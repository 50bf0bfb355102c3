// stop-pr-runs.sh and retest-pr.sh on the real API server, each as the ServiceAccount its TaskRun runs as
// (tekton-dag-pr-stopper, tekton-dag-retest) under the Roles the program renders. The PipelineRuns are real
// tekton.dev/v1 objects that no controller reconciles here (runs through Tekton's controllers are in
// test/tekton/pr-supersede.test.ts). Simulated: GitHub, an HTTP server held to GitHub's REST description.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { PR_STOPPER_SERVICE_ACCOUNT, RETEST_SERVICE_ACCOUNT } from "../../../lib/identities";
import { GitHubStandIn } from "../../support/githubStandIn";
import { apply, getJson, installRbac, installTokenSecret, kubectl, kubectlOk, PIPELINES_NS, renderKindStack, runScriptAs, ScriptRun, serverClockPast, waitCan } from "../harness";

const STOPPER = { name: PR_STOPPER_SERVICE_ACCOUNT, namespace: PIPELINES_NS };
const RETESTER = { name: RETEST_SERVICE_ACCOUNT, namespace: PIPELINES_NS };
const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const RUN_LABEL = "tekton-dag.test/pr-runs";
const TOKEN_SECRET = "github-token-retest";

interface RunSpec { name: string; repoId: string; pr: string; delivery?: string; ended?: boolean; stopping?: boolean }

/** A PipelineRun as the listener labels it; `ended` gives it Tekton's Succeeded condition (status subresource). */
function createRun(r: RunSpec): any {
    kubectlOk(["create", "-f", "-"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: {
            name: r.name, namespace: PIPELINES_NS,
            labels: { [RUN_LABEL]: "true", "tekton-dag.io/pr": r.pr, "tekton-dag.io/repo-id": r.repoId, ...(r.delivery ? { "tekton-dag.io/delivery": r.delivery } : {}) },
        },
        spec: { pipelineRef: { name: "stack-pr-test" }, ...(r.stopping ? { status: "StoppedRunFinally" } : {}) },
    }));
    if (r.ended) {
        kubectlOk(["patch", "pipelinerun.tekton.dev", r.name, "-n", PIPELINES_NS, "--subresource", "status", "--type", "merge", "-p",
            JSON.stringify({ status: { conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded", lastTransitionTime: new Date().toISOString() }] } })]);
    }
    return getJson(["get", "pipelinerun.tekton.dev", r.name, "-n", PIPELINES_NS]);
}

async function createRunAfter(r: RunSpec, after: any): Promise<any> {
    await serverClockPast(after);
    return createRun(r);
}

const runOf = (name: string): any => getJson(["get", "pipelinerun.tekton.dev", name, "-n", PIPELINES_NS]);
const purgeRuns = () => kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", RUN_LABEL, "--wait=true"]);

const stop = (env: Record<string, string>): Promise<ScriptRun> =>
    runScriptAs("stop-pr-runs.sh", { NAMESPACE: PIPELINES_NS, REPO_ID: "11", PR_NUMBER: "7", ...env }, STOPPER);

describe("cluster: stop-pr-runs.sh as tekton-dag-pr-stopper (PipelineRuns not reconciled: no controller in this tier)", function () {
    this.timeout(180_000);
    before(async function () {
        this.timeout(300_000);
        await installRbac();
        await waitCan(STOPPER, "patch", "pipelineruns.tekton.dev", PIPELINES_NS, true);
    });
    beforeEach(purgeRuns);
    after(purgeRuns);

    it("a newer delivery stops only the same repository's and PR's older runs that have not ended, as superseded, in one patch", async () => {
        const old = createRun({ name: "pr7-old", repoId: "11", pr: "7", delivery: "d-old" });
        const untouched = [
            createRun({ name: "pr7-ended", repoId: "11", pr: "7", delivery: "d-ended", ended: true }),
            createRun({ name: "pr8-other-pr", repoId: "11", pr: "8", delivery: "d-8" }),
            createRun({ name: "pr7-other-repo", repoId: "12", pr: "7", delivery: "d-12" }),
            createRun({ name: "pr7-stopping", repoId: "11", pr: "7", delivery: "d-stopping", stopping: true }),
        ];
        const mine = await createRunAfter({ name: "pr7-new", repoId: "11", pr: "7", delivery: "d-new" }, old);
        // A later delivery's run, handled before this one's stop task: it must survive.
        const newer = await createRunAfter({ name: "pr7-newer", repoId: "11", pr: "7", delivery: "d-newer" }, mine);
        const out = await stop({ REASON: "superseded", HEAD_SHA: SHA, DELIVERY: "d-new" });
        assert.equal(out.status, 0, out.stderr);
        const stopped = runOf("pr7-old");
        assert.equal(stopped.spec.status, "CancelledRunFinally");
        assert.equal(stopped.metadata.annotations["tekton-dag.io/superseded-by"], SHA);
        assert.equal(stopped.metadata.annotations["tekton-dag.io/stopped-because"], "superseded");
        assert.match(out.stderr, /stopped tekton-dag\/pr7-old \(superseded by 89abcde\)/);
        for (const r of [...untouched, mine, newer]) {
            assert.equal(runOf(r.metadata.name).metadata.resourceVersion, r.metadata.resourceVersion, `${r.metadata.name} is untouched`);
        }
    });

    it("a closed PR stops all its runs that have not ended, naming the reason; with none running it says so", async () => {
        createRun({ name: "pr7-a", repoId: "11", pr: "7", delivery: "d-a" });
        createRun({ name: "pr7-b", repoId: "11", pr: "7" });
        const other = createRun({ name: "pr8-c", repoId: "11", pr: "8", delivery: "d-c" });
        const out = await stop({ REASON: "closed" });
        assert.equal(out.status, 0, out.stderr);
        for (const name of ["pr7-a", "pr7-b"]) {
            const run = runOf(name);
            assert.equal(run.spec.status, "CancelledRunFinally");
            assert.deepEqual([run.metadata.annotations["tekton-dag.io/stopped-because"], run.metadata.annotations["tekton-dag.io/superseded-by"]], ["closed", undefined]);
        }
        assert.equal(runOf("pr8-c").metadata.resourceVersion, other.metadata.resourceVersion);
        const again = await stop({ REASON: "closed" });
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stderr, /no earlier run of PR #7 \(repository id 11\) is running; nothing to stop/);
    });

    it("refuses a reason, repository id, PR number or superseding commit that is not one it knows, naming what is allowed", async () => {
        for (const [env, message] of [
            [{ REASON: "merged" }, /reason 'merged' must be superseded or closed/],
            [{ REASON: "closed", REPO_ID: "octo/repo" }, /repo-id 'octo\/repo' must be GitHub's numeric repository id/],
            [{ REASON: "closed", PR_NUMBER: "7; rm" }, /pr-number '7; rm' must be a pull request number/],
            [{ REASON: "superseded", HEAD_SHA: "main" }, /head-sha 'main' must be the full sha/],
        ] as const) {
            const out = await stop(env as Record<string, string>);
            assert.equal(out.status, 1, JSON.stringify(env));
            assert.match(out.stderr, message);
        }
    });
});

describe("cluster: retest-pr.sh as tekton-dag-retest (GitHub simulated by an HTTP server held to GitHub's REST description)", function () {
    this.timeout(180_000);
    const github = new GitHubStandIn();
    let removeToken: () => Promise<void>;
    let template: any;
    const REPO = "octo-org/demo-fe";

    const retest = (env: Record<string, string> = {}): Promise<ScriptRun> => runScriptAs("retest-pr.sh", {
        NAMESPACE: PIPELINES_NS, REPO_FULL_NAME: REPO, REPO_ID: "11", PR_NUMBER: "7", DELIVERY: "d-retest",
        TEMPLATE: "stack-pr-test-template", TRUSTED_FORK_REPOS: "alice/demo-fe", GITHUB_TOKEN_SECRET: TOKEN_SECRET, GITHUB_API_URL: github.url, ...env,
    }, RETESTER);
    const reruns = () => getJson(["get", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/delivery=d-retest"]).items;

    before(async function () {
        this.timeout(300_000);
        await installRbac();
        removeToken = await installTokenSecret(TOKEN_SECRET, "ghp_retest_token");
        const dir = await renderKindStack({ githubTokenSecret: TOKEN_SECRET });
        const files = fs.readdirSync(path.join(dir, PIPELINES_NS)).map((f) => YAML.parse(fs.readFileSync(path.join(dir, PIPELINES_NS, f), "utf8")));
        template = files.find((o) => o.kind === "TriggerTemplate" && o.metadata.name === "stack-pr-test-template");
        assert.ok(template, "the kind stack renders the listener's TriggerTemplate");
        apply([template]);
        await waitCan(RETESTER, "get", "secrets/" + TOKEN_SECRET, PIPELINES_NS, true);
        await github.start();
    });
    beforeEach(() => {
        purgeRuns();
        kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/delivery=d-retest", "--wait=true"]);
        github.pulls.clear();
    });
    after(async () => {
        purgeRuns();
        kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/delivery=d-retest"]);
        kubectl(["delete", "triggertemplate.triggers.tekton.dev", "stack-pr-test-template", "-n", PIPELINES_NS, "--ignore-not-found"]);
        await github.stop();
        await removeToken?.();
    });

    it("reruns the PR's current head from the listener's own template, then stops the PR's older run as superseded by it", async () => {
        github.pulls.set(`${REPO}#7`, { state: "open", headSha: SHA, headRepo: REPO });
        const old = createRun({ name: "pr7-running", repoId: "11", pr: "7", delivery: "d-push" });
        await serverClockPast(old); // the rerun is created after the old run, as the script compares them
        const out = await retest();
        assert.equal(out.status, 0, out.stderr);
        const [run, ...more] = reruns();
        assert.equal(more.length, 0);
        const params = Object.fromEntries(run.spec.params.map((p: any) => [p.name, p.value]));
        const expected = template.spec.resourcetemplates[0];
        assert.equal(params["app-revision"], SHA, "the head GitHub names, not anything from the comment");
        assert.deepEqual([params["pr-number"], params["repo-full-name"]], ["7", REPO]);
        for (const p of template.spec.params.filter((x: any) => x.default !== undefined)) assert.equal(params[p.name], p.default, p.name);
        assert.deepEqual(run.spec.taskRunTemplate, expected.spec.taskRunTemplate, "the same identities as a webhook run");
        assert.deepEqual(run.spec.taskRunSpecs, expected.spec.taskRunSpecs);
        assert.deepEqual([run.metadata.labels["tekton-dag.io/pr"], run.metadata.labels["tekton-dag.io/repo-id"]], ["7", "11"]);
        assert.ok(!JSON.stringify(run).includes("$(tt.params."), "every template param is filled in");
        const stopped = runOf(old.metadata.name);
        assert.equal(stopped.spec.status, "CancelledRunFinally");
        assert.equal(stopped.metadata.annotations["tekton-dag.io/superseded-by"], SHA);
        const get = github.requests.filter((r) => r.url === `/repos/${REPO}/pulls/7`);
        assert.equal(get.length, 1);
        assert.equal(get[0].authorization, "Bearer ghp_retest_token");
        assert.deepEqual(github.invalid(), []);
    });

    it("a trusted fork's head is rerun; an untrusted fork's is not (it needs /ok-to-test for that commit), nor a deleted fork's", async () => {
        github.pulls.set(`${REPO}#7`, { state: "open", headSha: SHA, headRepo: "Alice/demo-fe" });
        const trusted = await retest();
        assert.equal(trusted.status, 0, trusted.stderr);
        assert.equal(reruns().length, 1);
        kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/delivery=d-retest", "--wait=true"]);
        const running = createRun({ name: "pr7-approved", repoId: "11", pr: "7", delivery: "d-approval" });
        for (const headRepo of ["mallory/demo-fe", null]) {
            github.pulls.set(`${REPO}#7`, { state: "open", headSha: SHA, headRepo });
            const out = await retest();
            assert.equal(out.status, 0, out.stderr);
            assert.match(out.stderr, new RegExp(`not ${REPO} or a trusted fork; it is not rerun. A maintainer approves that commit with: /ok-to-test ${SHA}`));
            assert.deepEqual(reruns(), []);
        }
        assert.equal(runOf("pr7-approved").metadata.resourceVersion, running.metadata.resourceVersion, "a refused rerun stops nothing");
    });

    it("a closed PR is not rerun; a PR GitHub does not know fails with GitHub's message", async () => {
        github.pulls.set(`${REPO}#7`, { state: "closed", headSha: SHA, headRepo: REPO, merged: true });
        const closed = await retest();
        assert.equal(closed.status, 0, closed.stderr);
        assert.match(closed.stderr, /PR #7 of octo-org\/demo-fe is closed, not open; nothing is rerun/);
        const unknown = await retest({ PR_NUMBER: "8" });
        assert.equal(unknown.status, 1);
        assert.match(unknown.stderr, new RegExp(`GitHub answered HTTP 404 to GET ${github.url}/repos/${REPO}/pulls/8: Not Found`));
        assert.deepEqual(reruns(), []);
    });

    it("without a token Secret reads the PR without credentials, and says so", async () => {
        github.pulls.set(`${REPO}#7`, { state: "open", headSha: SHA, headRepo: REPO });
        const out = await retest({ GITHUB_TOKEN_SECRET: "" });
        assert.equal(out.status, 0, out.stderr);
        assert.match(out.stderr, /no GitHub token secret configured .* reading the PR without a token/);
        assert.equal(github.requests.at(-1)!.authorization, "");
        assert.equal(reruns().length, 1);
    });
});
