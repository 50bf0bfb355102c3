// The plan of a run whose cluster-side tasks run their real scripts (test/tekton/step-runner.ts, mode
// `real`), and the suite around it: the staging apps, the program's objects, the token Secret, GitHub and
// the proxy pods' stand-ins.
//
// Real, as local processes with the pod's env and token: check-intercept-backend, resolve-stack (both
// steps), deploy-intercepts-telepresence / -mirrord, deploy-intercepts-result, cleanup-intercepts,
// pr-comment and the commit statuses (status-pending, status-final), and the listener's own TaskRuns
// (stop-pr-runs, retest-pr). Simulated (outcomes chosen here): the git clones (fetch-platform leaves the stack file in the
// workspace, as a clone of the platform repository would), the build, the PR's hooks and tests (PR code in
// images that cannot run here), and the validate tasks (pod-to-pod HTTP). Inside the real steps: the
// `mirrord verify-config` of deploy-intercepts-mirrord (recorded answer), the proxy pods' containers and
// kubelet (test/cluster/standins.ts), and GitHub (./github.ts) behind pr-comment's real curl.
import { createHash } from "node:crypto";
import { apply, installApps, PIPELINES_NS, purgeRunObjects, Rule } from "../cluster/harness";
import { ProxyPods } from "../cluster/standins";
import { yqDir } from "../flow/helpers";
import { GitHubStandIn } from "../support/githubStandIn";
import { Gate, RunPlan, StepContext, StepRunner } from "./step-runner";
import { controllersRunning, installProgram, purgePipelineRuns } from "./tekton";

export const TOKEN_SECRET = "tekton-tier-github-token";
export const TOKEN = "ghp_tektonTierTestToken0000000000000000";
/** The repository of each app of STACK_FILE (the webhook's repository.full_name selects the app). */
export const APP_REPOS: Record<string, string> = { "demo-fe": "example-org/demo-fe", "demo-api": "example-org/demo-api", "demo-db": "example-org/demo-db" };

/** The stack file the simulated clone of the platform repository leaves: the staging apps of installApps(). */
export const STACK_FILE = `name: tekton-tier
propagation:
  header-name: x-dev-session
defaults:
  namespace: staging
  service-port: "80"
  container-port: "8080"
apps:
${Object.entries(APP_REPOS).map(([name, repo], i, all) => `  - name: ${name}
    repo: ${repo}
    build:
      tool: npm
    downstream: [${i + 1 < all.length ? all[i + 1][0] : ""}]
`).join("")}`;

const MIRRORD_VERIFY: Rule[] = [{ cmd: "mirrord", match: "^verify-config ", stdout: { type: "Success", config: {} } }];

/** What containerize reports: the changed app's image in the run's registry, by digest. */
function builtImages(ctx: StepContext): Record<string, string> {
    const app = ctx.resultsOf("resolve-stack")["changed-app"];
    const digest = createHash("sha256").update(`${ctx.runId}/${app}`).digest("hex");
    return { "built-images": JSON.stringify({ [app]: `${ctx.param("image-registry")}/${app}@sha256:${digest}` }) };
}

export interface RealPlanOptions {
    /** Env overrides of the deploy step (the test name says which and why). */
    deployEnv?: Record<string, string>;
    /** Steps held Running until the gate opens, by pipeline task. */
    gates?: Record<string, Gate>;
}

/** The plan above, for either pipeline (stack-pr-continue starts at deploy and has no clone or build). */
export function realPlan(github: GitHubStandIn, opts: RealPlanOptions = {}): RunPlan {
    const plan: RunPlan = {
        tasks: {
            "check-intercept-backend": { real: true },
            "fetch-platform": { files: (ctx) => ({ [`.tekton-dag/runs/${ctx.runId}/platform/${ctx.param("stack-file")}`]: STACK_FILE }) },
            "resolve-stack": { real: true, path: [yqDir()] },
            "containerize": { results: builtImages },
            "deploy-intercepts-telepresence": { real: true, env: opts.deployEnv },
            "deploy-intercepts-mirrord": { real: true, env: opts.deployEnv, recorded: MIRRORD_VERIFY },
            "deploy-intercepts-result": { real: true },
            "cleanup-intercepts": { real: true },
            // GitHub's address: the one env override of pr-comment and commit-status (the pipelines keep
            // api.github.com).
            "pr-comment": { real: true, env: { GITHUB_API_URL: github.url } },
            "status-pending": { real: true, env: { GITHUB_API_URL: github.url } },
            "status-final": { real: true, env: { GITHUB_API_URL: github.url } },
            // The EventListener's own TaskRuns (no PipelineRun): the real scripts.
            "stop-pr-runs": { real: true },
            "retest-pr": { real: true, env: { GITHUB_API_URL: github.url } },
        },
        default: {},
    };
    for (const [task, gate] of Object.entries(opts.gates ?? {})) plan.tasks[task] = { ...(plan.tasks[task] ?? {}), gate };
    return plan;
}

/** The mocha hooks of a suite of real-step runs; the objects are filled in by its before hook. */
export function realStepSuite(): { runner: StepRunner; github: GitHubStandIn; proxies: ProxyPods; objs: any[] } {
    const suite = { runner: new StepRunner(PIPELINES_NS), github: new GitHubStandIn(), proxies: new ProxyPods(), objs: [] as any[] };
    before(async () => {
        controllersRunning();
        installApps();
        // The token Secret config names: the program then renders its Role and the runs' github-token-secret.
        suite.objs.push(...await installProgram({ githubTokenSecret: TOKEN_SECRET }));
        apply([{ apiVersion: "v1", kind: "Secret", metadata: { name: TOKEN_SECRET, namespace: PIPELINES_NS }, type: "Opaque", data: { token: Buffer.from(TOKEN).toString("base64") } }]);
        purgePipelineRuns();
        await purgeRunObjects();
        await suite.github.start();
        suite.proxies.start();
        suite.runner.start();
    });
    after(async () => {
        await suite.runner.stop();
        await suite.proxies.stop();
        await suite.github.stop();
        purgePipelineRuns();
        await purgeRunObjects();
    });
    return suite;
}
