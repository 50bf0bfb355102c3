import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../lib/tektonSources";

// Required by absolute path: this file also runs compiled from .build/<hash>/, where no copy of it lies.
const { compileOnce, filesUnder } = require(path.join(REPO_ROOT, "scripts", "compiled.js")) as typeof import("../compiled");

/** What the compiled pack is built from: a change to any of these rebuilds it. */
function sourceFiles(source: string): string[] {
    const files = ["index.ts", "tsconfig.json", "package.json", "package-lock.json", "PulumiPolicy.yaml"].map((f) => path.join(source, f));
    // Recursive, as the pack's tsconfig includes policies/**/*.ts: a file in a sub-folder must rebuild it too.
    return [...files, ...filesUnder(path.join(source, "policies"), [".ts"])].filter((f) => fs.existsSync(f));
}

/**
 * The policy pack compiled to JavaScript, for the engine to load instead of the TypeScript sources.
 *
 * Why: the analyzer (@pulumi/pulumi's run-policy-pack) registers ts-node with type-checking on for every
 * pack it loads; type-checking the sources costs seconds each time. Compiled once here, with the same
 * type-check (tsc fails the build on a type error, naming it), every later run loads plain JavaScript. The
 * pack's name and policies are the same: this is the same code, and the pack's own node_modules (a
 * symlink) serve it.
 *
 * The build lands in `<source>/bin` (ignored by git) with a stamp of the sources' sha256; a stale or
 * half-written build is replaced (scripts/compiled.js compileOnce).
 */
export function compiledPolicyPack(source: string, log: (line: string) => void = () => undefined): string {
    return compileOnce({
        root: source,
        tsconfig: "tsconfig.json",
        out: path.join(source, "bin"),
        files: sourceFiles(source),
        what: "the policy pack",
        log,
        finish: (tmp) => {
            const pkg = JSON.parse(fs.readFileSync(path.join(source, "package.json"), "utf8"));
            // The analyzer loads `main`; without typescript among the dependencies it reports plain-JS errors.
            fs.writeFileSync(path.join(tmp, "package.json"), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, main: "index.js", dependencies: pkg.dependencies }, null, 2));
            fs.copyFileSync(path.join(source, "PulumiPolicy.yaml"), path.join(tmp, "PulumiPolicy.yaml"));
            fs.symlinkSync(path.join("..", "node_modules"), path.join(tmp, "node_modules"));
        },
    });
}
