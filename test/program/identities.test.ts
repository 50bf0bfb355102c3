/**
 * Two identities per run (issue 12, defect 1): PR code never runs with cluster credentials.
 *
 * Over the program's rendered objects: which ServiceAccount each pipeline task of a webhook run gets, that
 * the PR-code ServiceAccount is bound by nothing and mounts no token (what `kubectl auth can-i` would
 * answer "no" to, short of a real API server), that the cluster list matches the tasks whose scripts call
 * kubectl, and which pull_request events the trigger's CEL filter lets through (evaluated, not matched).
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import { CLUSTER_PIPELINE_TASKS, PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT } from "../../lib/identities";
import { okToTestFilter, pullRequestFilter } from "../../components/tektonTriggers";
import { named, objects, ofKind } from "../support/render";
import { SCRIPTS } from "../support/repo";

const KIND = { stack: "kind" };
const CLUSTER_TASKS = Object.keys(CLUSTER_PIPELINE_TASKS);

/** Tasks that run the PR's own content: its checkout, build scripts, Dockerfile, collections, or hooks after them. */
const PR_CODE_TASKS = [
    "clone-app", "hook-pre-build", "compile-npm", "compile-maven", "compile-gradle", "compile-pip", "compile-composer",
    "containerize", "hook-post-build", "hook-pre-test", "run-stack-tests", "hook-post-test",
];

function pipelineTasks(pipeline: any): any[] {
    return [...(pipeline.spec.tasks ?? []), ...(pipeline.spec.finally ?? [])];
}

/** The ServiceAccount Tekton gives a pipeline task of this run (PipelineRun.GetTaskRunSpec in v1). */
function effectiveAccount(run: any, pipelineTask: string): string | undefined {
    const spec = (run.spec.taskRunSpecs ?? []).find((s: any) => s.pipelineTaskName === pipelineTask);
    return spec?.serviceAccountName || run.spec.taskRunTemplate?.serviceAccountName;
}

function webhookRun(objs: any[]): any {
    return named(objs, "TriggerTemplate", "stack-pr-test-template").spec.resourcetemplates[0];
}

/** Functions of a sourced library whose body reaches kubectl, directly or through another such function. */
function kubectlFunctions(lib: string): Set<string> {
    const bodies = new Map<string, string>();
    for (const m of lib.matchAll(/^([a-z_][a-z0-9_]*)\(\) \{\n([\s\S]*?)^\}/gm)) bodies.set(m[1], m[2]);
    const found = new Set<string>();
    for (let changed = true; changed;) {
        changed = false;
        for (const [name, body] of bodies) {
            if (found.has(name)) continue;
            if (/\bkubectl\b/.test(body) || [...found].some((f) => new RegExp(`\\b${f}\\b`).test(body))) {
                found.add(name);
                changed = true;
            }
        }
    }
    return found;
}

/** Whether a shipped script talks to the API server (kubectl, or a function of a sourced lib-*.sh that does). */
function scriptUsesApi(file: string, libFunctions: Set<string>): boolean {
    const text = fs.readFileSync(path.join(SCRIPTS, file), "utf8")
        .split("\n").filter((l) => !/^\s*#/.test(l)).join("\n")
        .replace(/\b(die|warn|log)\s+"[^"]*"/g, ""); // kubectl named inside a message is not a call
    return /\bkubectl\b/.test(text) || [...libFunctions].some((f) => new RegExp(`\\b${f}\\b`).test(text));
}

/**
 * `kubectl auth can-i --as system:serviceaccount:NS:NAME VERB RESOURCE -n TARGET` over rendered objects: the
 * RBAC authorizer's rule matching for the Roles and bindings the program creates. A binding to a role the
 * program does not render (an upstream ClusterRole) cannot be judged, so it counts as allowing everything.
 */
function canI(objs: any[], account: { name: string; namespace: string }, verb: string, group: string, resource: string, namespace: string): boolean {
    const subjectMatches = (s: any) =>
        (s.kind === "ServiceAccount" && s.name === account.name && s.namespace === account.namespace) ||
        (s.kind === "Group" && ["system:authenticated", "system:serviceaccounts", `system:serviceaccounts:${account.namespace}`].includes(s.name));
    const ruleAllows = (r: any) => (r.verbs.includes(verb) || r.verbs.includes("*")) &&
        (r.apiGroups.includes(group) || r.apiGroups.includes("*")) &&
        (r.resources.includes(resource) || r.resources.includes("*")) && !r.resourceNames;
    const roleAllows = (kind: string, name: string, ns?: string) => {
        const role = objs.find((o) => o.kind === kind && o.metadata.name === name && (kind === "ClusterRole" || o.metadata.namespace === ns));
        return role ? (role.rules ?? []).some(ruleAllows) : true;
    };
    return objs.some((b) => (b.kind === "RoleBinding" && b.metadata.namespace === namespace || b.kind === "ClusterRoleBinding") &&
        (b.subjects ?? []).some(subjectMatches) && roleAllows(b.roleRef.kind, b.roleRef.name, b.metadata.namespace));
}

/** What a PR author could do from a task with the token of its ServiceAccount, in the staging namespace. */
const ATTACKS: Array<[string, string, string]> = [
    ["delete", "", "pods"], ["create", "", "pods"], ["list", "", "secrets"], ["get", "", "secrets"],
    ["create", "batch", "jobs"], ["create", "", "configmaps"], ["delete", "coordination.k8s.io", "leases"],
    ["get", "apps", "deployments"], ["patch", "apps", "deployments"], ["create", "", "pods/exec"],
];

describe("two identities per run", () => {
    it("kubectl auth can-i, over the rendered RBAC: the identity the PR-code tasks get can do nothing; the deploy task's can", async () => {
        const objs = await objects(KIND);
        const run = webhookRun(objs);
        const ns = named(objs, "TriggerTemplate", "stack-pr-test-template").metadata.namespace;
        for (const task of PR_CODE_TASKS) {
            const account = { name: effectiveAccount(run, task)!, namespace: ns };
            for (const [verb, group, resource] of ATTACKS) {
                for (const target of ["staging", ns]) {
                    assert.equal(canI(objs, account, verb, group, resource, target), false,
                        `${task} runs as ${account.name}, which can ${verb} ${resource} in ${target}`);
                }
            }
            const sa = objs.find((o) => o.kind === "ServiceAccount" && o.metadata.name === account.name && o.metadata.namespace === ns);
            assert.equal(sa?.automountServiceAccountToken, false, `${task}: ${account.name} mounts no token`);
        }
        // The same check says yes where the program grants something, so its "no" above means something.
        const deployer = { name: effectiveAccount(run, "deploy-intercepts-mirrord")!, namespace: ns };
        assert.equal(canI(objs, deployer, "create", "", "pods", "staging"), true);
        assert.equal(canI(objs, deployer, "get", "", "secrets", "staging"), false);
    });

    it("the webhook run's default identity is the PR-code ServiceAccount; only the cluster tasks get the pipeline's", async () => {
        const objs = await objects(KIND);
        const run = webhookRun(objs);
        assert.equal(run.spec.taskRunTemplate.serviceAccountName, PR_CODE_SERVICE_ACCOUNT);
        assert.equal(run.spec.taskRunTemplate.podTemplate.securityContext.fsGroup, 65532, "the pod template still applies to every task");
        const pipeline = named(objs, "Pipeline", run.spec.pipelineRef.name);
        for (const task of pipelineTasks(pipeline)) {
            const expected = CLUSTER_TASKS.includes(task.name) ? PIPELINE_SERVICE_ACCOUNT : PR_CODE_SERVICE_ACCOUNT;
            assert.equal(effectiveAccount(run, task.name), expected, `${task.name} runs as ${expected}`);
        }
        for (const name of PR_CODE_TASKS) {
            assert.ok(pipelineTasks(pipeline).some((t) => t.name === name), `stack-pr-test has ${name}`);
            assert.equal(effectiveAccount(run, name), PR_CODE_SERVICE_ACCOUNT, `${name} runs PR code`);
        }
    });

    it("every taskRunSpecs entry names a task of both pipelines (Tekton fails a run whose taskRunSpecs name an unknown task)", async () => {
        const objs = await objects(KIND);
        for (const pipelineName of ["stack-pr-test", "stack-pr-continue"]) {
            const names = pipelineTasks(named(objs, "Pipeline", pipelineName)).map((t) => t.name);
            for (const spec of webhookRun(objs).spec.taskRunSpecs) {
                assert.ok(names.includes(spec.pipelineTaskName), `${pipelineName} has no task ${spec.pipelineTaskName}`);
            }
        }
    });

    it("the cluster tasks are exactly the pipeline tasks whose scripts talk to the API server", async () => {
        const objs = await objects(KIND);
        // The sourced libraries (lib-intercept.sh sources one file per concern; lib-github.sh reads the token
        // Secret): their functions call each other, so they are read as one.
        const libs = fs.readdirSync(SCRIPTS).filter((f) => /^lib-.*\.sh$/.test(f)).sort();
        const libFunctions = kubectlFunctions(libs.map((f) => fs.readFileSync(path.join(SCRIPTS, f), "utf8")).join("\n"));
        assert.ok(libFunctions.has("acquire_lease") && libFunctions.has("delete_run_objects") && libFunctions.has("deploy_pr_pod"), [...libFunctions].join(" "));
        const tasks = new Map(ofKind(objs, "Task").map((t) => [t.metadata.name, t]));
        const usesApi = new Set<string>();
        for (const pipelineName of ["stack-pr-test", "stack-pr-continue"]) {
            for (const pt of pipelineTasks(named(objs, "Pipeline", pipelineName))) {
                const task = tasks.get(pt.taskRef.name);
                assert.ok(task, pt.taskRef.name);
                const scripts = (task.spec.steps as any[]).flatMap((s) => (s.command ?? []) as string[])
                    .filter((c) => c.startsWith("/tekton-dag/scripts/")).map((c) => path.basename(c));
                if (scripts.some((s) => scriptUsesApi(s, libFunctions))) usesApi.add(pt.name);
            }
        }
        assert.deepEqual([...usesApi].sort(), [...CLUSTER_TASKS].sort());
    });

    for (const [label, overrides] of [
        ["kind", {}],
        ["mirrord, two target namespaces, PR comments", { interceptBackend: "mirrord", targetNamespaces: "staging,staging-eu", githubTokenSecret: "gh-token" }],
        ["intercepts disabled", { enableIntercepts: "false" }],
    ] as const) {
        it(`${label}: the PR-code ServiceAccount can do nothing (no binding names it, no token mounted)`, async () => {
            const objs = await objects({ stack: "kind", overrides });
            const account = named(objs, "ServiceAccount", PR_CODE_SERVICE_ACCOUNT);
            assert.equal(account.metadata.namespace, "tekton-dag");
            assert.equal(account.automountServiceAccountToken, false);
            assert.equal(account.secrets, undefined, "no Secrets (Tekton would hand their credentials to the steps)");
            assert.equal(account.imagePullSecrets, undefined);
            const bindings = [...ofKind(objs, "RoleBinding"), ...ofKind(objs, "ClusterRoleBinding")];
            assert.ok(bindings.length > 0);
            for (const b of bindings) {
                for (const s of b.subjects ?? []) {
                    assert.ok(!(s.kind === "ServiceAccount" && s.name === PR_CODE_SERVICE_ACCOUNT),
                        `${b.kind} ${b.metadata.name} binds ${PR_CODE_SERVICE_ACCOUNT}`);
                    assert.ok(!(s.kind === "Group" && /^system:serviceaccounts/.test(s.name)), `${b.kind} ${b.metadata.name} binds ${s.name}`);
                }
            }
        });
    }

    it("binds prImagePushSecret as the docker-config workspace, and no registry Secret when it is empty", async () => {
        assert.deepEqual(webhookRun(await objects(KIND)).spec.workspaces.map((w: any) => w.name), ["shared-workspace"]);
        const run = webhookRun(await objects({ stack: "kind", overrides: { prImagePushSecret: "registry-push" } }));
        assert.deepEqual(run.spec.workspaces[1], {
            name: "docker-config", secret: { secretName: "registry-push", items: [{ key: ".dockerconfigjson", path: "config.json" }] },
        });
    });

    it("the rendered objects hand docker-config to containerize only, and there to its crane push step only", async () => {
        const objs = await objects({ stack: "kind", overrides: { prImagePushSecret: "registry-push" } });
        for (const p of ofKind(objs, "Pipeline")) {
            const users = [...(p.spec.tasks ?? []), ...(p.spec.finally ?? [])]
                .filter((t: any) => (t.workspaces ?? []).some((w: any) => w.workspace === "docker-config"));
            assert.deepEqual(users.map((t: any) => t.taskRef?.name), p.metadata.name === "stack-pr-test" ? ["containerize"] : [], p.metadata.name);
        }
        const tasks = ofKind(objs, "Task").filter((t: any) => (t.spec.workspaces ?? []).some((w: any) => w.name === "docker-config"));
        assert.deepEqual(tasks.map((t: any) => t.metadata.name), ["containerize"]);
        const steps = tasks[0].spec.steps;
        const receive = steps.filter((s: any) => (s.workspaces ?? []).some((w: any) => w.name === "docker-config"));
        // Listed by one step, Tekton mounts it into that step alone (isolated workspaces).
        assert.deepEqual(receive.map((s: any) => s.name), ["push"]);
        assert.doesNotMatch(receive[0].image, /kaniko/);
        assert.equal(receive[0].script, undefined, "the push step runs the fixed script from the read-only ConfigMap");
        assert.equal(tasks[0].spec.sidecars, undefined);
    });
});

describe("pull requests from forks", () => {
    // Which deliveries run is decided by Tekton Triggers' own interceptors in test/triggers/deliveries.test.ts.
    it("the rendered filters are the ones configured", async () => {
        const objs = await objects({ stack: "kind", overrides: { trustedForkRepos: "alice/demo-fe", forkApprovalComment: "true" } });
        const triggers = named(objs, "EventListener", "tekton-dag-github").spec.triggers;
        const filter = (trigger: string) => triggers.find((t: any) => t.name === trigger).interceptors[1].params[0].value;
        assert.equal(filter("github-pull-request"), pullRequestFilter(["alice/demo-fe"]));
        assert.equal(filter("github-ok-to-test"), okToTestFilter());
    });

    it("refuses values that would break out of a CEL string", () => {
        assert.throws(() => pullRequestFilter(["a/b' || true || '"]), /cannot put .* into a CEL filter/);
    });
});
