import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config";
import { parseConfig } from "./loadConfig";
import { deploy } from "./program";

/** The stack outputs, the same whichever way the program was started. */
export interface StackOutputs {
    pipelinesNamespace: string;
    interceptBackendDefault: string;
    mirrordImage: pulumi.Output<string>;
    telepresenceImage: pulumi.Output<string | undefined>;
    tasks: string[];
    pipelines: string[];
    eventListener: string;
}

/**
 * The whole Pulumi program: the stack's config, as the engine hands it over, parsed and checked, then every
 * resource registered. Both entry points call this and nothing else: index.ts (`pulumi up` with an installed
 * Pulumi) and the inline program of scripts/pulumi-run.ts (Automation API), so both run the same program.
 */
export function tektonDagProgram(allConfig: Record<string, string> = pulumi.runtime.allConfig()): StackOutputs {
    let config;
    try {
        config = parseConfig(allConfig);
    } catch (err) {
        // A RunError is shown as its message alone, without a stack trace that would hide the problems.
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
    const stack = deploy(config);
    return {
        pipelinesNamespace: stack.pipelinesNamespace,
        interceptBackendDefault: config.interceptBackend,
        mirrordImage: stack.mirrordImage,
        telepresenceImage: stack.telepresenceImage,
        tasks: stack.taskNames,
        pipelines: stack.pipelineNames,
        eventListener: stack.eventListenerName,
    };
}
