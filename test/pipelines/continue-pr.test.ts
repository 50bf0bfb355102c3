// scripts/continue-pr.sh against a stand-in kubectl (test/pipelines/fakes/kubectl).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ROOT, pipeline, runScript, tmpDir } from "./helpers";
import { pipelineRunIdentities, PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT } from "../../lib/identities";

const SCRIPT = path.join(ROOT, "scripts", "continue-pr.sh");
const FAKE = path.join(__dirname, "fakes", "kubectl");
const UID = "3b9c2a10-1111-2222-3333-444455556666";

function pipelineRun(overrides: any = {}): any {
    return {
        apiVersion: "tekton.dev/v1",
        kind: "PipelineRun",
        metadata: { name: "stack-pr-test-abc12", namespace: "tekton-dag", uid: UID },
        spec: {
            pipelineRef: { name: "stack-pr-test" },
            params: [
                { name: "git-url", value: "https://github.com/org/platform.git" },
                { name: "changed-app", value: "demo-fe" },
                { name: "app-revision", value: "0123456789abcdef0123456789abcdef01234567" },
                { name: "pr-number", value: "42" },
                { name: "repo-full-name", value: "org/demo-fe" },
                { name: "intercept-backend", value: "mirrord" },
                { name: "mirrord-image", value: "registry.local:5000/tekton-dag-build-mirrord@sha256:" + "cd".repeat(32) },
                { name: "compile-image-npm", value: "node:22.20.0-bookworm-slim" },
                { name: "pre-test-hook", value: "hooks/seed.sh" },
            ],
            workspaces: [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "tekton-dag-workspace" } }],
            taskRunTemplate: { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } },
            ...overrides.spec,
        },
        status: { conditions: [{ type: "Succeeded", status: "False", reason: "Failed" }], ...overrides.status },
    };
}

function taskRun(task: string, results: Record<string, string>, extra: any = {}): any {
    return {
        metadata: { name: `stack-pr-test-abc12-${task}`, labels: { "tekton.dev/pipelineRun": "stack-pr-test-abc12", "tekton.dev/pipelineTask": task } },
        spec: { workspaces: extra.workspaces ?? [] },
        status: { results: Object.entries(results).map(([name, value]) => ({ name, type: "string", value })) },
    };
}

const RESOLVE = {
    "stack-json": `@.tekton-dag/runs/${UID}/stack.json`,
    "app-list": '["demo-fe","release-lifecycle-demo","demo-api"]',
    "propagation-chain": '["demo-fe","release-lifecycle-demo","demo-api"]',
    "entry-app": "demo-fe",
    "build-apps": '["demo-fe"]',
    "intercept-header-value": "x-dev-session: pr-42",
    "build-tool": "npm",
};
const BUILT = '{"demo-fe":"registry.local:5000/demo-fe@sha256:' + "ab".repeat(32) + '"}';

function world(pr: any, trs: any[]) {
    const dir = tmpDir("kubectl");
    fs.writeFileSync(path.join(dir, `pipelinerun-${pr.metadata.name}.json`), JSON.stringify(pr));
    fs.writeFileSync(path.join(dir, `taskruns-${pr.metadata.name}.json`), JSON.stringify({ items: trs }));
    return dir;
}

function continuePr(dir: string, ...args: string[]) {
    const log = path.join(dir, "calls.log");
    const r = runScript(SCRIPT, { KUBECTL: FAKE, FAKE_KUBECTL_DIR: dir, FAKE_KUBECTL_LOG: log }, args);
    return { ...r, calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "" };
}

function paramsOf(doc: any): Record<string, string> {
    return Object.fromEntries(doc.spec.params.map((p: any) => [p.name, p.value]));
}

describe("scripts/continue-pr.sh", () => {
    const standard = () => world(pipelineRun(), [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": BUILT, "image-tag": "pr-42-0123456-3b9c2a10" }), taskRun("clone-app", { commit: "0123456" })]);

    it("prints a stack-pr-continue PipelineRun with the run's params, its results and the same workspace", () => {
        const dir = standard();
        const r = continuePr(dir, "-n", "tekton-dag", "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.calls, /^get pipelinerun stack-pr-test-abc12 -n tekton-dag -o json$/m);
        assert.match(r.calls, /^get taskruns -n tekton-dag -l tekton.dev\/pipelineRun=stack-pr-test-abc12 -o json$/m);
        const doc = YAML.parse(r.stdout);
        assert.equal(doc.apiVersion, "tekton.dev/v1");
        assert.equal(doc.kind, "PipelineRun");
        assert.equal(doc.metadata.generateName, "stack-pr-continue-");
        assert.equal(doc.metadata.namespace, "tekton-dag");
        assert.equal(doc.metadata.labels["tekton-dag.io/continues"], "stack-pr-test-abc12");
        assert.equal(doc.spec.pipelineRef.name, "stack-pr-continue");
        assert.deepEqual(doc.spec.workspaces, [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "tekton-dag-workspace" } }]);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } });
        assert.deepEqual(doc.spec.taskRunSpecs, pipelineRunIdentities(PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT).taskRunSpecs);
        assert.doesNotMatch(r.stderr, /ran every task as/);
        const params = paramsOf(doc);
        assert.equal(params["stack-json"], `@.tekton-dag/runs/${UID}/stack.json`);
        assert.equal(params["intercept-header-value"], "x-dev-session: pr-42");
        assert.equal(params["app-list"], RESOLVE["app-list"]);
        assert.equal(params["built-images"], BUILT);
        assert.equal(params["intercept-backend"], "mirrord");
        assert.match(params["mirrord-image"], /@sha256:/);
        assert.equal(params["pr-number"], "42");
        assert.equal(params["previous-run"], "stack-pr-test-abc12");
        assert.equal(params["platform-dir"], `.tekton-dag/runs/${UID}/platform`);
        assert.equal(params["pre-test-hook"], "hooks/seed.sh");
        assert.equal(params["build-tool"], undefined, "results the continuation does not take are left out");
        assert.equal(params["compile-image-npm"], undefined, "build params are left out");
    });

    it("passes only params stack-pr-continue declares, and every one it requires", () => {
        const r = continuePr(standard(), "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        const given = paramsOf(YAML.parse(r.stdout));
        const declared = pipeline("stack-pr-continue").spec.params;
        for (const name of Object.keys(given)) assert.ok(declared.some((d: any) => d.name === name), `stack-pr-continue declares ${name}`);
        for (const d of declared) if (d.default === undefined) assert.ok(d.name in given, `required ${d.name} is passed`);
    });

    it("--set overrides a param, e.g. switching the backend", () => {
        const r = continuePr(standard(), "stack-pr-test-abc12", "--set", "intercept-backend=telepresence", "--set=request-path=/health?x=a=b");
        assert.equal(r.status, 0, r.stderr);
        const params = paramsOf(YAML.parse(r.stdout));
        assert.equal(params["intercept-backend"], "telepresence");
        assert.equal(params["request-path"], "/health?x=a=b");
    });

    it("keeps awkward values intact through the YAML", () => {
        const tricky = 'line1\nline2: "quoted" # not a comment \\ end';
        const dir = world(pipelineRun(), [taskRun("resolve-stack", { ...RESOLVE, "entry-app": tricky }), taskRun("containerize", { "built-images": BUILT })]);
        const r = continuePr(dir, "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        assert.equal(paramsOf(YAML.parse(r.stdout))["entry-app"], tricky);
    });

    it("binds the claim a volumeClaimTemplate made for the earlier run, with a warning", () => {
        const pr = pipelineRun({ spec: { workspaces: [{ name: "shared-workspace", volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"] } } }] } });
        const ws = [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "pvc-0a1b2c3d4e" } }];
        const dir = world(pr, [taskRun("resolve-stack", RESOLVE, { workspaces: ws }), taskRun("containerize", { "built-images": BUILT }, { workspaces: ws })]);
        const r = continuePr(dir, "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(YAML.parse(r.stdout).spec.workspaces, [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "pvc-0a1b2c3d4e" } }]);
        assert.match(r.stderr, /volumeClaimTemplate: binding its claim pvc-0a1b2c3d4e, which is deleted together with 'stack-pr-test-abc12'/);
    });

    it("runs PR-code tasks as tekton-dag-pr-code when the run named no ServiceAccount", () => {
        const dir = world(pipelineRun({ spec: { taskRunTemplate: undefined } }), [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": BUILT })]);
        const r = continuePr(dir, "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        const doc = YAML.parse(r.stdout);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code" });
        assert.deepEqual(doc.spec.taskRunSpecs, pipelineRunIdentities(PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT).taskRunSpecs);
    });

    it("never hands an earlier run's privileged default identity on, and says so", () => {
        const pr = pipelineRun({ spec: { taskRunTemplate: { serviceAccountName: "tekton-dag-pipeline", podTemplate: { nodeSelector: { pool: "ci" } } } } });
        const dir = world(pr, [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": BUILT })]);
        const r = continuePr(dir, "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        const doc = YAML.parse(r.stdout);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { nodeSelector: { pool: "ci" } } });
        assert.match(r.stderr, /'stack-pr-test-abc12' ran every task as tekton-dag-pipeline; this run uses tekton-dag-pr-code and gives tekton-dag-pipeline only to: deploy-intercepts-telepresence .* pr-comment/);
        const names = [...pipeline("stack-pr-continue").spec.tasks, ...pipeline("stack-pr-continue").spec.finally].map((t: any) => t.name);
        for (const spec of doc.spec.taskRunSpecs) assert.ok(names.includes(spec.pipelineTaskName), `stack-pr-continue has ${spec.pipelineTaskName}`);
    });

    it("drops a pod template's automountServiceAccountToken, which would override the ServiceAccount's false", () => {
        const podTemplate = { securityContext: { fsGroup: 65532 }, automountServiceAccountToken: true };
        const pr = pipelineRun({ spec: { taskRunTemplate: { serviceAccountName: "tekton-dag-pr-code", podTemplate } } });
        const dir = world(pr, [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": BUILT })]);
        const r = continuePr(dir, "stack-pr-test-abc12");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(YAML.parse(r.stdout).spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } });
        assert.match(r.stderr, /'stack-pr-test-abc12' set podTemplate.automountServiceAccountToken; this run leaves it to the ServiceAccount/);
    });

    describe("clear errors", () => {
        const cases: [string, () => string, string[], RegExp][] = [
            ["run not found", () => tmpDir("empty"), ["-n", "ci", "nope"], /PipelineRun 'nope' not found in namespace ci/],
            ["no built-images yet", () => world(pipelineRun(), [taskRun("resolve-stack", RESOLVE)]), ["stack-pr-test-abc12"], /has no built-images yet \(containerize did not finish\)/],
            ["empty built-images", () => world(pipelineRun(), [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": "{}" })]), ["stack-pr-test-abc12"], /has no built-images yet/],
            ["resolve-stack did not finish", () => world(pipelineRun(), []), ["stack-pr-test-abc12"], /has no resolve-stack result 'stack-json'/],
            ["still running", () => world(pipelineRun({ status: { conditions: [{ type: "Succeeded", status: "Unknown" }] } }), []), ["stack-pr-test-abc12"], /is still running/],
            ["another pipeline", () => world(pipelineRun({ spec: { pipelineRef: { name: "other" } } }), []), ["stack-pr-test-abc12"], /runs pipeline 'other', not stack-pr-test/],
            ["emptyDir workspace", () => world(pipelineRun({ spec: { workspaces: [{ name: "shared-workspace", emptyDir: {} }] } }), [taskRun("resolve-stack", RESOLVE), taskRun("containerize", { "built-images": BUILT })]), ["stack-pr-test-abc12"], /emptyDir shared-workspace; its data is gone/],
            ["no run name", () => tmpDir("empty"), [], /the name of a failed stack-pr-test PipelineRun is required/],
            ["two run names", () => tmpDir("empty"), ["a", "b"], /only one run name is allowed/],
            ["unknown option", () => tmpDir("empty"), ["--frobnicate", "a"], /unknown option '--frobnicate'/],
            ["bad --set", () => standard(), ["stack-pr-test-abc12", "--set", "novalue"], /--set 'novalue' must be PARAM=VALUE/],
        ];
        for (const [label, dir, args, pattern] of cases) {
            it(label, () => {
                const r = continuePr(dir(), ...args);
                assert.notEqual(r.status, 0);
                assert.equal(r.stdout, "", "prints no YAML");
                assert.match(r.stderr, pattern);
            });
        }
    });
});
