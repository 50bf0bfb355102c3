import { spawnSync } from "child_process";
import * as path from "path";
import { REPO_ROOT } from "../../lib/tektonSources";

/** The Pulumi engine scripts/pulumi-engine.sh provides: the CLI and the environment its plugins need. */
export interface Engine {
    /** Path of the `pulumi` CLI. */
    cli: string;
    /** Environment for the CLI: PATH with the plugin directories first, PULUMI_* settings. */
    env: Record<string, string>;
}

/**
 * Gets the engine through scripts/pulumi-engine.sh: an installed Pulumi when there is one, else the cached
 * build, else a build from the Go module proxy (its progress goes to our stderr, since the first one is long).
 */
export function provideEngine(): Engine {
    const script = path.join(REPO_ROOT, "scripts", "pulumi-engine.sh");
    const res = spawnSync("bash", [script, "--env-lines"], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    if (res.status !== 0) {
        throw new Error(`scripts/pulumi-engine.sh could not provide the Pulumi engine (exit ${res.status ?? res.signal}; see above)`);
    }
    const env: Record<string, string> = {};
    for (const line of res.stdout.split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (!env.TEKTON_DAG_PULUMI) throw new Error("scripts/pulumi-engine.sh printed no TEKTON_DAG_PULUMI");
    return { cli: env.TEKTON_DAG_PULUMI, env };
}
