#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a qemu-boot step (selftests/vm/qemu-boot-guest.sh) reported, read
from its lane's results.log: for make run-qemu and make bench.

  qemu_boot.py report --dir LANEDIR
      Print the inner guest's console markers, the wall time of the inner
      boot and the statistics of QEMU's VM (the last sample the step took
      before QEMU exited, qemu-boot-guest.sh -S) as a table, for each
      qemu-boot step of the lane.  Exits 1 when there is none, or one
      failed.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collect  # noqa: E402  (the lanes' own parser of results.log)

# The step's name in the plan: SIDE:qemu-boot, or SIDE:rROUND:qemu-boot.
STEP_RE = re.compile(r"^(kvm|vmmu):(?:r(\d+):)?qemu-boot$")
WALL_RE = re.compile(r"^ok \d+ - inner boot: ([0-9.]+) s of wall time")
STATS_RE = re.compile(r"^# stats: (\S+), the last of (\d+) samples, "
                      r"([0-9.-]+) s before QEMU exited")
STAT_RE = re.compile(r"^# stat: (\S+) (\w+) (\d+)$")
PEAK_RE = re.compile(r"^# peak: (\S+) (\w+) (\d+)$")
MARKER_RE = re.compile(r"^# console: (@@INNER .*)$")
SIDE_NAMES = {"kvm": "Debian's kvm_amd", "vmmu": "vmmu"}

# What vmmu's statistics count (include/vmmu/stats_vm.h, stats_vcpu.h).
MEANINGS = {
    "faults": "page faults handled by the MMU",
    "fault_retries": "faults that retried (an invalidation or memslot change raced)",
    "pages_mapped": "leaves installed, any level",
    "prefetched": "of those, 4 KiB neighbours mapped by fault-around",
    "pages_4k": "present 4 KiB leaves now",
    "pages_2m": "present 2 MiB leaves now",
    "pages_1g": "present 1 GiB leaves now",
    "pages_512g": "present 512 GiB leaves now",
    "pages_256t": "present 256 TiB leaves now",
    "leaves_zapped": "present leaves removed",
    "tables": "page-table pages now, roots included",
    "tables_freed": "page-table pages freed",
    "invalidations": "host invalidations of ranges a memslot maps",
    "roots_valid": "roots on the valid list now",
    "roots_invalid": "roots on the invalid list now",
    "roots_invalidated": "roots moved to the invalid list",
    "remote_tlb_flush": "TLB flushes of every vCPU",
    "leaves_wrprot": "leaves write-protected for dirty logging",
    "pf_fast": "write faults fixed by the lockless fast path",
    "nx_lpage_splits": "tables there only for the iTLB-multihit workaround",
    "huge_splits": "huge leaves split in place",
    "huge_recovered": "tables zapped to map huge leaves again",
    "young_cleared": "accessed bits cleared for the host's aging",
    "invalidate_seq": "the invalidation sequence",
    "invalidate_in_progress": "invalidations between start and end now",
    "exits": "exits from the guest, any reason",
    "io_exits": "KVM_EXIT_IO exits to QEMU",
    "mmio_exits": "KVM_EXIT_MMIO exits to QEMU",
    "halt_exits": "KVM_EXIT_HLT exits to QEMU",
    "irq_injections": "interrupts of KVM_INTERRUPT delivered",
    "irq_window_exits": "interrupt-window exits from the guest",
    "request_irq_exits": "KVM_EXIT_IRQ_WINDOW_OPEN exits to QEMU",
    "nmi_injections": "NMIs of KVM_NMI delivered",
    "nmi_window_exits": "exits that waited for an NMI to be deliverable",
    "emulator_replays": "entries replayed (QEMU's SVM emulation)",
    "signal_exits": "KVM_RUN ended by a signal (KVM_EXIT_INTR)",
    "tlb_flush": "TLB flushes the vCPU performed",
    "dirty_ring_full_exits": "stops for a full dirty ring",
}


class Boot:
    """One qemu-boot step: its side, round, verdict, markers, wall time
    and statistics (scope -> name -> value; scope "vm" or "vcpu<n>"), and
    the values an earlier sample had larger (peaks, the same way)."""

    def __init__(self, prog):
        m = STEP_RE.match(prog.name)
        self.name = prog.name
        self.side = m.group(1)
        self.round = int(m.group(2) or 1)
        self.prog = prog
        self.failed = [x for x in prog.lines if x.startswith("not ok ")]
        self.passed = prog.rc == 0 and not prog.timed_out and not self.failed
        self.secs = None
        self.markers = []
        self.stats = {}
        self.peaks = {}
        self.stats_dir = None
        self.samples = 0
        self.before = None
        for line in prog.lines:
            w, s, st, pk, mk = (rx.match(line) for rx in
                                (WALL_RE, STATS_RE, STAT_RE, PEAK_RE, MARKER_RE))
            if w:
                self.secs = float(w.group(1))
            elif s:
                self.stats_dir = s.group(1)
                self.samples = int(s.group(2))
                self.before = float(s.group(3))
            elif st or pk:
                into = self.stats if st else self.peaks
                x = st or pk
                into.setdefault(x.group(1), {})[x.group(2)] = int(x.group(3))
            elif mk:
                self.markers.append(mk.group(1))

    def status(self):
        if self.prog.rc is None:
            return "no end marker (the lane's guest died or hung)"
        if self.prog.timed_out:
            return "timed out after %s s" % self.prog.timed_out
        if self.failed:
            return "; ".join(x.split(" - ", 1)[-1] for x in self.failed)
        return "status %d" % self.prog.rc if self.prog.rc else "passed"

    def totals(self):
        """name -> value summed over the VM's scopes (kvm's VM files sum
        over the vCPUs already)."""
        out = {}
        for values in self.stats.values():
            for name, value in values.items():
                out[name] = out.get(name, 0) + value
        return out


def boots(lane_dir):
    """The qemu-boot steps of a lane and the parsed Run, in plan order."""
    run = collect.Run(collect.read_lines(os.path.join(lane_dir, "results.log")))
    return [Boot(p) for p in run.programs if STEP_RE.match(p.name)], run


def stat_table(values, peaks, meanings=True, nonzero=False):
    """NAME VALUE [MEANING], and the peak of a value that was larger in an
    earlier sample."""
    width = max([len(n) for n in values] + [8])
    for name, value in values.items():
        if nonzero and not value and not peaks.get(name):
            continue
        text = MEANINGS.get(name, "") if meanings else ""
        if name in peaks:
            text += " (%d in an earlier sample)" % peaks[name]
        print(("   %-*s %12d   %s" % (width, name, value, text.strip())).rstrip())


def print_report(boot):
    side = SIDE_NAMES[boot.side]
    print("== The inner guest's console markers (%s)" % boot.name)
    for line in boot.markers or ["(none: the inner /init never ran)"]:
        print("   " + line)
    print("== Boot time")
    if boot.secs is not None:
        print("   %.1f s of wall time, QEMU start to exit (QEMU -accel kvm on %s, "
              "inside QEMU TCG)" % (boot.secs, side))
    else:
        print("   no time: %s" % boot.status())
    if boot.stats_dir is None:
        print("== Statistics: none sampled (the step ran without -S, or QEMU "
              "created no VM)")
        return
    print("== Statistics of QEMU's VM, %s: the last of %d samples, %.1f s before "
          "QEMU exited" % (boot.stats_dir.replace("/sys/kernel/debug", "<debugfs>"),
                           boot.samples, boot.before))
    if boot.side == "kvm":
        print("   (kvm's files; values not 0 only, the vCPUs' summed)")
        stat_table(boot.stats.get("vm", {}), boot.peaks.get("vm", {}), meanings=False,
                   nonzero=True)
        return
    print("   the VM's MMU (stats)")
    stat_table(boot.stats.get("vm", {}), boot.peaks.get("vm", {}))
    for scope in sorted(s for s in boot.stats if s != "vm"):
        print("   %s (%s/stats)" % (scope.replace("vcpu", "vCPU "), scope))
        stat_table(boot.stats[scope], boot.peaks.get(scope, {}))


def do_report(args):
    found, run = boots(args.dir)
    if not found:
        why = "the lane's guest never reached /init" if not run.boot else \
            "no qemu-boot step ran (%s)" % run.step
        print("qemu-boot: no result: %s; see %s" % (why, os.path.join(args.dir, "results.log")))
        return 1
    rc = 0
    for boot in found:
        print_report(boot)
        if not boot.passed:
            print("qemu-boot: %s FAILED: %s" % (boot.name, boot.status()))
            rc = 1
    return rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    rep = sub.add_parser("report")
    rep.add_argument("--dir", required=True)
    args = ap.parse_args()
    return do_report(args)


if __name__ == "__main__":
    sys.exit(main())
