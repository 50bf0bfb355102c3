import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { commonLabels } from "./labels";
import { KubeObject, placed, withParamDefaults } from "./tektonSources";

/**
 * Registers Tekton objects read from tekton/ as custom resources: placed in the pipelines namespace,
 * labelled, their config-driven param defaults filled in once known (an image digest may still be pending).
 */
export function registerTektonObjects(
    parent: pulumi.Resource,
    objects: KubeObject[],
    namespace: string,
    component: string,
    paramDefaults: pulumi.Input<Record<string, pulumi.Input<string>>>,
    dependsOn: pulumi.Input<pulumi.Resource>[],
): Record<string, k8s.apiextensions.CustomResource> {
    const defaults = pulumi.output(paramDefaults);
    const registered: Record<string, k8s.apiextensions.CustomResource> = {};
    for (const source of objects) {
        const obj = placed(source, namespace, commonLabels(component));
        registered[obj.metadata.name] = new k8s.apiextensions.CustomResource(
            `${obj.kind.toLowerCase()}-${obj.metadata.name}`,
            {
                apiVersion: obj.apiVersion,
                kind: obj.kind,
                metadata: obj.metadata,
                spec: defaults.apply((d) => withParamDefaults(obj, d as Record<string, string>).spec),
            },
            { parent, dependsOn },
        );
    }
    return registered;
}
