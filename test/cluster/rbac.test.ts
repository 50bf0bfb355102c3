// RBAC proven both ways against a real API server: every task script succeeds under exactly the Roles the
// program installs (rendered from the kind stack), each rule of tekton/rbac/*.yaml is needed by a named
// script (removing it makes that script fail with Forbidden), and no ServiceAccount can do more than its
// rule files say. Simulated: the containers of proxy pods (mirrord CLI and Telepresence CLI stand-ins,
// see standins.ts); kwok marks pods Running/Ready.
import { strict as assert } from "node:assert";
import { readRuleFiles, RuleFile } from "../../lib/rbacRules";
import {
    getJson, Account, apply, canI, cleanupEnv, installTokenSecret, kubectlOk, cluster, credentials, deployEnv, kubectl, MIRRORD_SA, newRun, PIPELINE_SA, PIPELINES_NS, PR_CODE_SA, purgeRunObjects, rbacObjects, renderKindStack, Run, runObjects, runScriptAs, ScriptRun, serverClockPast, sweepEnv, TARGET_NS, TELEPRESENCE_NS, TELEPRESENCE_SA, sleep, waitCan,
} from "./harness";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { deploySuite, ProxyPods } from "./standins";
import { HOLD, releaseWhenWatched } from "./intercepts/lifecycle-fixtures";
import { GitHubStandIn } from "../support/githubStandIn";
import { auditMark, auditSince, authorizedRequests } from "./audit";
import * as fs from "node:fs";
import * as YAML from "yaml";
import { PR_STOPPER_SERVICE_ACCOUNT, RETEST_SERVICE_ACCOUNT } from "../../lib/identities";

const PR_STOPPER_SA = { name: PR_STOPPER_SERVICE_ACCOUNT, namespace: PIPELINES_NS };
const RETEST_SA = { name: RETEST_SERVICE_ACCOUNT, namespace: PIPELINES_NS };

const NS_OF = { pipelines: PIPELINES_NS, target: TARGET_NS, telepresence: TELEPRESENCE_NS } as const;
const files = readRuleFiles();
let roles: any[] = [];
let proxies: ProxyPods;

/** Waits for the stand-in's verdict on the Telepresence proxy pod of a run. */
async function proxyVerdict(run: Run, app: string): Promise<{ ok: boolean; message: string }> {
    const prefix = `tp-${app}-${run.id.slice(0, 8)}`;
    for (let i = 0; i < 100; i++) {
        const e = proxies.of(prefix);
        if (e.length) return e[0];
        await sleep(100);
    }
    return { ok: false, message: `no telepresence-proxy.sh ran for ${prefix}` };
}

interface Outcome { script: string; ok: boolean; output: string }

/** The scenarios a rule can be needed by; each returns the named script's outcome. */
const scenarios = {
    async mirrordDeploy(): Promise<Outcome> {
        const run = newRun("mirrord");
        const r = await runScriptAs("deploy-intercept-mirrord.sh", deployEnv(run, ["demo-fe"], { POD_READY_TIMEOUT_SECONDS: "6" }), PIPELINE_SA);
        const agent = proxies.of(`mirrord-demo-fe-${run.id.slice(0, 8)}`).map((e) => `${e.actor}: ${e.message}`).join("\n");
        return { script: "deploy-intercept-mirrord.sh", ok: r.status === 0, output: `${r.stderr}\n${agent}` };
    },
    async mirrordAgentNeverStarts(): Promise<Outcome> {
        kubectl(["annotate", "deployment/demo-db", "-n", TARGET_NS, "--overwrite", "tekton-dag.test/mirrord-agent=never-starts"]);
        try {
            const run = newRun("noagent");
            const r = await runScriptAs("deploy-intercept-mirrord.sh", deployEnv(run, ["demo-db"], { POD_READY_TIMEOUT_SECONDS: "3" }), PIPELINE_SA);
            return { script: "deploy-intercept-mirrord.sh (diagnostics of an agent that never starts)", ok: r.status === 0, output: r.stderr };
        } finally {
            kubectl(["annotate", "deployment/demo-db", "-n", TARGET_NS, "tekton-dag.test/mirrord-agent-"]);
        }
    },
    async telepresenceProxy(): Promise<Outcome> {
        const run = newRun("tp");
        const r = await runScriptAs("deploy-stack-intercepts.sh", deployEnv(run, ["demo-api"], { POD_READY_TIMEOUT_SECONDS: "10" }), PIPELINE_SA);
        const v = await proxyVerdict(run, "demo-api");
        return { script: "deploy-stack-intercepts.sh, its proxy pod running telepresence-proxy.sh", ok: r.status === 0 && v.ok, output: `${r.stderr}\n${v.message}` };
    },
    // Another run holds demo-db's intercept lock: the deploy reads it (get lease), queues (update), waits, gives up
    // naming the holder and takes its waiting record away (update).
    async leaseHeld(): Promise<Outcome> {
        const holder = newRun("holder");
        const record = { run: holder.id, pipelineRun: holder.name, header: "x-dev-session: pr-7", backend: "mirrord", mode: "exclusive", state: "holding", since: 0 };
        apply([{
            apiVersion: "coordination.k8s.io/v1", kind: "Lease",
            metadata: { name: "tekton-dag-intercept-demo-db", namespace: TARGET_NS, labels: { "tekton-dag.io/app": "demo-db", "tekton-dag.io/role": "intercept-lock" },
                annotations: { "tekton-dag.io/holders": JSON.stringify([record]) } },
            spec: { holderIdentity: holder.id },
        }]);
        const run = newRun("waiter");
        const r = await runScriptAs("deploy-intercept-mirrord.sh", deployEnv(run, ["demo-db"], { LEASE_WAIT_SECONDS: "1" }), PIPELINE_SA);
        return { script: "deploy-intercept-mirrord.sh (an app whose Lease another run holds)", ok: r.status === 0, output: r.stderr };
    },
    async cleanup(): Promise<Outcome> {
        const run = newRun("cleanup");
        // A one-holder Lease of the earlier lock design, held by this run before an upgrade: cleanup deletes it
        // (the only Lease a script deletes; the shared locks are only updated).
        apply([{
            apiVersion: "coordination.k8s.io/v1", kind: "Lease",
            metadata: { name: `tekton-dag-intercept-legacy-${run.id.slice(0, 8)}`, namespace: TARGET_NS,
                labels: { "tekton-dag.io/run": run.id, "tekton-dag.io/role": "intercept-lease" } },
            spec: { holderIdentity: run.id },
        }]);
        const r = await runScriptAs("cleanup-stack-intercepts.sh", cleanupEnv(run), PIPELINE_SA);
        return { script: "cleanup-stack-intercepts.sh", ok: r.status === 0, output: r.stderr };
    },
    async sweep(): Promise<Outcome> {
        const r = await runScriptAs("sweep-orphans.sh", sweepEnv(), PIPELINE_SA);
        return { script: "sweep-orphans.sh", ok: r.status === 0, output: r.stderr };
    },
    // The final commit status of a failed run: reads its PipelineRun (was it cancelled?) and lists its
    // TaskRuns (which failed?), then posts to GitHub (simulated) with the token of the Secret config names.
    async commitStatusEnd(): Promise<Outcome> {
        const github = new GitHubStandIn();
        await github.start();
        const secret = "github-token-rbac";
        const removeToken = await installTokenSecret(secret, "ghp_rbac");
        try {
            const r = await runScriptAs("commit-status.sh", {
                PHASE: "end", PIPELINE_STATUS: "Failed", REPO_FULL_NAME: "org/fe", SHA: "0123456789abcdef0123456789abcdef01234567",
                GITHUB_TOKEN_SECRET: secret, GITHUB_API_URL: github.url, STATUS_CONTEXT: "tekton-dag/kind", PIPELINE_NAME: "stack-pr-test",
                RUN_NAME: "stack-pr-test-rbac", RUN_ID: "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f", RUN_NAMESPACE: PIPELINES_NS,
            }, PIPELINE_SA);
            return { script: "commit-status.sh (phase end of a failed run)", ok: r.status === 0 && github.invalid().length === 0, output: r.stderr };
        } finally {
            await github.stop();
            await removeToken();
        }
    },
    // A closed PR: its running run is listed, read and stopped (CancelledRunFinally) by the listener's TaskRun.
    async prStop(): Promise<Outcome> {
        const run = await prRun("rbac-stop");
        try {
            const r = await runScriptAs("stop-pr-runs.sh", { REASON: "closed", REPO_ID: "11", PR_NUMBER: "7", NAMESPACE: PIPELINES_NS }, PR_STOPPER_SA);
            const stopped = getJson(["get", "pipelinerun.tekton.dev", run, "-n", PIPELINES_NS]).spec.status === "CancelledRunFinally";
            return { script: "stop-pr-runs.sh (a closed PR)", ok: r.status === 0 && stopped, output: r.stderr };
        } finally {
            kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/repo-id=11", "--wait=true"]);
        }
    },
    // /retest: the listener's TriggerTemplate read, the rerun created, the older run stopped; GitHub (simulated)
    // answers for the PR, read without a token.
    async retest(): Promise<Outcome> {
        const github = new GitHubStandIn();
        await github.start();
        github.pulls.set("org/fe#7", { state: "open", headSha: "0123456789abcdef0123456789abcdef01234567", headRepo: "org/fe" });
        const dir = await renderKindStack();
        const template = fs.readdirSync(path.join(dir, PIPELINES_NS)).map((f) => YAML.parse(fs.readFileSync(path.join(dir, PIPELINES_NS, f), "utf8")))
            .find((o) => o.kind === "TriggerTemplate" && o.metadata.name === "stack-pr-test-template");
        apply([template]);
        const run = await prRun("rbac-retest-old");
        try {
            const r = await runScriptAs("retest-pr.sh", {
                REPO_FULL_NAME: "org/fe", REPO_ID: "11", PR_NUMBER: "7", DELIVERY: "rbac-retest", TEMPLATE: "stack-pr-test-template",
                GITHUB_TOKEN_SECRET: "", GITHUB_API_URL: github.url, NAMESPACE: PIPELINES_NS,
            }, RETEST_SA);
            const stopped = getJson(["get", "pipelinerun.tekton.dev", run, "-n", PIPELINES_NS]).spec.status === "CancelledRunFinally";
            return { script: "retest-pr.sh (an open PR with a running run)", ok: r.status === 0 && stopped && github.invalid().length === 0, output: r.stderr };
        } finally {
            await github.stop();
            kubectl(["delete", "pipelinerun.tekton.dev", "-n", PIPELINES_NS, "-l", "tekton-dag.io/repo-id=11", "--wait=true"]);
            kubectl(["delete", "triggertemplate.triggers.tekton.dev", "stack-pr-test-template", "-n", PIPELINES_NS, "--ignore-not-found"]);
        }
    },
};
type Scenario = keyof typeof scenarios;

/** A running PipelineRun of PR 7 of repository id 11, created a second before what follows (the scripts stop only older runs). */
async function prRun(name: string): Promise<string> {
    const created = JSON.parse(kubectlOk(["create", "-o", "json", "-f", "-"], JSON.stringify({
        apiVersion: "tekton.dev/v1", kind: "PipelineRun",
        metadata: { name, namespace: PIPELINES_NS, labels: { "tekton-dag.io/pr": "7", "tekton-dag.io/repo-id": "11", "tekton-dag.io/delivery": name } },
        spec: { pipelineRef: { name: "stack-pr-test" } },
    })));
    await serverClockPast(created);
    return name;
}

/** Which scenario proves each rule needed (file -> one entry per rule, in file order). */
const NEEDED_BY: Record<string, Scenario[][]> = {
    "pipeline-in-target.yaml": [
        ["mirrordDeploy"], // pods
        ["mirrordAgentNeverStarts"], // pods/log: only the diagnostics of a failed deploy read logs
        ["mirrordAgentNeverStarts"], // events: likewise
        ["mirrordDeploy"], // configmaps
        ["mirrordDeploy"], // deployments
        ["mirrordDeploy"], // leases
        ["mirrordDeploy", "cleanup"], // jobs
    ],
    "pipeline-in-home.yaml": [["sweep", "commitStatusEnd"], ["commitStatusEnd"]], // pipelineruns list, taskruns list
    "mirrord-proxy.yaml": [["mirrordDeploy"], ["mirrordDeploy"], ["mirrordDeploy"], ["mirrordDeploy"], ["mirrordDeploy"]],
    "telepresence-client-target.yaml": [["telepresenceProxy"], ["telepresenceProxy"], ["telepresenceProxy"], ["telepresenceProxy"], ["telepresenceProxy"], ["telepresenceProxy"]],
    "telepresence-client-manager.yaml": [["telepresenceProxy"], ["telepresenceProxy"], ["telepresenceProxy"]],
    "pr-stopper-in-home.yaml": [["prStop"]], // pipelineruns list, get, patch
    "retest-in-home.yaml": [["retest"], ["retest"], ["retest"]], // the template, create the rerun, stop the older run
};

function accountOf(file: RuleFile): Account {
    return { name: file.subject, namespace: file.subjectNamespace === "pipelines" ? PIPELINES_NS : TARGET_NS };
}

function roleOf(file: RuleFile): any {
    const ns = NS_OF[file.roleNamespaces];
    const role = roles.find((r) => r.kind === "Role" && r.metadata.name === file.role && r.metadata.namespace === ns);
    assert.ok(role, `the kind stack renders no Role ${ns}/${file.role} for tekton/rbac/${file.file}`);
    return role;
}

/** What a rule grants, as the authorizer is asked: verb and resource (with a resource name if any). */
function probe(rule: RuleFile["rules"][number]): [string, string] {
    const group = rule.apiGroups[0] ? `.${rule.apiGroups[0]}` : "";
    const [res, sub] = rule.resources[0].split("/");
    const name = rule.resourceNames?.[0];
    return [rule.verbs[0], `${res}${group}${name ? `/${name}` : ""}${sub ? `/${sub}` : ""}`];
}

describe("cluster: RBAC of the kind stack on a real API server (proxy containers simulated)", function () {
    this.timeout(600_000);

    // Taken before the suite's setup runs: the usage check below reads every request from here on.
    const startMark = auditMark();
    const suite = deploySuite();
    proxies = suite.proxies;
    before(() => { roles = suite.roles; });
    afterEach(() => purgeRunObjects());

    it("the rule files and the scenarios that need them line up (every rule is claimed)", () => {
        for (const f of files) {
            assert.ok(NEEDED_BY[f.file], `no scenario claims the rules of tekton/rbac/${f.file}`);
            assert.equal(NEEDED_BY[f.file].length, f.rules.length, `tekton/rbac/${f.file} has ${f.rules.length} rules`);
        }
    });

    it("every scenario succeeds, without a Forbidden, under exactly the installed Roles", async () => {
        for (const name of Object.keys(scenarios) as Scenario[]) {
            const o = await scenarios[name]();
            if (name === "mirrordAgentNeverStarts") {
                assert.equal(o.ok, false, "the fixture's agent never starts");
                assert.match(o.output, /was not Ready within pod-ready-timeout-seconds=3/);
            } else if (name === "leaseHeld") {
                assert.equal(o.ok, false, "the Lease stays held by the other run");
                assert.match(o.output, /is being intercepted by PipelineRun holder-\S+ \(run \S+, header x-dev-session: pr-7, mirrord, exclusive\); gave up after lease-wait-seconds=1/);
            } else {
                assert.ok(o.ok, `${o.script} failed:\n${o.output}`);
            }
            assert.doesNotMatch(o.output, /forbidden/i, `${o.script} met a Forbidden under the program's Roles:\n${o.output}`);
            await purgeRunObjects();
        }
    });

    it("a full mirrord run as tekton-dag-pipeline: deploy, cleanup, nothing left (agent Job created as tekton-dag-mirrord-proxy; one held a moment by a finalizer, as a slow agent would hold it)", async () => {
        const run = newRun("full");
        const mark = auditMark();
        const d = await runScriptAs("deploy-intercept-mirrord.sh", deployEnv(run, ["demo-fe", "demo-api"]), PIPELINE_SA);
        assert.equal(d.status, 0, d.stderr);
        const objs = [...runObjects(run.id).keys()];
        for (const kind of ["Pod/pr-demo-fe", "Pod/pr-demo-api", "ConfigMap/mirrord-demo-fe", "Job/mirrord-agent-"]) {
            assert.ok(objs.some((k) => k.startsWith(kind)), `no ${kind}* among ${objs.join(", ")}`);
        }
        const lock = getJson(["get", "lease", "tekton-dag-intercept-demo-fe", "-n", TARGET_NS]);
        assert.equal(lock.spec.holderIdentity, run.id, "the run holds demo-fe's intercept lock");
        const jobCreates = auditSince(mark).filter((e) => e.verb === "create" && e.resource === "jobs" && e.run === run.id);
        assert.deepEqual(jobCreates.map((e) => e.user), Array(2).fill("system:serviceaccount:staging:tekton-dag-mirrord-proxy"), "one agent Job per app");
        // An agent Job that outlives its deletion a moment (its pod slow to stop, simulated by a finalizer the
        // test removes) makes the cleanup's `delete --wait` watch it: the jobs rule's watch verb is then used
        // whatever the machine's speed (the usage check below reads it from the audit log).
        const job = objs.find((k) => k.startsWith("Job/mirrord-agent-"))!.slice("Job/".length);
        kubectlOk(["patch", "jobs.batch", job, "-n", TARGET_NS, "--type", "merge", "-p", JSON.stringify({ metadata: { finalizers: [HOLD] } })]);
        const since = auditMark();
        const cleaning = runScriptAs("cleanup-stack-intercepts.sh", cleanupEnv(run), PIPELINE_SA);
        await releaseWhenWatched("jobs.batch", { name: job, namespace: TARGET_NS }, since, cleaning);
        const c = await cleaning;
        assert.equal(c.status, 0, c.stderr);
        assert.deepEqual([...runObjects(run.id).keys()], []);
    });

    for (const file of files) {
        file.rules.forEach((rule, i) => {
            const label = `${rule.apiGroups[0] || "core"} ${rule.resources.join(",")}${rule.resourceNames ? `[${rule.resourceNames.join(",")}]` : ""} ${rule.verbs.join(",")}`;
            const needed = NEEDED_BY[file.file]?.[i] ?? [];
            it(`without rule ${i + 1} of tekton/rbac/${file.file} (${label}): ${needed.join(" and ")} fails with Forbidden`, async () => {
                assert.ok(needed.length, "no scenario claims this rule");
                const original = roleOf(file);
                const cut = structuredClone(original);
                cut.rules.splice(i, 1);
                const account = accountOf(file);
                const [verb, res] = probe(rule);
                const ns = original.metadata.namespace;
                apply([cut]);
                try {
                    await waitCan(account, verb, res, ns, false);
                    for (const s of needed) {
                        const o = await scenarios[s]();
                        assert.equal(o.ok, false, `${o.script} succeeded without the rule:\n${o.output}`);
                        assert.match(o.output, /forbidden/i, `${o.script} failed, but not with Forbidden:\n${o.output}`);
                        assert.ok(rule.resources.some((r) => o.output.includes(r)), `the Forbidden does not name ${rule.resources.join(",")}:\n${o.output}`);
                        await purgeRunObjects();
                    }
                } finally {
                    apply([original]);
                    await waitCan(account, verb, res, ns, true);
                }
            });
        });
    }

    // Rule-level removal (below) proves each rule needed; a rule may still grant a verb no script uses. The
    // API server's audit log holds every request of tekton-dag-pipeline, so each granted verb must appear
    // there, allowed, from the scenarios and the full run above. The proxies' ServiceAccounts are left out:
    // their requests here come from stand-ins of the mirrord and Telepresence CLIs, not from the CLIs.
    for (const account of [PIPELINE_SA, PR_STOPPER_SA, RETEST_SA]) {
        it(`every verb the rule files grant ${account.name} was used by a script (audit log): none granted for nothing`, () => {
            const used = authorizedRequests(startMark, `system:serviceaccount:${account.namespace}:${account.name}`);
            const unused: string[] = [];
            for (const file of files.filter((f) => f.subject === account.name)) {
                const ns = NS_OF[file.roleNamespaces];
                for (const rule of file.rules) {
                    for (const resource of rule.resources) {
                        for (const verb of rule.verbs) {
                            const hit = used.some((u) => u.verb === verb && u.resource === resource && rule.apiGroups.includes(u.group) && u.namespace === ns
                                && (!rule.resourceNames || rule.resourceNames.includes(u.name)));
                            if (!hit) unused.push(`tekton/rbac/${file.file}: ${verb} ${resource}${rule.apiGroups[0] ? `.${rule.apiGroups[0]}` : ""} in ${ns}`);
                        }
                    }
                }
            }
            assert.deepEqual(unused, [], "granted but never used by any script");
        });
    }

    it("a pod of a PR-code task (tekton-dag-pr-code) gets no API token: the API server mounts none", () => {
        const name = `pr-code-token-check-${Date.now()}`;
        const pod = {
            apiVersion: "v1", kind: "Pod",
            metadata: { name, namespace: PR_CODE_SA.namespace },
            spec: { serviceAccountName: PR_CODE_SA.name, containers: [{ name: "build", image: "registry.local/build:1" }] },
        };
        try {
            const stored = JSON.parse(kubectlOk(["create", "-f", "-", "-o", "json"], JSON.stringify(pod)));
            assert.equal(stored.spec.serviceAccountName, PR_CODE_SA.name);
            const tokenVolumes = (stored.spec.volumes ?? []).filter((v: any) =>
                (v.projected?.sources ?? []).some((s: any) => s.serviceAccountToken) || v.secret?.secretName?.includes("token"));
            assert.deepEqual(tokenVolumes, [], "the API server added a ServiceAccount token volume");
            assert.equal(stored.spec.containers[0].volumeMounts?.some((m: any) => m.mountPath.startsWith("/var/run/secrets/kubernetes.io")) ?? false, false);
        } finally {
            kubectl(["delete", "pod", name, "-n", PR_CODE_SA.namespace, "--wait=false"]);
        }
    });

    describe("effective permissions (kubectl auth can-i --list) contain nothing beyond the rule files", () => {
        // What every authenticated identity may do (the API server's own bootstrap roles), not ours.
        // Kubernetes 1.37 also lets every ServiceAccount read ClusterTrustBundles (public CA certificates).
        const BASELINE = new Set(["selfsubjectaccessreviews.authorization.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io",
            "selfsubjectreviews.authentication.k8s.io", "clustertrustbundles.certificates.k8s.io"]);
        // tekton-dag-pr-code is named by no rule file: its expected set is empty.
        const accounts = [PIPELINE_SA, MIRRORD_SA, TELEPRESENCE_SA, PR_CODE_SA, PR_STOPPER_SA, RETEST_SA];
        type Rules = RuleFile["rules"];
        /** The account's permissions in each namespace equal its rule files' plus `extra` (Roles outside them). */
        async function checkEffective(account: Account, extra: Array<{ ns: string; rules: Rules }> = []): Promise<void> {
            const creds = await credentials(account);
            for (const ns of [PIPELINES_NS, TARGET_NS, TELEPRESENCE_NS, "default", "kube-system"]) {
                const expected = new Map<string, Set<string>>();
                const granted: Rules[] = extra.filter((e) => e.ns === ns).map((e) => e.rules);
                for (const f of files) {
                    if (f.subject !== account.name || NS_OF[f.roleNamespaces] !== ns) continue;
                    if (accountOf(f).namespace !== account.namespace) continue;
                    granted.push(f.rules);
                }
                for (const r of granted.flat()) {
                    for (const g of r.apiGroups) for (const res of r.resources) {
                        const key = `${res.split("/")[0]}${g ? `.${g}` : ""}${res.includes("/") ? `/${res.split("/")[1]}` : ""} [${(r.resourceNames ?? []).join(" ")}]`;
                        const set = expected.get(key) ?? new Set<string>();
                        r.verbs.forEach((v) => set.add(v));
                        expected.set(key, set);
                    }
                }
                const out = spawnSync("kubectl", ["auth", "can-i", "--list", "-n", ns], {
                    encoding: "utf8", env: { PATH: `${cluster().bin}:/usr/bin:/bin`, HOME: path.dirname(creds.kubeconfig), KUBECONFIG: creds.kubeconfig },
                });
                assert.equal(out.status, 0, out.stderr);
                const actual = new Map<string, Set<string>>();
                for (const line of out.stdout.split("\n").slice(1)) {
                    const m = /^(\S+)\s+\[(.*?)\]\s+\[(.*?)\]\s+\[(.*?)\]\s*$/.exec(line);
                    if (!m || BASELINE.has(m[1])) continue; // non-resource URLs start with blanks
                    actual.set(`${m[1]} [${m[3]}]`, new Set(m[4].split(" ").filter(Boolean)));
                }
                const show = (m: Map<string, Set<string>>) => [...m].map(([k, v]) => `${k} ${[...v].sort().join(",")}`).sort();
                assert.deepEqual(show(actual), show(expected), `${account.name} in namespace ${ns}:\n${out.stdout}`);
            }
        }
        for (const account of accounts) {
            it(`${account.namespace}/${account.name}`, () => checkEffective(account));
        }

        // pr-comment's token Role is not a rule file: its Secret's name is config (components/rbac.ts). The kind
        // stack sets none; rendered with githubTokenSecret it adds get on exactly that Secret.
        it(`${PIPELINE_SA.namespace}/${PIPELINE_SA.name} with githubTokenSecret set: the rule files plus get on that one Secret, no other Secret`, async () => {
            const name = "tekton-dag-pr-comment-token";
            const objs = (await rbacObjects({ githubTokenSecret: "github-token" })).filter((o) => o.metadata.name === name);
            const role = objs.find((o) => o.kind === "Role");
            assert.deepEqual(role?.rules, [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["github-token"] }]);
            apply(objs);
            try {
                await waitCan(PIPELINE_SA, "get", "secrets/github-token", PIPELINES_NS, true);
                await checkEffective(PIPELINE_SA, [{ ns: PIPELINES_NS, rules: role.rules }]);
                for (const [verb, res, ns] of [["get", "secrets/another-secret", PIPELINES_NS], ["list", "secrets", PIPELINES_NS], ["watch", "secrets", PIPELINES_NS],
                    ["update", "secrets/github-token", PIPELINES_NS], ["delete", "secrets/github-token", PIPELINES_NS], ["get", "secrets/github-token", TARGET_NS]]) {
                    assert.equal(await canI(PIPELINE_SA, verb, res, ns), false, `${PIPELINE_SA.name} may ${verb} ${res} in ${ns}`);
                }
            } finally {
                kubectl(["delete", "role,rolebinding", name, "-n", PIPELINES_NS, "--ignore-not-found"]);
                await waitCan(PIPELINE_SA, "get", "secrets/github-token", PIPELINES_NS, false);
            }
        });
    });
});
