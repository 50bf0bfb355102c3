// The proxy pods' kubelet stand-in (standins.ts) itself: a pod it cannot start must not break its poll loop.
// A run's cleanup can delete a proxy pod's ConfigMap in the moment the stand-in first sees the pod; an error
// escaping the loop was an unhandled rejection, which mocha drops: the pod was never started, and nothing said why.
import { strict as assert } from "node:assert";
import { randomUUID } from "node:crypto";
import { adminOk, sleep, TARGET_NS, TELEPRESENCE_SA } from "./harness";
import { resourcePath } from "./kubeApi";
import { deploySuite } from "./standins";

describe("cluster: the proxy pods' kubelet stand-in (simulated kubelet) with a pod whose ConfigMap is gone", function () {
    this.timeout(120_000);
    const suite = deploySuite();

    /** A Telepresence proxy pod of a test run whose script ConfigMap does not exist. */
    async function podWithoutConfigMap(name: string, run: string, configMap: string): Promise<void> {
        await adminOk("POST", resourcePath("pods", TARGET_NS), {
            apiVersion: "v1", kind: "Pod",
            metadata: { name, labels: { "tekton-dag.io/role": "telepresence-intercept", "tekton-dag.io/run": run } },
            spec: {
                serviceAccountName: TELEPRESENCE_SA.name,
                containers: [{ name: "proxy", image: "registry.k8s.io/pause:3.10", env: [] }],
                volumes: [{ name: "script", configMap: { name: configMap } }],
            },
        });
    }

    /** Waits for the stand-in's first event about the pod (bound only for a failing wait: it polls every 0.1 s). */
    async function firstEvent(name: string): Promise<{ ok: boolean; message: string }> {
        for (const end = Date.now() + 60_000; ; await sleep(100)) {
            const [event] = suite.proxies.of(name);
            if (event) return event;
            if (Date.now() > end) assert.fail(`no event of the stand-in for pod ${name} within 60 s`);
        }
    }

    it("records the pod as not started, naming the missing ConfigMap, and its poll loop goes on to the next pod", async () => {
        const id = randomUUID().slice(0, 8);
        const run = `standin-check-${id}`;
        const configMap = `tekton-dag-absent-${id}`;
        await podWithoutConfigMap(`${run}-a`, run, configMap);
        const event = await firstEvent(`${run}-a`);
        assert.equal(event.ok, false);
        assert.match(event.message, new RegExp(`^container not started: .*${configMap}`));
        // The loop still runs: a pod made after the failure gets its event too.
        await podWithoutConfigMap(`${run}-b`, run, configMap);
        assert.match((await firstEvent(`${run}-b`)).message, /^container not started: /);
    });
});
