import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { objectMeta } from "../lib/labels";
import { SCRIPTS_MODE, SCRIPTS_VOLUME } from "../lib/tektonSources";

export interface OrphanSweeperArgs {
    /** Namespace of the pipelines; the sweeper runs there and looks up PipelineRuns there. */
    readonly pipelinesNamespace: string;
    /** Namespaces swept for intercept objects of vanished runs. */
    readonly targetNamespaces: string[];
    /** Cron schedule. */
    readonly schedule: pulumi.Input<string>;
    /** Objects older than this are removed even if their PipelineRun still exists. */
    readonly maxAgeSeconds: pulumi.Input<number>;
    /** Image with bash, kubectl and jq (the mirrord build image). */
    readonly image: pulumi.Input<string>;
    /** ServiceAccount with the pipeline's RBAC (it may delete what runs create). */
    readonly serviceAccountName: pulumi.Input<string>;
    /** The scripts ConfigMap; the sweeper runs tekton/scripts/sweep-orphans.sh from it. */
    readonly scriptsConfigMapName: pulumi.Input<string>;
}

/**
 * Removes intercept objects whose PipelineRun is gone (deleted before its `finally` ran) or that outlived
 * the maximum age, so a crashed run cannot hold an app's intercept forever.
 */
export class OrphanSweeper extends pulumi.ComponentResource {
    public readonly cronJob: k8s.batch.v1.CronJob;

    constructor(name: string, args: OrphanSweeperArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:OrphanSweeper", name, {}, opts);

        this.cronJob = new k8s.batch.v1.CronJob(name, {
            metadata: objectMeta("tekton-dag-orphan-sweeper", "orphan-sweeper", args.pipelinesNamespace),
            spec: {
                schedule: args.schedule,
                concurrencyPolicy: "Forbid",
                successfulJobsHistoryLimit: 1,
                failedJobsHistoryLimit: 3,
                jobTemplate: {
                    spec: {
                        backoffLimit: 0,
                        ttlSecondsAfterFinished: 86400,
                        template: {
                            metadata: { labels: { "app.kubernetes.io/part-of": "tekton-dag", "app.kubernetes.io/component": "orphan-sweeper" } },
                            spec: {
                                serviceAccountName: args.serviceAccountName,
                                restartPolicy: "Never",
                                securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                                containers: [{
                                    name: "sweep",
                                    image: args.image,
                                    command: ["/tekton-dag/scripts/sweep-orphans.sh"],
                                    env: [
                                        { name: "PIPELINES_NAMESPACE", value: args.pipelinesNamespace },
                                        { name: "TARGET_NAMESPACES", value: args.targetNamespaces.join(" ") },
                                        { name: "MAX_AGE_SECONDS", value: pulumi.output(args.maxAgeSeconds).apply(String) },
                                        // The root filesystem is read-only; bash and jq may need scratch space.
                                        { name: "TMPDIR", value: "/tmp" },
                                    ],
                                    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true },
                                    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                                    volumeMounts: [
                                        { name: SCRIPTS_VOLUME, mountPath: "/tekton-dag/scripts", readOnly: true },
                                        { name: "tmp", mountPath: "/tmp" },
                                    ],
                                }],
                                volumes: [
                                    { name: SCRIPTS_VOLUME, configMap: { name: args.scriptsConfigMapName, defaultMode: SCRIPTS_MODE } },
                                    { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
                                ],
                            },
                        },
                    },
                },
            },
        }, { parent: this });
        this.registerOutputs({});
    }
}
