/**
 * A fresh clone has no ../shared beside it. The tests that read an upstream schema from there must then
 * report themselves skipped, with the reason, instead of crashing the run; under CI=true the schema is
 * required and its absence fails the run. Runs every schema-reading test in a child mocha with
 * TEKTON_DAG_SHARED_DIR pointing at an empty directory.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

// Every test file of this (cluster-less) stage that reads ../shared/schemas (test/support/sharedSchemas.ts),
// and a grep that selects its tests that do. test/cluster/intercepts/mirrord-config.test.ts and
// mirrord-low-port.test.ts read it the same way but run in the cluster stage, which this child mocha lacks.
const SCHEMA_TESTS = [
    "test/program/agent-pull-secret.test.ts",
    "test/program/telepresence-values.test.ts",
];
const GREP = "schema|Telepresence traffic manager values";

function mocha(env: Record<string, string>) {
    const res = spawnSync(process.execPath, [
        // --no-config: the spec list of .mocharc.yml would be added to the files named here.
        path.join(REPO, "node_modules", "mocha", "bin", "mocha.js"), "--no-config", "--require", "ts-node/register/transpile-only",
        "--timeout", "120000", "--no-color", "--grep", GREP, ...SCHEMA_TESTS,
    ], {
        cwd: REPO, encoding: "utf8", env: { ...process.env, ...env },
    });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
}
const num = (out: string, what: string) => Number((out.match(new RegExp(`(\\d+) ${what}`)) || [])[1] || 0);

describe("a fresh clone without ../shared", function () {
    this.timeout(300000);
    let empty: string;
    before(() => (empty = tmpDir("no-shared")));
    after(() => fs.rmSync(empty, { recursive: true, force: true }));

    it("skips every test that reads an upstream schema, naming the missing file, and fails none", () => {
        const { status, out } = mocha({ TEKTON_DAG_SHARED_DIR: empty, CI: "" });
        assert.equal(status, 0, out);
        assert.equal(num(out, "failing"), 0, out);
        assert.ok(num(out, "pending") >= SCHEMA_TESTS.length, out);
        for (const schema of ["mirrord-schema-3.250.0.json", "telepresence-oss-values.schema.yaml"]) {
            assert.match(out, new RegExp(`skipped: the upstream schema ${empty}/schemas/${schema.replace(/\./g, "\\.")} is absent`), out);
        }
    });

    it("fails them under CI=true, naming the missing file", () => {
        const { status, out } = mocha({ TEKTON_DAG_SHARED_DIR: empty, CI: "true" });
        assert.notEqual(status, 0, out);
        assert.ok(num(out, "failing") >= SCHEMA_TESTS.length, out);
        assert.match(out, /mirrord-schema-3\.250\.0\.json is absent .*CI=true requires it/, out);
        assert.match(out, /telepresence-oss-values\.schema\.yaml is absent .*CI=true requires it/, out);
    });

    it("runs them where ../shared is there", function () {
        for (const schema of ["mirrord-schema-3.250.0.json", "telepresence-oss-values.schema.yaml"]) {
            if (!fs.existsSync(path.resolve(REPO, "..", "shared", "schemas", schema))) {
                if (process.env.CI === "true") assert.fail(`../shared/schemas/${schema} is absent; CI=true requires it`);
                this.skip();
            }
        }
        const { status, out } = mocha({ CI: "true" });
        assert.equal(status, 0, out);
        assert.equal(num(out, "pending"), 0, out);
        assert.ok(num(out, "passing") >= SCHEMA_TESTS.length, out);
    });
});
