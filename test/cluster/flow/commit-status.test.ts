// commit-status.sh (phase start) on the real API server, run as tekton-dag-pipeline: the token Secret read
// under the Role the program renders for githubTokenSecret. Simulated: GitHub, an HTTP server on 127.0.0.1
// held to GitHub's REST API description (test/support/githubStandIn.ts); the script's curl is real. The
// end phase, which reads its PipelineRun and TaskRuns, runs inside real runs in test/tekton.
import { strict as assert } from "node:assert";
import { GitHubStandIn } from "../../support/githubStandIn";
import { installRbac, installTokenSecret, PIPELINE_SA, PIPELINES_NS, runScriptAs, ScriptRun } from "../harness";

const TOKEN_SECRET = "github-token-status";
const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("cluster: commit-status.sh as tekton-dag-pipeline (GitHub simulated by an HTTP server held to GitHub's REST description)", function () {
    this.timeout(120_000);
    const github = new GitHubStandIn();
    let removeToken: () => Promise<void>;

    const status = (env: Record<string, string> = {}): Promise<ScriptRun> => runScriptAs("commit-status.sh", {
        PHASE: "start", REPO_FULL_NAME: "org/fe", SHA, GITHUB_TOKEN_SECRET: TOKEN_SECRET, GITHUB_API_URL: github.url,
        STATUS_CONTEXT: "tekton-dag/staging", TARGET_URL_TEMPLATE: "https://dashboard.example/#/namespaces/{namespace}/pipelineruns/{name}",
        PIPELINE_NAME: "stack-pr-test", RUN_NAME: "stack-pr-test-abc12", RUN_ID: "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f", RUN_NAMESPACE: PIPELINES_NS,
        ...env,
    }, PIPELINE_SA);

    before(async function () {
        this.timeout(300_000);
        await installRbac();
        removeToken = await installTokenSecret(TOKEN_SECRET, "ghp_status_token\n");
        await github.start();
    });
    afterEach(() => { github.refuseWith = undefined; });
    after(async () => {
        await github.stop();
        await removeToken?.();
    });

    it("sets pending on the commit, under the context, with the run's link, as GitHub's description allows", async () => {
        const before = github.requests.length;
        const out = await status();
        assert.equal(out.status, 0, out.stderr);
        const sent = github.requests.slice(before);
        assert.equal(sent.length, 1);
        assert.equal(sent[0].url, `/repos/org/fe/statuses/${SHA}`);
        assert.equal(sent[0].authorization, "Bearer ghp_status_token");
        assert.deepEqual(sent[0].body, {
            state: "pending", context: "tekton-dag/staging", description: "stack-pr-test: running",
            target_url: `https://dashboard.example/#/namespaces/${PIPELINES_NS}/pipelineruns/stack-pr-test-abc12`,
        });
        assert.deepEqual(sent[0].problems, []);
        assert.ok(!out.stderr.includes("ghp_status_token"), "the token is never printed");
    });

    for (const [code, message] of [[401, "Bad credentials"], [403, "Resource not accessible by personal access token"], [404, "Not Found"], [422, "No commit found for SHA: " + SHA]] as const) {
        it(`fails with GitHub's message when GitHub answers ${code}`, async () => {
            github.refuseWith = { status: code, message };
            const out = await status();
            assert.equal(out.status, 1);
            assert.ok(out.stderr.includes(`GitHub answered HTTP ${code} to POST ${github.url}/repos/org/fe/statuses/${SHA}: ${message}`), out.stderr);
        });
    }

    it("sets no status and succeeds, saying why, without a token secret, without a repository, or for a revision that is no commit sha", async () => {
        const before = github.requests.length;
        for (const [env, why] of [
            [{ GITHUB_TOKEN_SECRET: "" }, /no GitHub token secret configured/],
            [{ REPO_FULL_NAME: "" }, /repo-full-name is empty/],
            [{ SHA: "feature/login" }, /revision 'feature\/login' is not a full commit sha/],
        ] as const) {
            const out = await status(env as Record<string, string>);
            assert.equal(out.status, 0, out.stderr);
            assert.match(out.stderr, why);
        }
        assert.equal(github.requests.length, before);
    });

    it("refuses a link template that gives no http(s) URL, and an unknown phase, naming them", async () => {
        const bad = await status({ TARGET_URL_TEMPLATE: "dashboard/{name}" });
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /status-target-url 'dashboard\/\{name\}' does not give an http\(s\) URL/);
        const phase = await status({ PHASE: "middle" });
        assert.equal(phase.status, 1);
        assert.match(phase.stderr, /phase 'middle' must be start or end/);
    });
});
