import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { pipelineRunIdentities } from "../lib/identities";
import { INTERCEPT_BACKEND_BINDING, interceptBackendOverlay } from "../lib/interceptLabel";
import { objectMeta } from "../lib/labels";

export interface TektonTriggersArgs {
    readonly namespace: string;
    /** ServiceAccount with the pipeline's RBAC: only the tasks that must reach the API server run as it. */
    readonly pipelineServiceAccount: pulumi.Input<string>;
    /** ServiceAccount without RBAC or token: every other task (everything that runs PR code) runs as it. */
    readonly prCodeServiceAccount: pulumi.Input<string>;
    /** What stop-pr-runs runs as: may only list and stop PipelineRuns. */
    readonly prStopperServiceAccount: pulumi.Input<string>;
    /** What retest-pr runs as: reads this component's run template, starts and stops PipelineRuns. */
    readonly retestServiceAccount: pulumi.Input<string>;
    /** Forks (owner/name) whose PRs run like the repository's own. */
    readonly trustedForkRepos?: string[];
    /**
     * Accept `/ok-to-test <sha>` comments of the repository's owner, members and collaborators: each runs one
     * test of exactly that commit of an open PR. Off: other forks' PRs never run.
     */
    readonly forkApprovalComment?: boolean;
    /** dockerconfigjson Secret bound as the docker-config workspace (Kaniko's push credentials); empty: none. */
    readonly prImagePushSecret?: string;
    /** Default of the template's `intercept-backend` param (the stack config's backend). */
    readonly interceptBackend: pulumi.Input<string>;
    /** Secret (key `secret`) with the GitHub webhook secret. */
    readonly webhookSecretName: pulumi.Input<string>;
    readonly platformRepoUrl: pulumi.Input<string>;
    readonly platformRepoRevision: pulumi.Input<string>;
    readonly stackFile: pulumi.Input<string>;
    /** Size of the per-run workspace volume. */
    readonly workspaceSize?: pulumi.Input<string>;
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

const TRIGGERS_API = "triggers.tekton.dev/v1beta1";

/** Triggers' github interceptor: the delivery's signature (the webhook Secret, key `secret`) and its event type. */
const githubInterceptor = (secretName: pulumi.Input<string>, eventType: string) => ({
    ref: { name: "github", kind: "ClusterInterceptor" },
    params: [
        { name: "secretRef", value: { secretName, secretKey: "secret" } },
        { name: "eventTypes", value: [eventType] },
    ],
});

const celInterceptor = (filter: string, overlays?: pulumi.Input<Array<{ key: string; expression: string }>>) => ({
    ref: { name: "cel", kind: "ClusterInterceptor" },
    params: [{ name: "filter", value: filter }, ...(overlays ? [{ name: "overlays", value: overlays }] : [])],
});
/** Pull request actions that should (re)test the PR. */
export const PR_ACTIONS = ["opened", "synchronize", "reopened"];

const celString = (value: string): string => {
    // Config validation keeps quotes and backslashes out; this guards direct callers.
    if (/['"\\\n]/.test(value)) throw new Error(`cannot put ${JSON.stringify(value)} into a CEL filter: quotes, backslashes and newlines are not allowed`);
    return `'${value}'`;
};

/**
 * The CEL filter that decides which pull_request events start a run. A PR's code runs in the cluster, so a
 * PR from another repository (a fork) runs on these events only when its repository is trusted; any other
 * PR needs a maintainer's approval of one commit (okToTestFilter). A PR that is not open never runs.
 */
export function pullRequestFilter(trustedForkRepos: string[] = []): string {
    const head = "body.pull_request.head.repo.full_name";
    const trusted = [`${head} == body.pull_request.base.repo.full_name`];
    // GitHub compares owner and repository names case-insensitively.
    if (trustedForkRepos.length > 0) trusted.push(`${head}.lowerAscii() in [${trustedForkRepos.map((r) => celString(r.toLowerCase())).join(", ")}]`);
    return `body.pull_request.state == 'open' && body.action in [${PR_ACTIONS.map(celString).join(", ")}] && (${trusted.join(" || ")})`;
}

/** Who may approve a commit: GitHub's author_association of the repository's owner, members and collaborators. */
export const APPROVER_ASSOCIATIONS = ["OWNER", "MEMBER", "COLLABORATOR"];
/** The approval comment: the command and a full commit sha, alone (surrounding blank space aside). */
export const OK_TO_TEST_COMMAND = "/ok-to-test";
const OK_TO_TEST_RE = `^${OK_TO_TEST_COMMAND} [0-9a-f]{40}$`;
/** The interceptor extension the approved sha is handed to the binding in. */
const APPROVED_SHA = "approved_sha";

/**
 * The CEL filter of approval comments: a new comment `/ok-to-test <full sha>` on an open PR by an approver.
 * The approval names the commit the maintainer read; the run tests exactly it and fails if the PR's head
 * is another commit by then (fetch-source's pr-number check), so a push after the approval never runs
 * without a new approval. An edited comment (action `edited`) approves nothing.
 */
export function okToTestFilter(): string {
    return [
        "body.action == 'created'",
        "has(body.issue.pull_request)",
        "body.issue.state == 'open'",
        `body.comment.author_association in [${APPROVER_ASSOCIATIONS.map(celString).join(", ")}]`,
        `body.comment.body.trim().matches(${celString(OK_TO_TEST_RE)})`,
    ].join(" && ");
}

/** The rerun comment: the command alone (surrounding blank space aside). */
export const RETEST_COMMAND = "/retest";

/**
 * The CEL filter of rerun comments: a new `/retest` comment on an open PR by an approver. The delivery does
 * not name the PR's head, so retest-pr asks GitHub for it, and applies the fork gate to it.
 */
export function retestFilter(): string {
    return [
        "body.action == 'created'",
        "has(body.issue.pull_request)",
        "body.issue.state == 'open'",
        `body.comment.author_association in [${APPROVER_ASSOCIATIONS.map(celString).join(", ")}]`,
        `body.comment.body.trim() == ${celString(RETEST_COMMAND)}`,
    ].join(" && ");
}

/** A closed PR, merged or not, whatever its head's repository: stopping its runs is never a risk. */
export const CLOSED_FILTER = "body.action == 'closed'";

/** The labels that tie a run (and the TaskRuns the listener starts beside it) to its PR and delivery. */
const prLabels = (deliveryLabel = true) => ({
    "app.kubernetes.io/part-of": "tekton-dag",
    "tekton-dag.io/pr": "$(tt.params.pr-number)",
    "tekton-dag.io/repo-id": "$(tt.params.repo-id)",
    // Triggers gives every resource of one delivery the same $(uid).
    ...(deliveryLabel ? { "tekton-dag.io/delivery": "$(uid)" } : {}),
});

/** A TaskRun of one of the listener's own tasks (no PR code; its own ServiceAccount). */
const listenerTaskRun = (task: string, serviceAccountName: pulumi.Input<string>, params: Record<string, pulumi.Input<string>>) => ({
    apiVersion: "tekton.dev/v1",
    kind: "TaskRun",
    metadata: { generateName: `${task}-`, labels: prLabels() },
    spec: {
        taskRef: { name: task },
        serviceAccountName,
        params: Object.entries(params).map(([name, value]) => ({ name, value })),
    },
});

/** The overlay that hands the approved sha to the binding as `$(extensions.approved_sha)`. */
export const okToTestOverlays = [{ key: APPROVED_SHA, expression: `body.comment.body.trim().substring(${OK_TO_TEST_COMMAND.length + 1})` }];

/**
 * GitHub webhook -> stack-pr-test PipelineRun, from a pull_request event or an approval comment. The run is
 * given the PR's repository (owner/name), not an app: resolve-stack finds the app whose stack-file `repo` is
 * that repository. Every run gets its own workspace volume, so no run reads another's files.
 */
export class TektonTriggers extends pulumi.ComponentResource {
    public readonly eventListenerName: string;

    constructor(name: string, args: TektonTriggersArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:TektonTriggers", name, {}, opts);
        const ns = args.namespace;
        const child = { parent: this, dependsOn: args.dependsOn };

        const identities = pipelineRunIdentities(args.pipelineServiceAccount, args.prCodeServiceAccount);
        // The PR's tekton-dag/intercept:<backend> label, else the stack config's backend (lib/interceptLabel.ts).
        const backendFrom = (labels: string) => pulumi.output(args.interceptBackend).apply((b) => interceptBackendOverlay(labels, b));

        // A TriggerBinding: each param read from the delivery (or from an interceptor's extension).
        const triggerBinding = (resource: string, bindingName: string, params: Record<string, string>) =>
            new k8s.apiextensions.CustomResource(`${name}-${resource}`, {
                apiVersion: TRIGGERS_API,
                kind: "TriggerBinding",
                metadata: objectMeta(bindingName, "triggers", ns),
                spec: { params: Object.entries(params).map(([param, value]) => ({ name: param, value })) },
            }, child);
        const repository = { "repo-full-name": "$(body.repository.full_name)", "repo-id": "$(body.repository.id)" };

        // pr-number also makes fetch-source check that the PR's head is still app-revision.
        const binding = triggerBinding("binding", "github-pr-binding", {
            "app-revision": "$(body.pull_request.head.sha)", "pr-number": "$(body.pull_request.number)", ...repository,
            "intercept-backend": INTERCEPT_BACKEND_BINDING,
        });
        const approvalBinding = args.forkApprovalComment ? triggerBinding("ok-to-test-binding", "github-ok-to-test-binding", {
            "app-revision": `$(extensions.${APPROVED_SHA})`, "pr-number": "$(body.issue.number)", ...repository,
            "intercept-backend": INTERCEPT_BACKEND_BINDING,
        }) : undefined;
        // A /retest comment: the PR, its repository and the backend its labels choose (the rerun's commit
        // comes from GitHub).
        const retestBinding = triggerBinding("retest-binding", "github-retest-binding", {
            "pr-number": "$(body.issue.number)", ...repository, "intercept-backend": INTERCEPT_BACKEND_BINDING,
        });
        // A closed PR: only which PR of which repository.
        const closedBinding = triggerBinding("closed-binding", "github-pr-closed-binding", {
            "pr-number": "$(body.pull_request.number)", "repo-id": "$(body.repository.id)",
        });

        const template = new k8s.apiextensions.CustomResource(`${name}-template`, {
            apiVersion: TRIGGERS_API,
            kind: "TriggerTemplate",
            metadata: objectMeta("stack-pr-test-template", "triggers", ns),
            spec: {
                params: [
                    { name: "app-revision", description: "The commit to test: the PR's head, or the approved commit" },
                    { name: "pr-number", description: "PR number" },
                    { name: "repo-full-name", description: "owner/name of the PR's repository; selects the app(s) of the stack" },
                    { name: "repo-id", description: "GitHub's numeric id of that repository: with pr-number, the label that finds the PR's runs" },
                    { name: "git-url", description: "Platform repo with the stack files", default: args.platformRepoUrl },
                    { name: "git-revision", default: args.platformRepoRevision },
                    { name: "stack-file", default: args.stackFile },
                    { name: "intercept-backend", description: "telepresence or mirrord: the PR's intercept label, else the stack config's", default: args.interceptBackend },
                ],
                // The run first: stop-pr-runs finds it by the delivery label and keeps it and anything newer.
                resourcetemplates: [{
                    apiVersion: "tekton.dev/v1",
                    kind: "PipelineRun",
                    metadata: { generateName: "stack-pr-test-", labels: prLabels() },
                    spec: {
                        pipelineRef: { name: "stack-pr-test" },
                        // Unprivileged by default; the pipeline ServiceAccount only for the tasks listed
                        // in lib/identities.ts (docs/conventions.md, "Identities").
                        taskRunTemplate: {
                            ...identities.taskRunTemplate,
                            // The clone and resolve steps run as uid 65532 and must be able to write the volume.
                            podTemplate: { securityContext: { fsGroup: 65532 } },
                        },
                        taskRunSpecs: identities.taskRunSpecs,
                        params: ["app-revision", "pr-number", "repo-full-name", "git-url", "git-revision",
                            "stack-file", "intercept-backend"].map((p) => ({ name: p, value: `$(tt.params.${p})` })),
                        workspaces: [{
                            name: "shared-workspace",
                            volumeClaimTemplate: {
                                spec: {
                                    accessModes: ["ReadWriteOnce"],
                                    resources: { requests: { storage: args.workspaceSize ?? "2Gi" } },
                                },
                            },
                        }, ...(args.prImagePushSecret ? [{
                            // Registry credentials reach containerize's push step (crane) as a file, never the Kaniko step that runs the PR's Dockerfile, and never through the API token.
                            name: "docker-config",
                            secret: { secretName: args.prImagePushSecret, items: [{ key: ".dockerconfigjson", path: "config.json" }] },
                        }] : [])],
                    },
                }, listenerTaskRun("stop-pr-runs", args.prStopperServiceAccount, {
                    "repo-id": "$(tt.params.repo-id)", "pr-number": "$(tt.params.pr-number)", reason: "superseded",
                    "head-sha": "$(tt.params.app-revision)", delivery: "$(uid)",
                })],
            },
        }, child);
        const closedTemplate = new k8s.apiextensions.CustomResource(`${name}-closed-template`, {
            apiVersion: TRIGGERS_API,
            kind: "TriggerTemplate",
            metadata: objectMeta("stack-pr-closed-template", "triggers", ns),
            spec: {
                params: [{ name: "pr-number" }, { name: "repo-id" }],
                resourcetemplates: [listenerTaskRun("stop-pr-runs", args.prStopperServiceAccount, {
                    "repo-id": "$(tt.params.repo-id)", "pr-number": "$(tt.params.pr-number)", reason: "closed",
                })],
            },
        }, child);
        const retestTemplate = new k8s.apiextensions.CustomResource(`${name}-retest-template`, {
            apiVersion: TRIGGERS_API,
            kind: "TriggerTemplate",
            metadata: objectMeta("stack-pr-retest-template", "triggers", ns),
            spec: {
                params: [{ name: "pr-number" }, { name: "repo-full-name" }, { name: "repo-id" }, { name: "intercept-backend" }],
                resourcetemplates: [listenerTaskRun("retest-pr", args.retestServiceAccount, {
                    "repo-full-name": "$(tt.params.repo-full-name)", "repo-id": "$(tt.params.repo-id)",
                    "intercept-backend": "$(tt.params.intercept-backend)",
                    "pr-number": "$(tt.params.pr-number)", delivery: "$(uid)", template: template.metadata.name,
                })],
            },
        }, child);

        // The EventListener's permissions are the ones Tekton Triggers ships for listeners: namespaced
        // through a RoleBinding, plus read access to the cluster-scoped interceptors it must resolve.
        const listenerSa = new k8s.core.v1.ServiceAccount(`${name}-listener`, {
            metadata: objectMeta("tekton-dag-triggers", "triggers", ns),
        }, child);
        new k8s.rbac.v1.RoleBinding(`${name}-listener`, {
            metadata: objectMeta("tekton-dag-triggers", "triggers", ns),
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "tekton-triggers-eventlistener-roles" },
            subjects: [{ kind: "ServiceAccount", name: listenerSa.metadata.name, namespace: ns }],
        }, child);
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-listener-interceptors`, {
            metadata: objectMeta(`tekton-dag-triggers-${ns}`, "triggers"),
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "tekton-triggers-eventlistener-clusterroles" },
            subjects: [{ kind: "ServiceAccount", name: listenerSa.metadata.name, namespace: ns }],
        }, { parent: this });

        this.eventListenerName = "tekton-dag-github";
        new k8s.apiextensions.CustomResource(`${name}-listener`, {
            apiVersion: TRIGGERS_API,
            kind: "EventListener",
            metadata: objectMeta(this.eventListenerName, "triggers", ns),
            spec: {
                serviceAccountName: listenerSa.metadata.name,
                triggers: [
                    {
                        name: "github-pull-request",
                        interceptors: [
                            githubInterceptor(args.webhookSecretName, "pull_request"),
                            celInterceptor(pullRequestFilter(args.trustedForkRepos), backendFrom("body.pull_request.labels").apply((o) => [o])),
                        ],
                        bindings: [{ ref: binding.metadata.name }],
                        template: { ref: template.metadata.name },
                    },
                    {
                        name: "github-pull-request-closed",
                        interceptors: [githubInterceptor(args.webhookSecretName, "pull_request"), celInterceptor(CLOSED_FILTER)],
                        bindings: [{ ref: closedBinding.metadata.name }],
                        template: { ref: closedTemplate.metadata.name },
                    },
                    {
                        name: "github-retest",
                        interceptors: [githubInterceptor(args.webhookSecretName, "issue_comment"),
                            celInterceptor(retestFilter(), backendFrom("body.issue.labels").apply((o) => [o]))],
                        bindings: [{ ref: retestBinding.metadata.name }],
                        template: { ref: retestTemplate.metadata.name },
                    },
                    ...(approvalBinding ? [{
                        name: "github-ok-to-test",
                        interceptors: [
                            githubInterceptor(args.webhookSecretName, "issue_comment"),
                            celInterceptor(okToTestFilter(), backendFrom("body.issue.labels").apply((o) => [...okToTestOverlays, o])),
                        ],
                        bindings: [{ ref: approvalBinding.metadata.name }],
                        template: { ref: template.metadata.name },
                    }] : []),
                ],
            },
        }, child);
        this.registerOutputs({ eventListenerName: this.eventListenerName });
    }
}
