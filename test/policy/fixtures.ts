/**
 * Hand-written inputs for the policy tests: a small stack shaped like the program's (docs/conventions.md)
 * that passes every policy, and helpers to call a policy's own validate function with engine-shaped args.
 */
import {
    PolicyInput, PolicyPackConfig, ResourceValidationPolicy, StackValidationPolicy, resourceValidationArgs,
    stackValidationArgs,
} from "../../policy/policies";

export const PIPELINES_NS = "tekton-dag";
export const TARGET_NS = "staging";
const PIN = "@sha256:" + "a".repeat(64);

export function labels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "tekton-dag",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
    };
}

export function urn(type: string, name: string, parents: string[] = []): string {
    return `urn:pulumi:kind::tekton-dag::${[...parents, type].join("$")}::${name}`;
}

export function k8s(type: string, props: any, name = props.metadata.name, parents: string[] = []): PolicyInput {
    return { type, name, urn: urn(type, name, parents), props };
}

export function installInfo(data: Record<string, string> = {}): PolicyInput {
    return k8s("kubernetes:core/v1:ConfigMap", {
        apiVersion: "v1", kind: "ConfigMap",
        metadata: { name: "tekton-dag-install-info", namespace: PIPELINES_NS, labels: labels("install-info") },
        data: { production: "false", interceptBackend: "telepresence", installTelepresence: "true", environment: "kind", targetNamespaces: TARGET_NS, ...data },
    });
}

export function pipeline(name: string, backendDefault = "telepresence"): PolicyInput {
    return k8s("kubernetes:tekton.dev/v1:Pipeline", {
        apiVersion: "tekton.dev/v1", kind: "Pipeline",
        metadata: { name, namespace: PIPELINES_NS, labels: labels("pipelines") },
        spec: {
            params: [
                { name: "intercept-backend", type: "string", default: backendDefault },
                { name: "run-id", type: "string" },
            ],
            workspaces: [{ name: "shared-workspace" }],
            tasks: [
                { name: "check-intercept-backend", taskRef: { name: "check-intercept-backend" },
                    params: [{ name: "intercept-backend", value: "$(params.intercept-backend)" }] },
                { name: "deploy-intercepts-telepresence", taskRef: { name: "deploy-stack-intercepts" }, runAfter: ["check-intercept-backend"],
                    when: [{ input: "$(params.intercept-backend)", operator: "in", values: ["telepresence"] }] },
                { name: "deploy-intercepts-mirrord", taskRef: { name: "deploy-intercept-mirrord" }, runAfter: ["check-intercept-backend"],
                    when: [{ input: "$(params.intercept-backend)", operator: "in", values: ["mirrord"] }] },
                { name: "deploy-intercepts-result", taskRef: { name: "deploy-intercepts-result" },
                    runAfter: ["deploy-intercepts-telepresence", "deploy-intercepts-mirrord"],
                    params: [{ name: "run-id", value: "$(params.run-id)" }] },
                { name: "run-tests", taskRef: { name: "run-tests" },
                    params: [{ name: "deployed-pods", value: "$(tasks.deploy-intercepts-result.results.deployed-pods)" }] },
            ],
            finally: [
                { name: "cleanup-intercepts", taskRef: { name: "cleanup-stack-intercepts" }, params: [{ name: "run-id", value: "$(params.run-id)" }] },
                { name: "pr-comment", taskRef: { name: "pr-comment" }, params: [{ name: "status", value: "$(tasks.status)" }] },
            ],
        },
    });
}

export function task(): PolicyInput {
    return k8s("kubernetes:tekton.dev/v1:Task", {
        apiVersion: "tekton.dev/v1", kind: "Task",
        metadata: { name: "deploy-intercept-mirrord", namespace: PIPELINES_NS, labels: labels("tasks") },
        spec: {
            params: [
                { name: "mirrord-image", type: "string", default: "localhost:5001/tekton-dag-mirrord:3.250.0" },
                { name: "app", type: "string" },
            ],
            stepTemplate: { env: [{ name: "APP", value: "$(params.app)" }] },
            steps: [
                { name: "deploy", image: "$(params.mirrord-image)", command: ["/tekton-dag/scripts/deploy-intercept-mirrord.sh"],
                    env: [{ name: "APP", value: "$(params.app)" }] },
                { name: "report", image: "docker.io/library/alpine:3.22" + PIN, script: "#!/bin/sh\nset -eu\necho \"$APP\"\n" },
            ],
        },
    });
}

export function rbac(): PolicyInput[] {
    return [
        k8s("kubernetes:core/v1:ServiceAccount", {
            apiVersion: "v1", kind: "ServiceAccount",
            metadata: { name: "tekton-dag-pipeline", namespace: PIPELINES_NS, labels: labels("rbac") },
        }),
        k8s("kubernetes:rbac.authorization.k8s.io/v1:Role", {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
            metadata: { name: "tekton-dag-pipeline", namespace: TARGET_NS, labels: labels("rbac") },
            rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] }],
        }, "tekton-dag-pipeline-staging"),
        k8s("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding",
            metadata: { name: "tekton-dag-pipeline", namespace: TARGET_NS, labels: labels("rbac") },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "tekton-dag-pipeline" },
            subjects: [{ kind: "ServiceAccount", name: "tekton-dag-pipeline", namespace: PIPELINES_NS }],
        }, "tekton-dag-pipeline-staging-binding"),
    ];
}

/** The ServiceAccount PR-code tasks run as: no binding names it, no token. */
export function prCodeAccount(): PolicyInput {
    return k8s("kubernetes:core/v1:ServiceAccount", {
        apiVersion: "v1", kind: "ServiceAccount", automountServiceAccountToken: false,
        metadata: { name: "tekton-dag-pr-code", namespace: PIPELINES_NS, labels: labels("rbac") },
    });
}

/** The webhook's TriggerTemplate: unprivileged by default, the pipeline's account for the cluster tasks. */
export function triggerTemplate(): PolicyInput {
    return k8s("kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate", {
        apiVersion: "triggers.tekton.dev/v1beta1", kind: "TriggerTemplate",
        metadata: { name: "stack-pr-test-template", namespace: PIPELINES_NS, labels: labels("triggers") },
        spec: {
            params: [{ name: "pr-number" }],
            resourcetemplates: [{
                apiVersion: "tekton.dev/v1", kind: "PipelineRun",
                metadata: { generateName: "stack-pr-test-" },
                spec: {
                    pipelineRef: { name: "stack-pr-test" },
                    taskRunTemplate: { serviceAccountName: "tekton-dag-pr-code", podTemplate: { securityContext: { fsGroup: 65532 } } },
                    taskRunSpecs: ["deploy-intercepts-telepresence", "deploy-intercepts-mirrord", "cleanup-intercepts", "pr-comment"]
                        .map((pipelineTaskName) => ({ pipelineTaskName, serviceAccountName: "tekton-dag-pipeline" })),
                    params: [{ name: "run-id", value: "$(tt.params.pr-number)" }],
                    workspaces: [{ name: "shared-workspace", volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"] } } }],
                },
            }],
        },
    });
}

export function mirrordRbac(): PolicyInput[] {
    return [
        k8s("kubernetes:core/v1:ServiceAccount", {
            apiVersion: "v1", kind: "ServiceAccount",
            metadata: { name: "tekton-dag-mirrord-proxy", namespace: TARGET_NS, labels: labels("mirrord") },
        }, "mirrord-proxy-sa-staging"),
        k8s("kubernetes:rbac.authorization.k8s.io/v1:Role", {
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
            metadata: { name: "tekton-dag-mirrord-proxy", namespace: TARGET_NS, labels: labels("mirrord") },
            rules: [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["create"] }],
        }, "mirrord-proxy-role-staging"),
    ];
}

export function cronJob(): PolicyInput {
    return k8s("kubernetes:batch/v1:CronJob", {
        apiVersion: "batch/v1", kind: "CronJob",
        metadata: { name: "tekton-dag-orphan-sweeper", namespace: PIPELINES_NS, labels: labels("orphan-sweeper") },
        spec: {
            schedule: "*/15 * * * *",
            jobTemplate: { spec: { template: { spec: {
                serviceAccountName: "tekton-dag-pipeline", restartPolicy: "Never",
                containers: [{ name: "sweep", image: "docker.io/bitnami/kubectl:1.34.1", command: ["/tekton-dag/scripts/sweep-orphans.sh"] }],
            } } } },
        },
    });
}

export function dockerImage(imageName = "localhost:5001/tekton-dag-mirrord:3.250.0"): PolicyInput {
    const type = "docker:index/image:Image";
    return { type, name: "mirrord-image", urn: urn(type, "mirrord-image"), props: { imageName, build: { context: "images/mirrord", dockerfile: "images/mirrord/Dockerfile", platform: "linux/amd64" } } };
}

export function telepresenceChart(): PolicyInput {
    const type = "kubernetes:helm.sh/v4:Chart";
    return { type, name: "telepresence-traffic-manager", urn: urn(type, "telepresence-traffic-manager"),
        props: { chart: "oci://ghcr.io/telepresenceio/telepresence-oss", version: "2.25.1", namespace: "ambassador" } };
}

export function tektonRelease(): PolicyInput {
    const type = "kubernetes:yaml/v2:ConfigFile";
    return { type, name: "tekton-pipelines", urn: urn(type, "tekton-pipelines"), props: { files: ["https://infra.tekton.dev/tekton-releases/pipeline/previous/v1.15.0/release.yaml"] } };
}

/** A stack that passes every policy (as the kind stack should). */
export function goodStack(): PolicyInput[] {
    return [
        k8s("kubernetes:core/v1:Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: PIPELINES_NS, labels: labels("namespace") } }),
        installInfo(),
        pipeline("stack-pr-test"),
        pipeline("stack-pr-continue"),
        task(),
        ...rbac(),
        prCodeAccount(),
        triggerTemplate(),
        ...mirrordRbac(),
        cronJob(),
        dockerImage(),
        telepresenceChart(),
        tektonRelease(),
    ];
}

export function clone<T>(value: T): T {
    return structuredClone(value);
}

/** Calls a resource policy's validate function(s) on one resource; returns the reported messages. */
export async function validateResource(policy: ResourceValidationPolicy, resource: PolicyInput, config: PolicyPackConfig = {}): Promise<string[]> {
    const messages: string[] = [];
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource!];
    for (const validate of validations) {
        await validate(resourceValidationArgs(resource, policy, config), (message) => messages.push(message));
    }
    return messages;
}

/** Calls a resource policy on every resource of a stack. */
export async function validateResources(policy: ResourceValidationPolicy, resources: PolicyInput[]): Promise<string[]> {
    const messages: string[] = [];
    for (const r of resources) messages.push(...(await validateResource(policy, r)));
    return messages;
}

/** Calls a stack policy's validateStack; returns `{ message, urn }` of every report. */
export async function validateStack(policy: StackValidationPolicy, resources: PolicyInput[]): Promise<Array<{ message: string; urn?: string }>> {
    const reports: Array<{ message: string; urn?: string }> = [];
    await policy.validateStack(stackValidationArgs(resources, policy), (message, u) => reports.push({ message, urn: u }));
    return reports;
}

export function find(resources: PolicyInput[], type: string, name: string): PolicyInput {
    const r = resources.find((x) => x.type === type && (x.props?.metadata?.name === name || x.name === name));
    if (!r) throw new Error(`fixture has no ${type} ${name}`);
    return r;
}
