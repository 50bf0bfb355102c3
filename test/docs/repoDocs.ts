/**
 * The repository as the doc tests see it: the pages checked (README.md and docs/*.md) and the files a page
 * may name. Files are what git tracks or would track (not ignored), so a page cannot lean on something that
 * exists only on one machine (`.render/`, `.cluster/`, a build cache).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/repo";

/** The pages whose references and config keys are checked, repository-relative. */
export function docPages(): string[] {
    const docs = fs.readdirSync(path.join(REPO, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`);
    return ["README.md", ...docs];
}

export function readPage(page: string): string {
    return fs.readFileSync(path.join(REPO, page), "utf8");
}

let cached: { files: Set<string>; dirs: Set<string>; topLevel: Set<string> } | undefined;

function listing() {
    if (!cached) {
        let out: string;
        try {
            out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" });
        } catch (err) {
            throw new Error(`the doc tests list the repository's files with git ls-files in ${REPO}, which failed ` +
                `(git missing, or not a git checkout): ${(err as Error).message}`);
        }
        // A file deleted in the work tree but still in the index is gone for a reader.
        const files = new Set(out.split("\0").filter((f) => f !== "" && fs.existsSync(path.join(REPO, f))));
        const dirs = new Set<string>();
        for (const f of files) {
            const parts = f.split("/");
            for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
        }
        const topLevel = new Set([...files].map((f) => f.split("/")[0]));
        cached = { files, dirs, topLevel };
    }
    return cached;
}

export const repository = {
    get topLevel(): ReadonlySet<string> {
        return listing().topLevel;
    },
    exists(file: string): boolean {
        const { files, dirs } = listing();
        return file === "." || files.has(file) || dirs.has(file);
    },
    generated(file: string): boolean {
        try {
            // `file/x`: an ignored directory (`policy/bin/`) that does not exist yet matches only with a child.
            execFileSync("git", ["check-ignore", "--no-index", file, `${file}/x`], { cwd: REPO, stdio: "ignore" });
            return true;
        } catch {
            return false;
        }
    },
    read(file: string): string {
        return fs.readFileSync(path.join(REPO, file), "utf8");
    },
};
