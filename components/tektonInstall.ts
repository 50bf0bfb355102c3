import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface TektonInstallArgs {
    /** Tekton Pipelines release, e.g. v1.15.0. */
    readonly pipelinesVersion: pulumi.Input<string>;
    /** Tekton Triggers release, e.g. v0.37.0. */
    readonly triggersVersion: pulumi.Input<string>;
}

const RELEASES = "https://infra.tekton.dev/tekton-releases";

/** Release manifest URL of a Tekton project at a pinned version. */
export function tektonReleaseUrl(project: "pipeline" | "triggers", version: string, file = "release.yaml"): string {
    return `${RELEASES}/${project}/previous/${version}/${file}`;
}

/**
 * Tekton Pipelines and Triggers from their pinned release manifests. Tasks and Pipelines can only be
 * created once the admission webhooks answer, so consumers depend on `ready`, which the provider resolves
 * after every Deployment of the releases is available.
 */
export class TektonInstall extends pulumi.ComponentResource {
    /** Resources to depend on before creating Tekton objects. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: TektonInstallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TektonInstall", name, {}, opts);

        const pipelines = new k8s.yaml.v2.ConfigFile(`${name}-pipelines`, {
            file: pulumi.output(args.pipelinesVersion).apply((v) => tektonReleaseUrl("pipeline", v)),
        }, { parent: this });
        const triggers = new k8s.yaml.v2.ConfigFile(`${name}-triggers`, {
            file: pulumi.output(args.triggersVersion).apply((v) => tektonReleaseUrl("triggers", v)),
        }, { parent: this, dependsOn: [pipelines] });
        const interceptors = new k8s.yaml.v2.ConfigFile(`${name}-triggers-interceptors`, {
            file: pulumi.output(args.triggersVersion).apply((v) => tektonReleaseUrl("triggers", v, "interceptors.yaml")),
        }, { parent: this, dependsOn: [triggers] });

        this.ready = [pipelines, triggers, interceptors];
        this.registerOutputs({});
    }
}
