/**
 * npx ts-node --transpile-only scripts/shared-yaml.ts [--min N] [--files] [DIR]
 *
 * How much of the Tekton YAML is written twice: the non-blank lines of DIR/**\/*.yaml (default tekton/) that sit
 * in a run of N (default 6) or more consecutive lines that stands, the same to the letter, in another file.
 * `duplicates` leaves YAML out, so this is the number to watch for the Tekton sources (issue 19).
 * Lines are compared with their indentation trimmed; blank lines are left out and do not break a run.
 * --files adds one line per file: its shared and non-blank lines.
 */
import * as fs from "fs";
import * as path from "path";

function yamlFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return yamlFiles(p);
        return /\.ya?ml$/.test(e.name) ? [p] : [];
    }).sort();
}

function main(argv: string[]): void {
    let min = 6;
    let perFile = false;
    let dir = "tekton";
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--min") {
            min = Number(argv[++i]);
            if (!Number.isInteger(min) || min < 2) throw new Error(`--min takes a whole number of 2 or more; got ${JSON.stringify(argv[i])}`);
        } else if (argv[i] === "--files") perFile = true;
        else if (argv[i].startsWith("-")) throw new Error(`unknown option ${JSON.stringify(argv[i])} (allowed: --min N, --files, DIR)`);
        else dir = argv[i];
    }
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);

    const files = yamlFiles(dir).map((file) => ({
        file, lines: fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== ""),
    }));
    // Every window of `min` lines, keyed by its text, with the files it stands in.
    const where = new Map<string, Set<string>>();
    for (const { file, lines } of files) {
        for (let i = 0; i + min <= lines.length; i++) {
            const key = lines.slice(i, i + min).join("\n");
            if (!where.has(key)) where.set(key, new Set());
            where.get(key)!.add(file);
        }
    }
    let total = 0;
    let shared = 0;
    for (const { file, lines } of files) {
        const marked = new Array<boolean>(lines.length).fill(false);
        for (let i = 0; i + min <= lines.length; i++) {
            if (where.get(lines.slice(i, i + min).join("\n"))!.size > 1) marked.fill(true, i, i + min);
        }
        const n = marked.filter(Boolean).length;
        total += lines.length;
        shared += n;
        if (perFile) console.log(`${String(n).padStart(5)} / ${String(lines.length).padStart(4)}  ${file}`);
    }
    const pct = total ? Math.round((100 * shared) / total) : 0;
    console.log(`shared-yaml: ${shared} of ${total} non-blank lines (${pct}%) in ${files.length} files under ${dir}/ sit in runs of ${min}+ lines shared with another file`);
}

try {
    main(process.argv.slice(2));
} catch (err) {
    console.error(`shared-yaml: error: ${(err as Error).message}`);
    process.exit(2);
}
