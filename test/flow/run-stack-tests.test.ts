// run-stack-tests: the three steps (plan, newman, summary) in order, with a fake newman on PATH, on the
// graph resolve-stack makes of stacks/stack-one.yaml.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { FAKES, RunResult, STACKS, resolveStack, writeFile, yqDir } from "./helpers";
import { SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";
import { tmpDir } from "../support/tmpDir";

const collection = (name: string) => JSON.stringify({
    info: { name, schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json" },
    event: [{ listen: "test", script: { type: "text/javascript", exec: ["pm.test('ok', () => {});"] } }],
    item: [{ name: "get home", request: { method: "GET", url: "{{baseUrl}}/" } }],
});

interface TestRun {
    workspace: string;
    runId: string;
    stackJson: string;
    plan: RunResult;
    newman?: RunResult;
    summary?: RunResult;
    result: string;
    testSummary?: any;
    newmanCalls: string[];
}

/** demo-fe is checked out with a collection; demo-api is checked out with `apiCollection` (or none). */
async function runTests(opts: { apiCollection?: string; checkOutApi?: boolean }): Promise<TestRun> {
    const resolved = await resolveStack({ stackText: fs.readFileSync(path.join(STACKS, "stack-one.yaml"), "utf8"), changedApp: "demo-api", prNumber: "42" });
    assert.equal(resolved.status, 0, resolved.stderr);
    const { workspace, runId } = resolved;
    const apps = path.join(workspace, ".tekton-dag", "runs", runId, "apps");
    writeFile(path.join(apps, "demo-fe", "tests", "postman", "fe-tests.json"), collection("frontend smoke"));
    if (opts.checkOutApi !== false) {
        fs.mkdirSync(path.join(apps, "demo-api"), { recursive: true });
        if (opts.apiCollection !== undefined) writeFile(path.join(apps, "demo-api", "tests", "postman", "api-tests.json"), opts.apiCollection);
    }
    const resultFile = path.join(tmpDir("tests-results"), "test-summary");
    const newmanLog = path.join(tmpDir("newman"), "calls.log");
    const env = {
        STACK_JSON: resolved.results["stack-json"],
        APP_LIST: resolved.results["app-list"],
        ENTRY_APP: resolved.results["entry-app"],
        INTERCEPT_HEADER_VALUE: resolved.results["intercept-header-value"],
        DEFAULT_NAMESPACE: "staging",
        RUN_ID: runId,
        BASE_URL: "",
        SHARED_WORKSPACE: workspace,
        REQUEST_TIMEOUT_MS: "20000",
        RESULT_TEST_SUMMARY: resultFile,
        FAKE_NEWMAN_LOG: newmanLog,
    };
    const run: TestRun = { workspace, runId, stackJson: resolved.results["stack-json"], plan: runScript(path.join(SCRIPTS, "run-stack-tests-plan.sh"), env), result: "", newmanCalls: [] };
    if (run.plan.status === 0) {
        run.newman = runScript(path.join(SCRIPTS, "run-stack-tests-newman.sh"), env, [], { pathFirst: [FAKES] });
        run.summary = runScript(path.join(SCRIPTS, "run-stack-tests-summary.sh"), env);
    }
    if (fs.existsSync(resultFile)) run.result = fs.readFileSync(resultFile, "utf8");
    const summaryFile = path.join(workspace, ".tekton-dag", "runs", runId, "test-summary.json");
    if (fs.existsSync(summaryFile)) run.testSummary = JSON.parse(fs.readFileSync(summaryFile, "utf8"));
    if (fs.existsSync(newmanLog)) run.newmanCalls = fs.readFileSync(newmanLog, "utf8").trim().split("\n");
    return run;
}

const suite = (s: any, app: string, type: string) => s.suites.find((x: any) => x.app === app && x.type === type);

describe("run-stack-tests (plan, newman, summary)", function () {
    this.timeout(20 * 60 * 1000);
    before(() => yqDir());

    it("runs the checked-out collections through the entry app with the header and lists every other suite as skipped", async () => {
        const run = await runTests({ apiCollection: collection("api contract") });
        assert.equal(run.plan.status, 0, run.plan.stderr);
        assert.equal(run.newman!.status, 0, run.newman!.stderr);
        assert.equal(run.summary!.status, 0, run.summary!.stdout + run.summary!.stderr);
        assert.equal(run.result, `passed: 2 passed, 0 failed, 3 skipped (.tekton-dag/runs/${run.runId}/test-summary.json)`);

        const s = run.testSummary;
        assert.equal(s.status, "passed");
        assert.equal(s.entryApp, "demo-fe");
        assert.equal(s.baseUrl, "http://demo-fe.staging.svc.cluster.local:80");
        assert.equal(s.header, "x-dev-session: pr-42");
        assert.deepEqual(s.counts, { passed: 2, failed: 0, skipped: 3 });
        assert.deepEqual(s.suites.map((x: any) => `${x.app}/${x.type}/${x.status}`), [
            "demo-fe/postman/passed", "demo-fe/playwright/skipped",
            "release-lifecycle-demo/postman/skipped",
            "demo-api/postman/passed", "demo-api/artillery/skipped",
        ]);
        assert.match(suite(s, "demo-fe", "playwright").reason, /no runner for playwright suites/);
        assert.match(suite(s, "release-lifecycle-demo", "postman").reason, /repository of release-lifecycle-demo is not checked out in this run/);
        assert.deepEqual(suite(s, "demo-api", "postman").stats, { requests: 2, failedRequests: 0, assertions: 3, failedAssertions: 0, failures: [] });

        // newman ran each prepared collection against the entry app, with the header as variables
        assert.equal(run.newmanCalls.length, 2);
        const call = run.newmanCalls[1];
        assert.match(call, /^run \S+\/tests\/collections\/demo-api-postman\.json /);
        assert.match(call, /--env-var baseUrl=http:\/\/demo-fe\.staging\.svc\.cluster\.local:80 /);
        assert.match(call, /--env-var appUrl=http:\/\/demo-api\.staging\.svc\.cluster\.local:80 /);
        assert.match(call, /--env-var tektonDagHeaderName=x-dev-session --env-var tektonDagHeaderValue=pr-42 /);
        assert.match(call, /--timeout-request 20000 /);
        assert.match(call, /--reporters cli,json --reporter-json-export \S+\/tests\/results\/demo-api-postman\.json$/);

        // the prepared copy keeps the collection's own events and adds the header for every request
        const prepared = JSON.parse(fs.readFileSync(path.join(run.workspace, ".tekton-dag", "runs", run.runId, "tests", "collections", "demo-api-postman.json"), "utf8"));
        assert.equal(prepared.event.length, 2);
        assert.equal(prepared.event[0].listen, "test");
        assert.equal(prepared.event[1].listen, "prerequest");
        assert.match(prepared.event[1].script.exec.join("\n"),
            /pm\.request\.headers\.upsert\(\{key: pm\.variables\.get\("tektonDagHeaderName"\), value: pm\.variables\.get\("tektonDagHeaderValue"\)\}\)/);
        assert.deepEqual(prepared.item, JSON.parse(collection("api contract")).item);
    });

    it("fails when a suite fails, with newman's numbers in the summary", async () => {
        const run = await runTests({ apiCollection: collection("failing api contract") });
        assert.equal(run.newman!.status, 0, "the newman step records failures and leaves the verdict to the summary");
        assert.equal(run.summary!.status, 1);
        assert.match(run.summary!.stderr, /error: 1 test suite\(s\) failed/);
        assert.equal(run.result, `failed: 1 passed, 1 failed, 3 skipped (.tekton-dag/runs/${run.runId}/test-summary.json)`);
        const api = suite(run.testSummary, "demo-api", "postman");
        assert.equal(api.status, "failed");
        assert.equal(api.reason, "newman exited 1: 1 of 3 assertions and 0 of 2 requests failed");
        assert.deepEqual(api.stats.failures, ["get home: expected 200 but got 500"]);
    });

    it("skips a declared collection missing from the checkout and fails one that is not a collection", async () => {
        const missing = await runTests({});
        assert.equal(missing.summary!.status, 0);
        assert.match(suite(missing.testSummary, "demo-api", "postman").reason, /collection tests\/postman\/api-tests\.json is not in the checkout of demo-api/);

        const broken = await runTests({ apiCollection: "{ not json" });
        assert.equal(broken.summary!.status, 1);
        const api = suite(broken.testSummary, "demo-api", "postman");
        assert.equal(api.status, "failed");
        assert.match(api.reason, /is not a Postman collection/);
        assert.equal(broken.newmanCalls.length, 1, "newman only ran the frontend collection");
    });

    it("reports no-tests-run when nothing could run, without failing", async () => {
        const run = await runTests({ checkOutApi: false });
        // demo-fe's collection still runs; remove it to see the empty case
        assert.equal(run.testSummary.counts.passed, 1);
        const apps = path.join(run.workspace, ".tekton-dag", "runs", run.runId, "apps");
        fs.rmSync(apps, { recursive: true });
        const env = {
            STACK_JSON: run.stackJson, ENTRY_APP: "demo-fe", INTERCEPT_HEADER_VALUE: "x-dev-session: pr-42",
            RUN_ID: run.runId, SHARED_WORKSPACE: run.workspace, FAKE_NEWMAN_LOG: path.join(tmpDir("newman"), "calls.log"),
        };
        assert.equal(runScript(path.join(SCRIPTS, "run-stack-tests-plan.sh"), env).status, 0);
        const newman = runScript(path.join(SCRIPTS, "run-stack-tests-newman.sh"), env, [], { pathFirst: [FAKES] });
        assert.match(newman.stdout, /no Postman collection to run/);
        const summary = runScript(path.join(SCRIPTS, "run-stack-tests-summary.sh"), env);
        assert.equal(summary.status, 0, summary.stderr);
        assert.match(summary.stdout, /no-tests-run: 0 passed, 0 failed, 5 skipped/);
    });

    it("summarises more suites than fit in the kernel's 128 KiB limit on one argument", async () => {
        const workspace = tmpDir("tests-wide");
        const runId = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
        const tests = path.join(workspace, ".tekton-dag", "runs", runId, "tests");
        const reason = "run-stack-tests has no runner for artillery suites (only postman runs); " + "a long note ".repeat(12);
        const lines = Array.from({ length: 600 }, (_, i) =>
            [`app-${i}`, "artillery", `tests/artillery/load-${i}.yml`, "skip", reason, "-", "-"].join("\t"));
        writeFile(path.join(tests, "plan.tsv"), lines.join("\n") + "\n");
        writeFile(path.join(tests, "base-url"), "http://demo-fe.staging.svc.cluster.local:80");
        writeFile(path.join(tests, "header-name"), "x-dev-session");
        writeFile(path.join(tests, "header-value"), "pr-42");
        const summary = runScript(path.join(SCRIPTS, "run-stack-tests-summary.sh"), { SHARED_WORKSPACE: workspace, RUN_ID: runId, ENTRY_APP: "demo-fe" });
        assert.equal(summary.status, 0, summary.stderr);
        const written = fs.readFileSync(path.join(workspace, ".tekton-dag", "runs", runId, "test-summary.json"), "utf8");
        assert.ok(written.length > 140_000, `${written.length} bytes`);
        assert.equal(JSON.parse(written).counts.skipped, 600);
    });
});
