import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { registerTektonObjects } from "../lib/tektonObjects";
import { readPipelines } from "../lib/continuePipeline";

export interface TektonPipelinesArgs {
    /** Namespace the Pipelines are created in (the Tasks' namespace). */
    readonly namespace: string;
    /** Defaults for params that stack config decides, e.g. `intercept-backend`, `mirrord-image`. */
    readonly paramDefaults: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Names of the installed Tasks; every taskRef by name must be one of them. */
    readonly taskNames: string[];
    /** The Tasks (created first, so a Pipeline never points at a missing Task). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Task names a pipeline refers to by name (resolver references are pinned elsewhere and not listed). */
export function referencedTaskNames(pipeline: { [key: string]: any }): string[] {
    const tasks = [...(pipeline.spec?.tasks ?? []), ...(pipeline.spec?.finally ?? [])];
    return tasks.filter((t: any) => t.taskRef?.name).map((t: any) => t.taskRef.name as string);
}

/** Fails naming the Pipeline and the Tasks it refers to that are not installed. */
export function checkTaskRefs(pipelines: Array<{ [key: string]: any }>, taskNames: string[]): void {
    for (const pipeline of pipelines) {
        const missing = referencedTaskNames(pipeline).filter((t) => !taskNames.includes(t));
        if (missing.length > 0) {
            throw new Error(`Pipeline ${pipeline.metadata.name} refers to Tasks that are not installed: ` +
                `${[...new Set(missing)].join(", ")}; installed: ${taskNames.join(", ")}`);
        }
    }
}

/** The stack-pr-test Pipeline and stack-pr-continue derived from it, their param defaults following stack config. */
export class TektonPipelines extends pulumi.ComponentResource {
    public readonly pipelineNames: string[];
    public readonly pipelines: Record<string, k8s.apiextensions.CustomResource>;

    constructor(name: string, args: TektonPipelinesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TektonPipelines", name, {}, opts);

        const sources = readPipelines();
        checkTaskRefs(sources, args.taskNames);
        this.pipelines = registerTektonObjects(this, sources, args.namespace, "tekton-pipelines", args.paramDefaults,
            args.dependsOn ?? []);
        this.pipelineNames = Object.keys(this.pipelines);
        this.registerOutputs({ pipelineNames: this.pipelineNames });
    }
}
