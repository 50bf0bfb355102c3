import type { StackValidationPolicy } from "@pulumi/policy";
import {
    describe, findInstallInfo, INTERCEPT_CAPABILITIES, isVendored, namespaceOf, PolicyInput, privilegedSettings,
    targetNamespaces, Violation,
} from "./common";

/**
 * Privilege policy: hostPID and the capabilities intercepts need (NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE)
 * only on objects in a target namespace (install-info data.targetNamespaces); `privileged: true`,
 * hostNetwork, hostIPC and any other added capability nowhere. Objects of upstream manifests are not checked.
 */
export function checkPrivilege(resources: PolicyInput[]): Violation[] {
    const targets = new Set(targetNamespaces(findInstallInfo(resources)));
    const targetText = targets.size > 0 ? [...targets].join(", ") : "none declared in tekton-dag-install-info data.targetNamespaces";
    const v: Violation[] = [];
    for (const r of resources) {
        if (isVendored(r)) continue;
        const who = describe(r);
        const ns = namespaceOf(r);
        for (const s of privilegedSettings(r)) {
            if (!s.interceptOnly) {
                v.push({
                    urn: r.urn,
                    message: `${who}: ${s.path} sets ${s.what}; intercepts never need it — remove it (allowed only: hostPID and capabilities ${[...INTERCEPT_CAPABILITIES].join(", ")} in target namespaces).`,
                });
            } else if (ns === undefined || !targets.has(ns)) {
                v.push({
                    urn: r.urn,
                    message: `${who}: ${s.path} sets ${s.what} outside the target namespaces (${targetText}); only intercept pods in a target namespace may have it.`,
                });
            }
        }
    }
    return v;
}

export const privilegePolicy: StackValidationPolicy = {
    name: "privilege",
    description:
        "Privileged settings only where intercepts need them: hostPID and the capabilities NET_ADMIN, NET_RAW, SYS_ADMIN, SYS_PTRACE are " +
        "allowed only on objects in a target namespace (tekton-dag-install-info data.targetNamespaces); privileged: true, hostNetwork, " +
        "hostIPC and any other added capability are never allowed. Move the setting to the intercept pod in the target namespace or drop it.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const v of checkPrivilege(args.resources as PolicyInput[])) reportViolation(v.message, v.urn);
    },
};
