/**
 * stack-pr-continue, cut out of stack-pr-test by code (docs/pipelines.md, "stack-pr-continue").
 *
 * A continuation starts a failed run again at its deploy tasks without cloning or building: the tasks
 * upstream of them are the earlier run's work and are dropped, the results of theirs that the kept tasks read
 * become params of the same name, and a kept task's runAfter on a dropped task moves to the nearest kept
 * tasks above it. Written this way, a change to stack-pr-test's deploy-to-finally part reaches the
 * continuation by construction; the two cannot drift.
 *
 * What scripts/continue-pr.sh needs to build a run of it is written on the Pipeline as annotations (below),
 * so the script keeps no list of its own.
 */
import { COMPILE_STAGE, withCompileStage } from "./compileStage";
import { CLUSTER_PIPELINE_TASKS } from "./identities";
import { KubeObject, readFolder } from "./tektonSources";

/** The Pipeline a continuation is cut from. */
export const SOURCE_PIPELINE = "stack-pr-test";

export interface Continuation {
    /** metadata.name of the derived Pipeline. */
    name: string;
    displayName: string;
    description: string;
    /** The pipeline tasks the continuation starts again at; everything upstream of them is the earlier run's. */
    startAt: string[];
    /** Tasks upstream of startAt that run again: they read nothing an earlier task made (a cheap gate). */
    rerun: string[];
    /**
     * Values in kept tasks that name the earlier run's files, replaced by a param. `value` is the text as
     * stack-pr-test writes it, with $(context.pipelineRun.uid) standing for the earlier run's uid.
     */
    earlierRunPaths: Array<{ param: string; value: string; description: string }>;
    /** Params of the continuation's own, that no task reads (they say where the run came from). */
    ownParams: Array<{ name: string; description: string }>;
    /** Added to the description of the param a result becomes. */
    resultNotes: Record<string, string>;
    /**
     * Params whose declaration differs in a continuation, by name: ones the source needs for building and a
     * continuation only hands to the finally tasks become optional.
     */
    paramOverrides: Record<string, { default?: string; description?: string }>;
    /** Workspace descriptions that differ in a continuation. */
    workspaceDescriptions: Record<string, string>;
}

/** What continue-pr.sh reads off the derived Pipeline (JSON in ANNOTATION_PARAMS, a word list in ANNOTATION_CLUSTER_TASKS). */
export const ANNOTATION_PARAMS = "tekton-dag.io/continuation-params";
export const ANNOTATION_CLUSTER_TASKS = "tekton-dag.io/cluster-tasks";
/** The uid placeholder in ANNOTATION_PARAMS' earlierRunPaths, filled in by continue-pr.sh. */
export const EARLIER_UID = "{uid}";
const THIS_UID = "$(context.pipelineRun.uid)";

/** The continuation parameters, as the annotation holds them. */
export interface ContinuationParams {
    /** The pipeline it continues. */
    continues: string;
    /** Params taken as the earlier run was started with them. */
    copied: string[];
    /** Params that are an earlier task's result of the same name: param -> pipeline task. */
    results: Record<string, string>;
    /** Params naming the earlier run's files: param -> path, EARLIER_UID standing for the earlier run's uid. */
    earlierRunPaths: Record<string, string>;
    /** The params of its own: previous-run. */
    own: string[];
}

export const STACK_PR_CONTINUE: Continuation = {
    name: "stack-pr-continue",
    displayName: "stack PR test (continue from deploy)",
    description:
        "Continues a stack-pr-test run that failed at or after deploy, without cloning or building again: takes " +
        "the earlier run's resolve-stack and containerize results as params and runs the same " +
        "check-intercept-backend, deploy (Telepresence or mirrord), deploy-intercepts-result, validation, tests " +
        "and finally tasks as stack-pr-test, as a new run with its own run id. stack-json and the other large " +
        "values may be @paths into the earlier run's directory of the same workspace (read only). " +
        "scripts/continue-pr.sh builds such a PipelineRun from the failed run's name (docs/pipelines.md).",
    startAt: ["deploy-intercepts-telepresence", "deploy-intercepts-mirrord"],
    rerun: ["check-intercept-backend"],
    earlierRunPaths: [{
        param: "platform-dir",
        value: `.tekton-dag/runs/${THIS_UID}/platform`,
        description: "The earlier run's platform checkout relative to the workspace (.tekton-dag/runs/<uid>/platform); needed by hooks only.",
    }],
    ownParams: [{ name: "previous-run", description: "Name of the stack-pr-test run this one continues (informational)." }],
    resultNotes: { "stack-json": "inline or @path" },
    paramOverrides: {
        "changed-app": { default: "", description: "The app whose PR is tested (handed to the hooks)." },
        "pr-number": { default: "", description: "The PR number, for the PR comment." },
        "repo-full-name": { description: "owner/name of the repo the PR belongs to, for the PR comment; empty = no comment." },
        "app-revision": {
            default: "",
            description: "The commit the earlier run tested (its app-revision); the commit status is set on it, none when empty.",
        },
    },
    workspaceDescriptions: {
        "shared-workspace": "The same volume the earlier run used; this run's data goes under .tekton-dag/runs/<its uid>/.",
    },
};

type PipelineTask = { name: string; runAfter?: string[]; [key: string]: any };

const RESULT_REF = /\$\(tasks\.([a-z0-9-]+)\.results\.([a-zA-Z0-9_-]+)\)/g;
const PARAM_REF = /\$\(params\.([a-zA-Z0-9_-]+)\)/g;

/** Every `$(tasks.X.results.Y)` anywhere in a value, in order. */
function resultRefs(value: unknown): Array<{ task: string; result: string }> {
    return [...JSON.stringify(value ?? null).matchAll(RESULT_REF)].map((m) => ({ task: m[1], result: m[2] }));
}

/** The tasks a pipeline task waits for: its runAfter and the tasks whose results it reads. */
function parents(task: PipelineTask): string[] {
    return [...new Set([...(task.runAfter ?? []), ...resultRefs(task).map((r) => r.task)])];
}

/** Replaces text in every string of a JSON-like value. */
function mapStrings<T>(value: T, f: (s: string) => string): T {
    if (typeof value === "string") return f(value) as unknown as T;
    if (Array.isArray(value)) return value.map((v) => mapStrings(v, f)) as unknown as T;
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)])) as T;
    }
    return value;
}

/** Derives the continuation Pipeline from its source; throws naming what does not fit. */
export function deriveContinuation(source: KubeObject, c: Continuation = STACK_PR_CONTINUE): KubeObject {
    const where = `deriving ${c.name} from Pipeline ${source.metadata.name}`;
    const tasks: PipelineTask[] = source.spec?.tasks ?? [];
    const finallyTasks: PipelineTask[] = source.spec?.finally ?? [];
    const byName = new Map(tasks.map((t) => [t.name, t]));
    for (const name of [...c.startAt, ...c.rerun]) {
        if (!byName.has(name)) throw new Error(`${where}: it has no task "${name}"; tasks: ${[...byName.keys()].join(", ")}`);
    }

    // Dropped: everything upstream of the start tasks except the ones that run again.
    const upstream = new Set<string>();
    const climb = (name: string) => {
        for (const p of parents(byName.get(name)!)) {
            if (!byName.has(p)) throw new Error(`${where}: task "${name}" waits for "${p}", which is not one of its tasks`);
            if (!upstream.has(p)) {
                upstream.add(p);
                climb(p);
            }
        }
    };
    c.startAt.forEach(climb);
    for (const name of c.rerun) {
        if (!upstream.has(name)) throw new Error(`${where}: "${name}" is to run again but is not upstream of ${c.startAt.join(", ")}`);
        const reads = [...new Set(resultRefs(byName.get(name)).map((r) => r.task))];
        if (reads.length > 0) throw new Error(`${where}: "${name}" runs again but reads results of ${reads.join(", ")}, which a continuation does not run`);
    }
    const dropped = new Set([...upstream].filter((n) => !c.rerun.includes(n)));

    // runAfter on a dropped task moves to the nearest kept tasks above it.
    const keptAbove = (name: string, seen = new Set<string>()): string[] => {
        if (!dropped.has(name)) return [name];
        if (seen.has(name)) return [];
        seen.add(name);
        return parents(byName.get(name)!).flatMap((p) => keptAbove(p, seen));
    };
    const resultParams = new Map<string, string>(); // param -> task
    const rewrite = (task: PipelineTask): PipelineTask => {
        const copy: PipelineTask = mapStrings(structuredClone(task), (s) => {
            let out = s.replace(RESULT_REF, (ref, from: string, result: string) => {
                if (!dropped.has(from)) return ref;
                const other = resultParams.get(result);
                if (other !== undefined && other !== from) {
                    throw new Error(`${where}: results "${result}" of both ${other} and ${from} would become param "${result}"`);
                }
                resultParams.set(result, from);
                return `$(params.${result})`;
            });
            for (const p of c.earlierRunPaths) out = out.split(p.value).join(`$(params.${p.param})`);
            return out;
        });
        if (task.runAfter) {
            const runAfter = [...new Set(task.runAfter.flatMap((n) => keptAbove(n)))];
            if (runAfter.length > 0) copy.runAfter = runAfter;
            else delete copy.runAfter;
        }
        return copy;
    };
    const keptTasks = tasks.filter((t) => !dropped.has(t.name)).map(rewrite);
    const keptFinally = finallyTasks.map(rewrite);
    const results = (source.spec?.results ?? []).filter((r: any) => resultRefs(r).every((ref) => !dropped.has(ref.task)));

    // Params: the results taken as params, the earlier run's paths, its own, then the source's the kept tasks read.
    const paramRefs = (value: unknown) => new Set([...JSON.stringify(value).matchAll(PARAM_REF)].map((m) => m[1]));
    const keptSources = [...tasks.filter((t) => !dropped.has(t.name)), ...finallyTasks, results];
    const readBefore = paramRefs(keptSources);
    const generated = [...resultParams.keys(), ...c.earlierRunPaths.map((p) => p.param), ...c.ownParams.map((p) => p.name)];
    const clash = generated.filter((n) => readBefore.has(n));
    if (clash.length > 0) {
        throw new Error(`${where}: params ${clash.join(", ")} would mean two things: the kept tasks already read a param of that name`);
    }
    const copied = (source.spec?.params ?? []).filter((p: any) => readBefore.has(p.name));
    const declared = new Set([...generated, ...copied.map((p: any) => p.name)]);
    const undeclared = [...paramRefs([keptTasks, keptFinally, results])].filter((n) => !declared.has(n));
    if (undeclared.length > 0) throw new Error(`${where}: the kept tasks read params it does not declare: ${undeclared.join(", ")}`);
    const params = [
        ...[...resultParams].map(([name, task]) => ({
            name, type: "string",
            description: `${task}'s ${name} of the earlier run${c.resultNotes[name] ? ` (${c.resultNotes[name]})` : ""}.`,
        })),
        ...c.earlierRunPaths.map((p) => ({ name: p.param, type: "string", default: "", description: p.description })),
        ...c.ownParams.map((p) => ({ name: p.name, type: "string", default: "", description: p.description })),
        ...structuredClone(copied),
    ].map((p: any) => ({ ...p, ...c.paramOverrides[p.name] }));
    const unknown = Object.keys(c.paramOverrides).filter((n) => !params.some((p: any) => p.name === n));
    if (unknown.length > 0) throw new Error(`${where}: paramOverrides name params it does not have: ${unknown.join(", ")}`);

    const usedWorkspaces = new Set([...keptTasks, ...keptFinally].flatMap((t) => (t.workspaces ?? []).map((w: any) => w.workspace)));
    const workspaces = (source.spec?.workspaces ?? [])
        .filter((w: any) => usedWorkspaces.has(w.name))
        .map((w: any) => ({ ...w, ...(c.workspaceDescriptions[w.name] ? { description: c.workspaceDescriptions[w.name] } : {}) }));

    const allKept = [...keptTasks, ...keptFinally].map((t) => t.name);
    const missingClusterTasks = Object.keys(CLUSTER_PIPELINE_TASKS).filter((n) => !allKept.includes(n));
    if (missingClusterTasks.length > 0) {
        // Runs of either pipeline get the same taskRunSpecs (lib/identities.ts); Tekton fails a run naming a task it lacks.
        throw new Error(`${where}: it would lack the cluster tasks ${missingClusterTasks.join(", ")} (lib/identities.ts)`);
    }
    const annotation: ContinuationParams = {
        continues: source.metadata.name,
        copied: copied.map((p: any) => p.name),
        results: Object.fromEntries(resultParams),
        earlierRunPaths: Object.fromEntries(c.earlierRunPaths.map((p) => [p.param, p.value.split(THIS_UID).join(EARLIER_UID)])),
        own: c.ownParams.map((p) => p.name),
    };

    return {
        apiVersion: source.apiVersion,
        kind: source.kind,
        metadata: {
            name: c.name,
            ...(source.metadata.labels ? { labels: { ...source.metadata.labels } } : {}),
            annotations: {
                ...source.metadata.annotations,
                "tekton.dev/displayName": c.displayName,
                [ANNOTATION_PARAMS]: JSON.stringify(annotation),
                [ANNOTATION_CLUSTER_TASKS]: Object.keys(CLUSTER_PIPELINE_TASKS).join(" "),
            },
        },
        spec: {
            description: c.description,
            params,
            workspaces,
            ...(results.length > 0 ? { results } : {}),
            tasks: keptTasks,
            ...(keptFinally.length > 0 ? { finally: keptFinally } : {}),
        },
    };
}

/** The Pipelines under tekton/pipelines/, stack-pr-test with its compile stage put in (lib/compileStage.ts). */
export function readWrittenPipelines(): KubeObject[] {
    return readFolder("pipelines", "Pipeline").map((p) => (p.metadata.name === COMPILE_STAGE.pipeline ? withCompileStage(p) : p));
}

/** The Pipelines the program installs: those under tekton/pipelines/ and the continuation derived from its source. */
export function readPipelines(c: Continuation = STACK_PR_CONTINUE): KubeObject[] {
    const written = readWrittenPipelines();
    const source = written.find((p) => p.metadata.name === SOURCE_PIPELINE);
    if (!source) throw new Error(`tekton/pipelines/ has no ${SOURCE_PIPELINE}.yaml, which ${c.name} is derived from`);
    if (written.some((p) => p.metadata.name === c.name)) {
        throw new Error(`tekton/pipelines/${c.name}.yaml: ${c.name} is derived from ${SOURCE_PIPELINE} by lib/continuePipeline.ts; remove the file`);
    }
    return [...written, deriveContinuation(source, c)].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}
