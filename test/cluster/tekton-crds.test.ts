// The Tekton CRDs as scripts/cluster.sh loads them: no conversion webhook runs on the local control plane, so
// a CRD that Tekton's webhook converts serves its storage version only. Were the other versions served, the
// API server's watch cache of each would fail on every stored object and retry without end (measured: half
// the CPU of the Tekton tier's API server over a test run, and 60,000 logged errors), and a read at such a
// version could only fail.
import { strict as assert } from "node:assert";
import { adminOk, adminRequest, PIPELINES_NS } from "./harness";

/** The CRDs of Tekton Pipelines whose releases convert between versions with the webhook. */
const CONVERTED = ["tasks", "pipelines", "taskruns", "pipelineruns"].map((r) => `${r}.tekton.dev`);

describe("cluster: the Tekton CRDs serve their storage version only (no conversion webhook runs here)", function () {
    this.timeout(60_000);

    it("each CRD Tekton's webhook converts serves exactly its storage version, with no webhook conversion left", async () => {
        for (const name of CONVERTED) {
            const crd = await adminOk("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
            const versions = crd.spec.versions.map((v: any) => `${v.name}:${v.served ? "served" : "-"}:${v.storage ? "storage" : "-"}`);
            assert.ok(crd.spec.versions.length > 1, `${name} has one version only (${versions}); the test checks nothing`);
            assert.deepEqual(crd.spec.versions.filter((v: any) => v.served).map((v: any) => v.name), ["v1"], `${name}: ${versions}`);
            assert.equal(crd.spec.conversion?.strategy ?? "None", "None", `${name}: conversion ${JSON.stringify(crd.spec.conversion)}`);
        }
    });

    it("a Task written at v1 reads back at v1, and a read at v1beta1 is NotFound (not a failed conversion)", async () => {
        const name = `crd-check-${process.pid}`;
        const path = `/apis/tekton.dev/v1/namespaces/${PIPELINES_NS}/tasks`;
        await adminOk("POST", path, {
            apiVersion: "tekton.dev/v1", kind: "Task", metadata: { name, namespace: PIPELINES_NS },
            spec: { steps: [{ name: "s", image: "registry.local:5000/none@sha256:" + "0".repeat(64), script: "true" }] },
        });
        try {
            assert.equal((await adminOk("GET", `${path}/${name}`)).metadata.name, name);
            // With v1beta1 served and no webhook, this answers 500 "conversion webhook ... failed".
            const old = await adminRequest("GET", `/apis/tekton.dev/v1beta1/namespaces/${PIPELINES_NS}/tasks`);
            assert.equal(old.status, 404, `GET tekton.dev/v1beta1 tasks: HTTP ${old.status}: ${old.text.slice(0, 300)}`);
        } finally {
            await adminRequest("DELETE", `${path}/${name}`);
        }
    });
});
