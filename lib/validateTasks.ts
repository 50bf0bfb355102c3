/**
 * The two routing checks, validate-stack-propagation and validate-original-traffic, built from one shape and a
 * table of two rows (issue 19): both run tekton/scripts/validate-routing.sh with the same params and differ only
 * in MODE (whether the probe request carries the intercept header) and in what the description says proves
 * the routing right or wrong. The script holds what each mode checks.
 */
import { paramEnv, resultPath, scriptTask, SHARED_WORKSPACE_ENV, TaskParam } from "./scriptTask";
import { KubeObject } from "./tektonSources";

export interface RoutingCheck {
    /** The Task's name; its display name is the name in words. */
    name: string;
    /** validate-routing.sh's MODE; the result file is validation-<mode>.json. */
    mode: "with-header" | "without-header";
    /** Who must answer the request, after "sent to the entry app's Service,". */
    answeredBy: string;
    /** Whose logs the probe id is looked for in. */
    logsOf: string;
    /** Whose log of the probe fails the check. */
    wrongPod: string;
}

export const ROUTING_CHECKS: readonly RoutingCheck[] = [
    { name: "validate-stack-propagation", mode: "with-header", answeredBy: "reaches a PR pod of this run",
        logsOf: "the PR pods and of the original pods of the entry and intercepted apps",
        wrongPod: "an original pod of an intercepted app" },
    { name: "validate-original-traffic", mode: "without-header",
        answeredBy: "is still answered by the original deployment and never by a PR pod",
        logsOf: "this run's PR pods and of the entry app's original pods", wrongPod: "a PR pod" },
];

/** The params of both checks; all but the image reach validate-routing.sh as env (paramEnv). */
const PARAMS: TaskParam[] = [
    { name: "stack-json", description: "The resolved stack graph, inline JSON or @<path>@sha256:<digest> in the shared workspace " +
        "(resolve-stack's stack-json); a file that no longer matches its digest fails the task." },
    { name: "deployed-pods", default: "{}", description: "PR pods of this run, JSON {\"<app>\": \"<pod>\"} (deploy-intercepts-result's " +
        "deployed-pods). It comes from a workspace file, so it may name only build apps of stack-json, each with the pod name the " +
        "deploy tasks give it (pr-<app>-<run uid prefix>) in the app's namespace; anything else fails the task." },
    { name: "intercept-header-value",
        description: "The routing header, \"<Name>: <value>\" (the intercept-header-value result of resolve-stack)." },
    { name: "entry-app", description: "The app whose Service the request is sent to." },
    { name: "default-namespace", default: "staging", description: "Namespace of apps the stack graph gives none (set from stack config)." },
    { name: "run-id", description: "The PipelineRun uid; selects the run's directory in the shared workspace." },
    { name: "request-path", default: "/", description: "Path requested through the entry app; a probe query parameter is appended." },
    { name: "retries", default: "5", description: "Attempts until the entry app answers below HTTP 500 (2, 4, ... up to 10 seconds apart)." },
    { name: "timeout", default: "10", description: "Seconds one request may take." },
    { name: "log-wait-seconds", default: "15", description: "How long to keep looking for the probe in the pods' logs after the answer." },
    { name: "require-proof", default: "false", description: "\"true\" fails when no pod logged the probe (apps that log no request " +
        "lines can never pass); \"false\" passes such a run with a warning and answered-by \"unproven\"." },
    { name: "base-url", default: "",
        description: "Entry URL to use instead of http://<entry-app>.<namespace>.svc.cluster.local:<servicePort> (e.g. an ingress)." },
];

/** The step's image: kubectl and curl are all the checks need, and the mirrord build image has both. */
const IMAGE: TaskParam = {
    name: "mirrord-image", default: "localhost:5001/tekton-dag-build-mirrord:0.1.0",
    description: "Image with bash, curl, jq and kubectl (the program's tekton-dag-build-mirrord image; its default is set from stack config).",
};

/** The Task of one routing check. */
export function validateTask(c: RoutingCheck): KubeObject {
    return scriptTask({
        name: c.name,
        version: "0.1.0",
        catalog: { minVersion: "1.0.0", categories: "Testing", tags: ["validation", "intercept", "routing"],
            displayName: c.name.replace(/-/g, " "), platforms: "linux/amd64,linux/arm64" },
        description: `Proves that a request ${c.mode === "with-header" ? "WITH" : "WITHOUT"} the intercept header, sent to the entry ` +
            `app's Service, ${c.answeredBy}. Real HTTP requests (curl) with bounded retries and timeouts; each carries a probe id ` +
            "(query parameter tekton-dag-probe and header x-tekton-dag-probe) that is then looked for in the logs of " +
            `${c.logsOf}. Fails with the evidence (status, headers, body excerpt, pod log excerpts) when no answer comes or ` +
            `${c.wrongPod} logged the probe; when no pod logged it the routing is reported unproven (a failure with ` +
            "require-proof true). Needs get/list on pods, pods/log and deployments in the target namespaces.",
        params: [...PARAMS, IMAGE],
        workspaces: [{ name: "shared-workspace",
            description: `The pipeline's shared workspace (reads @path values, writes validation-${c.mode}.json).` }],
        results: [{ name: "answered-by", description: "Who answered, \"pr-pod/<ns>/<pod>\", \"original/<ns>/<pod>\" or \"unproven\"." }],
        step: {
            name: "validate",
            imageParam: IMAGE.name,
            script: "validate-routing.sh",
            env: [
                { name: "MODE", value: c.mode },
                ...PARAMS.map((p) => paramEnv(p.name)),
                SHARED_WORKSPACE_ENV,
                { name: "RESULT_ANSWERED_BY", value: resultPath("answered-by") },
            ],
        },
    });
}
