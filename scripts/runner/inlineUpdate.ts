import { spawn } from "child_process";
import * as path from "path";
import { InlineProgramArgs, PulumiCommand, Stack } from "@pulumi/pulumi/automation";

/**
 * `pulumi up --yes --skip-preview` of the stack's inline program, as Automation's Stack.up runs it, without
 * the three CLI calls Stack.up makes after the update (two `stack output`, one `stack history`: about a
 * second on two cores, a fifth of a warm render). The engine's own output already shows the changes and
 * the outputs, so a fresh render does not need them again.
 *
 * It hosts the program the way Stack.up does, with the language server of the @pulumi/pulumi this
 * repository pins (automation/server, which the package does not declare in its types). Where that is
 * missing (another SDK version laid out differently) it says so and returns false: the caller then runs
 * Stack.up, which only costs the second.
 */
export async function inlineUpdate(options: {
    stack: Stack;
    program: InlineProgramArgs["program"];
    pulumiCommand: PulumiCommand;
    workDir: string;
    envVars: Record<string, string>;
    args: string[];
    onOutput: (out: string) => void;
    onError: (err: string) => void;
    log: (line: string) => void;
}): Promise<boolean> {
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    let grpc: any, LanguageServer: any, langrpc: any, channelOptions: any;
    try {
        // The gRPC module the SDK itself loads: the service definitions belong to that instance.
        grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdk] }));
        ({ LanguageServer } = require(path.join(sdk, "automation", "server")));
        langrpc = require(path.join(sdk, "proto", "language_grpc_pb"));
        channelOptions = require(path.join(sdk, "runtime")).grpcChannelOptions;
        if (typeof LanguageServer !== "function" || !langrpc.LanguageRuntimeService) throw new Error("unexpected module shape");
    } catch (err) {
        options.log(`the direct update is not available with this @pulumi/pulumi (${(err as Error).message}); using Stack.up`);
        return false;
    }
    const server = new grpc.Server({ ...channelOptions });
    const languageServer = new LanguageServer(options.program);
    server.addService(langrpc.LanguageRuntimeService, languageServer);
    const port: number = await new Promise((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))));
    let failed = true;
    try {
        const args = ["up", "--yes", "--skip-preview", ...options.args, `--client=127.0.0.1:${port}`, "--exec-kind", "auto.inline",
            "--stack", options.stack.name, "--non-interactive"];
        await runCli(options.pulumiCommand.command, args, options.workDir, options.envVars, options.onOutput, options.onError);
        failed = false;
    } finally {
        languageServer.onPulumiExit(failed);
        server.forceShutdown();
    }
    return true;
}

/** The CLI as Automation runs it: its own directory first on PATH (its bundled plugins), output streamed. */
function runCli(cli: string, args: string[], cwd: string, envVars: Record<string, string>,
    onOutput: (out: string) => void, onError: (err: string) => void): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, ...envVars, PULUMI_AUTOMATION_API: "true" };
    if (path.isAbsolute(cli)) env.PATH = `${path.dirname(cli)}:${envVars.PATH ?? process.env.PATH ?? ""}`;
    return new Promise((resolve, reject) => {
        const child = spawn(cli, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        child.stdout.on("data", (d: Buffer) => onOutput(d.toString()));
        child.stderr.on("data", (d: Buffer) => onError(d.toString()));
        child.on("error", reject);
        child.on("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`pulumi ${args[0]} failed (exit ${code ?? signal})`))));
    });
}
