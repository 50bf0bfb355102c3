// Shared by the tests under test/pipelines: reading the Tekton sources and walking pipeline graphs.
import { readTasks } from "../../lib/tasks";
import { readPipelines } from "../../lib/continuePipeline";

/** A Pipeline as the program installs it before placing it: stack-pr-test from its YAML, stack-pr-continue derived from it. */
export function pipeline(name: string): any {
    const found = readPipelines().find((p) => p.metadata.name === name);
    if (!found) throw new Error(`no Pipeline ${name}; the program installs ${readPipelines().map((p) => p.metadata.name).join(", ")}`);
    return found;
}

/** Every Task the program installs, before it is placed: tekton/tasks/ and the Tasks built in code (lib/tasks.ts). */
export function tasks(): any[] {
    return readTasks();
}

/** The Task of that name, or undefined when there is none. */
export function task(name: string): any | undefined {
    return readTasks().find((t) => t.metadata.name === name);
}

export const PIPELINE_NAMES = ["stack-pr-test", "stack-pr-continue"];

export function allPipelineTasks(p: any): any[] {
    return [...(p.spec.tasks ?? []), ...(p.spec.finally ?? [])];
}

export function pipelineTask(p: any, name: string): any {
    const t = allPipelineTasks(p).find((x) => x.name === name);
    if (!t) throw new Error(`pipeline ${p.metadata.name} has no task ${name}`);
    return t;
}

export function paramValue(t: any, name: string): string | undefined {
    return (t.params ?? []).find((p: any) => p.name === name)?.value;
}

/** Every `$(tasks.X.results.Y)` a pipeline task uses, in params or when. */
export function resultRefs(t: any): { task: string; result: string }[] {
    const text = JSON.stringify({ params: t.params ?? [], when: t.when ?? [] });
    return [...text.matchAll(/\$\(tasks\.([a-z0-9-]+)\.results\.([a-zA-Z0-9_-]+)\)/g)].map((m) => ({ task: m[1], result: m[2] }));
}

/** Direct parents: runAfter and the tasks whose results it reads. */
export function parents(t: any): string[] {
    return [...new Set([...(t.runAfter ?? []), ...resultRefs(t).map((r) => r.task)])];
}

export function ancestors(p: any, name: string): Set<string> {
    const byName = new Map<string, any>(p.spec.tasks.map((t: any) => [t.name, t]));
    const seen = new Set<string>();
    const visit = (n: string) => {
        for (const parent of parents(byName.get(n) ?? {})) {
            if (!seen.has(parent)) {
                seen.add(parent);
                visit(parent);
            }
        }
    };
    visit(name);
    return seen;
}

export type Outcome = "succeeded" | "failed" | "skipped" | "not-run";

/**
 * A small model of how Tekton schedules a Pipeline's `tasks` (not finally):
 * - a failed task stops the run: nothing else is started ("not-run");
 * - a task whose `when` is false is skipped, and that does NOT skip the tasks that runAfter it;
 * - a task reading a result of a skipped task is skipped too (MissingResultsSkip);
 * - otherwise the task runs and `run(name)` says whether it succeeded.
 */
export function simulate(
    p: any,
    params: Record<string, string>,
    results: Record<string, Record<string, string>>,
    run: (name: string) => boolean,
): Record<string, Outcome> {
    const tasks: any[] = p.spec.tasks;
    const defaults: Record<string, string> = {};
    for (const decl of p.spec.params ?? []) if (decl.default !== undefined) defaults[decl.name] = decl.default;
    const allParams = { ...defaults, ...params };
    const outcome: Record<string, Outcome> = {};
    const substitute = (s: string) =>
        s
            .replace(/\$\(params\.([a-z0-9-]+)\)/g, (_m, n) => {
                if (!(n in allParams)) throw new Error(`param ${n} has no value`);
                return allParams[n];
            })
            .replace(/\$\(tasks\.([a-z0-9-]+)\.results\.([a-zA-Z0-9_-]+)\)/g, (_m, t, r) => results[t]?.[r] ?? "");
    let stopped = false;
    const pending = [...tasks];
    while (pending.length) {
        const i = pending.findIndex((t) => parents(t).every((n) => n in outcome));
        if (i < 0) throw new Error(`cycle or unknown parent among ${pending.map((t) => t.name).join(", ")}`);
        const t = pending.splice(i, 1)[0];
        const ps = parents(t);
        if (stopped || ps.some((n) => outcome[n] === "failed" || outcome[n] === "not-run")) {
            outcome[t.name] = "not-run";
            continue;
        }
        if (resultRefs(t).some((r) => outcome[r.task] === "skipped")) {
            outcome[t.name] = "skipped";
            continue;
        }
        const whenTrue = (t.when ?? []).every((w: any) => {
            const input = substitute(w.input);
            const values = (w.values ?? []).map(substitute);
            if (w.operator === "in") return values.includes(input);
            if (w.operator === "notin") return !values.includes(input);
            throw new Error(`unknown when operator ${w.operator}`);
        });
        if (!whenTrue) {
            outcome[t.name] = "skipped";
            continue;
        }
        outcome[t.name] = run(t.name) ? "succeeded" : "failed";
        if (outcome[t.name] === "failed") stopped = true;
    }
    return outcome;
}
