import * as fs from "fs";
import * as path from "path";
import { fileURLToPath } from "url";
import { PROJECT } from "../../lib/config";
import { runPulumi } from "./inlineOperation";

/**
 * Makes sure the stack exists in its backend before an operation names it with --stack. In a local (file://)
 * backend that already holds the stack's state file nothing runs; otherwise `pulumi stack select --create`
 * does, as Automation's createOrSelectStack would (a fifth of a second on two cores, saved on every later run).
 */
export async function ensureStack(options: { cli: string; stack: string; workDir: string; envVars: Record<string, string>; backend: string }): Promise<void> {
    if (options.backend.startsWith("file://")) {
        const stacks = path.join(fileURLToPath(options.backend), ".pulumi", "stacks", PROJECT);
        if ([".json", ".json.gz"].some((ext) => fs.existsSync(path.join(stacks, `${options.stack}${ext}`)))) return;
    }
    let stderr = "";
    await runPulumi(options.cli, ["stack", "select", "--create", "--stack", options.stack, "--non-interactive"], {
        workDir: options.workDir, envVars: options.envVars, onOutput: () => undefined, onError: (err) => { stderr += err; },
    }).catch((err: Error) => {
        throw new Error(`${err.message}:\n${stderr.trim()}`);
    });
}
