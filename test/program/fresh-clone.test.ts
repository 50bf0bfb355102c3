/**
 * A fresh clone has no ../shared beside it. The tests that read an upstream schema from there must then
 * report themselves skipped, with the reason, instead of crashing the run; under CI=true the schema is
 * required and its absence fails the run. Runs the mirrord schema tests in a child mocha with
 * TEKTON_DAG_SHARED_DIR pointing at an empty directory.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const REPO = path.resolve(__dirname, "..", "..");
const MIRRORD_TESTS = "test/intercepts/mirrord-config.test.ts";

function mocha(env: Record<string, string>) {
    const res = spawnSync(process.execPath, [
        // --no-config: the spec list of .mocharc.yml would be added to the file named here.
        path.join(REPO, "node_modules", "mocha", "bin", "mocha.js"), "--no-config", "--require", "ts-node/register/transpile-only",
        "--timeout", "60000", "--no-color", "--grep", "schema" /* the 4 tests that read it */, MIRRORD_TESTS,
    ], {
        cwd: REPO, encoding: "utf8", env: { ...process.env, ...env },
    });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
}

describe("a fresh clone without ../shared", function () {
    this.timeout(120000);
    let empty: string;
    before(() => (empty = fs.mkdtempSync(path.join(os.tmpdir(), "no-shared-"))));
    after(() => fs.rmSync(empty, { recursive: true, force: true }));

    it("skips the mirrord schema tests, naming the missing file", () => {
        const { status, out } = mocha({ TEKTON_DAG_SHARED_DIR: empty, CI: "" });
        assert.equal(status, 0, out);
        assert.match(out, /0 passing/, out);
        assert.match(out, /4 pending/, out);
        assert.match(out, new RegExp(`skipped: mirrord's schema ${empty}/schemas/mirrord-schema-3\\.250\\.0\\.json is absent`), out);
    });

    it("fails them under CI=true, naming the missing file", () => {
        const { status, out } = mocha({ TEKTON_DAG_SHARED_DIR: empty, CI: "true" });
        assert.notEqual(status, 0, out);
        assert.match(out, /4 failing/, out);
        assert.match(out, /mirrord-schema-3\.250\.0\.json is absent .*CI=true requires it/, out);
    });

    it("runs them where ../shared is there", function () {
        if (!fs.existsSync(path.resolve(REPO, "..", "shared", "schemas", "mirrord-schema-3.250.0.json"))) {
            if (process.env.CI === "true") assert.fail("../shared/schemas/mirrord-schema-3.250.0.json is absent; CI=true requires it");
            this.skip();
        }
        const { status, out } = mocha({ CI: "true" });
        assert.equal(status, 0, out);
        assert.match(out, /4 passing/, out);
    });
});
