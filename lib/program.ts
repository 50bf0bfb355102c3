import * as k8s from "@pulumi/kubernetes";
import { TektonDagStack } from "../components/tektonDagStack";
import { StackConfig } from "./config";

/** The program proper, shared by index.ts (real engine) and lib/render.ts (mocks). */
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
