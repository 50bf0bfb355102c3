/**
 * scripts/pulumi-engine.sh's build step, with a fake `go` so nothing real is built: a killed script takes
 * its background `go build` with it.
 */
import { strict as assert } from "node:assert";
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { processAlive } from "../../scripts/runner/stackLock";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

const until = async (what: string, ok: () => boolean, ms = 20_000) => {
    for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    }
};

describe("scripts/pulumi-engine.sh builds", function () {
    this.timeout(60_000);
    let tmp: string;
    beforeEach(() => {
        tmp = tmpDir("pulumi-engine");
        fs.mkdirSync(path.join(tmp, "fakebin"));
        // `go build` that records its pid and runs until killed (exec: the pid is the sleeping process).
        fs.writeFileSync(path.join(tmp, "fakebin", "go"), `#!/bin/bash\necho $$ >"${tmp}/go.pid"\nexec sleep 300\n`, { mode: 0o755 });
    });
    afterEach(() => {
        const pidFile = path.join(tmp, "go.pid");
        if (fs.existsSync(pidFile)) {
            try { process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGKILL"); } catch { /* gone */ }
        }
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    for (const signal of ["SIGTERM", "SIGINT"] as const) {
        it(`stops the background go build when the script gets ${signal}`, async () => {
            const child = spawn("bash", [path.join(REPO, "scripts", "pulumi-engine.sh"), "--cli-only"], {
                cwd: REPO,
                stdio: "ignore",
                env: { ...process.env, PATH: `${path.join(tmp, "fakebin")}:${process.env.PATH}`, TEKTON_DAG_CACHE: path.join(tmp, "cache"), PULUMI_HOME: path.join(tmp, "home") },
            });
            const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
            const pidFile = path.join(tmp, "go.pid");
            await until("the fake go build", () => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "");
            const goPid = Number(fs.readFileSync(pidFile, "utf8"));
            assert.ok(processAlive(goPid));
            child.kill(signal);
            assert.notEqual(await exited, 0);
            await until(`go build (pid ${goPid}) to stop`, () => !processAlive(goPid), 5_000);
        });
    }
});
