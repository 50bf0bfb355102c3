/**
 * npm run manifests -- --stack kind --out DIR [--set key=value ...]
 *
 * Writes every Kubernetes object the program would apply for a stack's config, without a cluster:
 * DIR/<namespace or _cluster>/<Kind>-<name>.yaml, plus DIR/resources.json with every registered resource
 * (including the ones that are not plain objects: the image build, Tekton's release manifests, Helm charts).
 */
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { ConfigError } from "../lib/config";
import { kubernetesObjects, renderStack } from "./mocks/render";

interface Args {
    stack?: string;
    out: string;
    overrides: Record<string, string>;
}

const USAGE = "usage: npm run manifests -- [--stack NAME] --out DIR [--set key=value ...]";

function parseArgs(argv: string[]): Args {
    const args: Args = { out: "", overrides: {} };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = argv[i + 1];
        if (flag === "--help" || flag === "-h") {
            console.log(USAGE);
            process.exit(0);
        }
        if (!["--stack", "--out", "--set"].includes(flag)) throw new Error(`unknown argument ${JSON.stringify(flag)}; ${USAGE}`);
        if (value === undefined) throw new Error(`${flag} needs a value; ${USAGE}`);
        i++;
        if (flag === "--stack") args.stack = value;
        else if (flag === "--out") args.out = value;
        else {
            const eq = value.indexOf("=");
            if (eq <= 0) throw new Error(`--set takes key=value; got ${JSON.stringify(value)}`);
            args.overrides[value.slice(0, eq)] = value.slice(eq + 1);
        }
    }
    if (!args.out) throw new Error(`--out is required; ${USAGE}`);
    return args;
}

/** The file an object is written to: one folder per namespace, `_cluster` for cluster-scoped ones. */
export function manifestPath(obj: any): string {
    const folder = obj.metadata?.namespace ?? "_cluster";
    return path.join(folder, `${obj.kind}-${obj.metadata?.name}.yaml`);
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const resources = await renderStack({ stack: args.stack, overrides: args.overrides });
    const objects = kubernetesObjects(resources);

    fs.rmSync(args.out, { recursive: true, force: true });
    const counts = new Map<string, number>();
    for (const obj of objects) {
        const file = path.join(args.out, manifestPath(obj));
        if (fs.existsSync(file)) throw new Error(`two objects would be written to ${file}: ${obj.kind} ${obj.metadata?.name}`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, YAML.stringify(obj, { lineWidth: 0 }));
        counts.set(obj.kind, (counts.get(obj.kind) ?? 0) + 1);
    }
    fs.writeFileSync(path.join(args.out, "resources.json"), JSON.stringify(resources, null, 2));

    const stack = args.stack ?? "(defaults)";
    console.log(`stack ${stack}: ${objects.length} Kubernetes objects and ${resources.length} resources written to ${args.out}`);
    for (const [kind, n] of [...counts.entries()].sort()) console.log(`  ${String(n).padStart(3)} ${kind}`);
}

main().catch((err) => {
    const message = err instanceof ConfigError ? err.message : `error: ${(err as Error).message}`;
    console.error(message);
    process.exit(1);
});
