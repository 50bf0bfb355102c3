// pr-comment.sh keeps one comment per PR and context, on the real API server as tekton-dag-pipeline (the
// token Secret read under the Role the program renders). Simulated: GitHub, an HTTP server on 127.0.0.1
// that keeps users and comments and holds each request to GitHub's REST description
// (test/support/githubStandIn.ts); the script's curl is real.
import { strict as assert } from "node:assert";
import { BOT_LOGIN, GitHubStandIn } from "../../support/githubStandIn";
import { installRbac, installTokenSecret, PIPELINE_SA, runScriptAs, ScriptRun } from "../harness";
import { tmpDir } from "../../support/tmpDir";

const TOKEN_SECRET = "github-token-update";
const REPO = "org/fe";
const MARKER = "<!-- tekton-dag:pr-comment context=tekton-dag/staging -->";

describe("cluster: pr-comment.sh updates its one comment per PR in place, as tekton-dag-pipeline (GitHub simulated by an HTTP server that keeps comments, held to GitHub's REST description)", function () {
    this.timeout(120_000);
    const github = new GitHubStandIn();
    let removeToken: () => Promise<void>;

    const comment = (pr: number, env: Record<string, string> = {}): Promise<ScriptRun> => runScriptAs("pr-comment.sh", {
        RUN_ID: "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f", RUN_NAME: "stack-pr-test-abc12", REPO_FULL_NAME: REPO, PR_NUMBER: String(pr),
        GITHUB_TOKEN_SECRET: TOKEN_SECRET, PIPELINE_STATUS: "Failed", GITHUB_API_URL: github.url, SHARED_WORKSPACE: tmpDir("ws-"),
        COMMENT_CONTEXT: "tekton-dag/staging", SHA: "0123456789abcdef0123456789abcdef01234567", ...env,
    }, PIPELINE_SA);
    const ok = (r: ScriptRun) => assert.equal(r.status, 0, r.stderr);

    before(async function () {
        this.timeout(300_000);
        await installRbac();
        removeToken = await installTokenSecret(TOKEN_SECRET, "ghp_update");
        await github.start();
    });
    afterEach(() => { github.appTokens = false; github.refuseWith = undefined; });
    after(async () => {
        await github.stop();
        await removeToken?.();
    });

    it("the first run posts a comment starting with the context's marker and naming the commit; the next run updates that comment", async () => {
        ok(await comment(1));
        ok(await comment(1, { PIPELINE_STATUS: "Succeeded", RUN_NAME: "stack-pr-test-def34", SHA: "89abcdef0123456789abcdef0123456789abcdef" }));
        const comments = github.comments(REPO, 1);
        assert.equal(comments.length, 1);
        assert.ok(comments[0].body.startsWith(`${MARKER}\n### tekton-dag: ✅ Succeeded`), comments[0].body);
        assert.match(comments[0].body, /PipelineRun `stack-pr-test-def34` \(uid `[^`]+`\), commit `89abcdef0123456789abcdef0123456789abcdef`/);
        assert.deepEqual(github.commentWrites(REPO, 1).map((w) => w.method), ["POST", "PATCH"]);
        assert.deepEqual(github.invalid(), []);
    });

    it("never edits someone else's comment, even one that carries the marker, nor another context's", async () => {
        const theirs = github.seedComment(REPO, 2, "mallory", `${MARKER}\nplease run rm -rf`);
        const otherContext = github.seedComment(REPO, 2, BOT_LOGIN, "<!-- tekton-dag:pr-comment context=tekton-dag/prod -->\n### tekton-dag: ✅ Succeeded");
        ok(await comment(2));
        const comments = github.comments(REPO, 2);
        assert.equal(comments.length, 3);
        assert.equal(comments.find((c) => c.id === theirs.id)!.body, `${MARKER}\nplease run rm -rf`);
        assert.ok(comments.find((c) => c.id === otherContext.id)!.body.includes("context=tekton-dag/prod"));
        assert.deepEqual(github.requests.filter((r) => r.method === "PATCH" && r.url.endsWith(`/${theirs.id}`)), []);
    });

    it("finds its comment past the first page of a long PR conversation", async () => {
        for (let i = 0; i < 130; i++) github.seedComment(REPO, 3, "reviewer", `comment ${i}`);
        ok(await comment(3));
        ok(await comment(3, { PIPELINE_STATUS: "Succeeded" }));
        assert.equal(github.comments(REPO, 3).filter((c) => c.user.login === BOT_LOGIN).length, 1);
        assert.ok(github.requests.some((r) => r.url === `/repos/${REPO}/issues/3/comments?per_page=100&page=2`));
    });

    it("with a GitHub App token (no /user), posts a new comment and says why", async () => {
        github.appTokens = true;
        const r = await comment(4);
        ok(r);
        assert.match(r.stderr, /the token cannot read its own user \(HTTP 403: Resource not accessible by integration/);
        assert.equal(github.comments(REPO, 4).length, 1);
    });

    it("fails with GitHub's message when the update is refused, leaving the comment as it was", async () => {
        ok(await comment(5));
        const before = github.comments(REPO, 5)[0].body;
        github.refuseWith = { status: 403, message: "Resource not accessible by personal access token", method: "PATCH" };
        const r = await comment(5, { PIPELINE_STATUS: "Succeeded" });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /GitHub answered HTTP 403 to PATCH http:\/\/127\.0\.0\.1:\d+\/repos\/org\/fe\/issues\/comments\/\d+: Resource not accessible by personal access token/);
        assert.equal(github.comments(REPO, 5)[0].body, before);
    });

    it("refuses a context that would end the hidden marker early", async () => {
        const r = await comment(6, { COMMENT_CONTEXT: "x --> <b>hi</b>" });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /comment-context 'x --> <b>hi<\/b>' must be one line without '--' or '>'/);
    });
});
