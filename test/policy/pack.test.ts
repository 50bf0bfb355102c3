/**
 * The policy pack as the engine runs it: the pack is started in a child process the way the Pulumi CLI
 * starts a Node.js pack, then asked over gRPC for its policies, configured with policy/config.kind.json and
 * asked to analyze a resource. Every way the pack may be started answers the same: the TypeScript sources
 * under the Node.js language host (@pulumi/pulumi's run-policy-pack, ts-node with type checking; `pulumi
 * --policy-pack policy` with an installed Pulumi), and under this repository's engine (the analyzer shim
 * tools/pulumi-engine/pulumi-analyzer-policy-nodejs) both the compiled policy/bin that scripts/pulumi-run.ts
 * hands the engine (scripts/runner/policyPack.ts), which the shim loads directly, and the sources, which it
 * hands to run-policy-pack. Constructing a PolicyPack in the test process itself would start the server
 * here and exit the process.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { compiledPolicyPack } from "../../scripts/runner/policyPack";
import { REPO } from "../support/repo";

const POLICY_DIR = path.join(REPO, "policy");
const MODULES = path.join(POLICY_DIR, "node_modules");
const LEVELS: Record<string, number> = { advisory: 0, mandatory: 1, disabled: 2, remediate: 3 };

// Loaded from policy/node_modules (the root package does not depend on @pulumi/policy or grpc).
function load(mod: string): any {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(path.join(MODULES, mod));
}

const RUN_POLICY_PACK = path.join(MODULES, "@pulumi", "pulumi", "cmd", "run-policy-pack");
const SHIM = path.join(REPO, "tools", "pulumi-engine", "pulumi-analyzer-policy-nodejs");
/** How the engine starts the pack in each form: the command, run in the pack's directory with "<engine> ." after it. */
const FORMS: [string, () => string, string[]][] = [
    ["policy/index.ts, the TypeScript sources, by the Node.js language host", () => POLICY_DIR, [process.execPath, RUN_POLICY_PACK]],
    ["policy/bin, compiled by the runner, by the analyzer shim", () => compiledPolicyPack(POLICY_DIR), ["sh", SHIM]],
    ["policy/index.ts, the TypeScript sources, by the analyzer shim", () => POLICY_DIR, ["sh", SHIM]],
];

for (const [form, packDir, [command, ...launcher]] of FORMS) describe(`policy pack served by the policy runtime (${form})`, function () {
    this.timeout(180000);
    let child: ChildProcess | undefined;
    let client: any;
    let pb: any;
    let struct: any;

    before(async function () {
        if (!fs.existsSync(path.join(MODULES, "@pulumi", "policy"))) this.skip(); // npm ci --prefix policy not run
        child = spawn(command, [...launcher, "127.0.0.1:1", "."], {
            cwd: packDir(), stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (d) => (stderr += d));
        const port = await new Promise<number>((resolve, reject) => {
            let out = "";
            child!.stdout!.on("data", (d) => {
                out += d;
                const m = /^(\d+)\s*$/m.exec(out);
                if (m) resolve(Number(m[1]));
            });
            child!.on("exit", (code) => reject(new Error(`policy pack exited with ${code} before serving:\n${stderr}${out}`)));
        });
        const grpc = load("@grpc/grpc-js");
        const svc = load("@pulumi/pulumi/proto/analyzer_grpc_pb.js");
        pb = load("@pulumi/pulumi/proto/analyzer_pb.js");
        struct = load("google-protobuf/google/protobuf/struct_pb.js");
        client = new svc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        if (child && child.exitCode === null) child.kill();
    });

    function call(method: string, request: any): Promise<any> {
        return new Promise((resolve, reject) => client[method](request, (err: any, res: any) => (err ? reject(err) : resolve(res))));
    }

    async function analyze(type: string, name: string, props: any): Promise<Array<[string, number]>> {
        const req = new pb.AnalyzeRequest();
        req.setType(type);
        req.setName(name);
        req.setUrn(`urn:pulumi:kind::tekton-dag::${type}::${name}`);
        req.setProperties(struct.Struct.fromJavaScript(props));
        req.setOptions(new pb.AnalyzerResourceOptions());
        const res = await call("analyze", req);
        return res.getDiagnosticsList().map((d: any) => [d.getPolicyname(), d.getEnforcementlevel()]);
    }

    const labels = {
        "app.kubernetes.io/part-of": "tekton-dag", "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/component": "tasks",
    };
    const badTask = {
        apiVersion: "tekton.dev/v1", kind: "Task", metadata: { name: "t", namespace: "tekton-dag", labels },
        spec: { steps: [{ name: "s", image: "alpine", script: "echo $(params.x)" }] },
    };

    it("serves the eight policies as pack tekton-dag", async () => {
        const empty = load("google-protobuf/google/protobuf/empty_pb.js");
        const info = (await call("getAnalyzerInfo", new empty.Empty())).toObject();
        assert.equal(info.name, "tekton-dag");
        assert.deepEqual(info.policiesList.map((p: any) => [p.name, p.enforcementlevel]),
            ["backend", "production", "rbac", "privilege", "images", "scripts", "labels", "identity"].map((n) => [n, LEVELS.mandatory]));
    });

    it("reports images and scripts as mandatory by default, and images as advisory under config.kind.json", async () => {
        assert.deepEqual(await analyze("kubernetes:tekton.dev/v1:Task", "t", badTask),
            [["images", LEVELS.mandatory], ["scripts", LEVELS.mandatory]]);
        const config = JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "config.kind.json"), "utf8"));
        const req = new pb.ConfigureAnalyzerRequest();
        for (const [policy, value] of Object.entries<any>(config)) {
            const pc = new pb.PolicyConfig();
            const level = typeof value === "string" ? value : value.enforcementLevel;
            pc.setEnforcementlevel(LEVELS[level]);
            const { enforcementLevel: _ignored, ...props } = typeof value === "object" ? value : {};
            pc.setProperties(struct.Struct.fromJavaScript(props));
            req.getPolicyconfigMap().set(policy, pc);
        }
        await call("configure", req);
        assert.deepEqual(await analyze("kubernetes:tekton.dev/v1:Task", "t", badTask),
            [["images", LEVELS.advisory], ["scripts", LEVELS.mandatory]]);
    });
});
