#!/usr/bin/env python3
"""Where a command's CPU goes, per program: a measuring tool, not a test.

    python3 scripts/cpu-profile.py [--top N] [--save FILE] -- COMMAND [ARG...]   (root: turns on accounting)
    python3 scripts/cpu-profile.py [--top N] --read FILE [--root PID]

Runs COMMAND with the kernel's process accounting on (acct(2): one record per process as it ends, with its
user and system CPU, so even a kubectl or jq call of 50 ms is counted, which sampling would miss), then
prints the CPU seconds of every program COMMAND started, directly or not, by program name, and for each of
the largest the parents that started them (a kubectl of the harness is not a kubectl of a task script).
Being a child subreaper, it keeps the processes COMMAND detaches (the local control planes) in its tree.
Accounting sees every process of the machine, so only COMMAND's tree is counted. A process still running
when COMMAND ends is not counted (it has no record yet): the table says how many were left.
--read prints the table of a file written before (--save, or `accton FILE`); --root keeps one pid's tree.
Needs Linux with CONFIG_BSD_PROCESS_ACCT (and root to turn it on); nothing else.
"""
import argparse
import collections
import ctypes
import os
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

# struct acct_v3 (include/uapi/linux/acct.h): flag, version, tty, exitcode, uid, gid, pid, ppid, btime,
# etime (float), utime, stime, mem, io, rw, minflt, majflt, swaps (comp_t), comm[16]; little-endian here.
RECORD = struct.Struct("<BBHIIIIIIf8H16s")
AHZ = 100  # the unit of the comp_t times of version 3 records
PR_SET_CHILD_SUBREAPER = 36


def comp_t(value):
    """A comp_t: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % RECORD.size:
        sys.exit(f"cpu-profile: {path} is {len(data)} bytes, not a whole number of {RECORD.size}-byte acct v3 records")
    records = []
    for offset in range(0, len(data), RECORD.size):
        (_flag, version, _tty, _exit, _uid, _gid, pid, ppid, btime, etime,
         utime, stime, *_rest, comm) = RECORD.unpack_from(data, offset)
        if version & 0x7F != 3:
            sys.exit(f"cpu-profile: {path}: record {offset // RECORD.size} is acct version {version & 0x7F}, not 3")
        records.append({"pid": pid, "ppid": ppid, "start": btime, "wall": etime / AHZ,
                        "cpu": (comp_t(utime) + comp_t(stime)) / AHZ,
                        "comm": comm.split(b"\0", 1)[0].decode("utf-8", "replace") or "?"})
    return link_parents(records)


def link_parents(records):
    """Sets each record's parent record (None when its parent has no record: still running, or ended
    before accounting began). Pids are reused over a long run, so a child is matched to the record of its
    parent pid that was alive when the child started."""
    by_pid = collections.defaultdict(list)
    for r in records:
        by_pid[r["pid"]].append(r)
    for r in records:
        r["parent"] = next((p for p in by_pid.get(r["ppid"], []) if p is not r and p["start"] <= r["start"] <= p["start"] + p["wall"] + 1), None)
    return records


def tree(records, root):
    """The records of root's descendants."""
    memo = {}

    def inside(r):
        key = id(r)
        if key not in memo:
            memo[key] = None  # a cycle of reused pids ends here
            memo[key] = r["ppid"] == root or bool(r["parent"] and inside(r["parent"]))
        return memo[key]

    return [r for r in records if inside(r)]


def table(records, top, wall=None, left=0):
    total = sum(r["cpu"] for r in records)
    by_comm = collections.defaultdict(lambda: {"n": 0, "cpu": 0.0, "parents": collections.Counter(), "pcpu": collections.Counter()})
    for r in records:
        g = by_comm[r["comm"]]
        g["n"] += 1
        g["cpu"] += r["cpu"]
        parent = r["parent"]["comm"] if r["parent"] else f"pid {r['ppid']}"
        g["parents"][parent] += 1
        g["pcpu"][parent] += r["cpu"]
    lines = [f"{len(records)} processes, {total:.1f} CPU-s"
             + (f" in {wall:.0f} s of wall time ({total / wall:.2f} cores busy on average)" if wall else "")
             + (f"; {left} still running at the end, not counted" if left else ""),
             f"{'program':<16} {'processes':>9} {'CPU-s':>9} {'share':>6} {'CPU-ms each':>11}  started by (processes, CPU-s)"]
    for comm, g in sorted(by_comm.items(), key=lambda kv: -kv[1]["cpu"])[:top]:
        parents = ", ".join(f"{p} ({n}, {g['pcpu'][p]:.1f})" for p, n in g["parents"].most_common(3))
        lines.append(f"{comm:<16} {g['n']:>9} {g['cpu']:>9.1f} {100 * g['cpu'] / (total or 1):>5.1f}% {1000 * g['cpu'] / g['n']:>11.0f}  {parents}")
    return "\n".join(lines)


def reap_orphans(child_pid, stop):
    """Reaps the orphans reparented to us as they end: a zombie would still answer `kill -0`, and the
    scripts that stop the control planes wait until their processes are gone. The command itself is left to
    Popen.wait (peeked at with WNOWAIT, never reaped here)."""
    while not stop.is_set():
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            info = None
        if info is not None and info.si_pid not in (0, child_pid):
            try:
                os.waitpid(info.si_pid, 0)
            except ChildProcessError:
                pass
            continue
        time.sleep(0.05)


def run(command, top, save):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"cpu-profile: cannot become a child subreaper: {os.strerror(ctypes.get_errno())}")
    fd, path = tempfile.mkstemp(prefix="cpu-profile.", suffix=".pacct")
    os.close(fd)
    if libc.acct(path.encode()) != 0:
        err = os.strerror(ctypes.get_errno())
        os.unlink(path)
        sys.exit(f"cpu-profile: cannot turn on process accounting ({err}): it needs root and a kernel with CONFIG_BSD_PROCESS_ACCT")
    print(f"cpu-profile: process accounting on, into {path}; running: {' '.join(command)}", file=sys.stderr)
    t0 = time.time()
    stop = threading.Event()
    try:
        child = subprocess.Popen(command)
        reaper = threading.Thread(target=reap_orphans, args=(child.pid, stop), daemon=True)
        reaper.start()
        # Ctrl-C goes to the whole foreground group: wait for the command to end on its own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        status = child.wait()
    finally:
        wall = time.time() - t0
        libc.acct(None)
        stop.set()
    # Orphans the command left (reparented to us) and still running: not in the file.
    left = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == os.getpid():
                        left += 1
            except (OSError, ValueError, IndexError):
                pass
    # Our children: the command, and what it left behind (reparented to us).
    records = tree(read_records(path), os.getpid())
    print(table(records, top, wall, left))
    if save:
        os.replace(path, save)
        print(f"cpu-profile: records saved to {save} (read them again with --read {save} --root {os.getpid()})", file=sys.stderr)
    else:
        os.unlink(path)
    return status


def main():
    ap = argparse.ArgumentParser(description="CPU seconds per program of a command's process tree (process accounting).")
    ap.add_argument("--top", type=int, default=25, help="programs to show (default 25)")
    ap.add_argument("--save", help="keep the accounting records in this file")
    ap.add_argument("--read", help="print the table of a saved accounting file instead of running a command")
    ap.add_argument("--root", type=int, help="with --read: count only this pid's descendants")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.read:
        if command:
            ap.error("--read takes no command")
        records = read_records(args.read)
        if args.root is not None:
            records = tree(records, args.root)
        print(table(records, args.top))
        return 0
    if not command:
        ap.error("give a command after --, or --read FILE")
    return run(command, args.top, args.save)


if __name__ == "__main__":
    sys.exit(main())
