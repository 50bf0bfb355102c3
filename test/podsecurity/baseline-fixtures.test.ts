// The PR pod's check (check_pr_pod_security, tekton/scripts/lib-pr-pod.sh) held to the Pod Security Standards as
// k8s.io/pod-security-admission defines them, with that module's own test fixtures: every pod of its test/testdata
// (baseline and restricted, every policy version, each distinct pod once) wrapped in a Deployment, with the verdict
// of the module's own evaluator at the baseline level of the newest policy version. scripts/psa-fixtures.sh builds
// tools/psa-fixtures (cached) and writes them; nothing here is simulated, and the suite never skips: without Go or
// the module proxy the build fails and so does the suite.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

interface Fixture { name: string; files: string[]; allowed: boolean; failedChecks: Record<string, string>; deployment: any }
interface FixturesDocument { module: string; level: string; policyVersion: string; baselineChecks: string[]; volumeSources: string[]; fixtures: Fixture[] }
interface Verdict { status: number; message: string }

/**
 * The baseline checks lib-pr-pod.sh implements, each with what its refusal must name. A module version with
 * another check fails the first test until the check is implemented here and in lib-pr-pod.sh.
 */
const NAMES: Record<string, RegExp> = {
    appArmorProfile: /appArmorProfile\.type \w*|annotation container\.apparmor\.security\.beta\.kubernetes\.io\/\S+=/,
    capabilities_baseline: /(container|init container|ephemeral container) \S+: securityContext\.capabilities\.add \S+/,
    hostNamespaces: /spec\.host(Network|PID|IPC) true/,
    hostPathVolumes: /volume \S+ is hostPath/,
    hostPorts: /(container|init container|ephemeral container) \S+: ports\[\]\.hostPort \d+/,
    hostProbesAndHostLifecycle: /(container|init container|ephemeral container) \S+: (livenessProbe|readinessProbe|startupProbe|lifecycle\.postStart|lifecycle\.preStop)\.(httpGet|tcpSocket)\.host \S+/,
    privileged: /(container|init container|ephemeral container) \S+: securityContext\.privileged true/,
    procMount: /(container|init container|ephemeral container) \S+: securityContext\.procMount \w+/,
    seLinuxOptions: /seLinuxOptions\.(type|user|role) /,
    seccompProfile_baseline: /seccompProfile\.type \w*/,
    sysctls: /spec\.securityContext\.sysctls \S+ \(not a safe sysctl\)/,
    windowsHostProcess: /windowsOptions\.hostProcess true/,
};

/**
 * Fixtures the module allows at baseline that we refuse on purpose, and why: the restricted level's volume fixtures
 * (one volume, volume1, of a type restricted forbids) in the four policy versions whose restricted base pod differs.
 * The PR pod keeps only configMap, secret, downwardAPI, projected and emptyDir volumes (inline network storage would
 * let PR code reach staging's shared data). No fixture sets shareProcessNamespace, our other stricter rule.
 */
const RESTRICTED_VOLUME_FIXTURES: Record<string, string> = {
    restrictedvolumes0: "gcePersistentDisk", restrictedvolumes1: "awsElasticBlockStore", restrictedvolumes2: "gitRepo",
    restrictedvolumes3: "nfs", restrictedvolumes4: "iscsi", restrictedvolumes5: "glusterfs", restrictedvolumes6: "rbd",
    restrictedvolumes7: "flexVolume", restrictedvolumes8: "cinder", restrictedvolumes9: "cephfs", restrictedvolumes10: "flocker",
    restrictedvolumes11: "fc", restrictedvolumes12: "azureFile", restrictedvolumes13: "vsphereVolume", restrictedvolumes14: "quobyte",
    restrictedvolumes15: "azureDisk", restrictedvolumes16: "portworxVolume", restrictedvolumes17: "scaleIO", restrictedvolumes18: "storageos",
};
const STRICTER: Record<string, string> = Object.fromEntries(["v1.7", "v1.18", "v1.21", "v1.37"].flatMap((v) =>
    Object.entries(RESTRICTED_VOLUME_FIXTURES).map(([file, type]) => [`restricted/${v}/fail/${file}`, type])));

const ALLOWED_VOLUMES = "may have only configMap, secret, downwardAPI, projected and emptyDir volumes (persistentVolumeClaim and ephemeral ones become emptyDir)";

/** scripts/psa-fixtures.sh: builds the tool if it is not cached (its progress on stderr), returns the document's path. */
function buildFixtures(): string {
    return execFileSync("bash", [path.join(REPO, "scripts", "psa-fixtures.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
}

/** Our check on every fixture of a document (test/podsecurity/verdicts.sh), by fixture name. */
function verdictsOf(docPath: string): Map<string, Verdict> {
    const out = execFileSync("bash", [path.join(__dirname, "verdicts.sh"), docPath], { encoding: "utf8", maxBuffer: 64 << 20 });
    const verdicts = new Map<string, Verdict>();
    for (const line of out.split("\n").filter(Boolean)) {
        const [name, status, ...message] = line.split("\t");
        verdicts.set(name, { status: Number(status), message: message.join("\t") });
    }
    return verdicts;
}

/** A refusal by check_pr_pod_security: names the Deployment and points to the docs. */
function assertRefused(name: string, v: Verdict | undefined): asserts v is Verdict {
    assert.ok(v, `no verdict for ${name}`);
    assert.equal(v.status, 1, `${name} must be refused: ${v.message}`);
    assert.match(v.message, /^error: app psa-fixture: the pod template of Deployment staging\/psa-fixture cannot become the PR pod/, name);
    assert.match(v.message, /see docs\/stack-file\.md, "The PR pod"$/, name);
}

describe("the PR pod's check against k8s.io/pod-security-admission's own baseline fixtures", function () {
    let doc: FixturesDocument;
    let verdicts: Map<string, Verdict>;
    before(function () {
        const docPath = buildFixtures();
        doc = JSON.parse(fs.readFileSync(docPath, "utf8"));
        verdicts = verdictsOf(docPath);
    });

    it("the module's baseline checks at its newest policy version are exactly those we implement", () => {
        assert.equal(doc.module, "k8s.io/pod-security-admission@v0.37.2");
        assert.equal(doc.level, "baseline");
        assert.equal(doc.policyVersion, "v1.37");
        assert.deepEqual(doc.baselineChecks, Object.keys(NAMES).sort());
        assert.ok(doc.fixtures.length > 300, `${doc.fixtures.length} fixtures`);
        assert.equal(verdicts.size, doc.fixtures.length);
    });

    it("every fixture the module refuses at baseline is refused, naming what each failing check is about", () => {
        const refused = doc.fixtures.filter((f) => !f.allowed);
        assert.ok(refused.length > 100, `${refused.length} refused fixtures`);
        for (const f of refused) {
            const v = verdicts.get(f.name);
            assertRefused(f.name, v);
            for (const check of Object.keys(f.failedChecks)) {
                assert.match(v.message, NAMES[check], `${f.name} fails ${check} (${f.failedChecks[check]}), which the message must name: ${v.message}`);
            }
        }
    });

    it("every baseline check has fixtures of the newest version that fail it, and each is refused", () => {
        for (const check of doc.baselineChecks) {
            const failing = doc.fixtures.filter((f) => f.failedChecks[check] && f.files.some((file) => file.startsWith(`baseline/${doc.policyVersion}/fail/`)));
            assert.ok(failing.length > 0, `no fixture of baseline/${doc.policyVersion}/fail fails ${check}`);
            for (const f of failing) assert.equal(verdicts.get(f.name)?.status, 1, `${f.name} (${check})`);
        }
    });

    it("every fixture the module allows at baseline is accepted, except the listed volume fixtures our allowlist refuses", () => {
        const allowed = doc.fixtures.filter((f) => f.allowed);
        assert.ok(allowed.length > 150, `${allowed.length} allowed fixtures`);
        const refusedByUs = allowed.filter((f) => verdicts.get(f.name)?.status !== 0);
        for (const f of allowed.filter((a) => !STRICTER[a.name])) {
            assert.equal(verdicts.get(f.name)?.status, 0, `${f.name} is allowed at baseline and must be accepted: ${verdicts.get(f.name)?.message}`);
        }
        assert.deepEqual(refusedByUs.map((f) => f.name).sort(), Object.keys(STRICTER).sort(), "the fixtures refused beyond baseline are exactly the listed ones");
        for (const f of refusedByUs) {
            const v = verdicts.get(f.name);
            assertRefused(f.name, v);
            assert.match(v.message, new RegExp(`: volume volume1 is ${STRICTER[f.name]}\\. `), f.name);
            assert.ok(v.message.includes(ALLOWED_VOLUMES), f.name);
        }
    });

    it("the volume allowlist over every volume type of the Kubernetes API, and one it does not know", () => {
        const kept = ["configMap", "secret", "downwardAPI", "projected", "emptyDir", "persistentVolumeClaim", "ephemeral"];
        for (const t of kept) assert.ok(doc.volumeSources.includes(t), `the API has no ${t} volumes`);
        for (const t of ["nfs", "iscsi", "cephfs", "csi", "azureFile", "gcePersistentDisk", "rbd", "hostPath", "glusterfs", "flexVolume", "image"]) {
            assert.ok(doc.volumeSources.includes(t), `the API has no ${t} volumes`);
        }
        const types = [...doc.volumeSources, "futureVolume"];
        const base = doc.fixtures.find((f) => f.name === `baseline/${doc.policyVersion}/pass/base`);
        assert.ok(base, "the module's minimal valid pod");
        const cases = types.map((t) => {
            const deployment = structuredClone(base.deployment);
            deployment.spec.template.spec.volumes = [{ name: "kept-config", configMap: { name: "app-config" } }, { name: `vol-${t.toLowerCase()}`, [t]: {} }];
            return { name: t, deployment };
        });
        const dir = tmpDir("pr-pod-volumes");
        try {
            fs.writeFileSync(path.join(dir, "volumes.json"), JSON.stringify({ fixtures: cases }));
            const v = verdictsOf(path.join(dir, "volumes.json"));
            for (const t of types) {
                if (kept.includes(t)) {
                    assert.equal(v.get(t)?.status, 0, `${t}: ${v.get(t)?.message}`);
                } else {
                    assertRefused(t, v.get(t));
                    assert.match(v.get(t)!.message, new RegExp(`PR code: volume vol-${t.toLowerCase()} is ${t}( \\(a folder of the node\\))?\\. `), t);
                    assert.ok(v.get(t)!.message.includes(ALLOWED_VOLUMES), t);
                }
            }
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses shareProcessNamespace, which baseline allows, naming it", () => {
        const base = doc.fixtures.find((f) => f.name === `baseline/${doc.policyVersion}/pass/base`)!;
        const dir = tmpDir("pr-pod-pidns");
        try {
            const shared = structuredClone(base.deployment);
            shared.spec.template.spec.shareProcessNamespace = true;
            const unshared = structuredClone(base.deployment);
            unshared.spec.template.spec.shareProcessNamespace = false;
            fs.writeFileSync(path.join(dir, "doc.json"), JSON.stringify({ fixtures: [{ name: "shared", deployment: shared }, { name: "unshared", deployment: unshared }] }));
            const v = verdictsOf(path.join(dir, "doc.json"));
            assertRefused("shared", v.get("shared"));
            assert.match(v.get("shared")!.message, /PR code: spec\.shareProcessNamespace true\. /);
            assert.equal(v.get("unshared")?.status, 0, v.get("unshared")?.message);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
