import * as k8s from "@pulumi/kubernetes";
import { TektonDagStack } from "../components/tektonDagStack";
import { StackConfig } from "./config";

/** The program proper, shared by index.ts (real engine) and lib/render.ts (mocks). */
export function deploy(config: StackConfig): TektonDagStack {
    const provider = new k8s.Provider("k8s", {
        context: config.kubeContext || undefined,
        renderYamlToDirectory: config.renderYamlToDirectory || undefined,
    });
    return new TektonDagStack("tekton-dag", config, { providers: { kubernetes: provider } });
}
