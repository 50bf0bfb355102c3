/**
 * docs/pinned-images.md lists what the project really pins (issue 23: it listed images no pipeline used).
 * Its table is generated from the rendered kind stack and the Dockerfiles (test/docs/pinnedImages.ts); the
 * notes around it may name only images of that table, and the "considered and not used" ones none of it.
 */
import { strict as assert } from "node:assert";
import { BEGIN, END, PAGE, pinnedImagesTable, withTable } from "./pinnedImages";
import { readPage } from "./repoDocs";

/** `docker.io/library/node:22` and `node:22@sha256:...` are the same image to a reader: compare them so. */
function normal(image: string): string {
    return image.replace(/@sha256:[a-f0-9]{64}$/, "").replace(/^docker\.io\/(library\/)?/, "");
}

/** Backticked image references (`repo/name:tag`) in a piece of markdown. */
function imagesNamed(text: string): string[] {
    return [...text.matchAll(/`([a-z0-9][a-z0-9.-]*(?:\/[a-z0-9._-]+)*:[A-Za-z0-9][A-Za-z0-9._-]*(?:@sha256:[a-f0-9]{64})?)`/g)]
        .map((m) => m[1]).filter((ref) => !/^[a-z0-9.-]+:[0-9]+$/.test(ref) && !ref.startsWith("sha256:")); // host:port, a digest
}

/** The table's pinned entries, normalised. */
function pinnedIn(table: string): Set<string> {
    return new Set([...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => normal(m[1])));
}

describe("docs/pinned-images.md against what the program and the Dockerfiles pin", () => {
    let table: string;
    before(async function () {
        this.timeout(60_000); // renders the kind stack under the test mocks
        table = await pinnedImagesTable();
    });

    it("the generated table is what the kind stack and the Dockerfiles pin today", () => {
        const page = readPage(PAGE);
        assert.equal(page, withTable(page, table),
            `${PAGE} is out of date: run npx ts-node --transpile-only test/docs/pinnedImages.ts --write`);
    });

    it("the table holds the pipelines' tool images, the built task images, the chart and the Tekton releases", () => {
        const pins = pinnedIn(table);
        for (const expected of ["alpine/git:v2.54.0", "ghcr.io/metalbear-co/mirrord:3.250.0", "<registryPush>/tekton-dag-build-mirrord:3.250.0"]) {
            assert.ok(pins.has(expected), `${expected} in ${[...pins].join(", ")}`);
        }
        assert.ok([...pins].some((p) => p.endsWith("telepresence-oss chart 2.31.2")));
        assert.ok([...pins].some((p) => p.includes("/triggers/previous/v0.37.0/interceptors.yaml")));
    });

    it("the notes name only pinned images, and the considered-and-not-used ones none", () => {
        const page = readPage(PAGE);
        const outside = page.slice(0, page.indexOf(BEGIN)) + page.slice(page.indexOf(END));
        const [notes, unused] = outside.split(/^## Considered and not used$/m);
        assert.ok(unused, `${PAGE} has a "Considered and not used" section`);
        const pins = pinnedIn(table);
        const named = imagesNamed(notes);
        assert.ok(named.length >= 8, `notes name images: ${named.join(", ")}`);
        assert.deepEqual(named.filter((i) => !pins.has(normal(i))), [], "named in the notes but pinned nowhere");
        const rejected = imagesNamed(unused);
        assert.ok(rejected.length >= 5);
        assert.deepEqual(rejected.filter((i) => pins.has(normal(i))), [], "listed as not used but pinned");
    });

    it("the image reader sees references and skips host:port (on a fixture line)", () => {
        assert.deepEqual(imagesNamed("`node:22.20.0-bookworm-slim`, `localhost:5001`, `gcr.io/x/y:v1@sha256:" + "a".repeat(64) + "`, `lib/x.ts`, `sha256:" + "b".repeat(64) + "`"),
            ["node:22.20.0-bookworm-slim", "gcr.io/x/y:v1@sha256:" + "a".repeat(64)]);
    });
});
