import { CLUSTER_PIPELINE_TASKS } from "./identities";

/**
 * Which pods run PR code, told apart by the labels they carry, for the NetworkPolicies
 * (components/networkPolicies.ts, docs/network-policies.md).
 *
 * Tekton v1.15 labels every TaskRun pod of a PipelineRun with `tekton.dev/pipeline` (the Pipeline's name),
 * `tekton.dev/pipelineTask` (the task's name inside it), `tekton.dev/task`, `tekton.dev/taskRun`, ...
 * (pkg/reconciler/pipelinerun createChildResourceLabels, pkg/pod makeLabels). PR code cannot change them:
 * it holds no cluster credentials, and the PipelineRuns are created by the trigger or by people allowed to.
 * The pipeline task decides the identity (lib/identities.ts), so it decides the network zone too.
 */

export const TEKTON_PIPELINE_LABEL = "tekton.dev/pipeline";
export const TEKTON_PIPELINE_TASK_LABEL = "tekton.dev/pipelineTask";

/** The label and value the deploy scripts put on PR pods (run_labels in tekton/scripts/lib-common.sh). */
export const PR_POD_LABEL = { key: "tekton-dag.io/role", value: "pr-pod" } as const;

/** Every namespace carries its own name in this label (set by the API server; nobody can change it). */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

/**
 * PR-code pipeline tasks (not in CLUSTER_PIPELINE_TASKS) that must reach the staging apps: the test
 * stage. Every other PR-code task is a build task, limited to DNS and buildEgressCidrs when that is set.
 * A task added later is a build task until it is listed here.
 */
export const APP_REACHING_PR_CODE_TASKS: Readonly<Record<string, string>> = {
    "run-stack-tests": "newman sends the suites' requests to the entry app's Service",
    "hook-pre-test": "a test hook may prepare data through the staging apps",
    "hook-post-test": "a test hook may check or clean up through the staging apps",
};

/** Pipeline tasks that run as the pipeline ServiceAccount and run no PR code; no policy selects them. */
export const CLUSTER_TASK_NAMES: readonly string[] = Object.keys(CLUSTER_PIPELINE_TASKS);
