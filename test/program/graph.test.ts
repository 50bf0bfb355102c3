import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import { fakeDigest, renderStack } from "../../scripts/mocks/render";
import { checkTaskRefs, referencedTaskNames } from "../../components/tektonPipelines";
import { TEKTON_DIR } from "../../lib/tektonSources";
import { readPipelines } from "../../lib/continuePipeline";
import { builtTasks, readTasks } from "../../lib/tasks";
import { named, objects, ofKind, paramDefault, rendered } from "../support/render";

const KIND = { stack: "kind" };
const KIND_MIRRORD = { stack: "kind", overrides: { interceptBackend: "mirrord" } };
const PIPELINES = ["stack-pr-test", "stack-pr-continue"];

describe("resource graph", () => {
    describe("intercept backend default follows the stack config", () => {
        for (const [label, options, expected] of [
            ["kind stack (default)", KIND, "telepresence"],
            ["kind stack with interceptBackend=mirrord", KIND_MIRRORD, "mirrord"],
        ] as const) {
            it(`${label}: both pipelines and the trigger template default to ${expected}`, async () => {
                const objs = await objects(options);
                for (const name of PIPELINES) {
                    assert.equal(paramDefault(named(objs, "Pipeline", name), "intercept-backend"), expected, name);
                }
                assert.equal(paramDefault(named(objs, "TriggerTemplate", "stack-pr-test-template"), "intercept-backend"), expected);
            });
        }
    });

    it("installs every Task the pipelines reference by name", async () => {
        const objs = await objects(KIND);
        const installed = new Set(ofKind(objs, "Task").map((t) => t.metadata.name));
        for (const name of PIPELINES) {
            const missing = referencedTaskNames(named(objs, "Pipeline", name)).filter((t) => !installed.has(t));
            assert.deepEqual(missing, [], `${name} references Tasks that are not installed`);
        }
    });

    it("refuses a Pipeline whose Task is not installed, naming both", () => {
        const pipelines = readPipelines();
        const tasks = readTasks().map((t) => t.metadata.name);
        assert.doesNotThrow(() => checkTaskRefs(pipelines, tasks));
        assert.throws(() => checkTaskRefs(pipelines, tasks.filter((t) => t !== "deploy-intercept-mirrord")),
            /^Error: Pipeline stack-pr-continue refers to Tasks that are not installed: deploy-intercept-mirrord;/);
    });

    it("installs one Task per file in tekton/tasks and one per Task built in code, in the pipelines namespace, with the common labels", async () => {
        const objs = await objects(KIND);
        const files = [...fs.readdirSync(path.join(TEKTON_DIR, "tasks")).map((f) => f.replace(/\.yaml$/, "")),
            ...builtTasks().map((b) => b.task.metadata.name)].sort();
        const tasks = ofKind(objs, "Task");
        assert.deepEqual(tasks.map((t) => t.metadata.name).sort(), files);
        for (const t of tasks) assert.equal(t.metadata.namespace, "tekton-dag");
    });

    it("gives every object the common labels and every namespaced object a namespace", async () => {
        const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);
        for (const obj of await objects(KIND)) {
            const where = `${obj.kind} ${obj.metadata.name}`;
            assert.equal(obj.metadata.labels?.["app.kubernetes.io/part-of"], "tekton-dag", where);
            assert.equal(obj.metadata.labels?.["app.kubernetes.io/managed-by"], "pulumi", where);
            assert.ok(obj.metadata.labels?.["app.kubernetes.io/component"], where);
            if (!clusterScoped.has(obj.kind)) assert.ok(obj.metadata.namespace, `${where} has a namespace`);
        }
    });

    describe("RBAC", () => {
        it("holds no wildcard, binds no cluster-admin and creates no ClusterRole", async () => {
            const objs = await objects(KIND);
            assert.deepEqual(ofKind(objs, "ClusterRole"), []);
            for (const role of ofKind(objs, "Role")) {
                assert.ok(role.rules.length > 0, `Role ${role.metadata.namespace}/${role.metadata.name} grants something`);
                for (const rule of role.rules) {
                    for (const field of ["apiGroups", "resources", "verbs", "resourceNames"]) {
                        for (const v of rule[field] ?? []) assert.ok(!v.includes("*"), `${role.metadata.name} ${field} ${v}`);
                    }
                }
            }
            for (const binding of [...ofKind(objs, "RoleBinding"), ...ofKind(objs, "ClusterRoleBinding")]) {
                assert.notEqual(binding.roleRef.name, "cluster-admin", binding.metadata.name);
                assert.notEqual(binding.roleRef.name, "admin", binding.metadata.name);
                assert.notEqual(binding.roleRef.name, "edit", binding.metadata.name);
            }
        });

        it("binds only ServiceAccounts the program creates, and roles in the namespaces they act in", async () => {
            const objs = await objects(KIND);
            const accounts = new Set(ofKind(objs, "ServiceAccount").map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
            for (const binding of ofKind(objs, "RoleBinding")) {
                for (const s of binding.subjects) assert.ok(accounts.has(`${s.namespace}/${s.name}`), `${binding.metadata.name} -> ${s.name}`);
            }
            const proxyRole = named(objs, "Role", "tekton-dag-mirrord-proxy");
            assert.equal(proxyRole.metadata.namespace, "staging");
            assert.ok(accounts.has("staging/tekton-dag-mirrord-proxy"));
            assert.ok(accounts.has("tekton-dag/tekton-dag-pipeline"));
        });

        it("gives the pipeline a Role in every target namespace", async () => {
            const objs = await objects({ stack: "kind", overrides: { targetNamespaces: "staging,staging-eu" } });
            const roles = ofKind(objs, "Role").filter((r) => r.metadata.name === "tekton-dag-pipeline");
            assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ["staging", "staging-eu"]);
        });

        it("binds the Telepresence client of every target namespace in the traffic manager's namespace", async () => {
            const objs = await objects({ stack: "kind", overrides: { targetNamespaces: "staging,staging-eu" } });
            const bindings = ofKind(objs, "RoleBinding").filter((b) => b.metadata.namespace === "ambassador");
            assert.equal(bindings.length, 1);
            assert.deepEqual(bindings[0].subjects.map((s: any) => `${s.namespace}/${s.name}`).sort(),
                ["staging-eu/tekton-dag-telepresence-client", "staging/tekton-dag-telepresence-client"]);
        });

        it("with installTelepresence=false, reads the existing traffic manager namespace before binding the client there in an update (a missing one fails naming it, not the Role after a minute of retries)", async () => {
            const reads = (all: any[]) => all.filter((r) => r.type === "kubernetes:core/v1:Namespace" && r.name.endsWith("-existing-namespace-ambassador"));
            const external = await rendered({ stack: "kind", overrides: { installTelepresence: "false" } });
            assert.equal(reads(external).length, 1, "no read of namespace ambassador");
            assert.equal(external.filter((r) => r.type === "kubernetes:core/v1:Namespace" && r.inputs?.metadata?.name === "ambassador").length, 0,
                "the program must not create (and on destroy delete) a namespace whose traffic manager it does not own");
            assert.equal(ofKind(external.filter((r) => r.inputs?.kind).map((r) => r.inputs), "Role")
                .filter((r) => r.metadata.namespace === "ambassador").length, 1, "the client still needs its Role there");
            // A preview reads nothing: it must work without a cluster (PR CI), where the provider refuses reads.
            assert.equal(reads(await rendered({ stack: "kind", overrides: { installTelepresence: "false" }, preview: true })).length, 0,
                "a preview reads namespace ambassador");
            // The program installs the manager: it creates the namespace, nothing to read.
            assert.equal(reads(await rendered(KIND)).length, 0);
            // A stack that only writes manifests has no cluster to read (the provider refuses reads there), so
            // the no-cluster render stack must not read either.
            assert.equal(reads(await rendered({ stack: "render" })).length, 0, "the render stack reads namespace ambassador");
        });

        it("lets pr-comment read only the configured token Secret, and no Secret when none is configured", async () => {
            const secretRules = (objs: any[]) => ofKind(objs, "Role").flatMap((r) => r.rules
                .filter((rule: any) => rule.resources.includes("secrets")).map((rule: any) => ({ ns: r.metadata.namespace, rule })));
            assert.deepEqual(secretRules(await objects(KIND)), []);
            const withToken = await objects({ stack: "kind", overrides: { githubTokenSecret: "gh-token" } });
            assert.deepEqual(secretRules(withToken), [{
                ns: "tekton-dag",
                rule: { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["gh-token"] },
            }]);
        });

        it("installs no intercept tooling when intercepts are disabled, and says so to every run", async () => {
            const all = await rendered({ stack: "kind", overrides: { enableIntercepts: "false" } });
            const objs = all.filter((r) => r.inputs?.kind).map((r) => r.inputs);
            assert.equal(objs.filter((o) => /mirrord-proxy|telepresence/.test(o.metadata.name)).length, 0);
            assert.equal(all.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart").length, 0);
            assert.deepEqual(all.filter((r) => r.type === "docker:index/image:Image").map((r) => r.inputs.imageName),
                ["localhost:5001/tekton-dag-build-mirrord:3.250.0"], "only the tools image every pipeline runs");
            assert.equal(ofKind(objs, "CronJob").length, 0);
            for (const name of PIPELINES) assert.equal(paramDefault(named(objs, "Pipeline", name), "intercepts-enabled"), "false");
        });
    });

    describe("task images", () => {
        it("builds and pushes both images when enabled, and the Tasks and Pipelines default to them by digest", async () => {
            const all = await rendered(KIND);
            const images = all.filter((r) => r.type === "docker:index/image:Image");
            assert.deepEqual(images.map((i) => i.inputs.imageName).sort(), [
                "localhost:5001/tekton-dag-build-mirrord:3.250.0",
                "localhost:5001/tekton-dag-build-telepresence:2.31.2",
            ]);
            const expected = `kind-registry:5000/tekton-dag-build-mirrord@${fakeDigest("localhost:5001/tekton-dag-build-mirrord:3.250.0")}`;
            const objs = await objects(KIND);
            const withParam = [...ofKind(objs, "Task"), ...ofKind(objs, "Pipeline")]
                .filter((o) => (o.spec.params ?? []).some((p: any) => p.name === "mirrord-image"));
            assert.ok(withParam.some((o) => o.metadata.name === "deploy-intercept-mirrord"));
            assert.ok(withParam.some((o) => o.metadata.name === "stack-pr-continue"));
            for (const o of withParam) assert.equal(paramDefault(o, "mirrord-image"), expected, `${o.kind} ${o.metadata.name}`);
            assert.equal(named(objs, "CronJob", "tekton-dag-orphan-sweeper").spec.jobTemplate.spec.template.spec.containers[0].image, expected);
        });

        it("builds nothing when disabled and uses the configured images", async () => {
            const mirrordImage = `registry.example/mirrord@sha256:${"b".repeat(64)}`;
            const all = await rendered({ stack: "kind", overrides: {
                buildImages: "false", mirrordImage, telepresenceImage: "registry.example/tp:2.31.2",
            } });
            assert.equal(all.filter((r) => r.type === "docker:index/image:Image").length, 0);
            const objs = all.filter((r) => r.inputs?.kind).map((r) => r.inputs);
            assert.equal(paramDefault(named(objs, "Task", "deploy-intercept-mirrord"), "mirrord-image"), mirrordImage);
            assert.equal(paramDefault(named(objs, "Pipeline", "stack-pr-test"), "telepresence-image"), "registry.example/tp:2.31.2");
        });

        it("refuses a tool version the Dockerfile does not pin, before building", async () => {
            await assert.rejects(renderStack({ stack: "kind", overrides: { mirrordVersion: "3.251.0" } }),
                /tekton-dag:mirrordVersion is "3.251.0" but images\/tekton-dag-build-mirrord\/Dockerfile pins MIRRORD_VERSION=3.250.0/);
        });
    });

    it("leaves no placeholder image behind in any configuration", async () => {
        for (const options of [KIND, KIND_MIRRORD, { stack: "render" }]) {
            const text = JSON.stringify(await objects(options));
            assert.ok(!text.includes("registry.invalid"), `${JSON.stringify(options)} still has a placeholder image`);
            assert.ok(!/set-by-program/.test(text), `${JSON.stringify(options)} still has a placeholder value`);
        }
        // With intercepts off only the Telepresence deploy task keeps its placeholder; check-intercept-backend
        // stops every run before it, and every task that does run has the tools image.
        const off = await objects({ stack: "kind", overrides: { enableIntercepts: "false" } });
        for (const obj of [...ofKind(off, "Task"), ...ofKind(off, "Pipeline")]) {
            const mirrord = paramDefault(obj, "mirrord-image");
            if (mirrord !== undefined) assert.doesNotMatch(String(mirrord), /registry\.invalid/, `${obj.kind} ${obj.metadata.name}`);
        }
    });

    it("fails on bad config with the config message before registering anything", async () => {
        await assert.rejects(renderStack({ stack: "kind", overrides: { interceptBackend: "mirord" } }),
            (err: Error) => err.message.includes('tekton-dag:interceptBackend must be one of telepresence, mirrord; got "mirord"'));
    });

    it("ships every script in one content-addressed ConfigMap that the Tasks mount", async () => {
        const objs = await objects(KIND);
        const scripts = ofKind(objs, "ConfigMap").filter((c) => c.metadata.name.startsWith("tekton-dag-scripts-"));
        assert.equal(scripts.length, 1);
        const files = fs.readdirSync(path.join(TEKTON_DIR, "scripts")).sort();
        assert.deepEqual(Object.keys(scripts[0].data).sort(), files);
        for (const task of ofKind(objs, "Task")) {
            for (const v of task.spec.volumes ?? []) {
                if (v.name !== "tekton-dag-scripts") continue;
                assert.equal(v.configMap.name, scripts[0].metadata.name, task.metadata.name);
                assert.equal(v.configMap.defaultMode, 0o555, `${task.metadata.name}: scripts are executable`);
            }
        }
    });

    it("installs Tekton from the pinned release manifests and the traffic manager once", async () => {
        const all = await rendered(KIND);
        const files = all.filter((r) => r.type === "kubernetes:yaml/v2:ConfigFile").map((r) => r.inputs.file).sort();
        assert.deepEqual(files, [
            "https://infra.tekton.dev/tekton-releases/pipeline/previous/v1.15.0/release.yaml",
            "https://infra.tekton.dev/tekton-releases/triggers/previous/v0.37.0/interceptors.yaml",
            "https://infra.tekton.dev/tekton-releases/triggers/previous/v0.37.0/release.yaml",
        ]);
        const charts = all.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
        assert.equal(charts.length, 1);
        assert.equal(charts[0].inputs.chart, "oci://ghcr.io/telepresenceio/telepresence-oss");
        assert.equal(charts[0].inputs.version, "2.31.2");
    });

    it("records the environment's config for the policy pack", async () => {
        const objs = await objects({ stack: "kind", overrides: { production: "true" } });
        const info = named(objs, "ConfigMap", "tekton-dag-install-info");
        assert.equal(info.data.production, "true");
        assert.equal(info.data.interceptBackend, "telepresence");
        assert.equal(info.data.targetNamespaces, "staging");
    });

    it("wires GitHub pull_request events to stack-pr-test with a per-run workspace volume", async () => {
        const objs = await objects(KIND);
        const listener = named(objs, "EventListener", "tekton-dag-github");
        const [github, cel] = listener.spec.triggers[0].interceptors;
        assert.deepEqual(github.params.find((p: any) => p.name === "eventTypes").value, ["pull_request"]);
        assert.match(cel.params[0].value, /body\.action in \['opened', 'synchronize', 'reopened'\]/);
        const run = named(objs, "TriggerTemplate", "stack-pr-test-template").spec.resourcetemplates[0];
        assert.equal(run.spec.pipelineRef.name, "stack-pr-test");
        // Which task runs as which ServiceAccount: test/program/identities.test.ts.
        assert.equal(run.spec.taskRunTemplate.serviceAccountName, "tekton-dag-pr-code");
        assert.ok(run.spec.workspaces[0].volumeClaimTemplate, "each run gets a fresh volume");
        assert.equal(run.spec.taskRunTemplate.podTemplate.securityContext.fsGroup, 65532, "non-root steps can write it");
    });
});
