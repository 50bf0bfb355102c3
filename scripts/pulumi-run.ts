/**
 * pulumi-run: preview, up or destroy any stack of this project with the real Pulumi engine, no Pulumi
 * installation needed (scripts/pulumi-engine.sh provides one, building it the first time). The program runs
 * inline, hosted in this process as the Automation API hosts one (scripts/runner/inlineOperation.ts), and is
 * the same function index.ts runs (program.ts), so a stack behaves here exactly as under `pulumi up` with an
 * installed Pulumi. Each operation is one run of the CLI.
 *
 *   npm run -s pulumi-run -- <preview|up|destroy> --stack NAME [options]
 *   (= node scripts/compiled.js scripts/pulumi-run.ts ...: compiled ahead of time, not under ts-node)
 *
 *   preview   what would change; fails on a mandatory policy violation
 *   up        the CLI's up with its own preview first (policy pack on), then the update only if the preview
 *             passed: a stack the pack rejects changes nothing (no manifest written, nothing applied). A --fresh
 *             up of a stack that renders to files (renderYamlToDirectory) is one update into a staging
 *             directory instead, whose 0-crd/ and 1-manifest/ replace the output's only when the update passed
 *   destroy   deletes every resource of the stack
 *
 * Options:
 *   --stack NAME           the stack; its config is Pulumi.NAME.yaml in the repository root (required)
 *   --stack-file FILE      take the config from FILE instead (any path; the stack is still called NAME)
 *   --set KEY=VALUE        config on top of the stack file; KEY without a namespace means tekton-dag:KEY;
 *                          VALUE is read as YAML (true, 3, [a, b]); repeatable
 *   --state DIR            local state directory (default .pulumi-state/NAME); the stack's state is in
 *                          DIR/backend unless PULUMI_BACKEND_URL is set, and the CLI runs in DIR/work
 *   --fresh                empty the state directory first, so every resource is created again
 *
 * One run per state directory at a time: a second run of the stack fails naming the first (DIR.lock).
 *   --no-policy            without the policy pack (default: policy/, configured by policy/config.NAME.json
 *                          when that file exists)
 *   --policy-config FILE   configure the pack with FILE instead
 *
 * Environment: KUBECONFIG (and the stack's tekton-dag:kubeContext) choose the cluster, as for `pulumi up`;
 * PULUMI_BACKEND_URL another backend for the state; PULUMI_CONFIG_PASSPHRASE(_FILE) the stack's secrets
 * passphrase, required except for the project's local stacks (render, kind, local, and any stack whose config sets
 * renderYamlToDirectory), which default to the public "tekton-dag-local-render-only": it protects nothing.
 * NODE_OPTIONS reaches the engine and the policy analyzer as given, with a --require of
 * scripts/runner/deferredModules added (modules the Pulumi SDK loads but neither the program nor the pack uses
 * load only when used).
 *
 * Relative paths among the config values (renderYamlToDirectory) are relative to the repository root.
 * Exit status: 0 done; 1 the operation failed (config error, policy violation, engine error); 2 bad usage.
 */
// First: it defers modules the Pulumi SDK loads but never uses here, in this process and (nodeOptionsWithDeferral)
// in the policy analyzer the engine starts.
import { nodeOptionsWithDeferral } from "./runner/deferredModules";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import type { OutputMap } from "@pulumi/pulumi/automation";
import { PROJECT } from "../lib/config";
import { provideEngine } from "./runner/engine";
import { ensureStack } from "./runner/ensureStack";
import { inlineOperation, loadLanguageHost, OperationReport } from "./runner/inlineOperation";
import { compiledPolicyPack } from "./runner/policyPack";
import { lockStack } from "./runner/stackLock";
import { prepareWorkDir } from "./runner/workDir";
import { REPO_ROOT } from "../lib/tektonSources";

const OPERATIONS = ["preview", "up", "destroy"] as const;
type Operation = (typeof OPERATIONS)[number];
const USAGE = "usage: pulumi-run <preview|up|destroy> --stack NAME [--stack-file FILE] [--set KEY=VALUE ...] " +
    "[--state DIR] [--fresh] [--no-policy] [--policy-config FILE]";
const LOCAL_PASSPHRASE = "tekton-dag-local-render-only";
/**
 * Stacks of this repository that run locally (Pulumi.render.yaml writes files; Pulumi.kind.yaml targets kind;
 * Pulumi.local.yaml targets the test control plane of scripts/cluster.sh).
 */
const LOCAL_STACKS = ["render", "kind", "local"];

/** The stack's tekton-dag:renderYamlToDirectory (stack file, then --set), or "" when it applies to a cluster. */
function renderDirectory(args: Args, stackFile: string): string {
    const key = `${PROJECT}:renderYamlToDirectory`;
    let config: Record<string, unknown> = {};
    try {
        config = YAML.parse(fs.readFileSync(stackFile, "utf8"))?.config ?? {};
    } catch {
        // prepareWorkDir names an unreadable or missing stack file.
    }
    const dir = args.overrides[key] ?? args.overrides.renderYamlToDirectory ?? config[key];
    return typeof dir === "string" && dir !== "" ? path.resolve(REPO_ROOT, dir) : "";
}

/**
 * The public local passphrase, for a stack that holds nothing worth encrypting; any other stack must bring
 * its own (a secret encrypted with a passphrase printed in this file is not a secret).
 */
function localPassphrase(args: Args, stackFile: string): string {
    if (process.env.PULUMI_CONFIG_PASSPHRASE || process.env.PULUMI_CONFIG_PASSPHRASE_FILE) return "";
    if (renderDirectory(args, stackFile) || LOCAL_STACKS.includes(args.stack)) return LOCAL_PASSPHRASE;
    throw new Error(`stack ${args.stack} needs its secrets passphrase: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE ` +
        `(the built-in local passphrase is public, so it is used only for ${LOCAL_STACKS.join(", ")} and stacks that set ${PROJECT}:renderYamlToDirectory)`);
}

class UsageError extends Error {}

interface Args {
    operation: Operation;
    stack: string;
    stackFile?: string;
    overrides: Record<string, unknown>;
    state?: string;
    fresh: boolean;
    policy: boolean;
    policyConfig?: string;
}

function parseArgs(argv: string[]): Args {
    if (argv.includes("--help") || argv.includes("-h")) {
        // The source, not this file: compiled (scripts/compiled.js), this file starts with "use strict".
        const header = fs.readFileSync(path.join(REPO_ROOT, "scripts", "pulumi-run.ts"), "utf8").split("*/")[0];
        console.log(header.replace(/^\/\*\*\n/, "").replace(/^ \* ?/gm, ""));
        process.exit(0);
    }
    const [operation, ...rest] = argv;
    if (!OPERATIONS.includes(operation as Operation)) {
        throw new UsageError(`the first argument must be one of ${OPERATIONS.join(", ")}; got ${JSON.stringify(operation ?? "")}\n${USAGE}`);
    }
    const args: Partial<Args> & { overrides: Record<string, unknown> } = { operation: operation as Operation, overrides: {}, fresh: false, policy: true };
    for (let i = 0; i < rest.length; i++) {
        const flag = rest[i];
        const value = (): string => {
            const v = rest[++i];
            if (v === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
            return v;
        };
        switch (flag) {
            case "--stack": args.stack = value(); break;
            case "--stack-file": args.stackFile = value(); break;
            case "--state": args.state = value(); break;
            case "--policy-config": args.policyConfig = value(); break;
            case "--fresh": args.fresh = true; break;
            case "--no-policy": args.policy = false; break;
            case "--set": {
                const kv = value();
                const eq = kv.indexOf("=");
                if (eq <= 0) throw new UsageError(`--set takes KEY=VALUE; got ${JSON.stringify(kv)}`);
                args.overrides[kv.slice(0, eq)] = YAML.parse(kv.slice(eq + 1)) ?? "";
                break;
            }
            default: throw new UsageError(`unknown argument ${JSON.stringify(flag)}\n${USAGE}`);
        }
    }
    if (!args.stack) throw new UsageError(`--stack is required\n${USAGE}`);
    if (!/^[A-Za-z0-9_.-]+$/.test(args.stack)) throw new UsageError(`--stack must be letters, digits, _ . or -; got ${JSON.stringify(args.stack)}`);
    if (args.policyConfig && !args.policy) throw new UsageError("--policy-config and --no-policy exclude each other");
    return args as Args;
}

function log(message: string): void {
    console.log(`pulumi-run: ${message}`);
}

/** The policy pack arguments of the CLI, or none; a missing pack install is an error, never a silent skip. */
function policyOptions(args: Args): { args: string[]; note: string } {
    if (!args.policy) return { args: [], note: "policy pack: off (--no-policy)" };
    const pack = path.join(REPO_ROOT, "policy");
    if (!fs.existsSync(path.join(pack, "node_modules", "@pulumi", "policy"))) {
        throw new Error(`the policy pack's dependencies are not installed; run: npm ci --prefix ${path.relative(process.cwd(), pack) || "."} (or pass --no-policy)`);
    }
    const config = args.policyConfig ?? path.join(pack, `config.${args.stack}.json`);
    if (args.policyConfig && !fs.existsSync(config)) throw new Error(`--policy-config ${config}: no such file`);
    const configs = fs.existsSync(config) ? [path.resolve(config)] : [];
    return {
        args: ["--policy-pack", compiledPolicyPack(pack, log), ...configs.flatMap((c) => ["--policy-pack-config", c])],
        note: `policy pack: policy/ (compiled to policy/bin)${configs.length ? ` with ${path.relative(REPO_ROOT, configs[0])}` : ""}`,
    };
}

async function main(args: Args): Promise<void> {
    const state = path.resolve(args.state ?? path.join(REPO_ROOT, ".pulumi-state", args.stack));
    const stackFile = path.resolve(args.stackFile ?? path.join(REPO_ROOT, `Pulumi.${args.stack}.yaml`));
    const policy = args.operation === "destroy" ? { args: [], note: "no policy pack (destroy)" } : policyOptions(args);
    const passphrase = localPassphrase(args, stackFile);
    lockStack(args.stack, state, `pulumi-run ${process.argv.slice(2).join(" ")}`);
    if (args.fresh) fs.rmSync(state, { recursive: true, force: true });
    const workDir = path.join(state, "work");
    const render = args.operation === "up" && args.fresh ? stagedRender(renderDirectory(args, stackFile)) : undefined;
    const overrides = render ? { ...args.overrides, [`${PROJECT}:renderYamlToDirectory`]: render.staging } : args.overrides;
    prepareWorkDir({ workDir, stack: args.stack, stackFile, overrides });
    fs.mkdirSync(path.join(state, "backend"), { recursive: true });

    // The engine check runs in its own process while this one loads the part of the SDK that hosts the
    // program; the program itself, with the rest of the SDKs (most of a second, warm), loads while the engine
    // starts the policy analyzer (onPluginsAsked below).
    const enginePromise = provideEngine();
    enginePromise.catch(() => undefined); // handled at its await below, not an unhandled rejection meanwhile
    const host = loadLanguageHost();
    const engine = await enginePromise;
    // Plugins are found through the CLI's PATH, which it inherits from this process.
    Object.assign(process.env, engine.env);
    const backend = process.env.PULUMI_BACKEND_URL || `file://${path.join(state, "backend")}`;
    const envVars: Record<string, string> = { PULUMI_BACKEND_URL: backend };
    if (passphrase) envVars.PULUMI_CONFIG_PASSPHRASE = passphrase;
    const nodeOptions = nodeOptionsWithDeferral(process.env.NODE_OPTIONS);
    if (nodeOptions) envVars.NODE_OPTIONS = nodeOptions;
    // A fresh render's state is thrown away with its run: checkpoints after each resource would only cost time.
    if (render) envVars.PULUMI_SKIP_CHECKPOINTS = "true";

    log(`${args.operation} of stack ${args.stack} (config ${path.relative(process.cwd(), stackFile) || stackFile}` +
        `${Object.keys(args.overrides).length ? ` + ${Object.keys(args.overrides).map((k) => (k.includes(":") ? k : `${PROJECT}:${k}`)).join(", ")}` : ""}); ` +
        `pulumi ${engine.version} at ${engine.cli}; state ${backend}; ${policy.note}`);
    await ensureStack({ cli: engine.cli, stack: args.stack, workDir, envVars, backend });
    streamed = true;
    const start = Date.now();
    const took = () => `${((Date.now() - start) / 1000).toFixed(1)}s`;
    // One import for every operation; started while the engine starts the analyzer (onPluginsAsked), except
    // for a destroy, which never runs the program.
    let programModule: Promise<typeof import("../program")> | undefined;
    const loadProgram = () => (programModule ??= import("../program"));
    const preload = args.operation === "destroy" ? undefined : () => void loadProgram().catch(() => undefined);
    const operation = (cliArgs: string[]) => inlineOperation({
        host, program: async () => (await loadProgram()).tektonDagProgram(), onPluginsAsked: preload,
        cli: engine.cli, stack: args.stack, workDir, envVars,
        args: [...cliArgs, ...policy.args, "--color", "never", "--suppress-progress"],
        onOutput: (out: string) => process.stdout.write(out),
        onError: (err: string) => process.stderr.write(err),
    });

    if (args.operation === "destroy") {
        // No policy pack (see policy above): it judges what a stack would hold, and a destroyed stack holds nothing.
        const res = await operation(["destroy", "--yes", "--skip-preview"]);
        log(`destroy of stack ${args.stack} done in ${took()}: ${JSON.stringify(res.changes)}`);
        return;
    }
    if (args.operation === "preview") {
        const res = await operation(["preview"]);
        log(`preview of stack ${args.stack} passed in ${took()}: ${JSON.stringify(res.changes)}`);
        return;
    }
    if (render) {
        // One update without a preview: it writes only into the staging directory, and that becomes the output
        // only when the whole update passed the pack, so a rejected stack writes nothing.
        log(`fresh render: one update into ${path.relative(process.cwd(), render.staging)}, moved to ${path.relative(process.cwd(), render.dir)} when it passes`);
        let res: OperationReport;
        try {
            res = await operation(["up", "--yes", "--skip-preview"]);
        } catch (err) {
            fs.rmSync(render.staging, { recursive: true, force: true });
            throw err;
        }
        render.commit();
        log(`up of stack ${args.stack} done in ${took()}: ${JSON.stringify(res.changes)}`);
        logOutputs(res.outputs);
        return;
    }
    // `up --skip-preview` creates resources before stack policies run. The CLI's up with its own preview
    // (one process) stops a stack the pack rejects in that preview, before anything is written or applied.
    const res = await operation(["up", "--yes"]);
    log(`up of stack ${args.stack} done in ${took()}: ${JSON.stringify(res.changes)}`);
    logOutputs(res.outputs);
}

function logOutputs(outputs: OutputMap): void {
    log(`outputs: ${JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? "[secret]" : v.value])))}`);
}

/** The folders the kubernetes provider writes under renderYamlToDirectory: CRDs first, then the rest. */
const RENDER_FOLDERS = ["0-crd", "1-manifest"];

/**
 * Where a fresh render's update writes: a directory beside the output (so the final renames stay on one
 * filesystem). commit() replaces the output's provider folders with the staged ones; anything else in the
 * output directory is left alone, as the provider itself would. Undefined when the stack applies to a cluster.
 */
function stagedRender(dir: string): { dir: string; staging: string; commit: () => void } | undefined {
    if (!dir) return undefined;
    const staging = path.join(path.dirname(dir), `.${path.basename(dir)}.staging-${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    return {
        dir,
        staging,
        commit: () => {
            fs.mkdirSync(dir, { recursive: true });
            for (const folder of RENDER_FOLDERS) {
                fs.rmSync(path.join(dir, folder), { recursive: true, force: true });
                // A folder the update did not write (no CRDs, say) is then absent from the output too.
                if (fs.existsSync(path.join(staging, folder))) fs.renameSync(path.join(staging, folder), path.join(dir, folder));
            }
            fs.rmSync(staging, { recursive: true, force: true });
        },
    };
}

/** Set once the engine's output is streamed to ours; an error after that has been shown already. */
let streamed = false;
let parsed: Args;
try {
    parsed = parseArgs(process.argv.slice(2));
} catch (err) {
    console.error(`pulumi-run: ${(err as Error).message}`);
    process.exit(2);
}
main(parsed).catch((err) => {
    // Once the engine's output (config errors, policy violations) has been streamed, the runner's error only
    // repeats it.
    const message = String((err as Error).message ?? err).trim();
    const detail = streamed ? "(the engine's output above says why)" : `\n${message}`;
    console.error(`pulumi-run: ${parsed.operation} of stack ${parsed.stack} failed ${detail}`);
    process.exit(1);
});
