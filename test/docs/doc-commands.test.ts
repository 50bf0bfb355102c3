/**
 * The command blocks of README.md and docs/kind.md are run or replaced for a named reason
 * (test/docs/docCommands.ts has the markers): every shell block is marked, and the blocks marked
 * `run here` run, in order, from the repository root. Simulated: HOME and TMPDIR are a fresh directory and
 * git has an identity (GIT_IDENTITY); nothing else.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { blocksFor, blocksOf, GIT_IDENTITY, missingOutput, pageBlocks, PAGES, parseMarker, REPLACED, RUN_MODES, runPage } from "./docCommands";
import { REPO } from "../support/repo";

describe("doc commands: the marker rules (on fixture pages)", () => {
    it("takes run and replaced markers, and names what is wrong with any other", () => {
        assert.deepEqual(parseMarker("run here cluster"), { kind: "run", modes: ["here", "cluster"] });
        assert.deepEqual(parseMarker("replaced (kind): creates a kind cluster"), { kind: "replaced", reason: "kind", why: "creates a kind cluster" });
        assert.match(parseMarker("run laptop") as string, /unknown run mode laptop \(allowed: here, cluster, engine\)/);
        assert.match(parseMarker("replaced (slow): takes too long to run") as string, /unknown reason \(slow\)/);
        assert.match(parseMarker("replaced (kind): x") as string, /needs a sentence/);
        assert.match(parseMarker("skip") as string, /is not a doc-test marker/);
    });

    it("fails an unmarked shell block, an untagged fence, and a marker before no shell block; marks the rest", () => {
        const page = [
            "<!-- doc-test: run here -->", "```sh", "echo one", "```",
            "", "```bash", "echo two", "```",
            "```", "picture", "```",
            "<!-- doc-test: run here -->", "```yaml", "a: 1", "```",
            "<!-- doc-test: run here -->", "", "text in between", "",
            "<!-- doc-test: replaced (done): the setup stage did it -->", "", "```console", "npm ci", "```",
        ].join("\n");
        const { blocks, problems } = blocksOf("docs/x.md", page);
        assert.deepEqual(problems.map((p) => `${p.line}: ${p.message}`), [
            "6: a bash block without a doc-test marker on the line before its fence",
            "9: a fenced block without a language (sh for commands, text for output)",
            "12: a doc-test marker before a yaml block, not a shell block",
            "16: a doc-test marker before no shell block",
        ]);
        assert.deepEqual(blocks.map((b) => [b.line, b.marker?.kind]), [[2, "run"], [6, undefined], [9, undefined], [13, undefined], [22, "replaced"]]);
    });

    it("a text block right after a shell block is its output, whose lines must appear in order (... for anything)", () => {
        const { blocks } = blocksOf("docs/x.md", ["<!-- doc-test: run here -->", "```sh", "echo a", "```", "", "```text", "a", "```"].join("\n"));
        assert.equal(blocks[0].output, "a");
        assert.deepEqual(missingOutput("19:    repo: x/demo-fe\n...\nb ... d", "19:    repo: x/demo-fe\nzz\nb c d"), []);
        assert.deepEqual(missingOutput("18:    repo: x/demo-fe", "19:    repo: x/demo-fe"), ["18:    repo: x/demo-fe"]);
        assert.deepEqual(missingOutput("second\nfirst", "first\nsecond"), ["first"], "in order");
    });

    it("a run stops at the first failing command and names its block", () => {
        const { blocks } = blocksOf("docs/x.md", ["<!-- doc-test: run here -->", "```sh", "X=1", "```", "<!-- doc-test: run here -->", "```sh", "test \"$X\" = 2", "echo never", "```"].join("\n"));
        const run = runPage(blocks, {});
        assert.equal(run.status, 1);
        assert.equal(run.failed, "docs/x.md:6");
        assert.doesNotMatch(run.output, /never/);
    });
});

describe(`doc commands: ${PAGES.join(" and ")}`, () => {
    it("every fenced block names its language and every shell block is run or replaced for a named reason", () => {
        const { blocks, problems } = pageBlocks();
        assert.deepEqual(problems.map((p) => `${p.page}:${p.line}: ${p.message}`), []);
        const shell = blocks.filter((b) => b.marker);
        assert.ok(shell.length >= 15, `shell blocks found: ${shell.length}`);
        for (const b of shell) if (b.marker!.kind === "replaced") assert.ok(b.marker!.reason in REPLACED);
    });

    it("every run mode has its test file", () => {
        for (const file of Object.values(RUN_MODES)) assert.ok(fs.existsSync(path.join(REPO, file)), file);
    });

    it("shellcheck finds nothing at warning level in any shell block, run or replaced (each page's blocks as one script)", function () {
        if (spawnSync("shellcheck", ["--version"]).status !== 0) this.skip(); // apt-get install -y shellcheck (the Tekton stage installs it)
        for (const page of PAGES) {
            const shell = pageBlocks([page]).blocks.filter((b) => b.marker);
            const script = ["#!/usr/bin/env bash", ...shell.map((b) => `# ${b.page}:${b.line}\n${b.text}`)].join("\n");
            const r = spawnSync("shellcheck", ["--severity=warning", "--shell=bash", "-"], { input: script, encoding: "utf8" });
            assert.equal(r.status, 0, `${page} (line numbers: the script's; its comments name the blocks):\n${r.stdout}${r.stderr}`);
        }
    });

    for (const page of PAGES) {
        const blocks = blocksFor("here", [page]);
        if (blocks.length === 0) continue;
        it(`${page}: the blocks marked "run here" (${blocks.map((b) => b.line).join(", ")}) run in order`, function () {
            this.timeout(120_000);
            const run = runPage(blocks, GIT_IDENTITY);
            assert.equal(run.status, 0, `${run.failed ?? page} failed:\n${run.output}`);
            for (const b of blocks.filter((x) => x.output !== undefined)) {
                const printed = run.stdout.get(`${b.page}:${b.line}`) ?? "";
                assert.deepEqual(missingOutput(b.output!, printed), [], `${b.page}:${b.line} printed:\n${printed}`);
            }
        });
    }
});
