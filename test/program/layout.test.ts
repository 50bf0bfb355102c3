// lib/ is the floor: the program (program.ts, beside index.ts) imports components/, components/ import lib/,
// and scripts/ and test/ may import any of them; nothing under lib/ imports back up. An import that ran back
// up would make lib/ load the whole program (and its Pulumi resources) wherever a script or a test needs
// only a config schema or a Tekton source.
import { strict as assert } from "node:assert";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/repo";

const LIB = path.join(REPO, "lib");

/** Every module a TypeScript file names: static import/export ... from, import "x", require("x"), import("x"). */
export function specifiers(text: string): string[] {
    const found: string[] = [];
    const patterns = [
        /\b(?:import|export)\s[^;'"]*?\sfrom\s*["']([^"']+)["']/g,
        /\bimport\s*["']([^"']+)["']/g,
        /\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g,
    ];
    for (const re of patterns) for (const m of text.matchAll(re)) found.push(m[1]);
    return found;
}

/** The relative imports of a file under lib/ that resolve outside lib/, as "file: specifier" lines. */
export function importsOutsideLib(file: string, text: string): string[] {
    return specifiers(text)
        .filter((s) => s.startsWith("."))
        .filter((s) => {
            const target = path.resolve(path.dirname(file), s);
            return path.relative(LIB, target).startsWith("..");
        })
        .map((s) => `${path.relative(REPO, file)}: ${s}`);
}

function libFiles(dir = LIB): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        return e.isDirectory() ? libFiles(p) : /\.(ts|js)$/.test(e.name) ? [p] : [];
    });
}

describe("the layout: lib/ is the floor", function () {
    it("no file under lib/ imports components/, scripts/, the program or anything else outside lib/", () => {
        const files = libFiles();
        assert.ok(files.length > 10, `expected the lib/ sources, found ${files.length}`);
        const upward = files.flatMap((f) => importsOutsideLib(f, fs.readFileSync(f, "utf8")));
        assert.deepEqual(upward, [], `lib/ must not import outside itself:\n${upward.join("\n")}`);
    });

    it("the check sees every form of import that would run back up (sample text, not a repository file)", () => {
        const file = path.join(LIB, "sample.ts");
        const text = [
            'import { TektonDagStack } from "../components/tektonDagStack";',
            'import {\n    a,\n    b,\n} from "../scripts/mocks/render";',
            'export { c } from "../program";',
            'import "../scripts/runner/engine";',
            'const d = require("../components/rbac");',
            'const e = await import("../index");',
            'import { ok } from "./config";',
            'import * as pulumi from "@pulumi/pulumi";',
        ].join("\n");
        assert.deepEqual(importsOutsideLib(file, text), [
            "lib/sample.ts: ../components/tektonDagStack",
            "lib/sample.ts: ../scripts/mocks/render",
            "lib/sample.ts: ../program",
            "lib/sample.ts: ../scripts/runner/engine",
            "lib/sample.ts: ../components/rbac",
            "lib/sample.ts: ../index",
        ]);
    });
});
