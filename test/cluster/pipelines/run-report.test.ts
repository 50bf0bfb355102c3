// scripts/run-report.sh against the real API server: a stack-pr-test PipelineRun and its TaskRuns are stored
// objects whose statuses are written through the status subresource, shaped as Tekton's controller writes them
// (conditions, childReferences, skippedTasks, the pipeline spec it ran, steps with their terminated state,
// results); the script reads them with the real kubectl as a user who may only read runs.
// Simulated: the Tekton controller (no run executes; the test writes the statuses).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { headingSlugs } from "../../docs/references";
import { PIPELINE_NAMES, pipeline } from "../../pipelines/helpers";
import { apply, cluster, credentials, kubectl, kubectlOk, PIPELINES_NS, waitCan } from "../harness";
import { REPO } from "../../support/repo";
import { tmpDir } from "../../support/tmpDir";

const SCRIPT = path.join(REPO, "scripts", "run-report.sh");
const PAGE = path.join(REPO, "docs", "failed-runs.md");
/** Every object this file creates carries it, so after() removes exactly those. */
const TEST_LABEL = "tekton-dag.test/run-report";
const CLAIM = "pvc-5e1f0c2a9d";
const MIRRORD_IMAGE = "registry.local:5000/tekton-dag-build-mirrord@sha256:" + "cd".repeat(32);

type Outcome = { ok: true; results?: Record<string, string>; params?: Record<string, string> }
    | { ok: false; step?: string; exitCode?: number; reason?: string; message?: string; noPod?: boolean };

/** Writes an object's status as Tekton's controller would: through the status subresource. */
function writeStatus(resource: string, name: string, status: any): void {
    kubectlOk(["patch", resource, name, "-n", PIPELINES_NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
}

/**
 * Stores a finished stack-pr-test (or stack-pr-continue) run: its TaskRuns with the given outcomes, the other
 * tasks skipped with the given reasons; the run failed when any TaskRun did.
 */
function storeRun(tasks: Record<string, Outcome>, skipped: Record<string, string>, pipelineName = "stack-pr-test"): { name: string; uid: string } {
    const name = `${pipelineName}-${randomUUID().slice(0, 5)}`;
    const spec = pipeline(pipelineName).spec;
    kubectlOk(["create", "-f", "-"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: { name, namespace: PIPELINES_NS, labels: { [TEST_LABEL]: "true" } },
        spec: {
            pipelineRef: { name: pipelineName },
            params: [
                { name: "app-revision", value: "0123456789abcdef0123456789abcdef01234567" },
                { name: "pr-number", value: "42" },
                { name: "repo-full-name", value: "org/demo-fe" },
                { name: "intercept-backend", value: "mirrord" },
                { name: "mirrord-image", value: MIRRORD_IMAGE },
            ],
            workspaces: [{ name: "shared-workspace", volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"] } } }],
        },
    }));
    const uid = kubectlOk(["get", "pipelinerun", name, "-n", PIPELINES_NS, "-o", "jsonpath={.metadata.uid}"]);
    const failed = Object.entries(tasks).filter(([, o]) => !o.ok).map(([t]) => t);
    for (const [task, o] of Object.entries(tasks)) {
        const trName = `${name}-${task}`;
        kubectlOk(["create", "-f", "-"], JSON.stringify({
            apiVersion: "tekton.dev/v1", kind: "TaskRun",
            metadata: { name: trName, namespace: PIPELINES_NS, labels: { [TEST_LABEL]: "true", "tekton.dev/pipelineRun": name, "tekton.dev/pipelineTask": task } },
            spec: {
                taskRef: { name: task },
                params: Object.entries((o.ok && o.params) || {}).map(([n, value]) => ({ name: n, value })),
                workspaces: [{ name: "shared-workspace", persistentVolumeClaim: { claimName: CLAIM } }],
            },
        }));
        const podName = o.ok || !o.noPod ? `${trName}-pod` : "";
        const step = o.ok ? "run" : o.step ?? "run";
        writeStatus("taskrun", trName, {
            podName,
            conditions: [o.ok
                ? { type: "Succeeded", status: "True", reason: "Succeeded", message: "All Steps have completed executing" }
                : { type: "Succeeded", status: "False", reason: o.reason ?? "Failed", message: o.message ?? `"step-${step}" exited with code ${o.exitCode ?? 1}` }],
            steps: podName ? [{ name: step, container: `step-${step}`, terminated: { exitCode: o.ok ? 0 : o.exitCode ?? 1, reason: o.ok ? "Completed" : "Error" } }] : [],
            results: Object.entries((o.ok && o.results) || {}).map(([n, value]) => ({ name: n, type: "string", value })),
        });
    }
    writeStatus("pipelinerun", name, {
        startTime: "2026-12-06T22:00:00Z", completionTime: "2026-12-06T22:07:00Z",
        conditions: [failed.length
            ? { type: "Succeeded", status: "False", reason: "Failed", message: `Tasks Completed: ${Object.keys(tasks).length} (Failed: ${failed.length}, Cancelled 0), Skipped: ${Object.keys(skipped).length}` }
            : { type: "Succeeded", status: "True", reason: "Succeeded", message: "Tasks Completed: all" }],
        pipelineSpec: spec,
        childReferences: Object.keys(tasks).map((t) => ({ apiVersion: "tekton.dev/v1", kind: "TaskRun", name: `${name}-${t}`, pipelineTaskName: t })),
        skippedTasks: Object.entries(skipped).map(([t, reason]) => ({ name: t, reason })),
    });
    return { name, uid };
}

/** The person reading the run, with no more rights than the page says the script needs. */
const READER = { name: "tekton-dag-test-run-report-reader", namespace: PIPELINES_NS };
let readerKubeconfig = "";

function report(...args: string[]) {
    const r = spawnSync("bash", [SCRIPT, ...args], {
        encoding: "utf8",
        env: { HOME: tmpDir("run-report-home-"), PATH: `${cluster().bin}:/usr/bin:/bin`, KUBECONFIG: readerKubeconfig },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The lines of the report about one pipeline task: its own line and the indented ones under it. */
function taskBlock(out: string, task: string): string {
    const lines = out.split("\n");
    const i = lines.findIndex((l) => l.startsWith(`  ${task}: `));
    assert.ok(i >= 0, `the report lists ${task}:\n${out}`);
    let j = i + 1;
    while (j < lines.length && lines[j].startsWith("      ")) j++;
    return lines.slice(i, j).join("\n");
}

const ok = (results?: Record<string, string>, params?: Record<string, string>): Outcome => ({ ok: true, results, params });

describe("scripts/run-report.sh against the real API server (no Tekton controller: statuses written by the test)", () => {
    before(async () => {
        const labels = { [TEST_LABEL]: "true" };
        apply([
            { apiVersion: "v1", kind: "ServiceAccount", metadata: { ...READER, labels } },
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { ...READER, labels },
                rules: [{ apiGroups: ["tekton.dev"], resources: ["pipelineruns", "taskruns"], verbs: ["get", "list"] }] },
            { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { ...READER, labels },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: READER.name },
                subjects: [{ kind: "ServiceAccount", name: READER.name, namespace: READER.namespace }] },
        ]);
        readerKubeconfig = (await credentials(READER)).kubeconfig;
        await waitCan(READER, "list", "taskruns.tekton.dev", PIPELINES_NS, true);
    });
    after(() => {
        kubectl(["delete", "pipelineruns.tekton.dev,taskruns.tekton.dev,rolebindings,roles,serviceaccounts", "-n", PIPELINES_NS, "-l", TEST_LABEL, "--wait=false"]);
        kubectl(["delete", "namespace", "-l", TEST_LABEL, "--wait=false"]);
    });

    describe("a run that failed at deploy (mirrord)", () => {
        let run: { name: string; uid: string };
        let out: string;
        before(() => {
            run = storeRun({
                "status-pending": ok(),
                "check-intercept-backend": ok({}, { "intercept-backend": "mirrord" }),
                "fetch-platform": ok({ commit: "1111111", url: "https://github.com/org/platform.git" }),
                "resolve-stack": ok({ "changed-app": "demo-fe", "intercept-header-value": "x-dev-session: pr-42", "build-tool": "npm", "stack-json": "@.tekton-dag/runs/x/stack.json@sha256:00" }),
                "clone-app": ok({ commit: "0123456" }),
                "hook-pre-build": ok(),
                "compile-npm": ok(),
                "containerize": ok({ "built-images": '{"demo-fe":"registry.local:5000/demo-fe@sha256:' + "ab".repeat(32) + '"}', "image-tag": "pr-42-0123456-abcdef12" }),
                "hook-post-build": ok(),
                "deploy-intercepts-mirrord": { ok: false, step: "deploy", exitCode: 1 },
                "status-final": ok(),
                "cleanup-intercepts": ok(),
                "pr-comment": ok(),
            }, {
                "compile-maven": "When Expressions evaluated to false", "compile-gradle": "When Expressions evaluated to false",
                "compile-pip": "When Expressions evaluated to false", "compile-composer": "When Expressions evaluated to false",
                "deploy-intercepts-telepresence": "When Expressions evaluated to false",
                "deploy-intercepts-result": "PipelineRun was stopping",
            });
            const r = report("-n", PIPELINES_NS, run.name);
            assert.equal(r.status, 0, r.stderr);
            out = r.stdout;
        });

        it("names the run's state, its uid and backend, and every task of the pipeline in order", () => {
            assert.match(out, new RegExp(`^PipelineRun ${run.name} \\(namespace ${PIPELINES_NS}, pipeline stack-pr-test\\): Failed\n`));
            assert.match(out, /Tasks Completed: 13 \(Failed: 1, Cancelled 0\), Skipped: 6/);
            assert.ok(out.includes(`run id (uid): ${run.uid}`));
            assert.match(out, /intercept backend: mirrord/);
            const spec = pipeline("stack-pr-test").spec;
            const names: string[] = [...spec.tasks, ...spec.finally].map((t: any) => t.name);
            const positions = names.map((t) => out.indexOf(`\n  ${t}: `));
            assert.ok(positions.every((p) => p > 0), "every task is listed");
            assert.deepEqual([...positions].sort((a, b) => a - b), positions, "in the pipeline's order");
        });

        it("for the failed task: the failing step, the exact kubectl logs command of its container, and the page section", () => {
            const block = taskBlock(out, "deploy-intercepts-mirrord");
            assert.match(block, new RegExp(`^  deploy-intercepts-mirrord: Failed  \\[TaskRun ${run.name}-deploy-intercepts-mirrord\\]`));
            assert.match(block, /"step-deploy" exited with code 1/);
            assert.match(block, /failed step: deploy \(container step-deploy, exit code 1, Error\)/);
            assert.ok(block.includes(`its log: kubectl logs -n ${PIPELINES_NS} ${run.name}-deploy-intercepts-mirrord-pod -c step-deploy`), block);
            assert.match(block, /what it means: docs\/failed-runs\.md#deploy-intercepts-backend/);
        });

        it("skipped tasks with Tekton's reason, tasks that never started, and passed ones without log hints", () => {
            assert.match(taskBlock(out, "compile-maven"), /^  compile-maven: Skipped \(When Expressions evaluated to false\)$/);
            assert.match(taskBlock(out, "deploy-intercepts-result"), /Skipped \(PipelineRun was stopping\)/);
            assert.match(taskBlock(out, "run-stack-tests"), /^  run-stack-tests: not started \(the run ended first\)$/);
            const passed = taskBlock(out, "containerize");
            assert.match(passed, /^  containerize: Succeeded  \[TaskRun/);
            assert.doesNotMatch(passed, /logs|failed step/);
        });

        it("the results that matter, and not the plumbing ones", () => {
            assert.match(taskBlock(out, "resolve-stack"), /result changed-app: demo-fe\n.*result intercept-header-value: x-dev-session: pr-42/);
            assert.doesNotMatch(out, /stack-json/);
            assert.match(taskBlock(out, "containerize"), /result built-images: \{"demo-fe":"registry.local:5000\/demo-fe@sha256:/);
            assert.match(out, /Run results: none/);
        });

        it("says there is no test-summary.json when run-stack-tests never ran", () => {
            assert.match(out, /test-summary\.json:\n  run-stack-tests did not run, so it wrote none/);
            assert.doesNotMatch(out, /kubectl run /);
        });
    });

    describe("a run whose tests failed", () => {
        let run: { name: string; uid: string };
        let out: string;
        before(() => {
            run = storeRun({
                "check-intercept-backend": ok({}, { "intercept-backend": "telepresence" }),
                "deploy-intercepts-result": ok({ "deployed-pods": '{"demo-fe":"demo-fe-pr-42-5e1f0c2a"}' }),
                "validate-stack-propagation": ok({ "answered-by": "demo-fe-pr-42-5e1f0c2a" }),
                "run-stack-tests": { ok: false, step: "summary", exitCode: 1 },
            }, {});
            // A failed step's results are still recorded (Tekton's entrypoint reads them after any exit). The
            // line's format is run-stack-tests-summary.sh's.
            writeStatus("taskrun", `${run.name}-run-stack-tests`, { results: [{ name: "test-summary", type: "string", value: summary(run.uid) }] });
            const r = report(run.name, "-n", PIPELINES_NS);
            assert.equal(r.status, 0, r.stderr);
            out = r.stdout;
        });
        const summary = (uid: string) => `failed: 1 passed, 1 failed, 1 skipped (.tekton-dag/runs/${uid}/test-summary.json)`;

        it("the test-summary result and the run-stack-tests step that failed", () => {
            const block = taskBlock(out, "run-stack-tests");
            assert.match(block, /failed step: summary \(container step-summary/);
            assert.ok(block.includes(`-c step-summary`), block);
            assert.ok(block.includes(`result test-summary: ${summary(run.uid)}`), block);
            assert.match(block, /what it means: docs\/failed-runs\.md#run-stack-tests/);
            assert.match(taskBlock(out, "validate-stack-propagation"), /result answered-by: demo-fe-pr-42-5e1f0c2a/);
            assert.match(out, /intercept backend: mirrord/, "the run's own param");
        });

        it("where test-summary.json is, and a pod command to read it that the API server accepts under the restricted Pod Security level (dry run)", () => {
            assert.ok(out.includes(`.tekton-dag/runs/${run.uid}/test-summary.json on volume claim ${CLAIM} (namespace ${PIPELINES_NS}), which is deleted together with the run.`), out);
            assert.match(out, /Reading it needs a pod that mounts the claim/);
            const line = out.split("\n").find((l) => l.trim().startsWith("kubectl run "));
            assert.ok(line, out);
            // The printed command, as a shell would split it, with --rm -i (attach, then delete) swapped for a
            // server-side dry run in a namespace that enforces `restricted`.
            const argv = spawnSync("bash", ["-c", `printf '%s\\0' ${line!.trim()}`], { encoding: "utf8" }).stdout.split("\0").slice(0, -1);
            assert.equal(argv[0], "kubectl");
            const ns = `tekton-dag-test-restricted-${randomUUID().slice(0, 6)}`;
            kubectlOk(["create", "namespace", ns]);
            kubectlOk(["label", "namespace", ns, `${TEST_LABEL}=true`, "pod-security.kubernetes.io/enforce=restricted"]);
            const args = argv.slice(1).filter((a) => a !== "--rm" && a !== "-i").map((a) => (a === PIPELINES_NS ? ns : a));
            const sep = args.indexOf("--command");
            const dry = kubectl([...args.slice(0, sep), "--dry-run=server", "-o", "json", ...args.slice(sep)]);
            assert.equal(dry.status, 0, dry.stderr);
            const pod = JSON.parse(dry.stdout);
            assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === "ws").persistentVolumeClaim, { claimName: CLAIM, readOnly: true });
            const c = pod.spec.containers[0];
            assert.equal(c.image, MIRRORD_IMAGE, "the run's own tools image (pinned)");
            assert.deepEqual(c.command, ["cat", `/workspace/.tekton-dag/runs/${run.uid}/test-summary.json`]);
            assert.deepEqual(c.volumeMounts.find((m: any) => m.name === "ws"), { name: "ws", mountPath: "/workspace", readOnly: true });
        });
    });

    it("a failed task without a failed step (a timeout) or without a pod: says so instead of inventing a step", () => {
        const run = storeRun({
            "validate-original-traffic": { ok: false, reason: "TaskRunTimeout", message: "TaskRun \"x\" failed to finish within \"10m0s\"", exitCode: 0 },
            "fetch-platform": { ok: false, reason: "TaskRunValidationFailed", message: "invalid input params", noPod: true },
        }, {});
        const r = report(run.name, "-n", PIPELINES_NS);
        assert.equal(r.status, 0, r.stderr);
        const timeout = taskBlock(r.stdout, "validate-original-traffic");
        assert.match(timeout, /Failed \(TaskRunTimeout\)/);
        assert.match(timeout, /no step exited non-zero .*: kubectl logs -n tekton-dag \S+-validate-original-traffic-pod --all-containers --prefix/);
        const noPod = taskBlock(r.stdout, "fetch-platform");
        assert.match(noPod, /Failed \(TaskRunValidationFailed\)/);
        assert.match(noPod, /no pod was created for it/);
        assert.doesNotMatch(noPod, /kubectl logs/);
    });

    it("every task of both pipelines, failed, points at a section of docs/failed-runs.md that exists", () => {
        const slugs = headingSlugs(fs.readFileSync(PAGE, "utf8"));
        for (const name of PIPELINE_NAMES) {
            const spec = pipeline(name).spec;
            const tasks: string[] = [...spec.tasks, ...spec.finally].map((t: any) => t.name);
            const run = storeRun(Object.fromEntries(tasks.map((t) => [t, { ok: false, step: "x" } as Outcome])), {}, name);
            const r = report("-n", PIPELINES_NS, run.name);
            assert.equal(r.status, 0, r.stderr);
            for (const t of tasks) {
                const m = /what it means: docs\/failed-runs\.md#(\S+)/.exec(taskBlock(r.stdout, t));
                assert.ok(m, `${name}/${t} has a page section`);
                assert.ok(slugs.has(m![1]), `${name}/${t}: docs/failed-runs.md has no heading with anchor #${m![1]}`);
            }
        }
    });

    describe("clear errors", () => {
        const cases: [string, string[], RegExp][] = [
            ["no such run", ["-n", PIPELINES_NS, "nope"], new RegExp(`PipelineRun 'nope' not found in namespace ${PIPELINES_NS} \\(kubectl get pipelineruns -n ${PIPELINES_NS} lists the runs\\)`)],
            ["a namespace the user may not read: the API server's Forbidden, passed on", ["-n", "ci", "nope"],
                /could not read PipelineRun 'nope': .*Forbidden.*cannot get resource "pipelineruns"/],
            ["no run name", ["-n", PIPELINES_NS], /the name of a PipelineRun is required/],
            ["-n without a namespace", ["x", "-n"], /-n needs a namespace/],
            ["two run names", ["a", "b"], /only one PipelineRun name is allowed \(got 'a' and 'b'\)/],
            ["unknown option", ["--frobnicate", "a"], /unknown option '--frobnicate' \(allowed: -n NAMESPACE, -h\)/],
        ];
        for (const [label, args, pattern] of cases) {
            it(label, () => {
                const r = report(...args);
                assert.notEqual(r.status, 0);
                assert.equal(r.stdout, "");
                assert.match(r.stderr, pattern);
            });
        }
    });
});
