/**
 * The commands and objects in docs/ against what the program renders for the kind stack (issue 12, defect
 * 7): a newcomer who copies them gets runs with the two identities and a volume that exists, Secrets with the
 * names and keys the program reads, an Ingress to the Service the Triggers controller creates, and a test
 * delivery the trigger accepts.
 */
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { decide, runParams, runsStarted } from "../support/triggers";
import { checkRunIdentity, PolicyInput, TYPES } from "../../policy/policies";
import { named, objects, rendered } from "../support/render";
import { REPO, SCRIPTS } from "../support/repo";

const DOCS = path.join(REPO, "docs");
const KIND = { stack: "kind" };
const NS = "tekton-dag";

function docFiles(): string[] {
    return fs.readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => path.join(DOCS, f));
}

/** Every fenced block of a language in the docs, with where it is. */
function blocks(lang: string): Array<{ file: string; text: string }> {
    const out: Array<{ file: string; text: string }> = [];
    for (const file of docFiles()) {
        const text = fs.readFileSync(file, "utf8");
        for (const m of text.matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm"))) out.push({ file: path.basename(file), text: m[1] });
    }
    return out;
}

function yamlDocs(kind: string): Array<{ file: string; doc: any }> {
    return blocks("yaml").flatMap((b) => YAML.parseAllDocuments(b.text).map((d) => ({ file: b.file, doc: d.toJS() })))
        .filter((d) => d.doc?.kind === kind);
}

async function policyInputs(): Promise<PolicyInput[]> {
    return (await rendered(KIND)).map((r) => ({ type: r.type, name: r.name, props: r.inputs ?? {} }));
}

describe("docs against the rendered kind stack", () => {
    it("every documented PipelineRun runs PR code unprivileged, on a volume of its own, with the params and workspaces its Pipeline needs", async () => {
        const runs = yamlDocs("PipelineRun");
        assert.ok(runs.length > 0, "docs show a PipelineRun");
        const inputs = await policyInputs();
        const stack = {
            bindings: inputs.filter((r) => r.type === TYPES.roleBinding || r.type === TYPES.clusterRoleBinding),
            accounts: inputs.filter((r) => r.type === TYPES.serviceAccount),
            pipelines: inputs.filter((r) => r.type === TYPES.pipeline),
        };
        const objs = await objects(KIND);
        for (const { file, doc } of runs) {
            const where = `${file}: PipelineRun ${doc.metadata?.generateName ?? doc.metadata?.name}`;
            assert.equal(doc.metadata.namespace, NS, where);
            assert.deepEqual(checkRunIdentity(stack, doc, NS, where), []);
            const pipeline = named(objs, "Pipeline", doc.spec.pipelineRef.name).spec;
            const taskNames = [...pipeline.tasks, ...(pipeline.finally ?? [])].map((t: any) => t.name);
            for (const s of doc.spec.taskRunSpecs ?? []) assert.ok(taskNames.includes(s.pipelineTaskName), `${where}: no task ${s.pipelineTaskName}`);
            assert.equal(doc.spec.taskRunTemplate?.podTemplate?.securityContext?.fsGroup, 65532, `${where}: fsGroup`);
            const given = new Set((doc.spec.params ?? []).map((p: any) => p.name));
            for (const p of pipeline.params) if (p.default === undefined) assert.ok(given.has(p.name), `${where}: required param ${p.name}`);
            for (const name of given) assert.ok(pipeline.params.some((p: any) => p.name === name), `${where}: unknown param ${name}`);
            for (const w of pipeline.workspaces) {
                const bound = (doc.spec.workspaces ?? []).find((b: any) => b.name === w.name);
                if (!w.optional) assert.ok(bound, `${where}: workspace ${w.name}`);
                if (bound && !bound.secret) {
                    assert.ok(bound.volumeClaimTemplate, `${where}: ${w.name} must be a volumeClaimTemplate (the program creates no PVC)`);
                }
            }
        }
    });

    it("every documented Ingress reaches the EventListener's Service (el-<name>, port 8080)", async () => {
        const listener = named(await objects(KIND), "EventListener", "tekton-dag-github");
        const ingresses = yamlDocs("Ingress");
        assert.ok(ingresses.some((i) => i.file === "kind.md"), "kind.md shows an Ingress");
        for (const { file, doc } of ingresses) {
            assert.equal(doc.metadata.namespace, listener.metadata.namespace, file);
            for (const rule of doc.spec.rules) {
                for (const p of rule.http.paths) {
                    assert.deepEqual(p.backend.service, { name: `el-${listener.metadata.name}`, port: { number: 8080 } }, file);
                }
            }
        }
        for (const b of blocks("sh")) {
            for (const m of b.text.matchAll(/\bel-[a-z0-9-]+/g)) assert.equal(m[0], `el-${listener.metadata.name}`, `${b.file}: ${m[0]}`);
        }
    });

    it("the documented Secrets have the names and keys the program reads", async () => {
        const objs = await objects(KIND);
        const github = named(objs, "EventListener", "tekton-dag-github").spec.triggers[0].interceptors[0];
        const ref = github.params.find((p: any) => p.name === "secretRef").value;
        const sh = blocks("sh").map((b) => b.text).join("\n");
        // Secret values come from stdin, never from command arguments (visible in the process list).
        assert.doesNotMatch(sh, /--from-literal|--docker-password/);
        const webhook = /kubectl create secret generic (\S+) -n (\S+) --from-file=([a-z]+)=\/dev\/stdin/.exec(sh);
        assert.ok(webhook, "docs create the webhook Secret");
        assert.deepEqual([webhook[1], webhook[2], webhook[3]], [ref.secretName, NS, ref.secretKey]);
        const token = /kubectl create secret generic github-token -n (\S+) --from-file=([a-z]+)=\/dev\/stdin/.exec(sh);
        assert.ok(token, "docs create the token Secret");
        // pr-comment.sh and commit-status.sh read the token through lib-github.sh.
        const prComment = fs.readFileSync(path.join(SCRIPTS, "lib-github.sh"), "utf8");
        assert.ok(prComment.includes(`{.data.${token[2]}}`), `lib-github.sh reads key ${token[2]}`);
        assert.match(sh, /kubectl create secret generic registry-push -n tekton-dag \\\n\s*--type=kubernetes.io\/dockerconfigjson --from-file=\.dockerconfigjson=\/dev\/stdin/,
            "a docker-registry Secret holds .dockerconfigjson, the key the TriggerTemplate mounts");
    });

    it("the documented test delivery starts one run through Tekton Triggers' own interceptors and binding, for the documented PR", async function () {
        this.timeout(30 * 60 * 1000); // the first call on a machine builds tools/triggers-eval
        const objs = await objects(KIND);
        const sh = blocks("sh").map((b) => b.text).join("\n");
        const payload = /^payload='(.*)'$/m.exec(sh);
        assert.ok(payload, "webhook.md has a test payload");
        const [decisions] = decide(objs, [{ event: "pull_request", body: payload[1] }]);
        const runs = runsStarted(decisions);
        assert.equal(runs.length, 1, JSON.stringify(decisions));
        const body = JSON.parse(payload[1]);
        assert.equal(runParams(runs[0])["repo-full-name"], body.repository.full_name);
        const labelQuery = /kubectl get pipelineruns -n tekton-dag -l tekton-dag.io\/pr=(\d+)/.exec(sh);
        assert.equal(labelQuery?.[1], runs[0].metadata.labels["tekton-dag.io/pr"], "the documented query finds the run");
        assert.match(sh, /-H 'X-GitHub-Event: pull_request'/);
        assert.match(sh, /X-Hub-Signature-256: \$signature/);
    });

    it("no doc starts a run that names a PVC nothing creates, or the pipeline ServiceAccount for every task", () => {
        for (const file of docFiles()) {
            const text = fs.readFileSync(file, "utf8");
            assert.doesNotMatch(text, /claimName: tekton-dag-workspace/, path.basename(file));
            assert.doesNotMatch(text, /--serviceaccount tekton-dag-pipeline/, path.basename(file));
            // tkn's flags cannot give the two identities; the docs start runs from the manifest instead.
            assert.doesNotMatch(text, /tkn pipeline start stack-pr/, path.basename(file));
        }
    });
});
