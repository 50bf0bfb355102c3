// The Tasks built in code (lib/tasks.ts): a YAML file may not shadow one, and the rows of the validate and deploy
// tables agree with the scripts their Tasks run.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { builtTasks, readTasks } from "../../lib/tasks";
import { DEPLOY_TASKS } from "../../lib/deployTasks";
import { ROUTING_CHECKS } from "../../lib/validateTasks";
import { readFolder } from "../../lib/tektonSources";
import { SCRIPTS } from "../support/repo";
import { runScript } from "../support/runScript";
import { tmpDir } from "../support/tmpDir";

describe("Tasks built in code", () => {
    it("refuses a file under tekton/tasks that names a Task built in code, naming the file and the module (simulated: a written validate-original-traffic)", () => {
        const written = readFolder("tasks", "Task");
        const shadow = { ...builtTasks().find((b) => b.task.metadata.name === "validate-original-traffic")!.task };
        assert.throws(() => readTasks([...written, shadow]),
            /^Error: tekton\/tasks\/validate-original-traffic\.yaml: validate-original-traffic is built by lib\/validateTasks\.ts from its table of routing checks; remove the file$/);
    });

    it("installs each built Task once, beside the written ones", () => {
        const names = readTasks().map((t) => t.metadata.name);
        assert.equal(new Set(names).size, names.length, names.join(", "));
        for (const { task } of builtTasks()) assert.ok(names.includes(task.metadata.name), task.metadata.name);
    });

    it("has exactly the routing checks validate-routing.sh supports (its modes, read from its error for an unknown mode)", () => {
        const ws = tmpDir("validate-modes");
        const r = runScript(path.join(SCRIPTS, "validate-routing.sh"), {
            MODE: "no-such-mode", STACK_JSON: "{}", INTERCEPT_HEADER_VALUE: "x-dev-session: pr-1", ENTRY_APP: "a", RUN_ID: "r1",
            SHARED_WORKSPACE: ws,
        });
        assert.notEqual(r.status, 0);
        const allowed = /MODE 'no-such-mode' is not one of ([a-z, -]+)/.exec(r.stderr);
        assert.ok(allowed, r.stderr);
        assert.deepEqual(ROUTING_CHECKS.map((c) => c.mode).sort(), allowed[1].split(", ").sort());
    });

    for (const b of DEPLOY_TASKS) {
        it(`${b.task}: its script reads every env var of the backend's own part, and the other backend's script none`, () => {
            const own = fs.readFileSync(path.join(SCRIPTS, b.script), "utf8");
            const others = DEPLOY_TASKS.filter((o) => o !== b).map((o) => fs.readFileSync(path.join(SCRIPTS, o.script), "utf8"));
            for (const e of b.env) {
                const read = new RegExp(`\\$\\{?${e.name}\\b`);
                assert.match(own, read, `${b.script} reads ${e.name}`);
                for (const text of others) assert.doesNotMatch(text, read, `${e.name} belongs to ${b.task} only`);
            }
        });
    }
});
