/**
 * Which GitHub deliveries start a run, decided by Tekton Triggers v0.37.0's own sink chain, github and cel
 * interceptors and binding resolution (test/support/triggers.ts) on real payloads from
 * @octokit/webhooks-examples, against the EventListener, TriggerBindings and TriggerTemplate the program
 * renders. Simulated: the listener's HTTP front door and the creation of the PipelineRuns.
 * A payload changed for a case (a fork's head, a closed state, an approval comment) says what it changed.
 */
import { strict as assert } from "node:assert";
import examples from "@octokit/webhooks-examples";
import { named, objects, paramDefault } from "../support/render";
import { decide, Delivery, runParams, runsStarted, sign, taskRunsStarted } from "../support/triggers";
import { resolveStack } from "../flow/helpers";
import * as fs from "fs";
import * as path from "path";
import { INTERCEPT_BACKENDS } from "../../lib/config";
import { INTERCEPT_LABEL_PREFIX } from "../../lib/interceptLabel";
import { REPO, SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";

const payloads = (event: string): any[] => {
    const found = (examples as any[]).find((e) => e.name === event);
    assert.ok(found, `@octokit/webhooks-examples has ${event} payloads`);
    return found.examples;
};
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

/** A delivery's labels set to these names, each shaped like the example's own label object. */
function withLabels(labels: any[], names: string[]): any[] {
    return names.map((name, i) => ({ ...labels[0], id: 1000 + i, node_id: `label-${i}`, name }));
}

/** The real check-intercept-backend.sh on a value, as the run's first task gets it (env INTERCEPT_BACKEND). */
function checkBackend(value: string) {
    return runScript(path.join(SCRIPTS, "check-intercept-backend.sh"), { INTERCEPT_BACKEND: value, INTERCEPTS_ENABLED: "true" });
}
const SHA = "c0ffee0123456789abcdef0123456789abcdef01";

/** A real pull_request payload of an action, with its head moved to another repository (a fork). */
function pullRequest(action: string, headRepo?: string | null): any {
    const body = clone(payloads("pull_request").find((p) => p.action === action));
    assert.ok(body, `an example pull_request delivery with action ${action}`);
    if (headRepo !== undefined) body.pull_request.head.repo = headRepo === null ? null : { ...body.pull_request.head.repo, full_name: headRepo };
    return body;
}

/**
 * A real issue_comment payload made into an approval comment on a PR: GitHub marks a PR's comments with
 * issue.pull_request; the example's issue is a plain issue, so the case adds it.
 */
function comment(text: string, opts: { association?: string; state?: string; action?: string; onPr?: boolean } = {}): any {
    const body = clone(payloads("issue_comment").find((p) => p.action === (opts.action ?? "created")));
    body.comment.body = text;
    body.comment.author_association = opts.association ?? "MEMBER";
    body.issue.state = opts.state ?? "open";
    if (opts.onPr ?? true) body.issue.pull_request = { url: `${body.repository.url}/pulls/${body.issue.number}` };
    else delete body.issue.pull_request;
    return body;
}

describe("GitHub deliveries through Tekton Triggers' own interceptors and bindings (front door and object creation simulated)", function () {
    this.timeout(30 * 60 * 1000);
    let objs: any[];
    let noApproval: any[];
    before(async () => {
        objs = await objects({ stack: "kind", overrides: { trustedForkRepos: "Alice/Hello-World", forkApprovalComment: "true" } });
        noApproval = await objects({ stack: "kind" });
    });
    const started = (deliveries: Delivery[], from = objs) => decide(from, deliveries).map(runsStarted);

    it("every real pull_request delivery of an open PR that is opened, pushed to or reopened starts one run, with the PR's head, number and repository", () => {
        const all = payloads("pull_request");
        const runs = started(all.map((body) => ({ event: "pull_request", body })));
        for (const [i, body] of all.entries()) {
            const expected = ["opened", "synchronize", "reopened"].includes(body.action) && body.pull_request.state === "open";
            assert.equal(runs[i].length, expected ? 1 : 0, `${body.action} (${body.pull_request.state})`);
            if (!expected) continue;
            const run = runs[i][0];
            assert.equal(run.kind, "PipelineRun");
            assert.equal(run.spec.pipelineRef.name, "stack-pr-test");
            const params = runParams(run);
            assert.equal(params["app-revision"], body.pull_request.head.sha);
            assert.equal(params["pr-number"], String(body.pull_request.number));
            assert.equal(params["repo-full-name"], body.repository.full_name);
            assert.equal(params["changed-app"], undefined, "the app is found from the repository by resolve-stack");
            assert.equal(run.metadata.labels["tekton-dag.io/pr"], String(body.pull_request.number));
        }
        assert.ok(runs.some((r) => r.length === 1) && runs.some((r) => r.length === 0));
    });

    it("a PR that is not open never runs, whatever the action says (state changed to closed in an opened delivery)", () => {
        const closedOpened = pullRequest("opened");
        closedOpened.pull_request.state = "closed";
        const [closed, merged] = payloads("pull_request").filter((p) => p.action === "closed");
        assert.deepEqual(started([closedOpened, closed, merged].map((body) => ({ event: "pull_request", body }))), [[], [], []]);
    });

    it("a bad, missing or other-secret signature, another event type and a ping start nothing; the github interceptor says why", () => {
        const body = pullRequest("opened");
        const raw = JSON.stringify(body);
        const deliveries: Delivery[] = [
            { event: "pull_request", body: raw, signature: sign(raw, "not-the-secret") },
            { event: "pull_request", body: raw, signature: null },
            { event: "pull_request", body: raw.replace('"opened"', '"opened" '), signature: sign(raw) },
            { event: "push", body: raw },
            { event: "ping", body: { zen: "Keep it logically awesome.", hook_id: 1 } },
        ];
        const decisions = decide(objs, deliveries);
        for (const d of decisions) assert.deepEqual(runsStarted(d), []);
        assert.match(decisions[0][0].reason!, /signature/i);
        assert.match(decisions[1][0].reason!, /no X-Hub-Signature-256 header set/);
        assert.match(decisions[2][0].reason!, /signature/i);
        assert.match(decisions[3][0].reason!, /event type push is not allowed/);
        assert.match(decisions[4][0].reason!, /event type ping is not allowed/);
    });

    it("a fork's PR runs on push only when the fork is trusted (compared case-insensitively, as GitHub names repositories)", () => {
        const runs = started([
            { event: "pull_request", body: pullRequest("synchronize", "alice/hello-world") },
            { event: "pull_request", body: pullRequest("opened", "mallory/Hello-World") },
            { event: "pull_request", body: pullRequest("synchronize", "mallory/Hello-World") },
            { event: "pull_request", body: pullRequest("opened", null) },
        ]);
        assert.deepEqual(runs.map((r) => r.length), [1, 0, 0, 0]);
    });

    it("a label no longer runs anything (it approved whatever commit was the head when it landed)", () => {
        const labeled = pullRequest("labeled", "mallory/Hello-World");
        labeled.label = { ...labeled.label, name: "ok-to-test" };
        assert.deepEqual(started([{ event: "pull_request", body: labeled }]), [[]]);
    });

    describe("approval comments: /ok-to-test <sha>", () => {
        it("an owner's, member's or collaborator's approval on an open PR starts one run of exactly that commit", () => {
            const associations = ["OWNER", "MEMBER", "COLLABORATOR"];
            const bodies = associations.map((association) => comment(`/ok-to-test ${SHA}\r\n`, { association }));
            const runs = started(bodies.map((body) => ({ event: "issue_comment", body })));
            for (const [i, body] of bodies.entries()) {
                assert.equal(runs[i].length, 1, associations[i]);
                const params = runParams(runs[i][0]);
                assert.equal(params["app-revision"], SHA);
                assert.equal(params["pr-number"], String(body.issue.number));
                assert.equal(params["repo-full-name"], body.repository.full_name);
            }
        });

        it("starts nothing for anyone else, a closed PR, a plain issue, an edited or deleted comment, or a comment that is not exactly the command and a full sha", () => {
            const refused: Array<[string, any]> = [
                ["a contributor (a fork's author)", comment(`/ok-to-test ${SHA}`, { association: "CONTRIBUTOR" })],
                ["a first-time contributor", comment(`/ok-to-test ${SHA}`, { association: "FIRST_TIME_CONTRIBUTOR" })],
                ["no association", comment(`/ok-to-test ${SHA}`, { association: "NONE" })],
                ["a closed PR", comment(`/ok-to-test ${SHA}`, { state: "closed" })],
                ["a plain issue", comment(`/ok-to-test ${SHA}`, { onPr: false })],
                ["an edited comment", comment(`/ok-to-test ${SHA}`, { action: "edited" })],
                ["a deleted comment", comment(`/ok-to-test ${SHA}`, { action: "deleted" })],
                ["no sha", comment("/ok-to-test")],
                ["an abbreviated sha", comment(`/ok-to-test ${SHA.slice(0, 12)}`)],
                ["a sha in capitals", comment(`/ok-to-test ${SHA.toUpperCase()}`)],
                ["more text after the sha", comment(`/ok-to-test ${SHA} and the next push too`)],
                ["the command inside other text", comment(`lgtm\n/ok-to-test ${SHA}`)],
                ["the real example comment", payloads("issue_comment")[0]],
            ];
            const runs = started(refused.map(([, body]) => ({ event: "issue_comment", body })));
            refused.forEach(([what], i) => assert.deepEqual(runs[i], [], what));
        });

        it("starts nothing when forkApprovalComment is off (the default): no approval trigger, and the others refuse it", () => {
            assert.deepEqual(named(noApproval, "EventListener", "tekton-dag-github").spec.triggers.map((t: any) => t.name),
                ["github-pull-request", "github-pull-request-closed", "github-retest"]);
            const [decisions] = decide(noApproval, [{ event: "issue_comment", body: comment(`/ok-to-test ${SHA}`, { association: "OWNER" }) }]);
            assert.deepEqual(runsStarted(decisions), []);
            assert.deepEqual(taskRunsStarted(decisions), []);
            assert.match(decisions.find((d) => d.trigger === "github-pull-request")!.reason!, /event type issue_comment is not allowed/);
        });

        it("an approval also stops the PR's earlier runs, as superseded by the approved commit", () => {
            const [decisions] = decide(objs, [{ event: "issue_comment", body: comment(`/ok-to-test ${SHA}`, { association: "OWNER" }) }]);
            const [stop] = taskRunsStarted(decisions);
            assert.equal(runParams(stop).reason, "superseded");
            assert.equal(runParams(stop)["head-sha"], SHA);
        });
    });

    describe("a PR's lifecycle: newer runs stop older ones, closing stops them all, /retest reruns", () => {
        it("every run is started beside a stop-pr-runs TaskRun for the same PR, repository id and delivery, as its own ServiceAccount", () => {
            const body = pullRequest("synchronize");
            const [decisions] = decide(objs, [{ event: "pull_request", body }]);
            const [run] = runsStarted(decisions);
            const stops = taskRunsStarted(decisions);
            assert.equal(stops.length, 1);
            const [stop] = stops;
            assert.equal(stop.spec.taskRef.name, "stop-pr-runs");
            assert.equal(stop.spec.serviceAccountName, "tekton-dag-pr-stopper");
            assert.deepEqual(runParams(stop), {
                "repo-id": String(body.repository.id), "pr-number": String(body.pull_request.number), reason: "superseded",
                "head-sha": body.pull_request.head.sha, delivery: run.metadata.labels["tekton-dag.io/delivery"],
            });
            for (const label of ["tekton-dag.io/pr", "tekton-dag.io/repo-id", "tekton-dag.io/delivery"]) {
                assert.equal(stop.metadata.labels[label], run.metadata.labels[label], label);
            }
            assert.equal(run.metadata.labels["tekton-dag.io/repo-id"], String(body.repository.id));
            assert.match(run.metadata.labels["tekton-dag.io/delivery"], /^[0-9a-f-]{36}$/, "Triggers' $(uid) of the delivery");
            const [again] = decide(objs, [{ event: "pull_request", body }]);
            assert.notEqual(runsStarted(again)[0].metadata.labels["tekton-dag.io/delivery"], run.metadata.labels["tekton-dag.io/delivery"],
                "every delivery has its own id, a redelivery too");
        });

        it("a closed PR, merged or not, from a fork or not, starts no run: only a stop-pr-runs TaskRun with reason closed", () => {
            const closed = payloads("pull_request").filter((p) => p.action === "closed");
            assert.ok(closed.length >= 2, "the examples have closed deliveries");
            const fromFork = clone(closed[0]);
            fromFork.pull_request.head.repo = { ...fromFork.pull_request.head.repo, full_name: "mallory/Hello-World" };
            for (const body of [...closed, fromFork]) {
                const [decisions] = decide(objs, [{ event: "pull_request", body }]);
                assert.deepEqual(runsStarted(decisions), [], `merged: ${body.pull_request.merged}`);
                const stops = taskRunsStarted(decisions);
                assert.equal(stops.length, 1);
                assert.deepEqual(runParams(stops[0]), { "repo-id": String(body.repository.id), "pr-number": String(body.pull_request.number), reason: "closed" });
            }
        });

        it("/retest of an owner, member or collaborator on an open PR starts retest-pr (its head comes from GitHub), never a run directly", () => {
            for (const association of ["OWNER", "MEMBER", "COLLABORATOR"]) {
                const body = comment(" /retest\r\n", { association });
                const [decisions] = decide(objs, [{ event: "issue_comment", body }]);
                assert.deepEqual(runsStarted(decisions), [], association);
                const [retest, ...more] = taskRunsStarted(decisions);
                assert.equal(more.length, 0);
                assert.equal(retest.spec.taskRef.name, "retest-pr");
                assert.equal(retest.spec.serviceAccountName, "tekton-dag-retest");
                const params = runParams(retest);
                assert.deepEqual({ ...params, delivery: undefined }, {
                    "repo-full-name": body.repository.full_name, "repo-id": String(body.repository.id), "pr-number": String(body.issue.number),
                    template: "stack-pr-test-template", delivery: undefined,
                    "intercept-backend": paramDefault(named(objs, "TriggerTemplate", "stack-pr-test-template"), "intercept-backend"),
                });
                assert.equal(params.delivery, retest.metadata.labels["tekton-dag.io/delivery"]);
            }
        });

        it("/retest hands retest-pr the backend the PR's intercept label chooses", () => {
            const body = comment("/retest", { association: "MEMBER" });
            body.issue.labels = [{ name: "tekton-dag/intercept:mirrord" }];
            const [decisions] = decide(objs, [{ event: "issue_comment", body }]);
            assert.equal(runParams(taskRunsStarted(decisions)[0])["intercept-backend"], "mirrord");
        });

        it("/retest does nothing for anyone else, a closed PR, a plain issue, an edited comment or other text", () => {
            const refused: Array<[string, any]> = [
                ["a contributor", comment("/retest", { association: "CONTRIBUTOR" })],
                ["no association", comment("/retest", { association: "NONE" })],
                ["a closed PR", comment("/retest", { state: "closed" })],
                ["a plain issue", comment("/retest", { onPr: false })],
                ["an edited comment", comment("/retest", { action: "edited" })],
                ["more text", comment("/retest please")],
                ["inside other text", comment("flaky?\n/retest")],
            ];
            for (const [what, body] of refused) {
                const [decisions] = decide(objs, [{ event: "issue_comment", body }]);
                assert.deepEqual([...runsStarted(decisions), ...taskRunsStarted(decisions)], [], what);
            }
        });
    });

    describe(`the intercept backend from a PR label ${INTERCEPT_LABEL_PREFIX}<backend> (labels set on real payloads)`, () => {
        /** The intercept-backend param of the one run a delivery starts. */
        const backendOf = (deliveries: Delivery[], from = objs): string[] =>
            started(deliveries, from).map((runs) => {
                assert.equal(runs.length, 1, "one run");
                return runParams(runs[0])["intercept-backend"];
            });
        const labelled = (names: string[], action = "synchronize"): Delivery => {
            const body = pullRequest(action);
            body.pull_request.labels = withLabels(body.pull_request.labels, names);
            return { event: "pull_request", body };
        };
        let mirrordDefault: any[];
        before(async () => {
            mirrordDefault = await objects({ stack: "kind", overrides: { interceptBackend: "mirrord", forkApprovalComment: "true" } });
        });

        it("a label naming a backend gives the run that backend, beside other labels, whatever the case or blank space", () => {
            for (const backend of INTERCEPT_BACKENDS) {
                const other = INTERCEPT_BACKENDS.find((b) => b !== backend)!;
                const named = [`${INTERCEPT_LABEL_PREFIX}${backend}`, `${INTERCEPT_LABEL_PREFIX} ${backend.toUpperCase()} `];
                // The stack config's backend is the other one, so the label visibly wins.
                const from = other === "mirrord" ? mirrordDefault : objs;
                assert.deepEqual(backendOf(named.map((n) => labelled(["bug", n])), from), [backend, backend], backend);
            }
        });

        it("no intercept label: the stack config's backend (tekton-dag:interceptBackend), on opened and pushed PRs", () => {
            // The last delivery has no labels field at all (edited: GitHub always sends one).
            const noField = labelled([]);
            delete (noField.body as any).pull_request.labels;
            const deliveries = [labelled([], "opened"), labelled(["bug"]), labelled(["tekton-dag/other:mirrord", "intercept:mirrord"]), noField];
            assert.deepEqual(backendOf(deliveries), ["telepresence", "telepresence", "telepresence", "telepresence"]);
            assert.deepEqual(backendOf(deliveries, mirrordDefault), ["mirrord", "mirrord", "mirrord", "mirrord"]);
        });

        it(`an unknown value starts a run with that value, and check-intercept-backend.sh fails it naming ${INTERCEPT_BACKENDS.join(", ")}`, () => {
            const [value] = backendOf([labelled([`${INTERCEPT_LABEL_PREFIX}mirord`])]);
            assert.equal(value, "mirord");
            const r = checkBackend(value);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`must be one of ${INTERCEPT_BACKENDS.join(", ")}; got "mirord"`));
            assert.match(r.stderr, /label/, "the message says a webhook run's value comes from the PR's label");
        });

        it("labels naming two backends start a run whose value is no backend and names both labels; check-intercept-backend.sh fails it", () => {
            const labels = [`${INTERCEPT_LABEL_PREFIX}telepresence`, `${INTERCEPT_LABEL_PREFIX}mirrord`];
            const [value] = backendOf([labelled(["bug", ...labels])]);
            assert.ok(!(INTERCEPT_BACKENDS as readonly string[]).includes(value), value);
            for (const l of labels) assert.ok(value.includes(l), `${value} names ${l}`);
            const r = checkBackend(value);
            assert.notEqual(r.status, 0);
            assert.match(r.stderr, new RegExp(`must be one of ${INTERCEPT_BACKENDS.join(", ")}; got "conflicting PR labels`));
            // Two labels with one value (GitHub compares label names case-insensitively) agree.
            assert.deepEqual(backendOf([labelled([`${INTERCEPT_LABEL_PREFIX}mirrord`, `${INTERCEPT_LABEL_PREFIX}Mirrord`])]), ["mirrord"]);
        });

        it("an approval comment on a PR takes the backend from the PR's labels (issue.labels), else the stack config's", () => {
            const approval = (names: string[]): Delivery => {
                const body = comment(`/ok-to-test ${SHA}`);
                body.issue.labels = withLabels(body.issue.labels, names);
                return { event: "issue_comment", body };
            };
            const runs = started([approval(["bug", `${INTERCEPT_LABEL_PREFIX}mirrord`]), approval(["bug"])]);
            assert.deepEqual(runs.map((r) => r.length), [1, 1]);
            assert.equal(runParams(runs[0][0])["intercept-backend"], "mirrord");
            assert.equal(runParams(runs[0][0])["app-revision"], SHA, "the approved sha still reaches the run");
            assert.equal(runParams(runs[1][0])["intercept-backend"], "telepresence");
            assert.deepEqual(backendOf([approval([`${INTERCEPT_LABEL_PREFIX}telepresence`]), approval([])], mirrordDefault), ["telepresence", "mirrord"]);
        });
    });

    it("the shipped stack's webhook run resolves its app: the run's params, given to resolve-stack, select the app whose repo is the PR's", async () => {
        const stackText = fs.readFileSync(path.join(REPO, "stacks", "stack-one.yaml"), "utf8");
        // The repositories of stacks/stack-one.yaml as GitHub would name them in a delivery.
        const repos: Array<[string, string]> = [
            ["jmjava/tekton-dag-vue-fe", "demo-fe"],
            ["jmjava/tekton-dag-spring-boot", "release-lifecycle-demo"],
            ["jmjava/tekton-dag-spring-boot-gradle", "demo-api"],
        ];
        const bodies = repos.map(([repo]) => {
            const body = pullRequest("opened");
            const [owner, name] = repo.split("/");
            body.repository = { ...body.repository, name, full_name: repo, owner: { ...body.repository.owner, login: owner } };
            body.pull_request.head.repo = body.pull_request.base.repo = body.repository;
            return body;
        });
        const runs = started(bodies.map((body) => ({ event: "pull_request", body })));
        for (const [i, [, app]] of repos.entries()) {
            assert.equal(runs[i].length, 1);
            const params = runParams(runs[i][0]);
            const out = await resolveStack({ stackText, changedApp: params["changed-app"], repoFullName: params["repo-full-name"], prNumber: params["pr-number"] });
            assert.equal(out.status, 0, out.stderr);
            assert.equal(out.results["changed-app"], app);
        }
    });
});
