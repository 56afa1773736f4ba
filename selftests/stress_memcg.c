// SPDX-License-Identifier: GPL-2.0
/*
 * A running guest whose page tables hit the memory limit of its owner's
 * memory cgroup.
 *
 * The guest memory (a memfd) is populated from this test's own cgroup, so
 * it is charged there.  A child process maps it, moves to a new cgroup,
 * creates the VM there (vmmu charges page tables to the cgroup the VM's
 * owner was in at creation) and runs a guest that writes one page in every
 * 2 MiB of that memory: every write needs a new page-table page.  Once the
 * guest is going, memory.max is set a few pages above memory.current.
 *
 *  (a) The child is exempt from the OOM killer (oom_score_adj -1000): the
 *      memcg OOM path finds nothing to kill, the charge fails and KVM_RUN
 *      returns -ENOMEM (retries are counted: the vCPU's cache keeps what it
 *      could allocate and the charge path drains other CPUs' charge stock,
 *      so a retry may get further), with sec_pagetables in
 *      memory.stat at what vmmu holds.  After memory.max is raised, the
 *      same vCPU carries on and the guest finishes with the right sum and
 *      data.
 *  (c) As (a) with a software vCPU that maps one page in every 2 MiB with
 *      KVM_PRE_FAULT_MEMORY: -ENOMEM at the limit with the range left as it
 *      was; after the limit is raised every page is mapped and reads, through
 *      the vCPU, what the guest of (a) wrote.
 *  (b) The child may be killed: the memcg OOM killer kills it, and after
 *      the reap every object of the module is gone.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "guest_util.h"
#include "mmu_util.h"

#define P		PAGE_SIZE
#define CODE_SIZE	(16 * P)
#define CODE_GPA	0x1000ULL
#define PROGRESS_GPA	0x8000ULL
#define DATA_GPA	0x10000000ULL
#define STRIDE		BIT_ULL(21)
#define NR_TOUCH	256		/* pages written, one per STRIDE */
#define DATA_SIZE	(NR_TOUCH * STRIDE)
/*
 * memory.max is set this many pages above memory.current.  Each CPU's
 * charge stock may hold up to 63 pages more, so a guest that needs
 * NR_TOUCH tables cannot fit on 2 CPUs.
 */
#define MARGIN_PAGES	16
#define READY_PORT	0xe1
#define SUM_PORT	0xe0
#define SEED		0x5eed0000U
#define ENOMEM_RETRIES	3
#define WAIT_MS		60000

#define NR_TESTS	(10 + 5 + 4 + 1)

/*
 * OUT to READY_PORT; then write EDX + k to the first dword of page k of
 * ECX pages STRIDE apart from ESI on, counting them at EBP; OUT the sum of
 * what was read back to SUM_PORT.
 */
GUEST_CODE(mc_touch, ".code32",
	   "	out %al, $0xe1\n"
	   "	xor %eax, %eax\n"
	   "1:	mov %edx, (%esi)\n"
	   "	add (%esi), %eax\n"
	   "	incl (%ebp)\n"
	   "	add $0x200000, %esi\n"
	   "	inc %edx\n"
	   "	dec %ecx\n"
	   "	jnz 1b\n"
	   "	out %eax, $0xe0\n"
	   "	hlt\n");

/* What the child reports through shared memory. */
struct mc_report {
	int step;		/* the last step reached, see mc_child() */
	int error;		/* -errno of a failed step */
	u32 at_enomem;		/* guest writes done when KVM_RUN failed */
	u32 enomems;		/* KVM_RUN results of -ENOMEM */
	u32 final_progress;
	u32 sum;
	long pt_pages;		/* vmmu's page-table pages at the ENOMEM */
	long sec_pagetables;	/* the cgroup's, in bytes, at the ENOMEM */
	long current, max;	/* memory.current, memory.max at the ENOMEM */
	long events_max, events_oom, events_oom_kill;
	bool range_kept;	/* a failed pre-fault left its range alone */
};

enum mc_mode {
	MC_UNKILLABLE,		/* hardware vCPU, OOM-exempt */
	MC_KILLABLE,		/* hardware vCPU */
	MC_SOFTWARE,		/* software vCPU, KVM_PRE_FAULT_MEMORY, exempt */
};

enum mc_step {
	STEP_START,
	STEP_READY,		/* guest running, limit set */
	STEP_ENOMEM,		/* KVM_RUN returned -ENOMEM */
	STEP_RAISED,		/* limit raised by the parent */
	STEP_DONE,		/* guest finished */
};

static char base[CG_PATH_MAX];
static char cg_mem[CG_PATH_MAX + 32], cg_vm[CG_PATH_MAX + 32];
static struct vmmu_objects objs_base;

static u32 mc_expected_sum(void)
{
	u32 sum = 0, k;

	for (k = 0; k < NR_TOUCH; k++)
		sum += SEED + k;
	return sum;
}

static u32 mc_progress(struct guest *g)
{
	return __atomic_load_n((u32 *)(g->mem + PROGRESS_GPA), __ATOMIC_RELAXED);
}

/* Set memory.max of the VM's cgroup to @pages above memory.current. */
static int mc_limit(long *max)
{
	char val[32];

	*max = cg_read_long(cg_vm, "memory.current") + MARGIN_PAGES * P;
	snprintf(val, sizeof(val), "%ld", *max);
	return cg_write(cg_vm, "memory.max", val);
}

/* Tell the parent the child is at the limit; wait until it is raised. */
static void mc_wait_raised(struct mc_report *rep)
{
	__atomic_store_n(&rep->step, STEP_ENOMEM, __ATOMIC_RELEASE);
	while (__atomic_load_n(&rep->step, __ATOMIC_ACQUIRE) != STEP_RAISED)
		usleep(1000);
}

/*
 * Run until KVM_RUN fails; on -ENOMEM retry, then wait for the parent to
 * take the numbers and raise the limit.  At the limit nothing in here may
 * allocate: even opening a file is charged, and a user page fault that
 * cannot be charged would loop in the OOM path.
 */
static void mc_until_enomem(struct guest *g, struct mc_report *rep)
{
	int r, i;

	r = guest_run(g);
	if (r != -ENOMEM) {
		rep->error = r ? r : -EPROTO;
		return;
	}
	rep->at_enomem = mc_progress(g);
	for (i = 0; i < ENOMEM_RETRIES; i++)
		rep->enomems += guest_run(g) == -ENOMEM;
	rep->enomems++;
	mc_wait_raised(rep);
}

/*
 * The child's start: map the memory and every page the guest uses while
 * still in the memory's cgroup, then move to the VM's cgroup.
 */
static u8 *mc_child_setup(int mfd, enum mc_mode mode, struct mc_report *rep)
{
	u8 *data = mmu_map_fd(mfd, DATA_SIZE, 0, NULL);
	u32 k;
	int r;

	for (k = 0; k < NR_TOUCH; k++)
		__atomic_fetch_or(data + k * STRIDE, 0, __ATOMIC_RELAXED);
	if (mode != MC_KILLABLE &&
	    cg_write("/proc/self", "oom_score_adj", "-1000"))
		_exit(2);
	r = cg_enter(cg_vm);
	if (r) {
		rep->error = r;
		_exit(2);
	}
	return data;
}

/*
 * A software vCPU pre-faults one page in every STRIDE until
 * KVM_PRE_FAULT_MEMORY fails at the limit; after the parent raised it, the
 * rest, and then reads every page through the vCPU.
 */
static noreturn void mc_child_sw(u8 *data, struct mc_report *rep)
{
	struct kvm_pre_fault_memory range = { 0 };
	int sys_fd = vmmu_open(), vcpu_fd, r, i;
	struct mmu_vm vm;
	u32 k, word;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	mmu_set_region_or_die(vm.vm_fd, 1, 0, DATA_GPA, DATA_SIZE, data);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	r = mc_limit(&rep->max);
	if (r) {
		rep->error = r;
		_exit(2);
	}
	rep->step = STEP_READY;
	for (k = 0; k < NR_TOUCH; k++) {
		range.gpa = DATA_GPA + k * STRIDE;
		range.size = P;
		r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY,
			       (unsigned long)&range);
		if (r && r != -ENOMEM && !rep->error)
			rep->error = r;
		if (r != -ENOMEM || rep->enomems)
			continue;
		rep->at_enomem = k;
		rep->enomems++;
		/* A failed call leaves the range as it was. */
		rep->range_kept = range.gpa == DATA_GPA + k * STRIDE &&
				  range.size == P;
		/*
		 * The vCPU's cache keeps what it could allocate, and the charge
		 * path drains other CPUs' charge stock: a retry may succeed.
		 */
		for (i = 0; i < ENOMEM_RETRIES; i++) {
			range.size = P;
			rep->enomems += vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY,
						   (unsigned long)&range) ==
					-ENOMEM;
		}
		mc_wait_raised(rep);
		k--;
	}
	for (k = 0; k < NR_TOUCH; k++)
		if (mmu_read(vcpu_fd, DATA_GPA + k * STRIDE, &word, 4) ==
		    VMMU_ACCESS_DONE && word == SEED + k)
			rep->final_progress++;
	rep->step = STEP_DONE;
	close(vcpu_fd);
	mmu_vm_close(&vm);
	close(sys_fd);
	_exit(0);
}

/* The child with a hardware vCPU: the steps of enum mc_step, in @rep. */
static noreturn void mc_child_hw(u8 *data, struct mc_report *rep)
{
	struct kvm_regs regs;
	struct guest g;
	int sys_fd, r;

	sys_fd = vmmu_open();
	guest_create(&g, sys_fd, CODE_SIZE);
	memset(g.mem, 0, CODE_SIZE);
	guest_load(&g, CODE_GPA, mc_touch, GUEST_CODE_SIZE(mc_touch));
	guest_setup_protected_mode(&g, CODE_GPA);
	r = vmmu_set_region(g.vm_fd, 1, 0, DATA_GPA, DATA_SIZE, (u64)data);
	if (r) {
		rep->error = r;
		_exit(2);
	}
	guest_get_regs(&g, &regs);
	regs.rsi = DATA_GPA;
	regs.rcx = NR_TOUCH;
	regs.rdx = SEED;
	regs.rbp = PROGRESS_GPA;
	guest_set_regs(&g, &regs);
	r = guest_run(&g);
	if (r || g.run->exit_reason != KVM_EXIT_IO ||
	    g.run->io.port != READY_PORT) {
		rep->error = r ? r : -EPROTO;
		_exit(2);
	}
	r = mc_limit(&rep->max);
	if (r) {
		rep->error = r;
		_exit(2);
	}
	rep->step = STEP_READY;
	mc_until_enomem(&g, rep);
	if (rep->error)
		_exit(2);
	r = guest_run(&g);
	rep->final_progress = mc_progress(&g);
	if (r || g.run->exit_reason != KVM_EXIT_IO ||
	    g.run->io.port != SUM_PORT || g.run->io.size != 4) {
		rep->error = r ? r : -EPROTO;
		_exit(2);
	}
	rep->sum = *(u32 *)guest_io_data(&g);
	rep->step = STEP_DONE;
	guest_destroy(&g);
	close(sys_fd);
	_exit(0);
}

/* While the child waits at the limit: take the numbers, raise it. */
static void mc_at_limit(struct mc_report *rep)
{
	struct vmmu_objects now;

	vmmu_objects_read_or_die(&now);
	rep->pt_pages = now.pt_pages - objs_base.pt_pages;
	rep->sec_pagetables = cg_wait_stat(cg_vm, "sec_pagetables",
					   rep->pt_pages * P);
	rep->current = cg_read_long(cg_vm, "memory.current");
	rep->events_max = cg_read_key(cg_vm, "memory.events", "max");
	rep->events_oom = cg_read_key(cg_vm, "memory.events", "oom");
	rep->events_oom_kill = cg_read_key(cg_vm, "memory.events", "oom_kill");
	if (cg_write(cg_vm, "memory.max", "max"))
		diag("cannot raise memory.max: %s", strerror(errno));
	__atomic_store_n(&rep->step, STEP_RAISED, __ATOMIC_RELEASE);
}

/* Fork mc_child(), reap it; its wait status. */
static int mc_run_child(int mfd, enum mc_mode mode, struct mc_report *rep)
{
	int status = 0, n;
	pid_t pid;

	memset(rep, 0, sizeof(*rep));
	if (mkdir(cg_vm, 0755) && errno != EEXIST)
		bail_out("mkdir %s: %s", cg_vm, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		u8 *data = mc_child_setup(mfd, mode, rep);

		if (mode == MC_SOFTWARE)
			mc_child_sw(data, rep);
		mc_child_hw(data, rep);
	}
	for (n = 0; n < WAIT_MS; n++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		if (__atomic_load_n(&rep->step, __ATOMIC_ACQUIRE) ==
		    STEP_ENOMEM) {
			mc_at_limit(rep);
			break;
		}
		usleep(1000);
	}
	waitpid(pid, &status, 0);
	return status;
}

/* Every page the guest wrote holds SEED + its index. */
static bool mc_data_ok(const u8 *mem)
{
	u32 k;

	for (k = 0; k < NR_TOUCH; k++)
		if (*(const u32 *)(mem + k * STRIDE) != SEED + k)
			return false;
	return true;
}

static void mc_diag(const char *what, const struct mc_report *rep)
{
	diag("%s: %u guest writes before -ENOMEM, %u ENOMEMs, %ld tables, sec_pagetables %ld kB",
	     what, rep->at_enomem, rep->enomems, rep->pt_pages,
	     rep->sec_pagetables / 1024);
	diag("%s: memory.current %ld kB of max %ld kB; memory.events max %ld oom %ld oom_kill %ld",
	     what, rep->current / 1024, rep->max / 1024, rep->events_max,
	     rep->events_oom, rep->events_oom_kill);
	if (rep->error)
		diag("%s: the child failed after step %d: %s", what, rep->step,
		     errno_name(-rep->error));
}

static void test_unkillable(int mfd, u8 *mem, struct mc_report *rep)
{
	int status = mc_run_child(mfd, MC_UNKILLABLE, rep);

	mc_diag("(a)", rep);
	ok(WIFEXITED(status) && !WEXITSTATUS(status),
	   "(a) the unkillable child ran to the end (status %#x)", status);
	is_int(rep->step >= STEP_ENOMEM, 1,
	       "(a) KVM_RUN returned -ENOMEM once the page tables hit memory.max");
	ok(rep->at_enomem > 0 && rep->at_enomem < NR_TOUCH,
	   "(a) the guest wrote some pages before (%u of %u)", rep->at_enomem,
	   NR_TOUCH);
	ok(rep->pt_pages >= MARGIN_PAGES,
	   "(a) vmmu held at least the margin in page tables (%ld pages)",
	   rep->pt_pages);
	is_int(rep->sec_pagetables, rep->pt_pages * (long)P,
	       "(a) memory.stat sec_pagetables is what vmmu holds");
	ok(rep->current > 0 && rep->current <= rep->max,
	   "(a) memory.current stayed within memory.max");
	ok(rep->events_max > 0 && rep->events_oom > 0 &&
	   rep->events_oom_kill == 0,
	   "(a) memory.events: the limit was hit, OOM found nothing to kill");
	is_int(rep->step, STEP_DONE,
	       "(a) after memory.max was raised the same vCPU finished the guest");
	ok(rep->final_progress == NR_TOUCH && rep->sum == mc_expected_sum() &&
	   mc_data_ok(mem),
	   "(a) the guest's sum and every page it wrote are right");
	ok_objects(&objs_base, "(a) objects at the baseline after the child");
}

static void test_software(int mfd, struct mc_report *rep)
{
	int status = mc_run_child(mfd, MC_SOFTWARE, rep);

	mc_diag("(c)", rep);
	ok(WIFEXITED(status) && !WEXITSTATUS(status),
	   "(c) the software-vCPU child ran to the end (status %#x)", status);
	ok(rep->at_enomem > 0 && rep->at_enomem < NR_TOUCH &&
	   rep->enomems > 0 && rep->range_kept,
	   "(c) KVM_PRE_FAULT_MEMORY: -ENOMEM at the limit, its range left as it was");
	is_int(rep->sec_pagetables, rep->pt_pages * (long)P,
	       "(c) memory.stat sec_pagetables is what vmmu holds");
	is_int(rep->final_progress, NR_TOUCH,
	       "(c) after the limit was raised every page was mapped and reads the guest's data");
	ok_objects(&objs_base, "(c) objects at the baseline after the child");
}

static void test_killable(int mfd, struct mc_report *rep)
{
	int status = mc_run_child(mfd, MC_KILLABLE, rep);
	long kills = cg_read_key(cg_vm, "memory.events", "oom_kill");

	diag("(b) child reached step %d, %u guest writes; oom_kill %ld",
	     rep->step, rep->at_enomem, kills);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "(b) the memcg OOM killer killed the child (status %#x)", status);
	ok(kills > 0, "(b) memory.events counts the OOM kill");
	ok_objects(&objs_base, "(b) every object is gone after the reap");
	is_errno(rmdir(cg_vm) ? -errno : 0, 0,
		 "(b) the child's cgroup is empty and goes away");
}

static void run(void)
{
	struct mc_report *rep;
	int mfd;
	u8 *mem;
	u32 k;

	snprintf(cg_mem, sizeof(cg_mem), "%s/stress_memcg-mem", base);
	snprintf(cg_vm, sizeof(cg_vm), "%s/stress_memcg-vm", base);
	if (mkdir(cg_mem, 0755) && errno != EEXIST)
		bail_out("mkdir %s: %s", cg_mem, strerror(errno));
	/* No process may stay in base once it hands memory to children. */
	if (cg_enter(cg_mem) ||
	    cg_write(base, "cgroup.subtree_control", "+memory"))
		bail_out("cannot enable the memory controller under %s", base);

	rep = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (rep == MAP_FAILED)
		bail_out("mmap: %s", strerror(errno));
	/* The pages the guest writes, charged to this cgroup. */
	mfd = mmu_memfd("stress_memcg", DATA_SIZE);
	mem = mmu_map_fd(mfd, DATA_SIZE, 0, NULL);
	for (k = 0; k < NR_TOUCH; k++)
		mem[k * STRIDE] = 1;

	test_unkillable(mfd, mem, rep);
	if (rmdir(cg_vm))
		diag("rmdir %s: %s", cg_vm, strerror(errno));
	test_software(mfd, rep);
	if (rmdir(cg_vm))
		diag("rmdir %s: %s", cg_vm, strerror(errno));
	test_killable(mfd, rep);

	munmap(mem, DATA_SIZE);
	close(mfd);
	cg_write(base, "cgroup.subtree_control", "-memory");
	cg_enter(base);
	rmdir(cg_mem);
	ok_objects(&objs_base, "objects at the baseline at the end");
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	close(sys_fd);
	if (cg_find_base(base)) {
		skip(NR_TESTS, "no cgroup2 hierarchy");
		return tap_finish();
	}
	vmmu_objects_read_or_die(&objs_base);
	run();
	return tap_finish();
}
