import { spawnSync, SpawnSyncReturns } from "child_process";
import * as path from "path";

export interface ScriptOptions {
    /** Run the file with this shell (`sh`, `bash`) instead of its own shebang. */
    shell?: string;
    cwd?: string;
    /** Written to the script's stdin; without it stdin is empty. */
    input?: string;
    /** Directories put first on PATH (stand-ins, a pinned tool), ahead of the PATH the script would get. */
    pathFirst?: string[];
}

/**
 * Runs a script as a Task step would, with the test's environment plus `env` (a value of undefined removes
 * that variable), and waits for it. Sync, so a test can use it where a plain function is needed (the
 * pipeline model's task outcomes); nothing the scripts call is served by this process.
 */
export function runScript(file: string, env: Record<string, string | undefined>, args: string[] = [], opts: ScriptOptions = {}): SpawnSyncReturns<string> {
    const scriptEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) scriptEnv[k] = v;
    if (opts.pathFirst?.length) scriptEnv.PATH = [...opts.pathFirst, scriptEnv.PATH ?? ""].join(path.delimiter);
    const cmd = opts.shell ? opts.shell : file;
    const argv = opts.shell ? [file, ...args] : args;
    // No cap on the output (spawnSync's default is 1 MiB): a long log must not read as a failed script.
    return spawnSync(cmd, argv, { env: scriptEnv, encoding: "utf8", cwd: opts.cwd, input: opts.input, maxBuffer: 256 * 1024 * 1024 });
}
