// `pulumi up` of the local stack (Pulumi.local.yaml) through the real engine (scripts/pulumi-run.ts, policy
// pack on) against the local API server: every object is created and stored as sent, a second up changes
// nothing, a config change updates in place only what it should, and destroy leaves none of our objects.
// "As sent" is what the same engine writes for the same config with renderYamlToDirectory: the provider's
// own rendering, not a re-implementation of it.
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ADMIN_KUBECONFIG, cluster, getJson, kubectl, kubectlOk } from "./harness";
import { objectKey, readManifests } from "../engine/helpers";
import { assertPoliciesSelectExactly } from "./network-policy-selection";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

const STACK = "local";
const PART_OF = "app.kubernetes.io/part-of=tekton-dag";

interface Run { status: number | null; out: string }

/** scripts/pulumi-run.ts as a child process (as a user runs it), against the local cluster. */
function pulumiRun(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(REPO, "scripts", "pulumi-run.ts"), ...args], {
            cwd: REPO,
            env: { ...process.env, KUBECONFIG: ADMIN_KUBECONFIG, PULUMI_BACKEND_URL: "", ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { out += d; });
        child.on("close", (status) => resolve({ status, out }));
    });
}

function ok(r: Run, what: string): Run {
    assert.equal(r.status, 0, `${what} failed:\n${r.out.slice(-4000)}`);
    return r;
}

/** The Automation API's summary of an up/destroy, as pulumi-run prints it: {"create": 51} and the like. */
function changes(r: Run, op: "up" | "destroy"): Record<string, number> {
    const m = r.out.match(new RegExp(`^pulumi-run: ${op} of stack ${STACK} done in [0-9.]+s: (\\{.*\\})$`, "m"));
    assert.ok(m, `no ${op} summary in:\n${r.out.slice(-2000)}`);
    return JSON.parse(m[1]);
}

/** The stored form of each object, read by the apiVersion it was sent with (Tekton at v1: no conversion webhook runs). */
function stored(objects: any[]): Map<string, any> {
    const ids = objects.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } }));
    const out = kubectlOk(["get", "-f", "-", "--ignore-not-found", "--show-managed-fields", "-o", "json"], JSON.stringify({ apiVersion: "v1", kind: "List", items: ids }));
    const res = out.trim() ? JSON.parse(out) : { items: [] };
    return new Map((res.items ?? []).map((o: any) => [objectKey(o), o]));
}

/**
 * An object as its writers other than the controllers left it: without its status and what the API server
 * changes with every write (resourceVersion, the status writers' managedFields entries). A controller's status
 * write is no write of the engine's: the CronJob controller records each scheduled run of the sweeper, and
 * does so whenever a run falls due between two reads.
 */
function asWritten(o: any): string {
    const { status: _status, ...rest } = o;
    const { resourceVersion: _rv, managedFields = [], ...metadata } = o.metadata;
    return JSON.stringify({ ...rest, metadata: { ...metadata, managedFields: managedFields.filter((f: any) => f.subresource !== "status") } });
}

/** The keys of the objects whose stored form, as the engine writes it (asWritten), changed. */
function rewritten(before: Map<string, any>, after: Map<string, any>): string[] {
    return [...before.keys()].filter((k) => asWritten(after.get(k)) !== asWritten(before.get(k)));
}

/** Where `sent` differs from `got`: every field sent must be stored with the same value (the server may add defaults). */
function mismatches(sent: unknown, got: unknown, at: string): string[] {
    if (sent === null || typeof sent !== "object") {
        return sent === got ? [] : [`${at}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(got)}`];
    }
    if (Array.isArray(sent)) {
        if (!Array.isArray(got) || got.length !== sent.length) return [`${at}: sent ${sent.length} items, stored ${JSON.stringify(got)?.slice(0, 200)}`];
        return sent.flatMap((s, i) => mismatches(s, got[i], `${at}[${i}]`));
    }
    if (got === null || typeof got !== "object" || Array.isArray(got)) return [`${at}: sent an object, stored ${JSON.stringify(got)?.slice(0, 200)}`];
    return Object.entries(sent).flatMap(([k, v]) => mismatches(v, (got as any)[k], `${at}.${k}`));
}

/** Objects labelled as ours in every namespace, by kind (the kinds the stack renders). */
function labelled(kinds: string[]): string[] {
    const list = getJson(["get", kinds.join(","), "-A", "-l", PART_OF]);
    return list.items.map((o: any) => objectKey(o)).sort();
}

function engineMissing(): string | undefined {
    // --check exits 0 whether or not the pieces are built; its lines say which would be built.
    const r = spawnSync("bash", [path.join(REPO, "scripts", "pulumi-engine.sh"), "--check"], { encoding: "utf8" });
    const out = `${r.stdout}${r.stderr}`.trim();
    return r.status !== 0 || /not built yet|not there/.test(out) ? out : undefined;
}

describe("cluster: pulumi up of the local stack through the real engine (policy pack on)", function () {
    this.timeout(600_000);
    let work: string;
    let state: string;
    let sent: any[];
    let kinds: string[];

    before(async function () {
        const missing = engineMissing();
        if (missing) {
            // CI must not pass without these tests; a developer without the engine is told why they did not run.
            if (process.env.CI === "true") throw new Error(`the Pulumi engine is not built: ${missing}`);
            console.log(`      skipped: the Pulumi engine is not built (bash scripts/pulumi-engine.sh builds it): ${missing}`);
            this.skip();
        }
        cluster();
        work = tmpDir("pulumi-up-");
        state = path.join(work, "state");
        // The other suites install the program's RBAC as plain objects (kubectl apply); they would be in the way.
        kubectl(["delete", "serviceaccounts,roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io", "-A", "-l", PART_OF, "--wait=true"]);
        // The reference rendering needs no policy verdict (the ups below have the pack on); without it, 15 s less.
        const render = await pulumiRun(["up", "--stack", STACK, "--state", path.join(work, "render-state"), "--no-policy", "--set", `renderYamlToDirectory=${path.join(work, "manifests")}`]);
        ok(render, "up of the local stack rendered to a directory");
        sent = readManifests(path.join(work, "manifests"));
        // kind.version.group, as kubectl takes it (Tekton's at v1).
        kinds = [...new Set(sent.map((o) => [o.kind.toLowerCase(), ...o.apiVersion.split("/").reverse()].join(".").replace(/\.v1$/, "")))];
        assert.ok(sent.length >= 40, `the local stack renders ${sent.length} objects`);
        assert.deepEqual(labelled(kinds), [], "objects of ours in the cluster before up");
    });

    after(async function () {
        if (!state || !fs.existsSync(state)) return;
        // Whatever a failed test left: destroy through the engine, so the next suite finds a clean cluster.
        if (labelled(kinds ?? ["serviceaccounts"]).length) await pulumiRun(["destroy", "--stack", STACK, "--state", state]);
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("up creates every object, and the API server stores each as sent", async () => {
        const r = ok(await pulumiRun(["up", "--stack", STACK, "--state", state]), "up");
        const summary = changes(r, "up");
        // The rendered objects plus the stack, its components and the provider, all created.
        assert.deepEqual(Object.keys(summary), ["create"], JSON.stringify(summary));
        assert.ok(summary.create > sent.length, `created ${summary.create} resources for ${sent.length} objects`);

        const got = stored(sent);
        const missing = sent.filter((o) => !got.has(objectKey(o))).map(objectKey);
        assert.deepEqual(missing, [], "objects the API server does not have");
        const diffs = sent.flatMap((o) => {
            const { metadata, ...body } = o;
            const s = got.get(objectKey(o));
            return [
                ...mismatches(body, s, objectKey(o)),
                ...mismatches(metadata.labels ?? {}, s.metadata.labels ?? {}, `${objectKey(o)}.metadata.labels`),
                ...mismatches(metadata.annotations ?? {}, s.metadata.annotations ?? {}, `${objectKey(o)}.metadata.annotations`),
            ];
        });
        assert.deepEqual(diffs, [], "fields stored differently from what was sent");
        // Tekton objects really are stored at v1 (read above with the apiVersion they were sent with).
        assert.ok(sent.some((o) => o.apiVersion === "tekton.dev/v1" && o.kind === "Task"), "no tekton.dev/v1 Task rendered");
        assert.deepEqual(labelled(kinds).length, sent.filter((o) => o.metadata.labels?.["app.kubernetes.io/part-of"] === "tekton-dag").length);
    });

    it("the NetworkPolicies are stored as rendered, and the API server's own selector evaluation picks exactly the PR-code task pods and PR pods", () => {
        const policies = sent.filter((o) => o.kind === "NetworkPolicy");
        // Pulumi.local.yaml sets buildEgressCidrs, so all three policies are rendered.
        assert.deepEqual(policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(), [
            "staging/tekton-dag-pr-pod-no-telepresence", "tekton-dag/tekton-dag-pr-build-egress", "tekton-dag/tekton-dag-pr-code-no-telepresence",
        ]);
        const storedPolicies = stored(policies);
        for (const p of policies) {
            const s = storedPolicies.get(objectKey(p));
            assert.deepEqual(mismatches(p.spec, s.spec, objectKey(p)), []);
            assert.deepEqual(s.spec.policyTypes, ["Egress"], "stored as egress-only");
        }

        assertPoliciesSelectExactly(new Map(policies.map((p) => [p.metadata.name, storedPolicies.get(objectKey(p))])),
            sent.find((o) => o.kind === "CronJob"));
    });

    it("a second up changes nothing (its check ignores a status write, as the CronJob controller makes at each scheduled run)", async () => {
        const before = stored(sent);
        // The sweeper's CronJob falls due every quarter hour; when that happens between the two reads, the controller
        // writes its status. Made to happen every time here, so the check is shown to tell that write from the engine's.
        const cron = sent.find((o) => o.kind === "CronJob");
        kubectlOk(["patch", "cronjob", cron.metadata.name, "-n", cron.metadata.namespace, "--subresource=status", "--type=merge",
            "-p", JSON.stringify({ status: { lastScheduleTime: new Date().toISOString().replace(/\.\d+Z$/, "Z") } })]);
        const summary = changes(ok(await pulumiRun(["up", "--stack", STACK, "--state", state]), "second up"), "up");
        // "read" is the existing Telepresence namespace the program looks up (installTelepresence=false): not a change.
        assert.deepEqual(Object.keys(summary).filter((k) => k !== "read"), ["same"], JSON.stringify(summary));
        assert.deepEqual(rewritten(before, stored(sent)), [], "objects the no-op up wrote");
    });

    it("a config change (orphanSweepSchedule) updates the sweeper CronJob in place, and nothing else", async () => {
        const before = stored(sent);
        const cronKey = objectKey(sent.find((o) => o.kind === "CronJob"));
        assert.notEqual(before.get(cronKey).spec.schedule, "*/5 * * * *");
        const r = ok(await pulumiRun(["up", "--stack", STACK, "--state", state, "--set", 'orphanSweepSchedule="*/5 * * * *"']), "up with a new schedule");
        const summary = changes(r, "up");
        assert.equal(summary.update, 1, JSON.stringify(summary));
        assert.deepEqual(Object.keys(summary).filter((k) => k !== "read").sort(), ["same", "update"], JSON.stringify(summary));
        const after = stored(sent);
        const cron = after.get(cronKey);
        assert.equal(cron.spec.schedule, "*/5 * * * *");
        assert.equal(cron.metadata.uid, before.get(cronKey).metadata.uid, "the CronJob was replaced, not updated");
        assert.deepEqual(rewritten(before, after), [cronKey], "objects the config change wrote");
    });

    it("destroy leaves none of our objects behind", async () => {
        const summary = changes(ok(await pulumiRun(["destroy", "--stack", STACK, "--state", state]), "destroy"), "destroy");
        assert.ok(summary.delete > sent.length, JSON.stringify(summary));
        assert.deepEqual(labelled(kinds), [], "objects labelled part-of=tekton-dag after destroy");
        assert.deepEqual([...stored(sent).keys()], [], "rendered objects still in the cluster after destroy");
    });
});
