import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** What the compiled pack is built from: a change to any of these rebuilds it. */
function sourceFiles(source: string): string[] {
    const files = ["index.ts", "tsconfig.json", "package.json", "package-lock.json", "PulumiPolicy.yaml"].map((f) => path.join(source, f));
    // Recursive, as the pack's tsconfig includes policies/**/*.ts: a file in a sub-folder must rebuild it too.
    const policies = path.join(source, "policies");
    for (const f of fs.readdirSync(policies, { recursive: true, encoding: "utf8" }).sort()) if (f.endsWith(".ts")) files.push(path.join(policies, f));
    return files.filter((f) => fs.existsSync(f));
}

export function policySourceHash(source: string): string {
    const h = createHash("sha256");
    for (const f of sourceFiles(source)) h.update(path.relative(source, f)).update("\0").update(fs.readFileSync(f)).update("\0");
    return h.digest("hex");
}

const STAMP = ".source-sha256";

/**
 * The policy pack compiled to JavaScript, for the engine to load instead of the TypeScript sources.
 *
 * Why: the analyzer (@pulumi/pulumi's run-policy-pack) registers ts-node with type-checking on for every
 * pack it loads, and the engine loads the pack for the preview and again for the update; type-checking the
 * sources costs seconds each time. Compiled once here, with the same type-check (tsc fails the build on a
 * type error, naming it), every later run loads plain JavaScript. The pack's name and policies are the same:
 * this is the same code, and the pack's own node_modules (a symlink) serve it.
 *
 * The build lands in `<source>/bin` (ignored by git) with a stamp of the sources' sha256; a stale or
 * half-written build is replaced. Concurrent runs each build into their own temporary directory and the
 * last rename wins: both results are the same sources' output.
 */
export function compiledPolicyPack(source: string, log: (line: string) => void = () => undefined): string {
    const out = path.join(source, "bin");
    const hash = policySourceHash(source);
    const stamp = path.join(out, STAMP);
    if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === hash) return out;

    const tsc = path.join(source, "node_modules", "typescript", "bin", "tsc");
    if (!fs.existsSync(tsc)) {
        throw new Error(`the policy pack's dependencies are not installed (no ${path.relative(process.cwd(), tsc)}); run: npm ci --prefix ${source}`);
    }
    log("compiling the policy pack (its sources changed since the last build)");
    const tmp = fs.mkdtempSync(path.join(source, ".bin-"));
    try {
        const r = spawnSync(process.execPath, [tsc, "-p", path.join(source, "tsconfig.json"), "--outDir", tmp, "--sourceMap"], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`the policy pack does not compile (tsc -p ${path.join(source, "tsconfig.json")}):\n${r.stdout}${r.stderr}`);
        const pkg = JSON.parse(fs.readFileSync(path.join(source, "package.json"), "utf8"));
        // The analyzer loads `main`; without typescript among the dependencies it reports plain-JS errors.
        fs.writeFileSync(path.join(tmp, "package.json"), JSON.stringify({ name: pkg.name, version: pkg.version, private: true, main: "index.js", dependencies: pkg.dependencies }, null, 2));
        fs.copyFileSync(path.join(source, "PulumiPolicy.yaml"), path.join(tmp, "PulumiPolicy.yaml"));
        fs.symlinkSync(path.join("..", "node_modules"), path.join(tmp, "node_modules"));
        fs.writeFileSync(path.join(tmp, STAMP), `${hash}\n`);
        fs.rmSync(out, { recursive: true, force: true });
        try {
            fs.renameSync(tmp, out);
        } catch (err) {
            // Another run renamed its build in between: fine when it is of these same sources.
            if (!(fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === hash)) throw err;
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    return out;
}
