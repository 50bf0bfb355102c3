/**
 * examples/pipelinerun-by-hand.yaml, generated: the PipelineRun the program's EventListener starts for a
 * pull request of the demo (examples/demo), as Tekton Triggers v0.37.0's own code resolves the rendered
 * TriggerBinding and TriggerTemplate (tools/triggers-eval), plus the namespace a file for `kubectl create`
 * needs. So a run by hand has exactly the identities, pod template, workspace and params of a webhook run.
 * The kind stack is rendered with the two settings docs/kind.md has the reader set for the demo (the
 * platform repository and its stack file); `tekton-dag-demo` stands for the reader's GitHub owner there and
 * in examples/demo/stack.yaml. Never edit the file by hand:
 *
 *   npx ts-node --transpile-only test/examples/pipelineRunByHand.ts --write
 */
import examples from "@octokit/webhooks-examples";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { named, objects } from "../support/render";
import { decide, runsStarted } from "../support/triggers";
import { REPO } from "../support/repo";

export const SAMPLE = "examples/pipelinerun-by-hand.yaml";
/** What docs/kind.md has the reader set with `pulumi config set`, for the owner tekton-dag-demo. */
export const DEMO_SETTINGS = {
    platformRepoUrl: "https://github.com/tekton-dag-demo/tekton-dag-platform.git",
    stackFile: "stacks/demo.yaml",
};
/** Stands for the head commit of the reader's PR. */
const SAMPLE_SHA = "0123456789abcdef0123456789abcdef01234567";

const HEADER = `# A stack-pr-test run started by hand: the run the webhook would start for PR 1 of the demo app demo-api
# (docs/kind.md). Generated from the objects the program renders, by Tekton Triggers' own template
# resolution; do not edit, run: npx ts-node --transpile-only test/examples/pipelineRunByHand.ts --write
#
# Replace tekton-dag-demo with your GitHub owner, and app-revision and pr-number with your PR's head
# commit and number (or app-revision with a branch and pr-number with any number: then no PR head is
# checked and no commit status set). Start it with kubectl create (the name is generated), e.g.
#   sed "s/tekton-dag-demo/$GITHUB_OWNER/" examples/pipelinerun-by-hand.yaml | kubectl create -f -
`;

/** The demo app a PR is opened in: the last app of the demo's chain. */
function demoRepo(): string {
    const stack = YAML.parse(fs.readFileSync(path.join(REPO, "examples", "demo", "stack.yaml"), "utf8"));
    return stack.apps[stack.apps.length - 1].repo;
}

/** A real pull_request "opened" delivery (from @octokit/webhooks-examples) for PR 1 of the demo app. */
function delivery(): any {
    const example = (examples as any[]).find((e) => e.name === "pull_request").examples.find((p: any) => p.action === "opened");
    const body = JSON.parse(JSON.stringify(example));
    const repo = demoRepo();
    body.number = 1;
    body.repository.full_name = repo;
    body.repository.name = repo.split("/")[1];
    Object.assign(body.pull_request, { number: 1, state: "open" });
    body.pull_request.head = { ...body.pull_request.head, sha: SAMPLE_SHA, repo: { ...body.pull_request.head.repo, full_name: repo } };
    body.pull_request.base = { ...body.pull_request.base, repo: { ...body.pull_request.base.repo, full_name: repo } };
    return body;
}

/** The file's text. */
export async function pipelineRunByHand(): Promise<string> {
    const objs = await objects({ stack: "kind", overrides: DEMO_SETTINGS });
    const runs = runsStarted(decide(objs, [{ event: "pull_request", body: delivery() }])[0]);
    if (runs.length !== 1) throw new Error(`the demo's pull_request delivery started ${runs.length} runs, expected one`);
    const [run] = runs;
    const namespace = named(objs, "EventListener", "tekton-dag-github").metadata.namespace;
    // The delivery's id and GitHub's id of the example's repository are the listener's, not a hand's: without
    // them no push, /retest or closing of a PR stops the run (stop-pr-runs finds runs by both).
    const labels = { ...run.metadata.labels };
    delete labels["tekton-dag.io/delivery"];
    delete labels["tekton-dag.io/repo-id"];
    const out = { apiVersion: run.apiVersion, kind: run.kind, metadata: { ...run.metadata, labels, namespace }, spec: run.spec };
    return HEADER + YAML.stringify(out, { lineWidth: 0 });
}

if (require.main === module && process.argv.includes("--write")) {
    void pipelineRunByHand().then((text) => {
        fs.writeFileSync(path.join(REPO, SAMPLE), text);
        console.log(`wrote ${SAMPLE}`);
    });
}
