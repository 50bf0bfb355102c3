// lib/interceptLabel.ts's guards: the expression it builds is exercised through Tekton Triggers' own cel
// interceptor in deliveries.test.ts; here, the inputs it refuses.
import { strict as assert } from "node:assert";
import { INTERCEPT_BACKENDS } from "../../lib/config";
import { interceptBackendExpression } from "../../lib/interceptLabel";

describe("lib/interceptLabel.ts refuses what it cannot put into a CEL expression", () => {
    it("a default that is no backend, naming the allowed ones", () => {
        assert.throws(() => interceptBackendExpression("body.pull_request.labels", "istio"),
            new RegExp(`default intercept backend must be one of ${INTERCEPT_BACKENDS.join(", ")}; got "istio"`));
        assert.throws(() => interceptBackendExpression("body.pull_request.labels", "x' || true || '"), /must be one of/);
    });

    it("a labels path that is not a plain field path of the body", () => {
        for (const bad of ["pull_request.labels", "body.pull_request.labels + [1]", "body"]) {
            assert.throws(() => interceptBackendExpression(bad, "mirrord"), /labelsPath must be a field path like body\.pull_request\.labels/, bad);
        }
    });
});
