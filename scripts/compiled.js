#!/usr/bin/env node
/**
 * Runs a TypeScript entry point of this repository as JavaScript compiled ahead of time, instead of
 * compiling it on every start (ts-node). Why: loading the program, the Pulumi SDKs and the runner under
 * ts-node costs about a second more per process than plain JavaScript, and the runner is started for
 * every render, preview and up (issue 18).
 *
 *   node scripts/compiled.js scripts/pulumi-run.ts up --stack render
 *
 * The build is `tsc -p tsconfig.build.json` (type-checked: a type error fails the run, naming it) into
 * .build/<sha256 of the sources>/; the first run after a change builds, later runs start at once. Builds of
 * other sources are never replaced under a running process, only pruned once they are an hour old.
 * Concurrent first runs each build into a temporary directory; the first rename wins, the others' results
 * are the same sources' output.
 *
 * compileOnce() is also what compiles the policy pack for the engine (scripts/runner/policyPack.ts).
 */
"use strict";
const { spawnSync } = require("child_process");
const { createHash } = require("crypto");
const fs = require("fs");
const path = require("path");

const REPO = path.resolve(__dirname, "..");
const STAMP = ".source-sha256";

/** Every file under dir (recursively) whose name ends with one of exts, sorted. */
function filesUnder(dir, exts) {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
        .filter((f) => exts.some((e) => f.endsWith(e)) && !f.split(path.sep).includes("node_modules"))
        .sort()
        .map((f) => path.join(dir, f));
}

/** sha256 over the files' paths (relative to root) and contents. */
function sourceHash(root, files) {
    const h = createHash("sha256");
    for (const f of files) h.update(path.relative(root, f)).update("\0").update(fs.readFileSync(f)).update("\0");
    return h.digest("hex");
}

function isBuilt(dir, hash) {
    const stamp = path.join(dir, STAMP);
    return fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8").trim() === hash;
}

/**
 * Compiles a TypeScript project into `out` unless `out` already holds the build of these sources.
 *   root      the project directory (its node_modules has typescript)
 *   tsconfig  the project file, relative to root
 *   out       where the build lands (replaced when stale)
 *   files     the inputs whose change makes a build stale
 *   finish    optional (tmpDir) => void, to add files to the build before it is put in place
 *   hash      optional: sourceHash(root, files), when the caller has computed it already
 *   what      what is compiled, for the log and errors (default: the tsconfig's path)
 *   log       optional line logger (a build takes seconds: say so)
 * Returns out.
 */
function compileOnce({ root, tsconfig, out, files, finish, hash = sourceHash(root, files), what = path.join(root, tsconfig), log = () => undefined }) {
    if (isBuilt(out, hash)) return out;
    const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
    if (!fs.existsSync(tsc)) {
        throw new Error(`the dependencies of ${root} are not installed (no ${path.relative(process.cwd(), tsc)}); run: npm ci --prefix ${root}`);
    }
    log(`compiling ${what} (its sources changed since the last build)`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const tmp = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}-`));
    try {
        const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, tsconfig), "--outDir", tmp, "--sourceMap"], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`${what} does not compile (tsc -p ${path.join(root, tsconfig)}):\n${r.stdout}${r.stderr}`);
        if (finish) finish(tmp);
        fs.writeFileSync(path.join(tmp, STAMP), `${hash}\n`);
        if (fs.existsSync(out) && !isBuilt(out, hash)) fs.rmSync(out, { recursive: true, force: true });
        try {
            fs.renameSync(tmp, out);
        } catch (err) {
            // Another run put its build of these same sources in place first.
            if (!isBuilt(out, hash)) throw err;
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    return out;
}

/** The inputs of the repository's build: what tsconfig.build.json includes, plus the files that shape it. */
function repoSources() {
    const dirs = ["lib", "components", "scripts"].map((d) => path.join(REPO, d));
    return [
        ...["index.ts", "program.ts", "tsconfig.json", "tsconfig.build.json", "package-lock.json"].map((f) => path.join(REPO, f)),
        ...dirs.flatMap((d) => filesUnder(d, [".ts"])),
    ].filter((f) => fs.existsSync(f));
}

const HOUR_MS = 60 * 60 * 1000;

/** The repository's compiled build, built now when the sources changed. Returns its directory. */
function repoBuild(log) {
    const files = repoSources();
    const hash = sourceHash(REPO, files);
    const base = path.join(REPO, ".build");
    const out = compileOnce({ root: REPO, tsconfig: "tsconfig.build.json", out: path.join(base, hash.slice(0, 16)), files, hash, what: "the program and its scripts", log });
    // Its time is that of its last use, so that the pruning below goes by use, not by age: a build made hours
    // ago and started from a minute ago is in use.
    const now = new Date();
    fs.utimesSync(out, now, now);
    // Builds of older sources: a process started before the change may still run from one, so only those
    // unused for an hour go.
    for (const e of fs.readdirSync(base, { withFileTypes: true })) {
        const p = path.join(base, e.name);
        if (p === out || !e.isDirectory()) continue;
        try {
            if (Date.now() - fs.statSync(p).mtimeMs > HOUR_MS) fs.rmSync(p, { recursive: true, force: true });
        } catch {
            // Pruned by another run meanwhile.
        }
    }
    return out;
}

/** The compiled JavaScript of a TypeScript file of the repository (path relative to the repository root). */
function compiledPath(entry, log) {
    const rel = path.relative(REPO, path.resolve(REPO, entry));
    if (rel.startsWith("..") || !rel.endsWith(".ts")) throw new Error(`${entry}: not a .ts file of this repository`);
    const js = path.join(repoBuild(log), rel.replace(/\.ts$/, ".js"));
    if (!fs.existsSync(js)) throw new Error(`${entry} is not part of the build (tsconfig.build.json includes index.ts, program.ts, lib/, components/ and scripts/)`);
    return js;
}

module.exports = { compileOnce, compiledPath, sourceHash, filesUnder };

if (require.main === module) {
    const [entry, ...args] = process.argv.slice(2);
    if (!entry) {
        console.error("usage: node scripts/compiled.js <file.ts of this repository> [arguments...]");
        process.exit(2);
    }
    let js;
    try {
        js = compiledPath(entry, (line) => console.error(`compiled: ${line}`));
    } catch (err) {
        console.error(`compiled: ${err.message}`);
        process.exit(1);
    }
    // The entry sees the arguments as if it had been started itself.
    process.argv = [process.argv[0], js, ...args];
    require(js);
}
