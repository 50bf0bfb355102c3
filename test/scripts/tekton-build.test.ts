/**
 * scripts/tekton-build.sh without building anything: the releases its Go module pins must be the ones the
 * program installs, a missing build is reported (--check), a second caller waits for the build lock, and a
 * fake `go` shows which packages it builds.
 */
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

/** A copy of the files the script reads, with go.mod edited by `editGoMod`. */
function copyRepo(tmp: string, editGoMod: (text: string) => string = (t) => t): string {
    const repo = path.join(tmp, "repo");
    for (const f of ["scripts/tekton-build.sh", "scripts/lib-setup.sh", "lib/config.ts", "tools/tekton-controllers/go.sum"]) {
        fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
        fs.copyFileSync(path.join(REPO, f), path.join(repo, f));
    }
    fs.writeFileSync(path.join(repo, "tools/tekton-controllers/go.mod"), editGoMod(fs.readFileSync(path.join(REPO, "tools/tekton-controllers/go.mod"), "utf8")));
    return repo;
}

describe("scripts/tekton-build.sh (Tekton's controllers for the local control plane)", function () {
    this.timeout(60_000);
    let tmp: string;
    beforeEach(() => { tmp = tmpDir("tekton-build"); });
    afterEach(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

    const run = (repo: string, args: string[], env: Record<string, string> = {}) =>
        spawnSync("bash", [path.join(repo, "scripts/tekton-build.sh"), ...args], {
            encoding: "utf8", env: { ...process.env, TEKTON_DAG_TEKTON_BIN: path.join(tmp, "bin"), ...env },
        });

    it("refuses a go.mod whose Tekton Pipelines release is not lib/config.ts's default, naming both", () => {
        const repo = copyRepo(tmp, (t) => t.replace(/(github\.com\/tektoncd\/pipeline) v[0-9.]+/, "$1 v1.14.0"));
        const r = run(repo, ["--check"]);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /requires github\.com\/tektoncd\/pipeline 'v1\.14\.0' but lib\/config\.ts defaults\n.*tektonPipelinesVersion to 'v1\.15\.0'/);
    });

    it("refuses a go.mod whose Tekton Triggers release is not lib/config.ts's default", () => {
        const repo = copyRepo(tmp, (t) => t.replace(/(github\.com\/tektoncd\/triggers) v[0-9.]+/, "$1 v0.36.1"));
        const r = run(repo, ["--check"]);
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /tektoncd\/triggers 'v0\.36\.1'.*\n.*tektonTriggersVersion to 'v0\.37\.0'/);
    });

    it("--check exits 3 when nothing is built, and rejects an unknown argument", () => {
        const repo = copyRepo(tmp);
        const r = run(repo, ["--check"]);
        assert.equal(r.status, 3, r.stderr);
        assert.match(r.stderr, /not built/);
        const bad = run(repo, ["--force"]);
        assert.equal(bad.status, 2);
        assert.match(bad.stderr, /unknown argument '--force' \(allowed: --check\)/);
    });

    it("builds the four release binaries, one go build each, and a second caller waits for the first one's lock", async () => {
        const repo = copyRepo(tmp);
        const fakebin = path.join(tmp, "fakebin");
        fs.mkdirSync(fakebin);
        // `go build ... -o OUT PKG`: records the package, waits for a release file, then writes OUT.
        fs.writeFileSync(path.join(fakebin, "go"), [
            "#!/bin/bash",
            `echo "\${@: -1}" >>"${tmp}/built"`,
            // A failed test removes tmp: the fake ends then too.
            `while [ ! -f "${tmp}/release" ] && [ -d "${tmp}" ]; do sleep 0.05; done`,
            'for ((i=1; i<$#; i++)); do if [ "${!i}" = -o ]; then j=$((i+1)); printf "#!/bin/true\\n" >"${!j}"; chmod +x "${!j}"; fi; done',
        ].join("\n"), { mode: 0o755 });
        const env = { ...process.env, PATH: `${fakebin}:${process.env.PATH}`, TEKTON_DAG_TEKTON_BIN: path.join(tmp, "bin") };
        const start = () => {
            const child = spawn("bash", [path.join(repo, "scripts/tekton-build.sh")], { env });
            const out = { stdout: "", stderr: "" };
            child.stdout.on("data", (d) => (out.stdout += d));
            child.stderr.on("data", (d) => (out.stderr += d));
            const done = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => child.on("close", (status) => resolve({ status, ...out })));
            return { out, done };
        };
        const until = async (what: string, ok: () => boolean) => {
            for (const end = Date.now() + 20_000; !ok(); await new Promise((r) => setTimeout(r, 50))) {
                if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
            }
        };
        const first = start();
        await until("the first caller runs go", () => fs.existsSync(path.join(tmp, "built")));
        const second = start();
        await until("the second caller waits for the lock", () => second.out.stderr.includes("waiting for it"));
        fs.writeFileSync(path.join(tmp, "release"), "");
        const [a, b] = await Promise.all([first.done, second.done]);
        assert.equal(a.status, 0, a.stderr);
        assert.equal(b.status, 0, b.stderr);
        assert.match(b.stderr, /another build of the Tekton controllers is running; waiting for it/);
        assert.match(b.stderr, /built by another run/);
        assert.equal(a.stdout.trim(), path.join(tmp, "bin"));
        assert.deepEqual(fs.readFileSync(path.join(tmp, "built"), "utf8").trim().split("\n"), [
            "github.com/tektoncd/pipeline/cmd/controller",
            "github.com/tektoncd/triggers/cmd/controller",
            "github.com/tektoncd/triggers/cmd/eventlistenersink",
            "github.com/tektoncd/triggers/cmd/interceptors",
        ]);
        for (const b of ["tekton-pipelines-controller", "tekton-triggers-controller", "tekton-eventlistenersink", "tekton-interceptors"]) {
            assert.ok(fs.existsSync(path.join(tmp, "bin", b)), b);
        }
        // Fresh now: a third run builds nothing.
        const again = run(repo, [], { PATH: env.PATH! });
        assert.equal(again.status, 0);
        assert.equal(fs.readFileSync(path.join(tmp, "built"), "utf8").trim().split("\n").length, 4);
    });
});
