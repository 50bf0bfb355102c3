// The traffic manager's Helm values against the telepresence-oss chart's own values schema, for every
// config combination that changes them. Helm validates values against that schema before it renders
// anything, so a value the schema refuses fails `pulumi up` of every Telepresence stack.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020, { ValidateFunction } from "ajv/dist/2020";
import * as YAML from "yaml";
import { requireSharedSchema } from "../support/sharedSchemas";
import { named, objects, paramDefault, rendered } from "../support/render";

/**
 * The chart's build merges Kubernetes' OpenAPI definitions into the schema under `definitions`; the file
 * alone only references them. Each referenced type becomes an open object (Quantity a string or number),
 * which is enough here: the program sets none of those values.
 */
function compileSchema(file: string): ValidateFunction<any> {
    const schema = YAML.parse(fs.readFileSync(file, "utf8"));
    const refs = new Set([...JSON.stringify(schema).matchAll(/"#\/definitions\/([^"]+)"/g)].map((m) => m[1]));
    schema.definitions = Object.fromEntries([...refs].map((name) =>
        [name, name.endsWith(".Quantity") ? { type: ["string", "number"] } : { type: "object" }]));
    return new Ajv2020({ strict: false, allErrors: true, logger: false }).compile<any>(schema);
}

/** Every config that changes the chart's values, with the managed namespaces it must produce. */
const CASES: Array<{ label: string; overrides: Record<string, string>; managed: string[]; arrival: string; global?: boolean }> = [
    { label: "defaults", overrides: {}, managed: ["staging"], arrival: "180s" },
    { label: "several target namespaces", overrides: { targetNamespaces: '["staging","staging-eu","api-ns"]' },
        managed: ["staging", "staging-eu", "api-ns"], arrival: "180s" },
    { label: "own traffic manager namespace", overrides: { telepresenceNamespace: "tp-system", targetNamespaces: "qa" },
        managed: ["qa"], arrival: "180s" },
    { label: "agent arrival set", overrides: { telepresenceAgentArrivalSeconds: "600" }, managed: ["staging"], arrival: "600s" },
    { label: "shortest agent arrival", overrides: { telepresenceAgentArrivalSeconds: "30" }, managed: ["staging"], arrival: "30s" },
    { label: "pinned images, another chart version, mirrord by default", overrides: { buildImages: "false",
        mirrordImage: "registry.example/m:3.250.0", telepresenceImage: "registry.example/tp:2.29.0",
        telepresenceVersion: "2.29.0", interceptBackend: "mirrord" }, managed: ["staging"], arrival: "180s" },
    { label: "global intercepts allowed", overrides: { telepresenceAllowGlobalIntercepts: "true" },
        managed: ["staging"], arrival: "180s", global: true },
];

async function chartValues(overrides: Record<string, string>): Promise<any> {
    const charts = (await rendered({ overrides })).filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
    assert.equal(charts.length, 1, "one traffic manager chart");
    return charts[0].inputs.values;
}

describe("Telepresence traffic manager values", () => {
    let validate: ValidateFunction<any>;
    before(function () {
        validate = compileSchema(requireSharedSchema(this, "telepresence-oss-values.schema.yaml"));
    });

    it("the schema refuses what the chart refuses (managerRbac.namespaced, unknown keys)", () => {
        assert.equal(validate({ managerRbac: { create: true, namespaced: true } }), false);
        assert.match(JSON.stringify(validate.errors), /additionalProperties/);
        assert.equal(validate({ timeouts: { agentArrival: "two minutes" } }), false);
        assert.ok(validate({ namespaces: ["staging"], managerRbac: { create: true } }), JSON.stringify(validate.errors));
    });

    for (const c of CASES) {
        it(`${c.label}: the values validate and manage exactly the target namespaces`, async () => {
            const values = await chartValues(c.overrides);
            assert.ok(validate(values), `values ${JSON.stringify(values)} rejected:\n${JSON.stringify(validate.errors, null, 2)}`);
            // A fixed list is what makes the chart namespaced: a Role and RoleBinding per listed namespace (plus
            // its own), no cluster-wide workload rights. A selector or an empty list would make it cluster-wide.
            assert.deepEqual(values.namespaces, c.managed);
            assert.equal(values.namespaceSelector, undefined);
            assert.deepEqual(values.managerRbac, { create: true });
            assert.equal(values.agentInjector?.enabled, true);
            assert.equal(values.timeouts?.agentArrival, c.arrival);
            // Only header-filtered intercepts unless the config allows global ones; then the chart's default
            // (the key is left out, which a chart before 2.26.0, without it, accepts).
            assert.deepEqual(values.intercept, c.global ? undefined : { allowGlobalIntercepts: false });
        });
    }
});

describe("Telepresence traffic manager chart", () => {
    it("gives the deploy task the same agent arrival time as the chart", async () => {
        for (const [overrides, expected] of [[{}, "180"], [{ telepresenceAgentArrivalSeconds: "600" }, "600"]] as const) {
            const task = named(await objects({ overrides }), "Task", "deploy-stack-intercepts");
            assert.equal(paramDefault(task, "telepresence-agent-arrival-seconds"), expected);
        }
    });

    it("is not installed when the program does not install the traffic manager", async () => {
        for (const overrides of [{ installTelepresence: "false" }, { enableIntercepts: "false" }] as Array<Record<string, string>>) {
            const charts = (await rendered({ overrides })).filter((r) => r.type === "kubernetes:helm.sh/v4:Chart");
            assert.equal(charts.length, 0, JSON.stringify(overrides));
        }
    });
});
