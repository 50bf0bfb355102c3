import { spawn } from "child_process";
import * as path from "path";
import { REPO_ROOT } from "../../lib/tektonSources";

/** The Pulumi engine scripts/pulumi-engine.sh provides: the CLI and the environment its plugins need. */
export interface Engine {
    /** Path of the `pulumi` CLI. */
    cli: string;
    /** Its version (scripts/pulumi-engine.sh checked it: the one package.json pins). */
    version: string;
    /** Environment for the CLI: PATH with the plugin directories first, PULUMI_* settings. */
    env: Record<string, string>;
}

/**
 * Gets the engine through scripts/pulumi-engine.sh: an installed Pulumi when there is one, else the cached
 * build, else a build from the Go module proxy (its progress goes to our stderr, since the first one is long).
 * Asynchronous, so the caller can load the program and the SDKs meanwhile (the check takes a few tenths of
 * a second warm).
 */
export function provideEngine(): Promise<Engine> {
    const script = path.join(REPO_ROOT, "scripts", "pulumi-engine.sh");
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [script, "--env-lines"], { stdio: ["ignore", "pipe", "inherit"] });
        let stdout = "";
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
        child.on("error", reject);
        child.on("close", (code, signal) => {
            if (code !== 0) {
                reject(new Error(`scripts/pulumi-engine.sh could not provide the Pulumi engine (exit ${code ?? signal}; see above)`));
                return;
            }
            const env: Record<string, string> = {};
            for (const line of stdout.split("\n")) {
                const eq = line.indexOf("=");
                if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
            }
            if (!env.TEKTON_DAG_PULUMI || !env.TEKTON_DAG_PULUMI_VERSION) reject(new Error("scripts/pulumi-engine.sh printed no TEKTON_DAG_PULUMI(_VERSION)"));
            else resolve({ cli: env.TEKTON_DAG_PULUMI, version: env.TEKTON_DAG_PULUMI_VERSION, env });
        });
    });
}
