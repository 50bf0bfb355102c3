/**
 * stack-pr-test's compile stage, built from the table of tools in lib/compileTasks.ts (issue 19): one
 * compile-<tool> pipeline task and one compile-image-<tool> param per tool, so a new tool is a row there and
 * nothing here or in the YAML. The YAML writes the stage's neighbours only: the stage runs after
 * COMPILE_STAGE.after, and a task the YAML runs after that one runs after the whole stage instead.
 */
import { COMPILE_TOOLS, CompileTool } from "./compileTasks";
import { KubeObject } from "./tektonSources";

export const COMPILE_STAGE = {
    /** The Pipeline that has the stage. */
    pipeline: "stack-pr-test",
    /** The pipeline task the compile tasks run after (and are listed after). */
    after: "hook-pre-build",
    /** The param the compile-image-<tool> params are declared before. */
    paramsBefore: "pre-build-hook",
};

/** The param that chooses a tool's image; its default is the table's, the one place it is written. */
export function compileImageParam(t: CompileTool): Record<string, string> {
    return { name: `compile-image-${t.tool}`, type: "string", default: t.image, description: `Image of compile-${t.tool}.` };
}

/**
 * The pipeline task compile-<tool>. Exactly one compile task runs: the one for the changed app's build tool.
 * A task skipped by its `when` does not skip the tasks that runAfter it, so those still run after the others.
 */
export function compilePipelineTask(t: CompileTool): Record<string, unknown> {
    return {
        name: `compile-${t.tool}`,
        runAfter: [COMPILE_STAGE.after],
        when: [{ input: "$(tasks.resolve-stack.results.build-tool)", operator: "in", values: [t.tool] }],
        taskRef: { name: `compile-${t.tool}` },
        params: [
            { name: "app", value: "$(tasks.resolve-stack.results.changed-app)" },
            { name: "run-id", value: "$(context.pipelineRun.uid)" },
            { name: "context-dir", value: "$(tasks.resolve-stack.results.app-context-dir)" },
            { name: "image", value: `$(params.compile-image-${t.tool})` },
        ],
        workspaces: [{ name: "shared-workspace", workspace: "shared-workspace" }],
    };
}

/**
 * The Pipeline with its compile stage put in. Throws naming what is wrong when the YAML writes a compile task
 * or compile-image param itself (a second copy that could drift) or lacks the task or param the stage is put
 * next to.
 */
export function withCompileStage(pipeline: KubeObject, tools: readonly CompileTool[] = COMPILE_TOOLS): KubeObject {
    const copy = structuredClone(pipeline);
    const where = `Pipeline ${copy.metadata.name}`;
    const params: any[] = copy.spec?.params ?? [];
    const tasks: any[] = copy.spec?.tasks ?? [];
    const built = "is built by lib/compileStage.ts from the table of tools in lib/compileTasks.ts; remove it from the YAML";
    for (const p of params) if (/^compile-image-/.test(p.name)) throw new Error(`${where}: param ${p.name} ${built}`);
    for (const t of [...tasks, ...(copy.spec?.finally ?? [])]) {
        if (/^compile-/.test(t.name) || /^compile-/.test(t.taskRef?.name ?? "")) throw new Error(`${where}: task ${t.name} ${built}`);
    }
    const at = tasks.findIndex((t) => t.name === COMPILE_STAGE.after);
    if (at < 0) throw new Error(`${where} has no task ${COMPILE_STAGE.after}, which the compile stage runs after`);
    const before = params.findIndex((p) => p.name === COMPILE_STAGE.paramsBefore);
    if (before < 0) throw new Error(`${where} has no param ${COMPILE_STAGE.paramsBefore}, which the compile-image params are declared before`);

    const stage = tools.map(compilePipelineTask);
    for (const t of tasks) {
        if (t.runAfter?.includes(COMPILE_STAGE.after)) {
            t.runAfter = t.runAfter.flatMap((n: string) => (n === COMPILE_STAGE.after ? stage.map((s) => s.name) : [n]));
        }
    }
    tasks.splice(at + 1, 0, ...stage);
    params.splice(before, 0, ...tools.map(compileImageParam));
    return copy;
}
