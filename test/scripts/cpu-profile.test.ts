/**
 * scripts/cpu-profile.py reading process-accounting records written here in the kernel's acct v3 layout
 * (include/uapi/linux/acct.h). Turning accounting on is not tested: the kernel keeps one accounting file
 * for the whole machine, and a test switching it would take it from whoever uses it.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO } from "../support/repo";
import { tmpDir } from "../support/tmpDir";

interface Rec { pid: number; ppid: number; start: number; wallTicks: number; utime: number; stime?: number; comm: string }

/** comp_t: a 13-bit mantissa and a 3-bit base-8 exponent. */
function compT(ticks: number): number {
    let exp = 0;
    while (ticks > 0x1fff) { ticks = Math.round(ticks / 8); exp++; }
    return (exp << 13) | ticks;
}

function pacct(records: Rec[]): Buffer {
    const buf = Buffer.alloc(64 * records.length);
    records.forEach((r, i) => {
        const o = 64 * i;
        buf.writeUInt8(3, o + 1); // version
        buf.writeUInt32LE(r.pid, o + 16);
        buf.writeUInt32LE(r.ppid, o + 20);
        buf.writeUInt32LE(r.start, o + 24);
        buf.writeFloatLE(r.wallTicks, o + 28);
        buf.writeUInt16LE(compT(r.utime), o + 32);
        buf.writeUInt16LE(compT(r.stime ?? 0), o + 34);
        buf.write(r.comm, o + 48, 16, "latin1");
    });
    return buf;
}

function profile(records: Rec[] | Buffer, ...args: string[]) {
    const file = path.join(tmpDir("cpu-profile"), "pacct");
    fs.writeFileSync(file, Buffer.isBuffer(records) ? records : pacct(records));
    return spawnSync("python3", [path.join(REPO, "scripts", "cpu-profile.py"), "--read", file, ...args], { encoding: "utf8" });
}

/** The table's rows: program -> [processes, CPU-s, started by]. */
function rows(stdout: string): Map<string, { n: number; cpu: number; by: string }> {
    const out = new Map();
    for (const line of stdout.split("\n").slice(2).filter(Boolean)) {
        const m = /^(\S+)\s+(\d+)\s+([\d.]+)\s+[\d.]+%\s+\d+\s+(.*)$/.exec(line);
        assert.ok(m, `not a table row: ${line}`);
        out.set(m[1], { n: Number(m[2]), cpu: Number(m[3]), by: m[4] });
    }
    return out;
}

describe("scripts/cpu-profile.py (CPU per program from process accounting)", () => {
    // A test command (pid 100, still running: no record) runs bash (200), which runs kubectl twice and jq;
    // pid 201 is used again later by jq. Pid 900 is another process of the machine.
    const T = 1_800_000_000;
    const records: Rec[] = [
        { pid: 201, ppid: 200, start: T + 1, wallTicks: 20, utime: 8, stime: 2, comm: "kubectl" },
        { pid: 202, ppid: 200, start: T + 2, wallTicks: 5, utime: 3, comm: "jq" },
        { pid: 203, ppid: 200, start: T + 3, wallTicks: 20, utime: 10, comm: "kubectl" },
        { pid: 900, ppid: 1, start: T, wallTicks: 100, utime: 40, comm: "kubectl" },
        { pid: 200, ppid: 100, start: T, wallTicks: 500, utime: 1, comm: "bash" },
        { pid: 201, ppid: 200, start: T + 4, wallTicks: 5, utime: 2, comm: "jq" },
        { pid: 300, ppid: 100, start: T + 1, wallTicks: 20000, utime: 10000, stime: 2000, comm: "kube-apiserver" },
    ];

    it("sums CPU per program, largest first, and names who started them", () => {
        const r = profile(records);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^7 processes, 120\.7 CPU-s/);
        const t = rows(r.stdout);
        assert.deepEqual([...t.keys()], ["kube-apiserver", "kubectl", "jq", "bash"]);
        assert.equal(t.get("kube-apiserver")!.cpu, 120); // comp_t with an exponent: 10000 + 2000 ticks
        assert.deepEqual({ ...t.get("kubectl")!, by: undefined }, { n: 3, cpu: 0.6, by: undefined });
        assert.match(t.get("kubectl")!.by, /^bash \(2, 0\.2\), pid 1 \(1, 0\.4\)$/);
        assert.deepEqual(t.get("jq"), { n: 2, cpu: 0.1, by: "bash (2, 0.1)" });
    });

    it("with --root, counts only that pid's descendants (a reused pid matched to the parent alive at its start)", () => {
        const r = profile(records, "--root", "100");
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^6 processes, 120\.3 CPU-s/);
        assert.equal(rows(r.stdout).get("kubectl")!.n, 2);
    });

    it("refuses a file that is not whole acct v3 records, naming it", () => {
        const bad = profile(Buffer.alloc(65));
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /pacct is 65 bytes, not a whole number of 64-byte acct v3 records/);
        const v2 = pacct(records.slice(0, 1));
        v2.writeUInt8(2, 1);
        const old = profile(v2);
        assert.notEqual(old.status, 0);
        assert.match(old.stderr, /record 0 is acct version 2, not 3/);
    });
});
