/**
 * One run per stack state at a time. Two runs of one stack share its state directory and render output:
 * `--fresh` of the second deletes the state the first is writing. Pulumi's own lock lives inside that
 * directory, so it cannot guard the deletion; this one sits beside it (DIR.lock).
 *
 * The file is created exclusively and holds "pid N", "since ISO-TIME" and "command ..." lines, so the run
 * that finds it can name the holder; scripts/render.sh writes the same format. A lock whose pid is gone
 * (a killed run) is taken over.
 */
import * as fs from "fs";
import * as path from "path";

export interface LockHolder {
    pid: number;
    since: string;
    command: string;
}

export function lockFileFor(stateDir: string): string {
    return `${stateDir.replace(/\/+$/, "")}.lock`;
}

export function readHolder(file: string): LockHolder | undefined {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
    const field = (k: string) => new RegExp(`^${k} (.*)$`, "m").exec(text)?.[1] ?? "";
    return { pid: Number(field("pid")), since: field("since"), command: field("command") };
}

/** True when pid is this process's parent, grandparent, ... (scripts/render.sh runs us through npx). */
function isAncestor(pid: number): boolean {
    let p = process.ppid;
    for (let depth = 0; p > 1 && depth < 16; depth++) {
        if (p === pid) return true;
        try {
            // /proc/P/stat: "P (comm) state PPID ..."; comm may hold spaces or parentheses.
            const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
            p = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        } catch {
            return false;
        }
    }
    return false;
}

/** True while a process with this pid exists, also one of another user (signal 0 only checks). */
export function processAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Takes the lock for stack `stack` (state directory stateDir) or throws naming the run that holds it.
 * A lock held by an ancestor of this process (scripts/render.sh, which took it before emptying the output
 * directory) counts as ours. Returns the release function; it also runs when the process exits.
 */
export function lockStack(stack: string, stateDir: string, command: string): () => void {
    const file = lockFileFor(stateDir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            fs.writeFileSync(file, `pid ${process.pid}\nsince ${new Date().toISOString()}\ncommand ${command}\n`, { flag: "wx" });
            let held = true;
            const release = () => {
                if (!held) return;
                held = false;
                if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
            };
            process.once("exit", release);
            return release;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const holder = readHolder(file);
        if (holder && isAncestor(holder.pid)) return () => undefined;
        if (holder && processAlive(holder.pid)) {
            throw new Error(`stack ${stack} is in use by another run: pid ${holder.pid} since ${holder.since} (${holder.command}); ` +
                `wait for it to finish, or stop it (its lock is ${file})`);
        }
        // The holder is gone: its lock is stale.
        fs.rmSync(file, { force: true });
    }
    throw new Error(`could not take the lock ${file} for stack ${stack}; another run keeps taking it`);
}
