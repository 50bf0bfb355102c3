// stacks/schema.json describes the sample stacks and the bad fixtures it can see on its own.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv2020 from "ajv/dist/2020";
import * as YAML from "yaml";
import { FIXTURES, STACKS } from "./helpers";

const load = (file: string) => YAML.parse(fs.readFileSync(file, "utf8"));

describe("stacks/schema.json", () => {
    const validate = new Ajv2020({ allErrors: true, strict: false }).compile(load(path.join(STACKS, "schema.json")));

    for (const f of ["stack-one.yaml", "single-app.yaml"]) {
        it(`accepts stacks/${f}`, () => assert.ok(validate(load(path.join(STACKS, f))), JSON.stringify(validate.errors)));
    }
    for (const f of ["stack-40-apps.yaml", "named-entry.yaml", "cycle.yaml", "duplicate-names.yaml"]) {
        it(`accepts fixture ${f} (what it cannot see is resolve-stack's job)`, () => assert.ok(validate(load(path.join(FIXTURES, f))), JSON.stringify(validate.errors)));
    }
    for (const [f, word] of [["unsupported-tool.yaml", "tool"], ["missing-header.yaml", "header-name"]]) {
        it(`rejects fixture ${f}`, () => {
            assert.equal(validate(load(path.join(FIXTURES, f))), false);
            assert.match(JSON.stringify(validate.errors), new RegExp(word));
        });
    }
});
