import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError, configSchema } from "../../lib/config";
import { parseConfig } from "../../lib/loadConfig";
import { readStackConfig } from "../../lib/stackFiles";
import { REPO_ROOT } from "../../lib/tektonSources";
import { projectConfig, PULUMI_YAML, renderPulumiYaml } from "../../lib/pulumiProjectConfig";
import { z } from "zod";
import { tmpDir } from "../support/tmpDir";

function problemsOf(raw: Record<string, string>): string[] {
    try {
        parseConfig(raw);
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
        return err.problems;
    }
    assert.fail("config was accepted");
}

describe("stack config", () => {
    it("defaults to Telepresence, the staging namespace and building the images", () => {
        const c = parseConfig({});
        assert.equal(c.interceptBackend, "telepresence");
        assert.deepEqual(c.targetNamespaces, ["staging"]);
        assert.equal(c.defaultNamespace, "staging");
        assert.equal(c.buildImages, true);
        assert.equal(c.registryPull, c.registryPush, "pull registry defaults to the push registry");
        assert.equal(c.prImageRegistry, c.registryPull);
    });

    it("rejects an unknown backend naming the key, the allowed values and the value given", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:interceptBackend": "mirord" }),
            ['tekton-dag:interceptBackend must be one of telepresence, mirrord; got "mirord"']);
    });

    it("rejects an empty backend", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:interceptBackend": "" }),
            ['tekton-dag:interceptBackend must be one of telepresence, mirrord; got ""']);
    });

    it("reports unknown keys of the project and ignores other namespaces", () => {
        const problems = problemsOf({ "tekton-dag:interceptBackennd": "mirrord", "kubernetes:context": "kind-kind" });
        assert.equal(problems.length, 1);
        assert.match(problems[0], /^tekton-dag:interceptBackennd is not a known config key; known keys: interceptBackend, /);
    });

    it("reports every bad value at once, each with its key and value", () => {
        const problems = problemsOf({
            "tekton-dag:production": "yes",
            "tekton-dag:targetNamespaces": '["staging", "Bad_NS"]',
            "tekton-dag:leaseWaitSeconds": "ten",
        });
        assert.deepEqual(problems.sort(), [
            'tekton-dag:leaseWaitSeconds must be a whole number; got "ten"',
            'tekton-dag:production must be true or false; got "yes"',
            'tekton-dag:targetNamespaces[1] must be a Kubernetes name (lowercase letters, digits and \'-\', at most 63); got "[\\"staging\\", \\"Bad_NS\\"]"',
        ]);
    });

    it("treats an empty optional key as not set (Pulumi.yaml's default for it)", () => {
        const c = parseConfig({ "tekton-dag:registryPush": "r:5000", "tekton-dag:registryPull": "", "tekton-dag:mirrordImage": "" });
        assert.equal(c.registryPull, "r:5000");
        assert.equal(c.mirrordImage, undefined);
    });

    it("accepts lists as JSON or comma-separated", () => {
        assert.deepEqual(parseConfig({ "tekton-dag:targetNamespaces": '["a","b"]' }).targetNamespaces, ["a", "b"]);
        assert.deepEqual(parseConfig({ "tekton-dag:targetNamespaces": "a, b" }).targetNamespaces, ["a", "b"]);
    });

    it("requires pinned image references when images are not built", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:buildImages": "false" }), [
            "tekton-dag:mirrordImage is required when tekton-dag:buildImages is false (an image reference pinned by digest or tag)",
            "tekton-dag:telepresenceImage is required when tekton-dag:buildImages is false (an image reference pinned by digest or tag)",
        ]);
        assert.deepEqual(problemsOf({
            "tekton-dag:buildImages": "false",
            "tekton-dag:mirrordImage": "registry.example/mirrord:latest",
            "tekton-dag:telepresenceImage": "registry.example/tp:2.25.1",
        }), ['tekton-dag:mirrordImage must be pinned: a digest (@sha256:...) or a tag other than latest; got "registry.example/mirrord:latest"']);
        const ok = parseConfig({
            "tekton-dag:buildImages": "false",
            "tekton-dag:mirrordImage": "registry.example:5000/mirrord:3.250.0",
            "tekton-dag:telepresenceImage": `registry.example/tp@sha256:${"a".repeat(64)}`,
        });
        assert.equal(ok.mirrordImage, "registry.example:5000/mirrord:3.250.0");
    });

    it("rejects a configured image while images are built (which one would win is unclear)", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:mirrordImage": "r/m:1.0.0" }), [
            "tekton-dag:mirrordImage is set but tekton-dag:buildImages is true; set buildImages to false to use your own image, or remove mirrordImage",
        ]);
    });

    it("rejects a Telepresence version without header intercepts, and a traffic manager namespace it would share", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:telepresenceVersion": "2.24.9" }),
            ['tekton-dag:telepresenceVersion must be 2.25.0 or later (header intercepts with --http-header); got "2.24.9"']);
        // Only header-filtered intercepts (the default) needs the chart key of 2.26.0; an external manager is not configured here.
        assert.deepEqual(problemsOf({ "tekton-dag:telepresenceVersion": "2.25.3" }), [
            'tekton-dag:telepresenceAllowGlobalIntercepts false needs telepresenceVersion 2.26.0 or later (the chart\'s ' +
            'intercept.allowGlobalIntercepts came with 2.26.0); got "2.25.3". Raise the version, or set tekton-dag:telepresenceAllowGlobalIntercepts true',
        ]);
        for (const ok of [{ "tekton-dag:telepresenceAllowGlobalIntercepts": "true" }, { "tekton-dag:installTelepresence": "false" }] as Array<Record<string, string>>) {
            assert.doesNotThrow(() => parseConfig({ "tekton-dag:telepresenceVersion": "2.25.3", ...ok }), JSON.stringify(ok));
        }
        assert.deepEqual(problemsOf({ "tekton-dag:telepresenceNamespace": "staging" }), [
            'tekton-dag:telepresenceNamespace must be a namespace of its own (the program creates and deletes it); got "staging", which is also the pipelines or a target namespace',
        ]);
        // An external traffic manager in a target namespace: the NetworkPolicies could not keep PR code from it.
        assert.match(problemsOf({ "tekton-dag:telepresenceNamespace": "staging", "tekton-dag:installTelepresence": "false" })[0],
            /^tekton-dag:telepresenceNamespace must be a namespace of its own while NetworkPolicies are rendered .*; or set tekton-dag:enableNetworkPolicies false$/);
        assert.doesNotThrow(() => parseConfig({
            "tekton-dag:telepresenceNamespace": "staging", "tekton-dag:installTelepresence": "false", "tekton-dag:enableNetworkPolicies": "false",
        }));
    });

    it("rejects a lease wait of zero and a sweep age shorter than a run", () => {
        assert.match(problemsOf({ "tekton-dag:leaseWaitSeconds": "0" })[0], /^tekton-dag:leaseWaitSeconds .*>=1; got "0"$/);
        assert.match(problemsOf({ "tekton-dag:orphanMaxAgeSeconds": "600" })[0], /^tekton-dag:orphanMaxAgeSeconds .*>=7200; got "600"$/);
    });

    it("rejects an agent arrival wait outside 30-600 seconds, naming the key and the bounds", () => {
        assert.equal(parseConfig({}).telepresenceAgentArrivalSeconds, 180, "long enough for a JVM app's first intercept");
        assert.deepEqual(problemsOf({ "tekton-dag:telepresenceAgentArrivalSeconds": "10" }),
            ["tekton-dag:telepresenceAgentArrivalSeconds must be at least 30 (seconds; Telepresence's own default); got \"10\""]);
        // Two waits (one retry) must fit in Tekton's default 60-minute PipelineRun timeout beside builds and tests.
        assert.match(problemsOf({ "tekton-dag:telepresenceAgentArrivalSeconds": "601" })[0],
            /^tekton-dag:telepresenceAgentArrivalSeconds must be at most 600 \(seconds\).*60-minute.*; got "601"$/);
        assert.equal(parseConfig({ "tekton-dag:telepresenceAgentArrivalSeconds": "600" }).telepresenceAgentArrivalSeconds, 600);
        assert.deepEqual(problemsOf({ "tekton-dag:telepresenceAgentArrivalSeconds": "2m" }),
            ['tekton-dag:telepresenceAgentArrivalSeconds must be a whole number; got "2m"']);
    });

    it("needs the mirrord (tools) image even with intercepts off, because every pipeline runs it", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:buildImages": "false", "tekton-dag:enableIntercepts": "false" }),
            ["tekton-dag:mirrordImage is required when tekton-dag:buildImages is false (an image reference pinned by digest or tag)"]);
    });

    it("names what replaces a removed key instead of calling it unknown, and loses the other problems of the stack", () => {
        const problems = problemsOf({ "tekton-dag:forkTestLabel": "ok-to-test", "tekton-dag:leaseWaitSeconds": "0" });
        assert.equal(problems.length, 2);
        assert.match(problems[0], /^tekton-dag:forkTestLabel was removed: .*forkApprovalComment.*\/ok-to-test <sha>.*docs\/webhook\.md/);
        assert.match(problems[1], /^tekton-dag:leaseWaitSeconds /);
    });

    it("rejects a pipelines namespace that is also a target namespace", () => {
        assert.deepEqual(problemsOf({ "tekton-dag:pipelinesNamespace": "staging" }),
            ['tekton-dag:pipelinesNamespace must differ from every target namespace; got "staging" in both']);
    });

    it("Pulumi.yaml is what lib/config.ts generates (npm run pulumi-yaml rewrites it)", () => {
        const committed = fs.readFileSync(PULUMI_YAML, "utf8");
        assert.equal(committed, renderPulumiYaml(committed), "Pulumi.yaml differs from lib/config.ts; run `npm run pulumi-yaml`");
    });

    it("generates a declaration the engine accepts for every schema key: a type, the schema's default (\"\" when optional) and its description", () => {
        const declared = YAML.parse(renderPulumiYaml("name: x\n")).config;
        assert.deepEqual(Object.keys(declared), Object.keys(configSchema.shape));
        assert.deepEqual(declared.interceptBackend, {
            type: "string", default: "telepresence",
            description: "Default intercept backend of both pipelines and the webhook trigger: telepresence or mirrord",
        });
        assert.deepEqual(declared.targetNamespaces, { type: "array", description: declared.targetNamespaces.description, items: { type: "string" }, default: ["staging"] });
        assert.deepEqual([declared.leaseWaitSeconds.type, declared.leaseWaitSeconds.default], ["integer", 600]);
        assert.deepEqual([declared.production.type, declared.production.default], ["boolean", false]);
        assert.deepEqual([declared.registryPull.type, declared.registryPull.default], ["string", ""], "optional: \"\" means not set");
        assert.equal(YAML.parse(renderPulumiYaml("name: x\ndescription: kept\nconfig: {old: {type: string}}\n")).description, "kept");
    });

    it("refuses to generate a key without a description, naming it", () => {
        const schema = z.strictObject({ described: z.string().default("").describe("has one"), bare: z.boolean().default(false) });
        assert.throws(() => projectConfig(schema), /lib\/config.ts: config key bare has no \.describe\(\.\.\.\)/);
    });

    it("the kind stack file is valid config", () => {
        const c = parseConfig(readStackConfig("kind"));
        assert.equal(c.registryPush, "localhost:5001");
        assert.notEqual(c.registryPull, c.registryPush, "kind nodes pull by the registry container's name");
    });

    it("the local stack file is valid config that needs no network, image build or Helm chart", () => {
        const c = parseConfig(readStackConfig("local"));
        assert.equal(c.buildImages, false);
        assert.equal(c.installTekton, false);
        assert.equal(c.installTelepresence, false);
        assert.equal(c.createPipelinesNamespace, false, "scripts/cluster.sh owns the pipelines namespace");
        assert.equal(c.renderYamlToDirectory, "");
    });

    it("a missing or malformed stack file fails naming the file", () => {
        const dir = tmpDir("stackfile");
        fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config:\n  tekton-dag:interceptBackend: [unclosed\n");
        assert.throws(() => readStackConfig("nope", dir), /no stack file Pulumi\.nope\.yaml; stacks here: dev/);
        assert.throws(() => readStackConfig("dev", dir), /Pulumi\.dev\.yaml is not valid YAML/);
        fs.writeFileSync(path.join(dir, "Pulumi.flat.yaml"), "config:\n  interceptBackend: mirrord\n");
        assert.throws(() => readStackConfig("flat", dir), /config key "interceptBackend" must be namespaced, e.g. "tekton-dag:interceptBackend"/);
    });
});
