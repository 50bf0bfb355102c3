/**
 * Every Task the program installs: the ones written as YAML under tekton/tasks/ and the ones built in code from
 * a shape and a table (issue 19), each family in its own module.
 */
import { COMPILE_TOOLS, compileTask } from "./compileTasks";
import { deployTask, DEPLOY_TASKS } from "./deployTasks";
import { KubeObject, readFolder } from "./tektonSources";
import { ROUTING_CHECKS, validateTask } from "./validateTasks";

/** The Tasks built in code, with the module that builds each (named when a YAML file would shadow one). */
export function builtTasks(): Array<{ task: KubeObject; builtBy: string }> {
    return [
        ...COMPILE_TOOLS.map((t) => ({ task: compileTask(t), builtBy: "lib/compileTasks.ts from its table of tools" })),
        ...ROUTING_CHECKS.map((c) => ({ task: validateTask(c), builtBy: "lib/validateTasks.ts from its table of routing checks" })),
        ...DEPLOY_TASKS.map((b) => ({ task: deployTask(b), builtBy: "lib/deployTasks.ts from its table of intercept backends" })),
    ];
}

/**
 * Every Task the program installs, sorted by name: `written` (the files under tekton/tasks/) and the Tasks
 * built in code. Throws when a written Task has the name of one built in code (a second copy that could drift).
 */
export function readTasks(written: KubeObject[] = readFolder("tasks", "Task")): KubeObject[] {
    const built = builtTasks();
    for (const { task, builtBy } of built) {
        const name = task.metadata.name;
        if (written.some((w) => w.metadata.name === name)) {
            throw new Error(`tekton/tasks/${name}.yaml: ${name} is built by ${builtBy}; remove the file`);
        }
    }
    return [...written, ...built.map((b) => b.task)].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** The installed Task of that name; throws naming the Tasks there are when there is none. */
export function readTask(name: string): KubeObject {
    const tasks = readTasks();
    const found = tasks.find((t) => t.metadata.name === name);
    if (!found) throw new Error(`no Task ${name}; the program installs ${tasks.map((t) => t.metadata.name).join(", ")}`);
    return found;
}
