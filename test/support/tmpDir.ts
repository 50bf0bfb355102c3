import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const made: string[] = [];

/**
 * A fresh directory under the system temp dir, named tekton-dag-<prefix>-XXXXXX. Every one is recorded, so a
 * suite whose dirs hold secrets (the cluster tier's token kubeconfigs) can remove them: cleanTmpDirs.
 */
export function tmpDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tekton-dag-${prefix.replace(/-+$/, "")}-`));
    made.push(dir);
    return dir;
}

/**
 * Removes the tmpDirs made so far: all of them, or only those named. A test must name its own: other suites
 * made theirs at load time and still use them.
 */
export function cleanTmpDirs(only?: string[]): void {
    const doomed = only ? made.filter((d) => only.includes(d)) : made.slice();
    for (const dir of doomed) {
        fs.rmSync(dir, { recursive: true, force: true });
        made.splice(made.indexOf(dir), 1);
    }
}
