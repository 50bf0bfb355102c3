// The real-API tests: run with the local control plane up (bash scripts/cluster.sh start); they fail,
// never skip, when it is not. pulumi-up.test.ts also needs the real Pulumi engine (scripts/pulumi-engine.sh):
// without it, it skips saying why, except under CI=true, where it fails.
//
// TEKTON_DAG_CLUSTER_TESTS picks a part, so that the test command can run the parts side by side, each on a
// control plane of its own (the tier waits on scripts' leases and watches a good part of its time):
//   intercepts   test/cluster/intercepts (the intercept scripts: deploys, locks, cleanup, sweeper)
//   others       everything else (isolation, RBAC, pulumi up, flow, pipelines, the harness's own checks)
//   unset        all of them
"use strict";
const ALL = "test/cluster/**/*.test.ts";
const INTERCEPTS = "test/cluster/intercepts/**";
const PARTS = {
    intercepts: { spec: `${INTERCEPTS}/*.test.ts`, ignore: [] },
    others: { spec: ALL, ignore: [INTERCEPTS] },
    "": { spec: ALL, ignore: [] },
};
const part = process.env.TEKTON_DAG_CLUSTER_TESTS ?? "";
if (!Object.hasOwn(PARTS, part)) {
    throw new Error(`TEKTON_DAG_CLUSTER_TESTS must be one of: intercepts, others (or unset for all); got '${part}'`);
}

module.exports = {
    require: "ts-node/register/transpile-only",
    spec: PARTS[part].spec,
    ignore: PARTS[part].ignore,
    timeout: 600000,
    reporter: "spec",
    // A test that timed out must not leave mocha waiting on its handles.
    exit: true,
};
