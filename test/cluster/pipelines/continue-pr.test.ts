// scripts/continue-pr.sh against the real API server: the earlier PipelineRun and its TaskRuns are stored
// objects (their status written through the status subresource, as Tekton's controller writes it), the script
// reads them with the real kubectl, and the PipelineRun it prints is created on the same server. The
// stack-pr-continue Pipeline it reads its lists from is the one the program renders for the kind stack.
// Simulated: nothing; no Tekton controller runs, so the objects' statuses are written by the test.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as path from "node:path";
import * as YAML from "yaml";
import { pipelineRunIdentities, PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT } from "../../../lib/identities";
import { ANNOTATION_CLUSTER_TASKS, ANNOTATION_PARAMS } from "../../../lib/continuePipeline";
import { pipeline } from "../../pipelines/helpers";
import { named, objects } from "../../support/render";
import { apply, cluster, credentials, kubectl, kubectlOk, PIPELINES_NS, waitCan } from "../harness";
import { REPO } from "../../support/repo";
import { tmpDir } from "../../support/tmpDir";

const SCRIPT = path.join(REPO, "scripts", "continue-pr.sh");
/** Every object this file creates carries it, so after() removes exactly those. */
const TEST_LABEL = "tekton-dag.test/continue-pr";
const BUILT = '{"demo-fe":"registry.local:5000/demo-fe@sha256:' + "ab".repeat(32) + '"}';

function resolveResults(uid: string): Record<string, string> {
    return {
        "stack-json": `@.tekton-dag/runs/${uid}/stack.json`,
        "app-list": '["demo-fe","release-lifecycle-demo","demo-api"]',
        "propagation-chain": '["demo-fe","release-lifecycle-demo","demo-api"]',
        "entry-app": "demo-fe",
        "changed-app": "demo-fe",
        "build-apps": '["demo-fe"]',
        "intercept-header-value": "x-dev-session: pr-42",
        "build-tool": "npm",
    };
}

interface RunSpec { spec?: any; conditions?: any[] }

function pipelineRun(name: string, over: RunSpec = {}): any {
    return {
        apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: { name, namespace: PIPELINES_NS, labels: { [TEST_LABEL]: "true" } },
        spec: {
            pipelineRef: { name: "stack-pr-test" },
            params: [
                { name: "git-url", value: "https://github.com/org/platform.git" },
                // A webhook run: no changed-app param; resolve-stack's changed-app result names the app.
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
            ...over.spec,
        },
    };
}

interface TaskRunSpec { task: string; results: (uid: string) => Record<string, string>; workspaces?: any[]; params?: Record<string, string> }

/** Writes an object's status as Tekton's controller would: through the status subresource. */
function writeStatus(resource: string, name: string, status: any): void {
    kubectlOk(["patch", resource, name, "-n", PIPELINES_NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

/** Stores a finished (by default failed) stack-pr-test run and its TaskRuns; returns the run's name and uid. */
function world(over: RunSpec = {}, taskRuns: TaskRunSpec[] = []): { name: string; uid: string } {
    const name = `stack-pr-test-${randomUUID().slice(0, 8)}`;
    kubectlOk(["create", "-f", "-"], JSON.stringify(pipelineRun(name, over)));
    const uid = kubectlOk(["get", "pipelinerun", name, "-n", PIPELINES_NS, "-o", "jsonpath={.metadata.uid}"]);
    writeStatus("pipelinerun", name, { conditions: over.conditions ?? [{ type: "Succeeded", status: "False", reason: "Failed" }] });
    for (const tr of taskRuns) {
        const trName = `${name}-${tr.task}`;
        kubectlOk(["create", "-f", "-"], JSON.stringify({
            apiVersion: "tekton.dev/v1", kind: "TaskRun",
            metadata: { name: trName, namespace: PIPELINES_NS, labels: { [TEST_LABEL]: "true", "tekton.dev/pipelineRun": name, "tekton.dev/pipelineTask": tr.task } },
            spec: { taskRef: { name: tr.task }, workspaces: tr.workspaces ?? [], params: Object.entries(tr.params ?? {}).map(([n, value]) => ({ name: n, value })) },
        }));
        // The TaskRun CRD's schema requires status.podName: Tekton's controller always writes it.
        writeStatus("taskrun", trName, {
            podName: `${trName}-pod`, conditions: [{ type: "Succeeded", status: "True", reason: "Succeeded" }],
            results: Object.entries(tr.results(uid)).map(([n, value]) => ({ name: n, type: "string", value })),
        });
    }
    return { name, uid };
}

const resolveTask = (over: Record<string, string> = {}, workspaces?: any[]): TaskRunSpec => ({ task: "resolve-stack", results: (uid) => ({ ...resolveResults(uid), ...over }), workspaces });
const containerizeTask = (builtImages = BUILT, workspaces?: any[]): TaskRunSpec => ({ task: "containerize", results: () => ({ "built-images": builtImages, "image-tag": "pr-42-0123456" }), workspaces });

/**
 * The person continuing a run, with no more rights than docs/pipelines.md says the script needs: read
 * PipelineRuns, TaskRuns and Pipelines. Any write the script tried would be Forbidden (it prints; the user creates).
 */
const READER = { name: "tekton-dag-test-continue-pr-reader", namespace: PIPELINES_NS };
let readerKubeconfig = "";

async function installReader(): Promise<void> {
    const labels = { [TEST_LABEL]: "true" };
    apply([
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { ...READER, labels } },
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { ...READER, labels },
            rules: [{ apiGroups: ["tekton.dev"], resources: ["pipelineruns", "taskruns", "pipelines"], verbs: ["get", "list"] }] },
        { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { ...READER, labels },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: READER.name },
            subjects: [{ kind: "ServiceAccount", name: READER.name, namespace: READER.namespace }] },
    ]);
    readerKubeconfig = (await credentials(READER)).kubeconfig;
    return waitCan(READER, "list", "taskruns.tekton.dev", PIPELINES_NS, true);
}

/** The stack-pr-continue Pipeline as the program installs it (kind stack), stored beside the runs. */
async function installContinuePipeline(): Promise<void> {
    const rendered = named(await objects({ stack: "kind" }), "Pipeline", "stack-pr-continue");
    const obj = structuredClone(rendered);
    obj.metadata.namespace = PIPELINES_NS;
    obj.metadata.labels = { ...obj.metadata.labels, [TEST_LABEL]: "true" };
    apply([obj]);
}

function continuePr(...args: string[]) {
    const r = spawnSync("bash", [SCRIPT, ...args], {
        encoding: "utf8",
        env: { HOME: tmpDir("continue-home-"), PATH: `${cluster().bin}:/usr/bin:/bin`, KUBECONFIG: readerKubeconfig },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function paramsOf(doc: any): Record<string, string> {
    return Object.fromEntries(doc.spec.params.map((p: any) => [p.name, p.value]));
}

describe("scripts/continue-pr.sh against the real API server (no Tekton controller: statuses written by the test)", () => {
    before(async () => {
        await installContinuePipeline();
        await installReader();
    });
    after(() => {
        kubectl(["delete", "pipelines.tekton.dev,pipelineruns.tekton.dev,taskruns.tekton.dev,rolebindings,roles,serviceaccounts", "-n", PIPELINES_NS, "-l", TEST_LABEL, "--wait=false"]);
    });

    const standard = () => world({}, [resolveTask(), containerizeTask(), { task: "clone-app", results: () => ({ commit: "0123456" }) }]);

    it("prints a stack-pr-continue PipelineRun with the run's params, its results and the same workspace, as a user who may only read runs", () => {
        const { name, uid } = standard();
        const r = continuePr("-n", PIPELINES_NS, name);
        assert.equal(r.status, 0, r.stderr);
        const doc = YAML.parse(r.stdout);
        assert.equal(doc.apiVersion, "tekton.dev/v1");
        assert.equal(doc.kind, "PipelineRun");
        assert.equal(doc.metadata.generateName, "stack-pr-continue-");
        assert.equal(doc.metadata.namespace, PIPELINES_NS);
        assert.equal(doc.metadata.labels["tekton-dag.io/continues"], name);
        assert.equal(doc.spec.pipelineRef.name, "stack-pr-continue");
        assert.deepEqual(doc.spec.workspaces, [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "tekton-dag-workspace" } }]);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } });
        assert.deepEqual(doc.spec.taskRunSpecs, pipelineRunIdentities(PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT).taskRunSpecs);
        assert.doesNotMatch(r.stderr, /ran every task as/);
        const params = paramsOf(doc);
        assert.equal(params["stack-json"], `@.tekton-dag/runs/${uid}/stack.json`);
        assert.equal(params["intercept-header-value"], "x-dev-session: pr-42");
        assert.equal(params["app-list"], resolveResults(uid)["app-list"]);
        assert.equal(params["built-images"], BUILT);
        assert.equal(params["intercept-backend"], "mirrord");
        assert.match(params["mirrord-image"], /@sha256:/);
        assert.equal(params["pr-number"], "42");
        assert.equal(params["changed-app"], "demo-fe", "the app resolve-stack chose, which a webhook run's params do not name");
        assert.equal(params["previous-run"], name);
        assert.equal(params["platform-dir"], `.tekton-dag/runs/${uid}/platform`, "the stored run's uid, which the API server gave it");
        assert.equal(params["pre-test-hook"], "hooks/seed.sh");
        assert.equal(params["build-tool"], undefined, "results the continuation does not take are left out");
        assert.equal(params["compile-image-npm"], undefined, "build params are left out");
    });

    it("prints a PipelineRun the API server accepts (kubectl create -f -), continuing the run by label", () => {
        const { name } = standard();
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        const created = kubectlOk(["create", "-f", "-", "-o", "json"], r.stdout);
        const stored = JSON.parse(created);
        assert.match(stored.metadata.name, /^stack-pr-continue-[a-z0-9]{5}$/);
        kubectlOk(["label", "pipelinerun", stored.metadata.name, "-n", PIPELINES_NS, `${TEST_LABEL}=true`]);
        assert.equal(stored.metadata.labels["tekton-dag.io/continues"], name);
        assert.deepEqual(paramsOf(stored), paramsOf(YAML.parse(r.stdout)), "stored as printed");
    });

    it("passes only params stack-pr-continue declares, and every one it requires", () => {
        const r = continuePr(standard().name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        const given = paramsOf(YAML.parse(r.stdout));
        const declared = pipeline("stack-pr-continue").spec.params;
        for (const n of Object.keys(given)) assert.ok(declared.some((d: any) => d.name === n), `stack-pr-continue declares ${n}`);
        for (const d of declared) if (d.default === undefined) assert.ok(d.name in given, `required ${d.name} is passed`);
    });

    it("--set overrides a param, e.g. switching the backend", () => {
        const r = continuePr(standard().name, "-n", PIPELINES_NS, "--set", "intercept-backend=telepresence", "--set=request-path=/health?x=a=b");
        assert.equal(r.status, 0, r.stderr);
        const params = paramsOf(YAML.parse(r.stdout));
        assert.equal(params["intercept-backend"], "telepresence");
        assert.equal(params["request-path"], "/health?x=a=b");
    });

    describe("the backend: the one the earlier run used, unless --set says otherwise", () => {
        const withoutBackend = (over: RunSpec = {}) => ({
            ...over, spec: { ...over.spec, params: pipelineRun("x").spec.params.filter((p: any) => p.name !== "intercept-backend") },
        });
        // What Tekton's controller records of a run started without the param: the check task's resolved
        // params, and the pipeline spec (with its defaults then) in the run's status.
        const checkTask = (backend: string): TaskRunSpec => ({ task: "check-intercept-backend", results: () => ({}), params: { "intercept-backend": backend } });

        it("copies the run's own intercept-backend param (a webhook run always has one)", () => {
            const r = continuePr(standard().name, "-n", PIPELINES_NS);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(paramsOf(YAML.parse(r.stdout))["intercept-backend"], "mirrord");
        });

        it("a run started without the param: the value its check-intercept-backend TaskRun got (the pipeline's default then)", () => {
            const { name } = world(withoutBackend(), [resolveTask(), containerizeTask(), checkTask("mirrord")]);
            const r = continuePr(name, "-n", PIPELINES_NS);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(paramsOf(YAML.parse(r.stdout))["intercept-backend"], "mirrord");
            const set = continuePr(name, "-n", PIPELINES_NS, "--set", "intercept-backend=telepresence");
            assert.equal(paramsOf(YAML.parse(set.stdout))["intercept-backend"], "telepresence");
        });

        it("a run started without the param and no check TaskRun left: the default in the pipeline spec its status keeps", () => {
            const { name } = world(withoutBackend(), [resolveTask(), containerizeTask()]);
            writeStatus("pipelinerun", name, { pipelineSpec: { params: [{ name: "intercept-backend", type: "string", default: "mirrord" }] } });
            const r = continuePr(name, "-n", PIPELINES_NS);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(paramsOf(YAML.parse(r.stdout))["intercept-backend"], "mirrord");
        });

        it("nothing recorded: no param, and a warning that stack-pr-continue's default applies", () => {
            const { name } = world(withoutBackend(), [resolveTask(), containerizeTask()]);
            const r = continuePr(name, "-n", PIPELINES_NS);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(paramsOf(YAML.parse(r.stdout))["intercept-backend"], undefined);
            assert.match(r.stderr, new RegExp(`'${name}' was started without intercept-backend and records none it used; this run takes stack-pr-continue's default`));
        });
    });

    it("keeps awkward values intact through the API server and the YAML", () => {
        const tricky = 'line1\nline2: "quoted" # not a comment \\ end';
        const { name } = world({}, [resolveTask({ "entry-app": tricky }), containerizeTask()]);
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(paramsOf(YAML.parse(r.stdout))["entry-app"], tricky);
    });

    it("binds the claim a volumeClaimTemplate made for the earlier run, with a warning", () => {
        const ws = [{ name: "shared-workspace", persistentVolumeClaim: { claimName: "pvc-0a1b2c3d4e" } }];
        const { name } = world({ spec: { workspaces: [{ name: "shared-workspace", volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"] } } }] } },
            [resolveTask({}, ws), containerizeTask(BUILT, ws)]);
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(YAML.parse(r.stdout).spec.workspaces, ws);
        assert.match(r.stderr, new RegExp(`volumeClaimTemplate: binding its claim pvc-0a1b2c3d4e, which is deleted together with '${name}'`));
    });

    it("runs PR-code tasks as tekton-dag-pr-code when the run named no ServiceAccount", () => {
        const { name } = world({ spec: { taskRunTemplate: undefined } }, [resolveTask(), containerizeTask()]);
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        const doc = YAML.parse(r.stdout);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code" });
        assert.deepEqual(doc.spec.taskRunSpecs, pipelineRunIdentities(PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT).taskRunSpecs);
    });

    it("never hands an earlier run's privileged default identity on, and says so", () => {
        const { name } = world({ spec: { taskRunTemplate: { serviceAccountName: "tekton-dag-pipeline", podTemplate: { nodeSelector: { pool: "ci" } } } } },
            [resolveTask(), containerizeTask()]);
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        const doc = YAML.parse(r.stdout);
        assert.deepEqual(doc.spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { nodeSelector: { pool: "ci" } } });
        assert.match(r.stderr, new RegExp(`'${name}' ran every task as tekton-dag-pipeline; this run uses tekton-dag-pr-code and gives tekton-dag-pipeline only to: deploy-intercepts-telepresence .* pr-comment`));
        const p = pipeline("stack-pr-continue");
        const names = [...p.spec.tasks, ...p.spec.finally].map((t: any) => t.name);
        for (const spec of doc.spec.taskRunSpecs) assert.ok(names.includes(spec.pipelineTaskName), `stack-pr-continue has ${spec.pipelineTaskName}`);
    });

    it("drops a pod template's automountServiceAccountToken, which would override the ServiceAccount's false", () => {
        const podTemplate = { securityContext: { fsGroup: 65532 }, automountServiceAccountToken: true };
        const { name } = world({ spec: { taskRunTemplate: { serviceAccountName: "tekton-dag-pr-code", podTemplate } } }, [resolveTask(), containerizeTask()]);
        const r = continuePr(name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(YAML.parse(r.stdout).spec.taskRunTemplate, { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } });
        assert.match(r.stderr, new RegExp(`'${name}' set podTemplate.automountServiceAccountToken; this run leaves it to the ServiceAccount`));
    });

    describe("reads what to pass off the installed stack-pr-continue Pipeline", () => {
        // Each test changes the stored Pipeline; the one the program renders is put back after it.
        afterEach(() => installContinuePipeline());

        it("copies the params and names the cluster tasks its annotations list (simulated: annotations edited on the stored Pipeline)", () => {
            const stored = JSON.parse(kubectlOk(["get", "pipeline", "stack-pr-continue", "-n", PIPELINES_NS, "-o", "json"]));
            const spec = JSON.parse(stored.metadata.annotations[ANNOTATION_PARAMS]);
            spec.copied = spec.copied.filter((n: string) => n !== "pre-test-hook");
            const clusterTasks = stored.metadata.annotations[ANNOTATION_CLUSTER_TASKS].split(" ").filter((n: string) => n !== "pr-comment");
            kubectlOk(["annotate", "--overwrite", "pipeline", "stack-pr-continue", "-n", PIPELINES_NS,
                `${ANNOTATION_PARAMS}=${JSON.stringify(spec)}`, `${ANNOTATION_CLUSTER_TASKS}=${clusterTasks.join(" ")}`]);
            const r = continuePr("-n", PIPELINES_NS, standard().name);
            assert.equal(r.status, 0, r.stderr);
            const doc = YAML.parse(r.stdout);
            assert.equal(paramsOf(doc)["pre-test-hook"], undefined, "a param the annotation does not list is not copied");
            assert.equal(paramsOf(doc)["pr-number"], "42");
            assert.deepEqual(doc.spec.taskRunSpecs.map((s: any) => s.pipelineTaskName), clusterTasks);
        });

        it("stops, naming the Pipeline, when it is not installed", () => {
            kubectlOk(["delete", "pipeline", "stack-pr-continue", "-n", PIPELINES_NS]);
            const r = continuePr("-n", PIPELINES_NS, standard().name);
            assert.notEqual(r.status, 0);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, new RegExp(`could not read Pipeline stack-pr-continue in namespace ${PIPELINES_NS} \\(its annotations name the params to pass\\): .*not found`));
        });

        it("stops when the Pipeline carries no continuation annotations (installed by an older program)", () => {
            kubectlOk(["annotate", "pipeline", "stack-pr-continue", "-n", PIPELINES_NS, `${ANNOTATION_PARAMS}-`]);
            const r = continuePr("-n", PIPELINES_NS, standard().name);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, /Pipeline stack-pr-continue has no usable tekton-dag.io\/continuation-params and tekton-dag.io\/cluster-tasks annotations/);
        });
    });

    describe("clear errors", () => {
        // Each case stores what it needs and returns the script's arguments.
        const cases: [string, () => string[], RegExp][] = [
            ["run not found", () => ["-n", PIPELINES_NS, "nope"], new RegExp(`PipelineRun 'nope' not found in namespace ${PIPELINES_NS}`)],
            ["a namespace the user may not read: the API server's Forbidden, passed on", () => ["-n", "ci", "nope"],
                /could not read PipelineRun 'nope': .*Forbidden.*cannot get resource "pipelineruns" in API group "tekton.dev" in the namespace "ci"/],
            ["no built-images yet", () => ["-n", PIPELINES_NS, world({}, [resolveTask()]).name], /has no containerize result 'built-images' yet \(containerize did not finish\)/],
            ["empty built-images", () => ["-n", PIPELINES_NS, world({}, [resolveTask(), containerizeTask("{}")]).name], /has no built-images yet \(containerize built nothing\)/],
            ["resolve-stack did not finish", () => ["-n", PIPELINES_NS, world().name], /has no resolve-stack result 'stack-json' yet \(resolve-stack did not finish\)/],
            ["still running", () => ["-n", PIPELINES_NS, world({ conditions: [{ type: "Succeeded", status: "Unknown" }] }).name], /is still running/],
            ["another pipeline", () => ["-n", PIPELINES_NS, world({ spec: { pipelineRef: { name: "other" } } }).name], /runs pipeline 'other', not stack-pr-test/],
            ["emptyDir workspace", () => ["-n", PIPELINES_NS, world({ spec: { workspaces: [{ name: "shared-workspace", emptyDir: {} }] } }, [resolveTask(), containerizeTask()]).name], /emptyDir shared-workspace; its data is gone/],
            ["no run name", () => [], /the name of a failed stack-pr-test PipelineRun is required/],
            ["two run names", () => ["a", "b"], /only one run name is allowed/],
            ["unknown option", () => ["--frobnicate", "a"], /unknown option '--frobnicate'/],
            ["bad --set", () => ["-n", PIPELINES_NS, standard().name, "--set", "novalue"], /--set 'novalue' must be PARAM=VALUE/],
        ];
        for (const [label, args, pattern] of cases) {
            it(label, () => {
                const r = continuePr(...args());
                assert.notEqual(r.status, 0);
                assert.equal(r.stdout, "", "prints no YAML");
                assert.match(r.stderr, pattern);
            });
        }
    });
});
