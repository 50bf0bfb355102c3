/**
 * Runs scripts/pulumi-run.ts, the project's Automation API runner, as a user would: a child process with the
 * real Pulumi engine (scripts/pulumi-engine.sh provides it). KUBECONFIG points nowhere, so no test can reach
 * a cluster by accident.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export const REPO = path.resolve(__dirname, "..", "..");

export interface RunResult {
    status: number | null;
    /** stdout and stderr, interleaved as far as the pipes allow. */
    out: string;
}

export function pulumiRun(args: string[], env: Record<string, string> = {}): RunResult {
    const res = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(REPO, "scripts", "pulumi-run.ts"), ...args], {
        cwd: REPO,
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, KUBECONFIG: path.join(REPO, ".no-kubeconfig"), PULUMI_BACKEND_URL: "", ...env },
    });
    return { status: res.status, out: `${res.stdout}${res.stderr}` };
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
