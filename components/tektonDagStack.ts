import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../lib/config";
import { objectMeta } from "../lib/labels";
import { PR_STOPPER_SERVICE_ACCOUNT, RETEST_SERVICE_ACCOUNT } from "../lib/identities";
import { parseEgressEntries } from "../lib/egressCidrs";
import { BuildImage, checkPinnedVersion } from "./buildImage";
import { PrCodeNetworkPolicies } from "./networkPolicies";
import { OrphanSweeper } from "./orphanSweeper";
import { PipelineRbac } from "./rbac";
import { TektonInstall } from "./tektonInstall";
import { TektonPipelines } from "./tektonPipelines";
import { TektonTasks } from "./tektonTasks";
import { TektonTriggers } from "./tektonTriggers";
import { TelepresenceTrafficManager } from "./telepresenceTrafficManager";

export const MIRRORD_IMAGE = "tekton-dag-build-mirrord";
export const TELEPRESENCE_IMAGE = "tekton-dag-build-telepresence";

/**
 * The whole PR-testing stack for one environment: Tekton, the task images, RBAC, the Tasks and Pipelines
 * with config-driven defaults, the GitHub trigger, the Telepresence traffic manager, the NetworkPolicies that keep PR
 * code from it, and the orphan sweeper.
 */
export class TektonDagStack extends pulumi.ComponentResource {
    /** The mirrord proxy and kubectl/jq tools image every pipeline uses (by digest when built here). */
    public readonly mirrordImage: pulumi.Output<string>;
    public readonly telepresenceImage: pulumi.Output<string | undefined>;
    public readonly pipelinesNamespace: string;
    public readonly taskNames: string[];
    public readonly pipelineNames: string[];
    public readonly eventListenerName: string;
    public readonly paramDefaults: pulumi.Output<Record<string, string>>;

    constructor(name: string, config: StackConfig, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TektonDagStack", name, {}, opts);
        const c = config;
        const child = { parent: this };

        const tekton = c.installTekton
            ? new TektonInstall(`${name}-tekton`, {
                pipelinesVersion: c.tektonPipelinesVersion,
                triggersVersion: c.tektonTriggersVersion,
            }, child)
            : undefined;
        const tektonReady = tekton?.ready ?? [];

        const namespace = c.createPipelinesNamespace
            ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: objectMeta(c.pipelinesNamespace, "namespace") }, child)
            : undefined;
        const inNamespace = namespace ? [namespace] : [];

        const image = (imageName: string, versionArg: string, versionKey: "mirrordVersion" | "telepresenceVersion",
            imageKey: "mirrordImage" | "telepresenceImage"): pulumi.Output<string> => {
            if (!c.buildImages) {
                // parseConfig has already required it; this guards direct callers of the component.
                const configured = c[imageKey];
                if (!configured) throw new Error(`tekton-dag:${imageKey} is required when tekton-dag:buildImages is false`);
                return pulumi.output(configured);
            }
            checkPinnedVersion(imageName, versionArg, versionKey, c[versionKey]);
            return new BuildImage(`${name}-${imageName}`, {
                imageName, tag: c[versionKey], registryPush: c.registryPush, registryPull: c.registryPull,
            }, child).pullRef;
        };
        // Always needed: besides the mirrord proxies it is every pipeline's kubectl/jq tools image.
        this.mirrordImage = image(MIRRORD_IMAGE, "MIRRORD_VERSION", "mirrordVersion", "mirrordImage");
        this.telepresenceImage = c.enableIntercepts
            ? image(TELEPRESENCE_IMAGE, "TELEPRESENCE_VERSION", "telepresenceVersion", "telepresenceImage")
            : pulumi.output(undefined);

        const trafficManager = c.installsTrafficManager
            ? new TelepresenceTrafficManager(`${name}-telepresence`, {
                namespace: c.telepresenceNamespace,
                version: c.telepresenceVersion,
                managedNamespaces: c.targetNamespaces,
                agentArrivalSeconds: c.telepresenceAgentArrivalSeconds,
                allowGlobalIntercepts: c.telepresenceAllowGlobalIntercepts,
            }, child)
            : undefined;

        const rbac = new PipelineRbac(`${name}-rbac`, {
            pipelinesNamespace: c.pipelinesNamespace,
            targetNamespaces: c.targetNamespaces,
            telepresenceNamespace: c.telepresenceNamespace,
            // Only in an update: a preview must work without a cluster (PR CI), and the provider refuses reads
            // where it cannot reach one.
            readExistingTelepresenceNamespace: !c.installsTrafficManager && !c.renderYamlToDirectory && !pulumi.runtime.isDryRun(),
            enableIntercepts: c.enableIntercepts,
            githubTokenSecret: c.githubTokenSecret,
        }, { parent: this, dependsOn: [...inNamespace, ...(trafficManager ? [trafficManager.namespaceResource] : [])] });

        this.paramDefaults = pulumi.all([this.mirrordImage, this.telepresenceImage]).apply(([mirrord, telepresence]) => {
            const defaults: Record<string, string> = {
                "intercept-backend": c.interceptBackend,
                "default-namespace": c.defaultNamespace,
                "target-namespaces": c.targetNamespaces.join(" "),
                "image-registry": c.prImageRegistry,
                "insecure-registry": String(c.insecureRegistry),
                "lease-wait-seconds": String(c.leaseWaitSeconds),
                "github-token-secret": c.githubTokenSecret,
                "trusted-fork-repos": c.trustedForkRepos.join(" "),
                "status-context": c.commitStatusContext || `tekton-dag/${pulumi.getStack()}`,
                "status-target-url": c.statusTargetUrl,
                "traffic-manager-namespace": c.telepresenceNamespace,
                "telepresence-agent-arrival-seconds": String(c.telepresenceAgentArrivalSeconds),
                "intercepts-enabled": String(c.enableIntercepts),
                "mirrord-agent-image": c.mirrordAgentImage,
                "mirrord-agent-image-pull-secret": c.mirrordAgentImagePullSecret,
            };
            defaults["mirrord-image"] = mirrord;
            if (telepresence) defaults["telepresence-image"] = telepresence;
            return defaults;
        });

        const tasks = new TektonTasks(`${name}-tasks`, {
            namespace: c.pipelinesNamespace,
            paramDefaults: this.paramDefaults,
            dependsOn: [...tektonReady, ...inNamespace],
        }, child);
        const pipelines = new TektonPipelines(`${name}-pipelines`, {
            namespace: c.pipelinesNamespace,
            paramDefaults: this.paramDefaults,
            taskNames: tasks.taskNames,
            dependsOn: Object.values(tasks.tasks),
        }, child);
        const triggers = new TektonTriggers(`${name}-triggers`, {
            namespace: c.pipelinesNamespace,
            pipelineServiceAccount: rbac.pipelineServiceAccountName,
            prCodeServiceAccount: rbac.prCodeServiceAccountName,
            prStopperServiceAccount: rbac.serviceAccountName(PR_STOPPER_SERVICE_ACCOUNT),
            retestServiceAccount: rbac.serviceAccountName(RETEST_SERVICE_ACCOUNT),
            trustedForkRepos: c.trustedForkRepos,
            forkApprovalComment: c.forkApprovalComment,
            prImagePushSecret: c.prImagePushSecret,
            interceptBackend: c.interceptBackend,
            webhookSecretName: c.githubWebhookSecret,
            platformRepoUrl: c.platformRepoUrl,
            platformRepoRevision: c.platformRepoRevision,
            stackFile: c.stackFile,
            dependsOn: [...tektonReady, ...inNamespace, ...Object.values(pipelines.pipelines)],
        }, child);

        if (c.rendersNetworkPolicies) {
            new PrCodeNetworkPolicies(`${name}-network-policies`, {
                pipelinesNamespace: c.pipelinesNamespace,
                targetNamespaces: c.targetNamespaces,
                telepresenceNamespace: c.telepresenceNamespace,
                pipelineNames: pipelines.pipelineNames,
                buildEgress: parseEgressEntries(c.buildEgressCidrs),
            }, { parent: this, dependsOn: inNamespace });
        }

        if (c.enableIntercepts && c.installOrphanSweeper) {
            new OrphanSweeper(`${name}-orphan-sweeper`, {
                pipelinesNamespace: c.pipelinesNamespace,
                targetNamespaces: c.targetNamespaces,
                schedule: c.orphanSweepSchedule,
                maxAgeSeconds: c.orphanMaxAgeSeconds,
                image: this.mirrordImage,
                serviceAccountName: rbac.pipelineServiceAccountName,
                scriptsConfigMapName: tasks.scriptsConfigMapName,
            }, { parent: this, dependsOn: [tasks.scriptsConfigMap] });
        }

        // What this environment was installed with, readable in the cluster and by the policy pack
        // (policies cannot read stack config).
        new k8s.core.v1.ConfigMap(`${name}-install-info`, {
            metadata: objectMeta("tekton-dag-install-info", "install-info", c.pipelinesNamespace),
            data: {
                environment: pulumi.getStack(),
                production: String(c.production),
                enableIntercepts: String(c.enableIntercepts),
                interceptBackend: c.interceptBackend,
                installTelepresence: String(c.installsTrafficManager),
                targetNamespaces: c.targetNamespaces.join(" "),
                pipelinesNamespace: c.pipelinesNamespace,
            },
        }, { parent: this, dependsOn: inNamespace });

        this.pipelinesNamespace = c.pipelinesNamespace;
        this.taskNames = tasks.taskNames;
        this.pipelineNames = pipelines.pipelineNames;
        this.eventListenerName = triggers.eventListenerName;
        this.registerOutputs({
            mirrordImage: this.mirrordImage,
            telepresenceImage: this.telepresenceImage,
            taskNames: this.taskNames,
            pipelineNames: this.pipelineNames,
        });
    }
}
