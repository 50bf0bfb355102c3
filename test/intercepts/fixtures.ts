// A small stack graph and the fake cluster's answers for a deploy that goes well.
import * as fs from "node:fs";
import * as path from "node:path";
import { Rule, RUN_ID } from "./harness";

export const STACK = {
    name: "stack-one",
    headerName: "x-dev-session",
    interceptHeaderValue: "x-dev-session: pr-42",
    entryApp: "demo-fe",
    order: ["demo-fe", "demo-api"],
    propagationChain: ["demo-fe", "demo-api"],
    buildApps: ["demo-fe", "demo-api"],
    apps: {
        "demo-fe": { name: "demo-fe", namespace: "staging", containerPort: 3000, servicePort: 80, readinessPath: "" },
        "demo-api": { name: "demo-api", namespace: "api-ns", containerPort: 8080, servicePort: 8080, readinessPath: "/healthz" },
    },
};

/** What containerize reports: <image-registry>/<app>@sha256:<digest>, one per build app. */
export const IMAGE_REGISTRY = "registry.local:5000/pr";
export const IMAGES = {
    "demo-fe": `${IMAGE_REGISTRY}/demo-fe@sha256:${"a1".repeat(32)}`,
    "demo-api": `${IMAGE_REGISTRY}/demo-api@sha256:${"b2".repeat(32)}`,
};

export const DEPLOYMENT = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "demo-fe" },
    spec: {
        selector: { matchLabels: { app: "demo-fe" } },
        template: {
            metadata: { labels: { app: "demo-fe" } },
            spec: {
                containers: [{
                    name: "web",
                    image: "registry.local/demo-fe:1.0",
                    // One template stands in for both apps' Deployments, so it declares both apps' ports.
                    ports: [{ containerPort: 3000 }, { containerPort: 8080 }],
                    env: [{ name: "API_URL", value: "http://demo-api.api-ns" }],
                }],
            },
        },
    },
};

export const READY_POD = {
    status: { phase: "Running", podIP: "10.1.2.3", conditions: [{ type: "Ready", status: "True" }] },
};

export const AGENT_PODS = { items: [{ metadata: { name: "mirrord-agent-x1-abcde" }, status: { phase: "Running" } }] };

/** Answers of a cluster where everything works. */
export function happyRules(): Rule[] {
    return [
        { cmd: "kubectl", match: "^get deployment ", stdout: DEPLOYMENT },
        { cmd: "kubectl", match: "jsonpath=\\{\\.status\\.podIP\\}", stdout: "10.1.2.3" },
        { cmd: "kubectl", match: "^get pods .*tekton-dag.io/role=mirrord-agent", stdout: AGENT_PODS },
        { cmd: "kubectl", match: "^get pod \\S+ -n \\S+ -o json$", stdout: READY_POD },
        { cmd: "kubectl", match: "^create -f -$", stdout: "created\n" },
        { cmd: "mirrord", match: "^verify-config ", stdout: { type: "Success", config: {} } },
    ];
}

/** The task environment of both deploy tasks, with the shared workspace in `dir`. */
export function deployEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
    const ws = path.join(dir, "ws");
    fs.mkdirSync(ws, { recursive: true });
    return {
        STACK_JSON: JSON.stringify(STACK),
        BUILD_APPS: "demo-fe demo-api",
        PROPAGATION_CHAIN: "demo-fe demo-api",
        BUILT_IMAGES: JSON.stringify(IMAGES),
        IMAGE_REGISTRY,
        INTERCEPT_HEADER_VALUE: "x-dev-session: pr-42",
        DEFAULT_NAMESPACE: "staging",
        TARGET_NAMESPACES: "staging api-ns",
        RUN_ID,
        RUN_NAME: "stack-pr-test-run-42",
        LEASE_WAIT_SECONDS: "600",
        POD_READY_TIMEOUT_SECONDS: "30",
        POLL_INTERVAL_SECONDS: "0",
        MIRRORD_IMAGE: "registry.local/tekton-dag-build-mirrord:3.250.0",
        TELEPRESENCE_IMAGE: "registry.local/tekton-dag-build-telepresence:2.31.2",
        SHARED_WORKSPACE: ws,
        RESULT_PATH: path.join(dir, "result-deployed-pods"),
        ...extra,
    };
}
