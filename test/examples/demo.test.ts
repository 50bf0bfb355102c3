/**
 * The demo staging app of docs/kind.md (examples/demo): its stack file is one the project's own parser
 * (resolve-stack's two steps) accepts, its manifests give every app of that stack file the Deployment and
 * Service the pipelines expect, each pod template can become a PR pod (the deploy tasks' own check), and the
 * server passes the routing header along the chain and logs the validation probe. Simulated: the apps'
 * Services, replaced by local ports (no cluster runs them here).
 */
import { strict as assert } from "node:assert";
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import * as YAML from "yaml";
import { resolveStack } from "../flow/helpers";
import { named, objects, paramDefault } from "../support/render";
import { REPO, SCRIPTS } from "../support/repo";

const DEMO = path.join(REPO, "examples", "demo");
const stackText = fs.readFileSync(path.join(DEMO, "stack.yaml"), "utf8");
const stack = YAML.parse(stackText);
const manifests = YAML.parseAllDocuments(fs.readFileSync(path.join(DEMO, "apps.yaml"), "utf8")).map((d) => d.toJS()).filter(Boolean);
const deployment = (app: string) => manifests.find((o) => o.kind === "Deployment" && o.metadata.name === app);
const service = (app: string) => manifests.find((o) => o.kind === "Service" && o.metadata.name === app);

describe("examples/demo: the kind walkthrough's staging apps and their stack file", () => {
    it("resolve-stack accepts the stack file and tests the app whose repository a PR comes from", async function () {
        this.timeout(600_000); // the first run on a machine builds mikefarah yq
        for (const app of stack.apps) {
            const out = await resolveStack({ stackText, stackFile: "stacks/demo.yaml", repoFullName: app.repo });
            assert.equal(out.status, 0, `${app.name}: ${out.stderr}`);
            assert.equal(out.results["changed-app"], app.name);
            assert.equal(out.results["entry-app"], "demo-fe");
            assert.equal(out.results["intercept-header-value"], "x-dev-session: pr-42");
            assert.deepEqual(out.graph.propagationChain, ["demo-fe", "demo-bff", "demo-api"]);
        }
    });

    it("every app of the stack file has its Deployment and Service in staging, on the stack's ports and readiness path", () => {
        const { defaults } = stack;
        for (const app of stack.apps) {
            const d = deployment(app.name);
            const s = service(app.name);
            assert.ok(d && s, `a Deployment and a Service ${app.name} in examples/demo/apps.yaml`);
            assert.equal(d.metadata.namespace, app.namespace ?? defaults.namespace);
            const [c] = d.spec.template.spec.containers;
            assert.equal(c.name, app.name, "the app container is named after the app (docs/stack-file.md, The PR pod)");
            assert.deepEqual(c.ports.map((p: any) => String(p.containerPort)), [app["container-port"] ?? defaults["container-port"]]);
            assert.equal(c.readinessProbe.httpGet.path, app["readiness-path"] ?? defaults["readiness-path"]);
            assert.equal(String(s.spec.ports[0].port), app["service-port"] ?? defaults["service-port"]);
            assert.deepEqual(s.spec.selector, d.spec.selector.matchLabels);
            const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
            const next = app.downstream[0];
            assert.equal(env.DOWNSTREAM, next ? `http://${next}.staging.svc.cluster.local/` : undefined, `${app.name} calls its downstream app`);
        }
        assert.equal(manifests.filter((o) => o.kind === "Deployment").length, stack.apps.length, "no Deployment of an app the stack lacks");
    });

    it("the staging image is the one the app's Dockerfile builds on and the project already pins (compile-image-pip)", async function () {
        this.timeout(60_000);
        const from = /^FROM (\S+)$/m.exec(fs.readFileSync(path.join(DEMO, "app", "Dockerfile"), "utf8"))![1];
        const pipeline = named(await objects({ stack: "kind" }), "Pipeline", "stack-pr-test");
        assert.equal(`docker.io/library/${from}`, paramDefault(pipeline, "compile-image-pip"));
        for (const app of stack.apps) assert.equal(deployment(app.name).spec.template.spec.containers[0].image, from);
    });

    it("each pod template passes the deploy tasks' own PR-pod checks (lib-pr-pod.sh)", () => {
        for (const app of stack.apps) {
            const out = execFileSync("bash", ["-c", `set -euo pipefail
. "${SCRIPTS}/lib-common.sh"; . "${SCRIPTS}/lib-intercept.sh"
d="$(cat)"
check_pr_pod_security staging "$APP" "$d"
app_container_name staging "$APP" "$d"`], { input: JSON.stringify(deployment(app.name)), env: { ...process.env, APP: app.name }, encoding: "utf8" });
            assert.equal(out.trim(), app.name);
        }
    });

    describe("the server (app/server.py) on local ports instead of Services", () => {
        const procs: ChildProcess[] = [];
        const logs = new Map<string, string>();
        const ports = new Map<string, number>();

        const freePort = () => new Promise<number>((resolve) => {
            const srv = net.createServer().listen(0, "127.0.0.1", () => {
                const { port } = srv.address() as net.AddressInfo;
                srv.close(() => resolve(port));
            });
        });
        const get = (port: number, headers: Record<string, string>) => new Promise<{ status: number; body: any }>((resolve, reject) => {
            http.get({ host: "127.0.0.1", port, path: "/?tekton-dag-probe=probe-1", headers }, (res) => {
                let data = "";
                res.on("data", (c) => (data += c));
                res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(data) }));
            }).on("error", reject);
        });
        const ready = async (app: string) => {
            // Observable readiness: the server prints its listening line.
            while (!(logs.get(app) ?? "").includes("listening on")) await new Promise((r) => setTimeout(r, 50));
        };

        before(async function () {
            this.timeout(30_000);
            for (const app of stack.apps) ports.set(app.name, await freePort());
            for (const app of stack.apps) {
                const next = app.downstream[0];
                const env: Record<string, string> = { ...process.env as Record<string, string>, APP_NAME: app.name, PORT: String(ports.get(app.name)) };
                if (next) env.DOWNSTREAM = `http://127.0.0.1:${ports.get(next)}/`;
                const p = spawn("python3", ["-u", path.join(DEMO, "app", "server.py")], { env, stdio: ["ignore", "pipe", "pipe"] });
                logs.set(app.name, "");
                p.stdout!.on("data", (c) => logs.set(app.name, logs.get(app.name) + c));
                p.stderr!.on("data", (c) => logs.set(app.name, logs.get(app.name) + c));
                procs.push(p);
            }
            for (const app of stack.apps) await ready(app.name);
        });
        after(() => {
            for (const p of procs) p.kill();
        });

        it("a request with the session header reaches every app with it, and every app logs the probe", async () => {
            const res = await get(ports.get("demo-fe")!, { "x-dev-session": "pr-42", "x-tekton-dag-probe": "probe-1" });
            assert.equal(res.status, 200);
            const chain: string[] = [];
            for (let hop = res.body; hop; hop = hop.downstream) {
                chain.push(hop.app);
                assert.equal(hop.session, "pr-42", `${hop.app} got the header`);
                assert.equal(hop.version, "staging");
            }
            assert.deepEqual(chain, ["demo-fe", "demo-bff", "demo-api"]);
            assert.match(logs.get("demo-fe")!, /"GET \/\?tekton-dag-probe=probe-1 HTTP\/1.1" 200/);
            for (const app of ["demo-bff", "demo-api"]) assert.match(logs.get(app)!, /probe=probe-1/);
        });

        it("a request without the header reaches every app without one; a dead downstream answers 502 naming it", async () => {
            const res = await get(ports.get("demo-fe")!, {});
            assert.equal(res.body.downstream.downstream.session, "");
            procs[2].kill();
            await new Promise((r) => procs[2].once("exit", r));
            const broken = await get(ports.get("demo-bff")!, {});
            assert.equal(broken.status, 502);
            assert.match(broken.body.downstream.error, new RegExp(`127.0.0.1:${ports.get("demo-api")}`));
        });
    });
});
