// Issue 12 on the real API server: the deploy tasks hold the pipeline's cluster rights (tekton-dag-pipeline),
// but what they read from the shared workspace and from containerize's result can be written by PR code
// (compile, containerize, hooks). A value from the workspace is used only when it matches the digest
// resolve-stack reported; built-images may name only the build apps, each in the configured registry by
// digest; and nothing PR code planted in the run directory is written through. Each refusal happens before
// anything is created: no object carries the run's label and the audit log shows no create by the script.
// Simulated: the proxy pods' containers (ProxyPods: mirrord CLI and Telepresence program stand-ins).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import {
    deployEnv, getJson, newRun, PIPELINE_SA, PR_IMAGE_REGISTRY, purgeRunObjects, Run, runScriptAs, ScriptRun, stackJson, TARGET_NS,
} from "../harness";
import { deploySuite } from "../standins";
import { auditMark } from "../audit";
import { assertCreatedNothing, ok, pin, runRel } from "./lifecycle-fixtures";
import { tmpDir } from "../../support/tmpDir";

const APPS = ["demo-fe", "demo-api"];
const STACK = JSON.parse(stackJson());

interface Setup { run: Run; env: Record<string, string> }

/** A deploy environment whose stack-json and propagation-chain are pinned files, as in a real run. */
function pinnedSetup(): Setup {
    const run = newRun("untrusted");
    const env = deployEnv(run, APPS);
    env.STACK_JSON = pin(run, "stack.json", JSON.stringify(STACK, null, 2) + "\n");
    env.PROPAGATION_CHAIN = pin(run, "propagation-chain.txt", APPS.join(" "));
    return { run, env };
}

const images = (s: Setup) => JSON.parse(s.env.BUILT_IMAGES) as Record<string, string>;

describe("cluster: deploy inputs PR code could have written (proxy containers simulated)", function () {
    this.timeout(300_000);
    deploySuite();

    for (const [script, backend] of [["deploy-stack-intercepts.sh", "Telepresence"], ["deploy-intercept-mirrord.sh", "mirrord"]]) {
        describe(`${script} as tekton-dag-pipeline (${backend})`, () => {
            describe("a run whose pinned inputs nobody changed, with links planted in its run directory", () => {
                let s: Setup;
                let res: ScriptRun;
                let victim: string;
                before(async () => {
                    s = pinnedSetup();
                    victim = path.join(tmpDir("victim-"), "victim.txt");
                    fs.writeFileSync(victim, "untouched");
                    for (const name of ["deployed-pods.json", "deployed-pods.json.tmp"]) fs.symlinkSync(victim, path.join(s.run.ws, runRel(s.run), name));
                    res = await runScriptAs(script, s.env, PIPELINE_SA);
                });
                after(() => purgeRunObjects());

                it("deploys from the pinned stack.json: the API server stores a PR pod per app", () => {
                    ok(res);
                    const pr = getJson(["get", "pods", "-n", TARGET_NS, "-l", `tekton-dag.io/run=${s.run.id},tekton-dag.io/role=pr-pod`]).items;
                    assert.deepEqual(pr.map((p: any) => p.metadata.labels["tekton-dag.io/app"]).sort(), [...APPS].sort());
                });

                it("replaces what PR code planted in the run directory instead of writing through it", () => {
                    ok(res);
                    assert.equal(fs.readFileSync(victim, "utf8"), "untouched");
                    const file = path.join(s.run.ws, runRel(s.run), "deployed-pods.json");
                    assert.equal(fs.lstatSync(file).isSymbolicLink(), false);
                    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, "utf8"))).sort(), [...APPS].sort());
                });
            });

            /** Runs the deploy and asserts it was refused with the message, having created nothing. */
            async function refused(s: Setup, message: RegExp, extra: Record<string, string> = {}): Promise<void> {
                const mark = auditMark();
                const r = await runScriptAs(script, { ...s.env, ...extra }, PIPELINE_SA);
                assert.notEqual(r.status, 0, "the deploy was not refused");
                assert.match(r.stderr, message);
                assertCreatedNothing(s.run, r, mark);
            }
            const rel = (s: Setup) => runRel(s.run).replace(/\./g, "\\.");

            it("refuses a stack.json changed after resolve-stack wrote it, naming the file, and creates nothing", async () => {
                const s = pinnedSetup();
                // A PR build redirects demo-fe to another namespace (and so to that namespace's Deployment, its
                // ServiceAccount and Secrets).
                const forged = { ...STACK, apps: { ...STACK.apps, "demo-fe": { ...STACK.apps["demo-fe"], namespace: "api-ns" } } };
                fs.writeFileSync(path.join(s.run.ws, runRel(s.run), "stack.json"), JSON.stringify(forged, null, 2) + "\n");
                await refused(s, new RegExp(`value reference '@${rel(s)}/stack\\.json@sha256:[0-9a-f]{64}': ` +
                    `${rel(s)}/stack\\.json has sha256 [0-9a-f]{64}, not the [0-9a-f]{64} its writer reported`));
            });

            it("refuses a propagation-chain file changed after resolve-stack wrote it", async () => {
                const s = pinnedSetup();
                fs.writeFileSync(path.join(s.run.ws, runRel(s.run), "propagation-chain.txt"), "demo-fe payments");
                await refused(s, /propagation-chain\.txt has sha256 [0-9a-f]{64}, not the/);
            });

            const bad: Array<[string, (s: Setup) => Record<string, string>, RegExp]> = [
                ["an @path stack-json without a digest", (s) => ({ STACK_JSON: `@${runRel(s.run)}/stack.json` }),
                    /value reference '@[^']*stack\.json' carries no digest; expected @<path>@sha256:<64 hex digits>/],
                ["a stack.json replaced by a symlink", (s) => {
                    const file = path.join(s.run.ws, runRel(s.run), "stack.json");
                    const copy = path.join(s.run.ws, "elsewhere.json");
                    fs.copyFileSync(file, copy);
                    fs.rmSync(file);
                    fs.symlinkSync(copy, file);
                    return {};
                }, /stack\.json is a symbolic link/],
                ["built-images naming an app that is not a build app", (s) => ({
                    BUILT_IMAGES: JSON.stringify({ ...images(s), "payments-api": `${PR_IMAGE_REGISTRY}/payments-api@sha256:${"c3".repeat(32)}` }),
                }), /built-images must name exactly the build apps \(demo-api, demo-fe\); it names: demo-api, demo-fe, payments-api/],
                ["built-images whose image is in another registry", (s) => ({
                    BUILT_IMAGES: JSON.stringify({ ...images(s), "demo-fe": `evil.example.com/demo-fe@sha256:${"a1".repeat(32)}` }),
                }), /built-images: the image of "demo-fe" must be registry\.local:5000\/pr\/demo-fe@sha256:<64 hex digits>/],
                ["built-images giving an app another app's image", (s) => ({
                    BUILT_IMAGES: JSON.stringify({ ...images(s), "demo-fe": images(s)["demo-api"] }),
                }), /the image of "demo-fe" must be registry\.local:5000\/pr\/demo-fe@sha256:/],
                ["built-images with a tag instead of a digest", (s) => ({
                    BUILT_IMAGES: JSON.stringify({ ...images(s), "demo-fe": `${PR_IMAGE_REGISTRY}/demo-fe:pr-42` }),
                }), /the image of "demo-fe" must be .*got "registry\.local:5000\/pr\/demo-fe:pr-42"/],
                ["a build app missing from stack-json's buildApps", (s) => {
                    const stack = { ...STACK, buildApps: ["demo-fe"] };
                    return { STACK_JSON: pin(s.run, "stack.json", JSON.stringify(stack)) };
                }, /build app "demo-api" is not among stack-json's buildApps \(demo-fe \)/],
                ["no image-registry", () => ({ IMAGE_REGISTRY: "" }), /IMAGE_REGISTRY is required/],
            ];
            for (const [what, change, message] of bad) {
                it(`refuses ${what}, naming it, before anything is created`, async () => {
                    const s = pinnedSetup();
                    await refused(s, message, change(s));
                });
            }
        });
    }
});
