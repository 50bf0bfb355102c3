import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { objectMeta } from "../lib/labels";
import { registerTektonObjects } from "../lib/tektonObjects";
import { readTasks } from "../lib/tasks";
import { readScripts, withScriptsConfigMap } from "../lib/tektonSources";

export interface TektonTasksArgs {
    /** Namespace the Tasks and the scripts ConfigMap are created in. */
    readonly namespace: string;
    /** Defaults for params that stack config decides, by param name (docs/conventions.md). */
    readonly paramDefaults: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Resources that must exist first (Tekton's admission webhooks). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Every Task under tekton/tasks, the Tasks built in code (lib/tasks.ts) and the ConfigMap holding the scripts they run. The ConfigMap's name
 * carries a hash of the scripts, so a changed script yields new Tasks that point at it, and a running
 * TaskRun keeps the scripts it started with.
 */
export class TektonTasks extends pulumi.ComponentResource {
    /** Name of the scripts ConfigMap (content-addressed). */
    public readonly scriptsConfigMapName: string;
    /** Installed Task names. */
    public readonly taskNames: string[];
    public readonly tasks: Record<string, k8s.apiextensions.CustomResource>;
    public readonly scriptsConfigMap: k8s.core.v1.ConfigMap;

    constructor(name: string, args: TektonTasksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TektonTasks", name, {}, opts);

        const scripts = readScripts();
        this.scriptsConfigMapName = `tekton-dag-scripts-${scripts.hash}`;
        this.scriptsConfigMap = new k8s.core.v1.ConfigMap(`${name}-scripts`, {
            metadata: objectMeta(this.scriptsConfigMapName, "tekton-tasks", args.namespace),
            data: scripts.files,
        }, { parent: this, dependsOn: args.dependsOn });

        const tasks = readTasks().map((t) => withScriptsConfigMap(t, this.scriptsConfigMapName));
        this.tasks = registerTektonObjects(this, tasks, args.namespace, "tekton-tasks", args.paramDefaults,
            [...(args.dependsOn ?? []), this.scriptsConfigMap]);
        this.taskNames = Object.keys(this.tasks);
        this.registerOutputs({ scriptsConfigMapName: this.scriptsConfigMapName, taskNames: this.taskNames });
    }
}
