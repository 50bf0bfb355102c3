/**
 * Runs a command as the leader of its own process group and, past a deadline, kills the whole group.
 * Long engine runs start pulumi, its language host, the Kubernetes provider and the policy analyzer; a
 * synchronous spawn cannot be interrupted by mocha and a timeout on the direct child leaves its descendants
 * behind, so CI would hang or leak processes.
 */
import { spawn, SpawnOptions } from "child_process";

export interface GroupResult {
    status: number | null;
    signal: NodeJS.Signals | null;
    /** stdout and stderr, interleaved as far as the pipes allow. */
    out: string;
    /** The deadline passed and the group was killed. */
    timedOut: boolean;
}

/** Process groups still running, killed if the test process exits first (mocha's exit: true). */
const running = new Set<number>();
process.on("exit", () => {
    for (const pgid of running) killGroup(pgid, "SIGKILL");
});

function killGroup(pgid: number, signal: NodeJS.Signals): void {
    try {
        process.kill(-pgid, signal);
    } catch {
        // ESRCH: the group is already gone.
    }
}

/**
 * Resolves when the command exits. After timeoutMs the group gets SIGTERM, then SIGKILL graceMs later;
 * the result then has timedOut set (and the output so far).
 */
export function runProcessGroup(command: string, args: string[], options: SpawnOptions & { timeoutMs: number; graceMs?: number }): Promise<GroupResult> {
    const { timeoutMs, graceMs = 10_000, ...spawnOptions } = options;
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { ...spawnOptions, detached: true, stdio: ["ignore", "pipe", "pipe"] });
        if (child.pid === undefined) {
            child.once("error", reject);
            return;
        }
        const pgid = child.pid;
        running.add(pgid);
        let out = "";
        child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
        child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
        let timedOut = false;
        let hard: NodeJS.Timeout | undefined;
        const soft = setTimeout(() => {
            timedOut = true;
            killGroup(pgid, "SIGTERM");
            hard = setTimeout(() => killGroup(pgid, "SIGKILL"), graceMs);
        }, timeoutMs);
        child.once("error", (e) => {
            clearTimeout(soft);
            running.delete(pgid);
            reject(e);
        });
        // Descendants that outlive the leader (a provider the engine left behind) go with it; they may hold
        // the output pipes open, so "close" would otherwise wait for them.
        child.once("exit", () => killGroup(pgid, "SIGKILL"));
        child.once("close", (status, signal) => {
            clearTimeout(soft);
            if (hard) clearTimeout(hard);
            running.delete(pgid);
            resolve({ status, signal, out, timedOut });
        });
    });
}
