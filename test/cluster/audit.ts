// Reads the API server's audit log (scripts/cluster.sh logs create/delete of the objects runs label) to tell
// which run created and which run deleted each object: a request's credential is the token's id, and the
// tests hand each script run its own token.
import * as fs from "node:fs";
import { AUDIT_LOG } from "./harness";

export interface AuditEntry {
    verb: string; tokenId?: string; user: string; resource: string; name: string; uid?: string; run?: string;
    /** Also logged (Metadata level) for every request of tekton-dag-pipeline: e.g. pods/log reads. */
    namespace: string; subresource: string; uri: string;
}

/** The byte offset to read from later (the log only grows while the cluster runs). */
export function auditMark(): number {
    return fs.existsSync(AUDIT_LOG) ? fs.statSync(AUDIT_LOG).size : 0;
}

/** The audit events logged since the offset, in order, as the API server wrote them. */
export function eventsSince(offset: number): any[] {
    const text = fs.readFileSync(AUDIT_LOG).subarray(offset).toString("utf8");
    return text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line));
}

export function auditSince(offset: number): AuditEntry[] {
    const byUid = new Map<string, string>();
    const entries: AuditEntry[] = [];
    for (const e of eventsSince(offset)) {
        if (e.stage !== "ResponseComplete" || (e.responseStatus?.code ?? 500) >= 300) continue;
        const obj = e.responseObject ?? {};
        const uid: string | undefined = obj.metadata?.uid ?? obj.details?.uid;
        let run: string | undefined = obj.metadata?.labels?.["tekton-dag.io/run"];
        if (e.verb === "create" && uid && run) byUid.set(uid, run);
        if (!run && uid) run = byUid.get(uid);
        const cred: string | undefined = e.user?.extra?.["authentication.kubernetes.io/credential-id"]?.[0];
        entries.push({
            verb: e.verb, tokenId: cred?.startsWith("JTI=") ? cred.slice(4) : undefined, user: e.user?.username ?? "",
            resource: e.objectRef?.resource ?? "", name: e.objectRef?.name ?? obj.metadata?.name ?? "", uid, run,
            namespace: e.objectRef?.namespace ?? "", subresource: e.objectRef?.subresource ?? "", uri: e.requestURI ?? "",
        });
    }
    return entries;
}

export interface AuthorizedRequest { verb: string; group: string; resource: string; namespace: string; name: string }

/**
 * Every request of `user` since the offset that the authorizer allowed, whatever its outcome (a get that
 * found nothing still needed the get). Watches count once they started streaming.
 */
export function authorizedRequests(offset: number, user: string): AuthorizedRequest[] {
    const out: AuthorizedRequest[] = [];
    for (const e of eventsSince(offset)) {
        if (e.user?.username !== user || e.annotations?.["authorization.k8s.io/decision"] !== "allow") continue;
        if (e.stage !== "ResponseComplete" && e.stage !== "ResponseStarted") continue;
        const ref = e.objectRef ?? {};
        out.push({
            verb: e.verb, group: ref.apiGroup ?? "", resource: ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource ?? "",
            namespace: ref.namespace ?? "", name: ref.name ?? "",
        });
    }
    return out;
}
