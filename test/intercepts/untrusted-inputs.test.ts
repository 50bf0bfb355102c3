// Issue 12: the deploy tasks hold the pipeline's cluster rights, but what they read from the shared
// workspace and from containerize's result can be written by PR code (compile, containerize, hooks).
// A value from the workspace is used only when it matches the digest resolve-stack reported; built-images
// may name only the build apps, each in the configured registry by digest; and nothing PR code planted in
// the run directory is written through. Each refusal happens before any kubectl call.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { created, Result, RUN_ID, runScript, tempDir } from "./harness";
import { deployEnv, happyRules, IMAGE_REGISTRY, IMAGES, STACK } from "./fixtures";

const RUN_REL = `.tekton-dag/runs/${RUN_ID}`;

/** Writes a file into the workspace as resolve-stack does and returns its pinned reference. */
function pin(ws: string, name: string, text: string): string {
    fs.mkdirSync(path.join(ws, RUN_REL), { recursive: true });
    fs.writeFileSync(path.join(ws, RUN_REL, name), text);
    return `@${RUN_REL}/${name}@sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;
}

interface Setup { dir: string; ws: string; env: Record<string, string> }

/** A deploy environment whose stack-json and propagation-chain are pinned files, as in a real run. */
function pinnedSetup(extra: Record<string, string>): Setup {
    const dir = tempDir("untrusted-");
    const env = deployEnv(dir, extra);
    const ws = env.SHARED_WORKSPACE;
    env.STACK_JSON = pin(ws, "stack.json", JSON.stringify(STACK, null, 2) + "\n");
    env.PROPAGATION_CHAIN = pin(ws, "propagation-chain.txt", "demo-fe demo-api");
    return { dir, ws, env };
}

function kubectlCalls(res: Result) {
    return res.calls.filter((c) => c.cmd === "kubectl");
}

for (const [script, extra] of [
    ["deploy-stack-intercepts.sh", { TRAFFIC_MANAGER_NAMESPACE: "ambassador" }],
    ["deploy-intercept-mirrord.sh", {}],
] as Array<[string, Record<string, string>]>) {
    describe(`${script}: inputs PR code could have written`, function () {
        this.timeout(120_000);
        it("deploys from a pinned stack.json that nobody changed", () => {
            const s = pinnedSetup(extra);
            const res = runScript(script, s.env, happyRules(), s.dir);
            assert.equal(res.status, 0, res.stderr);
            const prPods = created(res.calls).filter((o) => o.kind === "Pod" && o.metadata.labels["tekton-dag.io/role"] === "pr-pod");
            assert.deepEqual(prPods.map((p) => p.metadata.namespace).sort(), ["api-ns", "staging"]);
        });

        it("refuses a stack.json changed after resolve-stack wrote it, naming the file, and creates nothing", () => {
            const s = pinnedSetup(extra);
            // A PR build redirects demo-fe to another namespace (and so to that namespace's Deployment,
            // its ServiceAccount and Secrets).
            const forged = { ...STACK, apps: { ...STACK.apps, "demo-fe": { ...STACK.apps["demo-fe"], namespace: "api-ns" } } };
            fs.writeFileSync(path.join(s.ws, RUN_REL, "stack.json"), JSON.stringify(forged, null, 2) + "\n");
            const res = runScript(script, s.env, happyRules(), s.dir);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, new RegExp(`value reference '@${RUN_REL.replace(/\./g, "\\.")}/stack\\.json@sha256:[0-9a-f]{64}': ` +
                `${RUN_REL.replace(/\./g, "\\.")}/stack\\.json has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its writer reported`));
            assert.deepEqual(kubectlCalls(res), [], "no kubectl call at all");
        });

        it("refuses a propagation-chain file changed after resolve-stack wrote it", () => {
            const s = pinnedSetup(extra);
            fs.writeFileSync(path.join(s.ws, RUN_REL, "propagation-chain.txt"), "demo-fe payments");
            const res = runScript(script, s.env, happyRules(), s.dir);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /propagation-chain\.txt has sha256 [0-9a-f]{64}, not the/);
            assert.deepEqual(kubectlCalls(res), []);
        });

        const bad: Array<[string, (s: Setup) => Record<string, string>, RegExp]> = [
            ["an @path stack-json without a digest", () => ({ STACK_JSON: `@${RUN_REL}/stack.json` }),
                /value reference '@[^']*stack\.json' carries no digest; expected @<path>@sha256:<64 hex digits>/],
            ["a stack.json replaced by a symlink", (s) => {
                const file = path.join(s.ws, RUN_REL, "stack.json");
                const copy = path.join(s.dir, "elsewhere.json");
                fs.copyFileSync(file, copy);
                fs.rmSync(file);
                fs.symlinkSync(copy, file);
                return {};
            }, /stack\.json is a symbolic link/],
            ["built-images naming an app that is not a build app", () => ({
                BUILT_IMAGES: JSON.stringify({ ...IMAGES, "payments-api": `${IMAGE_REGISTRY}/payments-api@sha256:${"c3".repeat(32)}` }),
            }), /built-images must name exactly the build apps \(demo-api, demo-fe\); it names: demo-api, demo-fe, payments-api/],
            ["built-images whose image is in another registry", () => ({
                BUILT_IMAGES: JSON.stringify({ ...IMAGES, "demo-fe": `evil.example.com/demo-fe@sha256:${"a1".repeat(32)}` }),
            }), /built-images: the image of "demo-fe" must be registry\.local:5000\/pr\/demo-fe@sha256:<64 hex digits>/],
            ["built-images giving an app another app's image", () => ({
                BUILT_IMAGES: JSON.stringify({ ...IMAGES, "demo-fe": IMAGES["demo-api"] }),
            }), /the image of "demo-fe" must be registry\.local:5000\/pr\/demo-fe@sha256:/],
            ["built-images with a tag instead of a digest", () => ({
                BUILT_IMAGES: JSON.stringify({ ...IMAGES, "demo-fe": `${IMAGE_REGISTRY}/demo-fe:pr-42` }),
            }), /the image of "demo-fe" must be .*got "registry\.local:5000\/pr\/demo-fe:pr-42"/],
            ["a build app missing from stack-json's buildApps", (s) => {
                const stack = { ...STACK, buildApps: ["demo-fe"] };
                return { STACK_JSON: pin(s.ws, "stack.json", JSON.stringify(stack)) };
            }, /build app "demo-api" is not among stack-json's buildApps \(demo-fe \)/],
            ["no image-registry", () => ({ IMAGE_REGISTRY: "" }), /IMAGE_REGISTRY is required/],
        ];
        for (const [what, change, message] of bad) {
            it(`refuses ${what}, naming it, before anything is created`, () => {
                const s = pinnedSetup(extra);
                const res = runScript(script, { ...s.env, ...change(s) }, happyRules(), s.dir);
                assert.notEqual(res.status, 0);
                assert.match(res.stderr, message);
                assert.deepEqual(kubectlCalls(res), [], "no kubectl call at all");
            });
        }

        it("replaces what PR code planted in the run directory instead of writing through it", () => {
            const s = pinnedSetup(extra);
            const victim = path.join(s.dir, "victim.txt");
            fs.writeFileSync(victim, "untouched");
            const runDir = path.join(s.ws, RUN_REL);
            for (const name of ["deployed-pods.json", "deployed-pods.json.tmp"]) fs.symlinkSync(victim, path.join(runDir, name));
            const res = runScript(script, s.env, happyRules(), s.dir);
            assert.equal(res.status, 0, res.stderr);
            assert.equal(fs.readFileSync(victim, "utf8"), "untouched");
            const file = path.join(runDir, "deployed-pods.json");
            assert.equal(fs.lstatSync(file).isSymbolicLink(), false);
            assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, "utf8"))).sort(), ["demo-api", "demo-fe"]);
        });
    });
}
