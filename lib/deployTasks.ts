/**
 * The deploy Tasks of the two intercept backends, deploy-stack-intercepts (Telepresence) and
 * deploy-intercept-mirrord, built from one common part and each backend's own (issue 19). The pipelines wire
 * both the same way and pick one by intercept-backend, so what they share (params, workspace, result, step
 * shape) is written once here; a backend adds its image, its own params and env, and its script.
 */
import { EnvVar, paramEnv, resultPath, scriptTask, SHARED_WORKSPACE_ENV, TaskParam } from "./scriptTask";
import { InterceptBackend } from "./config";
import { KubeObject } from "./tektonSources";

export interface DeployTaskRow {
    /** The Task's name. */
    task: string;
    /** The backend (lib/config.ts's names), also the catalog tag naming it. */
    tag: InterceptBackend;
    displayName: string;
    platforms: string;
    /** Said before the common description. */
    lead?: string;
    /** The proxy pod the script starts, as in "starts a <proxy> proxy pod". */
    proxy: string;
    /** What the proxy pod does with the app's traffic, after "that". */
    proxyDoes: string;
    /** Said after the common description. */
    tail: string;
    /** What pod-ready-timeout-seconds waits for. */
    readyWaitsFor: string;
    /** The step's image param (first of the backend's params); it reaches the script as env too. */
    image: TaskParam;
    /** The backend's params after the image, in order. */
    params: TaskParam[];
    /** The backend's env, between the common params' env and the workspace and result paths. */
    env: EnvVar[];
    /** The file of tekton/scripts/ the step runs. */
    script: string;
}

const TELEPRESENCE_IMAGE: TaskParam = {
    name: "telepresence-image", default: "registry.invalid/tekton-dag-build-telepresence:set-by-program",
    description: "The tekton-dag-build-telepresence image (telepresence client >= 2.25, kubectl, jq, bash); runs this task's step and the proxy pods.",
};
const MIRRORD_IMAGE: TaskParam = {
    name: "mirrord-image", default: "registry.invalid/tekton-dag-build-mirrord:set-by-program",
    description: "The tekton-dag-build-mirrord image (mirrord, kubectl, jq, socat, bash); runs this task's step and the proxy pods.",
};

export const DEPLOY_TASKS: readonly DeployTaskRow[] = [
    {
        task: "deploy-stack-intercepts", tag: "telepresence", displayName: "Deploy PR pods behind Telepresence intercepts",
        platforms: "linux/amd64", lead: "The default intercept backend. ", proxy: "Telepresence",
        proxyDoes: "connects to the traffic manager installed by the program and intercepts the app's requests carrying the intercept " +
            "header (telepresence intercept --http-header), delivering them to the PR pod",
        tail: "Succeeds once every intercept is active.",
        readyWaitsFor: "a PR pod or Telepresence proxy pod",
        image: TELEPRESENCE_IMAGE,
        params: [
            { name: "traffic-manager-namespace", default: "ambassador",
                description: "Namespace of the Telepresence traffic manager the program installed." },
            { name: "telepresence-agent-arrival-seconds", default: "180", description: "The traffic manager's timeouts.agentArrival " +
                "in seconds (stack config telepresenceAgentArrivalSeconds). A first intercept that times out waiting for the traffic " +
                "agent is retried once, so a proxy pod may take up to twice (this + 30 s), plus two minutes to connect, to become ready." },
        ],
        env: [
            paramEnv(TELEPRESENCE_IMAGE.name),
            paramEnv("traffic-manager-namespace"),
            { ...paramEnv("telepresence-agent-arrival-seconds"), name: "AGENT_ARRIVAL_SECONDS" },
        ],
        script: "deploy-stack-intercepts.sh",
    },
    {
        task: "deploy-intercept-mirrord", tag: "mirrord", displayName: "Deploy PR pods behind mirrord intercepts",
        platforms: "linux/amd64,linux/arm64", proxy: "mirrord",
        proxyDoes: "steals the requests carrying the intercept header from deployment/<app> and forwards them to the PR pod",
        tail: "Succeeds once every steal is active. Same interface as deploy-stack-intercepts.",
        readyWaitsFor: "a PR pod, proxy pod or mirrord agent",
        image: MIRRORD_IMAGE,
        params: [
            { name: "mirrord-agent-image", default: "ghcr.io/metalbear-co/mirrord:3.250.0", description: "Image of the mirrord agent " +
                "the proxy's CLI starts next to the target (agent.image), pinned by digest or by a tag other than latest; the program " +
                "sets it from tekton-dag:mirrordAgentImage (default mirrord's own image for the CLI version)." },
            { name: "mirrord-agent-image-pull-secret", default: "", description: "Name of a Secret in the app's namespace with pull " +
                "credentials for mirrord-agent-image (agent.image_pull_secrets); empty for none. The program sets it from " +
                "tekton-dag:mirrordAgentImagePullSecret." },
        ],
        env: [MIRRORD_IMAGE.name, "mirrord-agent-image", "mirrord-agent-image-pull-secret"].map(paramEnv),
        script: "deploy-intercept-mirrord.sh",
    },
];

/** The params the pipelines pass either backend; each reaches the script as env (paramEnv). */
function commonParams(b: DeployTaskRow): TaskParam[] {
    return [
        { name: "stack-json", description: "The resolved stack graph (stack.json), inline or as @<path>@sha256:<digest> relative to the " +
            "shared workspace (resolve-stack's result); a file that no longer matches its digest fails the task." },
        { name: "build-apps",
            description: "Space-separated apps to intercept (resolve-stack's build-apps); each must be in stack-json's buildApps." },
        { name: "propagation-chain", default: "",
            description: "Ordered propagation chain (inline or @<path>@sha256:<digest>); logged for context." },
        { name: "built-images", description: "JSON map app -> built image, containerize's result. Containerize runs the PR's " +
            "Dockerfile, so this is checked before anything is created: it must name exactly the build apps, each as " +
            "<image-registry>/<app>@sha256:<digest>." },
        { name: "image-registry",
            description: "The registry PR images are pushed to (the pipeline's image-registry); every built image must be in it." },
        { name: "intercept-header-value",
            description: "The header that selects PR traffic: \"x-dev-session: pr-42\" or \"x-dev-session:pr-42\"." },
        { name: "default-namespace", default: "staging", description: "Namespace of apps whose stack entry names none." },
        { name: "target-namespaces", default: "staging", description: "Space-separated namespaces the pipeline may deploy to (its " +
            "Role is there, cleanup and the orphan sweeper look there). An app in any other namespace fails the task before " +
            "anything is created." },
        { name: "run-id",
            description: "The PipelineRun uid ($(context.pipelineRun.uid)); labels every object this task creates." },
        { name: "run-name", description: "The PipelineRun name ($(context.pipelineRun.name))." },
        { name: "lease-wait-seconds", default: "600",
            description: "How long to wait for another run's intercept on the same app before failing." },
        { name: "pod-ready-timeout-seconds", default: "300", description: `How long ${b.readyWaitsFor} may take to become ready.` },
    ];
}

/** The deploy Task of one intercept backend. */
export function deployTask(b: DeployTaskRow): KubeObject {
    const common = commonParams(b);
    return scriptTask({
        name: b.task,
        version: "0.1",
        catalog: { minVersion: "0.50.0", categories: "Deployment, Testing", tags: [b.tag, "intercept", "pr-testing"],
            displayName: b.displayName, platforms: b.platforms },
        description: `${b.lead ?? ""}For each app in build-apps, takes the app's intercept Lease, runs the app's Deployment pod ` +
            `template with the built image in the app container as a PR pod and starts a ${b.proxy} proxy pod in the app's ` +
            `namespace that ${b.proxyDoes}. ${b.tail}`,
        params: [...common, b.image, ...b.params],
        workspaces: [{ name: "shared-workspace",
            description: "Holds the run directory .tekton-dag/runs/<run-id>/ where deployed-pods.json is written." }],
        results: [{ name: "deployed-pods", description: "JSON map app -> PR pod name." }],
        step: {
            name: "deploy",
            imageParam: b.image.name,
            script: b.script,
            env: [
                ...common.map((p) => paramEnv(p.name)),
                ...b.env,
                SHARED_WORKSPACE_ENV,
                { name: "RESULT_PATH", value: resultPath("deployed-pods") },
            ],
            securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
        },
    });
}
