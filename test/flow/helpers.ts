// Shared by the tests under test/flow: run the PR-flow task scripts that need no cluster (resolve-stack,
// run-stack-tests) as their Tasks run them, against a temporary shared workspace. The ones that call kubectl
// (validate-routing, pr-comment) run against the real API server: test/cluster/flow.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync, SpawnSyncReturns } from "child_process";
import { REPO, SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";
import { tmpDir } from "../support/tmpDir";

export const STACKS = path.join(REPO, "stacks");
export const FIXTURES = path.join(__dirname, "fixtures");
export const FAKES = path.join(__dirname, "fakes");

/** The yq the resolve-stack Task's parse step runs: mikefarah yq, same version as the Task's image. */
export const YQ_VERSION = "v4.47.1";

function isMikefarahYq(bin: string): boolean {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    return r.status === 0 && r.stdout.includes("mikefarah") && r.stdout.includes(YQ_VERSION);
}

/**
 * A directory holding mikefarah yq (same version as the Task image), to put first on PATH.
 * Looks at TEKTON_DAG_YQ_DIR, then a per-user cache; builds it with `go install` from the Go module
 * proxy when missing (a few minutes, once per machine). Debian's `yq` is a different program.
 */
export function yqDir(): string {
    const candidates = [process.env.TEKTON_DAG_YQ_DIR ?? ""].filter(Boolean);
    const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "tekton-dag-test", `yq-${YQ_VERSION}`);
    candidates.push(cache);
    for (const dir of candidates) {
        if (isMikefarahYq(path.join(dir, "yq"))) return dir;
    }
    fs.mkdirSync(cache, { recursive: true });
    const r = spawnSync("go", ["install", `github.com/mikefarah/yq/v4@${YQ_VERSION}`], {
        encoding: "utf8",
        env: { ...process.env, GOBIN: cache, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
        timeout: 15 * 60 * 1000,
    });
    if (r.status !== 0 || !isMikefarahYq(path.join(cache, "yq"))) {
        throw new Error(`could not build mikefarah yq ${YQ_VERSION} with go install (needed by resolve-stack's parse step): ${r.error ?? ""} ${r.stderr}`);
    }
    return cache;
}

/** What a script run gives a test: its exit status and output. */
export type RunResult = Pick<SpawnSyncReturns<string>, "status" | "stdout" | "stderr">;

export interface ResolveOutcome extends RunResult {
    workspace: string;
    runId: string;
    results: Record<string, string>;
    graph?: any;
}

/**
 * Runs both steps of resolve-stack like the Task: the parse step (sh + yq), then the resolve step
 * (python3), on a platform checkout that holds `stackText` (or nothing, when it is undefined).
 */
export async function resolveStack(opts: {
    stackText?: string;
    stackFile?: string;
    /** Empty or left out: resolve-stack finds the app by repoFullName. */
    changedApp?: string;
    /** The webhook's repository.full_name (owner/name). */
    repoFullName?: string;
    prNumber?: string;
    runId?: string;
    defaultNamespace?: string;
}): Promise<ResolveOutcome> {
    const workspace = tmpDir("ws");
    const runId = opts.runId ?? "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
    const stackFile = opts.stackFile ?? "stacks/stack.yaml";
    const platform = path.join(workspace, ".tekton-dag", "runs", runId, "platform");
    fs.mkdirSync(platform, { recursive: true });
    if (opts.stackText !== undefined) {
        fs.mkdirSync(path.dirname(path.join(platform, stackFile)), { recursive: true });
        fs.writeFileSync(path.join(platform, stackFile), opts.stackText);
    }
    const work = tmpDir("work");
    const resultsDir = tmpDir("results");
    const env = {
        SHARED_WORKSPACE: workspace,
        RUN_ID: runId,
        STACK_FILE: stackFile,
        PARSED_JSON: path.join(work, "stack-parsed.json"),
        CHANGED_APP: opts.changedApp ?? "",
        REPO_FULL_NAME: opts.repoFullName ?? "",
        PR_NUMBER: opts.prNumber ?? "42",
        DEFAULT_NAMESPACE: opts.defaultNamespace ?? "staging",
        STACK_JSON_RESULT: path.join(resultsDir, "stack-json"),
    };
    const outcome: ResolveOutcome = { status: 0, stdout: "", stderr: "", workspace, runId, results: {} };
    const parse = runScript(path.join(SCRIPTS, "resolve-stack-parse.sh"), env, [], { pathFirst: [yqDir()] });
    outcome.status = parse.status;
    outcome.stdout = parse.stdout;
    outcome.stderr = parse.stderr;
    if (parse.status === 0) {
        const resolve = runScript(path.join(SCRIPTS, "resolve-stack.py"), env);
        outcome.status = resolve.status;
        outcome.stdout += resolve.stdout;
        outcome.stderr += resolve.stderr;
    }
    for (const f of fs.readdirSync(resultsDir)) outcome.results[f] = fs.readFileSync(path.join(resultsDir, f), "utf8");
    const graphFile = path.join(workspace, ".tekton-dag", "runs", runId, "stack.json");
    if (fs.existsSync(graphFile)) outcome.graph = JSON.parse(fs.readFileSync(graphFile, "utf8"));
    return outcome;
}

/**
 * Reads an `@path@sha256:<hex>` value relative to the workspace and checks the digest, as lib-common.sh's
 * read_value does.
 */
export function readAt(workspace: string, value: string): string {
    const m = /^@(.+)@sha256:([0-9a-f]{64})$/.exec(value);
    if (!m) throw new Error(`not a pinned @path value: ${value}`);
    const text = fs.readFileSync(path.join(workspace, m[1]), "utf8");
    if (sha256(text) !== m[2]) throw new Error(`${m[1]} does not match the digest in ${value}`);
    return text;
}

export function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * A 40-app stack: app-00 is the originator; each app i calls i+1 and i+5 (when they exist), so the graph
 * has long chains and shared children. Names are long on purpose (the result budget test).
 */
export function fortyAppStack(): string {
    const name = (i: number) => `service-number-${String(i).padStart(2, "0")}-with-a-long-descriptive-name`;
    const tools = ["npm", "maven", "gradle", "pip", "composer"];
    const lines = [
        "# Generated by test/flow/helpers.ts fortyAppStack(): 40 apps, app i calls i+1 and i+5.",
        "name: forty-apps",
        "propagation:",
        "  header-name: x-dev-session",
        "defaults:",
        "  namespace: staging",
        '  service-port: "80"',
        '  container-port: "8080"',
        "apps:",
    ];
    for (let i = 0; i < 40; i++) {
        const down = [i + 1, i + 5].filter((j) => j < 40).map(name);
        lines.push(
            `  - name: ${name(i)}`,
            `    repo: example-org/${name(i)}`,
            `    role: ${i === 0 ? "frontend" : "middleware"}`,
            `    propagation-role: ${i === 0 ? "originator" : down.length ? "forwarder" : "terminal"}`,
            "    build:",
            `      tool: ${tools[i % tools.length]}`,
            `    downstream: [${down.join(", ")}]`,
            "    tests:",
            `      postman: tests/postman/${name(i)}.json`,
        );
    }
    return lines.join("\n") + "\n";
}

/**
 * A generated stack of `count` apps named app-0000...: a "chain" (each app calls the next) or a "fan-out"
 * (app-0000 calls every other app). `cycleBack` adds an edge from the last app to that app, closing a cycle.
 */
export function largeStack(count: number, shape: "chain" | "fan-out", cycleBack?: number): string {
    const name = (i: number) => `app-${String(i).padStart(4, "0")}`;
    const lines = ["name: large", "propagation:", "  header-name: x-dev-session", "apps:"];
    for (let i = 0; i < count; i++) {
        let down: number[] = shape === "chain" ? (i + 1 < count ? [i + 1] : [])
            : (i === 0 ? Array.from({ length: count - 1 }, (_, j) => j + 1) : []);
        if (cycleBack !== undefined && i === count - 1) down = [...down, cycleBack];
        lines.push(`  - name: ${name(i)}`, `    repo: example-org/${name(i)}`, "    build: {tool: npm}",
            `    downstream: [${down.map(name).join(", ")}]`);
    }
    return lines.join("\n") + "\n";
}

/**
 * The bytes a step's results take in its termination message as Tekton writes it: a JSON list of
 * {key, value, type} entries (results are type 1), plus the StartedAt entry the entrypoint adds.
 */
export function terminationMessageBytes(results: Record<string, string>): number {
    const entries: Array<{ key: string; value: string; type: number }> = Object.entries(results)
        .map(([key, value]) => ({ key, value, type: 1 }));
    entries.push({ key: "StartedAt", value: "2026-12-01T20:00:00.000Z", type: 3 });
    // Go's json.Marshal writes each of < > & as a six-byte \u escape.
    const json = JSON.stringify(entries);
    return Buffer.byteLength(json) + 5 * (json.match(/[<>&]/g)?.length ?? 0);
}

export function writeFile(file: string, text: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
}
