// The mirrord agent image reaches no container field of ours (the mirrord CLI starts the agent Job from the
// mirrord-agent-image param), so the images policy judges every declaration of that param.
import { strict as assert } from "node:assert";
import { imagesPolicy } from "../../policy/policies";
import * as fx from "./fixtures";

const MIRROR = "registry.corp.example/mirrors/metalbear-co/mirrord:3.250.0";

describe("policy: images covers the mirrord agent image (param mirrord-agent-image)", () => {
    function withAgentParam(kind: "task" | "pipeline", value: string | undefined) {
        const r = kind === "task" ? fx.task() : fx.find(fx.goodStack(), "kubernetes:tekton.dev/v1:Pipeline", "stack-pr-test");
        r.props.spec.params = [...(r.props.spec.params ?? []).filter((p: any) => p.name !== "mirrord-agent-image"),
            { name: "mirrord-agent-image", type: "string", ...(value === undefined ? {} : { default: value }) }];
        return r;
    }

    it("accepts a pinned agent image", async () => {
        assert.deepEqual(await fx.validateResource(imagesPolicy, withAgentParam("task", MIRROR)), []);
        assert.deepEqual(await fx.validateResource(imagesPolicy, withAgentParam("pipeline", `r.example/m@sha256:${"d".repeat(64)}`)), []);
    });

    for (const [what, value] of [["a :latest", "ghcr.io/metalbear-co/mirrord:latest"], ["an untagged", "ghcr.io/metalbear-co/mirrord"]] as const) {
        for (const kind of ["task", "pipeline"] as const) {
            it(`rejects ${what} agent image in a ${kind}, naming the param`, async () => {
                const found = await fx.validateResource(imagesPolicy, withAgentParam(kind, value));
                assert.equal(found.length, 1, JSON.stringify(found));
                assert.match(found[0], /\.params\[\d+\] \(mirrord-agent-image\) defaults to ".*", which is not pinned; pin it with a digest/);
            });
        }
    }

    it("rejects an agent image param without a default (chosen at run time, unseen)", async () => {
        for (const value of [undefined, ""]) {
            const found = await fx.validateResource(imagesPolicy, withAgentParam("task", value));
            assert.equal(found.length, 1, JSON.stringify(found));
            assert.match(found[0], /\(mirrord-agent-image\) has no default/);
        }
    });
});
