/**
 * The shape every Task the program builds in code shares (issue 19): catalog metadata, the scripts volume and
 * one step that runs a script of the scripts ConfigMap with its params handed over through env
 * (docs/conventions.md). lib/compileTasks.ts, lib/validateTasks.ts and lib/deployTasks.ts fill it in, so
 * what their Tasks have in common is written here once.
 */
import { KubeObject, SCRIPTS_VOLUME } from "./tektonSources";

export interface TaskParam {
    name: string;
    description: string;
    /** Left out: the param is required. */
    default?: string;
}

export interface EnvVar {
    name: string;
    value: string;
}

export interface ScriptTask {
    name: string;
    /** The app.kubernetes.io/version label. */
    version: string;
    /** The tekton.dev/* catalog annotations. */
    catalog: { minVersion: string; categories: string; tags: string[]; displayName: string; platforms: string };
    description: string;
    params: TaskParam[];
    workspaces: Array<{ name: string; description: string }>;
    results?: Array<{ name: string; description: string }>;
    step: {
        name: string;
        /** The param whose value is the step's image. */
        imageParam: string;
        /** The file of tekton/scripts/ the step runs. */
        script: string;
        env: EnvVar[];
        securityContext?: Record<string, unknown>;
    };
}

/** How a step reads a param. */
export const param = (name: string): string => `$(params.${name})`;

/** The env var a param reaches its script as: its name in upper snake case (`run-id` is RUN_ID). */
export function paramEnv(name: string): EnvVar {
    return { name: name.toUpperCase().replace(/-/g, "_"), value: param(name) };
}

/** The shared workspace's path, for a script that reads or writes the run's directory there. */
export const SHARED_WORKSPACE_ENV: EnvVar = { name: "SHARED_WORKSPACE", value: "$(workspaces.shared-workspace.path)" };

/** Where a step writes a result. */
export const resultPath = (name: string): string => `$(results.${name}.path)`;

export function scriptTask(t: ScriptTask): KubeObject {
    const step: Record<string, unknown> = {
        name: t.step.name,
        image: param(t.step.imageParam),
        command: [`/tekton-dag/scripts/${t.step.script}`],
        env: t.step.env,
        volumeMounts: [{ name: SCRIPTS_VOLUME, mountPath: "/tekton-dag/scripts", readOnly: true }],
    };
    if (t.step.securityContext) step.securityContext = t.step.securityContext;
    return {
        apiVersion: "tekton.dev/v1",
        kind: "Task",
        metadata: {
            name: t.name,
            labels: { "app.kubernetes.io/version": t.version },
            annotations: {
                "tekton.dev/pipelines.minVersion": t.catalog.minVersion,
                "tekton.dev/categories": t.catalog.categories,
                "tekton.dev/tags": t.catalog.tags.join(", "),
                "tekton.dev/displayName": t.catalog.displayName,
                "tekton.dev/platforms": t.catalog.platforms,
            },
        },
        spec: {
            description: t.description,
            params: t.params.map((p) => ({ name: p.name, type: "string",
                ...(p.default !== undefined ? { default: p.default } : {}), description: p.description })),
            workspaces: t.workspaces,
            ...(t.results ? { results: t.results } : {}),
            // The ConfigMap's name and mode are set when the Tasks are installed (withScriptsConfigMap).
            volumes: [{ name: SCRIPTS_VOLUME, configMap: { name: SCRIPTS_VOLUME, defaultMode: 0o555 } }],
            steps: [step],
        },
    };
}
