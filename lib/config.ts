import { z } from "zod";
import { EGRESS_ENTRY_FORMAT, parseEgressEntry } from "./egressCidrs";

/** The Pulumi project name; every config key lives under it (`tekton-dag:interceptBackend`). */
export const PROJECT = "tekton-dag";

export const INTERCEPT_BACKENDS = ["telepresence", "mirrord"] as const;
export type InterceptBackend = (typeof INTERCEPT_BACKENDS)[number];

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
 * The stack config: the single source of defaults. Pulumi.yaml declares the same keys with the same defaults
 * for `pulumi config` users; a test keeps the two in sync.
 */
export const configSchema = z.strictObject({
    /** Default of the pipelines' `intercept-backend` param (telepresence keeps existing behaviour). */
    interceptBackend: z.enum(INTERCEPT_BACKENDS).default("telepresence"),
    /** Marks a production environment; the policy pack then forbids intercept tooling. */
    production: z.boolean().default(false),
    /** Install the intercept tooling (mirrord proxy RBAC and image, Telepresence traffic manager). */
    enableIntercepts: z.boolean().default(true),
    /** Namespace of the Tasks, Pipelines, triggers and the pipeline ServiceAccount. */
    pipelinesNamespace: k8sName.default("tekton-dag"),
    createPipelinesNamespace: z.boolean().default(true),
    /** Namespaces where the staging apps run and PR pods are deployed; the first is the default. */
    targetNamespaces: z.array(k8sName).min(1).default(["staging"]),
    /** Where `pulumi up` pushes the images it builds (seen from the machine running Pulumi). */
    registryPush: registryHost.default("localhost:5001"),
    /** The registry name cluster nodes pull those images by; defaults to registryPush. */
    registryPull: registryHost.optional(),
    /** Registry the PR builds (Kaniko, inside the cluster) push to; defaults to registryPull. */
    prImageRegistry: registryHost.optional(),
    /** Let Kaniko push to a plain-HTTP registry (a kind registry). */
    insecureRegistry: z.boolean().default(false),
    /** Build and push the task images with Docker during `pulumi up`. */
    buildImages: z.boolean().default(true),
    /** Image for the mirrord proxy pods and every kubectl/jq step; required when buildImages is false. */
    mirrordImage: imageRef.optional(),
    /** Image for the Telepresence task; required when buildImages is false and Telepresence is usable. */
    telepresenceImage: imageRef.optional(),
    mirrordVersion: version.default("3.250.0"),
    /**
     * Image of the mirrord agent (the Job the CLI starts next to the target); empty means mirrord's own
     * default for the CLI version, ghcr.io/metalbear-co/mirrord:<mirrordVersion>. Set it to a mirror for
     * clusters that pull only from their own registries.
     */
    mirrordAgentImage: z.union([imageRef, z.literal("")]).default(""),
    /**
     * Secret (type kubernetes.io/dockerconfigjson) in every target namespace that lets the mirrord agent's
     * pod pull mirrordAgentImage from a private mirror; empty: none (a public image).
     */
    mirrordAgentImagePullSecret: z.union([secretName, z.literal("")]).default(""),
    telepresenceVersion: version.default("2.31.2"),
    tektonPipelinesVersion: version.default("v1.15.0"),
    tektonTriggersVersion: version.default("v0.37.0"),
    /** Install Tekton Pipelines and Triggers from their pinned release manifests. */
    installTekton: z.boolean().default(true),
    /**
     * Render NetworkPolicies that keep PR code (PR-code task pods and PR pods) from Telepresence's traffic
     * agents and manager (only where enableIntercepts is true; docs/network-policies.md).
     */
    enableNetworkPolicies: z.boolean().default(true),
    /**
     * Where PR build pods may connect besides the cluster DNS, as IP ranges with ports (NetworkPolicy
     * cannot match host names): your git hosts, prImageRegistry, package and base-image registries. Empty:
     * builds are kept from Telepresence only.
     */
    buildEgressCidrs: z.array(z.string().superRefine((value, ctx) => {
        const { problem } = parseEgressEntry(value);
        if (problem) ctx.addIssue({ code: "custom", message: `${problem}; format ${EGRESS_ENTRY_FORMAT}` });
    })).default([]),
    /** Install the Telepresence traffic manager (Helm chart) once for the cluster. */
    installTelepresence: z.boolean().default(true),
    telepresenceNamespace: k8sName.default("ambassador"),
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
        .default(180),
    /**
     * Let the traffic manager accept global (unfiltered TCP/UDP) intercepts, the chart's
     * intercept.allowGlobalIntercepts. false (the default) makes it accept only header-filtered HTTP
     * intercepts, which is what lets several PRs intercept one app at once (docs/intercept-lock.md): a
     * global intercept would take every request of the app. Needs telepresenceVersion 2.26.0 or later.
     */
    telepresenceAllowGlobalIntercepts: z.boolean().default(false),
    /** How long a run waits for another run's intercept of the same app before failing. */
    leaseWaitSeconds: z.number().int().min(1).max(7200).default(600),
    installOrphanSweeper: z.boolean().default(true),
    orphanSweepSchedule: z.string().regex(/^(\S+\s+){4}\S+$/, "must be a five-field cron schedule").default("*/15 * * * *"),
    /**
     * Intercept objects older than this are removed by the sweeper even if their run still exists; longer
     * than any run may last (pipeline timeout plus lease wait).
     */
    orphanMaxAgeSeconds: z.number().int().min(7200).default(21600),
    /** Secret (key `secret`) holding the GitHub webhook secret the EventListener verifies. */
    githubWebhookSecret: k8sName.default("github-webhook-secret"),
    /** Secret (key `token`) used to comment on PRs; empty disables PR comments. */
    githubTokenSecret: z.union([k8sName, z.literal("")]).default(""),
    /**
     * Context of the commit status each run sets on the commit it tests (with githubTokenSecret); empty:
     * `tekton-dag/<Pulumi stack name>`. Both pipelines report under it, so a continued run replaces the state
     * of the run it continues. Branch protection can require it.
     */
    commitStatusContext: z.string().max(255).refine((v) => v === v.trim(), "must not start or end with whitespace").default(""),
    /**
     * Link of the commit status: a URL with {namespace}, {name} and {uid} of the PipelineRun replaced, e.g.
     * a Tekton Dashboard `https://dashboard.example/#/namespaces/{namespace}/pipelineruns/{name}`; empty: none.
     */
    statusTargetUrl: z.union([z.string().regex(/^https?:\/\/\S+$/, "must be an http(s) URL without spaces"), z.literal("")]).default(""),
    /**
     * Forks (owner/name) whose pull requests the trigger runs like the repository's own; any other fork's PR
     * runs only on a maintainer's `/ok-to-test <sha>` comment (forkApprovalComment; PR code runs in the
     * cluster, docs/webhook.md).
     */
    trustedForkRepos: z.array(z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be a GitHub owner/name")).default([]),
    /**
     * Let a comment `/ok-to-test <full commit sha>` by the repository's OWNER, a MEMBER or a COLLABORATOR run
     * one test of exactly that commit of any open PR (the run refuses if the PR's head has moved since).
     */
    forkApprovalComment: z.boolean().default(false),
    /** Secret (type kubernetes.io/dockerconfigjson) with push credentials for prImageRegistry; empty: none. */
    prImagePushSecret: z.union([k8sName, z.literal("")]).default(""),
    /** The platform repo holding the stack files, cloned by every run. */
    platformRepoUrl: z.string().default("https://github.com/example-org/tekton-dag-platform.git"),
    platformRepoRevision: z.string().min(1).default("main"),
    stackFile: z.string().min(1).default("stacks/stack-one.yaml"),
    /** kubeconfig context for the kubernetes provider; empty uses the current context. */
    kubeContext: z.string().default(""),
    /** Write manifests to this directory instead of applying them (no cluster needed). */
    renderYamlToDirectory: z.string().default(""),
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
