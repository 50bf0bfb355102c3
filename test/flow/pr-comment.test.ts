// pr-comment: skipped with a log line without a token secret; otherwise a comment posted to a GitHub API
// played by a server on 127.0.0.1, with the token read through (fake) kubectl.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { FAKES, RunResult, runScript, tmpDir, writeFile } from "./helpers";

const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
const SUMMARY = {
    status: "failed", entryApp: "demo-fe", baseUrl: "http://demo-fe.staging.svc.cluster.local:80", header: "x-dev-session: pr-42",
    counts: { passed: 1, failed: 1, skipped: 1 },
    suites: [
        { app: "demo-fe", type: "postman", path: "tests/postman/fe-tests.json", status: "passed", reason: "" },
        { app: "demo-api", type: "postman", path: "tests/postman/api-tests.json", status: "failed", reason: "newman exited 1" },
        { app: "demo-api", type: "artillery", path: "tests/artillery/load.yml", status: "skipped", reason: "run-stack-tests has no runner for artillery suites (only postman runs)" },
    ],
};

interface Posted { method: string; url: string; headers: http.IncomingHttpHeaders; body: any }

async function comment(env: Record<string, string>, opts: { status?: number; withSummary?: boolean; secret?: boolean; summary?: any } = {}) {
    const workspace = tmpDir("comment-ws");
    const kube = tmpDir("comment-kube");
    const runDir = path.join(workspace, ".tekton-dag", "runs", RUN_ID);
    fs.mkdirSync(runDir, { recursive: true });
    if (opts.withSummary !== false) {
        writeFile(path.join(runDir, "test-summary.json"), JSON.stringify(opts.summary ?? SUMMARY));
        // Written by validate, but rewritable by the PR code that runs after it: never read.
        writeFile(path.join(runDir, "validation-with-header.json"), JSON.stringify({ mode: "with-header", verdict: "pass", answeredBy: "forged-by-the-pr" }));
    }
    if (opts.secret !== false) writeFile(path.join(kube, "secrets", "github-token"), Buffer.from("ghp_example_token\n").toString("base64"));
    const posted: Posted[] = [];
    const server = http.createServer((req, res) => {
        let data = "";
        req.on("data", (d) => (data += d));
        req.on("end", () => {
            posted.push({ method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(data || "null") });
            res.writeHead(opts.status ?? 201, { "content-type": "application/json" });
            res.end(opts.status && opts.status !== 201 ? '{"message":"Bad credentials"}' : '{"html_url":"https://github.example/org/fe/pull/42#issuecomment-1"}');
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out: RunResult = await runScript("pr-comment.sh", {
        RUN_ID, RUN_NAME: "stack-pr-test-run-abc12", REPO_FULL_NAME: "org/fe", PR_NUMBER: "42",
        GITHUB_TOKEN_SECRET: "github-token", PIPELINE_STATUS: "Failed", GITHUB_API_URL: api,
        PROPAGATION_STATUS: "Succeeded", ORIGINAL_TRAFFIC_STATUS: "Failed", TESTS_STATUS: "Failed",
        SHARED_WORKSPACE: workspace, FAKE_KUBE_DIR: kube, ...env,
    }, [FAKES]);
    await new Promise<void>((r) => server.close(() => r()));
    const callsFile = path.join(kube, "calls.log");
    return { out, posted, kubectlCalls: fs.existsSync(callsFile) ? fs.readFileSync(callsFile, "utf8").trim().split("\n") : [] };
}

describe("pr-comment.sh", function () {
    this.timeout(60000);

    it("logs a line and succeeds without a token secret, touching nothing", async () => {
        const { out, posted, kubectlCalls } = await comment({ GITHUB_TOKEN_SECRET: "" });
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stderr, /no GitHub token secret configured \(param github-token-secret is empty\); not commenting on the PR/);
        assert.equal(posted.length, 0);
        assert.deepEqual(kubectlCalls, []);
    });

    it("logs a line and succeeds without a repository", async () => {
        const { out, posted } = await comment({ REPO_FULL_NAME: "" });
        assert.equal(out.code, 0, out.stderr);
        assert.match(out.stderr, /repo-full-name is empty/);
        assert.equal(posted.length, 0);
    });

    it("posts the status, the routing verdicts and the test summary table", async () => {
        const { out, posted, kubectlCalls } = await comment({});
        assert.equal(out.code, 0, out.stderr);
        assert.deepEqual(kubectlCalls, ["get secret github-token -o jsonpath={.data.token}"]);
        assert.equal(posted.length, 1);
        const p = posted[0];
        assert.equal(p.method, "POST");
        assert.equal(p.url, "/repos/org/fe/issues/42/comments");
        assert.equal(p.headers.authorization, "Bearer ghp_example_token");
        assert.equal(p.headers.accept, "application/vnd.github+json");
        const body: string = p.body.body;
        assert.match(body, /### tekton-dag: ❌ Failed/);
        assert.match(body, /PipelineRun `stack-pr-test-run-abc12`/);
        assert.match(body, /- ✅ with the PR header, the PR pod answers \(validate-stack-propagation\): Succeeded/);
        assert.match(body, /- ❌ without it, the original Deployment answers \(validate-original-traffic\): Failed/);
        assert.match(body, /\*\*Tests\*\*: ❌ run-stack-tests Failed/);
        assert.match(body, /Suites as run-stack-tests reported them \(it runs the PR's collections; this table is their own account\) through `demo-fe` with `x-dev-session: pr-42`: failed \(1 passed, 1 failed, 1 skipped\)/);
        assert.match(body, /\| demo-api \| postman `tests\/postman\/api-tests.json` \| ❌ failed \| newman exited 1 \|/);
        assert.match(body, /\| demo-api \| artillery `tests\/artillery\/load.yml` \| ⚠️ skipped \| run-stack-tests has no runner for artillery suites/);
        assert.match(out.stderr, /comment created: https:\/\/github.example\/org\/fe\/pull\/42#issuecomment-1/);
        assert.ok(!out.stdout.includes("ghp_example_token") && !out.stderr.includes("ghp_example_token"), "the token is never printed");
    });

    it("posts a comment for a summary larger than the kernel's 128 KiB argument limit, cut to GitHub's 65536 characters", async () => {
        const big = structuredClone(SUMMARY);
        // 150 suites of five 200-character fields: 150 KB of JSON (under the script's 200,000-byte read), and a
        // 100-row table of about 100,000 characters.
        const long = (s: string) => (s + "-").padEnd(200, "x");
        big.suites = Array.from({ length: 150 }, (_, i) => ({ app: long(`app-${i}`), type: long("postman"), path: long(`tests/suite-${i}.json`), status: long("failed"), reason: long("newman exited 1") }));
        const size = JSON.stringify(big).length;
        assert.ok(size > 140_000 && size < 200_000, `${size} bytes`);
        const { out, posted } = await comment({}, { summary: big });
        assert.equal(out.code, 0, out.stderr);
        const body: string = posted[0].body.body;
        assert.ok(body.length <= 65536, `${body.length} characters`);
        assert.match(body, /\| app-0-x+ \| postman-x+/);
        assert.match(body, /comment cut at GitHub's limit; the whole summary is test-summary\.json in the run's workspace/);
    });

    // Issue 12: PR code runs after the validate tasks and writes the test summary itself.
    it("takes the verdicts from Tekton's task statuses, not from files PR code can rewrite", async () => {
        const { out, posted } = await comment({ PROPAGATION_STATUS: "Failed", ORIGINAL_TRAFFIC_STATUS: "None", TESTS_STATUS: "None" });
        assert.equal(out.code, 0, out.stderr);
        const body: string = posted[0].body.body;
        assert.match(body, /- ❌ with the PR header, the PR pod answers \(validate-stack-propagation\): Failed/);
        assert.match(body, /- ⚠️ without it, the original Deployment answers \(validate-original-traffic\): did not run/);
        assert.match(body, /\*\*Tests\*\*: ⚠️ run-stack-tests did not run/);
        assert.ok(!body.includes("forged-by-the-pr"), "validation-*.json is not read");
    });

    it("reduces what the test summary says to plain text in its cells", async () => {
        const summary = {
            ...SUMMARY,
            suites: [{ app: "demo-fe", type: "postman", path: "x", status: "passed", reason: "all good | [click](https://evil.example) `code` @org/admins\n### ✅ Succeeded" }],
        };
        const { out, posted } = await comment({}, { summary });
        assert.equal(out.code, 0, out.stderr);
        const body: string = posted[0].body.body;
        const row = body.split("\n").find((l) => l.startsWith("| demo-fe |"))!;
        assert.equal(row.split("|").length, 6, `one table row of four cells: ${row}`);
        assert.doesNotMatch(row, /\[click\]\(|`code`|@org\/admins|\n/);
        assert.equal(body.split("\n").filter((l) => l.startsWith("### ")).length, 1, "no extra heading");
    });

    it("still comments when the test summary has an unexpected shape", async () => {
        const { out, posted } = await comment({}, { summary: { suites: "not a list", counts: 3 } });
        assert.equal(out.code, 0, out.stderr);
        assert.equal(posted.length, 1);
        assert.match(posted[0].body.body, /### tekton-dag: ❌ Failed/);
    });

    it("rejects a task status that Tekton would never pass", async () => {
        const { out, posted } = await comment({ TESTS_STATUS: "Succeeded; all green" });
        assert.equal(out.code, 1);
        assert.match(out.stderr, /TESTS_STATUS 'Succeeded; all green' must be Succeeded, Failed or None/);
        assert.equal(posted.length, 0);
    });

    it("says so when no test summary was written (the tests never ran)", async () => {
        const { out, posted } = await comment({}, { withSummary: false });
        assert.equal(out.code, 0, out.stderr);
        assert.match(posted[0].body.body, /No test summary: run-stack-tests did not run in this PipelineRun\./);
    });

    it("fails naming the Secret when it cannot be read", async () => {
        const { out, posted } = await comment({}, { secret: false });
        assert.equal(out.code, 1);
        assert.match(out.stderr, /cannot read Secret 'github-token' in the pipelines namespace: Error from server \(NotFound\)/);
        assert.equal(posted.length, 0);
    });

    it("fails with GitHub's answer when the comment is refused", async () => {
        const { out } = await comment({}, { status: 401 });
        assert.equal(out.code, 1);
        assert.match(out.stderr, /GitHub answered HTTP 401 to POST http:\/\/127\.0\.0\.1:\d+\/repos\/org\/fe\/issues\/42\/comments: \{"message":"Bad credentials"\}/);
    });

    it("rejects a repo-full-name that is not owner/name", async () => {
        const { out, posted } = await comment({ REPO_FULL_NAME: "org/fe/../x" });
        assert.equal(out.code, 1);
        assert.match(out.stderr, /repo-full-name 'org\/fe\/..\/x' must be owner\/name/);
        assert.equal(posted.length, 0);
    });
});
