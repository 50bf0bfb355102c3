/**
 * Finds the references a markdown page makes to the repository and says which are dead: relative links
 * (with their `#anchor`), anchors into the page itself, and file paths written in backticks
 * (`lib/config.ts`). Pure functions over text plus an `exists` callback, so a test can run them on a fixture.
 */
import * as path from "path";

export interface Problem {
    line: number;
    message: string;
}

/**
 * A page may name a path outside the repository only in a paragraph that says it is the maintainers' source
 * material (a checkout beside the repository that users do not have), so a reader knows not to look for it.
 */
export const OUTSIDE_MARKER = "maintainers' source material";

/** The page's text with fenced code blocks blanked out (line numbers kept): commands are not references. */
export function proseOf(text: string): string {
    let fenced = false;
    return text.split("\n").map((line) => {
        if (/^\s*(```|~~~)/.test(line)) {
            fenced = !fenced;
            return "";
        }
        return fenced ? "" : line;
    }).join("\n");
}

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to '-', repeats numbered. */
export function headingSlugs(text: string): Set<string> {
    const seen = new Map<string, number>();
    const slugs = new Set<string>();
    for (const line of proseOf(text).split("\n")) {
        const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
        if (!m) continue;
        const plain = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, "$1"); // a link in a heading keeps its text only
        const base = plain.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        slugs.add(n === 0 ? base : `${base}-${n}`);
    }
    return slugs;
}

export interface Reference {
    line: number;
    /** What the text says, as written. */
    target: string;
    /** The repository-relative file it names ("" for an anchor into the page itself). */
    file: string;
    anchor?: string;
    kind: "link" | "path";
}

const LINK = /\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
const CODE = /`([^`\n]+)`/g;
/** Placeholders and patterns, not files: `tekton/scripts/<name>.sh`, `images/*`, `$(params.x)`. */
const PLACEHOLDER = /[<>*{}$|]/;

/**
 * Every reference of a page at `page` (repository-relative, e.g. "docs/kind.md"). `topLevel` holds the
 * repository's top-level entries: a backticked word is taken for a path only when its first segment is one
 * of them, so upstream paths (`mirrord/agent/src/http/filter.rs`) and generated ones (`.render/manifests`)
 * are not mistaken for ours.
 */
export function referencesOf(page: string, text: string, topLevel: ReadonlySet<string>): Reference[] {
    const refs: Reference[] = [];
    const lines = proseOf(text).split("\n");
    lines.forEach((raw, i) => {
        const line = i + 1;
        for (const m of raw.matchAll(LINK)) {
            const target = m[1];
            if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
            const [rel, anchor] = target.split("#", 2);
            const file = rel === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), rel));
            refs.push({ line, target, file, anchor, kind: "link" });
        }
        // Links' targets are checked above; their text and the rest of the line are searched for code spans.
        for (const m of raw.replace(LINK, (whole) => whole.replace(/\]\([^)]*\)$/, "]")).matchAll(CODE)) {
            const word = m[1].trim().replace(/:\d+(-\d+)?$/, ""); // file.ts:12 names a line of a file
            if (/\s/.test(word) || PLACEHOLDER.test(word) || /^[a-z][a-z0-9+.-]*:\/\//i.test(word)) continue;
            if (word.startsWith("../")) {
                refs.push({ line, target: word, file: path.posix.normalize(word), kind: "path" });
                continue;
            }
            const first = word.replace(/^\.\//, "").split("/")[0];
            if (!topLevel.has(first)) continue;
            if (!word.includes("/") && !/\.[a-z]+$/i.test(word)) continue; // `docs` alone is a word, not a path
            refs.push({ line, target: word, file: path.posix.normalize(word.replace(/\/$/, "")), kind: "path" });
        }
    });
    return refs;
}

/** The paragraph (or list item) holding line `i`, joined into one line: a reflow cannot split a phrase. */
function paragraphAt(lines: string[], i: number): string {
    const edge = (l: string | undefined) => l === undefined || l.trim() === "" || /^\s*([-*]|\d+\.)\s/.test(l) || l.startsWith("#");
    let start = i;
    while (!edge(lines[start]) && start > 0 && !edge(lines[start - 1])) start--;
    let end = i;
    while (!edge(lines[end + 1])) end++;
    return lines.slice(start, end + 1).join(" ").replace(/\s+/g, " ");
}

/**
 * The dead references of a page: files that do not exist, anchors no heading of the target page makes, and
 * paths outside the repository in a paragraph that does not say they are the maintainers' source material.
 */
export function deadReferences(
    page: string,
    text: string,
    repo: {
        topLevel: ReadonlySet<string>;
        exists(file: string): boolean;
        /** A path the build writes and git ignores (`policy/bin`): named as an output, not a file to read. */
        generated?(file: string): boolean;
        read(file: string): string;
    },
): Problem[] {
    const problems: Problem[] = [];
    const lines = text.split("\n");
    for (const ref of referencesOf(page, text, repo.topLevel)) {
        const where = `${ref.kind} ${JSON.stringify(ref.target)}`;
        if (ref.file.startsWith("../")) {
            if (!paragraphAt(lines, ref.line - 1).includes(OUTSIDE_MARKER)) {
                problems.push({ line: ref.line, message: `${where} points outside the repository; a reader cannot follow it (say "${OUTSIDE_MARKER}" in that paragraph if it is)` });
            }
            continue;
        }
        if (ref.file !== page && !repo.exists(ref.file) && !(ref.kind === "path" && repo.generated?.(ref.file))) {
            problems.push({ line: ref.line, message: `${where}: ${ref.file} does not exist` });
            continue;
        }
        if (ref.anchor !== undefined && ref.file.endsWith(".md")) {
            if (!headingSlugs(ref.file === page ? text : repo.read(ref.file)).has(ref.anchor)) {
                problems.push({ line: ref.line, message: `${where}: ${ref.file} has no heading with the anchor #${ref.anchor}` });
            }
        }
    }
    return problems;
}
