import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import Ajv2020 from "ajv/dist/2020";
import { RUN_ID, runScript } from "./harness";

const SCHEMA_FILE = require("node:path").resolve(__dirname, "..", "..", "..", "shared", "schemas", "mirrord-schema-3.250.0.json");

function config(env: Record<string, string>) {
    const res = runScript("mirrord-config.sh", { APP: "demo-fe", NAMESPACE: "staging", RUN_ID, ...env });
    const json: any = res.status === 0 ? JSON.parse(res.stdout) : undefined;
    return { ...res, json };
}

describe("mirrord-config.sh", () => {
    const validate = new Ajv2020({ strict: false, allErrors: true, logger: false }).compile<any>(JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8")));

    for (const header of ["x-dev-session: pr-42", "x-dev-session:pr-42", "  x-dev-session :  pr-42 "]) {
        it(`emits a config that validates against mirrord's 3.250.0 schema (header ${JSON.stringify(header)})`, () => {
            const { status, stderr, json } = config({ INTERCEPT_HEADER: header, PORT: "3000", RUN_NAME: "stack-pr-test-run-42" });
            assert.equal(status, 0, stderr);
            assert.ok(validate(json), JSON.stringify(validate.errors, null, 2));
            assert.equal(json.feature.network.incoming.http_filter.header_filter, "^x-dev-session: pr\\-42$");
        });
    }

    it("validates without the optional PORT and RUN_NAME too", () => {
        const { status, json } = config({ INTERCEPT_HEADER: "x-dev-session: pr-42" });
        assert.equal(status, 0);
        assert.ok(validate(json), JSON.stringify(validate.errors));
    });

    it("targets deployment/<app> in the app's namespace, no operator, steal mode, local fs, agent labelled with the run", () => {
        const { json } = config({ INTERCEPT_HEADER: "x-dev-session: pr-42", PORT: "3000", RUN_NAME: "stack-pr-test-run-42" });
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

    describe("header filter (compiled case-insensitive, as mirrord does)", () => {
        let filter: RegExp;
        before(() => {
            const { json } = config({ INTERCEPT_HEADER: "x-dev-session: pr-42" });
            filter = new RegExp(json.feature.network.incoming.http_filter.header_filter, "i");
        });
        for (const line of ["x-dev-session: pr-42", "X-Dev-Session: pr-42"]) {
            it(`matches ${JSON.stringify(line)}`, () => assert.ok(filter.test(line)));
        }
        for (const line of ["x-dev-session: pr-420", "x-dev-session: pr-4", "x-other: pr-42", "x-x-dev-session: pr-42", "x-dev-session: pr-42, pr-43"]) {
            it(`does not match ${JSON.stringify(line)}`, () => assert.ok(!filter.test(line)));
        }
        it("escapes regex characters in the value", () => {
            const dotted = config({ INTERCEPT_HEADER: "x-dev-session: pr.4+2" }).json;
            const re = new RegExp(dotted.feature.network.incoming.http_filter.header_filter, "i");
            assert.ok(re.test("x-dev-session: pr.4+2"));
            assert.ok(!re.test("x-dev-session: prX44442"));
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
    ];
    for (const [what, env, message] of bad) {
        it(`fails with a message on bad input: ${what}`, () => {
            const { status, stdout, stderr } = config(env);
            assert.notEqual(status, 0);
            assert.equal(stdout, "", "no config may be printed on bad input");
            assert.match(stderr, message);
        });
    }
});
