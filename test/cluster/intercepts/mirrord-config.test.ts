import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import { requireSharedSchema } from "../../support/sharedSchemas";
import { PIPELINE_SA, runScriptAs } from "../harness";

// mirrord-config.sh calls no kubectl: it runs here as the deploy task's ServiceAccount like the other task
// scripts, without stand-ins (it only prints the config the deploy task stores in a ConfigMap).
const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";

let compiledSchema: ReturnType<Ajv2020["compile"]> | undefined;

/** mirrord's published schema compiled, or the current test skipped (failed under CI=true) naming the absent file. */
function schemaValidator(ctx: Mocha.Context) {
    const file = requireSharedSchema(ctx, "mirrord-schema-3.250.0.json");
    compiledSchema ??= new Ajv2020({ strict: false, allErrors: true, logger: false }).compile<any>(JSON.parse(fs.readFileSync(file, "utf8")));
    return compiledSchema;
}

/**
 * The header filter as mirrord's agent compiles it: fancy-regex, `Regex::new(&format!("(?i){filter}"))`
 * (mirrord/agent/src/http/filter.rs, fancy-regex 0.14), matched unanchored against each "name: value".
 * JavaScript (Node 20) has no inline flag groups, so this compiles without the `i` flag and spells out the
 * case-insensitivity instead: outside a `(?-i:...)` group every letter becomes `[xX]`; inside, the text is
 * kept as is (case-sensitive). Escapes are copied unchanged. Character classes are not emulated.
 */
function mirrordHeaderRegex(filter: string): RegExp {
    let out = "";
    const caseInsensitive: boolean[] = [true]; // one entry per open group
    for (let i = 0; i < filter.length; i++) {
        const c = filter[i];
        const ci = caseInsensitive[caseInsensitive.length - 1];
        if (c === "\\") {
            out += filter.slice(i, i + 2);
            i++;
        } else if (filter.startsWith("(?-i:", i)) {
            out += "(?:";
            caseInsensitive.push(false);
            i += 4;
        } else if (filter.startsWith("(?", i) && !filter.startsWith("(?:", i)) {
            throw new Error(`emulation does not handle the group at ${i} of ${filter}`);
        } else if (c === "(") {
            out += "(";
            caseInsensitive.push(ci);
        } else if (c === ")") {
            out += ")";
            caseInsensitive.pop();
        } else if (c === "[") {
            throw new Error(`emulation does not handle character classes: ${filter}`);
        } else if (ci && /[a-z]/i.test(c)) {
            out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
        } else {
            out += c;
        }
    }
    return new RegExp(out);
}

async function config(env: Record<string, string>) {
    const res = await runScriptAs("mirrord-config.sh", { APP: "demo-fe", NAMESPACE: "staging", RUN_ID, ...env }, PIPELINE_SA);
    const json: any = res.status === 0 ? JSON.parse(res.stdout) : undefined;
    return { ...res, json };
}

describe("cluster: mirrord-config.sh as tekton-dag-pipeline", () => {
    for (const header of ["x-dev-session: pr-42", "x-dev-session:pr-42", "  x-dev-session :  pr-42 "]) {
        it(`emits a config that validates against mirrord's 3.250.0 schema (header ${JSON.stringify(header)})`, async function () {
            const validate = schemaValidator(this);
            const { status, stderr, json } = await config({ INTERCEPT_HEADER: header, PORT: "3000", RUN_NAME: "stack-pr-test-run-42" });
            assert.equal(status, 0, stderr);
            assert.ok(validate(json), JSON.stringify(validate.errors, null, 2));
            assert.equal(json.feature.network.incoming.http_filter.header_filter, "^x-dev-session: (?-i:pr\\-42)$");
        });
    }

    it("validates without the optional PORT and RUN_NAME too", async function () {
        const validate = schemaValidator(this);
        const { status, json } = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42" });
        assert.equal(status, 0);
        assert.ok(validate(json), JSON.stringify(validate.errors));
    });

    it("never lets the agent wipe iptables rules another session left (clean_iptables_on_start false)", async () => {
        const { json } = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42" });
        assert.equal(json.agent.clean_iptables_on_start, false);
    });

    it("labels the agent with the proxy pod that runs it (PROXY_NAME), so a retry can tell its own agent apart", async () => {
        const named = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42", PROXY_NAME: "mirrord-demo-fe-0f8e6c1a-3fdc65" });
        assert.equal(named.status, 0, named.stderr);
        assert.equal(named.json.agent.labels["tekton-dag.io/proxy"], "mirrord-demo-fe-0f8e6c1a-3fdc65");
        assert.equal((await config({ INTERCEPT_HEADER: "x-dev-session: pr-42" })).json.agent.labels["tekton-dag.io/proxy"], undefined);
    });

    it("the agent label PROXY_NAME adds validates against mirrord's 3.250.0 schema", async function () {
        const validate = schemaValidator(this);
        const named = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42", PROXY_NAME: "mirrord-demo-fe-0f8e6c1a-3fdc65" });
        assert.equal(named.status, 0, named.stderr);
        assert.ok(validate(named.json), JSON.stringify(validate.errors));
    });

    it("targets deployment/<app> in the app's namespace, no operator, steal mode, local fs, agent labelled with the run", async () => {
        const { json } = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42", PORT: "3000", RUN_NAME: "stack-pr-test-run-42" });
        assert.deepEqual(json.target, { path: "deployment/demo-fe", namespace: "staging" });
        assert.equal(json.operator, false);
        assert.equal(json.agent.namespace, "staging");
        assert.equal(json.agent.check_out_of_pods, false);
        assert.equal(json.agent.labels["tekton-dag.io/run"], RUN_ID);
        assert.equal(json.agent.labels["tekton-dag.io/role"], "mirrord-agent");
        assert.equal(json.agent.labels["tekton-dag.io/app"], "demo-fe");
        assert.equal(json.agent.labels["tekton-dag.io/pipeline-run"], "stack-pr-test-run-42");
        assert.ok(json.agent.ttl > 0 && json.agent.communication_timeout > 0);
        assert.equal(json.feature.network.incoming.mode, "steal");
        assert.deepEqual(json.feature.network.incoming.ports, [3000]);
        assert.deepEqual(json.feature.network.incoming.listen_ports, [[3000, 3000]]);
        assert.equal(json.feature.fs, "local");
        assert.equal(json.feature.network.outgoing, false, "socat must reach the PR pod from the proxy pod itself");
    });

    describe("header filter (compiled with (?i) in front, as mirrord does)", () => {
        let filter: RegExp;
        before(async () => {
            const { json } = await config({ INTERCEPT_HEADER: "x-dev-session: pr-42" });
            filter = mirrordHeaderRegex(json.feature.network.incoming.http_filter.header_filter);
        });
        for (const line of ["x-dev-session: pr-42", "X-Dev-Session: pr-42", "X-DEV-SESSION: pr-42"]) {
            it(`matches ${JSON.stringify(line)} (header names are case-insensitive)`, () => assert.ok(filter.test(line)));
        }
        for (const line of ["x-dev-session: PR-42", "x-dev-session: Pr-42", "x-dev-session: pr-420", "x-dev-session: pr-4",
            "x-other: pr-42", "x-x-dev-session: pr-42", "x-dev-session: pr-42, pr-43"]) {
            it(`does not match ${JSON.stringify(line)} (the value compares exactly, as with Telepresence)`, () => assert.ok(!filter.test(line)));
        }
        it("the emulation is case-insensitive outside (?-i:...): a bare value would let PR-42 through", () => {
            assert.ok(mirrordHeaderRegex("^x-dev-session: pr\\-42$").test("x-dev-session: PR-42"));
            assert.ok(!mirrordHeaderRegex("^x-dev-session: (?-i:pr\\-42)$").test("x-dev-session: PR-42"));
        });
        it("escapes regex characters in the value", async () => {
            const dotted = (await config({ INTERCEPT_HEADER: "x-dev-session: pr.4+2" })).json;
            const re = mirrordHeaderRegex(dotted.feature.network.incoming.http_filter.header_filter);
            assert.ok(re.test("x-dev-session: pr.4+2"));
            assert.ok(!re.test("x-dev-session: prX44442"));
            assert.ok(!re.test("x-dev-session: PR.4+2"));
        });
    });

    const bad: Array<[string, Record<string, string>, RegExp]> = [
        ["no colon", { INTERCEPT_HEADER: "x-dev-session pr-42" }, /intercept-header-value .*no ':'/],
        ["empty header", { INTERCEPT_HEADER: "" }, /INTERCEPT_HEADER is required|intercept-header-value is empty/],
        ["empty value", { INTERCEPT_HEADER: "x-dev-session:" }, /value after ':' is empty/],
        ["bad header name", { INTERCEPT_HEADER: "x dev(session): pr-42" }, /header name/],
        ["control character", { INTERCEPT_HEADER: "x-dev-session: pr-\u000142" }, /printable ASCII/],
        ["missing APP", { APP: "", INTERCEPT_HEADER: "x-dev-session: pr-42" }, /APP is required/],
        ["bad namespace", { NAMESPACE: "Staging!", INTERCEPT_HEADER: "x-dev-session: pr-42" }, /NAMESPACE "Staging!" is not a DNS label/],
        ["bad run id", { RUN_ID: "42", INTERCEPT_HEADER: "x-dev-session: pr-42" }, /run-id "42" is not a PipelineRun uid/],
        ["bad port", { PORT: "99999", INTERCEPT_HEADER: "x-dev-session: pr-42" }, /PORT "99999"/],
        ["bad proxy name", { PROXY_NAME: "Proxy_1", INTERCEPT_HEADER: "x-dev-session: pr-42" }, /PROXY_NAME "Proxy_1" is not a DNS label/],
    ];
    for (const [what, env, message] of bad) {
        it(`fails with a message on bad input: ${what}`, async () => {
            const { status, stdout, stderr } = await config(env);
            assert.notEqual(status, 0);
            assert.equal(stdout, "", "no config may be printed on bad input");
            assert.match(stderr, message);
        });
    }
});
