import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EgressEntry } from "../lib/egressCidrs";
import { objectMeta } from "../lib/labels";
import {
    APP_REACHING_PR_CODE_TASKS, CLUSTER_TASK_NAMES, NAMESPACE_NAME_LABEL, PR_POD_LABEL, TEKTON_PIPELINE_LABEL,
    TEKTON_PIPELINE_TASK_LABEL,
} from "../lib/prCodeNetwork";
import { tcpPortsOutsideTelepresence } from "../lib/telepresencePorts";

export interface PrCodeNetworkPoliciesArgs {
    /** Namespace of the pipelines; the PR-code task pods run there. */
    readonly pipelinesNamespace: string;
    /** Namespaces of the staging apps and PR pods; the only ones Telepresence injects traffic agents into. */
    readonly targetNamespaces: readonly string[];
    /** Namespace of the Telepresence traffic manager; PR code reaches nothing in it. */
    readonly telepresenceNamespace: string;
    /** The Pipelines whose task pods are selected (label tekton.dev/pipeline). */
    readonly pipelineNames: readonly string[];
    /** Where build pods may connect besides DNS; empty: builds are only kept from Telepresence. */
    readonly buildEgress: readonly EgressEntry[];
}

export const POLICY_NAMES = {
    prCode: "tekton-dag-pr-code-no-telepresence",
    build: "tekton-dag-pr-build-egress",
    prPod: "tekton-dag-pr-pod-no-telepresence",
} as const;

const COMPONENT = "network-policy";
const ALL_PORTS_OF = (protocol: string) => ({ protocol, port: 1, endPort: 65535 });

function portRange(protocol: string, from: number, to: number): Record<string, unknown> {
    return from === to ? { protocol, port: from } : { protocol, port: from, endPort: to };
}

/**
 * Egress of pods that run PR code but need the network the app has (PR pods, the test stage): everything
 * except Telepresence. NetworkPolicy has only allow rules, and a pod selected by any egress policy may
 * connect only where some rule allows; so the rules allow exactly the complement:
 *  1. every port of every namespace other than the target namespaces and Telepresence's;
 *  2. in the target namespaces (where the agents are injected), TCP below the agents' dynamic ports, and
 *     UDP/SCTP (the agent serves nothing there);
 *  3. any address (ipBlock, i.e. outside the cluster: nodes, the API server, external services) on the
 *     ports of rule 2 minus the traffic manager's. Some CNIs also match pod IPs against ipBlock, so this
 *     rule keeps Telepresence's ports out itself rather than relying on `except` of pod ranges we do not
 *     know.
 * No rule names Telepresence's namespace, so its pods are reachable only through rule 3, on ports where the
 * manager does not listen.
 */
export function noTelepresenceEgress(targetNamespaces: readonly string[], telepresenceNamespace: string): any[] {
    const belowAgents = tcpPortsOutsideTelepresence(false).map(([f, t]) => portRange("TCP", f, t));
    const outsideTelepresence = tcpPortsOutsideTelepresence(true).map(([f, t]) => portRange("TCP", f, t));
    const otherProtocols = [ALL_PORTS_OF("UDP"), ALL_PORTS_OF("SCTP")];
    return [
        {
            to: [{ namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: [telepresenceNamespace, ...targetNamespaces] }] } }],
        },
        {
            to: [{ namespaceSelector: { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: [...targetNamespaces] }] } }],
            ports: [...belowAgents, ...otherProtocols],
        },
        {
            to: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }],
            ports: [...outsideTelepresence, ...otherProtocols],
        },
    ];
}

/** Egress of build pods: the cluster DNS and what buildEgressCidrs names, nothing else. */
export function buildEgress(entries: readonly EgressEntry[]): any[] {
    const dns = {
        to: [{
            namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        }],
        ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
    };
    return [dns, ...entries.map((e) => ({
        to: [{ ipBlock: { cidr: e.cidr } }],
        ports: [e.endPort === undefined ? { protocol: e.protocol, port: e.port } : { protocol: e.protocol, port: e.port, endPort: e.endPort }],
    }))];
}

/** Task pods of our pipelines whose pipeline task is (In) or is not (NotIn) one of `tasks`. */
function taskPods(pipelineNames: readonly string[], operator: "In" | "NotIn", tasks: readonly string[]) {
    return {
        matchExpressions: [
            { key: TEKTON_PIPELINE_LABEL, operator: "In", values: [...pipelineNames] },
            // NotIn alone also matches pods without the label; Exists keeps it to task pods.
            ...(operator === "NotIn" ? [{ key: TEKTON_PIPELINE_TASK_LABEL, operator: "Exists" }] : []),
            { key: TEKTON_PIPELINE_TASK_LABEL, operator, values: [...tasks] },
        ],
    };
}

/** The policies as plain objects (name, namespace, spec), in registration order. */
export function networkPolicySpecs(args: PrCodeNetworkPoliciesArgs): Array<{ name: string; namespace: string; spec: any }> {
    if (args.pipelineNames.length === 0) throw new Error("PrCodeNetworkPolicies: pipelineNames is empty; the policies would select no task pod");
    if (args.targetNamespaces.length === 0) throw new Error("PrCodeNetworkPolicies: targetNamespaces is empty");
    const restrictBuilds = args.buildEgress.length > 0;
    const appReaching = Object.keys(APP_REACHING_PR_CODE_TASKS);
    const noTelepresence = noTelepresenceEgress(args.targetNamespaces, args.telepresenceNamespace);
    const policy = (name: string, namespace: string, podSelector: any, egress: any[]) => ({
        name, namespace,
        // Egress only: an omitted policyTypes would also isolate the pods for ingress (no ingress rule),
        // and nothing could reach a PR pod.
        spec: { podSelector, policyTypes: ["Egress"], egress },
    });
    return [
        policy(POLICY_NAMES.prCode, args.pipelinesNamespace,
            restrictBuilds ? taskPods(args.pipelineNames, "In", appReaching) : taskPods(args.pipelineNames, "NotIn", CLUSTER_TASK_NAMES),
            noTelepresence),
        ...(restrictBuilds
            ? [policy(POLICY_NAMES.build, args.pipelinesNamespace,
                taskPods(args.pipelineNames, "NotIn", [...CLUSTER_TASK_NAMES, ...appReaching]), buildEgress(args.buildEgress))]
            : []),
        ...args.targetNamespaces.map((ns) =>
            policy(POLICY_NAMES.prPod, ns, { matchLabels: { [PR_POD_LABEL.key]: PR_POD_LABEL.value } }, noTelepresence)),
    ];
}

/**
 * NetworkPolicies that keep PR code (the PR-code task pods and the PR pods) from Telepresence's traffic
 * agents and manager, and, when buildEgressCidrs is set, PR builds to DNS and the hosts named there. They
 * take effect only where the cluster's network plugin enforces NetworkPolicy (docs/network-policies.md).
 */
export class PrCodeNetworkPolicies extends pulumi.ComponentResource {
    public readonly policies: k8s.networking.v1.NetworkPolicy[];

    constructor(name: string, args: PrCodeNetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:PrCodeNetworkPolicies", name, {}, opts);
        if (args.buildEgress.length === 0) {
            pulumi.log.warn("tekton-dag:buildEgressCidrs is empty: PR builds are kept from Telepresence but may connect anywhere else; " +
                "give the IP ranges and ports of your git hosts and registries to limit them (docs/network-policies.md)", this);
        }
        this.policies = networkPolicySpecs(args).map((p) => new k8s.networking.v1.NetworkPolicy(`${name}-${p.namespace}-${p.name}`, {
            metadata: objectMeta(p.name, COMPONENT, p.namespace),
            spec: p.spec,
        }, { parent: this }));
        this.registerOutputs({});
    }
}
