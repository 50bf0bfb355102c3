import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { SCRIPTS } from "../support/repo";

// jq_fields (lib-common.sh) carries the values the deploy, lock and pod-wait scripts read from one jq start.
// Runs it in bash with the real jq; prints the filled array as JSON (one line per element, escaped by jq).
function jqFields(input: string, program: string, ...jqArgs: string[]): { status: number | null; fields?: string[]; stderr: string } {
    const script = `. "${path.join(SCRIPTS, "lib-common.sh")}"
set -euo pipefail
declare -a got
jq_fields got "$1" "the test input" "$2" "\${@:3}"
for f in "\${got[@]}"; do jq -n --arg f "$f" '$f'; done
printf 'done\\n'`;
    const r = spawnSync("bash", ["-c", script, "jq-fields", input, program, ...jqArgs], { encoding: "utf8" });
    if (r.status !== 0) return { status: r.status, stderr: r.stderr };
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.pop(), "done");
    return { status: r.status, fields: lines.map((l) => JSON.parse(l)), stderr: r.stderr };
}

describe("lib-common.sh jq_fields", () => {
    it("keeps each field as it is: newlines, tabs, the unit separator and empty strings; numbers and null as text", () => {
        const r = jqFields(JSON.stringify({ a: "two\nlines", b: "", c: "tab\tand\u001fsep" }), "[.a, .b, .c, 42, null]");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.fields, ["two\nlines", "", "tab\tand\u001fsep", "42", "null"]);
    });

    it("passes jq options after the program, positional --args included, and takes leading defs", () => {
        const r = jqFields("{}", "def twice: . + .; [$x | twice, $ARGS.positional[]]", "--arg", "x", "ab", "--args", "p1", "p 2");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.fields, ["abab", "p1", "p 2"]);
    });

    it("an empty array gives an empty array", () => {
        const r = jqFields("{}", "[]");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.fields, []);
    });

    it("fails on a value holding a NUL character, which would split its field and shift the rest", () => {
        const r = jqFields(JSON.stringify({ a: "x\u0000y" }), "[.a, \"z\"]");
        assert.notEqual(r.status, 0, "a NUL in a value was passed on");
        assert.match(r.stderr, /a value holds a NUL character/);
        assert.match(r.stderr, /^error: the test input: jq failed on: /m);
    });

    it("fails the script with an error naming what was read when jq fails (input that is not JSON)", () => {
        const r = jqFields('{"phase": "Run', "[.phase]");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /^error: the test input: jq failed on: \{"phase": "Run/m);
    });
});
