/**
 * GitHub deliveries decided by Tekton Triggers v0.37.0's own code (tools/triggers-eval: the sink's
 * interceptor chain, the core github and cel interceptors over loopback, the binding and template
 * resolution), against the objects the program renders. Simulated: only the listener's HTTP front door and
 * the creation of the resulting PipelineRuns (they are returned instead).
 */
import { execFileSync } from "child_process";
import { createHmac } from "crypto";
import { goTool } from "./goTool";

/** The webhook secret's value in these tests (the Secret the listener names holds it). */
export const WEBHOOK_SECRET = "tekton-dag-test-webhook-secret";

export interface Delivery {
    /** X-GitHub-Event. */
    event: string;
    body: unknown;
    /** X-Hub-Signature-256: by default the right one; null sends none; a string is sent as it is. */
    signature?: string | null;
}

export interface Decision {
    trigger: string;
    accepted: boolean;
    reason?: string;
    resources?: any[];
}

/** GitHub's signature of a raw body: sha256=<hex HMAC-SHA256 with the webhook secret>. */
export function sign(raw: string, secret = WEBHOOK_SECRET): string {
    return `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;
}

/** Each delivery's decision by every trigger of the rendered EventListener, in one run of the tool. */
export function decide(objs: any[], deliveries: Delivery[]): Decision[][] {
    const triggerObjects = objs.filter((o) => ["EventListener", "TriggerBinding", "TriggerTemplate"].includes(o.kind));
    const listener = triggerObjects.find((o) => o.kind === "EventListener");
    const secrets: Record<string, string> = {};
    for (const t of listener.spec.triggers) {
        for (const i of t.interceptors) {
            const ref = i.params?.find((p: any) => p.name === "secretRef")?.value;
            if (ref) secrets[`${ref.secretName}/${ref.secretKey}`] = WEBHOOK_SECRET;
        }
    }
    const input = {
        objects: triggerObjects,
        secrets,
        deliveries: deliveries.map((d) => {
            const raw = typeof d.body === "string" ? d.body : JSON.stringify(d.body);
            const headers: Record<string, string[]> = { "Content-Type": ["application/json"], "X-GitHub-Event": [d.event] };
            const signature = d.signature === undefined ? sign(raw) : d.signature;
            if (signature !== null) headers["X-Hub-Signature-256"] = [signature];
            return { headers, body: raw };
        }),
    };
    const out = execFileSync(goTool("triggers-eval"), [], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(out);
}

/** The PipelineRuns a delivery starts: the resources of every trigger that accepted it. */
export function runsStarted(decisions: Decision[]): any[] {
    return decisions.filter((d) => d.accepted).flatMap((d) => d.resources ?? []).filter((r) => r.kind === "PipelineRun");
}

/** The TaskRuns of the listener's own tasks (stop-pr-runs, retest-pr) that accepted deliveries would create. */
export function taskRunsStarted(decisions: Decision[]): any[] {
    return decisions.filter((d) => d.accepted).flatMap((d) => d.resources ?? []).filter((r) => r.kind === "TaskRun");
}

/** A PipelineRun's params as a name -> value map. */
export function runParams(run: any): Record<string, string> {
    return Object.fromEntries((run.spec.params ?? []).map((p: any) => [p.name, p.value]));
}
