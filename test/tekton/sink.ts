// The program's EventListener served by Triggers' real sink (scripts/cluster.sh tekton-sink), and GitHub
// deliveries to it: real example payloads of npm @octokit/webhooks-examples, signed as GitHub signs them.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { apply, kubectlOk, listObjects, PIPELINES_NS, sleep } from "../cluster/harness";
import { sign } from "../support/triggers";
import { REPO } from "../support/repo";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const EXAMPLES: Array<{ name: string; examples: any[] }> = require("@octokit/webhooks-examples/api.github.com/index.json");
export const WEBHOOK_SECRET = "webhook-test-secret-0f3c";

/** The example deliveries of one event. */
export function examples(event: string): any[] {
    return EXAMPLES.find((e) => e.name === event)!.examples;
}

/** A pull_request delivery of this action, from the examples, with the fields a test sets. */
export function delivery(action: string, edit: (p: any) => void = () => {}): any {
    const p = structuredClone(examples("pull_request").find((e) => e.action === action));
    assert.ok(p, `no pull_request example with action ${action}`);
    edit(p);
    return p;
}

/** GitHub's numeric id of a repository of these tests: one per name, as GitHub gives one per repository. */
export function repoId(repo: string): number {
    return parseInt(createHash("sha1").update(repo).digest("hex").slice(0, 7), 16);
}

/**
 * A delivery of PR `number` of `repo` (not a fork: head and base in the same repository), with a head commit of
 * its own (or `head`, e.g. the commit a push added).
 */
export function prDelivery(action: string, repo: string, number: number, head?: string): any {
    return delivery(action, (p) => {
        p.number = number;
        p.pull_request.number = number;
        p.pull_request.head.sha = head ?? createHash("sha1").update(`${repo}#${number}`).digest("hex");
        p.repository.id = repoId(repo);
        p.repository.full_name = repo;
        p.repository.name = repo.split("/")[1];
        p.pull_request.base.repo.full_name = repo;
        p.pull_request.head.repo.full_name = repo;
    });
}

/** Stores the webhook Secret and starts the sink for the program's EventListener; returns its URL. */
export function startSink(): string {
    apply([{ apiVersion: "v1", kind: "Secret", metadata: { name: "github-webhook-secret", namespace: PIPELINES_NS }, type: "Opaque", data: { secret: Buffer.from(WEBHOOK_SECRET).toString("base64") } }]);
    const sink = spawnSync("bash", [path.join(REPO, "scripts", "cluster.sh"), "tekton-sink", PIPELINES_NS, "tekton-dag-github"], { encoding: "utf8" });
    assert.equal(sink.status, 0, sink.stderr);
    return sink.stdout.trim();
}

/** POSTs the payload as GitHub would (event header, delivery id, signature; headers override); returns the status. */
export async function post(url: string, payload: any, headers: Record<string, string> = {}): Promise<number> {
    const body = JSON.stringify(payload);
    const res = await fetch(url, {
        method: "POST", body,
        headers: { "content-type": "application/json", "x-github-event": "pull_request", "x-github-delivery": `d-${Date.now()}-${Math.random()}`, "x-hub-signature-256": sign(body, WEBHOOK_SECRET), ...headers },
    });
    await res.text();
    return res.status;
}

export function pipelineRuns(): any[] {
    return JSON.parse(kubectlOk(["get", "pipelineruns.v1.tekton.dev", "-n", PIPELINES_NS, "-o", "json"])).items;
}

/** Waits until a PipelineRun for PR `number` exists (the sink created it); returns it. */
export async function runFor(number: number, timeoutMs = 60_000): Promise<any> {
    for (const end = Date.now() + timeoutMs; ; await sleep(250)) {
        const all = await listObjects("pipelineruns.tekton.dev", PIPELINES_NS);
        const found = all.filter((p) => p.metadata.labels?.["tekton-dag.io/pr"] === String(number));
        if (found.length > 1) throw new Error(`${found.length} PipelineRuns for PR ${number}`);
        if (found.length === 1) return found[0];
        if (Date.now() > end) throw new Error(`no PipelineRun for PR ${number} within ${timeoutMs / 1000}s`);
    }
}
