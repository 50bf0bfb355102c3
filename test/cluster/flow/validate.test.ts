// validate-stack-propagation and validate-original-traffic (validate-routing.sh) on the real API server, run
// as tekton-dag-pipeline (the ServiceAccount of both tasks, lib/identities.ts). The PR pod is the one
// deploy-intercept-mirrord creates (mirrord CLI simulated, standins.ts); the original pod is the demo-fe
// Deployment's own. Simulated: pod networking. The entry app's Service is an HTTP server on 127.0.0.1 (the
// script's curl is real) that "routes" each request to a pod by writing an access-log line into that pod's
// log, which kwok serves through the API server (../podlogs.ts).
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { auditMark, auditSince } from "../audit";
import {
    deployEnv, installApps, installRbac, kubectlOk, newRun, PIPELINE_SA, purgeRunObjects, runScriptAs, ScriptRun, sleep, TARGET_NS,
} from "../harness";
import { PodLog } from "../podlogs";
import { ProxyPods } from "../standins";
import { pinValue } from "./workspace";
import { tmpDir } from "../../support/tmpDir";

const NS = TARGET_NS;
const RUN = newRun("validate");
const RUN_ID = RUN.id;
/** The name deploy-intercept-mirrord gives demo-fe's PR pod in this run (lib-intercept.sh object_name). */
const PR_POD = `pr-demo-fe-${RUN_ID.slice(0, 8)}`;
let ORIGINAL_POD = "";

const STACK = {
    name: "stack-one",
    headerName: "x-dev-session",
    interceptHeaderValue: "x-dev-session: pr-42",
    entryApp: "demo-fe",
    order: ["demo-fe", "demo-api"],
    propagationChain: ["demo-fe", "demo-api"],
    buildApps: ["demo-fe"],
    apps: {
        "demo-fe": { name: "demo-fe", namespace: NS, servicePort: 80, downstream: ["demo-api"] },
        "demo-api": { name: "demo-api", namespace: NS, servicePort: 80, downstream: [] },
    },
};

/** "stale": routed to the PR pod, whose access-log line carries a time an hour before the request. */
type Routing = "header" | "original-only" | "pr-only" | "silent" | "error" | "stale";

let proxies: ProxyPods;
const logs: Record<string, PodLog> = {};

interface Harness {
    workspace: string;
    baseUrl: string;
    requests: http.IncomingMessage[];
    run(mode: "with-header" | "without-header", env?: Record<string, string>): Promise<ScriptRun & { answeredBy: string; verdict: any }>;
    close(): Promise<void>;
}

/**
 * The server answers like a Service with a header-filtered intercept and appends an access-log line (the
 * request line with its query, as nginx would) to the log of the pod it "routed" to. Each harness starts
 * both pods' logs afresh with their start-up line.
 */
async function harness(routing: Routing): Promise<Harness> {
    const workspace = tmpDir("validate-ws-");
    const runDir = path.join(workspace, ".tekton-dag", "runs", RUN_ID);
    // As in a run: stack.json pinned by the digest resolve-stack reports, deployed-pods inline (the result
    // deploy-intercepts-result hands on).
    const stackRef = pinValue(workspace, `.tekton-dag/runs/${RUN_ID}/stack.json`, JSON.stringify(STACK));
    fs.writeFileSync(logs[PR_POD].file, "");
    fs.writeFileSync(logs[ORIGINAL_POD].file, "");
    logs[PR_POD].write("PR build listening on 3000");
    logs[ORIGINAL_POD].write("release build listening on 3000");

    const requests: http.IncomingMessage[] = [];
    const server = http.createServer((req, res) => {
        requests.push(req);
        if (routing === "error") {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end("upstream connect error");
            return;
        }
        const withHeader = req.headers["x-dev-session"] === "pr-42";
        const toPr = routing === "pr-only" || routing === "stale" || (routing === "header" && withHeader);
        const at = routing === "stale" ? new Date(Date.now() - 3600_000) : new Date();
        if (routing !== "silent") logs[toPr ? PR_POD : ORIGINAL_POD].write(`10.0.0.9 - - "GET ${req.url} HTTP/1.1" 200 12`, at);
        res.writeHead(200, { "content-type": "text/plain", "x-served-by": "the-app" });
        res.end(toPr ? "hello from the PR build" : "hello from release");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    return {
        workspace, baseUrl, requests,
        async run(mode, env = {}) {
            const results = tmpDir("validate-results-");
            const out = await runScriptAs("validate-routing.sh", {
                MODE: mode,
                STACK_JSON: stackRef,
                DEPLOYED_PODS: JSON.stringify({ "demo-fe": PR_POD }),
                INTERCEPT_HEADER_VALUE: "x-dev-session: pr-42",
                ENTRY_APP: "demo-fe",
                DEFAULT_NAMESPACE: NS,
                RUN_ID,
                REQUEST_PATH: "/",
                RETRIES: "3",
                TIMEOUT: "5",
                LOG_WAIT_SECONDS: "0",
                REQUIRE_PROOF: "false",
                BASE_URL: baseUrl,
                SHARED_WORKSPACE: workspace,
                RESULT_ANSWERED_BY: path.join(results, "answered-by"),
                ...env,
            }, PIPELINE_SA);
            const answeredFile = path.join(results, "answered-by");
            const verdictFile = path.join(runDir, `validation-${mode}.json`);
            return {
                ...out,
                answeredBy: fs.existsSync(answeredFile) ? fs.readFileSync(answeredFile, "utf8") : "",
                verdict: fs.existsSync(verdictFile) ? JSON.parse(fs.readFileSync(verdictFile, "utf8")) : undefined,
            };
        },
        close: () => new Promise<void>((r) => server.close(() => r())),
    };
}

describe("cluster: validate-routing.sh as tekton-dag-pipeline (validate-stack-propagation, validate-original-traffic; pod networking simulated: an HTTP server on 127.0.0.1 plays the Service and writes the pods' access logs, served by kwok)", function () {
    this.timeout(120_000);
    let h: Harness | undefined;

    before(async function () {
        this.timeout(300_000);
        await installRbac();
        installApps();
        proxies = new ProxyPods();
        proxies.start();
        // The PR pod as the deploy task creates it (mirrord CLI simulated).
        const d = await runScriptAs("deploy-intercept-mirrord.sh", deployEnv(RUN, ["demo-fe"]), PIPELINE_SA);
        assert.equal(d.status, 0, d.stderr);
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(RUN.ws, "result"), "utf8")), { "demo-fe": PR_POD });
        // demo-fe has one replica; a pod of an earlier rollout may still be on its way out.
        let originals: string[] = [];
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(500)) {
            originals = kubectlOk(["get", "pods", "-n", NS, "-l", "app=demo-fe", "-o", "jsonpath={.items[*].metadata.name}"]).trim().split(/\s+/);
            if (originals.length === 1) break;
        }
        assert.equal(originals.length, 1, `demo-fe has one pod: ${originals.join(" ")}`);
        ORIGINAL_POD = originals[0];
        logs[PR_POD] = await PodLog.attach(NS, PR_POD);
        logs[ORIGINAL_POD] = await PodLog.attach(NS, ORIGINAL_POD);
    });
    after(async () => {
        await proxies?.stop();
        for (const l of Object.values(logs)) l.detach();
        await purgeRunObjects();
    });
    afterEach(async () => {
        await h?.close();
        h = undefined;
    });

    describe("a stack.json changed after resolve-stack wrote it", () => {
        it("is refused before any request, naming the file", async () => {
            h = await harness("header");
            const file = path.join(h.workspace, ".tekton-dag", "runs", RUN_ID, "stack.json");
            // What a PR build could do: point the entry app at another namespace.
            const forged = { ...STACK, apps: { ...STACK.apps, "demo-fe": { ...STACK.apps["demo-fe"], namespace: "kube-system" } } };
            fs.writeFileSync(file, JSON.stringify(forged));
            const out = await h.run("with-header");
            assert.equal(out.status, 1);
            assert.match(out.stderr, /stack\.json has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its writer reported; the file was changed after it was written/);
            assert.equal(h.requests.length, 0, "no request with a forged graph");
        });

        it("is refused when replaced by a symlink to the same content elsewhere", async () => {
            h = await harness("header");
            const file = path.join(h.workspace, ".tekton-dag", "runs", RUN_ID, "stack.json");
            const elsewhere = path.join(tmpDir("elsewhere-"), "stack.json");
            fs.copyFileSync(file, elsewhere);
            fs.rmSync(file);
            fs.symlinkSync(elsewhere, file);
            const out = await h.run("with-header");
            assert.equal(out.status, 1);
            assert.match(out.stderr, /stack\.json is a symbolic link/);
        });
    });

    describe("routing that works", () => {
        it("with the header: passes, naming the PR pod that logged the probe", async () => {
            h = await harness("header");
            const out = await h.run("with-header");
            assert.equal(out.status, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `pr-pod/${NS}/${PR_POD}`);
            assert.match(out.stdout, new RegExp(`PASS: the request WITH 'x-dev-session: pr-42' entered at demo-fe and reached pr-pod/${NS}/${PR_POD}`));
            assert.equal(h.requests.length, 1);
            const req = h.requests[0];
            assert.equal(req.headers["x-dev-session"], "pr-42");
            const probe = String(req.headers["x-tekton-dag-probe"]);
            assert.match(probe, /^tdag-[0-9a-f]{12}$/);
            assert.equal(req.url, `/?tekton-dag-probe=${probe}`);
            assert.equal(out.verdict.verdict, "pass");
            assert.equal(out.verdict.probe, probe);
        });

        it("without the header: passes, naming the original pod", async () => {
            h = await harness("header");
            const out = await h.run("without-header");
            assert.equal(out.status, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `original/${NS}/${ORIGINAL_POD}`);
            assert.match(out.stdout, new RegExp(`PASS: the request WITHOUT 'x-dev-session' was answered by original/${NS}/${ORIGINAL_POD}`));
            assert.equal(h.requests[0].headers["x-dev-session"], undefined);
        });

        it("reads the Deployment, its pods and the logs of the PR pod and the original pod since the request, nothing else (audit log)", async () => {
            h = await harness("header");
            const mark = auditMark();
            const out = await h.run("with-header");
            assert.equal(out.status, 0, out.stdout + out.stderr);
            // API requests of this script's own token; discovery (no resource) aside.
            const reqs = auditSince(mark).filter((e) => e.tokenId === out.tokenId && e.resource);
            const show = reqs.map((e) => `${e.verb} ${e.resource}${e.subresource ? `/${e.subresource}` : ""} ${e.namespace}/${e.name} ${e.uri}`).join("\n");
            assert.ok(reqs.some((e) => e.verb === "get" && e.resource === "deployments" && e.name === "demo-fe"), show);
            assert.ok(reqs.some((e) => e.verb === "list" && e.resource === "pods" && e.uri.includes("labelSelector=app%3Ddemo-fe")), show);
            for (const pod of [PR_POD, ORIGINAL_POD]) {
                assert.ok(reqs.some((e) => e.subresource === "log" && e.name === pod && /[?&]sinceSeconds=\d+/.test(e.uri)), `no log read of ${pod} with --since:\n${show}`);
            }
            const allowed = (e: typeof reqs[number]) => e.namespace === NS && (
                (e.verb === "get" && e.resource === "deployments" && e.name === "demo-fe")
                || (e.verb === "list" && e.resource === "pods")
                // kubectl logs reads the pod (its containers), then each container's log.
                || (e.verb === "get" && e.resource === "pods" && [PR_POD, ORIGINAL_POD].includes(e.name) && ["", "log"].includes(e.subresource)));
            assert.deepEqual(reqs.filter((e) => !allowed(e)), [], show);
        });
    });

    describe("routing that is wrong fails with the evidence", () => {
        it("with the header, answered by the original pod of the intercepted app", async () => {
            h = await harness("original-only");
            const out = await h.run("with-header");
            assert.equal(out.status, 1);
            assert.match(out.stdout, new RegExp(`FAIL: the request WITH 'x-dev-session: pr-42' was answered by original/${NS}/${ORIGINAL_POD} \\(an original pod of an intercepted app\\), not by a PR pod`));
            assert.match(out.stdout, /status: {2}HTTP 200/);
            assert.match(out.stdout, /x-served-by: the-app/);
            assert.match(out.stdout, /hello from release/);
            assert.match(out.stdout, new RegExp(`original pod ${NS}/${ORIGINAL_POD} \\(app demo-fe\\) logged the probe:\\n {4}10\\.0\\.0\\.9 - - "GET /\\?tekton-dag-probe=tdag-`));
            assert.match(out.stdout, new RegExp(`pr pod ${NS}/${PR_POD} \\(app demo-fe\\): probe not in its 1 log line\\(s\\) since the request; last lines:\\n {4}PR build listening on 3000`));
            assert.equal(out.answeredBy, `original/${NS}/${ORIGINAL_POD}`);
            assert.equal(out.verdict.verdict, "fail");
        });

        it("without the header, answered by the PR pod", async () => {
            h = await harness("pr-only");
            const out = await h.run("without-header");
            assert.equal(out.status, 1);
            assert.match(out.stdout, new RegExp(`FAIL: the request WITHOUT 'x-dev-session' was answered by pr-pod/${NS}/${PR_POD}, a PR pod: the intercept takes traffic it must not`));
            assert.match(out.stdout, /hello from the PR build/);
        });

        it("no answer below 500: retries as often as asked, then fails with status and body", async () => {
            h = await harness("error");
            const out = await h.run("with-header", { RETRIES: "2" });
            assert.equal(out.status, 1);
            assert.equal(h.requests.length, 2);
            assert.match(out.stderr, /attempt 1\/2: HTTP 503; retrying in 2s/);
            assert.match(out.stdout, /FAIL: no answer from http:\/\/127\.0\.0\.1:\d+\/\?tekton-dag-probe=tdag-[0-9a-f]+ after 2 attempt\(s\) of at most 5s each/);
            assert.match(out.stdout, /upstream connect error/);
        });

        it("nothing listening: fails after the retries with curl's error", async () => {
            h = await harness("header");
            await h.close();
            const out = await h.run("with-header", { RETRIES: "1", BASE_URL: h.baseUrl });
            h = undefined;
            assert.equal(out.status, 1);
            assert.match(out.stdout, /status: {2}HTTP 000 \(curl: .*(refused|connect)/i);
        });
    });

    describe("apps that log no request lines", () => {
        it("pass unproven with a warning when require-proof is false", async () => {
            h = await harness("silent");
            const out = await h.run("with-header");
            assert.equal(out.status, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, "unproven");
            assert.match(out.stdout, /WARNING: no pod logged probe tdag-[0-9a-f]+ within 0s: demo-fe answered HTTP 200, but which pod answered is UNPROVEN/);
            assert.equal(out.verdict.verdict, "unproven");
        });

        it("fail when require-proof is true", async () => {
            h = await harness("silent");
            const out = await h.run("with-header", { REQUIRE_PROOF: "true" });
            assert.equal(out.status, 1);
            assert.match(out.stdout, /FAIL: no pod logged probe .*UNPROVEN.*require-proof is true/);
        });

        it("a probe line timed before the request is outside the logs read (--since, applied by the node)", async () => {
            h = await harness("stale");
            const out = await h.run("with-header", { REQUIRE_PROOF: "true" });
            assert.equal(out.status, 1, out.stdout);
            assert.equal(out.answeredBy, "unproven");
            // The line is in the file, but kwok leaves it out of what --since asks for.
            assert.match(fs.readFileSync(logs[PR_POD].file, "utf8"), /tekton-dag-probe=tdag-/);
        });

        it("say so when the PR pod is gone (the API server answers NotFound)", async () => {
            h = await harness("silent");
            // Another run of the same stack: its PR pod name follows from its run id, and no such pod exists.
            const other = randomUUID();
            const gone = `pr-demo-fe-${other.slice(0, 8)}`;
            const out = await h.run("with-header", { RUN_ID: other, DEPLOYED_PODS: JSON.stringify({ "demo-fe": gone }) });
            assert.match(out.stdout, new RegExp(`pr pod ${NS}/${gone} \\(app demo-fe\\): logs not readable: error: error from server \\(NotFound\\): pods "${gone}" not found`));
        });

        it("say so when the node has no logs for a pod (kwok answers as a kubelet without them)", async () => {
            h = await harness("silent");
            logs[PR_POD].detach();
            try {
                const out = await h.run("with-header");
                assert.match(out.stdout, new RegExp(`pr pod ${NS}/${PR_POD} \\(app demo-fe\\): logs not readable: Error from server \\(BadRequest\\): no logs found for container`));
            } finally {
                logs[PR_POD] = await PodLog.attach(NS, PR_POD);
            }
        });
    });

    describe("inputs", () => {
        it("takes inline JSON as well as @path values", async () => {
            h = await harness("header");
            const out = await h.run("with-header", { STACK_JSON: JSON.stringify(STACK), DEPLOYED_PODS: JSON.stringify({ "demo-fe": { pod: PR_POD, namespace: NS } }) });
            assert.equal(out.status, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `pr-pod/${NS}/${PR_POD}`);
        });

        it("reads a stack larger than the kernel's 128 KiB limit on one argument (a wide stack)", async () => {
            h = await harness("header");
            const wide = structuredClone(STACK) as any;
            for (let i = 0; i < 2500; i++) wide.apps[`filler-app-${i}`] = { name: `filler-app-${i}`, namespace: NS, servicePort: 80, downstream: [] };
            const text = JSON.stringify(wide);
            assert.ok(text.length > 140_000);
            const out = await h.run("with-header", { STACK_JSON: pinValue(h.workspace, `.tekton-dag/runs/${RUN_ID}/wide-stack.json`, text) });
            assert.equal(out.status, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `pr-pod/${NS}/${PR_POD}`);
        });

        const bad: Array<[string, () => Record<string, string>, () => RegExp]> = [
            ["an entry app the graph lacks", () => ({ ENTRY_APP: "web" }), () => /entry-app 'web' is not an app of stack-json \(apps: demo-fe, demo-api\)/],
            ["a header value without a name", () => ({ INTERCEPT_HEADER_VALUE: "pr-42" }), () => /intercept-header-value "pr-42" has no ':'; expected "<header-name>: <value>"/],
            ["no PR pod with the header", () => ({ DEPLOYED_PODS: "{}" }), () => /deployed-pods names no PR pod/],
            ["deployed-pods that is not JSON", () => ({ DEPLOYED_PODS: "pr-demo-fe" }), () => /deployed-pods is not a JSON object of app -> PR pod name/],
            ["retries that are not a number", () => ({ RETRIES: "many" }), () => /retries 'many' must be a whole number/],
            ["a relative request path", () => ({ REQUEST_PATH: "health" }), () => /request-path 'health' must start with '\/'/],
            ["a missing @path file", () => ({ STACK_JSON: `@.tekton-dag/runs/x/stack.json@sha256:${"0".repeat(64)}` }), () => /no file .*stack\.json/],
            // The inputs PR code could forge (issue 12): a workspace file without its digest, a deployed-pods
            // pointing at another app's pod or another namespace.
            ["an @path without its digest", () => ({ STACK_JSON: `@.tekton-dag/runs/${RUN_ID}/stack.json` }),
                () => /value reference '@\.tekton-dag\/runs\/[^']+\/stack\.json' carries no digest/],
            ["deployed-pods naming an app that is not a build app", () => ({ DEPLOYED_PODS: JSON.stringify({ "demo-fe": PR_POD, "demo-api": "demo-api-7c9d8-xyz12" }) }),
                () => new RegExp(`deployed-pods names a pod this run's deploy did not create: .*demo-fe=${NS}/${PR_POD}`)],
            ["deployed-pods naming another pod for the build app (the original one)", () => ({ DEPLOYED_PODS: JSON.stringify({ "demo-fe": ORIGINAL_POD }) }),
                () => /deployed-pods names a pod this run's deploy did not create/],
            ["deployed-pods moving the PR pod to another namespace", () => ({ DEPLOYED_PODS: JSON.stringify({ "demo-fe": { pod: PR_POD, namespace: "kube-system" } }) }),
                () => /deployed-pods names a pod this run's deploy did not create/],
        ];
        for (const [title, env, message] of bad) {
            it(`rejects ${title}, before any request or API call`, async () => {
                h = await harness("header");
                const mark = auditMark();
                const out = await h.run("with-header", env());
                assert.equal(out.status, 1);
                assert.match(out.stderr, message());
                assert.equal(h.requests.length, 0, "no request before the inputs are checked");
                assert.deepEqual(auditSince(mark).filter((e) => e.tokenId === out.tokenId), [], "no API request before the inputs are checked");
            });
        }
    });
});
