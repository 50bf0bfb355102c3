// pr-comment (pr-comment.sh) on the real API server, run as tekton-dag-pipeline (lib/identities.ts): the token
// Secret is read with kubectl under the Role the program renders for githubTokenSecret (that one Secret,
// get only). Simulated: GitHub, played by an HTTP server on 127.0.0.1 (the script's curl is real).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { auditMark, auditSince, AuditEntry } from "../audit";
import {
    apply, installRbac, kubectl, kubectlOk, PIPELINE_SA, PIPELINES_NS, rbacObjects, runScriptAs, ScriptRun, waitCan,
} from "../harness";
import { writeFile } from "./workspace";
import { tmpDir } from "../../support/tmpDir";

const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
const TOKEN_SECRET = "github-token";
/** A Secret in the same namespace that the Role does not name. */
const OTHER_SECRET = "tekton-dag-other-secret";
/** The Role and RoleBinding the program adds for githubTokenSecret (components/rbac.ts). */
const TOKEN_ROLE = "tekton-dag-pr-comment-token";
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

let tokenRbac: any[] = [];

function secret(name: string, token: string): any {
    return { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: PIPELINES_NS }, type: "Opaque", data: { token: Buffer.from(token).toString("base64") } };
}

async function comment(env: Record<string, string>, opts: { status?: number; withSummary?: boolean; summary?: any } = {}) {
    const workspace = tmpDir("comment-ws-");
    const runDir = path.join(workspace, ".tekton-dag", "runs", RUN_ID);
    fs.mkdirSync(runDir, { recursive: true });
    if (opts.withSummary !== false) {
        writeFile(path.join(runDir, "test-summary.json"), JSON.stringify(opts.summary ?? SUMMARY));
        // Written by validate, but rewritable by the PR code that runs after it: never read.
        writeFile(path.join(runDir, "validation-with-header.json"), JSON.stringify({ mode: "with-header", verdict: "pass", answeredBy: "forged-by-the-pr" }));
    }
    const posted: Posted[] = [];
    const server = http.createServer((req, res) => {
        let data = "";
        req.on("data", (d) => (data += d));
        req.on("end", () => {
            // The reads of an earlier comment (GET /user, the PR's comments) are pr-comment-update.test.ts's subject.
            if (req.method !== "GET") posted.push({ method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(data || "null") });
            res.writeHead(opts.status ?? 201, { "content-type": "application/json" });
            res.end(opts.status && opts.status !== 201 ? '{"message":"Bad credentials"}' : '{"html_url":"https://github.example/org/fe/pull/42#issuecomment-1"}');
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const mark = auditMark();
    const out: ScriptRun = await runScriptAs("pr-comment.sh", {
        RUN_ID, RUN_NAME: "stack-pr-test-run-abc12", REPO_FULL_NAME: "org/fe", PR_NUMBER: "42",
        GITHUB_TOKEN_SECRET: TOKEN_SECRET, PIPELINE_STATUS: "Failed", GITHUB_API_URL: api,
        PROPAGATION_STATUS: "Succeeded", ORIGINAL_TRAFFIC_STATUS: "Failed", TESTS_STATUS: "Failed",
        SHARED_WORKSPACE: workspace, ...env,
    }, PIPELINE_SA);
    await new Promise<void>((r) => server.close(() => r()));
    // Every API request made with this run's token (the audit log holds all of tekton-dag-pipeline's).
    const requests: AuditEntry[] = auditSince(mark).filter((e) => e.tokenId === out.tokenId);
    const reads = requests.filter((e) => e.resource).map((e) => `${e.verb} ${e.resource} ${e.namespace}/${e.name}`);
    return { out, posted, requests, reads };
}

describe("cluster: pr-comment.sh as tekton-dag-pipeline, the token Secret read through the API server (GitHub simulated by an HTTP server on 127.0.0.1)", function () {
    this.timeout(120_000);

    before(async function () {
        this.timeout(300_000);
        await installRbac();
        tokenRbac = (await rbacObjects({ githubTokenSecret: TOKEN_SECRET })).filter((o) => o.metadata.name === TOKEN_ROLE);
        assert.deepEqual(tokenRbac.map((o) => o.kind).sort(), ["Role", "RoleBinding"], "the program renders the token Role for githubTokenSecret");
        apply([...tokenRbac, secret(TOKEN_SECRET, "ghp_example_token\n"), secret(OTHER_SECRET, "ghp_not_for_pr_comment")]);
        await waitCan(PIPELINE_SA, "get", `secrets/${TOKEN_SECRET}`, PIPELINES_NS, true);
    });
    after(async () => {
        kubectl(["delete", "secret", TOKEN_SECRET, OTHER_SECRET, "-n", PIPELINES_NS, "--ignore-not-found"]);
        kubectl(["delete", "role,rolebinding", TOKEN_ROLE, "-n", PIPELINES_NS, "--ignore-not-found"]);
        // The files after this one (rbac.test.ts's can-i --list) must find the kind stack's RBAC alone.
        await waitCan(PIPELINE_SA, "get", `secrets/${TOKEN_SECRET}`, PIPELINES_NS, false);
    });

    it("logs a line and succeeds without a token secret, making no API request", async () => {
        const { out, posted, requests } = await comment({ GITHUB_TOKEN_SECRET: "" });
        assert.equal(out.status, 0, out.stderr);
        assert.match(out.stderr, /no GitHub token secret configured \(param github-token-secret is empty\); not commenting on the PR/);
        assert.equal(posted.length, 0);
        assert.deepEqual(requests, []);
    });

    it("logs a line and succeeds without a repository", async () => {
        const { out, posted } = await comment({ REPO_FULL_NAME: "" });
        assert.equal(out.status, 0, out.stderr);
        assert.match(out.stderr, /repo-full-name is empty/);
        assert.equal(posted.length, 0);
    });

    it("posts the status, the routing verdicts and the test summary table, having read only its token Secret", async () => {
        const { out, posted, reads } = await comment({});
        assert.equal(out.status, 0, out.stderr);
        assert.deepEqual(reads, [`get secrets ${PIPELINES_NS}/${TOKEN_SECRET}`]);
        assert.equal(posted.length, 1);
        const p = posted[0];
        assert.equal(p.method, "POST");
        assert.equal(p.url, "/repos/org/fe/issues/42/comments");
        assert.equal(p.headers.authorization, "Bearer ghp_example_token");
        assert.equal(p.headers.accept, "application/vnd.github+json");
        const body: string = p.body.body;
        assert.match(body, /^<!-- tekton-dag:pr-comment context=tekton-dag -->\n### tekton-dag: ❌ Failed/);
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
        assert.equal(out.status, 0, out.stderr);
        const body: string = posted[0].body.body;
        assert.ok(body.length <= 65536, `${body.length} characters`);
        assert.match(body, /\| app-0-x+ \| postman-x+/);
        assert.match(body, /comment cut at GitHub's limit; the whole summary is test-summary\.json in the run's workspace/);
    });

    // Issue 12: PR code runs after the validate tasks and writes the test summary itself.
    it("takes the verdicts from Tekton's task statuses, not from files PR code can rewrite", async () => {
        const { out, posted } = await comment({ PROPAGATION_STATUS: "Failed", ORIGINAL_TRAFFIC_STATUS: "None", TESTS_STATUS: "None" });
        assert.equal(out.status, 0, out.stderr);
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
        assert.equal(out.status, 0, out.stderr);
        const body: string = posted[0].body.body;
        const row = body.split("\n").find((l) => l.startsWith("| demo-fe |"))!;
        assert.equal(row.split("|").length, 6, `one table row of four cells: ${row}`);
        assert.doesNotMatch(row, /\[click\]\(|`code`|@org\/admins|\n/);
        assert.equal(body.split("\n").filter((l) => l.startsWith("### ")).length, 1, "no extra heading");
    });

    it("still comments when the test summary has an unexpected shape", async () => {
        const { out, posted } = await comment({}, { summary: { suites: "not a list", counts: 3 } });
        assert.equal(out.status, 0, out.stderr);
        assert.equal(posted.length, 1);
        assert.match(posted[0].body.body, /### tekton-dag: ❌ Failed/);
    });

    it("rejects a task status that Tekton would never pass, before any API request", async () => {
        const { out, posted, requests } = await comment({ TESTS_STATUS: "Succeeded; all green" });
        assert.equal(out.status, 1);
        assert.match(out.stderr, /TESTS_STATUS 'Succeeded; all green' must be Succeeded, Failed or None/);
        assert.equal(posted.length, 0);
        assert.deepEqual(requests, []);
    });

    it("says so when no test summary was written (the tests never ran)", async () => {
        const { out, posted } = await comment({}, { withSummary: false });
        assert.equal(out.status, 0, out.stderr);
        assert.match(posted[0].body.body, /No test summary: run-stack-tests did not run in this PipelineRun\./);
    });

    it("fails naming the Secret when it does not exist (the API server answers NotFound)", async () => {
        kubectlOk(["delete", "secret", TOKEN_SECRET, "-n", PIPELINES_NS]);
        try {
            const { out, posted } = await comment({});
            assert.equal(out.status, 1);
            assert.match(out.stderr, /cannot read Secret 'github-token' in the pipelines namespace: Error from server \(NotFound\): secrets "github-token" not found/);
            assert.equal(posted.length, 0);
        } finally {
            apply([secret(TOKEN_SECRET, "ghp_example_token\n")]);
        }
    });

    it("cannot read a Secret the Role does not name: fails with Forbidden, posting nothing", async () => {
        const { out, posted } = await comment({ GITHUB_TOKEN_SECRET: OTHER_SECRET });
        assert.equal(out.status, 1);
        assert.match(out.stderr, new RegExp(`cannot read Secret '${OTHER_SECRET}' in the pipelines namespace: Error from server \\(Forbidden\\): secrets "${OTHER_SECRET}" is forbidden: User "system:serviceaccount:${PIPELINES_NS}:tekton-dag-pipeline" cannot get resource "secrets"`));
        assert.equal(posted.length, 0);
        assert.ok(!out.stderr.includes("ghp_not_for_pr_comment"));
    });

    it(`without the ${TOKEN_ROLE} Role, reading its own token Secret is Forbidden (the rule is needed)`, async () => {
        const role = tokenRbac.find((o) => o.kind === "Role");
        kubectlOk(["delete", "role", TOKEN_ROLE, "-n", PIPELINES_NS]);
        try {
            await waitCan(PIPELINE_SA, "get", `secrets/${TOKEN_SECRET}`, PIPELINES_NS, false);
            const { out, posted } = await comment({});
            assert.equal(out.status, 1);
            assert.match(out.stderr, /cannot read Secret 'github-token' in the pipelines namespace: Error from server \(Forbidden\): secrets "github-token" is forbidden/);
            assert.equal(posted.length, 0);
        } finally {
            apply([role]);
            await waitCan(PIPELINE_SA, "get", `secrets/${TOKEN_SECRET}`, PIPELINES_NS, true);
        }
    });

    it("fails with GitHub's answer when the comment is refused", async () => {
        const { out } = await comment({}, { status: 401 });
        assert.equal(out.status, 1);
        assert.match(out.stderr, /GitHub answered HTTP 401 to POST http:\/\/127\.0\.0\.1:\d+\/repos\/org\/fe\/issues\/42\/comments: Bad credentials/);
    });

    it("rejects a repo-full-name that is not owner/name", async () => {
        const { out, posted } = await comment({ REPO_FULL_NAME: "org/fe/../x" });
        assert.equal(out.status, 1);
        assert.match(out.stderr, /repo-full-name 'org\/fe\/..\/x' must be owner\/name/);
        assert.equal(posted.length, 0);
    });
});
