import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { InlineProgramArgs, OutputMap } from "@pulumi/pulumi/automation";

/** What the engine reported about one operation, read from its event log. */
export interface OperationReport {
    /** The resource changes of the operation's last step (the update of an `up`, the preview of a `preview`). */
    changes: Record<string, number>;
    /** The stack's outputs after an update, as the engine logs them (secrets as "[secret]"); empty for a preview. */
    outputs: OutputMap;
}

/** The pieces of the pinned @pulumi/pulumi that host an inline program (see loadLanguageHost). */
export interface LanguageHost { grpc: any; LanguageServer: any; langrpc: any; channelOptions: any }

/**
 * Loads the language server of the @pulumi/pulumi this repository pins (automation/server, which the package
 * does not declare in its types) and the gRPC module the SDK itself loads (the service definitions belong to
 * that instance). A small part of the SDK: the program, and with it the rest of the SDK, loads while the engine
 * starts the policy analyzer (see onPluginsAsked below).
 */
export function loadLanguageHost(): LanguageHost {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    try {
        const host: LanguageHost = {
            grpc: require(require.resolve("@grpc/grpc-js", { paths: [sdk] })),
            LanguageServer: require(path.join(sdk, "automation", "server")).LanguageServer,
            langrpc: require(path.join(sdk, "proto", "language_grpc_pb")),
            channelOptions: require(path.join(sdk, "runtime", "settings")).grpcChannelOptions,
        };
        if (typeof host.LanguageServer !== "function" || !host.langrpc.LanguageRuntimeService) throw new Error("unexpected module shape");
        return host;
    } catch (err) {
        const version = JSON.parse(fs.readFileSync(path.join(sdk, "package.json"), "utf8")).version;
        throw new Error(`@pulumi/pulumi ${version} in ${sdk} has no language server where this runner looks for it ` +
            `(automation/server, proto/language_grpc_pb: ${(err as Error).message}); the runner is written for the version package.json pins`);
    }
}

/**
 * Runs one CLI operation (`preview`, `up --yes`, `up --yes --skip-preview`) of the stack with its program
 * hosted in this process, the way Automation's Stack.preview and Stack.up host an inline program, but
 * without the CLI calls Automation makes around it: `stack select` before (the caller makes sure the stack
 * exists, ensureStack.ts), `stack output` twice and `stack history` after an up. The changes and
 * outputs come from the engine's own event log instead. On two cores that is about a second per operation.
 *
 * An `up` without --skip-preview is the CLI's own preview followed by the update in one process: a
 * stack the policy pack rejects fails in that preview, before anything is written or applied.
 */
export async function inlineOperation(options: {
    host: LanguageHost;
    program: InlineProgramArgs["program"];
    cli: string;
    stack: string;
    workDir: string;
    envVars: Record<string, string>;
    /** The operation and its flags, e.g. ["up", "--yes"]. */
    args: string[];
    onOutput: (out: string) => void;
    onError: (err: string) => void;
    /**
     * Called once the engine has asked the program for its plugins, the last thing it asks before it starts
     * the policy analyzer (most of a second, in a process of its own) and then runs the program: work done here
     * (loading the program's modules) overlaps with the analyzer's start instead of following it.
     */
    onPluginsAsked?: () => void;
}): Promise<OperationReport> {
    const { grpc, LanguageServer, langrpc, channelOptions } = options.host;
    const server = new grpc.Server({ ...channelOptions });
    const languageServer = new LanguageServer(options.program);
    const { onPluginsAsked } = options;
    if (onPluginsAsked) {
        const answer = languageServer.getRequiredPlugins.bind(languageServer);
        languageServer.getRequiredPlugins = (call: unknown, callback: unknown) => {
            // Once the answer's HTTP/2 stream has closed, i.e. the engine has it: a synchronous load any earlier
            // holds the answer back (grpc-js sends its status in a later turn of the event loop).
            httpStream(call)?.once("close", () => setImmediate(onPluginsAsked));
            answer(call, callback);
        };
    }
    server.addService(langrpc.LanguageRuntimeService, languageServer);
    const port: number = await new Promise((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))));
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-run-events-"));
    const eventLog = path.join(logDir, "events.jsonl");
    let failed = true;
    try {
        await runPulumi(options.cli, [...options.args, `--client=127.0.0.1:${port}`, "--exec-kind", "auto.inline",
            "--stack", options.stack, "--non-interactive", "--event-log", eventLog], options);
        failed = false;
        return report(eventLog);
    } finally {
        languageServer.onPulumiExit(failed);
        server.forceShutdown();
        fs.rmSync(logDir, { recursive: true, force: true });
    }
}

/**
 * The HTTP/2 stream under a grpc-js server call: the innermost of its interceptor chain holds it (grpc-js
 * 1.14). Undefined if grpc-js is built otherwise; the program then loads when the engine runs it, as without
 * onPluginsAsked.
 */
function httpStream(call: unknown): { once: (event: "close", listener: () => void) => void } | undefined {
    let layer = (call as { call?: any })?.call;
    for (let depth = 0; layer && depth < 10; depth++, layer = layer.nextCall) {
        if (typeof layer.stream?.once === "function") return layer.stream;
    }
    return undefined;
}

/** The last summary's changes and the stack resource's outputs, from the engine's event log (one JSON event per line). */
function report(eventLog: string): OperationReport {
    let changes: Record<string, number> | undefined;
    let outputs: OutputMap = {};
    for (const line of fs.readFileSync(eventLog, "utf8").split("\n")) {
        if (!line.trim()) continue;
        const event = JSON.parse(line);
        if (event.summaryEvent) changes = event.summaryEvent.resourceChanges ?? {};
        const step = event.resOutputsEvent?.metadata;
        if (step?.type === "pulumi:pulumi:Stack" && step.new?.outputs) {
            outputs = Object.fromEntries(Object.entries(step.new.outputs).map(([k, v]) =>
                [k, { value: v, secret: v === "[secret]" }]));
        }
    }
    if (!changes) throw new Error("the engine's event log holds no summary of the operation");
    return { changes, outputs };
}

/** The CLI as Automation runs it: its own directory first on PATH (its bundled plugins), output streamed. */
export function runPulumi(cli: string, args: string[], options: { workDir: string; envVars: Record<string, string>;
    onOutput: (out: string) => void; onError: (err: string) => void }): Promise<void> {
    // PULUMI_DEBUG_COMMANDS: the CLI offers --event-log only then (Automation sets it too).
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.envVars, PULUMI_AUTOMATION_API: "true", PULUMI_DEBUG_COMMANDS: "true" };
    if (path.isAbsolute(cli)) env.PATH = `${path.dirname(cli)}:${options.envVars.PATH ?? process.env.PATH ?? ""}`;
    return new Promise((resolve, reject) => {
        const child = spawn(cli, args, { cwd: options.workDir, env, stdio: ["ignore", "pipe", "pipe"] });
        child.stdout.on("data", (d: Buffer) => options.onOutput(d.toString()));
        child.stderr.on("data", (d: Buffer) => options.onError(d.toString()));
        child.on("error", reject);
        // Named by its command words (`pulumi up`, `pulumi stack select`), without the flags.
        const flag = args.findIndex((a) => a.startsWith("-"));
        const command = (flag < 0 ? args : args.slice(0, flag)).join(" ");
        child.on("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`pulumi ${command} failed (exit ${code ?? signal})`))));
    });
}
