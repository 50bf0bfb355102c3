import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { TektonDagStack } from "./components/tektonDagStack";
import { ConfigError, StackConfig } from "./lib/config";
import { parseConfig } from "./lib/loadConfig";

// The program sits beside index.ts, above components/ and lib/: every import runs down (program → components
// → lib), so lib/ stays the floor the components, scripts and tests build on (test/program/layout.test.ts).

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

/**
 * Registers every resource for a parsed config: the Kubernetes provider and the stack component. Also called
 * on its own by scripts/mocks/render.ts, which parses the config itself and runs this under Pulumi mocks.
 */
export function deploy(config: StackConfig): TektonDagStack {
    const render = config.renderYamlToDirectory !== "";
    const provider = new k8s.Provider("k8s", {
        context: config.kubeContext || undefined,
        renderYamlToDirectory: render ? config.renderYamlToDirectory : undefined,
        // Left undefined, the SDK fills kubeconfig in from $KUBECONFIG, which the provider refuses beside
        // renderYamlToDirectory; "" counts as not set there, so a render stack works whatever the shell has.
        kubeconfig: render ? "" : undefined,
    });
    return new TektonDagStack("tekton-dag", config, { providers: { kubernetes: provider } });
}
