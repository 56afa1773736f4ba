// SPDX-License-Identifier: GPL-2.0
/*
 * VMs with running guests created and destroyed many times, and processes
 * that die or exit while their guests run and fault.
 *
 * Every VM has hardware vCPUs (SVM or VMX, whichever the machine has) in
 * 32-bit flat protected mode, a code slot at guest-physical 0 and one or
 * two data slots of fresh anonymous memory, which the guests fault in.
 *
 *  (a) Create-run-destroy rounds: a VM with 1..3 vCPUs, each of which
 *      writes a word to each of its pages, sums what it reads back and
 *      reports the sum with an OUT; the sum and the memory are checked.
 *      The fds are then closed in an order that varies with the round
 *      (VM fd first or last, kvm_run unmapped before or after its vCPU
 *      fd).  After every round the module's objects and SecPageTables are
 *      back at the baseline; MemAvailable does not drift over the rounds.
 *  (b) A child process whose vCPU threads run guests that keep writing to
 *      every data page, while its main thread adds and deletes a memslot
 *      (each delete zaps every root, so the guests fault again) and drops
 *      the data pages, is killed with SIGKILL: every object is gone after
 *      each reap.
 *  (c) The same child leaves by exit() from its main thread (atexit
 *      handlers and the stdio flush run, which the parent checks) or by
 *      exit_group from another thread while the vCPUs are in KVM_RUN.
 *  (d) A process creates a VM, runs its guests, forks a child that inherits
 *      every fd, and exits.  Its mm is gone, so the VM's page tables are
 *      released (the notifier's release), although the VM lives on in the
 *      child's fd; the child's VM and vCPU ioctls fail with EIO, and once
 *      it is reaped every object is gone.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define MAX_VCPUS	3
#define CODE_SIZE	(16 * P)
#define CODE_GPA	0x1000ULL
#define PROGRESS_GPA	0x8000ULL	/* one dword per vCPU, 64 bytes apart */
#define DATA_GPA	0x100000ULL
#define DATA_STRIDE	0x100000ULL	/* between data slots */
#define VCPU_PAGES	16		/* data pages each vCPU touches */
#define TOGGLE_GPA	0x800000ULL	/* the slot (b) adds and deletes */
#define TOGGLE_SLOT	3
#define SUM_PORT	0xe0
/* Page-table pages a vCPU keeps for its next fault (the module's cache). */
#define VCPU_PT_RESERVE	8
#define SUM_STEP	0x9e3779b9U
#define WAIT_MS		30000
#define SEC_POLL_US	10000
#define SEC_POLL_MAX	300

#define ROUNDS_A	200
#define ROUNDS_B	12
#define ROUNDS_C	6
#define ROUNDS_D	6
/* How much MemAvailable may drop over the rounds of (a) without a leak. */
#define MEM_SLACK_KIB	(16 * 1024)

#define NR_TESTS	(6 + 3 + 4 + 3 + 5 + 1)

/*
 * Write EDX to the first dword of each of ECX pages from ESI on, EDI bytes
 * apart, adding SUM_STEP to EDX each time, and sum what is read back
 * (rotated); OUT the sum to SUM_PORT.
 */
GUEST_CODE(lc_sum, ".code32",
	   "	xor %eax, %eax\n"
	   "1:	mov %edx, (%esi)\n"
	   "	add (%esi), %eax\n"
	   "	rol $5, %eax\n"
	   "	add %edi, %esi\n"
	   "	add $0x9e3779b9, %edx\n"
	   "	dec %ecx\n"
	   "	jnz 1b\n"
	   "	out %eax, $0xe0\n"
	   "	hlt\n");

/*
 * Forever: increment the first dword of each of ECX pages from ESI on,
 * then the pass counter at EBP.
 */
GUEST_CODE(lc_spin, ".code32",
	   "2:	mov %esi, %edi\n"
	   "	mov %ecx, %ebx\n"
	   "1:	incl (%edi)\n"
	   "	add $0x1000, %edi\n"
	   "	dec %ebx\n"
	   "	jnz 1b\n"
	   "	incl (%ebp)\n"
	   "	jmp 2b\n");

/*
 * A VM with @nr_vcpus vCPUs and @nr_data data slots of @data_size bytes, in
 * which each vCPU touches VCPU_PAGES pages @stride bytes apart.
 */
struct lc_vm {
	struct guest g;
	unsigned int nr_vcpus;
	unsigned int nr_data;
	u64 stride;
	size_t data_size;
	int vcpu_fd[MAX_VCPUS];
	struct kvm_run *run[MAX_VCPUS];
	u8 *data[2];
};

static struct vmmu_objects base;

static void lc_vm_create(struct lc_vm *vm, int sys_fd, unsigned int nr_vcpus,
			 unsigned int nr_data, u64 stride, const u8 *code,
			 size_t len)
{
	unsigned int i;
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->nr_vcpus = nr_vcpus;
	vm->nr_data = nr_data;
	vm->stride = stride;
	vm->data_size = MAX_VCPUS * VCPU_PAGES * stride;
	guest_create(&vm->g, sys_fd, CODE_SIZE);
	guest_load(&vm->g, CODE_GPA, code, len);
	guest_setup_protected_mode(&vm->g, CODE_GPA);
	for (i = 0; i < nr_data; i++) {
		vm->data[i] = vmmu_alloc_guest_memory(vm->data_size);
		r = vmmu_set_region(vm->g.vm_fd, 1 + i, 0,
				    DATA_GPA + i * DATA_STRIDE, vm->data_size,
				    (u64)vm->data[i]);
		if (r)
			bail_out("data slot %u: %s", i, errno_name(-r));
	}
	vm->vcpu_fd[0] = vm->g.vcpu_fd;
	vm->run[0] = vm->g.run;
	for (i = 1; i < nr_vcpus; i++)
		vm->vcpu_fd[i] = guest_vcpu_add(&vm->g, i, &vm->run[i]);
}

/* Where vCPU @i's data pages start, and their host address. */
static u64 lc_data_gpa(const struct lc_vm *vm, unsigned int i)
{
	return DATA_GPA + (i % vm->nr_data) * DATA_STRIDE +
	       i * VCPU_PAGES * vm->stride;
}

static u8 *lc_data_hva(const struct lc_vm *vm, unsigned int i)
{
	return vm->data[i % vm->nr_data] + i * VCPU_PAGES * vm->stride;
}

/* Start vCPU @i at the code with ESI at its data and EDX = @seed. */
static void lc_set_regs(struct lc_vm *vm, unsigned int i, u32 seed)
{
	struct kvm_regs regs;
	int r;

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	regs.rsi = lc_data_gpa(vm, i);
	regs.rcx = VCPU_PAGES;
	regs.rdx = seed;
	regs.rdi = vm->stride;
	regs.rbp = PROGRESS_GPA + i * 64;
	r = vmmu_ioctl(vm->vcpu_fd[i], KVM_SET_REGS, (unsigned long)&regs);
	if (r)
		bail_out("KVM_SET_REGS on vCPU %u: %s", i, errno_name(-r));
}

/* The sum lc_sum reports for @seed. */
static u32 lc_expected_sum(u32 seed)
{
	u32 sum = 0, i;

	for (i = 0; i < VCPU_PAGES; i++, seed += SUM_STEP) {
		sum += seed;
		sum = sum << 5 | sum >> 27;
	}
	return sum;
}

/* Are the words lc_sum wrote for @seed in vCPU @i's pages? */
static bool lc_data_ok(const struct lc_vm *vm, unsigned int i, u32 seed)
{
	const u8 *hva = lc_data_hva(vm, i);
	unsigned int k;

	for (k = 0; k < VCPU_PAGES; k++, seed += SUM_STEP)
		if (*(const u32 *)(hva + k * vm->stride) != seed)
			return false;
	return true;
}

/* Run vCPU @i of lc_sum to its OUT: true if the sum and data are right. */
static bool lc_run_sum(struct lc_vm *vm, unsigned int i, u32 seed)
{
	struct kvm_run *run = vm->run[i];
	int r;

	lc_set_regs(vm, i, seed);
	r = vmmu_ioctl(vm->vcpu_fd[i], KVM_RUN, 0);
	if (r || run->exit_reason != KVM_EXIT_IO ||
	    run->io.port != SUM_PORT || run->io.size != 4 ||
	    run->io.direction != KVM_EXIT_IO_OUT) {
		diag("  vCPU %u: KVM_RUN %s, exit %s", i, errno_name(-r),
		     guest_exit_name(run->exit_reason));
		return false;
	}
	if (*(u32 *)((u8 *)run + run->io.data_offset) != lc_expected_sum(seed) ||
	    !lc_data_ok(vm, i, seed)) {
		diag("  vCPU %u: sum %#x, expected %#x", i,
		     *(u32 *)((u8 *)run + run->io.data_offset),
		     lc_expected_sum(seed));
		return false;
	}
	return true;
}

static void lc_unmap_runs(struct lc_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		munmap(vm->run[i], vm->g.mmap_size);
}

static void lc_close_vcpus(struct lc_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++)
		close(vm->vcpu_fd[i]);
}

/*
 * Close everything in one of four orders: kvm_run unmapped before or after
 * the vCPU fds, the VM fd first or last.  Then unmap the guest memory.
 */
static void lc_vm_destroy(struct lc_vm *vm, unsigned int order)
{
	unsigned int i;

	switch (order % 4) {
	case 0:
		lc_unmap_runs(vm);
		lc_close_vcpus(vm);
		close(vm->g.vm_fd);
		break;
	case 1:
		close(vm->g.vm_fd);
		lc_close_vcpus(vm);
		lc_unmap_runs(vm);
		break;
	case 2:
		lc_close_vcpus(vm);
		lc_unmap_runs(vm);
		close(vm->g.vm_fd);
		break;
	default:
		close(vm->g.vm_fd);
		lc_unmap_runs(vm);
		lc_close_vcpus(vm);
	}
	for (i = 0; i < vm->nr_data; i++)
		munmap(vm->data[i], vm->data_size);
	munmap(vm->g.mem, vm->g.mem_size);
}

/* Rounds in which SecPageTables took a moment to come back (diagnostics). */
static unsigned int sec_late;

/*
 * Are the objects and SecPageTables at the baseline?  Prints them if not.
 * The objects file waits for RCU-deferred frees, so its counters are exact
 * at once; /proc/meminfo may show the frees a little later even after
 * stat_refresh, so SecPageTables is polled up to a bound.
 */
static bool lc_at_base(long long sec_base, const char *when)
{
	struct vmmu_objects now;
	long long sec;
	int i;

	vmmu_objects_read_or_die(&now);
	sec = meminfo_kib_exact("SecPageTables");
	for (i = 0; sec != sec_base && i < SEC_POLL_MAX; i++) {
		usleep(SEC_POLL_US);
		sec = meminfo_kib_exact("SecPageTables");
	}
	sec_late += i > 0;
	if (vmmu_objects_equal(&now, &base) && sec == sec_base)
		return true;
	diag("  %s: SecPageTables %lld kB, at the start %lld kB", when, sec,
	     sec_base);
	vmmu_objects_diag(when, &now);
	return false;
}

/* (a) ---------------------------------------------------------------- */

struct round_a {
	unsigned int runs, sums_ok, clean;
};

static void round_a(int sys_fd, unsigned int round, long long sec_base,
		    struct round_a *res)
{
	unsigned int nr_vcpus = 1 + round % MAX_VCPUS, i;
	struct lc_vm vm;

	lc_vm_create(&vm, sys_fd, nr_vcpus, 1 + round / 3 % 2, P, lc_sum,
		     GUEST_CODE_SIZE(lc_sum));
	for (i = 0; i < nr_vcpus; i++) {
		res->runs++;
		res->sums_ok += lc_run_sum(&vm, i, round * 0x10001U + i);
	}
	lc_vm_destroy(&vm, round / 6);
	res->clean += lc_at_base(sec_base, "(a) after the round");
}

static void part_a(int sys_fd, unsigned int rounds)
{
	long long sec_base = meminfo_kib_exact("SecPageTables");
	long long mem_before, mem_after;
	struct round_a res = { 0 };
	unsigned int i, warm = 8, want_runs = 0;
	u64 start;

	/* Let slab caches and the like reach their steady size first. */
	for (i = 0; i < warm; i++)
		round_a(sys_fd, i, sec_base, &res);
	memset(&res, 0, sizeof(res));
	mem_before = meminfo_available_kib();
	start = vmmu_now_ns();
	for (i = 0; i < rounds; i++) {
		round_a(sys_fd, i, sec_base, &res);
		want_runs += 1 + i % MAX_VCPUS;
	}
	mem_after = meminfo_available_kib();
	diag("(a) %u rounds, %u guest runs, %u pages faulted in, %.1f ms",
	     rounds, res.runs, res.runs * VCPU_PAGES,
	     (vmmu_now_ns() - start) / 1e6);
	diag("(a) MemAvailable %lld kB before, %lld kB after", mem_before,
	     mem_after);
	ok(sec_base >= 0, "(a) SecPageTables is in /proc/meminfo");
	is_int(res.runs, want_runs, "(a) 1..3 vCPUs per round");
	is_int(res.sums_ok, res.runs,
	       "(a) every guest reported the right sum and wrote its pages");
	is_int(res.clean, rounds,
	       "(a) objects and SecPageTables at the baseline after every round");
	/* KASAN's quarantine makes MemAvailable meaningless there. */
	if (st_debug_kernel())
		skip(1, "MemAvailable: debug kernel (kmemleak checks leaks)");
	else
		ok(mem_before > 0 && mem_after >= mem_before - MEM_SLACK_KIB,
		   "(a) MemAvailable dropped by less than %d kB",
		   MEM_SLACK_KIB);
	ok_objects(&base, "(a) objects at the baseline at the end");
}

/* (b), (c): children with running, faulting guests ------------------- */

enum lc_end { END_KILL, END_EXIT, END_EXIT_GROUP };

/* What a child shares with the parent. */
struct lc_shared {
	atomic_ulong slot_changes;
	atomic_ulong drops;
	atomic_ulong bad_runs;
	atomic_int in_run;	/* vCPU threads inside KVM_RUN */
};

struct lc_thread {
	pthread_t thread;
	int vcpu_fd;
	struct lc_shared *sh;
};

static void *lc_vcpu_main(void *arg)
{
	struct lc_thread *t = arg;

	for (;;) {
		int r;

		atomic_fetch_add(&t->sh->in_run, 1);
		r = vmmu_ioctl(t->vcpu_fd, KVM_RUN, 0);
		atomic_fetch_sub(&t->sh->in_run, 1);
		if (r != -EINTR)
			atomic_fetch_add(&t->sh->bad_runs, 1);
	}
	return NULL;
}

static int lc_atexit_fd = -1;

static void lc_atexit(void)
{
	char c = 'A';

	if (write(lc_atexit_fd, &c, 1) != 1)
		_exit(5);
}

/* Add and delete the toggled slot, then drop the data pages. */
static void lc_change_slots(struct lc_vm *vm, struct lc_shared *sh,
			    void *toggle)
{
	if (vmmu_set_region(vm->g.vm_fd, TOGGLE_SLOT, 0, TOGGLE_GPA, P,
			    (u64)toggle) ||
	    vmmu_delete_region(vm->g.vm_fd, TOGGLE_SLOT))
		_exit(6);
	atomic_fetch_add(&sh->slot_changes, 1);
	madvise(vm->data[0], vm->data_size, MADV_DONTNEED);
	atomic_fetch_add(&sh->drops, 1);
}

struct lc_exiter {
	struct lc_vm *vm;
	struct lc_shared *sh;
	void *toggle;
	unsigned int changes;
};

/* (c): change slots, then exit_group while the vCPUs are in KVM_RUN. */
static void *lc_exiter_main(void *arg)
{
	struct lc_exiter *e = arg;
	unsigned int i;

	for (i = 0; i < e->changes; i++)
		lc_change_slots(e->vm, e->sh, e->toggle);
	syscall(SYS_exit_group, 0);
	return NULL;
}

/* Until every vCPU's pass counter moved (bounded): true if they did. */
static bool lc_all_progress(struct lc_vm *vm)
{
	unsigned int i, n;

	for (i = 0; i < vm->nr_vcpus; i++)
		for (n = 0; !__atomic_load_n((u32 *)(vm->g.mem + PROGRESS_GPA +
						     i * 64), __ATOMIC_RELAXED);
		     n++) {
			if (n == WAIT_MS)
				return false;
			usleep(1000);
		}
	return true;
}

/*
 * The child: @nr_vcpus vCPU threads spin over the data pages; a byte on
 * @ready_fd once every guest made a pass; then slot changes until killed,
 * or exit() or exit_group after @round % 4 + 1 of them.  @out is a stdio
 * stream to the parent that only the exit flushes.
 */
static noreturn void lc_child(enum lc_end end, unsigned int nr_vcpus,
			      unsigned int round, int ready_fd, FILE *out,
			      struct lc_shared *sh)
{
	static struct lc_thread threads[MAX_VCPUS];
	struct lc_exiter ex;
	struct lc_vm vm;
	pthread_t exiter;
	unsigned int i, changes = round % 4 + 1;
	void *toggle;
	char c = 'R';
	int sys_fd;

	sys_fd = vmmu_open();
	lc_vm_create(&vm, sys_fd, nr_vcpus, 1, P, lc_spin,
		     GUEST_CODE_SIZE(lc_spin));
	toggle = vmmu_alloc_guest_memory(P);
	for (i = 0; i < nr_vcpus; i++) {
		lc_set_regs(&vm, i, 0);
		threads[i].vcpu_fd = vm.vcpu_fd[i];
		threads[i].sh = sh;
		if (pthread_create(&threads[i].thread, NULL, lc_vcpu_main,
				   &threads[i]))
			_exit(3);
	}
	if (!lc_all_progress(&vm) || write(ready_fd, &c, 1) != 1)
		_exit(4);
	switch (end) {
	case END_KILL:
		for (;;)
			lc_change_slots(&vm, sh, toggle);
	case END_EXIT:
		for (i = 0; i < changes; i++)
			lc_change_slots(&vm, sh, toggle);
		lc_atexit_fd = ready_fd;
		atexit(lc_atexit);
		fprintf(out, "flushed by exit\n");
		exit(0);
	case END_EXIT_GROUP:
		ex = (struct lc_exiter){ &vm, sh, toggle, changes };
		if (pthread_create(&exiter, NULL, lc_exiter_main, &ex))
			_exit(3);
		for (;;)
			pause();
	}
	_exit(7);
}

struct round_bc {
	unsigned int ready, ended, in_run, exit_done, clean;
	unsigned long changes;
};

/* Wait (bounded) until the child made @n slot changes. */
static void lc_wait_changes(struct lc_shared *sh, unsigned long n)
{
	unsigned int i;

	for (i = 0; i < WAIT_MS && atomic_load(&sh->slot_changes) < n; i++)
		usleep(1000);
}

static void round_bc(enum lc_end end, unsigned int round,
		     struct lc_shared *sh, long long sec_base,
		     struct round_bc *res)
{
	int ready[2], out[2], status = 0;
	char buf[64] = "", c = 0;
	ssize_t n, len = 0;
	bool in_run;
	pid_t pid;

	if (pipe(ready) || pipe(out))
		bail_out("pipe: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		FILE *f = fdopen(out[1], "w");

		close(ready[0]);
		close(out[0]);
		if (!f)
			_exit(2);
		lc_child(end, 1 + round % MAX_VCPUS, round, ready[1], f, sh);
	}
	close(ready[1]);
	close(out[1]);
	if (read(ready[0], &c, 1) == 1 && c == 'R')
		res->ready++;
	in_run = atomic_load(&sh->in_run) > 0;
	if (end == END_KILL) {
		lc_wait_changes(sh, round % 4 + 1);
		kill(pid, SIGKILL);
	}
	while ((n = read(out[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	if (end == END_EXIT && read(ready[0], &c, 1) == 1 && c == 'A' &&
	    !strcmp(buf, "flushed by exit\n"))
		res->exit_done++;
	close(ready[0]);
	close(out[0]);
	waitpid(pid, &status, 0);
	if (end == END_KILL ? WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL :
			      WIFEXITED(status) && !WEXITSTATUS(status))
		res->ended++;
	else
		diag("  round %u: child status %#x", round, status);
	res->in_run += in_run && !atomic_load(&sh->bad_runs);
	res->changes += atomic_load(&sh->slot_changes);
	res->clean += lc_at_base(sec_base, "after the reap");
}

static void part_bc(enum lc_end end, unsigned int rounds, struct lc_shared *sh)
{
	static const char * const names[] = {
		"(b) SIGKILL", "(c) exit()", "(c) exit_group",
	};
	long long sec_base = meminfo_kib_exact("SecPageTables");
	const char *name = names[end];
	struct round_bc res = { 0 };
	u64 start = vmmu_now_ns();
	unsigned int i;

	for (i = 0; i < rounds; i++)
		round_bc(end, i, sh, sec_base, &res);
	diag("%s: %u children with 1..3 running vCPUs, %lu memslot changes, %.1f ms",
	     name, rounds, res.changes, (vmmu_now_ns() - start) / 1e6);
	ok(res.ready == rounds && res.in_run == rounds,
	   "%s: every child's guests ran and faulted in KVM_RUN (%u, %u)",
	   name, res.ready, res.in_run);
	is_int(res.ended, rounds, "%s: every child ended as expected", name);
	if (end == END_EXIT)
		is_int(res.exit_done, rounds,
		       "%s: atexit handlers ran and stdio was flushed", name);
	is_int(res.clean, rounds,
	       "%s: objects and SecPageTables at the baseline after every reap",
	       name);
}

/* (d) ---------------------------------------------------------------- */

/* What the holder of the VM reports. */
struct lc_holder_report {
	long run, get_regs, set_regs, create_vcpu, set_region, mmap_size;
	long sum_ok;		/* from the creator */
	long tables;		/* page-table pages after its guests ran */
};

struct round_d {
	unsigned int sums_ok, alive, released, eio, clean;
};

/* In the holder: every VM and vCPU ioctl fails; /dev/vmmu still works. */
static void lc_holder(struct lc_vm *vm, int sys_fd, int go_fd,
		      struct lc_holder_report *rep)
{
	struct kvm_regs regs;
	char c;

	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	rep->run = vmmu_ioctl(vm->vcpu_fd[0], KVM_RUN, 0);
	rep->get_regs = vmmu_ioctl(vm->vcpu_fd[1], KVM_GET_REGS,
				   (unsigned long)&regs);
	memset(&regs, 0, sizeof(regs));
	rep->set_regs = vmmu_ioctl(vm->vcpu_fd[0], KVM_SET_REGS,
				   (unsigned long)&regs);
	rep->create_vcpu = vmmu_ioctl(vm->g.vm_fd, KVM_CREATE_VCPU, 2);
	rep->set_region = vmmu_delete_region(vm->g.vm_fd, 1);
	rep->mmap_size = vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	_exit(0);
}

/* The creator: run both guests, fork the holder, exit. */
static noreturn void lc_creator(unsigned int round, int go_fd,
				struct lc_holder_report *rep)
{
	int sys_fd = vmmu_open();
	struct vmmu_objects objs;
	struct lc_vm vm;
	pid_t pid;

	/* A page per 2 MiB: many more tables than the vCPUs' caches hold. */
	lc_vm_create(&vm, sys_fd, 2, 1, BIT_ULL(21), lc_sum,
		     GUEST_CODE_SIZE(lc_sum));
	rep->sum_ok = lc_run_sum(&vm, 0, round) && lc_run_sum(&vm, 1, ~round);
	vmmu_objects_read_or_die(&objs);
	rep->tables = objs.pt_pages - base.pt_pages;
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (!pid)
		lc_holder(&vm, sys_fd, go_fd, rep);
	_exit(0);
}

static void round_d(unsigned int round, struct lc_holder_report *rep,
		    long long sec_base, struct round_d *res)
{
	struct vmmu_objects now;
	int go[2], status;
	pid_t creator, holder;
	char c = 'g';
	long long sec;
	long kept;

	if (pipe(go))
		bail_out("pipe: %s", strerror(errno));
	memset(rep, 0, sizeof(*rep));
	fflush(stdout);
	creator = fork();
	if (creator < 0)
		bail_out("fork: %s", strerror(errno));
	if (!creator) {
		close(go[1]);
		lc_creator(round, go[0], rep);
	}
	close(go[0]);
	waitpid(creator, &status, 0);
	res->sums_ok += rep->sum_ok == 1;

	/* The holder is our child now (subreaper), with the VM's fds. */
	vmmu_objects_read_or_die(&now);
	sec = meminfo_kib_exact("SecPageTables");
	res->alive += now.vms == base.vms + 1 && now.vcpus == base.vcpus + 2;
	/*
	 * Left: the root, which the vCPUs still reference, and the pages
	 * each vCPU keeps in reserve for its next fault.
	 */
	kept = now.roots - base.roots + 2 * VCPU_PT_RESERVE;
	if (now.pt_pages - base.pt_pages <= kept &&
	    sec - sec_base <= kept * 4 && rep->tables > kept)
		res->released++;
	else
		diag("  round %u: %ld tables (%ld before), %ld roots, %s +%lld kB",
		     round, now.pt_pages - base.pt_pages, rep->tables,
		     now.roots - base.roots, "SecPageTables", sec - sec_base);

	if (write(go[1], &c, 1) != 1)
		diag("  round %u: cannot wake the holder", round);
	close(go[1]);
	holder = waitpid(-1, &status, 0);
	if (holder <= 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		diag("  round %u: holder status %#x", round, status);
	if (rep->run == -EIO && rep->get_regs == -EIO && rep->set_regs == -EIO &&
	    rep->create_vcpu == -EIO && rep->set_region == -EIO &&
	    rep->mmap_size > 0)
		res->eio++;
	else
		diag("  round %u: RUN %ld REGS %ld %ld CREATE_VCPU %ld slot %ld %ld",
		     round, rep->run, rep->get_regs, rep->set_regs,
		     rep->create_vcpu, rep->set_region, rep->mmap_size);
	res->clean += lc_at_base(sec_base, "(d) after the holder");
}

static void part_d(struct lc_holder_report *rep, unsigned int rounds)
{
	long long sec_base = meminfo_kib_exact("SecPageTables");
	unsigned int i;
	struct round_d res = { 0 };
	u64 start = vmmu_now_ns();

	for (i = 0; i < rounds; i++)
		round_d(i, rep, sec_base, &res);
	diag("(d) %u creators exited, leaving their VM to a child, %.1f ms",
	     rounds, (vmmu_now_ns() - start) / 1e6);
	is_int(res.sums_ok, rounds,
	       "(d) the creator's guests reported the right sums");
	is_int(res.alive, rounds,
	       "(d) the VM and its vCPUs outlive the creator in the child's fds");
	is_int(res.released, rounds,
	       "(d) the creator's exit released the VM's page tables (only roots and fault reserves stay)");
	is_int(res.eio, rounds,
	       "(d) KVM_RUN, KVM_GET/SET_REGS, KVM_CREATE_VCPU and a memslot change from the child: EIO; /dev/vmmu works");
	is_int(res.clean, rounds,
	       "(d) objects and SecPageTables at the baseline after the child");
}

int main(void)
{
	void *shared;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	/* Reap the orphaned holders of (d). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	shared = mmap(NULL, P, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		bail_out("mmap shared: %s", strerror(errno));
	vmmu_objects_read_or_die(&base);

	part_a(sys_fd, ROUNDS_A);
	part_bc(END_KILL, ROUNDS_B, shared);
	part_bc(END_EXIT, ROUNDS_C, shared);
	part_bc(END_EXIT_GROUP, ROUNDS_C, shared);
	part_d(shared, ROUNDS_D);

	close(sys_fd);
	diag("SecPageTables came back after a delay in %u rounds", sec_late);
	ok_objects(&base, "objects at the baseline at the end");
	return tap_finish();
}
