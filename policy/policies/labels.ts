import type { ResourceValidationPolicy } from "@pulumi/policy";
import { COMMON_LABELS, describe, isKubernetesObject, isVendored, PolicyInput } from "./common";

const EXPECTED: Record<string, string | undefined> = {
    [COMMON_LABELS.partOf]: "tekton-dag",
    [COMMON_LABELS.managedBy]: "pulumi",
    [COMMON_LABELS.component]: undefined, // any non-empty value
};

/**
 * Labels policy: every Kubernetes object the program authors carries app.kubernetes.io/part-of=tekton-dag,
 * app.kubernetes.io/managed-by=pulumi and a non-empty app.kubernetes.io/component. Children of upstream
 * manifests and charts keep their own labels and are not checked.
 */
export function checkLabels(resource: PolicyInput): string[] {
    if (!isKubernetesObject(resource.type) || isVendored(resource)) return [];
    const problems: string[] = [];
    const who = describe(resource);
    const labels = resource.props?.metadata?.labels ?? {};
    for (const [key, expected] of Object.entries(EXPECTED)) {
        const value = labels[key];
        const field = `metadata.labels["${key}"]`;
        if (typeof value !== "string" || value === "") {
            problems.push(`${who}: ${field} is missing; set it to ${expected === undefined ? "the object's component" : `"${expected}"`} (lib/labels.ts commonLabels).`);
        } else if (expected !== undefined && value !== expected) {
            problems.push(`${who}: ${field} is ${JSON.stringify(value)}; it must be "${expected}" (lib/labels.ts commonLabels).`);
        }
    }
    return problems;
}

export const labelsPolicy: ResourceValidationPolicy = {
    name: "labels",
    description:
        "Every Kubernetes object the program installs carries app.kubernetes.io/part-of=tekton-dag, app.kubernetes.io/managed-by=pulumi " +
        "and app.kubernetes.io/component=<component>. Build metadata with objectMeta()/commonLabels() from lib/labels.ts.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        for (const m of checkLabels({ type: args.type, name: args.name, urn: args.urn, props: args.props })) reportViolation(m);
    },
};
