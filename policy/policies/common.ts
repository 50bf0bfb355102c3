/**
 * Shared vocabulary of the policies: resource types, how a resource is named in a message, where the
 * containers and pod specs of an object are, and what the install-info ConfigMap says.
 *
 * Everything here is pure: it reads plain `{ type, name, urn, props }` values, so tests and the mock renderer
 * can feed it without the policy runtime.
 */

/** A resource as the policies see it: `props` is the Kubernetes object (or the docker Image inputs). */
export interface PolicyInput {
    type: string;
    name: string;
    urn?: string;
    props: Record<string, any>;
}

/** A violation of a stack policy; `urn` names the offending resource when there is one. */
export interface Violation {
    message: string;
    urn?: string;
}

export const TYPES = {
    task: "kubernetes:tekton.dev/v1:Task",
    pipeline: "kubernetes:tekton.dev/v1:Pipeline",
    triggerTemplate: "kubernetes:triggers.tekton.dev/v1beta1:TriggerTemplate",
    serviceAccount: "kubernetes:core/v1:ServiceAccount",
    configMap: "kubernetes:core/v1:ConfigMap",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
    clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    cronJob: "kubernetes:batch/v1:CronJob",
    dockerImage: "docker:index/image:Image",
} as const;

/**
 * Kubernetes provider types that are components or Helm releases, not Kubernetes objects: they carry no
 * `metadata`, and what they install (upstream manifests, charts) is registered as their children.
 */
export const KUBERNETES_COMPONENT_TYPES = new Set([
    "kubernetes:yaml/v2:ConfigFile",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:yaml:ConfigFile",
    "kubernetes:yaml:ConfigGroup",
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:helm.sh/v3:Chart",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v2:Chart",
    "kubernetes:kustomize:Directory",
    "kubernetes:kustomize/v2:Directory",
]);

export const HELM_TYPES = new Set([
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:helm.sh/v3:Chart",
    "kubernetes:helm.sh/v3:Release",
    "kubernetes:helm.sh/v2:Chart",
]);

export const COMMON_LABELS = {
    partOf: "app.kubernetes.io/part-of",
    managedBy: "app.kubernetes.io/managed-by",
    component: "app.kubernetes.io/component",
} as const;

/** The ConfigMap the program writes its stack config into (policies cannot read stack config). */
export const INSTALL_INFO_NAME = "tekton-dag-install-info";
export const MIRRORD_PROXY_NAME = "tekton-dag-mirrord-proxy";
export const PIPELINE_NAMES = ["stack-pr-test", "stack-pr-continue"] as const;
export const BACKENDS = ["telepresence", "mirrord"] as const;

/** True for a Kubernetes object (has apiVersion/kind/metadata), false for providers and components. */
export function isKubernetesObject(type: string): boolean {
    return type.startsWith("kubernetes:") && !KUBERNETES_COMPONENT_TYPES.has(type);
}

/** The types of the resource's ancestors, read from its URN (`parent$parent$type`). */
export function ancestorTypes(urn: string | undefined): string[] {
    if (!urn) return [];
    const parts = urn.split("::");
    if (parts.length < 4) return [];
    const chain = parts[2].split("$");
    return chain.slice(0, -1);
}

/**
 * True when the resource is a child of an upstream manifest or chart (Tekton release YAML, the Telepresence
 * chart): the program does not author it, so authoring rules (labels, no ClusterRoles, pinned images) do
 * not apply to it.
 */
export function isVendored(resource: PolicyInput): boolean {
    return ancestorTypes(resource.urn).some((t) => KUBERNETES_COMPONENT_TYPES.has(t));
}

export function kindOf(resource: PolicyInput): string {
    const kind = resource.props?.kind;
    if (typeof kind === "string" && kind) return kind;
    const last = resource.type.split(":").pop() ?? resource.type;
    return last;
}

/** `Kind namespace/name` (or `Kind name` when cluster-scoped) — how every message names a resource. */
export function describe(resource: PolicyInput): string {
    if (resource.type === TYPES.dockerImage) return `docker Image ${resource.name}`;
    const meta = resource.props?.metadata ?? {};
    const name = typeof meta.name === "string" && meta.name ? meta.name : resource.name;
    const ns = typeof meta.namespace === "string" && meta.namespace ? meta.namespace : undefined;
    return ns ? `${kindOf(resource)} ${ns}/${name}` : `${kindOf(resource)} ${name}`;
}

export function metadataName(resource: PolicyInput): string {
    const name = resource.props?.metadata?.name;
    return typeof name === "string" && name ? name : resource.name;
}

export function namespaceOf(resource: PolicyInput): string | undefined {
    const ns = resource.props?.metadata?.namespace;
    return typeof ns === "string" && ns ? ns : undefined;
}

export function asArray(value: unknown): any[] {
    return Array.isArray(value) ? value : [];
}

/** Every string leaf under `value` matching `pattern`, with its field path. */
export function findStrings(value: unknown, path: string, pattern: RegExp): Array<{ path: string; match: string }> {
    const found: Array<{ path: string; match: string }> = [];
    const visit = (v: unknown, p: string) => {
        if (typeof v === "string") {
            const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : pattern.flags + "g");
            for (const m of v.matchAll(global)) found.push({ path: p, match: m[0] });
        } else if (Array.isArray(v)) {
            v.forEach((item, i) => visit(item, `${p}[${i}]`));
        } else if (v && typeof v === "object") {
            for (const [k, item] of Object.entries(v)) visit(item, /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${p}.${k}` : `${p}[${JSON.stringify(k)}]`);
        }
    };
    visit(value, path);
    return found;
}

/** A container-like thing of an object: a Tekton step, sidecar or stepTemplate, or a pod's container. */
export interface ContainerRef {
    /** Field path of the container, e.g. `spec.steps[2]`. */
    path: string;
    container: any;
    /** steps, sidecars and stepTemplate of Tekton specs; containers of pod specs. */
    role: "step" | "sidecar" | "stepTemplate" | "container";
    /** True for Tekton steps/sidecars/stepTemplates: `script` and `$(params.x)` apply to them. */
    tekton: boolean;
    /** Param declarations visible to the container, innermost first (for `$(params.x)` images). */
    params: any[][];
}

/** A pod spec of an object (pod-level fields such as hostPID), with its field path. */
export interface PodSpecRef {
    path: string;
    spec: any;
}

export interface Workloads {
    containers: ContainerRef[];
    podSpecs: PodSpecRef[];
}

function tektonTaskSpec(spec: any, path: string, outerParams: any[][], out: Workloads): void {
    if (!spec || typeof spec !== "object") return;
    const params = [asArray(spec.params), ...outerParams];
    asArray(spec.steps).forEach((c, i) =>
        out.containers.push({ path: `${path}.steps[${i}]`, container: c, role: "step", tekton: true, params }));
    asArray(spec.sidecars).forEach((c, i) =>
        out.containers.push({ path: `${path}.sidecars[${i}]`, container: c, role: "sidecar", tekton: true, params }));
    if (spec.stepTemplate && typeof spec.stepTemplate === "object") {
        out.containers.push({ path: `${path}.stepTemplate`, container: spec.stepTemplate, role: "stepTemplate", tekton: true, params });
    }
}

function tektonPipelineSpec(spec: any, path: string, outerParams: any[][], out: Workloads): void {
    if (!spec || typeof spec !== "object") return;
    const params = [asArray(spec.params), ...outerParams];
    for (const list of ["tasks", "finally"]) {
        asArray(spec[list]).forEach((task, i) => tektonTaskSpec(task?.taskSpec, `${path}.${list}[${i}].taskSpec`, params, out));
    }
}

function podSpec(spec: any, path: string, out: Workloads): void {
    if (!spec || typeof spec !== "object") return;
    out.podSpecs.push({ path, spec });
    for (const list of ["initContainers", "containers", "ephemeralContainers"]) {
        asArray(spec[list]).forEach((c, i) =>
            out.containers.push({ path: `${path}.${list}[${i}]`, container: c, role: "container", tekton: false, params: [] }));
    }
}

/** Finds the containers and pod specs of one Kubernetes object (recursing into TriggerTemplate resources). */
export function workloadsOfObject(obj: any, path: string, out: Workloads = { containers: [], podSpecs: [] }): Workloads {
    if (!obj || typeof obj !== "object") return out;
    const kind = obj.kind;
    const spec = obj.spec;
    const p = path ? `${path}.spec` : "spec";
    switch (kind) {
        case "Task":
        case "ClusterTask":
            tektonTaskSpec(spec, p, [], out);
            break;
        case "StepAction":
            if (spec && typeof spec === "object") {
                out.containers.push({ path: p, container: spec, role: "step", tekton: true, params: [asArray(spec.params)] });
            }
            break;
        case "Pipeline":
            tektonPipelineSpec(spec, p, [], out);
            break;
        case "PipelineRun":
            tektonPipelineSpec(spec?.pipelineSpec, `${p}.pipelineSpec`, [asArray(spec?.params)], out);
            if (spec?.taskRunTemplate?.podTemplate) out.podSpecs.push({ path: `${p}.taskRunTemplate.podTemplate`, spec: spec.taskRunTemplate.podTemplate });
            break;
        case "TaskRun":
            tektonTaskSpec(spec?.taskSpec, `${p}.taskSpec`, [asArray(spec?.params)], out);
            if (spec?.podTemplate) out.podSpecs.push({ path: `${p}.podTemplate`, spec: spec.podTemplate });
            break;
        case "TriggerTemplate":
            asArray(spec?.resourcetemplates).forEach((r, i) => workloadsOfObject(r, `${p}.resourcetemplates[${i}]`, out));
            break;
        case "Pod":
            podSpec(spec, p, out);
            break;
        case "Deployment":
        case "StatefulSet":
        case "DaemonSet":
        case "ReplicaSet":
        case "ReplicationController":
        case "Job":
            podSpec(spec?.template?.spec, `${p}.template.spec`, out);
            break;
        case "CronJob":
            podSpec(spec?.jobTemplate?.spec?.template?.spec, `${p}.jobTemplate.spec.template.spec`, out);
            break;
        default:
            break;
    }
    return out;
}

export function workloads(resource: PolicyInput): Workloads {
    if (!isKubernetesObject(resource.type)) return { containers: [], podSpecs: [] };
    return workloadsOfObject(resource.props, "");
}

/** Capabilities the intercept tooling needs (mirrord agent, Telepresence client); nothing else is allowed. */
export const INTERCEPT_CAPABILITIES = new Set(["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE"]);

export interface PrivilegedSetting {
    /** Field path, e.g. `spec.steps[0].securityContext.privileged`. */
    path: string;
    /** What is set, e.g. `privileged: true`, `capability SYS_ADMIN`, `hostPID: true`. */
    what: string;
    /** hostPID and the intercept capabilities: allowed in target namespaces. Anything else never is. */
    interceptOnly: boolean;
}

/** Every privileged setting of an object: privileged containers, added capabilities, host namespaces. */
export function privilegedSettings(resource: PolicyInput): PrivilegedSetting[] {
    const found: PrivilegedSetting[] = [];
    const w = workloads(resource);
    for (const ref of w.podSpecs) {
        if (ref.spec?.hostPID === true) found.push({ path: `${ref.path}.hostPID`, what: "hostPID: true", interceptOnly: true });
        if (ref.spec?.hostNetwork === true) found.push({ path: `${ref.path}.hostNetwork`, what: "hostNetwork: true", interceptOnly: false });
        if (ref.spec?.hostIPC === true) found.push({ path: `${ref.path}.hostIPC`, what: "hostIPC: true", interceptOnly: false });
    }
    for (const ref of w.containers) {
        const sc = ref.container?.securityContext;
        if (!sc || typeof sc !== "object") continue;
        if (sc.privileged === true) {
            found.push({ path: `${ref.path}.securityContext.privileged`, what: "privileged: true", interceptOnly: false });
        }
        asArray(sc.capabilities?.add).forEach((cap, i) => {
            const name = String(cap).toUpperCase().replace(/^CAP_/, "");
            found.push({
                path: `${ref.path}.securityContext.capabilities.add[${i}]`,
                what: `capability ${name}`,
                interceptOnly: INTERCEPT_CAPABILITIES.has(name),
            });
        });
    }
    return found;
}

export interface InstallInfo {
    resource: PolicyInput;
    data: Record<string, string>;
}

/** The program's `tekton-dag-install-info` ConfigMap, if registered. */
export function findInstallInfo(resources: PolicyInput[]): InstallInfo | undefined {
    const resource = resources.find((r) => r.type === TYPES.configMap && metadataName(r) === INSTALL_INFO_NAME);
    if (!resource) return undefined;
    const data = resource.props?.data && typeof resource.props.data === "object" ? resource.props.data : {};
    return { resource, data };
}

/** install-info `targetNamespaces`: space-separated (commas tolerated). */
export function targetNamespaces(info: InstallInfo | undefined): string[] {
    const raw = info?.data?.targetNamespaces;
    return typeof raw === "string" ? raw.split(/[\s,]+/).filter((s) => s.length > 0) : [];
}

/** Every declared param named `name` of a Task, Pipeline or TriggerTemplate (embedded specs included). */
export function paramDeclarations(resource: PolicyInput, name: string): Array<{ path: string; param: any }> {
    const found: Array<{ path: string; param: any }> = [];
    const visit = (spec: any, path: string) => {
        if (!spec || typeof spec !== "object") return;
        asArray(spec.params).forEach((p, i) => {
            if (p && p.name === name) found.push({ path: `${path}.params[${i}]`, param: p });
        });
        for (const list of ["tasks", "finally"]) {
            asArray(spec[list]).forEach((t, i) => visit(t?.taskSpec, `${path}.${list}[${i}].taskSpec`));
        }
    };
    const props = resource.props ?? {};
    if (props.kind === "TriggerTemplate") {
        visit(props.spec, "spec");
        asArray(props.spec?.resourcetemplates).forEach((r, i) => {
            visit(r?.spec?.pipelineSpec, `spec.resourcetemplates[${i}].spec.pipelineSpec`);
            visit(r?.spec?.taskSpec, `spec.resourcetemplates[${i}].spec.taskSpec`);
        });
    } else if (props.kind === "Task" || props.kind === "Pipeline") {
        visit(props.spec, "spec");
    }
    return found;
}
