/**
 * NetworkPolicies that keep PR code from Telepresence (issue 17, point 5), over the objects the program
 * registers: which policies exist for which config, their selectors (derived from lib/identities.ts and the
 * Pipelines), that no allowed port reaches the traffic manager's or the agents' ports, and the config
 * errors. Which pods the selectors really pick is checked by the API server itself in
 * test/cluster/pulumi-up.test.ts.
 */
import { strict as assert } from "node:assert";
import { CLUSTER_PIPELINE_TASKS } from "../../lib/identities";
import { parseConfig } from "../../lib/loadConfig";
import { APP_REACHING_PR_CODE_TASKS } from "../../lib/prCodeNetwork";
import { problemsOf } from "../support/config";
import { objects, ofKind, rendered } from "../support/render";

const BUILD_EGRESS = '["140.82.112.0/20:443", "172.18.0.0/16:5000", "10.96.0.10/32:53/udp", "2001:db8::/32:443-444"]';
const CLUSTER_TASKS = Object.keys(CLUSTER_PIPELINE_TASKS);
const APP_REACHING = Object.keys(APP_REACHING_PR_CODE_TASKS);

function policies(objs: any[]): Map<string, any> {
    return new Map(ofKind(objs, "NetworkPolicy").map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
}

function expression(selector: any, key: string, operator: string): any {
    return (selector.matchExpressions ?? []).find((e: any) => e.key === key && e.operator === operator);
}

/** Whether a NetworkPolicy port entry admits this TCP/UDP port (protocol defaults to TCP in the API). */
function admits(ports: any[] | undefined, protocol: string, port: number): boolean {
    if (ports === undefined) return true;
    return ports.some((p) => (p.protocol ?? "TCP") === protocol && port >= p.port && port <= (p.endPort ?? p.port));
}

/** Ports Telepresence listens on (chart defaults the program sets, and the agent's dynamic range) and ports apps use. */
const TELEPRESENCE_TCP = [8081, 8443, 32768, 40000, 60999, 61000, 65535];
const APP_TCP = [22, 53, 80, 443, 3000, 5000, 5432, 8080, 8082, 8442, 8444, 9900, 9901, 30080, 32767];

describe("NetworkPolicies (issue 17): PR code cannot reach Telepresence", () => {
    it("the kind stack renders one policy for the PR-code task pods and one per target namespace for the PR pods, egress only", async () => {
        const objs = await objects({ stack: "kind" });
        const byName = policies(objs);
        assert.deepEqual([...byName.keys()].sort(), ["staging/tekton-dag-pr-pod-no-telepresence", "tekton-dag/tekton-dag-pr-code-no-telepresence"]);
        for (const p of byName.values()) {
            // Without policyTypes the API would add Ingress too, and nothing could reach a PR pod.
            assert.deepEqual(p.spec.policyTypes, ["Egress"], p.metadata.name);
            assert.equal(p.spec.ingress, undefined);
            assert.equal(p.metadata.labels["app.kubernetes.io/part-of"], "tekton-dag");
        }
        assert.deepEqual(byName.get("staging/tekton-dag-pr-pod-no-telepresence").spec.podSelector, { matchLabels: { "tekton-dag.io/role": "pr-pod" } });
    });

    it("selects the task pods of both pipelines whose pipeline task is not a cluster task (lib/identities.ts)", async () => {
        const objs = await objects({ stack: "kind" });
        const pipelineNames = ofKind(objs, "Pipeline").map((p) => p.metadata.name).sort();
        const sel = policies(objs).get("tekton-dag/tekton-dag-pr-code-no-telepresence").spec.podSelector;
        assert.deepEqual(expression(sel, "tekton.dev/pipeline", "In").values.sort(), pipelineNames);
        assert.ok(expression(sel, "tekton.dev/pipelineTask", "Exists"), "NotIn alone would also select pods without the label");
        assert.deepEqual(expression(sel, "tekton.dev/pipelineTask", "NotIn").values.sort(), [...CLUSTER_TASKS].sort());
    });

    it("no rule admits the traffic manager's namespace, and no rule that can reach a target namespace or any IP admits an agent or manager port", async () => {
        const objs = await objects({ stack: "kind", overrides: { targetNamespaces: '["staging", "qa"]' } });
        const all = [...policies(objs).values()];
        assert.equal(all.length, 3, "one for the task pods, one per target namespace");
        for (const p of all) {
            const [others, targets, anywhere] = p.spec.egress;
            assert.deepEqual(others.to, [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["ambassador", "staging", "qa"] }] } }]);
            assert.equal(others.ports, undefined, "other namespaces: every port");
            assert.deepEqual(targets.to, [{ namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["staging", "qa"] }] } }]);
            assert.deepEqual(anywhere.to, [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }]);
            for (const port of [32768, 40000, 60999, 65535]) {
                assert.ok(!admits(targets.ports, "TCP", port), `${p.metadata.name}: target namespaces admit agent port ${port}`);
            }
            for (const port of TELEPRESENCE_TCP) assert.ok(!admits(anywhere.ports, "TCP", port), `${p.metadata.name}: ipBlock admits ${port}`);
            // The app's own ports stay reachable, the agent's intercept port 9900 included (a Service may target it).
            for (const port of APP_TCP) {
                assert.ok(admits(targets.ports, "TCP", port), `${p.metadata.name}: target namespaces refuse ${port}`);
                assert.ok(admits(anywhere.ports, "TCP", port), `${p.metadata.name}: ipBlock refuses ${port}`);
            }
            assert.ok(admits(targets.ports, "TCP", 8081) && admits(targets.ports, "TCP", 8443), "apps in the target namespaces may use the manager's port numbers");
            for (const rule of [targets, anywhere]) assert.ok(admits(rule.ports, "UDP", 53) && admits(rule.ports, "UDP", 65535));
            assert.equal(p.spec.egress.length, 3);
        }
    });

    it("with buildEgressCidrs, build pods reach only DNS and those ranges; the test stage keeps the app's network", async () => {
        const objs = await objects({ stack: "kind", overrides: { buildEgressCidrs: BUILD_EGRESS } });
        const byName = policies(objs);
        assert.equal(byName.size, 3);
        const build = byName.get("tekton-dag/tekton-dag-pr-build-egress");
        const testStage = byName.get("tekton-dag/tekton-dag-pr-code-no-telepresence");
        assert.deepEqual(expression(testStage.spec.podSelector, "tekton.dev/pipelineTask", "In").values.sort(), [...APP_REACHING].sort());
        assert.deepEqual(expression(build.spec.podSelector, "tekton.dev/pipelineTask", "NotIn").values.sort(), [...CLUSTER_TASKS, ...APP_REACHING].sort());
        assert.ok(expression(build.spec.podSelector, "tekton.dev/pipelineTask", "Exists"));
        assert.deepEqual(build.spec.policyTypes, ["Egress"]);
        assert.deepEqual(build.spec.egress, [
            {
                to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
                ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }],
            },
            { to: [{ ipBlock: { cidr: "140.82.112.0/20" } }], ports: [{ protocol: "TCP", port: 443 }] },
            { to: [{ ipBlock: { cidr: "172.18.0.0/16" } }], ports: [{ protocol: "TCP", port: 5000 }] },
            { to: [{ ipBlock: { cidr: "10.96.0.10/32" } }], ports: [{ protocol: "UDP", port: 53 }] },
            { to: [{ ipBlock: { cidr: "2001:db8::/32" } }], ports: [{ protocol: "TCP", port: 443, endPort: 444 }] },
        ]);
    });

    it("the test-stage tasks are PR-code tasks of both pipelines (a task in no list is a build task)", async () => {
        const objs = await objects({ stack: "kind" });
        for (const pipeline of ofKind(objs, "Pipeline")) {
            const names = [...(pipeline.spec.tasks ?? []), ...(pipeline.spec.finally ?? [])].map((t: any) => t.name);
            for (const t of APP_REACHING) {
                assert.ok(names.includes(t), `${pipeline.metadata.name} has no task ${t}`);
                assert.ok(!CLUSTER_TASKS.includes(t), `${t} is a cluster task and runs no PR code`);
            }
        }
    });

    it("is not rendered when turned off or when intercepts are off", async () => {
        assert.equal(ofKind(await objects({ stack: "kind", overrides: { enableNetworkPolicies: "false" } }), "NetworkPolicy").length, 0);
        assert.equal(ofKind(await objects({ stack: "kind", overrides: { enableIntercepts: "false" } }), "NetworkPolicy").length, 0);
    });

    it("sets the traffic manager's ports in the chart values to the ports the policies keep PR code from", async () => {
        const charts = (await rendered({ stack: "kind" })).filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
        assert.equal(charts.length, 1, "one Telepresence chart for the kind stack");
        const values = charts[0].inputs.values;
        assert.equal(values.apiPort, 8081);
        assert.equal(values.agentInjector.webhook.port, 8443);
    });
});

describe("buildEgressCidrs config errors", () => {
    const KEY = "tekton-dag:buildEgressCidrs";
    const one = (entry: string) => problemsOf({ [KEY]: JSON.stringify([entry]) });

    it("accepts IPv4 and IPv6 ranges with a port, a range or a protocol", () => {
        assert.deepEqual(parseConfig({ [KEY]: BUILD_EGRESS }).buildEgressCidrs.length, 4);
        assert.deepEqual(parseConfig({ [KEY]: "192.0.2.0/24:22, 198.51.100.7/32:80" }).buildEgressCidrs, ["192.0.2.0/24:22", "198.51.100.7/32:80"]);
    });

    it("refuses host names, missing ports and malformed ranges, naming the entry and the format", () => {
        for (const [entry, why] of [
            ["github.com:443", /is not <cidr>:<port>.*not host names/],
            ["10.0.0.0/8", /is not <cidr>:<port>/],
            ["10.0.0.1/8:443", /host bits set after \/8; write the network address/],
            ["10.0.0.0/33:443", /prefix length 33; at most 32/],
            ["10.0.0.256/32:443", /no valid IPv4 or IPv6 address/],
            ["010.0.0.0/8:443", /no valid IPv4 or IPv6 address/],
            ["2001:db8::1/32:443", /host bits set after \/32/],
            ["10.0.0.0/8:0", /port outside 1-65535/],
            ["10.0.0.0/8:444-443", /range whose end is below its start/],
            ["10.0.0.0/8:443/icmp", /is not <cidr>:<port>/],
        ] as const) {
            const problems = one(entry);
            assert.equal(problems.length, 1, `${entry}: ${problems.join("; ")}`);
            assert.ok(problems[0].startsWith(`${KEY}[0] entry ${JSON.stringify(entry)} `), problems[0]);
            assert.match(problems[0], why);
            assert.match(problems[0], /format <cidr>:<port>\[-<endPort>\]\[\/tcp\|\/udp\|\/sctp\]/);
        }
    });

    it("refuses TCP ports of the traffic manager or the agents, which an IP range may hold", () => {
        for (const [entry, hit] of [
            ["0.0.0.0/0:8081", "8081"],
            ["10.0.0.0/8:8000-9000", "8081, 8443"],
            ["10.0.0.0/8:30000-40000", "32768-65535"],
            ["10.0.0.0/8:1-65535", "8081, 8443, 32768-65535"],
        ]) {
            const [problem] = one(entry);
            assert.match(problem, new RegExp(`includes Telepresence's TCP ports \\(${hit}: `), problem);
        }
        assert.deepEqual(one("10.96.0.10/32:40000/udp"), [], "the agents serve no UDP there");
    });

    it("refuses buildEgressCidrs where no policy is rendered", () => {
        for (const off of ["enableNetworkPolicies", "enableIntercepts"]) {
            assert.deepEqual(problemsOf({ [KEY]: '["10.0.0.0/8:443"]', [`tekton-dag:${off}`]: "false" }), [
                `${KEY} is set but no NetworkPolicy is rendered (tekton-dag:enableNetworkPolicies or tekton-dag:enableIntercepts is false); remove it or turn the policies on`,
            ]);
        }
    });
});
