// SPDX-License-Identifier: GPL-2.0
/*
 * Eager splitting at a memory cgroup's limit: best effort, never a failure.
 *
 * A child process creates a VM in cgroup "vm" (which vmmu charges for the
 * VM's page tables from then on) and moves to cgroup "holder", where its own
 * memory goes.  It maps 32 MiB of transparent huge pages into the VM with
 * 2 MiB leaves (a software vCPU reads each), then sets vm's memory.max a
 * little above its usage and turns dirty logging on.  Splitting the 16
 * leaves needs 16 page-table pages, more than the limit leaves room for, so
 * the split's allocations fail.  vmmu must:
 *  - succeed the KVM_SET_USER_MEMORY_REGION that turns logging on;
 *  - leave the leaves it could not split huge and write-protected;
 *  - not even try an OOM kill (__GFP_RETRY_MAYFAIL: memory.events oom and
 *    oom_kill stay 0);
 * and once the limit is lifted, guest writes to every 2 MiB range (each a
 * write fault on a huge leaf or on a split one) land in the host's memory
 * and KVM_GET_DIRTY_LOG reports exactly those pages.  Last, the control:
 * logging off, the 2 MiB leaves back, logging on without a limit splits
 * all 16.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define HUGE		(2UL << 20)
#define NR_HUGE		16
#define MEM_SIZE	(NR_HUGE * HUGE)
#define PAGES_PER_HUGE	(HUGE / PAGE_SIZE)
#define NR_PAGES	(MEM_SIZE / PAGE_SIZE)
/* Room above the usage when logging starts: less than 16 tables. */
#define MARGIN		(32UL << 10)
#define FILL		0x48554745ULL

#define NR_TESTS	10

static char base[CG_PATH_MAX];

struct result {
	int error;		/* -errno of a failed setup step, or 0 */
	int line;		/* where */
	long thp_kb;		/* AnonHugePages of the memory */
	long huge_before;	/* 2 MiB leaves before logging */
	int log_on;		/* KVM_SET_USER_MEMORY_REGION's result */
	long splits;		/* huge_splits during it */
	long huge_after;	/* 2 MiB leaves after it */
	long huge_writable;	/* of those, writable */
	long max_events;	/* memory.events "max" during it */
	long ooms;		/* memory.events "oom" at the end */
	long oom_kills;		/* memory.events "oom_kill" at the end */
	long writes_done;	/* guest writes that completed */
	long data_ok;		/* of those, in the host's memory */
	long logged;		/* pages in the dirty log */
	long logged_right;	/* of those, pages the guest wrote */
	long huge_again;	/* 2 MiB leaves after logging off */
	long splits_free;	/* huge_splits of logging on, no limit */
};

/* The page the guest writes in 2 MiB range @i. */
static u64 written_page(unsigned int i)
{
	return i * PAGES_PER_HUGE + (i * 37) % PAGES_PER_HUGE;
}

/*
 * The kernel keeps a few pages charged ahead per CPU for the last cgroup
 * that charged there (and bytes of slab objects likewise), counted in its
 * memory.current: have "holder" charge a page and a pipe on each CPU, which
 * gives vm's back, so that vm's memory.current is what it uses.
 */
static int drain_charge_stock(void)
{
	long cpu, nr = sysconf(_SC_NPROCESSORS_ONLN);
	int fds[2];
	u8 *page;
	cpu_set_t set;

	for (cpu = 0; cpu < nr; cpu++) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			return -errno;
		page = mmu_map_anon(PAGE_SIZE, NULL);
		page[0] = 1;
		if (pipe(fds))
			return -errno;
		close(fds[0]);
		close(fds[1]);
		munmap(page, PAGE_SIZE);
	}
	CPU_ZERO(&set);
	for (cpu = 0; cpu < nr; cpu++)
		CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * A read of each 2 MiB of the slot, so that the vCPU maps it; the stats
 * after.  Return: the 2 MiB leaves now, or -1 if a read failed.
 */
static long map_huge(int vm_fd, int vcpu, struct vmmu_stats *st)
{
	unsigned int i;
	u64 w;

	for (i = 0; i < NR_HUGE; i++)
		if (st_access(vcpu, VMMU_ACCESS_READ, i * HUGE, &w,
			      sizeof(w)) != VMMU_ACCESS_DONE)
			return -1;
	st_stats_or_die(vm_fd, st);
	return st->mapped[1];
}

/* Note a failed setup step; returns @line for the caller to return. */
static int failed(struct result *res, int err, int line)
{
	res->error = err;
	res->line = line;
	return line;
}

static int child(const char *cg, const char *holder, struct result *res)
{
	static u64 bitmap[NR_PAGES / 64];
	struct kvm_dirty_log dl = { .slot = 0, .dirty_bitmap = bitmap };
	struct vmmu_stats st0, st1;
	struct vmmu_translation tr;
	char val[32];
	struct mmu_vm vm;
	int sys_fd, vcpu, r;
	unsigned int i;
	u8 *res_mem, *mem;
	long cur, events0;
	u64 w;

	r = cg_enter(cg);
	if (r)
		return failed(res, r, __LINE__);
	sys_fd = vmmu_open();
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	r = cg_enter(holder);
	if (r)
		return failed(res, r, __LINE__);
	res_mem = mmu_map_anon(MEM_SIZE + HUGE, NULL);
	mem = (u8 *)(((unsigned long)res_mem + HUGE - 1) & ~(HUGE - 1));
	if (madvise(mem, MEM_SIZE, MADV_HUGEPAGE))
		return failed(res, -errno, __LINE__);
	for (i = 0; i < NR_PAGES; i++)
		*(u64 *)(mem + i * PAGE_SIZE) = FILL + i;
	res->thp_kb = mmu_thp_collapse(mem, MEM_SIZE, 5);

	vcpu = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	mmu_set_region_or_die(vm.vm_fd, 0, 0, 0, MEM_SIZE, mem);
	res->huge_before = map_huge(vm.vm_fd, vcpu, &st0);
	if (res->huge_before < 0)
		return failed(res, -EIO, __LINE__);

	/* The limit: a little above what the cgroup uses now. */
	r = drain_charge_stock();
	if (r)
		return failed(res, r, __LINE__);
	cur = cg_read_long(cg, "memory.current");
	events0 = cg_read_key(cg, "memory.events", "max");
	if (cur < 0 || events0 < 0)
		return failed(res, -ENOENT, __LINE__);
	snprintf(val, sizeof(val), "%ld", cur + (long)MARGIN);
	r = cg_write(cg, "memory.max", val);
	if (r)
		return failed(res, r, __LINE__);
	res->log_on = vmmu_set_region(vm.vm_fd, 0, KVM_MEM_LOG_DIRTY_PAGES, 0,
				      MEM_SIZE, (unsigned long)mem);
	res->max_events = cg_read_key(cg, "memory.events", "max") - events0;
	r = cg_write(cg, "memory.max", "max");
	if (r)
		return failed(res, r, __LINE__);
	st_stats_or_die(vm.vm_fd, &st1);
	res->splits = st1.huge_splits - st0.huge_splits;
	for (i = 0; i < NR_HUGE; i++) {
		if (mmu_translate(vcpu, i * HUGE, &tr))
			return failed(res, -EIO, __LINE__);
		if ((tr.flags & VMMU_TR_PRESENT) && tr.level == 2) {
			res->huge_after++;
			if (tr.flags & VMMU_TR_WRITABLE)
				res->huge_writable++;
		}
	}

	/* Writes through huge and split leaves alike, then the log. */
	for (i = 0; i < NR_HUGE; i++) {
		w = 0x5752495445000000ULL | i;
		if (st_access(vcpu, VMMU_ACCESS_WRITE,
			      written_page(i) * PAGE_SIZE, &w,
			      sizeof(w)) != VMMU_ACCESS_DONE)
			continue;
		res->writes_done++;
		if (*(u64 *)(mem + written_page(i) * PAGE_SIZE) == w)
			res->data_ok++;
	}
	if (ioctl(vm.vm_fd, KVM_GET_DIRTY_LOG, &dl))
		return failed(res, -errno, __LINE__);
	for (i = 0; i < NR_PAGES; i++) {
		if (!(bitmap[i / 64] & (1ULL << (i % 64))))
			continue;
		res->logged++;
		if (i == written_page(i / PAGES_PER_HUGE))
			res->logged_right++;
	}
	res->ooms = cg_read_key(cg, "memory.events", "oom");
	res->oom_kills = cg_read_key(cg, "memory.events", "oom_kill");

	/* The control: the same without a limit. */
	mmu_set_region_or_die(vm.vm_fd, 0, 0, 0, MEM_SIZE, mem);
	res->huge_again = map_huge(vm.vm_fd, vcpu, &st0);
	if (res->huge_again < 0)
		return failed(res, -EIO, __LINE__);
	mmu_set_region_or_die(vm.vm_fd, 0, KVM_MEM_LOG_DIRTY_PAGES, 0,
			      MEM_SIZE, mem);
	st_stats_or_die(vm.vm_fd, &st1);
	res->splits_free = st1.huge_splits - st0.huge_splits;
	close(vcpu);
	mmu_vm_close(&vm);
	close(sys_fd);
	munmap(res_mem, MEM_SIZE + HUGE);
	return 0;
}

static void run(void)
{
	struct result res = { .error = -EPIPE };
	char holder[CG_PATH_MAX + 32], cg[CG_PATH_MAX + 32];
	int pipefd[2], status;
	pid_t pid;

	snprintf(holder, sizeof(holder), "%s/huge_memcg-holder", base);
	snprintf(cg, sizeof(cg), "%s/huge_memcg-vm", base);
	if ((mkdir(holder, 0755) && errno != EEXIST) ||
	    (mkdir(cg, 0755) && errno != EEXIST))
		bail_out("cannot create cgroups under %s: %s", base,
			 strerror(errno));
	/* No process may stay in base once it hands memory to children. */
	if (cg_enter(holder) ||
	    cg_write(base, "cgroup.subtree_control", "+memory"))
		bail_out("cannot enable the memory controller under %s", base);
	if (pipe(pipefd))
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		res.error = 0;
		child(cg, holder, &res);
		if (write(pipefd[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
		res.error = -EPIPE;
	waitpid(pid, &status, 0);
	if (!is_int(res.error, 0, "the VM's process ran to the end (status %#x)",
		    status))
		diag("failed at line %d", res.line);
	diag("AnonHugePages %ld kB; 2 MiB leaves %ld before logging, %ld after (%ld writable);",
	     res.thp_kb, res.huge_before, res.huge_after, res.huge_writable);
	diag("  %ld splits at logging on, %ld times at memory.max (%lu kB above the usage)",
	     res.splits, res.max_events, MARGIN >> 10);
	ok(res.huge_before > 0, "%ld 2 MiB leaves before logging (of %d)",
	   res.huge_before, NR_HUGE);
	is_int(res.log_on, 0,
	       "logging on at the cgroup's limit succeeded");
	ok(res.splits < res.huge_before &&
	   res.huge_after == res.huge_before - res.splits && res.max_events > 0,
	   "the split stopped at the limit: %ld leaves split, %ld left huge",
	   res.splits, res.huge_after);
	is_int(res.huge_writable, 0, "the leaves left huge are write-protected");
	ok(!res.ooms && !res.oom_kills,
	   "no OOM kill, not even tried (%ld, %ld)", res.ooms, res.oom_kills);
	is_int(res.writes_done, NR_HUGE,
	       "a guest write to each 2 MiB range completed");
	is_int(res.data_ok, NR_HUGE, "each is in the host's memory");
	ok(res.logged == NR_HUGE && res.logged_right == NR_HUGE,
	   "the dirty log has exactly the pages written (%ld, %ld right)",
	   res.logged, res.logged_right);
	ok(res.huge_again > 0 && res.splits_free == res.huge_again,
	   "without the limit: logging off maps %ld 2 MiB leaves again, logging on splits %ld",
	   res.huge_again, res.splits_free);
	rmdir(cg);
	cg_write(base, "cgroup.subtree_control", "-memory");
	cg_enter(base);
	rmdir(holder);
}

int main(void)
{
	struct vmmu_objects objs;

	tap_plan(NR_TESTS + 1);
	vmmu_objects_read_or_die(&objs);
	if (cg_find_base(base))
		skip(NR_TESTS, "no cgroup2 hierarchy");
	else
		run();
	ok_objects(&objs, "objects back at baseline");
	return tap_finish();
}
