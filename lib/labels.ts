/** Labels every object the program installs carries (docs/conventions.md). */
export function commonLabels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/part-of": "tekton-dag",
        "app.kubernetes.io/managed-by": "pulumi",
        "app.kubernetes.io/component": component,
    };
}

/** Standard metadata for an object the program installs. */
export function objectMeta(name: string, component: string, namespace?: string): {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
} {
    return namespace === undefined
        ? { name, labels: commonLabels(component) }
        : { name, namespace, labels: commonLabels(component) };
}
