/**
 * The command blocks of the pages a user follows step by step (README.md, docs/kind.md), and how the tests
 * treat each: run here, or replaced for a named reason. Every fenced block on those pages names its
 * language, and every shell block carries a marker on the line before its fence (an HTML comment, which
 * GitHub does not show):
 *
 *   <!-- doc-test: run here -->              run by test/docs/doc-commands.test.ts (no cluster)
 *   <!-- doc-test: run cluster -->           run by test/cluster/doc-commands.test.ts against the local API server
 *   <!-- doc-test: run engine -->            run by test/engine/doc-commands.test.ts with the real Pulumi engine
 *   <!-- doc-test: run here cluster -->      several of them (e.g. a block that only sets variables)
 *   <!-- doc-test: replaced (kind): why -->  not run: needs what the tests do not have, one of REPLACED
 *
 * A shell block without a marker, with an unknown mode or reason, or a marker before no shell block fails
 * test/docs/doc-commands.test.ts, so a new command cannot slip in unchecked. A `text` block right after a
 * `run here` block is what that block prints: its lines must appear in the output, in order (`...` stands
 * for anything).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { readPage } from "./repoDocs";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

export const PAGES = ["README.md", "docs/kind.md"];
export const SHELL_LANGUAGES = ["sh", "bash", "shell", "console"];

/** Where each mode's blocks run. */
export const RUN_MODES = {
    here: "test/docs/doc-commands.test.ts",
    cluster: "test/cluster/doc-commands.test.ts",
    engine: "test/engine/doc-commands.test.ts",
} as const;
export type RunMode = keyof typeof RUN_MODES;

/** The reasons a block may be left unrun; the marker adds the particular why. */
export const REPLACED = {
    kind: "needs a kind cluster (or the tools that make one); the local API server runs no containers",
    docker: "needs Docker",
    "pulumi-kind": "pulumi against a kind cluster",
    github: "needs GitHub (a repository, a release download, a PR)",
    done: "already done by the test command before the tests run",
    "test-command": "is the test command itself, which runs this check",
} as const;
export type ReplacedReason = keyof typeof REPLACED;

export type Marker =
    | { kind: "run"; modes: RunMode[] }
    | { kind: "replaced"; reason: ReplacedReason; why: string };

export interface Block {
    page: string;
    /** 1-based line of the opening fence. */
    line: number;
    lang: string;
    text: string;
    marker?: Marker;
    /** The text block right after a shell block (only blank lines between): what it prints. */
    output?: string;
}

export interface Problem {
    page: string;
    line: number;
    message: string;
}

const MARKER = /^<!--\s*doc-test:\s*(.*?)\s*-->\s*$/;

/** One marker's text (what follows `doc-test:`), or the problem with it. */
export function parseMarker(text: string): Marker | string {
    const run = /^run((?:\s+\S+)+)$/.exec(text);
    if (run) {
        const modes = run[1].trim().split(/\s+/);
        const unknown = modes.filter((m) => !(m in RUN_MODES));
        if (unknown.length) return `unknown run mode ${unknown.join(", ")} (allowed: ${Object.keys(RUN_MODES).join(", ")})`;
        return { kind: "run", modes: modes as RunMode[] };
    }
    const replaced = /^replaced\s+\(([^)]*)\):\s*(.*)$/.exec(text);
    if (replaced) {
        if (!(replaced[1] in REPLACED)) return `unknown reason (${replaced[1]}) (allowed: ${Object.keys(REPLACED).join(", ")})`;
        if (replaced[2].length < 10) return `replaced (${replaced[1]}) needs a sentence saying why, got "${replaced[2]}"`;
        return { kind: "replaced", reason: replaced[1] as ReplacedReason, why: replaced[2] };
    }
    return `"${text}" is not a doc-test marker (run <${Object.keys(RUN_MODES).join("|")}>..., or replaced (<reason>): <why>)`;
}

/** The fenced blocks of a page with their markers, and what breaks the rules above. */
export function blocksOf(page: string, text: string): { blocks: Block[]; problems: Problem[] } {
    const lines = text.split("\n");
    const blocks: Block[] = [];
    const problems: Problem[] = [];
    let pending: { line: number; marker: Marker | string } | undefined;
    let previousEnd = -2;
    for (let i = 0; i < lines.length; i++) {
        const m = MARKER.exec(lines[i]);
        if (m) {
            if (pending) problems.push({ page, line: pending.line, message: "a doc-test marker before no shell block" });
            pending = { line: i + 1, marker: parseMarker(m[1]) };
            continue;
        }
        const fence = /^(\s*)(```+|~~~+)\s*([^\s`]*)/.exec(lines[i]);
        if (!fence) {
            if (pending && lines[i].trim() !== "") {
                problems.push({ page, line: pending.line, message: "a doc-test marker before no shell block" });
                pending = undefined;
            }
            continue;
        }
        const start = i;
        const close = new RegExp(`^\\s*${fence[2][0] === "`" ? "`" : "~"}{${fence[2].length},}\\s*$`);
        const body: string[] = [];
        for (i++; i < lines.length && !close.test(lines[i]); i++) body.push(lines[i].slice(fence[1].length));
        const block: Block = { page, line: start + 1, lang: fence[3].toLowerCase(), text: body.join("\n") };
        if (block.lang === "") problems.push({ page, line: block.line, message: "a fenced block without a language (sh for commands, text for output)" });
        if (SHELL_LANGUAGES.includes(block.lang)) {
            if (!pending) {
                problems.push({ page, line: block.line, message: `a ${block.lang} block without a doc-test marker on the line before its fence` });
            } else if (typeof pending.marker === "string") {
                problems.push({ page, line: pending.line, message: pending.marker });
            } else {
                block.marker = pending.marker;
            }
        } else if (pending) {
            problems.push({ page, line: pending.line, message: `a doc-test marker before a ${block.lang || "plain"} block, not a shell block` });
        }
        pending = undefined;
        const previous = blocks[blocks.length - 1];
        if (block.lang === "text" && previous?.marker && lines.slice(previousEnd + 1, start).every((l) => l.trim() === "")) previous.output = block.text;
        previousEnd = i;
        blocks.push(block);
    }
    if (pending) problems.push({ page, line: pending.line, message: "a doc-test marker before no shell block" });
    return { blocks, problems };
}

/** Every block of the pages, and the problems with them. */
export function pageBlocks(pages = PAGES): { blocks: Block[]; problems: Problem[] } {
    const all = pages.map((p) => blocksOf(p, readPage(p)));
    return { blocks: all.flatMap((a) => a.blocks), problems: all.flatMap((a) => a.problems) };
}

/** The blocks a mode runs, in page order. */
export function blocksFor(mode: RunMode, pages = PAGES): Block[] {
    return pageBlocks(pages).blocks.filter((b) => b.marker?.kind === "run" && b.marker.modes.includes(mode));
}

export interface PageRun {
    status: number | null;
    output: string;
    /** The block that failed ("docs/kind.md:123"), when one did. */
    failed?: string;
    /** What each block printed on stdout, by "page:line". */
    stdout: Map<string, string>;
}

/**
 * The lines of `expected` that `actual` lacks: each line must match a line of `actual`, in order, where
 * `...` stands for anything (a line of only `...` for any number of lines).
 */
export function missingOutput(expected: string, actual: string): string[] {
    const have = actual.split("\n");
    let at = 0;
    const missing: string[] = [];
    for (const want of expected.split("\n").filter((l) => l.trim() !== "" && l.trim() !== "...")) {
        const re = new RegExp(`^${want.split("...").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
        const found = have.findIndex((l, i) => i >= at && re.test(l));
        if (found < 0) missing.push(want);
        else at = found + 1;
    }
    return missing;
}

/**
 * Runs one page's blocks as one bash script from the repository root, in order, so a block sees the
 * variables an earlier one set, as in the reader's shell. `set -euo pipefail` makes any failing command
 * fail the run; a line before each block names it. HOME (unless ownHome: the engine's cache is under the
 * real one) and TMPDIR are a fresh directory, so what the blocks write there (the platform and app clones)
 * stays out of the machine's.
 */
export function runPage(blocks: Block[], env: Record<string, string>, opts: { timeoutMs?: number; ownHome?: boolean } = {}): PageRun {
    const home = tmpDir("doc");
    const timeoutMs = opts.timeoutMs ?? 110_000;
    const script = ["set -euo pipefail", ...blocks.map((b) => `echo '>>> ${b.page}:${b.line}'; echo '>>> ${b.page}:${b.line}' >&2\n${b.text}`)].join("\n");
    try {
        const r = spawnSync("bash", ["-c", script], {
            cwd: REPO, encoding: "utf8", timeout: timeoutMs,
            env: { ...process.env, ...(opts.ownHome ? {} : { HOME: home }), TMPDIR: home, ...env },
        });
        const output = `${r.stdout}${r.stderr}${r.error ? `\n${r.error.message}` : ""}`;
        const started = [...r.stderr.matchAll(/^>>> (\S+)$/gm)].map((m) => m[1]);
        const stdout = new Map<string, string>();
        const parts = r.stdout.split(/^>>> (\S+)\n/m);
        for (let i = 1; i < parts.length; i += 2) stdout.set(parts[i], parts[i + 1] ?? "");
        return { status: r.status, output, failed: r.status === 0 ? undefined : started[started.length - 1], stdout };
    } finally {
        fs.rmSync(home, { recursive: true, force: true });
    }
}

/** A git identity for the blocks that commit (a reader has one; a test machine may not). Simulated. */
export const GIT_IDENTITY = {
    GIT_AUTHOR_NAME: "doc test", GIT_AUTHOR_EMAIL: "doc-test@example.invalid",
    GIT_COMMITTER_NAME: "doc test", GIT_COMMITTER_EMAIL: "doc-test@example.invalid",
};
