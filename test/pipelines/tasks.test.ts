// The Tasks of the build stages (fetch-source, compile-*, containerize, run-hook) and the rules every
// Task in tekton/tasks follows (docs/conventions.md).
import * as crypto from "crypto";
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { task, tasks } from "./helpers";
import { COMPILE_TOOLS } from "../../lib/compileTasks";
import { SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";
import { tmpDir } from "../support/tmpDir";

const TOOLS = COMPILE_TOOLS.map((t) => t.tool);
const MY_TASKS = ["fetch-source", ...TOOLS.map((t) => `compile-${t}`), "containerize", "run-hook"];

describe("every Task the program installs (tekton/tasks and the compile Tasks)", () => {
    for (const t of tasks()) {
        const file = t.metadata.name;
        describe(file, () => {

            it("puts no $(params.…) or $(tasks.…) inside a step script, command or args", () => {
                for (const step of [...(t.spec.steps ?? []), ...(t.spec.sidecars ?? [])]) {
                    const text = JSON.stringify({ script: step.script ?? "", args: step.args ?? [], command: step.command ?? [] });
                    assert.doesNotMatch(text, /\$\((params|tasks)\./, `${file} step ${step.name}`);
                }
                if (t.spec.stepTemplate) {
                    const text = JSON.stringify({ script: t.spec.stepTemplate.script ?? "", args: t.spec.stepTemplate.args ?? [], command: t.spec.stepTemplate.command ?? [] });
                    assert.doesNotMatch(text, /\$\((params|tasks)\./, `${file} stepTemplate`);
                }
            });

            it("runs scripts from the scripts ConfigMap volume with command:", () => {
                for (const step of t.spec.steps ?? []) {
                    for (const part of step.command ?? []) {
                        const m = /^\/tekton-dag\/scripts\/(.+)$/.exec(part);
                        if (!m) continue;
                        assert.ok(fs.existsSync(path.join(SCRIPTS, m[1])), `${file}: ${part} exists in tekton/scripts`);
                        assert.ok((step.volumeMounts ?? []).some((v: any) => v.name === "tekton-dag-scripts" && v.mountPath === "/tekton-dag/scripts" && v.readOnly === true), `${file} step ${step.name} mounts the scripts`);
                        const vol = (t.spec.volumes ?? []).find((v: any) => v.name === "tekton-dag-scripts");
                        assert.ok(vol?.configMap, `${file} declares the tekton-dag-scripts volume`);
                    }
                }
            });
        });
    }
});

describe("build-stage Tasks: catalog metadata and pinned images", () => {
    for (const name of MY_TASKS) {
        it(name, () => {
            const t = task(name);
            assert.ok(t, `Task ${name}`);
            assert.equal(t.metadata.name, name);
            assert.ok(t.metadata.labels["app.kubernetes.io/version"]);
            for (const a of ["tekton.dev/pipelines.minVersion", "tekton.dev/categories", "tekton.dev/tags", "tekton.dev/displayName", "tekton.dev/platforms"]) {
                assert.ok(t.metadata.annotations?.[a], `${name} annotation ${a}`);
            }
            assert.ok(t.spec.description.length > 40);
            const vol = t.spec.volumes.find((v: any) => v.name === "tekton-dag-scripts");
            assert.equal(vol.configMap.defaultMode, 0o555, "defaultMode 0555");
            for (const step of t.spec.steps) {
                assert.equal(step.script, undefined, "scripts come from tekton/scripts");
                const m = /^\$\(params\.([a-z0-9-]+)\)$/.exec(step.image);
                const image = m ? t.spec.params.find((p: any) => p.name === m[1]).default : step.image;
                assert.match(image, /(:[\w][\w.-]*|@sha256:[a-f0-9]{64})$/, `${name}: image ${image} is pinned`);
                assert.doesNotMatch(image, /:latest$/);
            }
            assert.ok(t.spec.workspaces.some((w: any) => w.name === "shared-workspace"));
        });
    }
});

function git(cwd: string, ...args: string[]): string {
    const r = spawnSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
}

describe("fetch-source.sh (real git against a local repository)", () => {
    const script = path.join(SCRIPTS, "fetch-source.sh");
    let src: string;
    let first: string;
    let second: string;
    before(() => {
        src = tmpDir("src");
        git(src, "init", "-q", "-b", "main");
        fs.writeFileSync(path.join(src, "a.txt"), "one");
        git(src, "add", ".");
        git(src, "commit", "-q", "-m", "one");
        first = git(src, "rev-parse", "HEAD");
        fs.writeFileSync(path.join(src, "a.txt"), "two");
        git(src, "commit", "-q", "-am", "two");
        git(src, "tag", "v2");
        second = git(src, "rev-parse", "HEAD");
        git(src, "checkout", "-q", "-b", "feature");
        fs.writeFileSync(path.join(src, "a.txt"), "three");
        git(src, "commit", "-q", "-am", "three");
        git(src, "checkout", "-q", "main");
    });

    function fetch(revision: string, extra: Record<string, string> = {}) {
        const ws = tmpDir("ws");
        const result = path.join(ws, "commit-result");
        const r = runScript(script, { URL: `file://${src}`, REVISION: revision, TARGET_PATH: ".tekton-dag/runs/uid-1/apps/demo", SHARED_WORKSPACE: ws, RESULT_COMMIT: result, ...extra });
        const dir = path.join(ws, ".tekton-dag/runs/uid-1/apps/demo");
        return { r, ws, dir, commit: fs.existsSync(result) ? fs.readFileSync(result, "utf8") : "" };
    }

    it("checks out a full commit sha that is not a branch head and reports it", () => {
        const { r, dir, commit } = fetch(first);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(commit, first);
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "one");
    });

    it("checks out an abbreviated sha, a tag, a branch and the default branch", () => {
        assert.equal(fetch(first.slice(0, 8)).commit, first);
        assert.equal(fetch("v2").commit, second);
        assert.equal(fs.readFileSync(path.join(fetch("feature").dir, "a.txt"), "utf8"), "three");
        assert.equal(fetch("").commit, second);
    });

    it("empties the target directory first", () => {
        const ws = tmpDir("ws");
        const dir = path.join(ws, "p");
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "stale"), "x");
        const r = runScript(script, { URL: `file://${src}`, REVISION: "main", TARGET_PATH: "p", SHARED_WORKSPACE: ws });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(!fs.existsSync(path.join(dir, "stale")));
    });

    it("fails naming the revision when it does not exist", () => {
        const { r } = fetch("no-such-branch");
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /could not fetch revision 'no-such-branch'/);
        const sha = fetch("0123456789abcdef0123456789abcdef01234567").r;
        assert.notEqual(sha.status, 0);
        assert.match(sha.stderr, /0123456789abcdef0123456789abcdef01234567/);
    });

    describe("with a pr-number (the PR's head kept at refs/pull/<n>/head, as GitHub keeps it)", () => {
        let approved: string;
        let pushedLater: string;
        before(() => {
            // A fork's PR #7: its head ref in the base repository, first at the approved commit.
            git(src, "checkout", "-q", "-b", "pr-7", first);
            fs.writeFileSync(path.join(src, "a.txt"), "fork change");
            git(src, "commit", "-q", "-am", "fork change");
            approved = git(src, "rev-parse", "HEAD");
            git(src, "update-ref", "refs/pull/7/head", approved);
            fs.writeFileSync(path.join(src, "a.txt"), "pushed after the approval");
            git(src, "commit", "-q", "-am", "later push");
            pushedLater = git(src, "rev-parse", "HEAD");
            git(src, "checkout", "-q", "main");
        });
        after(() => git(src, "update-ref", "-d", "refs/pull/7/head"));

        it("checks out the commit it was given while it is the PR's head", () => {
            const { r, dir, commit } = fetch(approved, { PR_NUMBER: "7" });
            assert.equal(r.status, 0, r.stderr);
            assert.equal(commit, approved);
            assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "fork change");
            assert.match(r.stderr, new RegExp(`${approved} is the head of PR #7`));
        });

        it("refuses once the PR's head moved, naming both commits, and reports no commit", () => {
            git(src, "update-ref", "refs/pull/7/head", pushedLater);
            try {
                const { r, dir, commit } = fetch(approved.toUpperCase(), { PR_NUMBER: "7" });
                assert.equal(r.status, 1);
                assert.match(r.stderr, new RegExp(`the head of PR #7 is now ${pushedLater}, not ${approved}, the commit this run was started for`));
                assert.equal(commit, "", "no commit result");
                assert.ok(!fs.existsSync(path.join(dir, "a.txt")), "nothing checked out");
                // The later commit itself is refused too when it is not what the run was given.
                assert.equal(fetch(second, { PR_NUMBER: "7" }).r.status, 1);
            } finally {
                git(src, "update-ref", "refs/pull/7/head", approved);
            }
        });

        it("fails naming the ref when the repository has no such PR", () => {
            const { r } = fetch(approved, { PR_NUMBER: "8" });
            assert.equal(r.status, 1);
            assert.match(r.stderr, /could not fetch refs\/pull\/8\/head from file:.*pr-number 8 must be a pull request of this repository/);
        });

        it("leaves a branch or an abbreviated sha of a run by hand unchecked, and says so", () => {
            const byBranch = fetch("feature", { PR_NUMBER: "7" });
            assert.equal(byBranch.r.status, 0, byBranch.r.stderr);
            assert.match(byBranch.r.stderr, /revision 'feature' is not a full commit sha: not checked against the head of PR #7/);
            assert.equal(fetch(first.slice(0, 10), { PR_NUMBER: "7" }).commit, first);
        });

        it("rejects a pr-number that is not a positive whole number", () => {
            for (const bad of ["0", "07", "7a", "-7"]) {
                const { r } = fetch(approved, { PR_NUMBER: bad });
                assert.equal(r.status, 1, bad);
                assert.match(r.stderr, new RegExp(`pr-number '${bad}' must be a positive whole number`));
            }
        });
    });

    it("rejects paths outside the workspace and option-like input", () => {
        for (const [env, pattern] of [
            [{ TARGET_PATH: "../x" }, /must be relative/],
            [{ TARGET_PATH: "/abs" }, /must be relative/],
            [{ REVISION: "--upload-pack=evil" }, /must not start with '-'/],
            [{ URL: "-oProxyCommand=x" }, /must not start with '-'/],
            [{ URL: "" }, /URL \(param url\) is required/],
            [{ DEPTH: "x" }, /depth 'x'/],
        ] as [Record<string, string>, RegExp][]) {
            const r = runScript(script, { URL: `file://${src}`, REVISION: "main", TARGET_PATH: "p", SHARED_WORKSPACE: tmpDir("ws"), ...env });
            assert.notEqual(r.status, 0, JSON.stringify(env));
            assert.match(r.stderr, pattern);
        }
    });
});

describe("compile-app.sh (tools replaced by recording stand-ins)", () => {
    const script = path.join(SCRIPTS, "compile-app.sh");

    /** A workspace with a checkout of app demo and a bin dir of stand-ins that log their argv. */
    function setup(files: string[], tools: string[]) {
        const ws = tmpDir("compile");
        const app = path.join(ws, ".tekton-dag/runs/uid-1/apps/demo");
        fs.mkdirSync(path.join(app, "sub"), { recursive: true });
        for (const f of files) fs.writeFileSync(path.join(app, f), "{}");
        const bin = path.join(ws, "bin");
        fs.mkdirSync(bin);
        const log = path.join(ws, "calls.log");
        for (const tool of tools) {
            fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $* (cwd $(pwd))" >> "${log}"\n`, { mode: 0o755 });
        }
        return { ws, app, bin, log, calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "") };
    }

    function compile(tool: string, s: ReturnType<typeof setup>, extra: Record<string, string> = {}) {
        return runScript(script, { BUILD_TOOL: tool, APP: "demo", RUN_ID: "uid-1", SHARED_WORKSPACE: s.ws, PATH: `${s.bin}:/usr/bin:/bin`, ...extra });
    }

    it("npm: npm ci with a lock file, then npm run build --if-present, cache in the workspace", () => {
        const s = setup(["package.json", "package-lock.json"], ["npm"]);
        const r = compile("npm", s);
        assert.equal(r.status, 0, r.stderr);
        assert.match(s.calls(), /^npm ci --no-audit --no-fund \(cwd .*apps\/demo\)\nnpm run build --if-present/);
        assert.ok(fs.existsSync(path.join(s.ws, ".tekton-dag/cache/npm")));
    });

    it("npm without a lock file uses npm install and says so", () => {
        const s = setup(["package.json"], ["npm"]);
        const r = compile("npm", s);
        assert.equal(r.status, 0, r.stderr);
        assert.match(s.calls(), /^npm install/);
        assert.match(r.stderr, /no package-lock.json/);
    });

    it("maven: mvn -B package -DskipTests with the workspace repository", () => {
        const s = setup(["pom.xml"], ["mvn"]);
        const r = compile("maven", s);
        assert.equal(r.status, 0, r.stderr);
        assert.match(s.calls(), /^mvn -B -ntp -Dmaven.repo.local=.*\.tekton-dag\/cache\/maven\/repository -DskipTests package/);
    });

    it("gradle: prefers ./gradlew, runs assemble", () => {
        const s = setup(["build.gradle.kts"], []);
        fs.writeFileSync(path.join(s.app, "gradlew"), `#!/bin/sh\necho "gradlew $*" >> "${s.log}"\n`, { mode: 0o755 });
        const r = compile("gradle", s);
        assert.equal(r.status, 0, r.stderr);
        assert.match(s.calls(), /^gradlew --no-daemon --console=plain --gradle-user-home .*cache\/gradle assemble/);
    });

    it("composer: composer install in the context dir", () => {
        const s = setup([], ["composer"]);
        fs.writeFileSync(path.join(s.app, "sub", "composer.json"), "{}");
        const r = compile("composer", s, { CONTEXT_DIR: "sub" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(s.calls(), /^composer install --no-interaction --no-progress --prefer-dist \(cwd .*apps\/demo\/sub\)/);
    });

    it("pip: venv outside the build context, pip install -r requirements.txt, compileall (real python)", function () {
        if (spawnSync("python3", ["-c", "import venv, ensurepip"]).status !== 0) this.skip();
        const s = setup([], []);
        fs.writeFileSync(path.join(s.app, "requirements.txt"), "# nothing\n");
        fs.writeFileSync(path.join(s.app, "main.py"), "print('ok')\n");
        const r = compile("pip", s, { PATH: process.env.PATH ?? "" });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(fs.existsSync(path.join(s.ws, ".tekton-dag/runs/uid-1/venv-demo/bin/python")));
        assert.ok(!fs.existsSync(path.join(s.app, ".venv")));
    });

    it("pip: a syntax error fails the compile", function () {
        if (spawnSync("python3", ["-c", "import venv, ensurepip"]).status !== 0) this.skip();
        const s = setup([], []);
        fs.writeFileSync(path.join(s.app, "pyproject.toml"), "");
        fs.writeFileSync(path.join(s.app, "requirements.txt"), "");
        fs.writeFileSync(path.join(s.app, "bad.py"), "def (:\n");
        const r = compile("pip", s, { PATH: process.env.PATH ?? "" });
        assert.notEqual(r.status, 0);
    });

    it("fails clearly: missing checkout, missing build file, missing tool, unknown tool, bad input", () => {
        const s = setup(["package.json", "composer.json"], []);
        const cases: [string, Record<string, string>, RegExp][] = [
            ["npm", { APP: "other" }, /no checkout of app 'other'/],
            ["maven", {}, /has build tool 'maven' but \. has none of: pom.xml/],
            ["composer", { COMPILE_IMAGE: "composer:x", PATH: "/nonexistent:/usr/bin:/bin" }, /'composer' is not installed in composer:x/],
            ["ant", {}, /build tool 'ant' is not supported \(allowed: npm, maven, gradle, pip, composer\)/],
            ["npm", { CONTEXT_DIR: "../x" }, /context-dir '..\/x' must be relative/],
            ["npm", { CONTEXT_DIR: "nope" }, /context-dir 'nope' does not exist/],
            ["npm", { APP: "../x" }, /is not a valid app name/],
            ["npm", { RUN_ID: "" }, /RUN_ID is required/],
        ];
        for (const [tool, env, pattern] of cases) {
            const r = compile(tool, s, env);
            assert.notEqual(r.status, 0, `${tool} ${JSON.stringify(env)}`);
            assert.match(r.stderr, pattern);
        }
    });

    it("is what every compile Task runs, with BUILD_TOOL fixed to its tool", () => {
        for (const tool of TOOLS) {
            const step = task(`compile-${tool}`).spec.steps[0];
            assert.deepEqual(step.command, ["/tekton-dag/scripts/compile-app.sh"]);
            assert.equal(step.env.find((e: any) => e.name === "BUILD_TOOL").value, tool);
        }
    });
});

describe("containerize.sh (Kaniko and crane replaced by recording stand-ins)", () => {
    const script = path.join(SCRIPTS, "containerize.sh");
    const COMMIT = "0123456789abcdef0123456789abcdef01234567";
    const RUN_ID = "5f0c1d2e-aaaa-bbbb-cccc-000000000000";
    const DIGEST = "sha256:" + "ab".repeat(32);

    function setup(opts: { printed?: string; fail?: boolean; craneFail?: boolean } = {}) {
        const ws = tmpDir("kaniko");
        const app = path.join(ws, `.tekton-dag/runs/${RUN_ID}/apps/demo-fe`);
        fs.mkdirSync(path.join(app, "docker"), { recursive: true });
        fs.writeFileSync(path.join(app, "docker", "Dockerfile"), "FROM scratch\n");
        fs.writeFileSync(path.join(app, "Dockerfile"), "FROM scratch\n");
        const argsFile = path.join(ws, "kaniko-args");
        const craneArgs = path.join(ws, "crane-args");
        const craneEnv = path.join(ws, "crane-docker-config");
        const kaniko = path.join(ws, "executor");
        fs.writeFileSync(kaniko, [
            "#!/bin/sh",
            `printf '%s\\n' "$@" > "${argsFile}"`,
            opts.fail ? "echo 'error building image: RUN failed' >&2; exit 1" : "",
            "for a in \"$@\"; do case \"$a\" in --tar-path=*) printf 'tarball' > \"${a#--tar-path=}\";; esac; done",
        ].join("\n") + "\n", { mode: 0o755 });
        const crane = path.join(ws, "crane");
        fs.writeFileSync(crane, [
            "#!/bin/sh",
            `printf '%s\\n' "$@" > "${craneArgs}"`,
            `printf '%s' "\${DOCKER_CONFIG:-unset}" > "${craneEnv}"`,
            opts.craneFail ? "echo 'PUT manifest: UNAUTHORIZED' >&2; exit 1" : "",
            `printf '%s\\n' "${opts.printed ?? `registry.local:5000/demo-fe@${DIGEST}`}"`,
        ].join("\n") + "\n", { mode: 0o755 });
        const results = { built: path.join(ws, "r-built"), tag: path.join(ws, "r-tag"), url: path.join(ws, "r-url") };
        const env: Record<string, string> = {
            APP: "demo-fe", RUN_ID, SHARED_WORKSPACE: ws, IMAGE_REGISTRY: "registry.local:5000/", COMMIT, PR_NUMBER: "42",
            IMAGE_TARBALL: path.join(ws, "image.tar"), KANIKO_EXECUTOR: kaniko, CRANE: crane,
            RESULT_BUILT_IMAGES: results.built, RESULT_IMAGE_TAG: results.tag, RESULT_IMAGE_URL: results.url,
        };
        const lines = (f: string) => fs.readFileSync(f, "utf8").trim().split("\n");
        return {
            ws, env, results, args: () => lines(argsFile), craneArgs: () => lines(craneArgs),
            craneDockerConfig: () => fs.readFileSync(craneEnv, "utf8"), craneRan: () => fs.existsSync(craneArgs),
        };
    }

    const run = (mode: string, env: Record<string, string>) => runScript(script, env, [mode], { shell: "sh" });
    const both = (env: Record<string, string>) => {
        const b = run("build", env);
        assert.equal(b.status, 0, b.stderr);
        return run("push", env);
    };

    it("build: Kaniko writes a tarball and pushes nothing; push: crane pushes it and built-images has the pushed digest", () => {
        const s = setup();
        const b = run("build", s.env);
        assert.equal(b.status, 0, b.stderr);
        const tag = "pr-42-0123456-5f0c1d2e";
        const args = s.args();
        assert.ok(args.includes(`--destination=registry.local:5000/demo-fe:${tag}`));
        assert.ok(args.includes("--no-push"));
        assert.ok(args.includes(`--tar-path=${s.env.IMAGE_TARBALL}`));
        assert.ok(!args.some((a) => a.startsWith("--digest-file")));
        assert.ok(args.includes(`--context=dir://${s.ws}/.tekton-dag/runs/${RUN_ID}/apps/demo-fe/.`));
        assert.ok(!args.some((a) => /insecure|skip-tls/.test(a)));
        assert.ok(!s.craneRan(), "build never runs crane");
        assert.ok(!fs.existsSync(s.results.built), "build writes no result (PR code ran in it)");

        const p = run("push", s.env);
        assert.equal(p.status, 0, p.stderr);
        assert.deepEqual(s.craneArgs(), ["push", s.env.IMAGE_TARBALL, `registry.local:5000/demo-fe:${tag}`]);
        assert.equal(fs.readFileSync(s.results.tag, "utf8"), tag);
        assert.equal(fs.readFileSync(s.results.url, "utf8"), `registry.local:5000/demo-fe:${tag}`);
        const built = JSON.parse(fs.readFileSync(s.results.built, "utf8"));
        assert.deepEqual(built, { "demo-fe": `registry.local:5000/demo-fe@${DIGEST}` });
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(s.ws, `.tekton-dag/runs/${RUN_ID}/built-images.json`), "utf8")), built);
    });

    it("push replaces a symlink PR code left at built-images.json instead of writing through it", () => {
        const s = setup();
        const victim = path.join(tmpDir("victim"), "file");
        fs.writeFileSync(victim, "untouched");
        const link = path.join(s.ws, `.tekton-dag/runs/${RUN_ID}/built-images.json`);
        fs.symlinkSync(victim, link);
        const r = both(s.env);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(fs.readFileSync(victim, "utf8"), "untouched");
        assert.ok(!fs.lstatSync(link).isSymbolicLink());
    });

    it("never produces a release-like tag", () => {
        for (const pr of ["42", "1", ""]) {
            const s = setup();
            const r = both({ ...s.env, PR_NUMBER: pr });
            assert.equal(r.status, 0, r.stderr);
            const tag = fs.readFileSync(s.results.tag, "utf8");
            assert.doesNotMatch(tag, /^v?\d+(\.\d+)*([-+].*)?$/, tag);
            assert.doesNotMatch(tag, /^latest$/);
            assert.match(tag, pr ? /^pr-\d+-[0-9a-f]{7}-[0-9a-f]{8}$/ : /^snapshot-[0-9a-f]{7}-[0-9a-f]{8}$/);
            assert.ok(tag.length <= 128);
        }
    });

    it("insecure-registry true: Kaniko pulls and crane pushes without TLS; context-dir and dockerfile are honoured", () => {
        const s = setup();
        const r = both({ ...s.env, INSECURE_REGISTRY: "true", CONTEXT_DIR: "docker", DOCKERFILE: "Dockerfile" });
        assert.equal(r.status, 0, r.stderr);
        const args = s.args();
        assert.ok(args.includes("--insecure-pull") && args.includes("--skip-tls-verify-pull"));
        assert.ok(args.includes(`--dockerfile=${s.ws}/.tekton-dag/runs/${RUN_ID}/apps/demo-fe/docker/Dockerfile`));
        assert.equal(s.craneArgs()[0], "--insecure");
    });

    it("fails with Kaniko's or crane's error, on a bad digest, on a missing or symlinked tarball, and on bad input", () => {
        const failed = setup({ fail: true });
        const r1 = run("build", failed.env);
        assert.notEqual(r1.status, 0);
        assert.match(r1.stderr, /RUN failed/);
        assert.match(r1.stderr, /kaniko could not build registry.local:5000\/demo-fe:pr-42/);

        const denied = setup({ craneFail: true });
        const r2 = both(denied.env);
        assert.notEqual(r2.status, 0);
        assert.match(r2.stderr, /UNAUTHORIZED/);
        assert.match(r2.stderr, /crane could not push registry.local:5000\/demo-fe:pr-42/);
        assert.ok(!fs.existsSync(denied.results.built));

        const bad = setup({ printed: "nonsense" });
        assert.match(both(bad.env).stderr, /unexpected reference 'nonsense'/);

        const missing = setup();
        assert.match(run("push", missing.env).stderr, /no image tarball at/);
        assert.ok(!missing.craneRan());

        // The build step is PR code: a symlink from it must not make crane read a file of the push step.
        const linked = setup();
        const secret = path.join(tmpDir("cfg"), "config.json");
        fs.writeFileSync(secret, "{}");
        fs.symlinkSync(secret, linked.env.IMAGE_TARBALL);
        assert.match(run("push", linked.env).stderr, /no image tarball at .* \(a regular file/);
        assert.ok(!linked.craneRan());

        assert.match(run("deploy", setup().env).stderr, /usage: containerize.sh build\|push/);

        const s = setup();
        const cases: [Record<string, string>, RegExp][] = [
            [{ IMAGE_REGISTRY: "https://r.local" }, /must not have a scheme/],
            [{ INSECURE_REGISTRY: "yes" }, /insecure-registry 'yes' must be true or false/],
            [{ PR_NUMBER: "4a" }, /pr-number '4a' must be digits/],
            [{ COMMIT: "main" }, /commit 'main' must be a lowercase hex commit sha/],
            [{ APP: "Demo" }, /cannot be an image name/],
            [{ DOCKERFILE: "../Dockerfile" }, /must be a relative path without '\.\.'/],
            [{ DOCKERFILE: "Containerfile" }, /has no Containerfile/],
            [{ APP: "other" }, /no build context for app 'other'/],
            [{ IMAGE_REGISTRY: "" }, /IMAGE_REGISTRY is required/],
            [{ IMAGE_TARBALL: "" }, /IMAGE_TARBALL is required/],
        ];
        for (const [env, pattern] of cases) {
            const r = run("build", { ...s.env, ...env });
            assert.notEqual(r.status, 0, JSON.stringify(env));
            assert.match(r.stderr, pattern);
        }
    });

    it("only push uses the docker-config workspace; build ignores it even when it is set", () => {
        const s = setup();
        const cfg = tmpDir("dockercfg");
        const b = run("build", { ...s.env, DOCKER_CONFIG_BOUND: "true", DOCKER_CONFIG_PATH: cfg });
        assert.equal(b.status, 0, b.stderr);
        assert.doesNotMatch(b.stderr, /docker-config/);
        const r0 = run("push", { ...s.env, DOCKER_CONFIG_BOUND: "true", DOCKER_CONFIG_PATH: cfg });
        assert.match(r0.stderr, /bound but has no config.json/);
        fs.writeFileSync(path.join(cfg, "config.json"), "{}");
        const r = run("push", { ...s.env, DOCKER_CONFIG_BOUND: "true", DOCKER_CONFIG_PATH: cfg });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /credentials from workspace docker-config/);
        assert.equal(s.craneDockerConfig(), cfg);
    });
});

describe("containerize Task: the registry credential never reaches the step that runs PR code", () => {
    const t = () => task("containerize");
    const step = (name: string) => t().spec.steps.find((s: any) => s.name === name);

    it("has exactly a build step (Kaniko) then a push step (crane), each running the fixed script", () => {
        assert.deepEqual(t().spec.steps.map((s: any) => s.name), ["build", "push"]);
        assert.deepEqual(step("build").command, ["/tekton-dag/scripts/containerize.sh"]);
        assert.deepEqual(step("build").args, ["build"]);
        assert.equal(step("build").image, "$(params.kaniko-image)");
        assert.deepEqual(step("push").command, ["/tekton-dag/scripts/containerize.sh"]);
        assert.deepEqual(step("push").args, ["push"]);
        assert.equal(step("push").image, "$(params.crane-image)");
        const crane = t().spec.params.find((p: any) => p.name === "crane-image").default;
        assert.match(crane, /^gcr\.io\/go-containerregistry\/crane\/debug:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    });

    it("mounts docker-config into the push step only (a step-level workspace isolates it from the others)", () => {
        for (const s of t().spec.steps) {
            const declares = (s.workspaces ?? []).some((w: any) => w.name === "docker-config");
            const mentions = JSON.stringify(s).includes("docker-config");
            assert.equal(declares, s.name === "push", `step ${s.name} declares docker-config`);
            assert.equal(mentions, s.name === "push", `step ${s.name} refers to docker-config`);
            assert.ok(!(s.volumeMounts ?? []).some((m: any) => /docker|config\.json/.test(m.name + m.mountPath)), `step ${s.name} mounts no registry config`);
        }
        assert.equal(t().spec.sidecars, undefined, "no sidecar could receive the workspace");
        assert.equal(t().spec.stepTemplate, undefined, "no stepTemplate could hand it to every step");
    });

    it("the push step runs nothing the build step could have written: no script body, no workspace command, no PR path", () => {
        const p = step("push");
        assert.equal(p.script, undefined);
        for (const part of [...p.command, ...p.args]) assert.doesNotMatch(part, /\$\(|workspace|tekton-dag\/image/, part);
        const scripts = (p.volumeMounts ?? []).find((m: any) => m.name === "tekton-dag-scripts");
        assert.equal(scripts.readOnly, true);
        // The tarball is the only thing it takes from the build step, as data on an emptyDir.
        const vol = t().spec.volumes.find((v: any) => v.name === "image-tarball");
        assert.deepEqual(vol.emptyDir, {});
        // Results come from the push step only; the build step (PR code) gets no result paths.
        assert.doesNotMatch(JSON.stringify(step("build")), /results\./);
    });
});

describe("run-hook.sh", () => {
    const script = path.join(SCRIPTS, "run-hook.sh");

    function setup(hook?: string, mode = 0o755) {
        const ws = tmpDir("hook");
        const platform = path.join(ws, ".tekton-dag/runs/uid-1/platform");
        fs.mkdirSync(path.join(platform, "hooks"), { recursive: true });
        const stackText = '{"name":"stack-one"}';
        fs.writeFileSync(path.join(ws, ".tekton-dag/runs/uid-1/stack.json"), stackText);
        const stackSha = crypto.createHash("sha256").update(stackText).digest("hex");
        if (hook !== undefined) fs.writeFileSync(path.join(platform, "hooks", "h.sh"), hook, { mode });
        return {
            ws,
            env: {
                HOOK_STAGE: "pre-test", HOOK_PATH: "hooks/h.sh", PLATFORM_DIR: ".tekton-dag/runs/uid-1/platform", SHARED_WORKSPACE: ws,
                RUN_ID: "uid-1", RUN_NAME: "stack-pr-test-abc", APP: "demo-fe", STACK_JSON: `@.tekton-dag/runs/uid-1/stack.json@sha256:${stackSha}`,
                DEPLOYED_PODS: '{"demo-fe":"demo-fe-pr-42"}', INTERCEPT_HEADER_VALUE: "x-dev-session: pr-42", DEFAULT_NAMESPACE: "staging",
            } as Record<string, string>,
        };
    }

    it("an empty hook path skips with a log line", () => {
        const s = setup();
        const r = runScript(script, { ...s.env, HOOK_PATH: "" });
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /no pre-test hook configured \(param pre-test-hook is empty\); skipping/);
    });

    it("runs the hook in the platform checkout with TEKTON_DAG_* variables", () => {
        const s = setup([
            "#!/usr/bin/env bash",
            "set -eu",
            'echo "stage=$TEKTON_DAG_HOOK_STAGE app=$TEKTON_DAG_APP pods=$TEKTON_DAG_DEPLOYED_PODS header=$TEKTON_DAG_INTERCEPT_HEADER"',
            'echo "cwd=$(pwd)"',
            'cat "$TEKTON_DAG_STACK_JSON_FILE"',
        ].join("\n") + "\n");
        const r = runScript(script, s.env);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /stage=pre-test app=demo-fe pods=\{"demo-fe":"demo-fe-pr-42"\} header=x-dev-session: pr-42/);
        assert.match(r.stdout, /cwd=.*\/\.tekton-dag\/runs\/uid-1\/platform/);
        assert.match(r.stdout, /\{"name":"stack-one"\}/);
    });

    it("runs a non-executable hook with bash", () => {
        const s = setup('echo "hello from $TEKTON_DAG_HOOK_STAGE"\n', 0o644);
        const r = runScript(script, s.env);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /hello from pre-test/);
    });

    it("fails when the hook fails, is missing, or the stage or path is bad", () => {
        const failing = setup("#!/bin/sh\nexit 3\n");
        const r = runScript(script, failing.env);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /pre-test hook 'hooks\/h.sh' failed with exit code 3/);
        const s = setup();
        const cases: [Record<string, string>, RegExp][] = [
            [{}, /pre-test hook 'hooks\/h.sh' does not exist in the platform repo checkout/],
            [{ HOOK_STAGE: "deploy" }, /hook stage 'deploy' is unknown/],
            [{ HOOK_PATH: "../../x.sh" }, /must be a relative path without '\.\.'/],
            [{ PLATFORM_DIR: "" }, /PLATFORM_DIR is required/],
        ];
        for (const [env, pattern] of cases) {
            const r2 = runScript(script, { ...s.env, ...env });
            assert.notEqual(r2.status, 0, JSON.stringify(env));
            assert.match(r2.stderr, pattern);
        }
    });
});

describe("scripts are shellcheck-clean", () => {
    it("the build-stage scripts, continue-pr.sh and run-report.sh", function () {
        if (spawnSync("shellcheck", ["--version"]).status !== 0) this.skip();
        const files = ["fetch-source.sh", "compile-app.sh", "containerize.sh", "run-hook.sh"].map((f) => path.join(SCRIPTS, f));
        files.push(...["continue-pr.sh", "run-report.sh"].map((f) => path.resolve(SCRIPTS, "../../scripts", f)));
        const r = spawnSync("shellcheck", ["-x", "-P", SCRIPTS, ...files], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        for (const f of files) assert.ok((fs.statSync(f).mode & 0o111) !== 0, `${f} is executable`);
    });
});
