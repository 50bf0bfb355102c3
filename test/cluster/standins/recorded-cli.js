// A recorded stand-in for the CLIs that cannot run here (mirrord, telepresence, curl, newman, git: they need a
// container runtime, pod networking or the internet). It appends {cmd, argv, stdin} to $FAKE_DIR/calls.jsonl and
// answers from the first rule in $FAKE_DIR/rules.json whose `cmd` equals the program name and whose `match`
// regex matches the argv joined by spaces. A rule with `times` answers that many calls and then stands aside.
// Without a matching rule it exits 0 and prints nothing. kubectl is never one of these: it is the real one.
"use strict";
const fs = require("fs");
const path = require("path");

module.exports = function run(cmd) {
    const dir = process.env.FAKE_DIR;
    if (!dir) {
        process.stderr.write(`fake ${cmd}: FAKE_DIR is not set\n`);
        process.exit(97);
    }
    const argv = process.argv.slice(2);
    let stdin = "";
    const readsStdin = argv.some((a, i) => ((a === "-f" || a === "--filename") && argv[i + 1] === "-") || a === "@-");
    if (readsStdin) stdin = fs.readFileSync(0, "utf8");
    fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify({ cmd, argv, stdin }) + "\n");

    const rules = JSON.parse(fs.readFileSync(path.join(dir, "rules.json"), "utf8"));
    const statePath = path.join(dir, "state.json");
    const used = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : {};
    const line = argv.join(" ");
    for (let i = 0; i < rules.length; i++) {
        const rule = rules[i];
        if (rule.cmd !== cmd || !new RegExp(rule.match).test(line)) continue;
        if (rule.times !== undefined && (used[i] ?? 0) >= rule.times) continue;
        used[i] = (used[i] ?? 0) + 1;
        fs.writeFileSync(statePath, JSON.stringify(used));
        if (rule.stdout) process.stdout.write(typeof rule.stdout === "string" ? rule.stdout : JSON.stringify(rule.stdout));
        if (rule.stderr) process.stderr.write(rule.stderr);
        // No process.exit() here: into a pipe, output over 64 KiB is still being written and would be cut off.
        process.exitCode = rule.exit ?? 0;
        return;
    }
    process.exitCode = 0;
};
