import type { StackValidationPolicy } from "@pulumi/policy";
import {
    describe, findInstallInfo, HELM_TYPES, INSTALL_INFO_NAME, isKubernetesObject, metadataName, MIRRORD_PROXY_NAME,
    paramDeclarations, PolicyInput, privilegedSettings, TYPES, Violation,
} from "./common";
import { BACKEND_PARAM } from "./backend";

const RBAC_TYPES = new Set<string>([
    TYPES.serviceAccount, TYPES.role, TYPES.roleBinding, TYPES.clusterRole, TYPES.clusterRoleBinding,
]);
const FIX = "production stacks may not install intercept tooling — set tekton-dag:enableIntercepts false (and installTelepresence false) for this stack";

/** True when install-info says the stack is production. */
export function isProduction(data: Record<string, string> | undefined): boolean {
    return String(data?.production ?? "").trim().toLowerCase() === "true";
}

function isTelepresenceChart(r: PolicyInput): boolean {
    if (!HELM_TYPES.has(r.type)) return false;
    const p = r.props ?? {};
    const text = [r.name, p.chart, p.name, p.repositoryOpts?.repo].filter((s) => typeof s === "string").join(" ");
    return /telepresence|traffic-manager/i.test(text);
}

/**
 * Production policy: when install-info data.production is "true", the stack installs no mirrord proxy RBAC,
 * no privileged settings anywhere, no Telepresence traffic manager, and mirrord is not the
 * default intercept backend (install-info interceptBackend or any intercept-backend param default).
 */
export function checkProduction(resources: PolicyInput[]): Violation[] {
    const info = findInstallInfo(resources);
    if (!info) {
        return [{
            message: `ConfigMap ${INSTALL_INFO_NAME} is not registered; the Production policy reads data.production from it — the program must register it in the pipelines namespace.`,
        }];
    }
    if (!isProduction(info.data)) return [];
    const v: Violation[] = [];
    const infoWho = describe(info.resource);
    if (info.data.interceptBackend === "mirrord") {
        v.push({ urn: info.resource.urn, message: `${infoWho}: data.interceptBackend is "mirrord"; a production stack may not default to mirrord — set tekton-dag:interceptBackend to telepresence.` });
    }
    for (const r of resources) {
        const who = describe(r);
        if (RBAC_TYPES.has(r.type) && (metadataName(r) === MIRRORD_PROXY_NAME || /mirrord/i.test(metadataName(r)))) {
            v.push({ urn: r.urn, message: `${who}: metadata.name — mirrord proxy RBAC is intercept tooling; ${FIX}.` });
        }
        if (isTelepresenceChart(r)) {
            v.push({ urn: r.urn, message: `${r.type.split(":").pop()} ${r.name}: chart — the Telepresence traffic manager is intercept tooling; ${FIX}.` });
        } else if (isKubernetesObject(r.type) && /traffic-manager/i.test(metadataName(r))) {
            v.push({ urn: r.urn, message: `${who}: metadata.name — the Telepresence traffic manager is intercept tooling; ${FIX}.` });
        }
        for (const s of privilegedSettings(r)) {
            v.push({ urn: r.urn, message: `${who}: ${s.path} sets ${s.what}; a production stack runs nothing privileged (no privileged, hostPID/hostNetwork/hostIPC or added capabilities).` });
        }
        for (const d of paramDeclarations(r, BACKEND_PARAM)) {
            if (d.param?.default === "mirrord") {
                v.push({ urn: r.urn, message: `${who}: ${d.path}.default of "${BACKEND_PARAM}" is "mirrord"; a production stack may not default to mirrord — set tekton-dag:interceptBackend to telepresence.` });
            }
        }
    }
    return v;
}

export const productionPolicy: StackValidationPolicy = {
    name: "production",
    description:
        "A stack whose install-info ConfigMap (tekton-dag-install-info) says production=\"true\" may not install intercept tooling: " +
        "no mirrord proxy ServiceAccount/Role/RoleBinding, no privileged, hostPID or added capabilities anywhere, " +
        "no Telepresence traffic manager chart, and intercept-backend may not default to mirrord. " +
        "Set tekton-dag:enableIntercepts=false, installTelepresence=false and interceptBackend=telepresence for production stacks.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const v of checkProduction(args.resources as PolicyInput[])) reportViolation(v.message, v.urn);
    },
};
