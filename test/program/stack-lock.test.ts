// One run per stack state (scripts/runner/stackLock.ts): scripts/pulumi-run.ts and scripts/render.sh refuse to
// start beside a live run of the same stack, naming it, and touch nothing of its state or output.
import { strict as assert } from "node:assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { lockFileFor, lockStack, readHolder } from "../../scripts/runner/stackLock";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

describe("one run per stack (scripts/runner/stackLock.ts)", function () {
    this.timeout(120_000);
    let tmp: string;
    let holder: ChildProcess;
    /** A live process that holds the lock of state dir `state`, as another run would. */
    const holdLock = (state: string, command = "pulumi-run up --stack render --fresh") => {
        holder = spawn("sleep", ["300"], { stdio: "ignore" });
        fs.mkdirSync(path.dirname(state), { recursive: true });
        fs.writeFileSync(lockFileFor(state), `pid ${holder.pid}\nsince 2026-12-01T10:00:00.000Z\ncommand ${command}\n`);
    };
    beforeEach(() => (tmp = tmpDir("stack-lock")));
    afterEach(() => {
        holder?.kill("SIGKILL");
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("a second run fails naming the live holder; the first keeps its lock", () => {
        const state = path.join(tmp, ".pulumi-state", "render");
        holdLock(state);
        assert.throws(() => lockStack("render", state, "pulumi-run preview --stack render"),
            new RegExp(`^Error: stack render is in use by another run: pid ${holder.pid} since 2026-12-01T10:00:00.000Z \\(pulumi-run up --stack render --fresh\\); wait for it to finish, or stop it \\(its lock is ${state}.lock\\)$`));
        assert.equal(readHolder(lockFileFor(state))?.pid, holder.pid);
    });

    it("takes over the lock of a run that is gone, and releases its own", () => {
        const state = path.join(tmp, "state");
        const dead = spawnSync("true").pid!;
        fs.writeFileSync(lockFileFor(state), `pid ${dead}\nsince x\ncommand gone\n`);
        const release = lockStack("render", state, "pulumi-run up --stack render");
        assert.deepEqual(readHolder(lockFileFor(state)), { pid: process.pid, since: readHolder(lockFileFor(state))!.since, command: "pulumi-run up --stack render" });
        release();
        assert.equal(fs.existsSync(lockFileFor(state)), false);
    });

    it("pulumi-run --fresh beside a live run of the stack fails and deletes none of its state", () => {
        const state = path.join(tmp, "state");
        fs.mkdirSync(path.join(state, "backend"), { recursive: true });
        fs.writeFileSync(path.join(state, "backend", "in-use"), "the other run's state");
        holdLock(state);
        const r = spawnSync(process.execPath, [path.join(REPO, "scripts", "compiled.js"), path.join(REPO, "scripts", "pulumi-run.ts"),
            "up", "--stack", "render", "--state", state, "--fresh", "--no-policy"], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
        assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
        assert.match(r.stderr, new RegExp(`stack render is in use by another run: pid ${holder.pid} `));
        assert.equal(fs.readFileSync(path.join(state, "backend", "in-use"), "utf8"), "the other run's state");
    });

    it("pulumi-run refuses the public local passphrase for a stack that is not local, naming what to set", () => {
        const stackFile = path.join(tmp, "Pulumi.staging.yaml");
        fs.writeFileSync(stackFile, "config:\n  tekton-dag:production: false\n");
        const env = { ...process.env };
        delete env.PULUMI_CONFIG_PASSPHRASE;
        delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
        const r = spawnSync(process.execPath, [path.join(REPO, "scripts", "compiled.js"), path.join(REPO, "scripts", "pulumi-run.ts"),
            "preview", "--stack", "staging", "--stack-file", stackFile, "--state", path.join(tmp, "state"), "--no-policy"], { cwd: REPO, encoding: "utf8", timeout: 60_000, env });
        assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /stack staging needs its secrets passphrase: set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE \(the built-in local passphrase is public, so it is used only for render, kind, local and stacks that set tekton-dag:renderYamlToDirectory\)/);
        assert.equal(fs.existsSync(path.join(tmp, "state")), false, "nothing was written");
    });

    it("render.sh beside a live run of the stack fails naming it, before emptying anything", function () {
        const state = path.join(REPO, ".pulumi-state", "render");
        if (fs.existsSync(lockFileFor(state))) this.skip(); // a real render runs in this checkout
        holdLock(state, "render.sh --stack render");
        const out = path.join(REPO, ".render", "manifests");
        const existed = fs.existsSync(out);
        const sentinel = path.join(out, `.stack-lock-test-${process.pid}`);
        fs.mkdirSync(out, { recursive: true });
        fs.writeFileSync(sentinel, "the other run's output");
        try {
            const r = spawnSync("bash", [path.join(REPO, "scripts", "render.sh")], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
            assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
            assert.match(r.stderr, new RegExp(`render: error: stack render is in use by another run: pid ${holder.pid} since 2026-12-01T10:00:00.000Z \\(render.sh --stack render\\)`));
            assert.equal(readHolder(lockFileFor(state))?.pid, holder.pid);
            assert.ok(fs.existsSync(sentinel), "render.sh emptied the output directory of the run that holds the lock");
        } finally {
            fs.rmSync(lockFileFor(state), { force: true });
            fs.rmSync(existed ? sentinel : out, { recursive: true, force: true });
        }
    });
});
