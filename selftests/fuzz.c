// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: a seeded, reproducible ioctl fuzzer for /dev/vmmu.
 *
 *   fuzz [-s SEED] [-d SECONDS] [-e EPOCH] [-t THREADS] [-n OPS_PER_EPOCH]
 *
 * The run is a sequence of epochs; each is a forked child (see
 * lib/fuzz_child.c) whose THREADS threads issue OPS_PER_EPOCH random
 * operations each, from streams seeded by (SEED, EPOCH, thread), and that
 * ends in a way drawn from (SEED, EPOCH): returning and closing everything,
 * exit_group() with its fds open and guests running, or SIGKILL from this
 * process mid-operation.  After every epoch this process reaps the child
 * and whatever it forked, and checks that vmmu's objects are back at the
 * baseline, that the kernel log holds no splat, and that inherited fds
 * failed with EIO in forked processes.  A failed epoch prints the command
 * that replays it: "replay: fuzz -s SEED -e EPOCH".  With -t 1 an epoch's
 * operations are fully determined by the seed; with several threads each
 * thread's are, but not their interleaving.
 *
 * The seed defaults to one from the clock and is printed first.  The run
 * lasts 60 s on the debug kernel and 15 s elsewhere unless -d says
 * otherwise; the environment variables VMMU_FUZZ_SEED, VMMU_FUZZ_SECONDS,
 * VMMU_FUZZ_EPOCH and VMMU_FUZZ_THREADS give defaults for -s, -d, -e, -t
 * (the test lanes pass them on to the guest).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "fail_util.h"
#include "fuzz_util.h"
#include "guest_util.h"

/* TAP lines for the epochs: the run is cut into this many slices. */
#define FZ_SLICES		6
#define FZ_THREADS		3
#define FZ_OPS			150
/* An epoch that runs longer is killed; one not reaped after that is stuck. */
#define FZ_EPOCH_LIMIT_S	60
#define FZ_REAP_LIMIT_S		60
#define FZ_SETTLE_S		10
#define FZ_NS			1000000000ULL

static const char * const fz_class_names[FZ_NR_CLASSES] = {
	[FZ_OP_VM_CREATE] = "vm-create",
	[FZ_OP_SET_MMU] = "set-mmu",
	[FZ_OP_VCPU_CREATE] = "vcpu-create",
	[FZ_OP_MEMSLOT] = "memslot",
	[FZ_OP_IOCTL] = "ioctl",
	[FZ_OP_RANDOM_IOCTL] = "random-ioctl",
	[FZ_OP_GUEST] = "guest",
	[FZ_OP_CLOSE] = "close",
	[FZ_OP_DUP] = "dup",
	[FZ_OP_FORK] = "fork",
	[FZ_OP_MEM] = "host-mm",
	[FZ_OP_RUN_MAP] = "run-mmap",
	[FZ_OP_ZAP] = "zap-all",
	[FZ_OP_PFNCACHE] = "pfncache",
	[FZ_OP_RUNSTATE] = "runstate",
};

static struct {
	u64 seed;
	long long epoch;		/* -1: every epoch */
	unsigned int threads;
	unsigned int ops;
	unsigned int seconds;
	bool debug;
	bool inject;
	struct fz_stats *stats;		/* shared with the epoch child */
	struct fz_stats total;
	struct vmmu_objects baseline;
	struct vmmu_objects first;	/* at the reap, if not the baseline */
	int kmsg_fd;
	u64 epochs;
	u64 ends[FZ_NR_ENDS];
	u64 late_frees;
	bool stuck;
} fz;

static u64 fz_env(const char *name, u64 def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static bool fz_debug_kernel(void)
{
	struct utsname u;

	return fail_available() ||
	       (!uname(&u) && strstr(u.release, "-vmmu-debug"));
}

static void fz_options(int argc, char **argv)
{
	int c;

	fz.seed = fz_env("VMMU_FUZZ_SEED", vmmu_now_ns() ^ getpid());
	fz.seconds = fz_env("VMMU_FUZZ_SECONDS", 0);
	fz.epoch = fz_env("VMMU_FUZZ_EPOCH", -1);
	fz.threads = fz_env("VMMU_FUZZ_THREADS", FZ_THREADS);
	fz.ops = FZ_OPS;
	while ((c = getopt(argc, argv, "s:d:e:t:n:")) != -1) {
		switch (c) {
		case 's':
			fz.seed = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			fz.seconds = strtoul(optarg, NULL, 0);
			break;
		case 'e':
			fz.epoch = strtoll(optarg, NULL, 0);
			break;
		case 't':
			fz.threads = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			fz.ops = strtoul(optarg, NULL, 0);
			break;
		default:
			bail_out("usage: fuzz [-s SEED] [-d SECONDS] [-e EPOCH] %s",
				 "[-t THREADS] [-n OPS_PER_EPOCH]");
		}
	}
	if (!fz.threads || fz.threads > FZ_MAX_THREADS)
		bail_out("-t: 1 to %d threads", FZ_MAX_THREADS);
	fz.debug = fz_debug_kernel();
	if (!fz.seconds)
		fz.seconds = fz.debug ? 60 : 15;
}

static void fz_add_stats(const struct fz_stats *s)
{
	u64 *to = (u64 *)&fz.total;
	const u64 *from = (const u64 *)s;
	size_t i;

	for (i = 0; i < offsetof(struct fz_stats, eio_cmd) / 8; i++)
		to[i] += from[i];
}

/* Reap every process left (orphans come to us: we are their subreaper). */
static bool fz_reap_all(void)
{
	u64 end = vmmu_now_ns() + 10 * FZ_NS;

	while (vmmu_now_ns() < end) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid < 0 && errno == ECHILD)
			return true;
		if (pid <= 0)
			usleep(2000);
	}
	return false;
}

/* Wait for @pid until @limit_ns; its status, or -1. */
static int fz_wait(pid_t pid, u64 limit_ns, u64 kill_at_ns)
{
	int status;

	while (vmmu_now_ns() < limit_ns) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		if (kill_at_ns && vmmu_now_ns() >= kill_at_ns) {
			kill(pid, SIGKILL);
			kill_at_ns = 0;
		}
		usleep(2000);
	}
	return -1;
}

/* Print where the tasks of @pid sleep in the kernel. */
static void fz_stuck_diag(pid_t pid)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	diag("%s:\n%s", path, buf);
}

/* Run the child of epoch @e to its end; its wait status, or -1 if stuck. */
static int fz_epoch_child(const struct fz_epoch *ep, u64 kill_ms)
{
	u64 start = vmmu_now_ns();
	pid_t pid = fork();
	int status;

	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		setpgid(0, 0);
		fz_child_run(ep);
	}
	setpgid(pid, pid);
	status = fz_wait(pid, start + FZ_EPOCH_LIMIT_S * FZ_NS,
			 ep->end == FZ_END_KILLED ? start + kill_ms * 1000000 :
						    0);
	if (status == -1) {
		diag("epoch %llu: the child did not end in %d s: SIGKILL",
		     (unsigned long long)ep->epoch, FZ_EPOCH_LIMIT_S);
		kill(-pid, SIGKILL);
		status = fz_wait(pid, vmmu_now_ns() + FZ_REAP_LIMIT_S * FZ_NS,
				 0);
		if (status == -1) {
			diag("epoch %llu: a task is stuck in the kernel",
			     (unsigned long long)ep->epoch);
			fz_stuck_diag(pid);
			fz.stuck = true;
			return -1;
		}
		status = 0x100;		/* counts as a failed child */
	}
	kill(-pid, SIGKILL);
	if (!fz_reap_all()) {
		diag("epoch %llu: a forked process cannot be reaped",
		     (unsigned long long)ep->epoch);
		fz.stuck = true;
		return -1;
	}
	return status;
}

/*
 * Wait until vmmu/objects is back at the baseline: at once, or within
 * FZ_SETTLE_S when a kernel user of the dead child's mm (a test pfncache's
 * refresh work) dropped the mm last, so that its kvm_run mappings, and with
 * them the VM, are released by the kernel's delayed fput.  The milliseconds
 * it took, or -1.
 */
static long long fz_objects_settle(struct vmmu_objects *now)
{
	u64 start = vmmu_now_ns();
	bool first = true;

	for (;;) {
		vmmu_objects_read_or_die(now);
		if (vmmu_objects_equal(now, &fz.baseline) && first)
			return 0;
		if (vmmu_objects_equal(now, &fz.baseline)) {
			vmmu_objects_diag("objects at the reap", &fz.first);
			return (vmmu_now_ns() - start) / 1000000 ?: 1;
		}
		if (vmmu_now_ns() - start > FZ_SETTLE_S * FZ_NS)
			return -1;
		if (first)
			fz.first = *now;
		first = false;
		usleep(10000);
	}
}

/* Did the child end the way it was meant to? */
static bool fz_status_ok(const struct fz_epoch *ep, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (ep->end == FZ_END_KILLED && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL)
		return true;
	if (WIFSIGNALED(status))
		diag("epoch %llu: the child died of signal %d",
		     (unsigned long long)ep->epoch, WTERMSIG(status));
	else
		diag("epoch %llu: the child exited with %d",
		     (unsigned long long)ep->epoch, WEXITSTATUS(status));
	return false;
}

/* The checks after an epoch; prints why it failed. */
static bool fz_epoch_checks(const struct fz_epoch *ep, int status)
{
	struct vmmu_objects now;
	long long late_ms;
	unsigned int bad;
	bool good = fz_status_ok(ep, status);

	late_ms = fz_objects_settle(&now);
	if (late_ms > 0) {
		fz.late_frees++;
		diag("epoch %llu: objects at the baseline %lld ms %s (%llu pfncache timers)",
		     (unsigned long long)ep->epoch, late_ms, "after the reap",
		     (unsigned long long)fz.stats->timers_started);
	}
	if (late_ms < 0) {
		vmmu_objects_diag("objects at the start", &fz.baseline);
		vmmu_objects_diag("objects after the epoch", &now);
		good = false;
	}
	if (fz.stats->eio_broken) {
		diag("epoch %llu: %llu ioctl(s) on inherited fds %s (ioctl %#llx gave %lld)",
		     (unsigned long long)ep->epoch,
		     (unsigned long long)fz.stats->eio_broken,
		     "did not fail with EIO",
		     (unsigned long long)fz.stats->eio_cmd,
		     (long long)fz.stats->eio_ret);
		good = false;
	}
	bad = fz.kmsg_fd >= 0 ? fz_kmsg_scan(fz.kmsg_fd) : 0;
	if (bad) {
		diag("epoch %llu: %u kernel log line(s) report a problem",
		     (unsigned long long)ep->epoch, bad);
		good = false;
	}
	return good;
}

static bool fz_run_epoch(u64 e)
{
	struct fz_epoch ep = {
		.seed = fz.seed, .epoch = e, .nr_threads = fz.threads,
		.nr_ops = fz.ops, .inject = fz.inject, .stats = fz.stats,
	};
	struct fz_rng r;
	u64 x, kill_ms;
	int status;
	bool good;

	fz_rng_init(&r, fz.seed, e, FZ_STREAM_EPOCH);
	x = fz_rand(&r);
	ep.end = (x & 3) == 3 ? FZ_END_KILLED : (x & 3) == 2 ?
		 FZ_END_EXIT_GROUP : FZ_END_RETURN;
	kill_ms = 5 + (x >> 8) % (fz.debug ? 2000 : 500);
	memset(fz.stats, 0, sizeof(*fz.stats));
	status = fz_epoch_child(&ep, kill_ms);
	good = status >= 0 && fz_epoch_checks(&ep, status);
	fz_add_stats(fz.stats);
	fz.epochs++;
	fz.ends[ep.end]++;
	if (!good)
		diag("replay: fuzz -s %llu -e %llu -t %u -n %u",
		     (unsigned long long)fz.seed, (unsigned long long)e,
		     fz.threads, fz.ops);
	return good;
}

/* Run epochs from *@next until @end_ns (at least one): one TAP line. */
static void fz_slice(unsigned int slice, u64 *next, u64 end_ns)
{
	u64 first = *next, failed = 0;

	if (fz.stuck) {
		ok(false, "slice %u: not run, a task was stuck", slice);
		return;
	}
	do {
		if (!fz_run_epoch((*next)++))
			failed++;
	} while (!fz.stuck && vmmu_now_ns() < end_ns);
	ok(!failed, "slice %u: epochs %llu..%llu clean (%llu failed)", slice,
	   (unsigned long long)first, (unsigned long long)*next - 1,
	   (unsigned long long)failed);
}

static void fz_summary(u64 ns)
{
	const struct fz_stats *s = &fz.total;
	char line[512];
	u64 ops = 0;
	int n = 0;
	unsigned int i;

	for (i = 0; i < FZ_NR_CLASSES; i++) {
		ops += s->ops[i];
		n += snprintf(line + n, sizeof(line) - n, " %s %llu",
			      fz_class_names[i], (unsigned long long)s->ops[i]);
	}
	diag("seed %llu: %llu epochs (ends: return %llu, exit_group %llu, SIGKILL %llu) in %llu s",
	     (unsigned long long)fz.seed, (unsigned long long)fz.epochs,
	     (unsigned long long)fz.ends[FZ_END_RETURN],
	     (unsigned long long)fz.ends[FZ_END_EXIT_GROUP],
	     (unsigned long long)fz.ends[FZ_END_KILLED],
	     (unsigned long long)(ns / FZ_NS));
	diag("operations %llu:%s", (unsigned long long)ops, line);
	diag("ioctls succeeded %llu, failed %llu; KVM_RUN %llu, entered %llu; fail-nth armed %llu",
	     (unsigned long long)s->ioctl_ok,
	     (unsigned long long)s->ioctl_failed,
	     (unsigned long long)s->runs,
	     (unsigned long long)s->runs_entered,
	     (unsigned long long)s->faults_armed);
	diag("stats fds read and closed %llu, preads failed %llu (not counting negative offsets)",
	     (unsigned long long)s->stats_fds,
	     (unsigned long long)s->stats_read_errors);
	for (n = 0, i = 0; i < FZ_EXIT_REASONS; i++)
		if (s->exits[i])
			n += snprintf(line + n, sizeof(line) - n, " %s %llu",
				      guest_exit_name(i),
				      (unsigned long long)s->exits[i]);
	diag("exits:%s", n ? line : " none");
	diag("epochs whose objects were freed after the reap: %llu",
	     (unsigned long long)fz.late_frees);
}

int main(int argc, char **argv)
{
	u64 start, next, span;
	unsigned int i, slices;
	int sys_fd, hw;

	fz_options(argc, argv);
	diag("seed %llu", (unsigned long long)fz.seed);
	slices = fz.epoch >= 0 ? 1 : FZ_SLICES;
	tap_plan(slices + 2);
	diag("%u s, %u thread(s), %u operations per thread and epoch%s",
	     fz.seconds, fz.threads, fz.ops,
	     fz.debug ? ", debug kernel" : "");
	sys_fd = vmmu_open();
	hw = guest_hw_available(sys_fd);
	close(sys_fd);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		bail_out("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	fz.stats = mmap(NULL, sizeof(*fz.stats), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fz.stats == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	fz_child_prepare(fz.threads);
	fz.inject = fz.debug && !fail_setup();
	fz.kmsg_fd = fz_kmsg_open();
	if (fz.kmsg_fd < 0)
		diag("/dev/kmsg: %s; the kernel log is not checked",
		     strerror(-fz.kmsg_fd));
	vmmu_objects_read_or_die(&fz.baseline);

	start = vmmu_now_ns();
	next = fz.epoch >= 0 ? (u64)fz.epoch : 0;
	span = fz.epoch >= 0 ? 0 : fz.seconds * FZ_NS / slices;
	for (i = 0; i < slices; i++)
		fz_slice(i, &next, start + (i + 1) * span);
	if (fz.inject)
		fail_restore();
	fz_summary(vmmu_now_ns() - start);

	ok(fz.total.ioctl_ok && fz.total.ioctl_failed,
	   "ioctls both succeeded (%llu) and failed (%llu)",
	   (unsigned long long)fz.total.ioctl_ok,
	   (unsigned long long)fz.total.ioctl_failed);
	if (hw < 0)
		skip(1, "guests: %s", guest_hw_why());
	else
		ok(fz.total.runs_entered, "guests ran: %llu KVM_RUN entered",
		   (unsigned long long)fz.total.runs_entered);
	return tap_finish();
}
