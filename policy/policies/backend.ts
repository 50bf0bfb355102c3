import type { StackValidationPolicy } from "@pulumi/policy";
import {
    asArray, BACKENDS, describe, findStrings, metadataName, PIPELINE_NAMES, PolicyInput, TYPES, Violation,
} from "./common";

export const BACKEND_PARAM = "intercept-backend";
export const DEPLOY_TASKS = {
    telepresence: "deploy-intercepts-telepresence",
    mirrord: "deploy-intercepts-mirrord",
} as const;
export const PASS_THROUGH_TASK = "deploy-intercepts-result";

/** Stands for every backend value other than the known ones (an unknown or empty backend). */
const OTHER = "<any other value>";
const UNIVERSE = [...BACKENDS, OTHER];

const BACKEND_REF = /^\$\(params(?:\.intercept-backend|\[["']intercept-backend["']\])\)$/;
const BACKEND_CEL = /^\s*["']\$\(params\.intercept-backend\)["']\s*(==|!=)\s*["']([^"']*)["']\s*$/;

/**
 * The backend values for which a task's `when` lets it run, or a problem when the guard cannot be read.
 * `undefined` values means the task has no guard on intercept-backend.
 */
export function admittedBackends(when: unknown): { values?: Set<string>; problem?: string } {
    let admitted: Set<string> | undefined;
    const restrict = (set: Set<string>) => {
        admitted = new Set([...(admitted ?? UNIVERSE)].filter((v) => set.has(v)));
    };
    for (const expr of asArray(when)) {
        if (typeof expr?.cel === "string") {
            if (!expr.cel.includes(`$(params.${BACKEND_PARAM})`)) continue;
            const m = BACKEND_CEL.exec(expr.cel);
            if (!m) return { problem: `CEL guard ${JSON.stringify(expr.cel)} cannot be analysed; use {input: "$(params.${BACKEND_PARAM})", operator: in, values: [...]}` };
            const value = m[2];
            const known = UNIVERSE.includes(value) ? value : OTHER;
            restrict(m[1] === "==" ? new Set([known]) : new Set(UNIVERSE.filter((v) => v !== known || known === OTHER)));
            continue;
        }
        if (typeof expr?.input !== "string" || !BACKEND_REF.test(expr.input.trim())) continue;
        const values = new Set(asArray(expr.values).map((v) => (UNIVERSE.includes(String(v)) ? String(v) : OTHER)));
        if (expr.operator === "in") restrict(values);
        else if (expr.operator === "notin") restrict(new Set(UNIVERSE.filter((v) => !values.has(v) || v === OTHER)));
        else return { problem: `operator ${JSON.stringify(expr.operator)} is not "in" or "notin"` };
    }
    return { values: admitted };
}

function taskIndex(tasks: any[], name: string): number {
    return tasks.findIndex((t) => t && t.name === name);
}

/** Checks one of the two PR pipelines; returns messages naming the pipeline and the field. */
export function checkBackendPipeline(pipeline: PolicyInput): string[] {
    const problems: string[] = [];
    const who = describe(pipeline);
    const spec = pipeline.props?.spec ?? {};

    // 1. The backend param and its default.
    const params = asArray(spec.params);
    const pi = params.findIndex((p) => p && p.name === BACKEND_PARAM);
    if (pi < 0) {
        problems.push(`${who}: spec.params has no "${BACKEND_PARAM}"; declare it with a default of ${BACKENDS.join(" or ")}.`);
    } else if (!(BACKENDS as readonly string[]).includes(params[pi].default)) {
        problems.push(`${who}: spec.params[${pi}].default of "${BACKEND_PARAM}" is ${JSON.stringify(params[pi].default)}; it must be one of ${BACKENDS.join(", ")} (stack config interceptBackend sets it).`);
    }

    // 2. Exactly the two guarded deploy tasks, with disjoint guards that admit their own backend.
    const tasks = asArray(spec.tasks);
    const admitted: Partial<Record<(typeof BACKENDS)[number], { index: number; values: Set<string> }>> = {};
    for (const backend of BACKENDS) {
        const name = DEPLOY_TASKS[backend];
        const i = taskIndex(tasks, name);
        if (i < 0) {
            problems.push(`${who}: spec.tasks has no task "${name}"; both deploy tasks (${Object.values(DEPLOY_TASKS).join(", ")}) must be present, each guarded by a when on $(params.${BACKEND_PARAM}).`);
            continue;
        }
        const result = admittedBackends(tasks[i].when);
        if (result.problem) {
            problems.push(`${who}: spec.tasks[${i}].when of "${name}": ${result.problem}.`);
        } else if (!result.values) {
            problems.push(`${who}: spec.tasks[${i}].when of "${name}" does not test $(params.${BACKEND_PARAM}); guard it with {input: "$(params.${BACKEND_PARAM})", operator: in, values: ["${backend}"]}.`);
        } else if (!result.values.has(backend)) {
            problems.push(`${who}: spec.tasks[${i}].when of "${name}" never admits ${BACKEND_PARAM}=${backend}; it must run exactly when the backend is ${backend}.`);
        } else {
            admitted[backend] = { index: i, values: result.values };
        }
    }
    const t = admitted.telepresence;
    const m = admitted.mirrord;
    if (t && m) {
        const both = [...t.values].filter((v) => m.values.has(v));
        if (both.length > 0) {
            problems.push(`${who}: spec.tasks[${t.index}].when and spec.tasks[${m.index}].when both admit ${BACKEND_PARAM}=${both.join(", ")}; the deploy tasks' conditions must be disjoint so at most one runs.`);
        }
    }
    const allowed = new Set<string>([...Object.values(DEPLOY_TASKS), PASS_THROUGH_TASK]);
    tasks.forEach((task, i) => {
        const name = String(task?.name ?? "");
        if (allowed.has(name)) return;
        const guarded = admittedBackends(task?.when);
        if (name.startsWith("deploy-intercepts-") || guarded.values || guarded.problem) {
            problems.push(`${who}: spec.tasks[${i}] ("${name}") is an extra intercept-deploy task or is guarded by $(params.${BACKEND_PARAM}); only ${DEPLOY_TASKS.telepresence} and ${DEPLOY_TASKS.mirrord} may be, and downstream tasks read ${PASS_THROUGH_TASK}.`);
        }
    });

    // 3. The pass-through runs after both, unguarded.
    const ri = taskIndex(tasks, PASS_THROUGH_TASK);
    if (ri < 0) {
        problems.push(`${who}: spec.tasks has no task "${PASS_THROUGH_TASK}"; add the pass-through that runs after both deploy tasks and that downstream tasks read deployed-pods from.`);
    } else {
        const pass = tasks[ri];
        if (asArray(pass.when).length > 0) {
            problems.push(`${who}: spec.tasks[${ri}].when of "${PASS_THROUGH_TASK}" must be empty; the pass-through has to run whichever backend deployed.`);
        }
        const after = asArray(pass.runAfter);
        for (const name of Object.values(DEPLOY_TASKS)) {
            if (!after.includes(name)) {
                problems.push(`${who}: spec.tasks[${ri}].runAfter of "${PASS_THROUGH_TASK}" does not name "${name}"; it must run after both deploy tasks.`);
            }
        }
    }

    // 4. Nothing reads a result of a when-guarded deploy task (one of them is always skipped).
    const guardedResult = new RegExp(`\\$\\(tasks\\.(?:${Object.values(DEPLOY_TASKS).join("|")})\\.results\\.[^)]*\\)`);
    tasks.forEach((task, i) => {
        for (const hit of findStrings(task, `spec.tasks[${i}]`, guardedResult)) {
            problems.push(`${who}: ${hit.path} references ${hit.match}; one deploy task is always skipped, so a consumer of its result is skipped too — read ${PASS_THROUGH_TASK}'s results instead.`);
        }
    });
    asArray(spec.finally).forEach((task, i) => {
        for (const hit of findStrings(task, `spec.finally[${i}]`, /\$\(tasks\.[^.)]+\.results\.[^)]*\)/)) {
            problems.push(`${who}: ${hit.path} references ${hit.match}; a finally task whose result reference cannot be resolved is skipped silently — find the data by run label or in the run's workspace directory instead.`);
        }
    });
    return problems;
}

/** Backend policy over the whole stack: both pipelines exist and each passes checkBackendPipeline. */
export function checkBackend(resources: PolicyInput[]): Violation[] {
    const violations: Violation[] = [];
    const pipelines = resources.filter((r) => r.type === TYPES.pipeline);
    for (const name of PIPELINE_NAMES) {
        const found = pipelines.filter((p) => metadataName(p) === name);
        if (found.length === 0) {
            violations.push({ message: `Pipeline ${name} is not registered; the stack must install both ${PIPELINE_NAMES.join(" and ")} (tekton/pipelines/).` });
        }
        for (const p of found) {
            for (const message of checkBackendPipeline(p)) violations.push({ message, urn: p.urn });
        }
    }
    return violations;
}

export const backendPolicy: StackValidationPolicy = {
    name: "backend",
    description:
        "Both PR pipelines (stack-pr-test, stack-pr-continue) declare intercept-backend with a default of telepresence or mirrord, " +
        "run exactly the two deploy tasks deploy-intercepts-telepresence and deploy-intercepts-mirrord under disjoint when guards " +
        "plus the unguarded pass-through deploy-intercepts-result, and no finally task reads a task result. " +
        "Fix the pipeline YAML under tekton/pipelines/ as the message says.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        for (const v of checkBackend(args.resources as PolicyInput[])) reportViolation(v.message, v.urn);
    },
};
