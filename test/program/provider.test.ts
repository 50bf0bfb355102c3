import { strict as assert } from "node:assert";
import { renderStack } from "../../scripts/mocks/render";

/** The inputs of the program's explicit kubernetes provider, rendered with KUBECONFIG set to `kubeconfig`. */
async function providerInputs(overrides: Record<string, string>, kubeconfig: string): Promise<any> {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kubeconfig;
    try {
        const providers = (await renderStack({ overrides })).filter((r) => r.type === "pulumi:providers:kubernetes");
        assert.equal(providers.length, 1, "one explicit kubernetes provider");
        return providers[0].inputs;
    } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
    }
}

describe("the kubernetes provider", () => {
    // The provider's CheckConfig refuses a non-empty kubeconfig beside renderYamlToDirectory, and the SDK
    // fills an unset kubeconfig in from $KUBECONFIG: a render stack failed in any shell that had it set.
    it("gets no kubeconfig from $KUBECONFIG when it renders YAML instead of applying", async () => {
        const inputs = await providerInputs({ renderYamlToDirectory: ".render/x", buildImages: "false", mirrordImage: "m:1", telepresenceImage: "t:1" }, "/home/dev/.kube/config");
        assert.equal(inputs.renderYamlToDirectory, ".render/x");
        assert.ok(!inputs.kubeconfig, `kubeconfig is ${JSON.stringify(inputs.kubeconfig)}`);
    });

    it("still takes the cluster from $KUBECONFIG when it applies", async () => {
        const inputs = await providerInputs({ kubeContext: "kind-kind" }, "/home/dev/.kube/config");
        assert.equal(inputs.kubeconfig, "/home/dev/.kube/config");
        assert.equal(inputs.context, "kind-kind");
        assert.equal(inputs.renderYamlToDirectory, undefined);
    });
});
