#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Benchmarks of vmmu, and of vmmu next to Debian's kvm_amd (make bench).

Three parts (BENCH_PARTS); fault and tests share one QEMU boot
(selftests/vm/kvm-ref.sh --plan):
  1. vmmu alone: fault-bench (tools/bench/fault-bench.c: page faults per
     second through the software vCPU), then a quick attempt at the
     side-by-side test (kvm-probe, then a small demand_paging_test);
  2. ROUNDS rounds of
       load kvm, demand_paging_test -v N -b SIZE [-s BACKING] for each N
       and each backing (4 KiB pages, transparent huge pages, hugetlbfs
       2 MiB pages, reserved at the start of the boot),
       dirty_log_perf_test -v N -b DL_SIZE -i 3 for each N, unload kvm,
       load vmmu, the same runs, unload vmmu
     where the vmmu part is left out when its quick attempt failed.
Prints fault-bench's table, then per side and vCPU count the median guest
execution time and demand-paging rate over the rounds, and the ratio
vmmu/kvm; then the same for each phase of dirty_log_perf_test (populate,
enable logging, a dirtying pass, get and clear dirty log, disable); for a
side without results, why.
  3. qemu, a boot of its own (selftests/vm/qemu-boot.sh --side both
     --rounds QEMU_ROUNDS --stats): Debian's qemu-system-x86_64 -accel kvm
     (-smp 1, kernel-irqchip=off) boots Linux to its /init and powers off,
     QEMU_ROUNDS times on vmmu and on kvm_amd, the two taking turns.
     Prints per side the median wall time from QEMU's start to its exit
     and the ratio vmmu/kvm, then the exits of the inner boot by counter:
     every counter of the VM's debugfs statistics whose name says "exit"
     and that is not 0 on a side (vmmu's <debugfs>/vmmu/<pid>-<n>/stats and
     vcpu<n>/stats, kvm's <debugfs>/kvm/<pid>-<fd>/), from the last sample
     the guest took, every 0.5 s, before QEMU exited.
Timings under TCG are comparable only within one boot; they are reported,
never asserted.

The rate is computed here as pages / guest execution time: the rate the
6.1 demand_paging_test prints divides nanoseconds by 1e8 instead of 1e9.

Environment:
  BENCH_PARTS       the parts to run, of "fault tests qemu" (the default):
                    fault-bench, the side-by-side selftests, the QEMU
                    boots (make bench-qemu: BENCH_PARTS=qemu)
  BENCH_ROUNDS      rounds of the side-by-side test (default 3)
  BENCH_QEMU_ROUNDS boots of Linux in QEMU per side (default 3)
  QEMU_BOOT_TIMEOUT seconds each of those may take (default 300; see
                    selftests/vm/qemu-boot.sh)
  BENCH_SIZE        demand_paging_test -b, per vCPU (default 256M)
  BENCH_BACKINGS    demand_paging_test -s values (default "anonymous
                    anonymous_thp anonymous_hugetlb")
  BENCH_DL_SIZE     dirty_log_perf_test -b, per vCPU (default 64M)
  BENCH_VCPUS       vCPU counts, for both programs (default "1 2")
  BENCH_FAULT_SIZE  fault-bench -b, per vCPU (default 64M)
  BENCH_FAULT_RUNS  fault-bench -r, runs per variant (default 5)
  BENCH_LANE        lane to boot (default qemu-6.1)
  V=1               show the guest console and every program's output
Exit status: 0 when fault-bench, every kvm run, every attempted vmmu run
and every QEMU boot passed.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "selftests", "vm"))
import collect  # noqa: E402  (the lanes' own parser of results.log)
import qemu_boot  # noqa: E402  (what the QEMU boot steps reported)

PREFIX = "bench-"
QEMU_PREFIX = "bench-qemu-boot-"
PARTS = ("fault", "tests", "qemu")
TEST = "demand_paging_test"
FAULT_BENCH = "vmmu:fault-bench"
ATTEMPT = "-v 1 -b 4M"
TIME_RE = re.compile(r"Total guest execution time: ([0-9.]+)s")
NAME_RE = re.compile(r"^(kvm|vmmu):r(\d+):%s\[-v,(\d+),-b,[^,\]]*(?:,-s,([a-z_0-9]+))?\]$"
                     % TEST)
DEFAULT_BACKING = "anonymous"
BACKING_NAMES = {"anonymous": "4 KiB pages", "anonymous_thp": "transparent huge pages",
                 "anonymous_hugetlb": "hugetlbfs 2 MiB pages"}
DL_TEST = "dirty_log_perf_test"
DL_ITERS = 3
DL_NAME_RE = re.compile(r"^(kvm|vmmu):r(\d+):%s\[-v,(\d+),.*\]$" % DL_TEST)
# The phases of dirty_log_perf_test: (name, regex of its line, one value
# per iteration or one in all).
DL_PHASES = [
    ("populate", re.compile(r"^Populate memory time: ([0-9.]+)s")),
    ("enable logging", re.compile(r"^Enabling dirty logging time: ([0-9.]+)s")),
    ("dirtying pass", re.compile(r"^Iteration \d+ dirty memory time: ([0-9.]+)s")),
    ("get dirty log", re.compile(r"^Iteration \d+ get dirty log time: ([0-9.]+)s")),
    ("clear dirty log", re.compile(r"^Iteration \d+ clear dirty log time: ([0-9.]+)s")),
    ("disable logging", re.compile(r"^Disabling dirty logging time: ([0-9.]+)s")),
]


def size_bytes(s):
    m = re.match(r"^(\d+)([KMGT]?)B?$", s.upper())
    if not m:
        sys.exit("bench: BENCH_SIZE %r: want e.g. 256M" % s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


def step(side, tag, args, test=TEST):
    name = "%s:%s:%s[%s]" % (side, tag, test, ",".join(args.split()))
    return "run %s %s %s" % (name, test, args)


def dp_args(v, size, backing):
    args = "-v %d -b %s" % (v, size)
    return args if backing == DEFAULT_BACKING else args + " -s " + backing


HUGE = 2 << 20


def huge_pages_needed(size, vcpus, fault_size):
    """hugetlbfs pages for the largest run: demand_paging_test's memory
    (with a page for its alignment) or fault-bench's hugetlb variant, and
    room for the test library's own allocations."""
    most = max(size_bytes(size), size_bytes(fault_size)) * max(vcpus)
    return (most + HUGE - 1) // HUGE + 8


def make_plan(parts, rounds, size, vcpus, fault_args, dl_size, backings, fault_size):
    # fault-bench comes before the quick attempt: a failed "probe" step
    # turns the vmmu side off for the rest of the plan.
    lines = []
    if "anonymous_hugetlb" in backings:
        lines.append("hugepages %d" % huge_pages_needed(size, vcpus, fault_size))
    lines.append("load vmmu")
    if "fault" in parts:
        lines.append("run %s fault-bench %s" % (FAULT_BENCH, fault_args))
    if "tests" in parts:
        lines += ["run vmmu:kvm-probe kvm-probe",
                  step("vmmu", "attempt", ATTEMPT).replace("run ", "probe ", 1)]
    lines.append("unload vmmu")
    for r in range(1, rounds + 1 if "tests" in parts else 1):
        for side in ("kvm", "vmmu"):
            lines.append("load " + side)
            for backing in backings:
                for v in vcpus:
                    lines.append(step(side, "r%d" % r, dp_args(v, size, backing)))
            for v in vcpus:
                lines.append(step(side, "r%d" % r, "-v %d -b %s -i %d" %
                                  (v, dl_size, DL_ITERS), DL_TEST))
            lines.append("unload " + side)
    return "\n".join(lines) + "\n"


def body(prog):
    """The program's output without the kvm_tap decoration."""
    out = []
    for line in prog.lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.startswith("#"):
            out.append(line[1:])
    return out


def passed(prog):
    return prog.rc == 0 and not prog.timed_out


def status(prog):
    if prog.rc is None:
        return "no end marker (the guest died or hung)"
    if prog.timed_out:
        return "timed out after %s s" % prog.timed_out
    for line in prog.lines:
        if line.startswith("not ok 1 - "):
            return line.split(": ", 1)[-1]
    return "status %d" % prog.rc


def median_range(vals):
    return statistics.median(vals), min(vals), max(vals)


def fmt_time(vals):
    """Median (min..max), in s, ms or us as the median's size asks."""
    med, lo, hi = median_range(vals)
    for unit, scale in (("s", 1), ("ms", 1e3), ("us", 1e6)):
        if med * scale >= 1 or unit == "us":
            break
    return "%.3f %s (%.3f..%.3f)" % (med * scale, unit, lo * scale, hi * scale)


def vmmu_reason(progs):
    """Why vmmu could not run, from its quick attempt and kvm-probe."""
    probe = progs.get("vmmu:kvm-probe")
    attempt = next((p for n, p in progs.items() if n.startswith("vmmu:attempt:")), None)
    load = progs.get("load:vmmu")
    lines = []
    short = "quick attempt failed"
    if load is not None and not passed(load):
        short = "vmmu.ko did not load"
        lines += ["  load: " + status(load)] + ["    " + x for x in body(load)]
    if probe is not None:
        run_lines = [x for x in body(probe) if "KVM_RUN" in x]
        if run_lines and not any(x.startswith("ok") for x in run_lines):
            short = "no KVM_RUN"
        summary = [x for x in body(probe) if x.startswith("kvm-probe: ") and " ok" in x]
        for x in run_lines:
            lines.append("  kvm-probe: " + " ".join(x.split()))
        if summary:
            lines.append("  " + summary[-1])
    if attempt is not None:
        lines.append("  quick attempt %s %s: %s" % (TEST, ATTEMPT, status(attempt)))
        why = [x.strip() for x in body(attempt)
               if x.strip() and not x.startswith(("====", "  lib/", "  pid=", "sh: "))
               and "Testing guest mode" not in x]
        lines += ["    " + x for x in why[:3]]
    return short, lines


def kvm_reason(run, progs):
    """Why kvm_amd has no result: its load, or its runs' failures."""
    load = progs.get("load:kvm")
    if load is None:
        return "never loaded (the guest stopped before)", []
    if not passed(load):
        return "kvm_amd did not load", ["  load: " + status(load)] + \
            ["    " + x for x in body(load)]
    runs = [p for p in run.programs if NAME_RE.match(p.name) and p.name.startswith("kvm:")]
    return "every run failed", ["  %s: %s" % (p.name, status(p)) for p in runs]


def print_fault_bench(progs, failures):
    """fault-bench's table as it printed it, or why there is none."""
    prog = progs.get(FAULT_BENCH)
    print("\nvmmu fault path: fault-bench (software vCPU, VMMU_VCPU_ACCESS; medians)")
    if prog is None:
        load = progs.get("load:vmmu")
        why = status(load) if load is not None and not passed(load) else "it never ran"
        print("  no result: " + why)
        failures.append("%s: %s" % (FAULT_BENCH, why))
        return
    for line in body(prog):
        if line.strip():
            print("  " + line)
    if not passed(prog):
        failures.append("%s: %s" % (FAULT_BENCH, status(prog)))


def collect_times(run):
    """(side, vcpus, backing) -> [guest seconds] of the passed runs; failed
    runs."""
    times, failures = {}, []
    for p in run.programs:
        m = NAME_RE.match(p.name)
        if not m:
            continue
        t = None
        for line in body(p):
            tm = TIME_RE.search(line)
            if tm:
                t = float(tm.group(1))
        if not passed(p) or t is None:
            failures.append("%s: %s" % (p.name, status(p)))
            continue
        key = (m.group(1), int(m.group(3)), m.group(4) or DEFAULT_BACKING)
        times.setdefault(key, []).append(t)
    return times, failures


def collect_dl_times(run):
    """(side, vcpus, phase) -> [seconds, one per run (per-iteration phases:
    the mean over the iterations after the first)]; failed runs."""
    times, failures = {}, []
    for p in run.programs:
        m = DL_NAME_RE.match(p.name)
        if not m:
            continue
        if not passed(p):
            failures.append("%s: %s" % (p.name, status(p)))
            continue
        for phase, rx in DL_PHASES:
            vals = [float(x.group(1)) for x in map(rx.search, body(p)) if x]
            if not vals:
                continue
            # The first dirtying pass after enabling faults every page in.
            if len(vals) > 1:
                vals = vals[1:]
            times.setdefault((m.group(1), int(m.group(3)), phase), []).append(
                statistics.mean(vals))
    return times, failures


def print_dl(times, vcpus, size):
    print("\nDirty logging next to kvm_amd: %s -b %s per vCPU -i %d; medians "
          "(a dirtying pass, get and clear: the mean after the first iteration)"
          % (DL_TEST, size, DL_ITERS))
    print("%-6s %-16s %-30s %-30s %s" % ("vCPUs", "phase", "kvm_amd", "vmmu", "vmmu/kvm"))
    for v in vcpus:
        for phase, _ in DL_PHASES:
            k, m = times.get(("kvm", v, phase)), times.get(("vmmu", v, phase))
            if not k and not m:
                continue
            print("%-6d %-16s %-30s %-30s %s" % (
                v, phase, fmt_time(k) if k else "no result",
                fmt_time(m) if m else "no result",
                ratio(m and statistics.median(m), k and statistics.median(k))))


def ratio(vmmu, kvm):
    return "%.2f" % (vmmu / kvm) if vmmu and kvm else "-"


def print_side_by_side(times, vcpus, nbytes, vmmu_state, backing):
    """Per vCPU count: median guest time and rate of each side, the ratio."""
    print("%s:" % BACKING_NAMES.get(backing, backing))
    print("%-6s %-28s %-28s %s" % ("vCPUs", "kvm_amd guest time", "vmmu guest time",
                                   "vmmu/kvm"))
    for v in vcpus:
        k, m = times.get(("kvm", v, backing)), times.get(("vmmu", v, backing))
        print("%-6d %-28s %-28s %s" % (v, fmt_time(k) if k else "no result",
                                       fmt_time(m) if m else vmmu_state,
                                       ratio(m and statistics.median(m),
                                             k and statistics.median(k))))
    print("%-6s %-28s %-28s %s" % ("vCPUs", "kvm_amd pages/s", "vmmu pages/s", "vmmu/kvm"))
    for v in vcpus:
        pages = v * nbytes // 4096
        k, m = times.get(("kvm", v, backing)), times.get(("vmmu", v, backing))
        kr = pages / statistics.median(k) if k else None
        mr = pages / statistics.median(m) if m else None
        print("%-6d %-28s %-28s %s" % (v, "%.0f" % kr if kr else "no result",
                                       "%.0f" % mr if mr else vmmu_state, ratio(mr, kr)))
    print("(time ratio above 1, rate ratio below 1: vmmu is slower than kvm_amd)")


def run_lane(cmd, env, tap_path):
    """Run a lane's script, its TAP into TAP_PATH (on the terminal with
    V=1).  The lane's verdict counts the vmmu failures that are expected
    today: the results are judged one by one instead."""
    with open(tap_path, "w") as tap:
        if os.environ.get("V") == "1":
            subprocess.call(cmd, env=env)
        else:
            subprocess.call(cmd, env=env, stdout=tap)


def lane_failures(run, lane_dir, names):
    """Failed steps NAMES, a plan that did not end, kernel reports."""
    failures = ["%s: %s" % (p.name, status(p)) for p in run.programs
                if p.name in names and not passed(p)]
    if not run.done:
        failures.append("the guest stopped before the end of the plan")
    bad, _, where = collect.kernel_problems(
        run, collect.read_lines(os.path.join(lane_dir, "console.log")))
    for line in bad[:5]:
        failures.append("kernel log (%s): %s" % (where, line.strip()))
    return failures


def where_note(tap_path, lane_dir):
    return "bench: TAP of the boot in %s; guest output in %s" % (
        os.path.relpath(tap_path, TOP), os.path.relpath(lane_dir, TOP) + "/results.log")


def bench_selftests(parts, lane, outdir, failures):
    """Parts fault and tests: one boot; print their results."""
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    size = os.environ.get("BENCH_SIZE", "256M")
    vcpus = [int(v) for v in os.environ.get("BENCH_VCPUS", "1 2").split()]
    fault_size = os.environ.get("BENCH_FAULT_SIZE", "64M")
    fault_runs = int(os.environ.get("BENCH_FAULT_RUNS", "5"))
    dl_size = os.environ.get("BENCH_DL_SIZE", "64M")
    backings = os.environ.get("BENCH_BACKINGS",
                              "anonymous anonymous_thp anonymous_hugetlb").split()
    if rounds < 1 or fault_runs < 1 or not vcpus or not backings:
        sys.exit("bench: BENCH_ROUNDS, BENCH_FAULT_RUNS >= 1 and BENCH_VCPUS, "
                 "BENCH_BACKINGS non-empty, please")
    nbytes = size_bytes(size)
    size_bytes(fault_size)
    size_bytes(dl_size)
    fault_args = "-r %d -b %s -v %s" % (fault_runs, fault_size, ",".join(map(str, vcpus)))

    plan = make_plan(parts, rounds, size, vcpus, fault_args, dl_size, backings, fault_size)
    with tempfile.NamedTemporaryFile("w", dir=outdir, prefix="plan.", delete=False) as f:
        f.write(plan)
        plan_path = f.name
    tap_path = os.path.join(outdir, "tap.log")
    env = dict(os.environ, VMMU_LANE_PREFIX=PREFIX, VMMU_LANES=lane)
    what = []
    if "fault" in parts:
        what.append("fault-bench %s" % fault_args)
    if "tests" in parts:
        what.append("%d round(s) of %s -v {%s} -b %s -s {%s} and %s -b %s, kvm_amd then vmmu"
                    % (rounds, TEST, ",".join(map(str, vcpus)), size, ",".join(backings),
                       DL_TEST, dl_size))
    print("bench: one boot of lane %s: %s" % (lane, "; ".join(what)), flush=True)
    try:
        run_lane([os.path.join(TOP, "selftests", "vm", "kvm-ref.sh"), "--plan", plan_path],
                 env, tap_path)
    finally:
        os.unlink(plan_path)

    lane_dir = os.path.join(TOP, "build", "lanes", PREFIX + lane)
    run = collect.Run(collect.read_lines(os.path.join(lane_dir, "results.log")))
    if not run.boot:
        print("bench: the guest never reached /init; see %s" % tap_path)
        failures.append("lane %s: the guest never reached /init" % (PREFIX + lane))
        return
    progs = {p.name: p for p in run.programs}
    times, failed = collect_times(run)
    dl_times, dl_failures = collect_dl_times(run)
    failures += failed + dl_failures
    failures += lane_failures(run, lane_dir, ("load:kvm", "unload:kvm", "unload:vmmu"))

    print("bench: kernel %s (%s paging), QEMU TCG" % (
        run.boot[0], run.boot[1] if len(run.boot) > 1 else "?"))
    if "fault" in parts:
        print_fault_bench(progs, failures)
    if "tests" in parts:
        print_tests(run, progs, times, dl_times, rounds, size, nbytes, vcpus, backings,
                    dl_size, failures)
    print(where_note(tap_path, lane_dir))


def print_tests(run, progs, times, dl_times, rounds, size, nbytes, vcpus, backings,
                dl_size, failures):
    print("\nvmmu next to kvm_amd: %s -b %s per vCPU; medians over %d round(s) (min..max)"
          % (TEST, size, rounds))
    vmmu_ran = any(key[0] == "vmmu" for key in times)
    for backing in backings:
        print_side_by_side(times, vcpus, nbytes,
                           "no result" if vmmu_ran else "did not run", backing)
    print_dl(dl_times, vcpus, dl_size)
    if not any(key[0] == "kvm" for key in times):
        short, lines = kvm_reason(run, progs)
        print("kvm_amd: no result (%s)" % short)
        for line in lines:
            print(line)
        failures.append("kvm_amd has no result")
    attempt = next((p for n, p in progs.items() if n.startswith("vmmu:attempt:")), None)
    if not vmmu_ran:
        short, lines = vmmu_reason(progs)
        print("vmmu: did not run (%s)" % short)
        for line in lines:
            print(line)
        if attempt is not None and passed(attempt):
            failures.append("vmmu passed its quick attempt but has no timed run")


def fmt_count(vals):
    """Median (min..max) of counts."""
    med, lo, hi = median_range(vals)
    return "%.0f (%d..%d)" % (med, lo, hi) if lo != hi else "%d" % lo


def exit_counters(boot):
    """The boot's counters whose name says "exit", over the VM's scopes."""
    return {n: v for n, v in boot.totals().items() if "exit" in n}


def print_qemu_exits(done):
    """Per counter that is not 0 on a side: each side's median, vmmu/kvm."""
    counts = {}
    for b in done:
        for name, value in exit_counters(b).items():
            counts.setdefault((b.side, name), []).append(value)
    names = sorted({n for (_, n), v in counts.items() if any(v)},
                   key=lambda n: (n != "exits", n))
    ages = [b.before for b in done if b.before is not None]
    print("\nExits of the inner boot, by counter: the VM's debugfs statistics, the last "
          "sample before QEMU exited%s; medians (min..max)"
          % (" (%.1f..%.1f s before)" % (min(ages), max(ages)) if ages else ""))
    if not names:
        print("  no counter sampled (see the boots' \"# stats:\" lines)")
        return
    print("%-24s %-24s %-24s %s" % ("counter", "kvm_amd", "vmmu", "vmmu/kvm"))
    for name in names:
        k, m = counts.get(("kvm", name)), counts.get(("vmmu", name))
        print("%-24s %-24s %-24s %s" % (
            name, fmt_count(k) if k else "-", fmt_count(m) if m else "-",
            ratio(m and statistics.median(m), k and statistics.median(k))))
    print("(kvm_amd's per-VM files sum over the vCPUs; vmmu's counters are summed "
          "over its VM and vCPU files; \"-\": the side has no such counter)")


def bench_qemu(lane, outdir, failures):
    """Part qemu: a boot of its own; print its results."""
    rounds = int(os.environ.get("BENCH_QEMU_ROUNDS", "3"))
    if rounds < 1:
        sys.exit("bench: BENCH_QEMU_ROUNDS >= 1, please")
    tap_path = os.path.join(outdir, "qemu-boot-tap.log")
    env = dict(os.environ, VMMU_LANE_PREFIX=QEMU_PREFIX, VMMU_LANES=lane)
    print("\nbench: one boot of lane %s: Debian's QEMU -accel kvm boots Linux %d time(s) "
          "on vmmu and on kvm_amd, taking turns" % (lane, rounds), flush=True)
    run_lane([os.path.join(TOP, "selftests", "vm", "qemu-boot.sh"), "--side", "both",
              "--rounds", str(rounds), "--stats"], env, tap_path)

    lane_dir = os.path.join(TOP, "build", "lanes", QEMU_PREFIX + lane)
    found, run = qemu_boot.boots(lane_dir)
    if not run.boot:
        print("bench: the guest never reached /init; see %s" % tap_path)
        failures.append("lane %s: the guest never reached /init" % (QEMU_PREFIX + lane))
        return
    failures += lane_failures(run, lane_dir, ("load:kvm", "load:vmmu", "unload:kvm",
                                              "unload:vmmu"))
    done = [b for b in found if b.passed and b.secs is not None]
    for b in found:
        if b not in done:
            failures.append("%s: %s" % (b.name, b.status()))

    print("bench: kernel %s (%s paging), QEMU TCG" % (
        run.boot[0], run.boot[1] if len(run.boot) > 1 else "?"))
    print("\nQEMU boots Linux (qemu-system-x86_64 -accel kvm -smp 1, to the inner /init "
          "and its power-off): wall time from QEMU's start to its exit; medians over "
          "%d round(s) (min..max)" % rounds)
    secs = {}
    for b in done:
        secs.setdefault(b.side, []).append(b.secs)
    for side in ("kvm", "vmmu"):
        line = fmt_time(secs[side]) if side in secs else "no result"
        if side in secs and len(secs[side]) < rounds:
            line += ", %d of %d boots" % (len(secs[side]), rounds)
        print("%-9s %s" % (qemu_boot.SIDE_NAMES[side].replace("Debian's ", ""), line))
        for b in found:
            if b.side == side and b not in done:
                print("  %s: %s" % (b.name, b.status()))
    print("%-9s %s (above 1: vmmu is slower)" % (
        "vmmu/kvm", ratio(secs.get("vmmu") and statistics.median(secs["vmmu"]),
                          secs.get("kvm") and statistics.median(secs["kvm"]))))
    print_qemu_exits(done)
    print(where_note(tap_path, lane_dir))


def main():
    parts = os.environ.get("BENCH_PARTS", " ".join(PARTS)).split()
    if not parts or any(p not in PARTS for p in parts):
        sys.exit("bench: BENCH_PARTS: one or more of %s, not %r"
                 % (" ".join(PARTS), os.environ.get("BENCH_PARTS")))
    lane = os.environ.get("BENCH_LANE", "qemu-6.1")
    outdir = os.path.join(TOP, "build", "bench")
    os.makedirs(outdir, exist_ok=True)
    failures = []
    if "fault" in parts or "tests" in parts:
        bench_selftests(parts, lane, outdir, failures)
    if "qemu" in parts:
        bench_qemu(lane, outdir, failures)

    print()
    for f in failures:
        print("bench: FAILED " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
