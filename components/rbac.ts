import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { objectMeta } from "../lib/labels";
import { PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT, RETEST_SERVICE_ACCOUNT } from "../lib/identities";
import { readRuleFiles, RuleFile } from "../lib/rbacRules";

export interface PipelineRbacArgs {
    /** Namespace of the pipelines and of the pipeline ServiceAccount. */
    readonly pipelinesNamespace: string;
    /** Namespaces where PR pods, proxies and leases are created. */
    readonly targetNamespaces: string[];
    /** Namespace of the Telepresence traffic manager. */
    readonly telepresenceNamespace: string;
    /**
     * Read the traffic manager's namespace before binding the Telepresence client there. For a manager
     * installed by someone else (installTelepresence false), in an update of a real cluster, so a missing
     * namespace fails the update naming it before the Role is tried (which would fail only after a minute of
     * retries). Not when the program creates the namespace, not in a preview (it must work without a
     * cluster), and not when the provider only writes manifests: the provider refuses reads without a cluster.
     */
    readonly readExistingTelepresenceNamespace: boolean;
    /** Whether intercept tooling (mirrord proxy, Telepresence client) gets its RBAC. */
    readonly enableIntercepts: boolean;
    /** Secret holding the GitHub token pr-comment reads; empty grants no Secret access at all. */
    readonly githubTokenSecret: string;
}

export { PIPELINE_SERVICE_ACCOUNT, PR_CODE_SERVICE_ACCOUNT };

/**
 * Least-privilege RBAC: one Role per rule file in tekton/rbac (each rule commented with the task or tool
 * that needs it), bound to its ServiceAccount in exactly the namespaces the file names. Namespaced Roles
 * only; nothing here grants anything cluster-wide.
 */
export class PipelineRbac extends pulumi.ComponentResource {
    public readonly pipelineServiceAccountName: pulumi.Output<string>;
    /** What PR-code tasks run as: bound by nothing here, and its pods get no API token. */
    public readonly prCodeServiceAccountName: pulumi.Output<string>;
    public readonly roles: k8s.rbac.v1.Role[] = [];
    private readonly accounts = new Map<string, k8s.core.v1.ServiceAccount>();
    private readonly pipelinesNamespace: string;

    constructor(name: string, args: PipelineRbacArgs, opts?: pulumi.ComponentResourceOptions) {
        super("tekton-dag:index:PipelineRbac", name, {}, opts);

        this.pipelinesNamespace = args.pipelinesNamespace;
        const files = readRuleFiles().filter((f) => !f.requires || args.enableIntercepts);
        const accounts = this.accounts;
        const account = (saName: string, namespace: string) => {
            const key = `${namespace}/${saName}`;
            if (!accounts.has(key)) {
                accounts.set(key, new k8s.core.v1.ServiceAccount(`${name}-sa-${namespace}-${saName}`, {
                    metadata: objectMeta(saName, "rbac", namespace),
                }, { parent: this }));
            }
            return accounts.get(key)!;
        };
        const pipelineSa = account(PIPELINE_SERVICE_ACCOUNT, args.pipelinesNamespace);
        const existingTelepresenceNamespace = files.some((f) => f.roleNamespaces === "telepresence") && args.readExistingTelepresenceNamespace
            ? [k8s.core.v1.Namespace.get(`${name}-existing-namespace-${args.telepresenceNamespace}`, args.telepresenceNamespace, { parent: this })]
            : [];

        for (const file of files) {
            for (const namespace of this.roleNamespaces(file, args)) {
                const subjects = this.subjectNamespaces(file, namespace, args).map((subjectNamespace) => ({
                    kind: "ServiceAccount",
                    name: account(file.subject, subjectNamespace).metadata.name,
                    namespace: subjectNamespace,
                }));
                const dependsOn = file.roleNamespaces === "telepresence" ? existingTelepresenceNamespace : [];
                const role = new k8s.rbac.v1.Role(`${name}-${namespace}-${file.role}`, {
                    metadata: objectMeta(file.role, "rbac", namespace),
                    rules: file.rules,
                }, { parent: this, dependsOn });
                new k8s.rbac.v1.RoleBinding(`${name}-${namespace}-${file.role}`, {
                    metadata: objectMeta(file.role, "rbac", namespace),
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects,
                }, { parent: this });
                this.roles.push(role);
            }
        }
        if (args.githubTokenSecret) {
            // pr-comment, commit-status and retest-pr: read the one Secret named in config, nothing else; not
            // a rule file because the name is config.
            const role = new k8s.rbac.v1.Role(`${name}-pr-comment-token`, {
                metadata: objectMeta("tekton-dag-pr-comment-token", "rbac", args.pipelinesNamespace),
                rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: [args.githubTokenSecret] }],
            }, { parent: this });
            new k8s.rbac.v1.RoleBinding(`${name}-pr-comment-token`, {
                metadata: objectMeta("tekton-dag-pr-comment-token", "rbac", args.pipelinesNamespace),
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [pipelineSa, account(RETEST_SERVICE_ACCOUNT, args.pipelinesNamespace)]
                    .map((sa) => ({ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.pipelinesNamespace })),
            }, { parent: this });
            this.roles.push(role);
        }
        // Deliberately outside the rule files: nothing may ever bind it (the identity policy checks that).
        const prCodeSa = new k8s.core.v1.ServiceAccount(`${name}-sa-pr-code`, {
            metadata: objectMeta(PR_CODE_SERVICE_ACCOUNT, "rbac", args.pipelinesNamespace),
            automountServiceAccountToken: false,
        }, { parent: this });
        this.pipelineServiceAccountName = pipelineSa.metadata.name;
        this.prCodeServiceAccountName = prCodeSa.metadata.name;
        this.registerOutputs({
            pipelineServiceAccountName: this.pipelineServiceAccountName,
            prCodeServiceAccountName: this.prCodeServiceAccountName,
        });
    }

    /**
     * The ServiceAccount a rule file in the pipelines namespace binds (`subject`); fails naming the subject when
     * no rule file does, so a TaskRun can never name an account without its Role.
     */
    serviceAccountName(subject: string): pulumi.Output<string> {
        const sa = this.accounts.get(`${this.pipelinesNamespace}/${subject}`);
        if (!sa) throw new Error(`no rule file in tekton/rbac binds ServiceAccount ${subject} in the pipelines namespace`);
        return sa.metadata.name;
    }

    /**
     * Where the bound ServiceAccounts live: the pipelines namespace, or the target namespace itself; a Role
     * outside the target namespaces (the traffic manager's) binds the account of every target namespace.
     */
    private subjectNamespaces(file: RuleFile, roleNamespace: string, args: PipelineRbacArgs): string[] {
        if (file.subjectNamespace === "pipelines") return [args.pipelinesNamespace];
        return file.roleNamespaces === "target" ? [roleNamespace] : args.targetNamespaces;
    }

    private roleNamespaces(file: RuleFile, args: PipelineRbacArgs): string[] {
        switch (file.roleNamespaces) {
            case "pipelines":
                return [args.pipelinesNamespace];
            case "target":
                return args.targetNamespaces;
            case "telepresence":
                return [args.telepresenceNamespace];
        }
    }
}
