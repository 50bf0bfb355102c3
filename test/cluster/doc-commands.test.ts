/**
 * The blocks of README.md and docs/kind.md marked `run cluster` (the staging namespace, the demo app, the
 * Secrets, the run by hand) run as a reader runs them, in page order, with kubectl against the local API
 * server (test/docs/docCommands.ts has the markers). Simulated: the cluster is the local control plane, where
 * kwok plays the node (pods become Ready without running); GITHUB_TOKEN is a made-up value; HOME and git's
 * identity as in test/docs. What the blocks change is put back afterwards, since other tests share the
 * namespaces.
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { blocksFor, GIT_IDENTITY, PAGES, runPage } from "../docs/docCommands";
import { REPO } from "../support/repo";
import { ADMIN_KUBECONFIG, cluster, getJson, kubectl, kubectlOk } from "./harness";

type Ref = { ns: string; kind: string; name: string };
const key = (r: Ref) => `${r.kind.toLowerCase()}/${r.name}@${r.ns}`;

/** The objects the blocks may create or change: the demo's manifests and the Secrets they name. */
function touched(text: string): Ref[] {
    const demo = YAML.parseAllDocuments(fs.readFileSync(path.join(REPO, "examples", "demo", "apps.yaml"), "utf8"))
        .map((d) => d.toJS()).filter(Boolean).map((o: any) => ({ ns: o.metadata.namespace, kind: o.kind, name: o.metadata.name }));
    const configMaps = [...text.matchAll(/kubectl create configmap (\S+) -n (\S+)/g)].map((m) => ({ ns: m[2], kind: "ConfigMap", name: m[1] }));
    const secrets = [...text.matchAll(/kubectl create secret generic (\S+) -n (\S+)/g)].map((m) => ({ ns: m[2], kind: "Secret", name: m[1] }));
    return [...demo, ...configMaps, ...secrets];
}

/** A stored object as it can be put back with `kubectl replace`/`create`. */
function restorable(o: any): any {
    const { resourceVersion, uid, creationTimestamp, managedFields, generation, ...metadata } = o.metadata;
    void resourceVersion; void uid; void creationTimestamp; void managedFields; void generation;
    const { status, ...rest } = o;
    void status;
    return { ...rest, metadata };
}

describe("doc commands: the blocks marked run cluster, against the local API server", function () {
    this.timeout(300_000);

    for (const page of PAGES) {
        const blocks = blocksFor("cluster", [page]);
        if (blocks.length === 0) continue;

        describe(page, () => {
            const text = blocks.map((b) => b.text).join("\n");
            const refs = touched(text);
            const saved = new Map<string, any>();
            let nsBefore: { labels: Record<string, string>; annotations: Record<string, string> };
            let run: ReturnType<typeof runPage>;

            before(() => {
                cluster();
                for (const r of refs) {
                    const got = kubectl(["get", r.kind.toLowerCase(), r.name, "-n", r.ns, "-o", "json"]);
                    if (got.status === 0) saved.set(key(r), JSON.parse(got.stdout));
                }
                const meta = getJson(["get", "namespace", "staging"]).metadata;
                nsBefore = { labels: meta.labels ?? {}, annotations: meta.annotations ?? {} };
                run = runPage(blocks, {
                    ...GIT_IDENTITY,
                    GITHUB_TOKEN: "doc-test-token-not-a-real-one",
                    KUBECONFIG: ADMIN_KUBECONFIG,
                    PATH: `${cluster().bin}:${process.env.PATH}`,
                }, { timeoutMs: 240_000 });
            });

            after(() => {
                for (const m of (run?.output ?? "").matchAll(/^pipelinerun\.tekton\.dev\/(\S+) created$/gm)) {
                    kubectl(["delete", "pipelinerun", m[1], "-n", "tekton-dag", "--wait=false"]);
                }
                for (const r of refs) {
                    const old = saved.get(key(r));
                    if (!old) kubectl(["delete", r.kind.toLowerCase(), r.name, "-n", r.ns, "--ignore-not-found", "--wait=false"]);
                    else kubectl(["replace", "-f", "-"], JSON.stringify(restorable(old)));
                }
                const meta = getJson(["get", "namespace", "staging"]).metadata;
                for (const [verb, field] of [["label", "labels"], ["annotate", "annotations"]] as const) {
                    const was = nsBefore[field];
                    const now: Record<string, string> = meta[field] ?? {};
                    const undo = Object.keys(now).filter((k) => !(k in was)).map((k) => `${k}-`);
                    const redo = Object.entries(was).filter(([k, v]) => now[k] !== v).map(([k, v]) => `${k}=${v}`);
                    if (undo.length || redo.length) kubectlOk([verb, "namespace", "staging", "--overwrite", ...undo, ...redo]);
                }
            });

            it(`${blocks.map((b) => b.line).join(", ")} run in order and succeed`, () => {
                assert.equal(run.status, 0, `${run.failed ?? page} failed:\n${run.output}`);
            });

            it("they change only objects this test puts back (the demo's, the Secrets they name, the runs they create)", () => {
                const known = new Set(refs.map(key));
                const changed = [...run.output.matchAll(/^([a-z.]+)\/(\S+) (created|configured)$/gm)]
                    .map((m) => ({ kind: m[1].split(".")[0], name: m[2] }))
                    .filter((c) => c.kind !== "pipelinerun" && c.kind !== "namespace");
                const unknown = changed.filter((c) => ![...known].some((k) => k.startsWith(`${c.kind}/${c.name}@`)));
                assert.deepEqual(unknown, [], "objects the blocks create that this test would leave behind");
                assert.ok(changed.length >= 8, `changes seen: ${JSON.stringify(changed)}`);
            });

            if (page === "docs/kind.md") {
                it("what they made is there: the demo apps Available, the webhook secret of 64 characters, the run for the reader's demo-api", () => {
                    for (const app of ["demo-fe", "demo-bff", "demo-api"]) {
                        const d = getJson(["get", "deployment", app, "-n", "staging"]);
                        assert.ok(d.status.conditions.some((c: any) => c.type === "Available" && c.status === "True"), app);
                    }
                    assert.match(run.output, /^64$/m);
                    const secret = getJson(["get", "secret", "github-token", "-n", "tekton-dag"]);
                    assert.equal(Buffer.from(secret.data.token, "base64").toString(), "doc-test-token-not-a-real-one");
                    const name = /^pipelinerun\.tekton\.dev\/(\S+) created$/m.exec(run.output)?.[1];
                    assert.ok(name, run.output);
                    const pr = getJson(["get", "pipelinerun", name!, "-n", "tekton-dag"]);
                    const params = Object.fromEntries(pr.spec.params.map((p: any) => [p.name, p.value]));
                    const owner = /^export GITHUB_OWNER=(\S+)/m.exec(text)![1];
                    assert.equal(params["repo-full-name"], `${owner}/demo-api`);
                    assert.equal(params["git-url"], `https://github.com/${owner}/tekton-dag-platform.git`);
                    const ns = getJson(["get", "namespace", "staging"]).metadata.labels;
                    assert.equal(ns["pod-security.kubernetes.io/enforce"], "privileged");
                });
            }
        });
    }
});
