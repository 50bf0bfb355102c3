import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { objectMeta } from "../lib/labels";
import { AGENT_INJECTOR_WEBHOOK_PORT, TRAFFIC_MANAGER_API_PORT } from "../lib/telepresencePorts";

export interface TelepresenceTrafficManagerArgs {
    /** Namespace the traffic manager runs in (Telepresence's default is `ambassador`). */
    readonly namespace: string;
    /** Telepresence OSS release; header intercepts need 2.25 or later (checked with the config). */
    readonly version: pulumi.Input<string>;
    /** Namespaces whose workloads may be intercepted; the manager gets RBAC in these only. */
    readonly managedNamespaces: string[];
    /** Seconds the manager waits for the traffic agent of a workload's first intercept. */
    readonly agentArrivalSeconds: number;
    /** The chart's intercept.allowGlobalIntercepts (config telepresenceAllowGlobalIntercepts). */
    readonly allowGlobalIntercepts: boolean;
}

export const TELEPRESENCE_CHART = "oci://ghcr.io/telepresenceio/telepresence-oss";

/**
 * The chart values, checked against the chart's values schema in test/program/telepresence-values.test.ts.
 * A fixed `namespaces` list is what makes the chart namespaced: it creates a Role and RoleBinding in each
 * listed namespace and in its own (the chart adds that itself), and no cluster-wide workload rights.
 * `managerRbac` takes only `create`; its `namespaces` is the deprecated spelling of the top-level list.
 */
export function trafficManagerValues(args: Pick<TelepresenceTrafficManagerArgs, "managedNamespaces" | "agentArrivalSeconds" | "allowGlobalIntercepts">) {
    if (args.managedNamespaces.length === 0) {
        // An empty list would make the chart cluster-wide (every namespace but kube-system).
        throw new Error("TelepresenceTrafficManager: managedNamespaces is empty; the traffic manager must be limited to the target namespaces");
    }
    return {
        namespaces: [...args.managedNamespaces],
        managerRbac: { create: true },
        // The manager's ports, set here (equal to the chart's defaults) because the NetworkPolicies keep PR
        // code from exactly these (lib/telepresencePorts.ts).
        apiPort: TRAFFIC_MANAGER_API_PORT,
        // The injector adds the traffic agent to a workload on its first intercept.
        agentInjector: { enabled: true, webhook: { port: AGENT_INJECTOR_WEBHOOK_PORT } },
        // That first intercept rolls the workload; the manager waits this long for the new pod's agent.
        timeouts: { agentArrival: `${args.agentArrivalSeconds}s` },
        // Only header-filtered intercepts: several PR runs then intercept one app at once, each with its own
        // header, and none can take all of the app's traffic (docs/intercept-lock.md). The key is left out when
        // global intercepts are allowed, the chart's own default, so charts before 2.26.0 (without it) still take
        // the values.
        ...(args.allowGlobalIntercepts ? {} : { intercept: { allowGlobalIntercepts: false } }),
    };
}

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
            values: trafficManagerValues(args),
        }, { parent: this });
        this.namespace = ns.metadata.name;
        this.namespaceResource = ns;
        this.registerOutputs({ namespace: this.namespace });
    }
}
