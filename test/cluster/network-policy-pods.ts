// Pods labelled as the real producers label them, for checking which pods the stored NetworkPolicies select
// (test/cluster/pulumi-up.test.ts). No Tekton controller runs here, so a task pod's labels are put together
// the way Tekton v1.15 does it; a PR pod's come from the deploy scripts' own run_labels.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { SCRIPTS } from "../support/repo";

/**
 * The labels Tekton v1.15 gives the pod of one pipeline task of a PipelineRun (github.com/tektoncd/pipeline
 * v1.15.0): the PipelineRun's labels plus `tekton.dev/pipeline` (propagatePipelineNameLabelToPipelineRun,
 * from pipelineRef.name), then for the TaskRun `tekton.dev/pipelineRun`, `pipelineRunUID`, `pipelineTask`
 * and `memberOf` (createChildResourceLabels), the referenced Task's labels below the TaskRun's and
 * `tekton.dev/task` (storeTaskSpecAndMergeMeta), and on the pod `tekton.dev/taskRun`, `taskRunUID` and
 * `app.kubernetes.io/managed-by: tekton-pipelines` over everything (pkg/pod makeLabels).
 */
export function tektonTaskPodLabels(args: {
    pipelineRunLabels: Record<string, string>;
    pipelineName: string;
    pipelineRunName: string;
    pipelineTask: string;
    memberOf: "tasks" | "finally";
    taskName: string;
    taskLabels: Record<string, string>;
}): Record<string, string> {
    const pipelineRun = { ...args.pipelineRunLabels, "tekton.dev/pipeline": args.pipelineRunLabels["tekton.dev/pipeline"] ?? args.pipelineName };
    const taskRun = {
        ...pipelineRun,
        "tekton.dev/pipelineRun": args.pipelineRunName,
        "tekton.dev/pipelineRunUID": "00000000-0000-4000-8000-000000000001",
        "tekton.dev/pipelineTask": args.pipelineTask,
        "tekton.dev/memberOf": args.memberOf,
    };
    const merged = { ...args.taskLabels, ...taskRun, "tekton.dev/task": args.taskName };
    return {
        ...merged,
        "tekton.dev/taskRun": `${args.pipelineRunName}-${args.pipelineTask}`.slice(0, 63).replace(/-+$/, ""),
        "tekton.dev/taskRunUID": "00000000-0000-4000-8000-000000000002",
        "app.kubernetes.io/managed-by": "tekton-pipelines",
    };
}

/** The labels of the affinity-assistant pod of a PipelineRun (getStatefulSetLabels): the run's labels, no pipeline task. */
export function affinityAssistantLabels(pipelineRunLabels: Record<string, string>, pipelineName: string, pipelineRunName: string): Record<string, string> {
    return {
        ...pipelineRunLabels,
        "tekton.dev/pipeline": pipelineName,
        "tekton.dev/pipelineRun": pipelineRunName,
        "app.kubernetes.io/instance": "affinity-assistant-0123456789",
        "app.kubernetes.io/component": "affinity-assistant",
    };
}

/** What the deploy scripts label an object of a run with (run_labels in tekton/scripts/lib-common.sh). */
export function runLabels(app: string, role: string): Record<string, string> {
    const r = spawnSync("bash", ["-c", `. "${path.join(SCRIPTS, "lib-common.sh")}" && run_labels "$1" "$2"`, "run-labels", app, role], {
        encoding: "utf8",
        env: { ...process.env, RUN_ID: "11111111-2222-4333-8444-555555555555", RUN_NAME: "stack-pr-test-run-1" },
    });
    if (r.status !== 0) throw new Error(`run_labels failed: ${r.stderr}`);
    return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split("=") as [string, string]));
}

/** A NetworkPolicy label selector in kubectl's `-l` syntax, so that the API server evaluates it. */
export function selectorArg(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }): string {
    const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
    for (const e of selector.matchExpressions ?? []) {
        switch (e.operator) {
            case "In": parts.push(`${e.key} in (${(e.values ?? []).join(",")})`); break;
            case "NotIn": parts.push(`${e.key} notin (${(e.values ?? []).join(",")})`); break;
            case "Exists": parts.push(e.key); break;
            case "DoesNotExist": parts.push(`!${e.key}`); break;
            default: throw new Error(`unknown selector operator ${e.operator}`);
        }
    }
    if (parts.length === 0) throw new Error("an empty selector selects every pod; the policies must not have one");
    return parts.join(",");
}
