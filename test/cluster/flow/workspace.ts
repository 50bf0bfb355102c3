// The shared workspace as the PR-flow tasks find it: values handed on as `@path@sha256:<hex>` references
// (lib-common.sh read_value checks the digest).
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Writes `text` to `relPath` in the workspace and returns its reference, as resolve-stack reports one. */
export function pinValue(workspace: string, relPath: string, text: string): string {
    const file = path.join(workspace, relPath);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return `@${relPath}@sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/** Writes a file, making its directory. */
export function writeFile(file: string, text: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
}
