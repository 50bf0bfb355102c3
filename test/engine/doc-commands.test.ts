/**
 * The README's blocks marked `run engine` (its main job, `bash scripts/render.sh`) run as a reader runs
 * them, through the real Pulumi engine (test/docs/docCommands.ts has the markers; the test command's engine
 * stage has built the engine). Simulated: nothing.
 */
import { strict as assert } from "node:assert";
import { blocksFor, PAGES, runPage } from "../docs/docCommands";

describe("doc commands: the blocks marked run engine", () => {
    const blocks = blocksFor("engine");

    it("there are some (README's main job)", () => {
        assert.ok(blocks.some((b) => b.page === "README.md" && b.text.includes("bash scripts/render.sh")), PAGES.join(", "));
    });

    for (const page of PAGES) {
        const own = blocks.filter((b) => b.page === page);
        if (own.length === 0) continue;
        it(`${page}: ${own.map((b) => b.line).join(", ")} run in order and succeed`, function () {
            this.timeout(600_000);
            const run = runPage(own, {}, { ownHome: true, timeoutMs: 540_000 });
            assert.equal(run.status, 0, `${run.failed ?? page} failed:\n${run.output}`);
            assert.match(run.output, /render: \d+ Kubernetes objects in \d+ files under \.render\/manifests\/ in \d+s \(real Pulumi engine with the policy pack, stack render\)/);
        });
    }
});
