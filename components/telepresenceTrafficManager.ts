import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { objectMeta } from "../lib/labels";

export interface TelepresenceTrafficManagerArgs {
    /** Namespace the traffic manager runs in (Telepresence's default is `ambassador`). */
    readonly namespace: string;
    /** Telepresence OSS release; header intercepts need 2.25 or later (checked with the config). */
    readonly version: pulumi.Input<string>;
    /** Namespaces whose workloads may be intercepted; the manager gets RBAC in these only. */
    readonly managedNamespaces: string[];
}

export const TELEPRESENCE_CHART = "oci://ghcr.io/telepresenceio/telepresence-oss";

/**
 * The Telepresence traffic manager, installed once per cluster from its Helm chart. PR runs only connect
 * to it; they never install it.
 */
export class TelepresenceTrafficManager extends pulumi.ComponentResource {
    public readonly namespace: pulumi.Output<string>;
    /** The traffic manager's namespace; Roles bound there depend on it. */
    public readonly namespaceResource: k8s.core.v1.Namespace;
    public readonly chart: k8s.helm.v4.Chart;

    constructor(name: string, args: TelepresenceTrafficManagerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TelepresenceTrafficManager", name, {}, opts);

        const ns = new k8s.core.v1.Namespace(`${name}-namespace`, {
            metadata: objectMeta(args.namespace, "telepresence"),
        }, { parent: this });
        this.chart = new k8s.helm.v4.Chart(name, {
            chart: TELEPRESENCE_CHART,
            version: pulumi.output(args.version).apply((v) => v.replace(/^v/, "")),
            namespace: ns.metadata.name,
            values: {
                // Namespaced RBAC: the manager may act only in its own namespace and where PR intercepts happen.
                managerRbac: { create: true, namespaced: true, namespaces: [args.namespace, ...args.managedNamespaces] },
                // The injector adds the traffic agent to a workload on its first intercept.
                agentInjector: { enabled: true },
            },
        }, { parent: this });
        this.namespace = ns.metadata.name;
        this.namespaceResource = ns;
        this.registerOutputs({ namespace: this.namespace });
    }
}
