// Which pods the stored NetworkPolicies select, as the API server evaluates their selectors
// (docs/network-policies.md): test/cluster/pulumi-up.test.ts calls this after `pulumi up` of the local stack.
import * as assert from "node:assert/strict";
import { APP_REACHING_PR_CODE_TASKS } from "../../lib/prCodeNetwork";
import { getJson, kubectlOk } from "./harness";
import { affinityAssistantLabels, runLabels, selectorArg, tektonTaskPodLabels } from "./network-policy-pods";

/**
 * Creates pods labelled as Tekton v1.15 labels the task pods of a webhook run of each stored Pipeline, as the
 * deploy scripts label a PR pod, and others no policy may select (another pipeline's task, the affinity
 * assistant, a TaskRun by hand, the sweeper, the proxies, an app), then asks the API server which of them each
 * policy's selector picks (`kubectl get pods -l`) and which namespaces its rules admit. Every pod is removed.
 * `byName`: the stored policies by name; `sweeper`: the rendered sweeper CronJob (its pod labels).
 */
export function assertPoliciesSelectExactly(byName: Map<string, any>, sweeper: any): void {
    // Pods labelled as Tekton labels the task pods of a webhook run of each Pipeline, as the deploy
    // scripts label a PR pod, and others that no policy may select; all carry a marker of this test.
    const marker = `tekton-dag-test.io/netpol=${process.pid}`;
    const [markerKey, markerValue] = marker.split("=");
    const storedTasks = new Map(getJson(["get", "tasks.v1.tekton.dev", "-n", "tekton-dag"]).items.map((t: any) => [t.metadata.name, t]));
    const webhookRun = getJson(["get", "triggertemplates.v1beta1.triggers.tekton.dev", "-n", "tekton-dag"]).items
        .flatMap((t: any) => t.spec.resourcetemplates).find((r: any) => r.kind === "PipelineRun" && r.spec.pipelineRef?.name === "stack-pr-test");
    assert.ok(webhookRun, "no TriggerTemplate creates a stack-pr-test PipelineRun");
    // Triggers fills in the template's params and the delivery's id; the PR number, GitHub's repository id and
    // that id are what the labels take.
    const runLabelsOfWebhook = JSON.parse(JSON.stringify(webhookRun.metadata.labels ?? {})
        .replace(/\$\(tt\.params\.pr-number\)/g, "42").replace(/\$\(tt\.params\.repo-id\)/g, "1296269")
        .replace(/\$\(uid\)/g, "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f"));
    assert.ok(!JSON.stringify(runLabelsOfWebhook).includes("$("), `unresolved template params in ${JSON.stringify(runLabelsOfWebhook)}`);
    const clusterTasks = new Set<string>(webhookRun.spec.taskRunSpecs.map((s: any) => s.pipelineTaskName));
    assert.equal(webhookRun.spec.taskRunTemplate.serviceAccountName, "tekton-dag-pr-code");
    const pods: Array<{ name: string; namespace: string; labels: Record<string, string> }> = [];
    const zone = new Map<string, "cluster" | "test" | "build" | "none">();
    for (const pipeline of getJson(["get", "pipelines.v1.tekton.dev", "-n", "tekton-dag"]).items) {
        const runName = `${pipeline.metadata.name}-run-1`;
        for (const [memberOf, list] of [["tasks", pipeline.spec.tasks ?? []], ["finally", pipeline.spec.finally ?? []]] as const) {
            for (const t of list) {
                const name = `np-${pipeline.metadata.name.replace(/^stack-pr-/, "")}-${t.name}`;
                const task: any = storedTasks.get(t.taskRef.name);
                assert.ok(task, `Task ${t.taskRef.name} is not stored`);
                pods.push({ name, namespace: "tekton-dag", labels: tektonTaskPodLabels({
                    pipelineRunLabels: runLabelsOfWebhook, pipelineName: pipeline.metadata.name, pipelineRunName: runName,
                    pipelineTask: t.name, memberOf, taskName: t.taskRef.name, taskLabels: task.metadata.labels ?? {},
                }) });
                // The identity Tekton gives the task decides: PR code is everything not given the pipeline account.
                zone.set(`tekton-dag/${name}`, clusterTasks.has(t.name) ? "cluster" : t.name in APP_REACHING_PR_CODE_TASKS ? "test" : "build");
            }
        }
        pods.push({ name: `np-${pipeline.metadata.name.replace(/^stack-pr-/, "")}-affinity`, namespace: "tekton-dag",
            labels: affinityAssistantLabels(runLabelsOfWebhook, pipeline.metadata.name, runName) });
    }
    pods.push({ name: "np-other-pipeline-clone", namespace: "tekton-dag", labels: tektonTaskPodLabels({
        pipelineRunLabels: {}, pipelineName: "someone-elses-pipeline", pipelineRunName: "other-run", pipelineTask: "clone-app",
        memberOf: "tasks", taskName: "fetch-source", taskLabels: {} }) });
    pods.push({ name: "np-standalone-taskrun", namespace: "tekton-dag", labels: {
        "tekton.dev/task": "fetch-source", "tekton.dev/taskRun": "by-hand", "app.kubernetes.io/managed-by": "tekton-pipelines" } });
    pods.push({ name: "np-sweeper", namespace: "tekton-dag", labels: sweeper.spec.jobTemplate.spec.template.metadata.labels });
    pods.push({ name: "np-pr-pod", namespace: "staging", labels: runLabels("demo-api", "pr-pod") });
    for (const role of ["mirrord-proxy", "telepresence-intercept", "mirrord-agent"]) {
        pods.push({ name: `np-${role}`, namespace: "staging", labels: runLabels("demo-api", role) });
    }
    pods.push({ name: "np-app", namespace: "staging", labels: { app: "demo-api" } });
    for (const p of pods) if (!zone.has(`${p.namespace}/${p.name}`)) zone.set(`${p.namespace}/${p.name}`, p.name === "np-pr-pod" ? "test" : "none");
    assert.ok([...zone.values()].filter((z) => z === "build").length >= 10 && [...zone.values()].filter((z) => z === "cluster").length >= 10);

    kubectlOk(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: pods.map((p) => ({
        apiVersion: "v1", kind: "Pod",
        metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels, [markerKey]: markerValue } },
        spec: { containers: [{ name: "c", image: "registry.invalid/never-pulled:1" }] },
    })) }));
    try {
        const selected = (p: any) => kubectlOk(["get", "pods", "-n", p.metadata.namespace, "-l", `${selectorArg(p.spec.podSelector)},${marker}`, "-o", "name"])
            .trim().split("\n").filter(Boolean).map((n) => `${p.metadata.namespace}/${n.replace(/^pod\//, "")}`).sort();
        const expect = (namespace: string, ...zones: string[]) => [...zone].filter(([k, z]) => k.startsWith(`${namespace}/`) && zones.includes(z)).map(([k]) => k).sort();
        assert.deepEqual(selected(byName.get("tekton-dag-pr-code-no-telepresence")), expect("tekton-dag", "test"), "test-stage pods");
        assert.deepEqual(selected(byName.get("tekton-dag-pr-build-egress")), expect("tekton-dag", "build"), "build pods");
        assert.deepEqual(selected(byName.get("tekton-dag-pr-pod-no-telepresence")), ["staging/np-pr-pod"], "PR pods");

        // The namespaces each rule admits, as the API server selects them.
        const namespaces = (sel: any) => kubectlOk(["get", "namespaces", "-l", selectorArg(sel), "-o", "name"]).trim().split("\n").map((n) => n.replace(/^namespace\//, ""));
        for (const name of ["tekton-dag-pr-code-no-telepresence", "tekton-dag-pr-pod-no-telepresence"]) {
            const [others, targets] = byName.get(name).spec.egress;
            const otherNamespaces = namespaces(others.to[0].namespaceSelector);
            for (const ns of ["tekton-dag", "kube-system", "default"]) assert.ok(otherNamespaces.includes(ns), `${name}: rule 1 does not admit ${ns}`);
            for (const ns of ["ambassador", "staging"]) assert.ok(!otherNamespaces.includes(ns), `${name}: rule 1 admits ${ns}`);
            assert.deepEqual(namespaces(targets.to[0].namespaceSelector), ["staging"]);
            assert.ok(byName.get(name).spec.egress.every((r: any) => (r.to ?? []).every((peer: any) => !peer.podSelector)), "no rule narrows to pods");
        }
        assert.deepEqual(namespaces(byName.get("tekton-dag-pr-build-egress").spec.egress[0].to[0].namespaceSelector), ["kube-system"]);
    } finally {
        // Forced: kwok leaves proxy pods alone (scripts/cluster.sh), so no kubelet would ever confirm their end.
        kubectlOk(["delete", "pods", "-A", "-l", marker, "--grace-period=0", "--force", "--wait=true"]);
    }
}
