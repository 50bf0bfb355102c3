// validate-stack-propagation and validate-original-traffic (validate-routing.sh): real HTTP requests to a
// server on 127.0.0.1 that plays the entry app's Service, and a fake kubectl whose pod logs are what that
// server "routed" to each pod.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as path from "path";
import { FAKES, RunResult, pinValue, runScript, tmpDir, writeFile } from "./helpers";

const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
const NS = "staging";
const PR_POD = "pr-demo-fe-0f8e6c1a";
const ORIGINAL_POD = "demo-fe-7c9d8-abcde";

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

type Routing = "header" | "original-only" | "pr-only" | "silent" | "error";

interface Harness {
    workspace: string;
    kube: string;
    baseUrl: string;
    requests: http.IncomingMessage[];
    run(mode: "with-header" | "without-header", env?: Record<string, string>): Promise<RunResult & { answeredBy: string; verdict: any }>;
    close(): Promise<void>;
}

/**
 * The server answers like a Service with a header-filtered intercept and appends an access-log line (the
 * request line with its query, as nginx would) to the log of the pod it "routed" to.
 */
async function harness(routing: Routing): Promise<Harness> {
    const workspace = tmpDir("validate-ws");
    const kube = tmpDir("validate-kube");
    const runDir = path.join(workspace, ".tekton-dag", "runs", RUN_ID);
    // As in a run: stack.json pinned by the digest resolve-stack reports, deployed-pods inline (the result
    // deploy-intercepts-result hands on).
    const stackRef = pinValue(workspace, `.tekton-dag/runs/${RUN_ID}/stack.json`, JSON.stringify(STACK));
    writeFile(path.join(kube, "logs", NS, PR_POD), "PR build listening on 3000\n");
    writeFile(path.join(kube, "logs", NS, ORIGINAL_POD), "release build listening on 3000\n");
    writeFile(path.join(kube, "deployments", NS, "demo-fe.json"), JSON.stringify({ spec: { selector: { matchLabels: { app: "demo-fe" } } } }));
    writeFile(path.join(kube, "selectors", NS, "app=demo-fe"), `pod/${ORIGINAL_POD}\n`);

    const requests: http.IncomingMessage[] = [];
    const server = http.createServer((req, res) => {
        requests.push(req);
        if (routing === "error") {
            res.writeHead(503, { "content-type": "text/plain" });
            res.end("upstream connect error");
            return;
        }
        const withHeader = req.headers["x-dev-session"] === "pr-42";
        const toPr = routing === "pr-only" || (routing === "header" && withHeader);
        const pod = toPr ? PR_POD : ORIGINAL_POD;
        if (routing !== "silent") {
            fs.appendFileSync(path.join(kube, "logs", NS, pod), `10.0.0.9 - - "GET ${req.url} HTTP/1.1" 200 12\n`);
        }
        res.writeHead(200, { "content-type": "text/plain", "x-served-by": "the-app" });
        res.end(toPr ? "hello from the PR build" : "hello from release");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    return {
        workspace, kube, baseUrl, requests,
        async run(mode, env = {}) {
            const results = tmpDir("validate-results");
            const out = await runScript("validate-routing.sh", {
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
                FAKE_KUBE_DIR: kube,
                ...env,
            }, [FAKES]);
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

describe("validate-routing.sh (validate-stack-propagation, validate-original-traffic)", function () {
    this.timeout(60000);
    let h: Harness;
    afterEach(async () => h && (await h.close()));

    describe("a stack.json changed after resolve-stack wrote it", () => {
        it("is refused before any request, naming the file", async () => {
            h = await harness("header");
            const file = path.join(h.workspace, ".tekton-dag", "runs", RUN_ID, "stack.json");
            // What a PR build could do: point the entry app at another namespace.
            const forged = { ...STACK, apps: { ...STACK.apps, "demo-fe": { ...STACK.apps["demo-fe"], namespace: "kube-system" } } };
            fs.writeFileSync(file, JSON.stringify(forged));
            const out = await h.run("with-header");
            assert.equal(out.code, 1);
            assert.match(out.stderr, /stack\.json has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its writer reported; the file was changed after it was written/);
            assert.equal(h.requests.length, 0, "no request with a forged graph");
        });

        it("is refused when replaced by a symlink to the same content elsewhere", async () => {
            h = await harness("header");
            const file = path.join(h.workspace, ".tekton-dag", "runs", RUN_ID, "stack.json");
            const elsewhere = path.join(tmpDir("elsewhere"), "stack.json");
            fs.copyFileSync(file, elsewhere);
            fs.rmSync(file);
            fs.symlinkSync(elsewhere, file);
            const out = await h.run("with-header");
            assert.equal(out.code, 1);
            assert.match(out.stderr, /stack\.json is a symbolic link/);
        });
    });

    describe("routing that works", () => {
        it("with the header: passes, naming the PR pod that logged the probe", async () => {
            h = await harness("header");
            const out = await h.run("with-header");
            assert.equal(out.code, 0, out.stdout + out.stderr);
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
            assert.equal(out.code, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `original/${NS}/${ORIGINAL_POD}`);
            assert.match(out.stdout, /PASS: the request WITHOUT 'x-dev-session' was answered by original\/staging\/demo-fe-7c9d8-abcde/);
            assert.equal(h.requests[0].headers["x-dev-session"], undefined);
        });

        it("reads the pod logs of the PR pod and of the Deployment's own pods, nothing else", async () => {
            h = await harness("header");
            await h.run("with-header");
            const calls = fs.readFileSync(path.join(h.kube, "calls.log"), "utf8").trim().split("\n");
            assert.ok(calls.includes(`get deployment demo-fe -n ${NS} -o json`), calls.join("\n"));
            assert.ok(calls.includes(`get pods -n ${NS} -l app=demo-fe -o name`), calls.join("\n"));
            assert.ok(calls.some((c) => c.startsWith(`logs ${PR_POD} -n ${NS} --all-containers=true --since=`)), calls.join("\n"));
            assert.ok(calls.every((c) => /^(logs|get deployment|get pods)/.test(c)), calls.join("\n"));
        });
    });

    describe("routing that is wrong fails with the evidence", () => {
        it("with the header, answered by the original pod of the intercepted app", async () => {
            h = await harness("original-only");
            const out = await h.run("with-header");
            assert.equal(out.code, 1);
            assert.match(out.stdout, /FAIL: the request WITH 'x-dev-session: pr-42' was answered by original\/staging\/demo-fe-7c9d8-abcde \(an original pod of an intercepted app\), not by a PR pod/);
            assert.match(out.stdout, /status: {2}HTTP 200/);
            assert.match(out.stdout, /x-served-by: the-app/);
            assert.match(out.stdout, /hello from release/);
            assert.match(out.stdout, /original pod staging\/demo-fe-7c9d8-abcde \(app demo-fe\) logged the probe:\n {4}10\.0\.0\.9 - - "GET \/\?tekton-dag-probe=tdag-/);
            assert.match(out.stdout, /pr pod staging\/pr-demo-fe-0f8e6c1a \(app demo-fe\): probe not in its/);
            assert.equal(out.answeredBy, `original/${NS}/${ORIGINAL_POD}`);
            assert.equal(out.verdict.verdict, "fail");
        });

        it("without the header, answered by the PR pod", async () => {
            h = await harness("pr-only");
            const out = await h.run("without-header");
            assert.equal(out.code, 1);
            assert.match(out.stdout, /FAIL: the request WITHOUT 'x-dev-session' was answered by pr-pod\/staging\/pr-demo-fe-0f8e6c1a, a PR pod: the intercept takes traffic it must not/);
            assert.match(out.stdout, /hello from the PR build/);
        });

        it("no answer below 500: retries as often as asked, then fails with status and body", async () => {
            h = await harness("error");
            const out = await h.run("with-header", { RETRIES: "2" });
            assert.equal(out.code, 1);
            assert.equal(h.requests.length, 2);
            assert.match(out.stderr, /attempt 1\/2: HTTP 503; retrying in 2s/);
            assert.match(out.stdout, /FAIL: no answer from http:\/\/127\.0\.0\.1:\d+\/\?tekton-dag-probe=tdag-[0-9a-f]+ after 2 attempt\(s\) of at most 5s each/);
            assert.match(out.stdout, /upstream connect error/);
        });

        it("nothing listening: fails after the retries with curl's error", async () => {
            h = await harness("header");
            await h.close();
            const out = await h.run("with-header", { RETRIES: "1", BASE_URL: h.baseUrl });
            h = undefined as any;
            assert.equal(out.code, 1);
            assert.match(out.stdout, /status: {2}HTTP 000 \(curl: .*(refused|connect)/i);
        });
    });

    describe("apps that log no request lines", () => {
        it("pass unproven with a warning when require-proof is false", async () => {
            h = await harness("silent");
            const out = await h.run("with-header");
            assert.equal(out.code, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, "unproven");
            assert.match(out.stdout, /WARNING: no pod logged probe tdag-[0-9a-f]+ within 0s: demo-fe answered HTTP 200, but which pod answered is UNPROVEN/);
            assert.equal(out.verdict.verdict, "unproven");
        });

        it("fail when require-proof is true", async () => {
            h = await harness("silent");
            const out = await h.run("with-header", { REQUIRE_PROOF: "true" });
            assert.equal(out.code, 1);
            assert.match(out.stdout, /FAIL: no pod logged probe .*UNPROVEN.*require-proof is true/);
        });

        it("say so when a pod's logs cannot be read", async () => {
            h = await harness("silent");
            fs.rmSync(path.join(h.kube, "logs", NS, PR_POD));
            const out = await h.run("with-header");
            assert.match(out.stdout, /pr pod staging\/pr-demo-fe-0f8e6c1a \(app demo-fe\): logs not readable: Error from server \(NotFound\)/);
        });
    });

    describe("inputs", () => {
        it("takes inline JSON as well as @path values", async () => {
            h = await harness("header");
            const out = await h.run("with-header", { STACK_JSON: JSON.stringify(STACK), DEPLOYED_PODS: JSON.stringify({ "demo-fe": { pod: PR_POD, namespace: NS } }) });
            assert.equal(out.code, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `pr-pod/${NS}/${PR_POD}`);
        });

        it("reads a stack larger than the kernel's 128 KiB limit on one argument (a wide stack)", async () => {
            h = await harness("header");
            const wide = structuredClone(STACK) as any;
            for (let i = 0; i < 2500; i++) wide.apps[`filler-app-${i}`] = { name: `filler-app-${i}`, namespace: NS, servicePort: 80, downstream: [] };
            const text = JSON.stringify(wide);
            assert.ok(text.length > 140_000);
            const out = await h.run("with-header", { STACK_JSON: pinValue(h.workspace, `.tekton-dag/runs/${RUN_ID}/wide-stack.json`, text) });
            assert.equal(out.code, 0, out.stdout + out.stderr);
            assert.equal(out.answeredBy, `pr-pod/${NS}/${PR_POD}`);
        });

        const bad: Array<[string, Record<string, string>, RegExp]> = [
            ["an entry app the graph lacks", { ENTRY_APP: "web" }, /entry-app 'web' is not an app of stack-json \(apps: demo-fe, demo-api\)/],
            ["a header value without a name", { INTERCEPT_HEADER_VALUE: "pr-42" }, /intercept-header-value "pr-42" has no ':'; expected "<header-name>: <value>"/],
            ["no PR pod with the header", { DEPLOYED_PODS: "{}" }, /deployed-pods names no PR pod/],
            ["deployed-pods that is not JSON", { DEPLOYED_PODS: "pr-demo-fe" }, /deployed-pods is not a JSON object of app -> PR pod name/],
            ["retries that are not a number", { RETRIES: "many" }, /retries 'many' must be a whole number/],
            ["a relative request path", { REQUEST_PATH: "health" }, /request-path 'health' must start with '\/'/],
            ["a missing @path file", { STACK_JSON: `@.tekton-dag/runs/x/stack.json@sha256:${"0".repeat(64)}` }, /no file .*stack\.json/],
            // The inputs PR code could forge (issue 12): a workspace file without its digest, a deployed-pods
            // pointing at another app's pod or another namespace.
            ["an @path without its digest", { STACK_JSON: `@.tekton-dag/runs/${RUN_ID}/stack.json` },
                /value reference '@\.tekton-dag\/runs\/[^']+\/stack\.json' carries no digest/],
            ["deployed-pods naming an app that is not a build app", { DEPLOYED_PODS: JSON.stringify({ "demo-fe": PR_POD, "demo-api": "demo-api-7c9d8-xyz12" }) },
                /deployed-pods names a pod this run's deploy did not create: .*demo-fe=staging\/pr-demo-fe-0f8e6c1a/],
            ["deployed-pods naming another pod for the build app", { DEPLOYED_PODS: JSON.stringify({ "demo-fe": ORIGINAL_POD }) },
                /deployed-pods names a pod this run's deploy did not create/],
            ["deployed-pods moving the PR pod to another namespace", { DEPLOYED_PODS: JSON.stringify({ "demo-fe": { pod: PR_POD, namespace: "kube-system" } }) },
                /deployed-pods names a pod this run's deploy did not create/],
        ];
        for (const [title, env, message] of bad) {
            it(`rejects ${title}`, async () => {
                h = await harness("header");
                const out = await h.run("with-header", env);
                assert.equal(out.code, 1);
                assert.match(out.stderr, message);
                assert.equal(h.requests.length, 0, "no request before the inputs are checked");
            });
        }
    });
});
