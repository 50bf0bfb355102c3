// scripts/compiled.js: the runner, render and manifests start as JavaScript compiled ahead of time (issue 18),
// which must be the same program as the sources, rebuilt when they change and never silently stale.
import { strict as assert } from "node:assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/repo";

const LAUNCHER = path.join(REPO, "scripts", "compiled.js");
const launch = (...args: string[]) => spawnSync(process.execPath, [LAUNCHER, ...args], { cwd: REPO, encoding: "utf8", timeout: 300_000 });
const { compiledPath } = require(LAUNCHER) as typeof import("../../scripts/compiled");

describe("scripts/compiled.js (the program and its scripts compiled ahead of time)", function () {
    this.timeout(300_000);

    it("runs an entry with its arguments, from a build under .build/<hash of the sources>/", () => {
        const r = launch("scripts/pulumi-run.ts", "--help");
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^pulumi-run: preview, up or destroy any stack of this project/);
        const js = compiledPath("scripts/pulumi-run.ts");
        assert.match(path.relative(REPO, js), /^\.build\/[0-9a-f]{16}\/scripts\/pulumi-run\.js$/);
    });

    it("reuses the build while the sources are unchanged (no rebuild line)", () => {
        const first = compiledPath("program.ts");
        const lines: string[] = [];
        const again = compiledPath("program.ts", (l) => lines.push(l));
        assert.equal(again, first);
        assert.deepEqual(lines, [], "built already");
    });

    it("builds from the sources as they are: a changed source gives another build directory", () => {
        const file = path.join(REPO, "lib", "zz-compiled-test-probe.ts");
        const before = compiledPath("program.ts");
        try {
            // A value of this run: a build of the same sources from an earlier run would be reused.
            const value = Date.now();
            fs.writeFileSync(file, `export const probe = ${value};\n`);
            const lines: string[] = [];
            const after = compiledPath("lib/zz-compiled-test-probe.ts", (l) => lines.push(l));
            assert.notEqual(path.dirname(path.dirname(after)), path.dirname(before), "a new build");
            assert.match(lines.join("\n"), /compiling the program and its scripts/);
            assert.match(fs.readFileSync(after, "utf8"), new RegExp(`exports\\.probe = ${value}`));
            assert.ok(fs.existsSync(before), "the older build stays for processes started from it");
        } finally {
            fs.rmSync(file, { force: true });
        }
    });

    it("prunes builds by their last use: one made hours ago but started from now stays, one unused for over an hour goes", () => {
        const inUse = path.dirname(compiledPath("program.ts"));
        const unused = path.join(REPO, ".build", "0000000000000000");
        const file = path.join(REPO, "lib", "zz-compiled-test-prune.ts");
        const hoursAgo = new Date(Date.now() - 3 * 60 * 60 * 1000);
        try {
            fs.mkdirSync(unused, { recursive: true });
            fs.utimesSync(unused, hoursAgo, hoursAgo);
            fs.utimesSync(inUse, hoursAgo, hoursAgo);
            assert.equal(path.dirname(compiledPath("program.ts")), inUse, "started from again");
            fs.writeFileSync(file, `export const probe = ${Date.now()};\n`);
            compiledPath("lib/zz-compiled-test-prune.ts"); // another build, which prunes
            assert.ok(fs.existsSync(inUse), "the build started from a moment ago was pruned");
            assert.ok(!fs.existsSync(unused), "the build unused for three hours was kept");
        } finally {
            fs.rmSync(file, { force: true });
            fs.rmSync(unused, { recursive: true, force: true });
        }
    });

    it("refuses what it cannot run, naming the entry: no argument, a file that is not TypeScript, one outside the build", () => {
        const none = launch();
        assert.equal(none.status, 2);
        assert.match(none.stderr, /usage: node scripts\/compiled\.js <file\.ts of this repository>/);
        const md = launch("README.md");
        assert.equal(md.status, 1);
        assert.match(md.stderr, /compiled: README\.md: not a \.ts file of this repository/);
        const testFile = launch("test/program/compiled.test.ts");
        assert.equal(testFile.status, 1);
        assert.match(testFile.stderr, /test\/program\/compiled\.test\.ts is not part of the build \(tsconfig\.build\.json includes/);
    });
});
