#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn what one test lane's guest wrote into TAP lines (see init).

  collect.py lane --lane NAME --dir LANEDIR --state FILE [options]
      Print the lane's TAP lines, numbered on from the count kept in FILE,
      and update FILE.
  collect.py summary --state FILE
      Print the trailing plan and "N passed, N failed"; exit 1 on failures.
  collect.py fail --state FILE --desc TEXT
      Print one failed TAP line (a lane that could not even be set up),
      numbered on from FILE, and update FILE.
  collect.py demo --dir LANEDIR [options]
      Report what went wrong around the demo; exit with the demo's status.

LANEDIR holds results.log (ttyS1), console.log (ttyS0) and qemu.log, and
silent when run-lanes.sh ended the boot because neither console had printed
anything for the number of seconds it holds (VMMU_SILENCE).
"""

import argparse
import json
import os
import re
import signal
import sys

MARK = "@@VMMU "
LOAD_MARK = "vmmu-lanes: loading vmmu.ko"
# Kernel reports that fail a lane.  WARNING and BUG are matched as words so
# that e.g. "DEBUG" is not a report.  "pagealloc: memory corruption" (or
# "single bit error") is page_poison=1 finding that a freed page was written
# after it was freed: the only report of a write through a stale mapping,
# and it comes with a bare stack dump, no WARNING or BUG line.
KERNEL_BAD = re.compile(r"\bWARNING\b|\bBUG\b|\bOops\b|Kernel panic|KASAN|lockdep|"
                        r"circular locking|RCU stall|rcu:.*detected|"
                        r"kmemleak|hung_task|general protection|"
                        r"pagealloc: (memory corruption|single bit error)")
# A frame of a stack dump ("? lockdep_hardirqs_on+0x1/0x2") names a function,
# it reports nothing: every report that comes with a dump has a header line
# of its own, except an allocation-failure report (warn_alloc), which the
# kernel prints for its own allocations when fault injection fails them.
STACK_FRAME = re.compile(r"^(\[[ \d.]+\])?\s+(\? )?[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+")
# kmemleak's own metadata allocation failed (fault injection): not a leak.
KERNEL_NOTE = re.compile(r"kmemleak: Cannot allocate a scan area")
TAP_RESULT = re.compile(r"^(not ok|ok)\b[ \t]*(\d+)?[ \t]*(?:-[ \t]*)?(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)[ \t]*(?:#[ \t]*(.*))?$")
DIRECTIVE = re.compile(r"#\s*(SKIP|TODO)", re.IGNORECASE)
MAX_ECHO = 200
CONSOLE_TAIL = 30


def read_lines(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace").replace("\r", "")
    return text.split("\n")


class Program:
    def __init__(self, name):
        self.name = name
        self.lines = []
        self.rc = None
        self.secs = None
        self.timed_out = None
        self.leak = None


class Run:
    """What the guest reported on ttyS1."""

    def __init__(self, lines):
        self.boot = None
        self.insmod = None
        self.insmod_out = []
        self.programs = []
        self.rmmod = None
        self.rmmod_out = []
        self.dmesg = None
        self.demo = None
        self.done = False
        # What the guest was doing when it last reported: a program, or a
        # step of /init around them.
        self.step = "booting to /init"
        pending = []
        cur = None
        in_dmesg = False
        for line in lines:
            if line.startswith(MARK):
                w = line.split()
                tag = w[1] if len(w) > 1 else ""
                self.step = self.next_step(tag, w)
                if tag == "BOOT":
                    self.boot = w[2:]
                    pending = []
                elif tag == "INSMOD":
                    self.insmod = w[2] if len(w) > 2 else "?"
                    self.insmod_out, pending = pending, []
                elif tag == "BEGIN" and len(w) > 2:
                    cur = Program(w[2])
                    self.programs.append(cur)
                elif tag == "END" and cur is not None:
                    try:
                        cur.rc = int(w[3])
                        cur.secs = int(w[4])
                    except (IndexError, ValueError):
                        cur.rc = -1
                    if len(w) > 5 and w[5] == "timeout":
                        cur.timed_out = w[6] if len(w) > 6 else "?"
                    cur = None
                elif tag == "LEAK" and len(w) > 3 and self.programs:
                    prog = self.programs[-1]
                    if prog.name == w[2]:
                        prog.leak = (w[3], " ".join(w[4:]))
                elif tag == "RMMOD":
                    self.rmmod = w[2] if len(w) > 2 else "?"
                    self.rmmod_out, pending = pending, []
                elif tag == "DEMO":
                    self.demo = int(w[2]) if len(w) > 2 and w[2].isdigit() else 1
                elif tag == "DMESG-BEGIN":
                    in_dmesg = True
                    self.dmesg_partial = []
                elif tag == "DMESG-END":
                    in_dmesg = False
                    self.dmesg = self.dmesg_partial
                elif tag == "DONE":
                    self.done = True
                continue
            if in_dmesg:
                self.dmesg_partial.append(line)
            elif cur is not None:
                cur.lines.append(line)
            elif line.strip():
                pending.append(line)

    def next_step(self, tag, w):
        """What /init does after the marker TAG (words W)."""
        arg = w[2] if len(w) > 2 else "?"
        return {
            "BOOT": "insmod vmmu.ko (or the first step of kvm mode)",
            "INSMOD": "the first program",
            "BEGIN": "program " + arg,
            "END": "the accounting check after program " + arg,
            "LEAK": "whatever follows program " + arg,
            "STEP": arg,
            "RMMOD": "the dump of the kernel log",
            "DMESG-END": "power-off",
            "DONE": "power-off",
        }.get(tag, self.step)


def signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "signal %d" % n


def kernel_problems(run, console):
    """Offending kernel log lines since vmmu was loaded, and their source."""
    if run.dmesg is not None:
        log, where = run.dmesg, "dmesg"
    else:
        log, where = console, "console"
        for i, line in enumerate(console):
            if LOAD_MARK in line:
                log = console[i + 1:]
        if not any(LOAD_MARK in line for line in console):
            log = []
    return [line for line in log if KERNEL_BAD.search(line) and
            not STACK_FRAME.search(line) and not KERNEL_NOTE.search(line)], \
        log, where


class Tap:
    def __init__(self, state):
        self.state = state

    def line(self, ok, desc, directive=None):
        self.state["n"] += 1
        passed = ok or (directive or "").upper().startswith("TODO")
        self.state["passed" if passed else "failed"] += 1
        text = "%s %d - %s" % ("ok" if ok else "not ok", self.state["n"], desc)
        if directive:
            text += " # " + directive
        print(text)

    @staticmethod
    def diag(text):
        print(("# " + text).rstrip())


def console_diag(console, qemu_log, why):
    Tap.diag(why)
    tail = [line for line in console if line.strip()][-CONSOLE_TAIL:]
    if tail:
        Tap.diag("last %d console lines:" % len(tail))
        for line in tail:
            Tap.diag("  " + line)
    for line in read_lines(qemu_log):
        if line.strip():
            Tap.diag("qemu: " + line)


def split_directive(desc):
    m = DIRECTIVE.search(desc)
    if not m:
        return desc.rstrip(), None
    return desc[:m.start()].rstrip(), desc[m.start():].lstrip("#").strip()


def program_report(tap, lane, prog, verbose, results_path, silent=None):
    results = []
    plans = []
    bail = None
    for line in prog.lines:
        m = TAP_RESULT.match(line)
        if m:
            results.append(m)
            continue
        m = TAP_PLAN.match(line)
        if m:
            plans.append(m)
        elif line.startswith("Bail out!"):
            bail = line[len("Bail out!"):].strip() or "(no reason)"
    real_fail = False
    for m in results:
        desc, directive = split_directive(m.group(3))
        if m.group(1) == "not ok" and not (directive or "").upper().startswith("TODO"):
            real_fail = True

    reasons = []
    skip = None
    if prog.rc is None and silent is not None:
        reasons.append("ended: no console output for %d s while it ran "
                       "(VMMU_SILENCE)" % silent)
    elif prog.rc is None:
        reasons.append("no end marker: the guest died or hung while it ran")
    elif prog.timed_out:
        reasons.append("timed out: still running after %s s, killed" % prog.timed_out)
    elif prog.rc == 4 and not real_fail:
        skip = "exit status 4 (KSFT_SKIP)"
    elif prog.rc > 128:
        reasons.append("killed by %s (status %d)" % (signame(prog.rc - 128), prog.rc))
    elif prog.rc != 0:
        reasons.append("exit status %d" % prog.rc)
    if bail:
        reasons.append("bailed out: %s" % bail)
    planned = None
    if len(plans) > 1:
        reasons.append("%d TAP plans" % len(plans))
    elif not plans:
        if prog.rc is not None:
            reasons.append("no TAP plan (1..N)")
    else:
        planned = int(plans[0].group(1))
        if planned == 0 and plans[0].group(2):
            _, d = split_directive("# " + plans[0].group(2))
            skip = d[4:].strip() if d and d.upper().startswith("SKIP") else skip
        if planned != len(results) and prog.rc is not None:
            reasons.append("plan 1..%d but %d result(s)" % (planned, len(results)))
    failed = bool(reasons) or real_fail
    echo = verbose or failed

    shown = 0
    for line in prog.lines:
        m = TAP_RESULT.match(line)
        if m:
            desc, directive = split_directive(m.group(3))
            desc = desc or "test %s" % (m.group(2) or "?")
            tap.line(m.group(1) == "ok", "%s %s: %s" % (lane, prog.name, desc), directive)
        elif echo and line.strip() and not TAP_PLAN.match(line):
            shown += 1
            if shown <= MAX_ECHO:
                print(line if line.startswith("#") else "#   " + line)
    if shown > MAX_ECHO:
        Tap.diag("... %d more lines in %s" % (shown - MAX_ECHO, results_path))

    if prog.leak is not None:
        state, detail = prog.leak
        tap.line(state == "ok", "%s %s: vmmu objects and page-table accounting "
                 "back at baseline" % (lane, prog.name))
        if state != "ok":
            Tap.diag("  before => after: " + detail)

    secs = "" if prog.secs is None else " (%d s)" % prog.secs
    if reasons:
        tap.line(False, "%s %s: %s%s" % (lane, prog.name, "; ".join(reasons), secs))
    else:
        tap.line(True, "%s %s: exit status %d, plan 1..%d matched%s" %
                 (lane, prog.name, prog.rc, planned, secs),
                 ("SKIP " + skip) if skip else None)


def silent_secs(lane_dir):
    """Seconds of silence after which run-lanes.sh ended the boot, or None."""
    try:
        with open(os.path.join(lane_dir, "silent")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def incomplete_reason(args, run=None):
    silent = silent_secs(args.dir) if args.dir else None
    if silent is not None:
        return ("no output on either console for %d s (VMMU_SILENCE), "
                "ended while running: %s" %
                (silent, run.step if run else "?"))
    if args.qemu_rc == 124:
        return "timed out after %d s (VMMU_TIMEOUT)" % args.timeout
    if args.qemu_rc not in (0, None):
        return "qemu exited with status %d" % args.qemu_rc
    return "the guest stopped early (panic, reboot or power-off)"


def do_lane(args):
    with open(args.state) as f:
        state = json.load(f)
    tap = Tap(state)
    lane = args.lane
    res_path = os.path.join(args.dir, "results.log")
    con_path = os.path.join(args.dir, "console.log")
    qemu_log = os.path.join(args.dir, "qemu.log")
    run = Run(read_lines(res_path))
    console = read_lines(con_path)

    try:
        if not run.boot:
            tap.line(False, "%s boot: the guest never reached /init" % lane)
            console_diag(console, qemu_log, incomplete_reason(args, run) +
                         "; console: " + con_path)
            return
        release = run.boot[0]
        paging = run.boot[1] if len(run.boot) > 1 else "?"
        if args.expect_paging and paging != args.expect_paging:
            tap.line(False, "%s boot: %s with %s paging, expected %s" %
                     (lane, release, paging, args.expect_paging))
        else:
            tap.line(True, "%s boot: %s (%s paging)" % (lane, release, paging))

        if run.insmod is not None:
            tap.line(run.insmod == "0", "%s insmod vmmu.ko%s" %
                     (lane, "" if run.insmod == "0" else ": status " + run.insmod))
            if run.insmod != "0":
                for line in run.insmod_out:
                    Tap.diag("  " + line)

        silent = silent_secs(args.dir)
        for prog in run.programs:
            program_report(tap, lane, prog, args.verbose, res_path, silent)

        if not run.done:
            tap.line(False, "%s run complete: %s" %
                     (lane, incomplete_reason(args, run)))
            console_diag(console, qemu_log, "console: " + con_path)

        if run.rmmod is not None:
            if run.rmmod == "notloaded":
                if run.insmod == "0":
                    tap.line(False, "%s rmmod vmmu: vmmu was not loaded after the "
                             "tests (a test unloaded it without reloading)" % lane)
            else:
                tap.line(run.rmmod == "0", "%s rmmod vmmu%s" %
                         (lane, "" if run.rmmod == "0" else ": status " + run.rmmod))
                if run.rmmod != "0":
                    for line in run.rmmod_out:
                        Tap.diag("  " + line)

        bad, log, where = kernel_problems(run, console)
        if bad:
            tap.line(False, "%s kernel log clean: %d offending line(s) in %s" %
                     (lane, len(bad), where))
            for line in bad[:50]:
                Tap.diag(line)
            first = log.index(bad[0])
            Tap.diag("first report in context:")
            for line in log[max(0, first - 2):first + 40]:
                Tap.diag("  " + line)
                if "---[ end trace" in line:
                    break
        elif run.dmesg is not None or any(LOAD_MARK in line for line in console):
            tap.line(True, "%s kernel log clean" % lane)
    finally:
        sys.stdout.flush()
        save_state(args.state, state)


def save_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


def do_fail(args):
    with open(args.state) as f:
        state = json.load(f)
    Tap(state).line(False, args.desc)
    sys.stdout.flush()
    save_state(args.state, state)
    return 0


def do_summary(args):
    with open(args.state) as f:
        state = json.load(f)
    if state["n"]:
        print("1..%d" % state["n"])
    print("%d passed, %d failed" % (state["passed"], state["failed"]))
    return 1 if state["failed"] or not state["n"] else 0


def do_demo(args):
    res_path = os.path.join(args.dir, "results.log")
    con_path = os.path.join(args.dir, "console.log")
    run = Run(read_lines(res_path))
    console = read_lines(con_path)
    err = sys.stderr
    if not run.boot:
        print("vmmu: the guest never reached /init: %s" %
              incomplete_reason(args, run), file=err)
    elif run.insmod != "0":
        print("vmmu: insmod vmmu.ko failed (status %s)" % run.insmod, file=err)
    elif run.demo is None:
        print("vmmu: the demo did not finish: %s" % incomplete_reason(args, run),
              file=err)
    bad, _, where = kernel_problems(run, console)
    for line in bad:
        print("vmmu: kernel log (%s): %s" % (where, line), file=err)
    if run.demo is None or not run.boot or run.insmod != "0":
        tail = [line for line in console if line.strip()][-CONSOLE_TAIL:]
        for line in tail:
            print("console: " + line, file=err)
        print("vmmu: console log: %s" % con_path, file=err)
        return 1
    if run.demo != 0:
        print("vmmu: vmmu-demo exited with status %d" % run.demo, file=err)
    return run.demo


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("lane", "summary", "fail", "demo"))
    ap.add_argument("--lane")
    ap.add_argument("--dir")
    ap.add_argument("--state")
    ap.add_argument("--qemu-rc", type=int)
    ap.add_argument("--timeout", type=int, default=0)
    ap.add_argument("--expect-paging")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--desc")
    args = ap.parse_args()
    if args.what == "lane":
        do_lane(args)
        return 0
    if args.what == "summary":
        return do_summary(args)
    if args.what == "fail":
        return do_fail(args)
    return do_demo(args)


if __name__ == "__main__":
    sys.exit(main())
