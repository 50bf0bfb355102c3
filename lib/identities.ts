/**
 * The two identities of a PR run (docs/conventions.md, "Identities").
 *
 * A PR run executes the pull request's own code: the clone of its repository, its build scripts
 * (npm/Maven/Gradle/pip/Composer), its Dockerfile's RUN lines, its Postman collections, and the hooks that
 * run in a workspace that code has already written to. None of that may hold cluster credentials, so the
 * run's DEFAULT identity is a ServiceAccount that no RoleBinding names and that mounts no token. Only the
 * pipeline tasks below, which must talk to the API server and run no PR code, are given the pipeline
 * ServiceAccount through `taskRunSpecs`. A task added later is unprivileged until someone adds it here.
 */

/** The ServiceAccount with the pipeline's RBAC (tekton/rbac/pipeline-*.yaml). */
export const PIPELINE_SERVICE_ACCOUNT = "tekton-dag-pipeline";

/**
 * What the EventListener's own TaskRuns run as (tekton/rbac/pr-stopper-in-home.yaml, retest-in-home.yaml):
 * stop-pr-runs may only list and stop PipelineRuns; retest-pr may also start one from the listener's template.
 */
export const PR_STOPPER_SERVICE_ACCOUNT = "tekton-dag-pr-stopper";
export const RETEST_SERVICE_ACCOUNT = "tekton-dag-retest";

/** No RoleBinding names it and its pods mount no token: what every PR-code task runs as. */
export const PR_CODE_SERVICE_ACCOUNT = "tekton-dag-pr-code";

/**
 * Pipeline tasks (names inside stack-pr-test and stack-pr-continue; both pipelines have all of them) that
 * need the API server, with what they do there. Tekton fails a run whose taskRunSpecs name a task the
 * pipeline does not have, so this list holds only tasks both pipelines share.
 */
export const CLUSTER_PIPELINE_TASKS: Readonly<Record<string, string>> = {
    "deploy-intercepts-telepresence": "creates the PR pod, proxy pod, ConfigMap and Lease (deploy-stack-intercepts)",
    "deploy-intercepts-mirrord": "creates the PR pod, proxy pod, ConfigMap and Lease (deploy-intercept-mirrord)",
    "validate-stack-propagation": "reads the Deployment, its pods and their logs to see who answered",
    "validate-original-traffic": "reads the Deployment, its pods and their logs to see who answered",
    "cleanup-intercepts": "deletes the run's pods, Jobs, ConfigMaps and Leases (cleanup-stack-intercepts)",
    "pr-comment": "reads the GitHub token Secret",
    "status-pending": "reads the GitHub token Secret (commit-status)",
    "status-final": "reads the GitHub token Secret, its own PipelineRun and TaskRuns (commit-status)",
};

export interface PipelineRunIdentities<T = string> {
    taskRunTemplate: { serviceAccountName: T };
    taskRunSpecs: Array<{ pipelineTaskName: string; serviceAccountName: T }>;
}

/**
 * The identity fields of a PipelineRun of either pipeline (add the podTemplate to taskRunTemplate; Tekton
 * merges it into every taskRunSpecs entry). T is a name or a Pulumi input of one.
 */
export function pipelineRunIdentities<T = string>(pipelineServiceAccount: T, prCodeServiceAccount: T): PipelineRunIdentities<T> {
    return {
        taskRunTemplate: { serviceAccountName: prCodeServiceAccount },
        taskRunSpecs: Object.keys(CLUSTER_PIPELINE_TASKS).map((pipelineTaskName) => ({
            pipelineTaskName, serviceAccountName: pipelineServiceAccount,
        })),
    };
}
