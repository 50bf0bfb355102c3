/**
 * Each policy of the pack (policy/policies) called through its own validate function with engine-shaped
 * args: a passing input, a violating input and the exact message. Never constructs a PolicyPack (that
 * starts the policy gRPC server).
 */
import { strict as assert } from "node:assert";
import {
    admittedBackends, backendPolicy, effectiveLevel, imagesPolicy, isPinned, labelsPolicy, PolicyInput, policies,
    privilegePolicy, productionPolicy, rbacPolicy, runPolicies, scriptsPolicy, identityPolicy, CLUSTER_TASK_REFS,
} from "../../policy/policies";
import { CLUSTER_PIPELINE_TASKS } from "../../lib/identities";
import * as fx from "./fixtures";
import { task as taskFile } from "../pipelines/helpers";

const TASK = "kubernetes:tekton.dev/v1:Task";
const PIPELINE = "kubernetes:tekton.dev/v1:Pipeline";
const CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile";

function pipelineOf(stack: PolicyInput[], name = "stack-pr-test"): PolicyInput {
    return fx.find(stack, PIPELINE, name);
}

function tasksOf(p: PolicyInput): any[] {
    return p.props.spec.tasks;
}

describe("policy pack", () => {
    it("exports the eight policies with unique names and actionable descriptions", () => {
        assert.deepEqual(policies.map((p) => p.name), ["backend", "production", "rbac", "privilege", "images", "scripts", "labels", "identity"]);
        for (const p of policies) {
            assert.ok(p.description.length > 80, `${p.name}: description too short to act on`);
            assert.equal(p.enforcementLevel, "mandatory", p.name);
        }
    });

    it("the hand-written good stack passes every policy", async () => {
        assert.deepEqual(await runPolicies(policies, fx.goodStack()), []);
    });

    it("policy/config.kind.json lowers only images to advisory", () => {
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const kindConfig = require("../../policy/config.kind.json");
        for (const p of policies) {
            assert.equal(effectiveLevel(p.name, p.enforcementLevel, kindConfig), p.name === "images" ? "advisory" : "mandatory", p.name);
        }
    });
});

describe("policy: backend", () => {
    it("passes both pipelines of the good stack", async () => {
        assert.deepEqual(await fx.validateStack(backendPolicy, fx.goodStack()), []);
    });

    it("requires both pipelines", async () => {
        const stack = fx.goodStack().filter((r) => r.props?.metadata?.name !== "stack-pr-continue");
        assert.deepEqual(await fx.validateStack(backendPolicy, stack), [{
            message: "Pipeline stack-pr-continue is not registered; the stack must install both stack-pr-test and stack-pr-continue (tekton/pipelines/).",
            urn: undefined,
        }]);
    });

    it("rejects a missing or unknown intercept-backend default, naming the pipeline and field", async () => {
        const stack = fx.goodStack();
        pipelineOf(stack).props.spec.params[0].default = "kubectl";
        pipelineOf(stack, "stack-pr-continue").props.spec.params.splice(0, 1);
        const reports = await fx.validateStack(backendPolicy, stack);
        assert.deepEqual(reports.map((r) => r.message), [
            'Pipeline tekton-dag/stack-pr-test: spec.params[0].default of "intercept-backend" is "kubectl"; it must be one of telepresence, mirrord (stack config interceptBackend sets it).',
            'Pipeline tekton-dag/stack-pr-continue: spec.params has no "intercept-backend"; declare it with a default of telepresence or mirrord.',
        ]);
        assert.equal(reports[0].urn, pipelineOf(stack).urn);
    });

    it("rejects overlapping when guards", async () => {
        const stack = fx.goodStack();
        tasksOf(pipelineOf(stack))[2].when = [{ input: "$(params.intercept-backend)", operator: "notin", values: ["kubectl"] }];
        assert.deepEqual((await fx.validateStack(backendPolicy, stack)).map((r) => r.message), [
            "Pipeline tekton-dag/stack-pr-test: spec.tasks[1].when and spec.tasks[2].when both admit intercept-backend=telepresence; the deploy tasks' conditions must be disjoint so at most one runs.",
        ]);
    });

    it("rejects an unguarded or missing deploy task and a guard that never admits its backend", async () => {
        const stack = fx.goodStack();
        delete tasksOf(pipelineOf(stack))[1].when;
        tasksOf(pipelineOf(stack, "stack-pr-continue"))[2].when[0].values = ["telepresence"];
        assert.deepEqual((await fx.validateStack(backendPolicy, stack)).map((r) => r.message), [
            'Pipeline tekton-dag/stack-pr-test: spec.tasks[1].when of "deploy-intercepts-telepresence" does not test $(params.intercept-backend); guard it with {input: "$(params.intercept-backend)", operator: in, values: ["telepresence"]}.',
            'Pipeline tekton-dag/stack-pr-continue: spec.tasks[2].when of "deploy-intercepts-mirrord" never admits intercept-backend=mirrord; it must run exactly when the backend is mirrord.',
        ]);
        const missing = fx.goodStack();
        tasksOf(pipelineOf(missing)).splice(2, 1);
        assert.deepEqual((await fx.validateStack(backendPolicy, missing)).map((r) => r.message), [
            'Pipeline tekton-dag/stack-pr-test: spec.tasks has no task "deploy-intercepts-mirrord"; both deploy tasks (deploy-intercepts-telepresence, deploy-intercepts-mirrord) must be present, each guarded by a when on $(params.intercept-backend).',
        ]);
    });

    it("rejects a third guarded deploy task and a pass-through that is guarded or reads a deploy task's result", async () => {
        const stack = fx.goodStack();
        const tasks = tasksOf(pipelineOf(stack));
        tasks.push({ name: "deploy-intercepts-kubectl", taskRef: { name: "x" }, when: [{ input: "$(params.intercept-backend)", operator: "in", values: ["kubectl"] }] });
        tasks[3].when = [{ input: "$(params.intercept-backend)", operator: "in", values: ["telepresence", "mirrord"] }];
        tasks[4].params[0].value = "$(tasks.deploy-intercepts-mirrord.results.deployed-pods)";
        assert.deepEqual((await fx.validateStack(backendPolicy, stack)).map((r) => r.message), [
            'Pipeline tekton-dag/stack-pr-test: spec.tasks[5] ("deploy-intercepts-kubectl") is an extra intercept-deploy task or is guarded by $(params.intercept-backend); only deploy-intercepts-telepresence and deploy-intercepts-mirrord may be, and downstream tasks read deploy-intercepts-result.',
            'Pipeline tekton-dag/stack-pr-test: spec.tasks[3].when of "deploy-intercepts-result" must be empty; the pass-through has to run whichever backend deployed.',
            "Pipeline tekton-dag/stack-pr-test: spec.tasks[4].params[0].value references $(tasks.deploy-intercepts-mirrord.results.deployed-pods); one deploy task is always skipped, so a consumer of its result is skipped too — read deploy-intercepts-result's results instead.",
        ]);
    });

    it("rejects a finally task that reads a task result", async () => {
        const stack = fx.goodStack();
        pipelineOf(stack).props.spec.finally[0].params.push({ name: "pods", value: "$(tasks.deploy-intercepts-result.results.deployed-pods)" });
        assert.deepEqual((await fx.validateStack(backendPolicy, stack)).map((r) => r.message), [
            "Pipeline tekton-dag/stack-pr-test: spec.finally[0].params[1].value references $(tasks.deploy-intercepts-result.results.deployed-pods); a finally task whose result reference cannot be resolved is skipped silently — find the data by run label or in the run's workspace directory instead.",
        ]);
    });

    it("reads in/notin and simple CEL guards", () => {
        assert.deepEqual([...admittedBackends([{ input: "$(params.intercept-backend)", operator: "in", values: ["mirrord"] }]).values!], ["mirrord"]);
        assert.deepEqual([...admittedBackends([{ input: "$(params.intercept-backend)", operator: "notin", values: ["mirrord"] }]).values!],
            ["telepresence", "<any other value>"]);
        assert.deepEqual([...admittedBackends([{ cel: "'$(params.intercept-backend)' == 'telepresence'" }]).values!], ["telepresence"]);
        assert.equal(admittedBackends([{ input: "$(params.other)", operator: "in", values: ["x"] }]).values, undefined);
        assert.match(admittedBackends([{ cel: "'$(params.intercept-backend)'.startsWith('m')" }]).problem!, /cannot be analysed/);
    });
});

describe("policy: production", () => {
    it("does nothing when install-info says production=false (intercept tooling allowed)", async () => {
        assert.deepEqual(await fx.validateStack(productionPolicy, fx.goodStack()), []);
    });

    it("passes a production stack without intercept tooling", async () => {
        const stack = fx.goodStack()
            .filter((r) => !/mirrord/.test(r.props?.metadata?.name ?? r.name) && !r.type.includes("helm.sh"))
            .map((r) => (r.props?.metadata?.name === "tekton-dag-install-info" ? fx.installInfo({ production: "true" }) : r));
        assert.deepEqual(await fx.validateStack(productionPolicy, stack), []);
    });

    it("rejects intercept tooling, privilege and a mirrord default in a production stack", async () => {
        const stack = fx.goodStack().map((r) =>
            r.props?.metadata?.name === "tekton-dag-install-info" ? fx.installInfo({ production: "true", interceptBackend: "mirrord" }) : r);
        pipelineOf(stack).props.spec.params[0].default = "mirrord";
        fx.find(stack, TASK, "deploy-intercept-mirrord").props.spec.steps[0].securityContext = { capabilities: { add: ["NET_ADMIN"] } };
        const reports = await fx.validateStack(productionPolicy, stack);
        const fix = "production stacks may not install intercept tooling — set tekton-dag:enableIntercepts false (and installTelepresence false) for this stack";
        assert.deepEqual(reports.map((r) => r.message), [
            'ConfigMap tekton-dag/tekton-dag-install-info: data.interceptBackend is "mirrord"; a production stack may not default to mirrord — set tekton-dag:interceptBackend to telepresence.',
            'Pipeline tekton-dag/stack-pr-test: spec.params[0].default of "intercept-backend" is "mirrord"; a production stack may not default to mirrord — set tekton-dag:interceptBackend to telepresence.',
            "Task tekton-dag/deploy-intercept-mirrord: spec.steps[0].securityContext.capabilities.add[0] sets capability NET_ADMIN; a production stack runs nothing privileged (no privileged, hostPID/hostNetwork/hostIPC or added capabilities).",
            `ServiceAccount staging/tekton-dag-mirrord-proxy: metadata.name — mirrord proxy RBAC is intercept tooling; ${fix}.`,
            `Role staging/tekton-dag-mirrord-proxy: metadata.name — mirrord proxy RBAC is intercept tooling; ${fix}.`,
            `Chart telepresence-traffic-manager: chart — the Telepresence traffic manager is intercept tooling; ${fix}.`,
        ]);
        assert.equal(reports[1].urn, pipelineOf(stack).urn);
    });

    it("flags traffic-manager objects of the chart (as children in a real preview)", async () => {
        const deployment = fx.k8s("kubernetes:apps/v1:Deployment", {
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "traffic-manager", namespace: "ambassador" }, spec: {},
        }, "ambassador/traffic-manager", ["kubernetes:helm.sh/v4:Chart"]);
        const reports = await fx.validateStack(productionPolicy, [fx.installInfo({ production: "true" }), deployment]);
        assert.deepEqual(reports.map((r) => r.message), [
            "Deployment ambassador/traffic-manager: metadata.name — the Telepresence traffic manager is intercept tooling; production stacks may not install intercept tooling — set tekton-dag:enableIntercepts false (and installTelepresence false) for this stack.",
        ]);
    });

    it("fails closed when install-info is missing", async () => {
        const stack = fx.goodStack().filter((r) => r.props?.metadata?.name !== "tekton-dag-install-info");
        assert.deepEqual((await fx.validateStack(productionPolicy, stack)).map((r) => r.message), [
            "ConfigMap tekton-dag-install-info is not registered; the Production policy reads data.production from it — the program must register it in the pipelines namespace.",
        ]);
    });
});

describe("policy: rbac", () => {
    it("passes namespaced Roles with explicit rules", async () => {
        assert.deepEqual(await fx.validateResources(rbacPolicy, fx.goodStack()), []);
    });

    it("rejects wildcards, naming rule and field", async () => {
        const role = fx.rbac()[1];
        role.props.rules.push({ apiGroups: ["*"], resources: ["pods/*"], verbs: ["get", "*"] });
        assert.deepEqual(await fx.validateResource(rbacPolicy, role), [
            'Role staging/tekton-dag-pipeline: rules[1].verbs[1] is "*"; wildcards are not allowed — list the exact verbs the task needs.',
            'Role staging/tekton-dag-pipeline: rules[1].resources[0] is "pods/*"; wildcards are not allowed — list the exact resources the task needs.',
            'Role staging/tekton-dag-pipeline: rules[1].apiGroups[0] is "*"; wildcards are not allowed — list the exact apiGroups the task needs.',
        ]);
    });

    it("rejects every ClusterRole and ClusterRoleBinding the program creates, and any cluster-admin binding", async () => {
        const clusterRole = fx.k8s(CLUSTER_ROLE, {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "tekton-dag-pods", labels: fx.labels("rbac") },
            rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
        });
        const binding = fx.k8s(CLUSTER_ROLE_BINDING, {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "tekton-dag-admin", labels: fx.labels("rbac") },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
            subjects: [{ kind: "ServiceAccount", name: "tekton-dag-pipeline", namespace: "tekton-dag" }],
        });
        const fix = "grant the rules with a Role and RoleBinding in each target namespace (tekton/rbac/*.yaml, roleNamespaces: target)";
        assert.deepEqual(await fx.validateResource(rbacPolicy, clusterRole), [
            `ClusterRole tekton-dag-pods: kind is ClusterRole; the program may not create ClusterRoles — ${fix}.`,
        ]);
        assert.deepEqual(await fx.validateResource(rbacPolicy, binding), [
            `ClusterRoleBinding tekton-dag-admin: roleRef.name is "cluster-admin"; never bind cluster-admin — ${fix}.`,
            `ClusterRoleBinding tekton-dag-admin: kind is ClusterRoleBinding to "cluster-admin"; the program may not grant cluster-wide access — ${fix} (only tekton-triggers-eventlistener-clusterroles may be bound cluster-wide: it grants reads of cluster-scoped objects).`,
        ]);
        // The EventListener's read access to cluster-scoped interceptors (Tekton Triggers' documented RBAC) is allowed ...
        const listener = fx.clone(binding);
        listener.props.roleRef.name = "tekton-triggers-eventlistener-clusterroles";
        assert.deepEqual(await fx.validateResource(rbacPolicy, listener), []);
        // ... unless the policy config narrows the list.
        assert.equal((await fx.validateResource(rbacPolicy, listener, { rbac: { allowedClusterRoleBindings: [] } })).length, 1);
        const roleBinding = fx.rbac()[2];
        roleBinding.props.roleRef = { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" };
        assert.deepEqual(await fx.validateResource(rbacPolicy, roleBinding), [
            `RoleBinding staging/tekton-dag-pipeline: roleRef.name is "cluster-admin"; never bind cluster-admin — ${fix}.`,
        ]);
    });

    it("leaves ClusterRoles of the Tekton release (ConfigFile children) alone, but not cluster-admin bindings", async () => {
        const vendoredRole = fx.k8s(CLUSTER_ROLE, {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "tekton-pipelines-controller-cluster-access" },
            rules: [{ apiGroups: ["tekton.dev"], resources: ["tasks"], verbs: ["get"] }],
        }, "tekton-pipelines-controller-cluster-access", [CONFIG_FILE]);
        assert.deepEqual(await fx.validateResource(rbacPolicy, vendoredRole), []);
        const vendoredBinding = fx.k8s(ROLE_BINDING, {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "x", namespace: "tekton-pipelines" },
            roleRef: { kind: "ClusterRole", name: "cluster-admin" },
        }, "x", [CONFIG_FILE]);
        assert.equal((await fx.validateResource(rbacPolicy, vendoredBinding)).length, 1);
    });
});

describe("policy: privilege", () => {
    function mirrordAgentPod(namespace: string): PolicyInput {
        return fx.k8s("kubernetes:core/v1:Pod", {
            apiVersion: "v1", kind: "Pod", metadata: { name: "mirrord-probe", namespace, labels: fx.labels("mirrord") },
            spec: { hostPID: true, containers: [{ name: "agent", image: "ghcr.io/metalbear-co/mirrord:3.250.0",
                securityContext: { capabilities: { add: ["NET_ADMIN", "SYS_PTRACE"] } } }] },
        }, `mirrord-probe-${namespace}`);
    }

    it("allows hostPID and intercept capabilities in a target namespace", async () => {
        assert.deepEqual(await fx.validateStack(privilegePolicy, [...fx.goodStack(), mirrordAgentPod("staging")]), []);
    });

    it("rejects them outside the target namespaces (install-info targetNamespaces)", async () => {
        const reports = await fx.validateStack(privilegePolicy, [...fx.goodStack(), mirrordAgentPod("tekton-dag")]);
        assert.deepEqual(reports.map((r) => r.message), [
            "Pod tekton-dag/mirrord-probe: spec.hostPID sets hostPID: true outside the target namespaces (staging); only intercept pods in a target namespace may have it.",
            "Pod tekton-dag/mirrord-probe: spec.containers[0].securityContext.capabilities.add[0] sets capability NET_ADMIN outside the target namespaces (staging); only intercept pods in a target namespace may have it.",
            "Pod tekton-dag/mirrord-probe: spec.containers[0].securityContext.capabilities.add[1] sets capability SYS_PTRACE outside the target namespaces (staging); only intercept pods in a target namespace may have it.",
        ]);
        assert.equal(reports[0].urn, fx.urn("kubernetes:core/v1:Pod", "mirrord-probe-tekton-dag"));
    });

    it("rejects privileged, hostNetwork and other capabilities everywhere (Task steps, CronJobs)", async () => {
        const stack = fx.goodStack();
        fx.find(stack, TASK, "deploy-intercept-mirrord").props.spec.steps[1].securityContext = { privileged: true };
        const pod = fx.find(stack, "kubernetes:batch/v1:CronJob", "tekton-dag-orphan-sweeper").props.spec.jobTemplate.spec.template.spec;
        pod.hostNetwork = true;
        pod.containers[0].securityContext = { capabilities: { add: ["SYS_MODULE"] } };
        const allowed = "remove it (allowed only: hostPID and capabilities NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE in target namespaces)";
        assert.deepEqual((await fx.validateStack(privilegePolicy, stack)).map((r) => r.message), [
            `Task tekton-dag/deploy-intercept-mirrord: spec.steps[1].securityContext.privileged sets privileged: true; intercepts never need it — ${allowed}.`,
            `CronJob tekton-dag/tekton-dag-orphan-sweeper: spec.jobTemplate.spec.template.spec.hostNetwork sets hostNetwork: true; intercepts never need it — ${allowed}.`,
            `CronJob tekton-dag/tekton-dag-orphan-sweeper: spec.jobTemplate.spec.template.spec.containers[0].securityContext.capabilities.add[0] sets capability SYS_MODULE; intercepts never need it — ${allowed}.`,
        ]);
    });
});

describe("policy: images", () => {
    it("accepts digests, non-latest tags and $(params.x) with a pinned default", async () => {
        assert.deepEqual(await fx.validateResources(imagesPolicy, fx.goodStack()), []);
        assert.equal(isPinned("localhost:5001/app:1.0"), true);
        assert.equal(isPinned("localhost:5001/app"), false);
        assert.equal(isPinned("app:latest"), false);
        for (const tag of ["LATEST", "Latest"]) assert.equal(isPinned(`app:${tag}`), false, `any case of latest: ${tag}`);
        assert.equal(isPinned("app@sha256:" + "0".repeat(64)), true);
    });

    it("rejects unpinned step, pod-template and build images, naming the field", async () => {
        const t = fx.task();
        t.props.spec.params[0].default = "ghcr.io/metalbear-co/mirrord-cli:latest";
        t.props.spec.steps[1].image = "alpine";
        t.props.spec.sidecars = [{ name: "socat", image: "$(params.app)" }];
        assert.deepEqual(await fx.validateResource(imagesPolicy, t), [
            'Task tekton-dag/deploy-intercept-mirrord: spec.steps[0].image "$(params.mirrord-image)" defaults to "ghcr.io/metalbear-co/mirrord-cli:latest", which is not pinned; pin it with a digest (@sha256:...) or a tag other than latest in the param default.',
            'Task tekton-dag/deploy-intercept-mirrord: spec.steps[1].image "alpine" is not pinned; pin it with a digest (@sha256:...) or a tag other than latest.',
            'Task tekton-dag/deploy-intercept-mirrord: spec.sidecars[0].image "$(params.app)" cannot be checked: param "app" has no string default; use a literal image or $(params.x) whose default is pinned.',
        ]);
        const cron = fx.cronJob();
        cron.props.spec.jobTemplate.spec.template.spec.containers[0].image = "bitnami/kubectl:latest";
        assert.deepEqual(await fx.validateResource(imagesPolicy, cron), [
            'CronJob tekton-dag/tekton-dag-orphan-sweeper: spec.jobTemplate.spec.template.spec.containers[0].image "bitnami/kubectl:latest" is not pinned; pin it with a digest (@sha256:...) or a tag other than latest.',
        ]);
        assert.deepEqual(await fx.validateResource(imagesPolicy, fx.dockerImage("localhost:5001/tekton-dag-mirrord")), [
            'docker Image mirrord-image: imageName "localhost:5001/tekton-dag-mirrord" is not pinned; pin it with a digest (@sha256:...) or a tag other than latest.',
        ]);
    });

    it("is mandatory by default and advisory under policy/config.kind.json", async () => {
        const stack = [...fx.goodStack(), fx.dockerImage("localhost:5001/x:latest")];
        const strict = await runPolicies(policies, stack);
        assert.deepEqual(strict.map((f) => [f.policy, f.enforcementLevel]), [["images", "mandatory"]]);
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const kind = await runPolicies(policies, stack, require("../../policy/config.kind.json"));
        assert.deepEqual(kind.map((f) => [f.policy, f.enforcementLevel]), [["images", "advisory"]]);
    });
});

describe("policy: scripts", () => {
    it("passes params that reach the script through env", async () => {
        assert.deepEqual(await fx.validateResources(scriptsPolicy, fx.goodStack()), []);
    });

    it("rejects $(params.) and $(tasks.) in script, args and command, also in embedded taskSpecs", async () => {
        const t = fx.task();
        t.props.spec.steps[1].script = "#!/bin/sh\necho $(params.app)\n";
        t.props.spec.steps[0].args = ["--run", "$(tasks.resolve-stack.results.stack-json)"];
        assert.deepEqual(await fx.validateResource(scriptsPolicy, t), [
            'Task tekton-dag/deploy-intercept-mirrord: spec.steps[0].args[1] contains "$(tasks.resolve-stack.results.stack-json)"; Tekton pastes it into the command text (script injection) — pass it through env (env: [{name: VALUE, value: "$(tasks.resolve-stack.results.stack-json)"}]) and read "$VALUE" in the script.',
            'Task tekton-dag/deploy-intercept-mirrord: spec.steps[1].script contains "$(params.app)"; Tekton pastes it into the command text (script injection) — pass it through env (env: [{name: VALUE, value: "$(params.app)"}]) and read "$VALUE" in the script.',
        ]);
        const p = fx.pipeline("stack-pr-test");
        p.props.spec.finally[1] = { name: "pr-comment", taskSpec: { steps: [{ name: "c", image: "alpine:3.22", script: "echo $(params.run-id)" }] } };
        assert.deepEqual(await fx.validateResource(scriptsPolicy, p), [
            'Pipeline tekton-dag/stack-pr-test: spec.finally[1].taskSpec.steps[0].script contains "$(params.run-id)"; Tekton pastes it into the command text (script injection) — pass it through env (env: [{name: VALUE, value: "$(params.run-id)"}]) and read "$VALUE" in the script.',
        ]);
    });
});

describe("policy: labels", () => {
    it("passes objects with the three common labels; ignores components, the docker image and ConfigFile children", async () => {
        assert.deepEqual(await fx.validateResources(labelsPolicy, fx.goodStack()), []);
        const child = fx.k8s("kubernetes:core/v1:Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: "tekton-pipelines" } },
            "tekton-pipelines", [CONFIG_FILE]);
        assert.deepEqual(await fx.validateResource(labelsPolicy, child), []);
    });

    it("rejects a missing or wrong common label, naming the label", async () => {
        const role = fx.rbac()[1];
        role.props.metadata.labels = { "app.kubernetes.io/part-of": "tekton-dag", "app.kubernetes.io/managed-by": "helm" };
        assert.deepEqual(await fx.validateResource(labelsPolicy, role), [
            'Role staging/tekton-dag-pipeline: metadata.labels["app.kubernetes.io/managed-by"] is "helm"; it must be "pulumi" (lib/labels.ts commonLabels).',
            'Role staging/tekton-dag-pipeline: metadata.labels["app.kubernetes.io/component"] is missing; set it to the object\'s component (lib/labels.ts commonLabels).',
        ]);
        const sa = fx.rbac()[0];
        delete sa.props.metadata.labels;
        assert.deepEqual(await fx.validateResource(labelsPolicy, sa), [
            'ServiceAccount tekton-dag/tekton-dag-pipeline: metadata.labels["app.kubernetes.io/part-of"] is missing; set it to "tekton-dag" (lib/labels.ts commonLabels).',
            'ServiceAccount tekton-dag/tekton-dag-pipeline: metadata.labels["app.kubernetes.io/managed-by"] is missing; set it to "pulumi" (lib/labels.ts commonLabels).',
            'ServiceAccount tekton-dag/tekton-dag-pipeline: metadata.labels["app.kubernetes.io/component"] is missing; set it to the object\'s component (lib/labels.ts commonLabels).',
        ]);
    });
});


describe("policy: identity", () => {
    const TT = "kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate";
    const runOf = (stack: PolicyInput[]) => fx.find(stack, TT, "stack-pr-test-template").props.spec.resourcetemplates[0];
    const WHO = "TriggerTemplate tekton-dag/stack-pr-test-template: spec.resourcetemplates[0]";
    // The cluster Tasks as the policy names them (its list is held to lib/identities.ts below).
    const TASKS = CLUSTER_TASK_REFS.join(", ");
    const FIX = `make tekton-dag-pr-code (no binding, automountServiceAccountToken: false) the default and give tekton-dag-pipeline only to the tasks running ${TASKS} through spec.taskRunSpecs`;
    const ONLY = `only tasks running ${TASKS} may hold cluster credentials — PR code must never (lib/identities.ts).`;

    it("passes a template that is unprivileged by default and privileged only for the cluster tasks", async () => {
        assert.deepEqual(await fx.validateStack(identityPolicy, fx.goodStack()), []);
    });

    describe("registry credentials never reach the step that runs the PR's Dockerfile", () => {
        const containerize = () => ({ ...taskFile("containerize"), metadata: { name: "containerize" } });
        const stackWith = (t: any) => [...fx.goodStack(), fx.k8s(TASK, t)];
        const MSG = (where: string) => new RegExp(`^Task containerize: spec\\.${where} .* runs the PR's Dockerfile and receives the docker-config workspace`);

        it("passes the shipped containerize Task (docker-config isolated to the crane push step)", async () => {
            assert.deepEqual(await fx.validateStack(identityPolicy, stackWith(containerize())), []);
        });

        it("rejects a Task that mounts docker-config into every step (no step lists it: the old Task)", async () => {
            const t = containerize();
            for (const s of t.spec.steps) delete s.workspaces;
            const messages = (await fx.validateStack(identityPolicy, stackWith(t))).map((r) => r.message);
            assert.equal(messages.length, 1, messages.join("\n"));
            assert.match(messages[0], MSG("steps\\[0\\]"));
        });

        it("rejects the Kaniko step listing docker-config, and a Kaniko sidecar given it", async () => {
            const t = containerize();
            t.spec.steps[0].workspaces = [{ name: "docker-config" }];
            t.spec.sidecars = [{ name: "cache", image: "gcr.io/kaniko-project/warmer:v1.23.2", workspaces: [{ name: "docker-config" }] }];
            const messages = (await fx.validateStack(identityPolicy, stackWith(t))).map((r) => r.message);
            assert.equal(messages.length, 2, messages.join("\n"));
            assert.match(messages[0], MSG("steps\\[0\\]"));
            assert.match(messages[1], MSG("sidecars\\[0\\]"));
        });
    });

    it("rejects the pipeline ServiceAccount as every task's default (the old TriggerTemplate)", async () => {
        const stack = fx.goodStack();
        const run = runOf(stack);
        run.spec.taskRunTemplate.serviceAccountName = "tekton-dag-pipeline";
        delete run.spec.taskRunSpecs;
        const reports = await fx.validateStack(identityPolicy, stack);
        assert.deepEqual(reports.map((r) => r.message), [
            `${WHO}.spec.taskRunTemplate.serviceAccountName is "tekton-dag-pipeline", which RoleBinding staging/tekton-dag-pipeline binds; every task not named in taskRunSpecs, PR-code tasks included, would run with it — ${FIX}.`,
        ]);
        assert.equal(reports[0].urn, fx.find(stack, TT, "stack-pr-test-template").urn);
    });

    it("rejects handing the pipeline ServiceAccount to a PR-code task, naming the Task it runs", async () => {
        const stack = fx.goodStack();
        const p = fx.find(stack, PIPELINE, "stack-pr-test");
        p.props.spec.tasks.push({ name: "compile-npm", taskRef: { name: "compile-npm" } });
        runOf(stack).spec.taskRunSpecs.push({ pipelineTaskName: "compile-npm", serviceAccountName: "tekton-dag-pipeline" });
        // Renaming a pipeline task does not help: the check follows the Task it runs.
        p.props.spec.tasks.push({ name: "deploy-intercepts-extra", taskRef: { name: "containerize" } });
        runOf(stack).spec.taskRunSpecs.push({ pipelineTaskName: "deploy-intercepts-extra", serviceAccountName: "tekton-dag-pipeline" });
        assert.deepEqual((await fx.validateStack(identityPolicy, stack)).map((r) => r.message), [
            `${WHO}.spec.taskRunSpecs[4] gives pipeline task "compile-npm" (Task compile-npm) the ServiceAccount "tekton-dag-pipeline", which RoleBinding staging/tekton-dag-pipeline binds; ${ONLY}`,
            `${WHO}.spec.taskRunSpecs[5] gives pipeline task "deploy-intercepts-extra" (Task containerize) the ServiceAccount "tekton-dag-pipeline", which RoleBinding staging/tekton-dag-pipeline binds; ${ONLY}`,
        ]);
    });

    it("rejects running PR-code tasks without an explicit unprivileged ServiceAccount", async () => {
        const unset = fx.goodStack();
        delete runOf(unset).spec.taskRunTemplate.serviceAccountName;
        assert.deepEqual((await fx.validateStack(identityPolicy, unset)).map((r) => r.message), [
            `${WHO}.spec.taskRunTemplate.serviceAccountName is not set; every task not named in taskRunSpecs, PR-code tasks included, would run as the namespace's default ServiceAccount — ${FIX}.`,
        ]);
        const mounted = fx.goodStack();
        delete fx.find(mounted, "kubernetes:core/v1:ServiceAccount", "tekton-dag-pr-code").props.automountServiceAccountToken;
        assert.deepEqual((await fx.validateStack(identityPolicy, mounted)).map((r) => r.message), [
            `${WHO}.spec.taskRunTemplate.serviceAccountName is "tekton-dag-pr-code", which the stack does not create in tekton-dag with automountServiceAccountToken: false; every task not named in taskRunSpecs, PR-code tasks included, would run with it — ${FIX}.`,
        ]);
    });

    it("rejects a pod template that switches the token on, for every task or for one", async () => {
        const stack = fx.goodStack();
        runOf(stack).spec.taskRunTemplate.podTemplate.automountServiceAccountToken = true;
        runOf(stack).spec.taskRunSpecs.push({ pipelineTaskName: "compile-npm", podTemplate: { automountServiceAccountToken: true } });
        // false (or unset) leaves the ServiceAccount's own setting in force.
        runOf(stack).spec.taskRunSpecs.push({ pipelineTaskName: "containerize", podTemplate: { automountServiceAccountToken: false } });
        const MOUNTS = `mounts a ServiceAccount token into the pod whatever the ServiceAccount says; leave automountServiceAccountToken unset (the ServiceAccount decides) — ${FIX}.`;
        assert.deepEqual((await fx.validateStack(identityPolicy, stack)).map((r) => r.message), [
            `${WHO}.spec.taskRunTemplate.podTemplate.automountServiceAccountToken is true, which for every task not named in taskRunSpecs, PR-code tasks included, ${MOUNTS}`,
            `${WHO}.spec.taskRunSpecs[4].podTemplate.automountServiceAccountToken is true, which for pipeline task "compile-npm" ${MOUNTS}`,
        ]);
    });

    it("treats a ServiceAccount as privileged once any binding names it, or a group of all ServiceAccounts", async () => {
        const stack = fx.goodStack();
        stack.push(fx.k8s(ROLE_BINDING, {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
            metadata: { name: "viewers", namespace: "staging", labels: fx.labels("rbac") },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
            subjects: [{ kind: "Group", name: "system:serviceaccounts:tekton-dag" }],
        }));
        assert.deepEqual((await fx.validateStack(identityPolicy, stack)).map((r) => r.message), [
            `${WHO}.spec.taskRunTemplate.serviceAccountName is "tekton-dag-pr-code", which RoleBinding staging/viewers binds; every task not named in taskRunSpecs, PR-code tasks included, would run with it — ${FIX}.`,
        ]);
    });

    it("lists the same cluster tasks as the program (lib/identities.ts)", () => {
        const refs = Object.values(CLUSTER_PIPELINE_TASKS).map((why) => /\(([a-z-]+)\)$/.exec(why)?.[1]);
        // The descriptions name the Task where the pipeline task's name differs from it.
        const tasks = Object.keys(CLUSTER_PIPELINE_TASKS).map((name, i) => refs[i] ?? name);
        assert.deepEqual([...new Set(tasks)].sort(), [...CLUSTER_TASK_REFS].sort());
    });
});
