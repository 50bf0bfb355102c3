import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asArray, describe, isVendored, PolicyInput, TYPES } from "./common";

/**
 * ClusterRoles a ClusterRoleBinding of the program may reference: they grant reads of cluster-scoped
 * objects, which no Role can. Tekton Triggers documents this binding for every EventListener's
 * ServiceAccount (ClusterInterceptors, ClusterTriggerBindings). Policy config `allowedClusterRoleBindings`
 * replaces the list.
 */
export const DEFAULT_ALLOWED_CLUSTER_ROLE_BINDINGS = ["tekton-triggers-eventlistener-clusterroles"];

const ROLE_FIX = "grant the rules with a Role and RoleBinding in each target namespace (tekton/rbac/*.yaml, roleNamespaces: target)";

/**
 * RBAC policy for one resource: no binding to cluster-admin (any binding, upstream ones included); and for
 * what the program authors itself: no `*` in verbs, resources or apiGroups, no ClusterRole and no
 * ClusterRoleBinding.
 */
export function checkRbac(resource: PolicyInput, allowedClusterRoleBindings: string[] = DEFAULT_ALLOWED_CLUSTER_ROLE_BINDINGS): string[] {
    const problems: string[] = [];
    const who = describe(resource);
    const props = resource.props ?? {};
    if (resource.type === TYPES.roleBinding || resource.type === TYPES.clusterRoleBinding) {
        if (props.roleRef?.name === "cluster-admin") {
            problems.push(`${who}: roleRef.name is "cluster-admin"; never bind cluster-admin — ${ROLE_FIX}.`);
        }
    }
    if (isVendored(resource)) return problems;
    if (resource.type === TYPES.role || resource.type === TYPES.clusterRole) {
        asArray(props.rules).forEach((rule, i) => {
            for (const field of ["verbs", "resources", "apiGroups"]) {
                asArray(rule?.[field]).forEach((value, j) => {
                    if (typeof value === "string" && value.includes("*")) {
                        problems.push(`${who}: rules[${i}].${field}[${j}] is ${JSON.stringify(value)}; wildcards are not allowed — list the exact ${field} the task needs.`);
                    }
                });
            }
        });
    }
    if (resource.type === TYPES.clusterRole) {
        problems.push(`${who}: kind is ClusterRole; the program may not create ClusterRoles — ${ROLE_FIX}.`);
    }
    if (resource.type === TYPES.clusterRoleBinding && !allowedClusterRoleBindings.includes(props.roleRef?.name)) {
        problems.push(`${who}: kind is ClusterRoleBinding to ${JSON.stringify(props.roleRef?.name)}; the program may not grant cluster-wide access — ${ROLE_FIX} (only ${allowedClusterRoleBindings.join(", ") || "no ClusterRole"} may be bound cluster-wide: it grants reads of cluster-scoped objects).`);
    }
    return problems;
}

export const rbacPolicy: ResourceValidationPolicy = {
    name: "rbac",
    description:
        "RBAC stays namespaced and explicit: no RoleBinding/ClusterRoleBinding to cluster-admin, no \"*\" in a rule's verbs, resources " +
        "or apiGroups, and no ClusterRole or ClusterRoleBinding created by the program (a Role in each target namespace suffices; " +
        "the only ClusterRoleBinding allowed is to tekton-triggers-eventlistener-clusterroles, config allowedClusterRoleBindings). " +
        "Upstream manifests (children of the Tekton release ConfigFile or a Helm Chart) are only checked for cluster-admin. " +
        "Fix the rule files under tekton/rbac/.",
    enforcementLevel: "mandatory",
    configSchema: {
        properties: {
            allowedClusterRoleBindings: {
                type: "array",
                items: { type: "string" },
                default: DEFAULT_ALLOWED_CLUSTER_ROLE_BINDINGS,
                description: "ClusterRoles (by name) a ClusterRoleBinding of the program may reference: ones granting reads of cluster-scoped objects.",
            },
        },
    },
    validateResource: (args, reportViolation) => {
        const { allowedClusterRoleBindings } = args.getConfig<{ allowedClusterRoleBindings?: string[] }>();
        const resource = { type: args.type, name: args.name, urn: args.urn, props: args.props };
        for (const m of checkRbac(resource, allowedClusterRoleBindings ?? DEFAULT_ALLOWED_CLUSTER_ROLE_BINDINGS)) reportViolation(m);
    },
};
