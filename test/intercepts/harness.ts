// Runs a tekton/scripts file with an environment and the recorded fakes (kubectl, mirrord, telepresence)
// first on PATH, and returns what it printed and every call it made to them.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");
export const SCRIPTS = path.join(REPO, "tekton", "scripts");
export const FAKE_BIN = path.join(__dirname, "fakes", "bin");
export const RUN_ID = "0f8e6c1a-3b2d-4c5e-9f70-1a2b3c4d5e6f";
export const OTHER_RUN_ID = "9a9b9c9d-1111-4222-8333-444455556666";

export interface Rule {
    cmd: "kubectl" | "mirrord" | "telepresence";
    match: string;
    stdout?: string | object;
    stderr?: string;
    exit?: number;
    times?: number;
}

export interface Call {
    cmd: string;
    argv: string[];
    stdin: string;
}

export interface Result {
    status: number | null;
    stdout: string;
    stderr: string;
    calls: Call[];
    dir: string;
}

export function tempDir(prefix = "intercepts-"): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function fakeEnv(dir: string, rules: Rule[]): Record<string, string> {
    fs.writeFileSync(path.join(dir, "rules.json"), JSON.stringify(rules));
    fs.rmSync(path.join(dir, "calls.jsonl"), { force: true });
    fs.rmSync(path.join(dir, "state.json"), { force: true });
    return { FAKE_DIR: dir, PATH: `${FAKE_BIN}:${process.env.PATH}` };
}

export function readCalls(dir: string): Call[] {
    const file = path.join(dir, "calls.jsonl");
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

export function runScript(script: string, env: Record<string, string>, rules: Rule[] = [], dir = tempDir()): Result {
    const res = spawnSync("bash", [path.join(SCRIPTS, script)], {
        env: { HOME: process.env.HOME ?? "/tmp", ...fakeEnv(dir, rules), ...env },
        encoding: "utf8",
        input: "",
        timeout: 60_000,
    });
    return { status: res.status, stdout: res.stdout, stderr: res.stderr, calls: readCalls(dir), dir };
}

/** Objects the script sent to `kubectl create -f -`. */
export function created(calls: Call[]): any[] {
    return calls.filter((c) => c.cmd === "kubectl" && c.argv[0] === "create" && c.stdin).map((c) => JSON.parse(c.stdin));
}

/** The value of a flag such as -l in one argv. */
export function flag(argv: string[], name: string): string | undefined {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
}
