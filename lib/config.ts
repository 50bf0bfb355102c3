import { z } from "zod";
import { EGRESS_ENTRY_FORMAT, parseEgressEntry } from "./egressCidrs";

/** The Pulumi project name; every config key lives under it (`tekton-dag:interceptBackend`). */
export const PROJECT = "tekton-dag";

/** The intercept backends and the one a stack gets unless it says otherwise: the one place they are named. */
export const INTERCEPT_BACKENDS = ["telepresence", "mirrord"] as const;
export type InterceptBackend = (typeof INTERCEPT_BACKENDS)[number];
export const DEFAULT_INTERCEPT_BACKEND: InterceptBackend = "telepresence";

const k8sName = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a Kubernetes name (lowercase letters, digits and '-', at most 63)");
/** A Secret's name: a DNS subdomain (dots allowed), as Kubernetes names Secrets. */
const secretName = z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be a Secret name (lowercase letters, digits, '-' and '.', at most 253)");
const registryHost = z
    .string()
    .regex(/^[a-zA-Z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, "must be a registry host[:port][/path] without a scheme");
const imageRef = z
    .string()
    .regex(/^[^\s:@]+(:[0-9]+)?(\/[^\s:@]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, "must be an image reference")
    .refine((v) => /@sha256:[a-f0-9]{64}$/.test(v) || (/:[\w][\w.-]*$/.test(v.split("/").pop() ?? "") && !/:latest$/i.test(v)),
        "must be pinned: a digest (@sha256:...) or a tag other than latest");
const version = z.string().regex(/^v?[0-9]+\.[0-9]+\.[0-9]+$/, "must be a version like 1.2.3");

/**
 * The stack config: the one declaration of every key, its default and its description. Pulumi.yaml's
 * `config:` is generated from it (lib/pulumiProjectConfig.ts; `npm run pulumi-yaml` rewrites it).
 */
export const configSchema = z.strictObject({
    interceptBackend: z.enum(INTERCEPT_BACKENDS).default(DEFAULT_INTERCEPT_BACKEND)
        .describe(`Default intercept backend of both pipelines and the webhook trigger: ${INTERCEPT_BACKENDS.join(" or ")}`),
    production: z.boolean().default(false)
        .describe("Marks a production environment; the policy pack then rejects any intercept tooling"),
    enableIntercepts: z.boolean().default(true)
        .describe("Install intercept tooling: the mirrord proxy RBAC and image, the Telepresence traffic manager and client image"),
    pipelinesNamespace: k8sName.default("tekton-dag")
        .describe("Namespace of the Tasks, Pipelines, triggers and the pipeline ServiceAccount"),
    createPipelinesNamespace: z.boolean().default(true)
        .describe("Create the pipelines namespace (false when it already exists)"),
    targetNamespaces: z.array(k8sName).min(1).default(["staging"])
        .describe("Namespaces where the staging apps run and PR pods are deployed; the first is the default"),
    registryPush: registryHost.default("localhost:5001")
        .describe("Registry pulumi up pushes the task images to, as seen from the machine running Pulumi"),
    registryPull: registryHost.optional()
        .describe("Registry name cluster nodes pull the task images by (default: registryPush)"),
    prImageRegistry: registryHost.optional()
        .describe("Registry the PR builds push to from inside the cluster (default: registryPull)"),
    insecureRegistry: z.boolean().default(false)
        .describe("Let the PR image build push to a plain-HTTP registry (kind)"),
    buildImages: z.boolean().default(true)
        .describe("Build and push the task images (tekton-dag-build-mirrord, tekton-dag-build-telepresence) during pulumi up"),
    mirrordImage: imageRef.optional()
        .describe("Pinned image for the mirrord task and proxy pods; required when buildImages is false"),
    telepresenceImage: imageRef.optional()
        .describe("Pinned image for the Telepresence task; required when buildImages is false"),
    mirrordVersion: version.default("3.250.0")
        .describe("mirrord CLI version baked into the mirrord image"),
    /**
     * Image of the mirrord agent (the Job the CLI starts next to the target); empty means mirrord's own
     * default for the CLI version, ghcr.io/metalbear-co/mirrord:<mirrordVersion>. Set it to a mirror for
     * clusters that pull only from their own registries.
     */
    mirrordAgentImage: z.union([imageRef, z.literal("")]).default("")
        .describe("Pinned image of the mirrord agent (a mirror for clusters without internet); empty means ghcr.io/metalbear-co/mirrord:<mirrordVersion>"),
    /**
     * Secret (type kubernetes.io/dockerconfigjson) in every target namespace that lets the mirrord agent's
     * pod pull mirrordAgentImage from a private mirror; empty: none (a public image).
     */
    mirrordAgentImagePullSecret: z.union([secretName, z.literal("")]).default("")
        .describe("Secret in every target namespace with pull credentials for mirrordAgentImage (a private mirror); empty means none"),
    telepresenceVersion: version.default("2.31.2")
        .describe("Telepresence OSS version of the client image and the traffic manager chart (>= 2.25.0)"),
    tektonPipelinesVersion: version.default("v1.15.0")
        .describe("Tekton Pipelines release installed when installTekton is true"),
    tektonTriggersVersion: version.default("v0.37.0")
        .describe("Tekton Triggers release installed when installTekton is true"),
    installTekton: z.boolean().default(true)
        .describe("Install Tekton Pipelines and Triggers from their pinned release manifests"),
    /**
     * Render NetworkPolicies that keep PR code (PR-code task pods and PR pods) from Telepresence's traffic
     * agents and manager (only where enableIntercepts is true; docs/network-policies.md).
     */
    enableNetworkPolicies: z.boolean().default(true)
        .describe("Render NetworkPolicies that keep PR code (PR-code task pods, PR pods) from the Telepresence traffic agents and manager; only with enableIntercepts; effective only where the network plugin enforces them"),
    /**
     * Where PR build pods may connect besides the cluster DNS, as IP ranges with ports (NetworkPolicy
     * cannot match host names): your git hosts, prImageRegistry, package and base-image registries. Empty:
     * builds are kept from Telepresence only.
     */
    buildEgressCidrs: z.array(z.string().superRefine((value, ctx) => {
        const { problem } = parseEgressEntry(value);
        if (problem) ctx.addIssue({ code: "custom", message: `${problem}; format ${EGRESS_ENTRY_FORMAT}` });
    })).default([])
        .describe("IP ranges with ports the PR build pods may connect to besides the cluster DNS (your git hosts, prImageRegistry, package and base-image registries), each <cidr>:<port>[-<endPort>][/tcp|/udp|/sctp]; empty keeps builds only from Telepresence"),
    installTelepresence: z.boolean().default(true)
        .describe("Install the Telepresence traffic manager once for the cluster (Helm chart)"),
    telepresenceNamespace: k8sName.default("ambassador")
        .describe("Namespace of the Telepresence traffic manager"),
    /**
     * How long the traffic manager waits for the traffic agent (the chart's timeouts.agentArrival). The agent
     * is injected on a workload's first intercept, which rolls it: the new pods must start and pass their
     * readiness checks within this time. The chart's 30 s is too short for JVM apps. A first intercept may
     * wait about twice this (one retry), which must fit in Tekton's default 60-minute PipelineRun timeout
     * beside the builds and tests.
     */
    telepresenceAgentArrivalSeconds: z.number().int()
        .min(30, "must be at least 30 (seconds; Telepresence's own default)")
        .max(600, "must be at most 600 (seconds): a first intercept may wait twice this (one retry), and the run must still fit in Tekton's default 60-minute PipelineRun timeout")
        .default(180)
        .describe("Seconds the traffic manager waits for the traffic agent of a workload's first intercept (chart timeouts.agentArrival; 30-600; with installTelepresence false, the external manager's timeouts.agentArrival)"),
    /**
     * Let the traffic manager accept global (unfiltered TCP/UDP) intercepts, the chart's
     * intercept.allowGlobalIntercepts. false (the default) makes it accept only header-filtered HTTP
     * intercepts, which is what lets several PRs intercept one app at once (docs/intercept-lock.md): a
     * global intercept would take every request of the app. Needs telepresenceVersion 2.26.0 or later.
     */
    telepresenceAllowGlobalIntercepts: z.boolean().default(false)
        .describe("Let the traffic manager accept global (unfiltered) intercepts (chart intercept.allowGlobalIntercepts); false accepts only header-filtered intercepts, so several PRs can intercept one app at once (needs 2.26.0+)"),
    leaseWaitSeconds: z.number().int().min(1).max(7200).default(600)
        .describe("How long a run waits for another run's intercept of the same app before failing"),
    installOrphanSweeper: z.boolean().default(true)
        .describe("Install the CronJob that removes intercept objects of vanished or too old runs"),
    orphanSweepSchedule: z.string().regex(/^(\S+\s+){4}\S+$/, "must be a five-field cron schedule").default("*/15 * * * *")
        .describe("Cron schedule of the orphan sweeper"),
    /**
     * Intercept objects older than this are removed by the sweeper even if their run still exists; longer
     * than any run may last (pipeline timeout plus lease wait).
     */
    orphanMaxAgeSeconds: z.number().int().min(7200).default(21600)
        .describe("Intercept objects older than this are removed by the sweeper"),
    githubWebhookSecret: k8sName.default("github-webhook-secret")
        .describe("Secret (key secret) holding the GitHub webhook secret the EventListener verifies"),
    githubTokenSecret: z.union([k8sName, z.literal("")]).default("")
        .describe("Secret (key token) used to comment on PRs; empty disables PR comments"),
    /**
     * Context of the commit status each run sets on the commit it tests (with githubTokenSecret); empty:
     * `tekton-dag/<Pulumi stack name>`. Both pipelines report under it, so a continued run replaces the state
     * of the run it continues. Branch protection can require it.
     */
    commitStatusContext: z.string().max(255).refine((v) => v === v.trim(), "must not start or end with whitespace").default("")
        .describe("Context of the commit status each run sets on the commit it tests; empty means tekton-dag/<stack name>"),
    /**
     * Link of the commit status: a URL with {namespace}, {name} and {uid} of the PipelineRun replaced, e.g.
     * a Tekton Dashboard `https://dashboard.example/#/namespaces/{namespace}/pipelineruns/{name}`; empty: none.
     */
    statusTargetUrl: z.union([z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL without spaces"), z.literal("")]).default("")
        .describe("Link of the commit status, with {namespace}, {name} and {uid} of the PipelineRun replaced; empty for none"),
    /**
     * Forks (owner/name) whose pull requests the trigger runs like the repository's own; any other fork's PR
     * runs only on a maintainer's `/ok-to-test <sha>` comment (forkApprovalComment; PR code runs in the
     * cluster, docs/webhook.md).
     */
    trustedForkRepos: z.array(z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be a GitHub owner/name")).default([])
        .describe("Forks (owner/name) whose pull requests the webhook trigger runs like the repository's own"),
    /**
     * Let a comment `/ok-to-test <full commit sha>` by the repository's OWNER, a MEMBER or a COLLABORATOR run
     * one test of exactly that commit of any open PR (the run refuses if the PR's head has moved since).
     */
    forkApprovalComment: z.boolean().default(false)
        .describe("Let the repository's owner, members and collaborators run one test of exactly one commit of any open PR with a `/ok-to-test <sha>` comment"),
    prImagePushSecret: z.union([k8sName, z.literal("")]).default("")
        .describe("Secret (kubernetes.io/dockerconfigjson) with push credentials for prImageRegistry, bound to webhook runs; empty binds none"),
    platformRepoUrl: z.string().default("https://github.com/example-org/tekton-dag-platform.git")
        .describe("Platform repository with the stack files, cloned by every webhook-triggered run"),
    platformRepoRevision: z.string().min(1).default("main")
        .describe("Revision of the platform repository webhook-triggered runs use"),
    stackFile: z.string().min(1).default("stacks/stack-one.yaml")
        .describe("Stack file path inside the platform repository for webhook-triggered runs"),
    kubeContext: z.string().default("")
        .describe("kubeconfig context of the kubernetes provider; empty uses the current context"),
    renderYamlToDirectory: z.string().default("")
        .describe("Write the manifests to this directory instead of applying them (no cluster needed)"),
});

/** Where mirrord's CLI pulls its agent from unless told otherwise (mirrord/kube, tag = the CLI's version). */
export const MIRRORD_AGENT_REPOSITORY = "ghcr.io/metalbear-co/mirrord";

/**
 * Keys that existed once and were removed, with what replaces them: a stack that still sets one gets this
 * instead of "not a known config key".
 */
export const REMOVED_CONFIG_KEYS: Readonly<Record<string, string>> = {
    forkTestLabel: "was removed: a label approved whatever commit was the PR's head when it landed, not the one the " +
        "maintainer read. Set tekton-dag:forkApprovalComment to true and approve a commit with a `/ok-to-test <sha>` " +
        "comment on the PR (docs/webhook.md, \"Pull requests from forks\"), then remove forkTestLabel from the stack",
};

export type RawConfig = z.input<typeof configSchema>;

/** The parsed config with every derived value filled in. */
export type StackConfig = Omit<z.output<typeof configSchema>, "registryPull" | "prImageRegistry" | "mirrordAgentImage"> & {
    registryPull: string;
    prImageRegistry: string;
    /** The agent image every mirrord session uses: the configured one, else mirrord's default for mirrordVersion. */
    mirrordAgentImage: string;
    /** The namespace PR pods use when the stack file names none. */
    defaultNamespace: string;
    /** The program installs Telepresence's traffic manager (intercepts on and installTelepresence). */
    installsTrafficManager: boolean;
    /** The program renders the NetworkPolicies (intercepts on and enableNetworkPolicies). */
    rendersNetworkPolicies: boolean;
};

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack config:\n  ${problems.join("\n  ")}`);
        this.name = "ConfigError";
    }
}
