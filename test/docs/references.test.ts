/**
 * Every link, anchor and repository file path in README.md and docs/*.md leads somewhere (issue 23): a
 * renamed page, a deleted script or a reworded heading fails here instead of misleading a reader.
 */
import { strict as assert } from "node:assert";
import { deadReferences, headingSlugs, OUTSIDE_MARKER, referencesOf } from "./references";
import { docPages, readPage, repository } from "./repoDocs";

/** A repository of three files, for the checker's own tests. */
const fixtureRepo = {
    topLevel: new Set(["docs", "lib", "README.md"]),
    files: new Map([
        ["docs/a.md", "# Page A\n\n## Two words, and `code`\n\n## Again\n\n## Again\n"],
        ["lib/config.ts", ""],
        ["README.md", ""],
    ]),
    exists(file: string) {
        return this.files.has(file) || [...this.files.keys()].some((f) => f.startsWith(`${file}/`));
    },
    read(file: string) {
        return this.files.get(file) ?? "";
    },
};

function dead(text: string, page = "docs/b.md"): string[] {
    return deadReferences(page, text, fixtureRepo).map((p) => `${p.line}: ${p.message}`);
}

describe("doc references: the checker (on fixture pages)", () => {
    it("finds a dead relative link, a dead anchor and a backticked file that does not exist", () => {
        const text = [
            "See [a](a.md), [gone](missing.md) and [the part](a.md#no-such-heading).",
            "The default comes from `lib/paramDefaults.ts`; the schema is `lib/config.ts`.",
        ].join("\n");
        assert.deepEqual(dead(text), [
            '1: link "missing.md": docs/missing.md does not exist',
            '1: link "a.md#no-such-heading": docs/a.md has no heading with the anchor #no-such-heading',
            '2: path "lib/paramDefaults.ts": lib/paramDefaults.ts does not exist',
        ]);
    });

    it("follows GitHub's anchors: punctuation dropped, code kept as text, repeated headings numbered", () => {
        assert.deepEqual([...headingSlugs(fixtureRepo.read("docs/a.md"))], ["page-a", "two-words-and-code", "again", "again-1"]);
        assert.deepEqual(dead("[x](a.md#two-words-and-code) [y](a.md#again-1) [z](#here)\n\n## Here"), []);
        assert.deepEqual(dead("[z](#there)\n\n## Here"), ['1: link "#there": docs/b.md has no heading with the anchor #there']);
    });

    it("flags a path outside the repository unless its paragraph says it is the maintainers' source material", () => {
        assert.deepEqual(dead("the chart's schema (`../shared/schemas/x.yaml`)"),
            ['1: path "../shared/schemas/x.yaml" points outside the repository; a reader cannot follow it ' +
                `(say "${OUTSIDE_MARKER}" in that paragraph if it is)`]);
        assert.deepEqual(dead(`checked against \`../shared/schemas/x.yaml\` (the maintainers'\nsource material)`), []);
        assert.equal(dead(`the ${OUTSIDE_MARKER} is elsewhere.\n\nchecked against \`../shared/schemas/x.yaml\``).length, 1, "another paragraph's word does not count");
        assert.deepEqual(dead("[up](../../elsewhere.md)").length, 1);
    });

    it("accepts a path the build writes and git ignores, and only that", () => {
        const repo = { ...fixtureRepo, generated: (file: string) => file === "policy/bin" };
        const text = "compiled into `policy/bin`, read from `policy/src/x.ts`";
        const found = deadReferences("docs/b.md", text, { ...repo, topLevel: new Set(["policy"]) }).map((p) => p.message);
        assert.deepEqual(found, ['path "policy/src/x.ts": policy/src/x.ts does not exist']);
    });

    it("ignores code blocks, placeholders, URLs and paths of other repositories", () => {
        const text = [
            "```sh",
            "cat lib/missing.ts   # `lib/missing.ts`",
            "```",
            "`tekton/scripts/<name>.sh`, `docs/*.md`, `https://example.com/docs/x.md`, `mirrord/agent/src/filter.rs`, `docs`",
        ].join("\n");
        assert.deepEqual(referencesOf("docs/b.md", text, fixtureRepo.topLevel), []);
    });
});

describe("doc references: README.md and docs/*.md", () => {
    for (const page of docPages()) {
        it(`${page}: every link, anchor and repository path exists`, () => {
            const problems = deadReferences(page, readPage(page), repository).map((p) => `${page}:${p.line}: ${p.message}`);
            assert.deepEqual(problems, []);
        });
    }

    it("the check sees the pages' references (not a check of nothing)", () => {
        const refs = docPages().flatMap((page) => referencesOf(page, readPage(page), repository.topLevel));
        assert.ok(refs.filter((r) => r.kind === "link").length > 20, "links found");
        assert.ok(refs.filter((r) => r.kind === "path").length > 50, "backticked paths found");
    });
});
