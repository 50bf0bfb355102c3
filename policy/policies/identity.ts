import type { StackValidationPolicy } from "@pulumi/policy";
import { asArray, describe, metadataName, namespaceOf, PolicyInput, TYPES, Violation } from "./common";

/** The ServiceAccount every task runs as unless it is one of the cluster tasks (program: lib/identities.ts). */
export const PR_CODE_SERVICE_ACCOUNT = "tekton-dag-pr-code";
export const PIPELINE_SERVICE_ACCOUNT = "tekton-dag-pipeline";

/**
 * Tasks (by the Task they run, so renaming a pipeline task changes nothing) that must talk to the API
 * server and run no PR code. Every other task of a PR run executes, or runs after and beside, the pull
 * request's own content: its clone, build scripts, Dockerfile, test collections, hooks.
 */
export const CLUSTER_TASK_REFS = [
    "deploy-stack-intercepts", "deploy-intercept-mirrord", "validate-stack-propagation", "validate-original-traffic",
    "cleanup-stack-intercepts", "pr-comment", "commit-status",
] as const;

const PIPELINE_RUN_TYPES = ["kubernetes:tekton.dev/v1:PipelineRun", "kubernetes:tekton.dev/v1beta1:PipelineRun"];
/** Group subjects that every ServiceAccount of a namespace belongs to. */
const EVERY_ACCOUNT_GROUPS = (ns: string) => ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"];

interface Stack {
    bindings: PolicyInput[];
    accounts: PolicyInput[];
    pipelines: PolicyInput[];
}

/** Bindings of the stack that grant something to ServiceAccount ns/name (directly or through its groups). */
function bindingsOf(stack: Stack, name: string, ns: string): string[] {
    return stack.bindings.filter((b) => asArray(b.props?.subjects).some((s) =>
        (s?.kind === "ServiceAccount" && s.name === name && (s.namespace ?? namespaceOf(b)) === ns) ||
        (s?.kind === "Group" && EVERY_ACCOUNT_GROUPS(ns).includes(s.name))))
        .map(describe);
}

/** Why ServiceAccount ns/name is not fit for PR code, or undefined when it is. */
function privilege(stack: Stack, name: string, ns: string): string | undefined {
    const bound = bindingsOf(stack, name, ns);
    if (bound.length > 0 || name === PIPELINE_SERVICE_ACCOUNT) {
        return `"${name}", which ${bound.length > 0 ? bound.join(", ") : "the pipeline RBAC"} bind${bound.length === 1 ? "s" : ""}`;
    }
    const account = stack.accounts.find((a) => metadataName(a) === name && namespaceOf(a) === ns);
    if (!account || account.props?.automountServiceAccountToken !== false) {
        return `"${name}", which the stack does not create in ${ns} with automountServiceAccountToken: false`;
    }
    return undefined;
}

/** The tasks (and finally tasks) of the run's Pipeline, or undefined when the stack does not hold it. */
function pipelineTasks(stack: Stack, run: any, ns: string): any[] | undefined {
    const spec = run?.spec?.pipelineSpec ?? stack.pipelines.find((p) =>
        metadataName(p) === run?.spec?.pipelineRef?.name && (namespaceOf(p) ?? ns) === ns)?.props?.spec;
    return spec ? [...asArray(spec.tasks), ...asArray(spec.finally)] : undefined;
}

/** Checks one PipelineRun (a TriggerTemplate's resource template or a PipelineRun of the stack). */
export function checkRunIdentity(stack: Stack, run: any, ns: string, where: string): string[] {
    const problems: string[] = [];
    if (run?.apiVersion !== "tekton.dev/v1") {
        return [`${where} is ${JSON.stringify(run?.apiVersion)}; write PipelineRuns as tekton.dev/v1 (spec.taskRunTemplate, spec.taskRunSpecs) so their identities can be checked.`];
    }
    const fix = `make ${PR_CODE_SERVICE_ACCOUNT} (no binding, automountServiceAccountToken: false) the default and give ${PIPELINE_SERVICE_ACCOUNT} only to the tasks running ${CLUSTER_TASK_REFS.join(", ")} through spec.taskRunSpecs`;
    const fallback = run.spec?.taskRunTemplate?.serviceAccountName;
    if (typeof fallback !== "string" || fallback === "") {
        problems.push(`${where}.spec.taskRunTemplate.serviceAccountName is not set; every task not named in taskRunSpecs, PR-code tasks included, would run as the namespace's default ServiceAccount — ${fix}.`);
    } else {
        const why = privilege(stack, fallback, ns);
        if (why) problems.push(`${where}.spec.taskRunTemplate.serviceAccountName is ${why}; every task not named in taskRunSpecs, PR-code tasks included, would run with it — ${fix}.`);
    }
    // Tekton merges the pod template into every TaskRun's pod, and a pod's automountServiceAccountToken
    // overrides its ServiceAccount's: true there mounts a token the account itself refuses.
    const mounts = `mounts a ServiceAccount token into the pod whatever the ServiceAccount says; leave automountServiceAccountToken unset (the ServiceAccount decides) — ${fix}.`;
    if (run.spec?.taskRunTemplate?.podTemplate?.automountServiceAccountToken === true) {
        problems.push(`${where}.spec.taskRunTemplate.podTemplate.automountServiceAccountToken is true, which for every task not named in taskRunSpecs, PR-code tasks included, ${mounts}`);
    }
    asArray(run.spec?.taskRunSpecs).forEach((spec, j) => {
        if (spec?.podTemplate?.automountServiceAccountToken === true) {
            problems.push(`${where}.spec.taskRunSpecs[${j}].podTemplate.automountServiceAccountToken is true, which for pipeline task "${spec.pipelineTaskName}" ${mounts}`);
        }
    });
    const tasks = pipelineTasks(stack, run, ns);
    asArray(run.spec?.taskRunSpecs).forEach((spec, j) => {
        const account = spec?.serviceAccountName;
        if (typeof account !== "string" || account === "") return;
        const why = privilege(stack, account, ns);
        if (!why) return;
        if (!tasks) {
            problems.push(`${where}.spec.taskRunSpecs[${j}] gives "${spec.pipelineTaskName}" the ServiceAccount ${why}, but Pipeline ${JSON.stringify(run.spec?.pipelineRef?.name)} is not in the stack; what that task runs cannot be checked.`);
            return;
        }
        const task = tasks.find((t) => t?.name === spec.pipelineTaskName);
        const ref = task?.taskRef?.name;
        if (!(CLUSTER_TASK_REFS as readonly string[]).includes(ref)) {
            problems.push(`${where}.spec.taskRunSpecs[${j}] gives pipeline task "${spec.pipelineTaskName}" (${task ? (ref ? `Task ${ref}` : "an inline taskSpec") : "not in the Pipeline"}) the ServiceAccount ${why}; only tasks running ${CLUSTER_TASK_REFS.join(", ")} may hold cluster credentials — PR code must never (lib/identities.ts).`);
        }
    });
    return problems;
}

/** The workspace that carries registry push credentials (prImagePushSecret) into the Task that pushes. */
export const REGISTRY_CREDENTIAL_WORKSPACE = "docker-config";

/**
 * A Task's steps and sidecars that would receive workspace `name`: those that list it under their own
 * `workspaces` (Tekton's isolated workspaces), or all of them when none does.
 */
function receivers(spec: any, name: string): { kind: string; c: any; i: number }[] {
    const all = [
        ...asArray(spec?.steps).map((c, i) => ({ kind: "steps", c, i })),
        ...asArray(spec?.sidecars).map((c, i) => ({ kind: "sidecars", c, i })),
    ];
    const isolated = all.filter(({ c }) => asArray(c?.workspaces).some((w) => w?.name === name));
    return isolated.length > 0 ? isolated : all.filter(({ kind }) => kind === "steps");
}

/** A container that runs the PR's image build: Kaniko executes the Dockerfile's RUN lines in it. */
const RUNS_PR_BUILD = (c: any) => /kaniko/i.test(`${c?.image ?? ""} ${asArray(c?.command).join(" ")}`);

/** Registry credentials never reach the container that runs the PR's Dockerfile. */
export function checkRegistryCredential(r: PolicyInput): string[] {
    const spec = r.props?.spec;
    if (!asArray(spec?.workspaces).some((w) => w?.name === REGISTRY_CREDENTIAL_WORKSPACE)) return [];
    return receivers(spec, REGISTRY_CREDENTIAL_WORKSPACE).filter(({ c }) => RUNS_PR_BUILD(c)).map(({ kind, c, i }) =>
        `${describe(r)}: spec.${kind}[${i}] (${JSON.stringify(c?.name)}, image ${JSON.stringify(c?.image)}) runs the PR's Dockerfile and receives ` +
        `the ${REGISTRY_CREDENTIAL_WORKSPACE} workspace, so PR code can read the registry credentials; build with --no-push --tar-path and ` +
        `list ${REGISTRY_CREDENTIAL_WORKSPACE} under the workspaces of the push step only (docs/conventions.md, "Registry credentials").`);
}

/** Identity policy over the whole stack: every PipelineRun template and PipelineRun. */
export function checkIdentity(resources: PolicyInput[]): Violation[] {
    const stack: Stack = {
        bindings: resources.filter((r) => r.type === TYPES.roleBinding || r.type === TYPES.clusterRoleBinding),
        accounts: resources.filter((r) => r.type === TYPES.serviceAccount),
        pipelines: resources.filter((r) => r.type === TYPES.pipeline),
    };
    const violations: Violation[] = [];
    for (const r of resources) {
        const ns = namespaceOf(r) ?? "default";
        if (r.type === TYPES.triggerTemplate) {
            asArray(r.props?.spec?.resourcetemplates).forEach((t, i) => {
                if (t?.kind !== "PipelineRun") return;
                const runNs = t.metadata?.namespace ?? ns;
                for (const message of checkRunIdentity(stack, t, runNs, `${describe(r)}: spec.resourcetemplates[${i}]`)) violations.push({ message, urn: r.urn });
            });
        } else if (PIPELINE_RUN_TYPES.includes(r.type)) {
            for (const message of checkRunIdentity(stack, r.props, ns, describe(r))) violations.push({ message, urn: r.urn });
        } else if (r.type === TYPES.task) {
            for (const message of checkRegistryCredential(r)) violations.push({ message, urn: r.urn });
        }
    }
    return violations;
}

export const identityPolicy: StackValidationPolicy = {
    name: "identity",
    description:
        "PR code never holds cluster credentials: every PipelineRun the stack creates or templates (TriggerTemplates) runs by default " +
        `as a ServiceAccount that no RoleBinding or ClusterRoleBinding names and that mounts no token (${PR_CODE_SERVICE_ACCOUNT}), ` +
        `and its taskRunSpecs give a bound ServiceAccount (${PIPELINE_SERVICE_ACCOUNT}) only to tasks running ${CLUSTER_TASK_REFS.join(", ")}; ` +
        "no pod template sets automountServiceAccountToken: true, which would override the ServiceAccount's false. " +
        `No step or sidecar that runs the PR's Dockerfile (Kaniko) receives the ${REGISTRY_CREDENTIAL_WORKSPACE} workspace. ` +
        "Fix lib/identities.ts, components/tektonTriggers.ts or the Task as the message says.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const v of checkIdentity(args.resources as PolicyInput[])) reportViolation(v.message, v.urn);
    },
};
