// resolve-stack: the graph it emits for the sample stacks, every rejection with its message, and the
// result budget with 40 apps. Runs the Task's two real scripts (yq parse step, python resolve step).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { FIXTURES, STACKS, fortyAppStack, largeStack, readAt, resolveStack, terminationMessageBytes, yqDir } from "./helpers";

const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const sample = (name: string) => fs.readFileSync(path.join(STACKS, name), "utf8");

const RESULT_NAMES = [
    "stack-json", "app-list", "propagation-chain", "entry-app", "changed-app", "build-apps", "intercept-header-value",
    "build-tool", "app-repo-url", "app-context-dir", "app-dockerfile",
];

describe("resolve-stack", function () {
    this.timeout(20 * 60 * 1000);

    before(function () {
        yqDir(); // builds mikefarah yq once per machine when missing
    });

    describe("stacks/stack-one.yaml (three-app chain)", () => {
        it("emits the graph, the @path results and the changed app's build facts", async () => {
            const out = await resolveStack({ stackText: sample("stack-one.yaml"), changedApp: "release-lifecycle-demo", prNumber: "42" });
            assert.equal(out.status, 0, out.stderr);
            const run = `.tekton-dag/runs/${out.runId}`;
            assert.deepEqual(Object.keys(out.results).sort(), [...RESULT_NAMES].sort());
            // Each large value is pinned by the sha256 of the file resolve-stack wrote (readAt checks it).
            assert.match(out.results["stack-json"], new RegExp(`^@${run}/stack\\.json@sha256:[0-9a-f]{64}$`));
            assert.match(out.results["app-list"], new RegExp(`^@${run}/app-list\\.txt@sha256:[0-9a-f]{64}$`));
            assert.match(out.results["propagation-chain"], new RegExp(`^@${run}/propagation-chain\\.txt@sha256:[0-9a-f]{64}$`));
            assert.deepEqual(JSON.parse(readAt(out.workspace, out.results["stack-json"])), out.graph);
            assert.equal(readAt(out.workspace, out.results["app-list"]), "demo-fe release-lifecycle-demo demo-api");
            assert.equal(readAt(out.workspace, out.results["propagation-chain"]), "demo-fe release-lifecycle-demo demo-api");
            assert.equal(out.results["entry-app"], "demo-fe");
            assert.equal(out.results["build-apps"], "release-lifecycle-demo");
            assert.equal(out.results["intercept-header-value"], "x-dev-session: pr-42");
            assert.equal(out.results["build-tool"], "maven");
            assert.equal(out.results["app-repo-url"], "https://github.com/jmjava/tekton-dag-spring-boot.git");
            assert.equal(out.results["app-context-dir"], ".");
            assert.equal(out.results["app-dockerfile"], "Dockerfile");

            const g = out.graph;
            assert.equal(g.name, "stack-one");
            assert.equal(g.headerName, "x-dev-session");
            assert.equal(g.interceptHeaderValue, "x-dev-session: pr-42");
            assert.equal(g.entryApp, "demo-fe");
            assert.deepEqual(g.order, ["demo-fe", "release-lifecycle-demo", "demo-api"]);
            assert.deepEqual(g.propagationChain, ["demo-fe", "release-lifecycle-demo", "demo-api"]);
            assert.deepEqual(g.buildApps, ["release-lifecycle-demo"]);
            assert.deepEqual(g.apps["demo-fe"], {
                name: "demo-fe", repo: "https://github.com/jmjava/tekton-dag-vue-fe.git", role: "frontend",
                propagationRole: "originator", namespace: "staging", containerPort: 3000, servicePort: 80,
                readinessPath: "", contextDir: ".", dockerfile: "Dockerfile",
                build: { tool: "npm", "node-version": "22", "build-command": "npm ci && npm run build" },
                downstream: ["release-lifecycle-demo"],
                tests: { postman: "tests/postman/fe-tests.json", playwright: "tests/playwright" },
            });
            // stack defaults fill what an app leaves out; a full URL is kept as written
            assert.equal(g.apps["release-lifecycle-demo"].containerPort, 8080);
            assert.equal(g.apps["release-lifecycle-demo"].readinessPath, "/actuator/health");
            assert.equal(g.apps["demo-api"].repo, "https://github.com/jmjava/tekton-dag-spring-boot-gradle.git");
            assert.equal(g.apps["demo-api"].build.tool, "gradle");
        });

        it("emits the entry app's own build facts when the entry app changed", async () => {
            const out = await resolveStack({ stackText: sample("stack-one.yaml"), changedApp: "demo-fe", prNumber: "7" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["build-tool"], "npm");
            assert.equal(out.results["intercept-header-value"], "x-dev-session: pr-7");
            assert.deepEqual(out.graph.buildApps, ["demo-fe"]);
        });
    });

    describe("the changed app from the PR's repository (webhook runs give repository.full_name, not an app)", () => {
        // Every app of the shipped stack, found by its repository however the stack file writes it
        // (owner/name or a full URL) and however GitHub capitalises the name.
        const shipped: Array<[string, string]> = [
            ["jmjava/tekton-dag-vue-fe", "demo-fe"],
            ["JMJava/Tekton-DAG-Spring-Boot", "release-lifecycle-demo"],
            ["jmjava/tekton-dag-spring-boot-gradle", "demo-api"],
        ];
        for (const [repo, app] of shipped) {
            it(`stacks/stack-one.yaml: ${repo} -> ${app}`, async () => {
                const out = await resolveStack({ stackText: sample("stack-one.yaml"), repoFullName: repo, prNumber: "42" });
                assert.equal(out.status, 0, out.stderr);
                assert.equal(out.results["changed-app"], app);
                assert.equal(out.results["build-apps"], app);
                assert.deepEqual(out.graph.buildApps, [app]);
            });
        }

        it("finds an app whose repo is an ssh URL of another host, by owner/name", async () => {
            const stack = sample("single-app.yaml").replace("repo: jmjava/tekton-dag-flask", "repo: git@ghe.example.com:Inventory/flask-api.git");
            const out = await resolveStack({ stackText: stack, repoFullName: "inventory/Flask-API" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["changed-app"], "inventory-api");
        });

        it("accepts a changed-app that lives in the PR's repository", async () => {
            const out = await resolveStack({ stackText: sample("stack-one.yaml"), changedApp: "demo-api", repoFullName: "jmjava/TEKTON-dag-spring-boot-gradle" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["changed-app"], "demo-api");
        });

        const twoInOneRepo = sample("stack-one.yaml").replace("repo: https://github.com/jmjava/tekton-dag-spring-boot-gradle.git", "repo: jmjava/tekton-dag-spring-boot");
        const rejections: Array<{ title: string; stack: string; changedApp?: string; repo?: string; message: RegExp }> = [
            { title: "a repository that holds no app, naming it, the stack and the apps' repositories", stack: sample("stack-one.yaml"), repo: "jmjava/tekton-dag-docs",
                message: /repository 'jmjava\/tekton-dag-docs' holds no app of stack 'stack-one' \(apps and their repositories: demo-fe \(jmjava\/tekton-dag-vue-fe\), release-lifecycle-demo \(jmjava\/tekton-dag-spring-boot\), demo-api \(jmjava\/tekton-dag-spring-boot-gradle\)\)/ },
            { title: "a repository that holds several apps, naming them", stack: twoInOneRepo, repo: "jmjava/tekton-dag-spring-boot",
                message: /repository 'jmjava\/tekton-dag-spring-boot' holds 2 apps of stack 'stack-one': release-lifecycle-demo, demo-api; .*changed-app set/ },
            { title: "a changed-app that lives in another repository than the PR", stack: sample("stack-one.yaml"), changedApp: "demo-fe", repo: "jmjava/tekton-dag-spring-boot",
                message: /changed-app 'demo-fe' of stack 'stack-one' lives in jmjava\/tekton-dag-vue-fe, not in repo-full-name 'jmjava\/tekton-dag-spring-boot'/ },
            { title: "neither an app nor a repository", stack: sample("stack-one.yaml"),
                message: /changed-app and repo-full-name are both empty/ },
            { title: "a repo-full-name that is not owner/name", stack: sample("stack-one.yaml"), repo: "https://github.com/jmjava/tekton-dag-vue-fe",
                message: /repo-full-name 'https:\/\/github.com\/jmjava\/tekton-dag-vue-fe' must be a GitHub owner\/name/ },
        ];
        for (const c of rejections) {
            it(`rejects ${c.title}`, async () => {
                const out = await resolveStack({ stackText: c.stack, changedApp: c.changedApp, repoFullName: c.repo });
                assert.equal(out.status, 1, `expected a rejection; stdout: ${out.stdout}`);
                assert.match(out.stderr, c.message);
                assert.deepEqual(out.results, {}, "no results on a rejection");
            });
        }
    });

    describe("stacks/single-app.yaml", () => {
        it("makes the one app entry, chain and build app", async () => {
            const out = await resolveStack({ stackText: sample("single-app.yaml"), changedApp: "inventory-api", prNumber: "5" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["entry-app"], "inventory-api");
            assert.equal(readAt(out.workspace, out.results["app-list"]), "inventory-api");
            assert.equal(readAt(out.workspace, out.results["propagation-chain"]), "inventory-api");
            assert.equal(out.results["build-tool"], "pip");
            assert.equal(out.results["app-repo-url"], "https://github.com/jmjava/tekton-dag-flask.git");
            assert.equal(out.graph.apps["inventory-api"].containerPort, 5000);
            assert.equal(out.graph.apps["inventory-api"].servicePort, 80);
        });

        it("falls back to the default-namespace param when the stack names no namespace", async () => {
            const text = sample("single-app.yaml").replace("  namespace: staging\n", "");
            const out = await resolveStack({ stackText: text, changedApp: "inventory-api", defaultNamespace: "shop" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.graph.apps["inventory-api"].namespace, "shop");
        });
    });

    describe("entry app", () => {
        it("rejects two apps without upstream when the stack names no entry", async () => {
            const out = await resolveStack({ stackText: fixture("ambiguous-entry.yaml"), changedApp: "api" });
            assert.equal(out.status, 1);
            assert.match(out.stderr, /entry app is ambiguous: web, mobile-bff have no upstream app/);
            assert.match(out.stderr, /entry-app/);
        });

        it("uses the stack's entry-app and keeps apps it cannot reach out of the chain", async () => {
            const out = await resolveStack({ stackText: fixture("named-entry.yaml"), changedApp: "api" });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["entry-app"], "mobile-bff");
            assert.equal(readAt(out.workspace, out.results["app-list"]), "mobile-bff web api");
            assert.equal(readAt(out.workspace, out.results["propagation-chain"]), "mobile-bff api");
            assert.match(out.stdout, /not reachable from mobile-bff.*web/);
        });

        it("rejects a changed app the entry app cannot reach", async () => {
            const out = await resolveStack({ stackText: fixture("named-entry.yaml"), changedApp: "web" });
            assert.equal(out.status, 1);
            assert.match(out.stderr, /changed-app 'web' cannot be reached from the entry app 'mobile-bff'/);
        });
    });

    describe("rejections name the field or app at fault", () => {
        const cases: Array<{ title: string; stack?: string; stackFile?: string; changedApp?: string; pr?: string; message: RegExp }> = [
            { title: "a missing stack file", stack: undefined, stackFile: "stacks/nope.yaml", message: /stack-file 'stacks\/nope.yaml': no such file in the platform checkout/ },
            { title: "malformed YAML", stack: fixture("malformed.yaml"), message: /stack-file 'stacks\/stack.yaml' is not valid YAML: .*line/ },
            { title: "a YAML file that is not a mapping", stack: "- just\n- a list\n", message: /must be a mapping with 'name', 'propagation' and 'apps', not a list/ },
            { title: "an empty file", stack: "", message: /stack-file 'stacks\/stack.yaml': the file is empty/ },
            { title: "a cycle, named", stack: fixture("cycle.yaml"), changedApp: "orders", message: /the downstream graph has a cycle: orders -> billing -> orders/ },
            { title: "an unknown changed-app, listing the apps", stack: sample("stack-one.yaml"), changedApp: "billing", message: /changed-app 'billing' is not an app of stack 'stack-one' \(apps: demo-fe, release-lifecycle-demo, demo-api\)/ },
            { title: "a downstream naming no app", stack: fixture("downstream-unknown.yaml"), changedApp: "orders", message: /app 'gateway' lists downstream 'ledger', which names no app in the stack \(apps: gateway, orders\)/ },
            { title: "duplicate app names", stack: fixture("duplicate-names.yaml"), changedApp: "orders", message: /duplicate app name 'orders' \(apps\[1\] and apps\[2\]\)/ },
            { title: "an unsupported build tool", stack: fixture("unsupported-tool.yaml"), changedApp: "gateway", message: /app 'engine': build.tool 'cargo' is not supported \(allowed: npm, maven, gradle, pip, composer\)/ },
            { title: "a missing header-name", stack: fixture("missing-header.yaml"), changedApp: "gateway", message: /stack 'headless': field 'propagation.header-name' is required/ },
            { title: "a non-numeric pr-number", stack: sample("stack-one.yaml"), changedApp: "demo-fe", pr: "4a2", message: /pr-number '4a2' must be a positive whole number/ },
            { title: "an invalid header-name", stack: sample("single-app.yaml").replace("header-name: x-dev-session", "header-name: 'x dev session'"), changedApp: "inventory-api", message: /propagation.header-name 'x dev session' is not a valid HTTP header name/ },
            { title: "an app without build", stack: sample("single-app.yaml").replace(/    build:\n(      .*\n)+/, ""), changedApp: "inventory-api", message: /app 'inventory-api': field 'build' with 'tool' is required/ },
            { title: "an app name that cannot name a Service", stack: sample("single-app.yaml").replace("name: inventory-api", "name: Inventory_API"), changedApp: "Inventory_API", message: /app 'Inventory_API': field 'name' must be a DNS-1123 label/ },
            { title: "a port that is not a number", stack: sample("single-app.yaml").replace('container-port: "5000"', 'container-port: "http"'), changedApp: "inventory-api", message: /defaults: field 'container-port' must be a port number 1-65535, not "http"/ },
            { title: "a duplicate key", stack: sample("single-app.yaml").replace("name: standalone-api", "name: standalone-api\nname: other"), changedApp: "inventory-api", message: /duplicate key 'name'/ },
            { title: "a stack-file path leaving the checkout", stack: undefined, stackFile: "../secrets.yaml", message: /stack-file '..\/secrets.yaml' must not contain '..'/ },
        ];
        for (const c of cases) {
            it(`rejects ${c.title}`, async () => {
                const out = await resolveStack({ stackText: c.stack, stackFile: c.stackFile, changedApp: c.changedApp ?? "demo-fe", prNumber: c.pr });
                assert.equal(out.status, 1, `expected a rejection; stdout: ${out.stdout}`);
                assert.match(out.stderr, /^error: /m);
                assert.match(out.stderr, c.message);
                assert.equal(out.graph, undefined, "no stack.json on a rejection");
                assert.deepEqual(out.results, {}, "no results on a rejection");
            });
        }
    });

    describe("a stack of 40 apps", () => {
        it("the committed fixture is what the generator makes", () => {
            assert.equal(fixture("stack-40-apps.yaml"), fortyAppStack());
        });

        it("keeps all results far below Tekton's 4096-byte budget and orders the graph", async () => {
            const text = fixture("stack-40-apps.yaml");
            const out = await resolveStack({ stackText: text, changedApp: "service-number-39-with-a-long-descriptive-name", prNumber: "123456" });
            assert.equal(out.status, 0, out.stderr);
            const total = Object.values(out.results).reduce((n, v) => n + Buffer.byteLength(v), 0);
            assert.ok(total < 1024, `results take ${total} bytes`);
            const graphBytes = Buffer.byteLength(JSON.stringify(out.graph));
            assert.ok(graphBytes > 4096, `the graph itself (${graphBytes} bytes) would not fit in a result`);

            const order: string[] = readAt(out.workspace, out.results["app-list"]).split(" ");
            assert.equal(order.length, 40);
            assert.equal(new Set(order).size, 40);
            assert.equal(order[0], "service-number-00-with-a-long-descriptive-name");
            assert.deepEqual(out.graph.order, order);
            const pos = new Map(order.map((a, i) => [a, i]));
            for (const app of Object.values<any>(out.graph.apps)) {
                for (const d of app.downstream) assert.ok(pos.get(app.name)! < pos.get(d)!, `${app.name} before ${d}`);
            }
            // every app is reachable from app-00 along i+1 edges, so the chain is the whole order
            assert.deepEqual(readAt(out.workspace, out.results["propagation-chain"]).split(" "), order);
            assert.equal(out.results["entry-app"], "service-number-00-with-a-long-descriptive-name");
            assert.equal(out.results["build-tool"], ["npm", "maven", "gradle", "pip", "composer"][39 % 5]);
        });
    });
    describe("stacks of any size: no recursion limit, named errors only, results within the budget", () => {
        const app = (i: number) => `app-${String(i).padStart(4, "0")}`;
        const noTraceback = (out: { stderr: string }) => assert.ok(!/Traceback|RecursionError/.test(out.stderr), out.stderr.slice(-2000));

        for (const shape of ["chain", "fan-out"] as const) {
            it(`resolves a ${shape} of 5,000 apps`, async () => {
                const out = await resolveStack({ stackText: largeStack(5000, shape), changedApp: app(4999), prNumber: "42" });
                noTraceback(out);
                assert.equal(out.status, 0, out.stderr.slice(-2000));
                assert.equal(out.results["entry-app"], app(0));
                const order = readAt(out.workspace, out.results["app-list"]).split(" ");
                assert.equal(order.length, 5000);
                assert.equal(order[0], app(0));
                if (shape === "chain") assert.deepEqual(order, Array.from({ length: 5000 }, (_, i) => app(i)));
                assert.equal(readAt(out.workspace, out.results["propagation-chain"]).split(" ").length, 5000);
                const bytes = terminationMessageBytes(out.results);
                assert.ok(bytes <= 4096, `results take ${bytes} bytes of the 4096-byte termination message`);
            });
        }

        it("finds a cycle at the end of a call chain 1,500 apps deep (Python's recursion limit is 1,000)", async () => {
            const out = await resolveStack({ stackText: largeStack(1500, "chain", 1400), changedApp: app(1499) });
            noTraceback(out);
            assert.equal(out.status, 1);
            assert.match(out.stderr, /^error: stack 'large': the downstream graph has a cycle through 100 apps: app-1400 -> app-1401 -> .* -> app-1499 -> app-1400 \(81 apps not shown\)\n$/);
        });

        it("shortens the message of a cycle through 5,000 apps", async () => {
            const out = await resolveStack({ stackText: largeStack(5000, "chain", 0), changedApp: app(4999) });
            noTraceback(out);
            assert.equal(out.status, 1);
            assert.match(out.stderr, /the downstream graph has a cycle through 5000 apps: app-0000 -> app-0001 -> .* -> app-4999 -> app-0000 \(\d+ apps not shown\)/);
            assert.ok(out.stderr.length < 2000, `${out.stderr.length} characters`);
        });

        it("counts the results as Go's json.Marshal writes them: each of < > & as six bytes", async () => {
            // 700 ampersands are 700 bytes to Python's json.dumps but 4,200 to Go (\u0026 each).
            const repo = `https://git.example.com/app-0002.git?${"&".repeat(700)}`;
            const text = largeStack(3, "chain").replace("repo: example-org/app-0002", `repo: "${repo}"`);
            const out = await resolveStack({ stackText: text, changedApp: app(2) });
            noTraceback(out);
            assert.equal(out.status, 1, out.stderr);
            assert.match(out.stderr, /^error: the results of resolve-stack would take \d+ bytes of the step's 4096-byte termination message; app-repo-url of app 'app-0002' is \d+ bytes/);
        });

        it("counts non-ASCII characters as their UTF-8 bytes, as Go writes them, not as \\u escapes", async () => {
            const out = await resolveStack({ stackText: largeStack(3, "chain").replace("repo: example-org/app-0002", `repo: "https://git.example.com/${"é".repeat(900)}.git"`), changedApp: app(2) });
            noTraceback(out);
            assert.equal(out.status, 0, out.stderr);
            assert.ok(terminationMessageBytes(out.results) <= 4096);
        });

        it("refuses, naming the result, a stack whose results would overflow the termination message", async () => {
            const longRepo = `https://git.example.com/${"x".repeat(4000)}.git`;
            const text = largeStack(3, "chain").replace("repo: example-org/app-0002", `repo: ${longRepo}`);
            const out = await resolveStack({ stackText: text, changedApp: app(2) });
            noTraceback(out);
            assert.equal(out.status, 1);
            assert.match(out.stderr, /^error: the results of resolve-stack would take \d+ bytes of the step's 4096-byte termination message; app-repo-url of app 'app-0002' is 4\d{3} bytes/);
        });
    });
});
