import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { readTask } from "../../lib/tasks";
import { REPO, SCRIPTS } from "../support/repo";

const TASKS = ["check-intercept-backend", "deploy-intercept-mirrord", "deploy-stack-intercepts", "deploy-intercepts-result", "cleanup-stack-intercepts"];
const MY_SCRIPTS = ["check-intercept-backend.sh", "mirrord-config.sh", "deploy-intercept-mirrord.sh", "deploy-stack-intercepts.sh",
    "deploy-intercepts-result.sh", "cleanup-stack-intercepts.sh", "sweep-orphans.sh", "lib-intercept.sh", "lib-validate.sh", "lib-naming.sh", "lib-deploy.sh", "lib-pods.sh", "lib-cleanup.sh", "lib-pr-pod.sh", "lib-lock.sh",
    "telepresence-proxy.sh"];
const load = (name: string): any => readTask(name);

describe("intercept Tasks", () => {
    for (const name of TASKS) {
        it(`${name}: catalog metadata, params only through env, steps run the scripts ConfigMap`, () => {
            const t = load(name);
            assert.equal(t.metadata.name, name);
            assert.ok(t.metadata.labels["app.kubernetes.io/version"]);
            for (const a of ["tekton.dev/pipelines.minVersion", "tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName", "tekton.dev/platforms"]) {
                assert.ok(t.metadata.annotations[a], a);
            }
            assert.ok(t.spec.description);
            assert.ok(t.spec.volumes.some((v: any) => v.name === "tekton-dag-scripts" && v.configMap));
            for (const step of t.spec.steps) {
                assert.equal(step.script, undefined);
                assert.equal(step.args, undefined);
                assert.match(step.command[0], /^\/tekton-dag\/scripts\/[a-z-]+\.sh$/);
                assert.ok(fs.existsSync(path.join(SCRIPTS, path.basename(step.command[0]))));
                assert.deepEqual(step.volumeMounts, [{ name: "tekton-dag-scripts", mountPath: "/tekton-dag/scripts", readOnly: true }]);
                assert.match(step.image, /^\$\(params\.(mirrord|telepresence)-image\)$/);
            }
            assert.ok(!JSON.stringify(t).includes(":latest"));
        });
    }

    it("both deploy tasks share the interface the pipelines wire", () => {
        const common = ["stack-json", "build-apps", "propagation-chain", "built-images", "intercept-header-value", "default-namespace",
            "run-id", "run-name", "lease-wait-seconds", "pod-ready-timeout-seconds"];
        const m = load("deploy-intercept-mirrord");
        const t = load("deploy-stack-intercepts");
        for (const task of [m, t]) {
            const names = task.spec.params.map((p: any) => p.name);
            for (const p of common) assert.ok(names.includes(p), `${task.metadata.name} lacks ${p}`);
            assert.deepEqual(task.spec.workspaces.map((w: any) => w.name), ["shared-workspace"]);
            assert.deepEqual(task.spec.results.map((r: any) => r.name), ["deployed-pods"]);
            assert.equal(task.spec.params.find((p: any) => p.name === "default-namespace").default, "staging");
            assert.equal(task.spec.params.find((p: any) => p.name === "lease-wait-seconds").default, "600");
        }
        assert.ok(m.spec.params.some((p: any) => p.name === "mirrord-image"));
        assert.ok(t.spec.params.some((p: any) => p.name === "telepresence-image"));
    });

    it("both deploy tasks take target-namespaces (default staging) and hand it to the script as TARGET_NAMESPACES", () => {
        for (const name of ["deploy-intercept-mirrord", "deploy-stack-intercepts"]) {
            const task = load(name);
            assert.equal(task.spec.params.find((p: any) => p.name === "target-namespaces")?.default, "staging", name);
            const env = task.spec.steps[0].env.find((e: any) => e.name === "TARGET_NAMESPACES");
            assert.equal(env?.value, "$(params.target-namespaces)", name);
        }
    });

    it("check-intercept-backend takes intercepts-enabled (default \"true\") and hands it to the script as INTERCEPTS_ENABLED", () => {
        const task = load("check-intercept-backend");
        assert.equal(task.spec.params.find((p: any) => p.name === "intercepts-enabled")?.default, "true");
        assert.equal(task.spec.steps[0].env.find((e: any) => e.name === "INTERCEPTS_ENABLED")?.value, "$(params.intercepts-enabled)");
    });

    it("scripts never interpolate params, never use Telepresence's removed --http-match, never install the traffic manager", () => {
        for (const s of MY_SCRIPTS) {
            const text = fs.readFileSync(path.join(SCRIPTS, s), "utf8");
            assert.ok(!text.includes("$(params."), s);
            assert.ok(!text.includes("--http-match"), s);
            assert.ok(!/telepresence helm|helm install/.test(text), s);
            assert.ok(!text.includes("app=mirrord"), `${s} must not select mirrord agents of other runs`);
            assert.match(text, /^#!\/usr\/bin\/env bash\n/);
            if (!s.startsWith("lib-")) assert.match(text, /\nset -euo pipefail\n/);
            assert.ok(fs.statSync(path.join(SCRIPTS, s)).mode & 0o111, `${s} is executable`);
        }
    });
});

describe("intercept RBAC rule files", () => {
    for (const f of ["pipeline-in-target.yaml", "pipeline-in-home.yaml", "mirrord-proxy.yaml", "telepresence-client-target.yaml", "telepresence-client-manager.yaml"]) {
        it(`${f}: no wildcards, every rule explained by a comment`, () => {
            const text = fs.readFileSync(path.join(REPO, "tekton", "rbac", f), "utf8");
            const doc = YAML.parse(text);
            assert.ok(doc.rules.length > 0);
            assert.ok(!text.includes("*"));
            const ruleLines = text.split("\n").map((l, i) => [l, i] as const).filter(([l]) => /^  - apiGroups:/.test(l));
            const lines = text.split("\n");
            for (const [, i] of ruleLines) assert.match(lines[i - 1], /^\s*#/, `rule at line ${i + 1} of ${f} has no comment`);
        });
    }

    // That tekton-dag-pipeline may do every delete the scripts run, --wait's watch included, is shown on the
    // real API server: test/cluster/intercepts/cleanup-result-sweep.test.ts.

    it("the mirrord proxy gets exactly what the CLI needs without the operator", () => {
        const doc = YAML.parse(fs.readFileSync(path.join(REPO, "tekton", "rbac", "mirrord-proxy.yaml"), "utf8"));
        const grants = doc.rules.flatMap((r: any) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${r.apiGroups[0]}/${res}:${v}`))).sort();
        assert.deepEqual(grants, ["/pods/log:get", "/pods/portforward:create", "/pods:get", "/pods:list", "/pods:watch",
            "apps/deployments:get", "batch/jobs:create"].sort());
    });
});
