/**
 * Runs scripts/pulumi-run.ts, the project's Automation API runner, as a user would: a child process with the
 * real Pulumi engine (scripts/pulumi-engine.sh provides it). KUBECONFIG points nowhere, so no test can reach
 * a cluster by accident.
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { runProcessGroup } from "../support/processGroup";
import { REPO } from "../support/repo";

export interface RunResult {
    status: number | null;
    /** stdout and stderr, interleaved as far as the pipes allow. */
    out: string;
}

/** Longest one engine run may take; then the runner and everything it started (engine, plugins) are killed. */
export const RUN_TIMEOUT_MS = 15 * 60 * 1000;

export async function pulumiRun(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
    const res = await runProcessGroup(process.execPath, [path.join(REPO, "scripts", "compiled.js"), path.join(REPO, "scripts", "pulumi-run.ts"), ...args], {
        cwd: REPO,
        env: { ...process.env, KUBECONFIG: path.join(REPO, ".no-kubeconfig"), PULUMI_BACKEND_URL: "", ...env },
        timeoutMs: RUN_TIMEOUT_MS,
    });
    const timedOut = res.timedOut ? `\n[test] pulumi-run.ts ${args.join(" ")} killed after ${RUN_TIMEOUT_MS / 60000} minutes\n` : "";
    return { status: res.status, out: `${res.out}${timedOut}` };
}

/** Every Kubernetes object in the YAML files under dir (the provider's renderYamlToDirectory output). */
export function readManifests(dir: string): any[] {
    const objects: any[] = [];
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (/\.ya?ml$/.test(e.name)) {
                for (const doc of YAML.parseAllDocuments(fs.readFileSync(p, "utf8"))) {
                    const o = doc.toJS();
                    if (o && typeof o === "object" && o.kind) objects.push(o);
                }
            }
        }
    };
    walk(dir);
    return objects;
}

/** apiVersion/kind/namespace/name, the identity of an object in a cluster. */
export function objectKey(o: any): string {
    return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? "_cluster"}/${o.metadata?.name}`;
}
