// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure sweeps over every ioctl vmmu accepts, and mmap of a
 * vCPU fd.
 *
 * For each call: N = 1, 2, ...: make the N-th allocation of this thread
 * fail (fail-nth, see fail_util.h), make the call, and stop at the first N
 * at which no failure was injected.  At every step the call either
 * succeeded and did the right thing (the failure was absorbed), or failed
 * with -ENOMEM or one of the errnos listed for it, and then changed
 * nothing: the memslot list is byte-identical, the module's object counts
 * are the same (calls that fault guest memory in may keep the roots and
 * page-table pages they built: the retry uses them), no fd was added, and
 * the same call without injection then succeeds and does the right thing.
 * A guest on a hardware vCPU that touches fresh pages is swept through
 * KVM_RUN: a fault that failed is retried at the next KVM_RUN and the guest
 * finishes with the right data.
 *
 * Needs CONFIG_FAULT_INJECTION with failslab and fail_page_alloc (the
 * debug lane's kernel); skips everywhere else.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fail_util.h"
#include "guest_util.h"
#include "hv_util.h"
#include "mmu_util.h"
#include "pfncache_util.h"

/* Steps per call at most: far above what any call allocates. */
#define SWEEP_MAX_N	1000
#define MEM_SIZE	(24ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define RS_GPA_A	0x8000ULL
#define RS_GPA_B	0xa000ULL
/* The guest touches one word every 2 MiB + 4 KiB: a new table each time. */
#define TOUCH_GPA	(4ULL << 20)
#define TOUCH_STRIDE	((2ULL << 20) + PAGE_SIZE)
#define TOUCH_NR	8
#define TOUCH_SEED	0x5eedf00dULL
#define PORT_DONE	0x10
/* Software vCPU accesses and pre-faults cross a 2 MiB boundary. */
#define SW_MEM_SIZE	(8ULL << 20)
#define SW_GPA		((2ULL << 20) - 2 * PAGE_SIZE)
#define SW_LEN		(4 * PAGE_SIZE)
#define SW_SLOT_GPA	(16ULL << 20)
#define SW_MOVED_GPA	(32ULL << 20)
#define PC_GPA		0x3008ULL
#define PC_LEN		64
#define LOG_MARK	"fail_sweep: start"
#define SVM_STATE	"/sys/kernel/debug/vmmu/svm"

GUEST_CODE(touch, ".code64",
	   "1:	mov %rdi, %rax\n"
	   "	xor %rbx, %rax\n"
	   "	mov %rax, (%rdi)\n"
	   "	add %rdx, %rdi\n"
	   "	cmp %rsi, %rdi\n"
	   "	jb 1b\n"
	   "	out %al, $0x10\n"
	   "	hlt\n");

/**
 * struct sweep_op - one call swept
 * @name: what the TAP line calls it
 * @errnos: what a failed call may return besides ENOMEM, 0-terminated
 * @fault_path: the call faults guest memory in: roots and page-table pages
 *	built before the failure may stay
 * @reset: optional, before every step: the state the call starts from
 * @call: the call, returning its result or -errno; allocates nothing in
 *	userspace
 * @check: after a successful call: is the result right?
 * @unchanged: optional, after a failed call: is the state the start?
 * @undo: optional, after a successful call: back to the start
 */
struct sweep_op {
	const char *name;
	const int *errnos;
	bool fault_path;
	void (*reset)(void);
	long (*call)(void);
	bool (*check)(long r);
	bool (*unchanged)(void);
	void (*undo)(long r);
};

static int sys_fd;
/* The VM whose memslot list a step compares, or -1. */
static int watch_vm = -1;
static const int no_errnos[] = { 0 };
static const int fault_errnos[] = { EFAULT, 0 };

/* Open fds of this process. */
static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		bail_out("cannot open /proc/self/fd: %s", strerror(errno));
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

struct snapshot {
	struct vmmu_objects objs;
	struct vmmu_memslot_list *slots;
	int fds;
};

static void snapshot_take(struct snapshot *s)
{
	vmmu_objects_read_or_die(&s->objs);
	s->slots = watch_vm >= 0 ? vmmu_memslots_read_or_die(watch_vm) : NULL;
	s->fds = fd_count();
}

/* Are the state and @s the same?  Says what differs. */
static bool snapshot_same(const struct sweep_op *op, unsigned int n,
			  const struct snapshot *s)
{
	struct snapshot now;
	bool same = true;

	snapshot_take(&now);
	if (op->fault_path) {
		/* Tables built before the failure serve the retry. */
		now.objs.roots = s->objs.roots;
		now.objs.pt_pages = s->objs.pt_pages;
	}
	if (!vmmu_objects_equal(&now.objs, &s->objs)) {
		diag("%s, N=%u: object counts changed", op->name, n);
		vmmu_objects_diag("before", &s->objs);
		vmmu_objects_diag("after", &now.objs);
		same = false;
	}
	if (s->slots && !vmmu_memslots_equal(s->slots, now.slots)) {
		diag("%s, N=%u: memslots changed", op->name, n);
		vmmu_memslots_diag("before", s->slots);
		vmmu_memslots_diag("after", now.slots);
		same = false;
	}
	if (now.fds != s->fds) {
		diag("%s, N=%u: %d fds before, %d after", op->name, n, s->fds,
		     now.fds);
		same = false;
	}
	free(now.slots);
	return same;
}

static bool errno_allowed(const struct sweep_op *op, long r)
{
	const int *e;

	if (r == -ENOMEM)
		return true;
	for (e = op->errnos; *e; e++)
		if (r == -*e)
			return true;
	return false;
}

/* A successful call: check it, then go back to the start. */
static bool sweep_success(const struct sweep_op *op, unsigned int n, long r,
			  const char *how)
{
	bool good = r >= 0 && op->check(r);

	if (!good)
		diag("%s, N=%u (%s): result %ld (%s) is wrong", op->name, n,
		     how, r, r < 0 ? errno_name(-r) : "success");
	if (r >= 0 && op->undo)
		op->undo(r);
	return good;
}

/* One step of a sweep whose injected failure made the call fail. */
static bool sweep_failed(const struct sweep_op *op, unsigned int n, long r,
			 const struct snapshot *before)
{
	bool good = true;

	if (!errno_allowed(op, r)) {
		diag("%s, N=%u: failed with %s", op->name, n, errno_name(-r));
		good = false;
	}
	if (!snapshot_same(op, n, before))
		good = false;
	if (op->unchanged && !op->unchanged()) {
		diag("%s, N=%u: the failed call changed the state", op->name, n);
		good = false;
	}
	/* The same call again, without injection. */
	return sweep_success(op, n, op->call(), "retried") && good;
}

/* Sweep @op: one TAP line.  Returns the number of injection points. */
static unsigned int sweep(const struct sweep_op *op)
{
	unsigned int n, points = 0, absorbed = 0;
	struct snapshot before;
	bool good = true, injected;
	long r;

	for (n = 1; ; n++) {
		if (n > SWEEP_MAX_N) {
			diag("%s: still failing at N=%u: stopped (raise SWEEP_MAX_N?)",
			     op->name, SWEEP_MAX_N);
			good = false;
			break;
		}
		if (op->reset)
			op->reset();
		snapshot_take(&before);
		fail_arm(n);
		r = op->call();
		injected = fail_disarm();
		if (!injected) {
			good &= sweep_success(op, n, r, "no injection");
			free(before.slots);
			break;
		}
		points++;
		if (r >= 0) {
			absorbed++;
			good &= sweep_success(op, n, r, "absorbed");
		} else {
			good &= sweep_failed(op, n, r, &before);
		}
		free(before.slots);
	}
	ok(good, "%s: %u injection points (%u absorbed), every one clean",
	   op->name, points, absorbed);
	return points;
}

/*
 * Calls that read: the result and the output are what a call without
 * injection gives.  The argument is restored before every step.
 */
struct query {
	int fd;
	unsigned long request;
	unsigned long arg;	/* used as is when @size is 0 */
	size_t size;
	void *buf;		/* the argument */
	void *tmpl;		/* its content before the call */
	void *ref;		/* its content after a call without injection */
	long ref_r;
};

static struct query *cur_query;

static void query_reset(void)
{
	if (cur_query->size)
		memcpy(cur_query->buf, cur_query->tmpl, cur_query->size);
}

static long query_call(void)
{
	struct query *q = cur_query;

	return vmmu_ioctl(q->fd, q->request, q->size ? (unsigned long)q->buf :
			  q->arg);
}

static bool query_check(long r)
{
	struct query *q = cur_query;

	return r == q->ref_r &&
	       (!q->size || !memcmp(q->buf, q->ref, q->size));
}

/* Sweep a read-only call of @fd; @buf (@size bytes) is its argument. */
static void sweep_query(const char *name, int fd, unsigned long request,
			unsigned long arg, void *buf, size_t size)
{
	struct sweep_op op = {
		.name = name, .errnos = no_errnos, .reset = query_reset,
		.call = query_call, .check = query_check,
	};
	struct query q = {
		.fd = fd, .request = request, .arg = arg, .size = size,
		.buf = buf,
	};

	if (size) {
		q.tmpl = malloc(size);
		q.ref = malloc(size);
		if (!q.tmpl || !q.ref)
			bail_out("out of memory");
		memcpy(q.tmpl, buf, size);
	}
	cur_query = &q;
	q.ref_r = query_call();
	if (size) {
		memcpy(q.ref, buf, size);
		query_reset();
	}
	if (q.ref_r < 0)
		bail_out("%s: %s without injection", name,
			 errno_name(-q.ref_r));
	sweep(&op);
	free(q.tmpl);
	free(q.ref);
}

/* A supported-CPUID table with room for every entry. */
static struct kvm_cpuid2 *cpuid_alloc(void)
{
	size_t size = sizeof(struct kvm_cpuid2) +
		      256 * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, size);

	if (!c)
		bail_out("out of memory");
	c->nent = 256;
	return c;
}

static size_t cpuid_size(const struct kvm_cpuid2 *c)
{
	return sizeof(*c) + c->nent * sizeof(c->entries[0]);
}

static void sweep_system_ioctls(void)
{
	struct kvm_cpuid2 *c = cpuid_alloc();

	sweep_query("KVM_GET_API_VERSION", sys_fd, KVM_GET_API_VERSION, 0,
		    NULL, 0);
	sweep_query("KVM_CHECK_EXTENSION (system)", sys_fd,
		    KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS, NULL, 0);
	sweep_query("KVM_GET_VCPU_MMAP_SIZE", sys_fd, KVM_GET_VCPU_MMAP_SIZE,
		    0, NULL, 0);
	sweep_query("KVM_GET_SUPPORTED_CPUID", sys_fd,
		    KVM_GET_SUPPORTED_CPUID, 0, c, cpuid_size(c));
	free(c);
}

/* KVM_CREATE_VM: a new VM fd with an empty memslot set. */
static long create_vm_call(void)
{
	return vmmu_ioctl(sys_fd, KVM_CREATE_VM, 0);
}

static bool create_vm_check(long fd)
{
	struct vmmu_memslot_list *list = vmmu_memslots_read(fd);
	bool good = list && list->nr == 0;

	free(list);
	return good;
}

static void close_fd(long fd)
{
	close(fd);
}

static const struct sweep_op create_vm_op = {
	.name = "KVM_CREATE_VM", .errnos = no_errnos,
	.call = create_vm_call, .check = create_vm_check, .undo = close_fd,
};

/* Memslots of a software VM: create, move, delete. */
static int slot_vm;
static u8 *slot_mem;

static long slot_create_call(void)
{
	return vmmu_set_region(slot_vm, 1, 0, SW_SLOT_GPA, PAGE_SIZE * 4,
			       (u64)slot_mem);
}

static long slot_move_call(void)
{
	return vmmu_set_region(slot_vm, 1, 0, SW_MOVED_GPA, PAGE_SIZE * 4,
			       (u64)slot_mem);
}

static long slot_delete_call(void)
{
	return vmmu_delete_region(slot_vm, 1);
}

/*
 * Slot 0 (the software VM's memory) and slot 1 at @gpa with @flags, if
 * @gpa is not 0.
 */
static bool slots_are_flags(u64 gpa, u32 flags)
{
	struct vmmu_memslot_info want[2] = {
		{ .slot = 0, .memory_size = SW_MEM_SIZE },
		{ .slot = 1, .flags = flags, .guest_phys_addr = gpa,
		  .memory_size = PAGE_SIZE * 4, .userspace_addr = (u64)slot_mem },
	};
	struct vmmu_memslot_list *list = vmmu_memslots_read_or_die(slot_vm);
	bool good = list->nr == (gpa ? 2 : 1);
	unsigned int i;

	for (i = 0; good && i < list->nr; i++) {
		struct vmmu_memslot_info e = list->entries[i];

		if (i == 0)
			e.userspace_addr = 0;
		good = !memcmp(&e, &want[i], sizeof(e));
	}
	free(list);
	return good;
}

static bool slots_are(u64 gpa)
{
	return slots_are_flags(gpa, 0);
}

static bool slot_created_check(long r)
{
	return r == 0 && slots_are(SW_SLOT_GPA);
}

static bool slot_moved_check(long r)
{
	return r == 0 && slots_are(SW_MOVED_GPA);
}

static bool slot_deleted_check(long r)
{
	return r == 0 && slots_are(0);
}

static void slot_delete_undo(long r)
{
	(void)r;
	if (slot_delete_call())
		bail_out("cannot delete slot 1");
}

static void slot_create_undo(long r)
{
	(void)r;
	if (slot_create_call())
		bail_out("cannot create slot 1");
}

/* Dirty logging turned on: a new slot object and its bitmap. */
static long slot_log_call(void)
{
	return vmmu_set_region(slot_vm, 1, KVM_MEM_LOG_DIRTY_PAGES, SW_SLOT_GPA,
			       PAGE_SIZE * 4, (u64)slot_mem);
}

static bool slot_log_check(long r)
{
	return r == 0 && slots_are_flags(SW_SLOT_GPA, KVM_MEM_LOG_DIRTY_PAGES);
}

static const struct sweep_op slot_ops[] = {
	{ .name = "KVM_SET_USER_MEMORY_REGION create", .errnos = no_errnos,
	  .call = slot_create_call, .check = slot_created_check,
	  .undo = slot_delete_undo },
	{ .name = "KVM_SET_USER_MEMORY_REGION move", .errnos = no_errnos,
	  .reset = NULL, .call = slot_move_call, .check = slot_moved_check,
	  .undo = slot_create_undo },
	{ .name = "KVM_SET_USER_MEMORY_REGION delete", .errnos = no_errnos,
	  .call = slot_delete_call, .check = slot_deleted_check,
	  .undo = slot_create_undo },
	{ .name = "KVM_SET_USER_MEMORY_REGION logging on", .errnos = no_errnos,
	  .call = slot_log_call, .check = slot_log_check,
	  .undo = slot_create_undo },
};

/* Software VM with one vCPU and SW_MEM_SIZE of memory at 0. */
struct sw_vm {
	int vm_fd;
	int vcpu_fd;
	u8 *mem;
};

static struct sw_vm sw;

/* A new VM of software vCPUs with NPT tables: the VM fd. */
static int sw_vm_fd_create(void)
{
	struct mmu_vm vm;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	return vm.vm_fd;
}

static void sw_vm_create(struct sw_vm *v)
{
	v->vm_fd = sw_vm_fd_create();
	v->mem = vmmu_alloc_guest_memory(SW_MEM_SIZE);
	mmu_set_region_or_die(v->vm_fd, 0, 0, 0, SW_MEM_SIZE, v->mem);
	v->vcpu_fd = mmu_create_vcpu_or_die(v->vm_fd, 0);
}

static void sw_vm_destroy(struct sw_vm *v)
{
	close(v->vcpu_fd);
	close(v->vm_fd);
	munmap(v->mem, SW_MEM_SIZE);
}

/* The software path's faults: fresh host pages, no tables. */
static void sw_fresh(void)
{
	madvise(sw.mem + SW_GPA, SW_LEN, MADV_DONTNEED);
	if (vmmu_ioctl(sw.vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL");
}

static u8 sw_buf[SW_LEN];

static long sw_access_call(void)
{
	return mmu_write(sw.vcpu_fd, SW_GPA, sw_buf, SW_LEN);
}

static bool sw_access_check(long r)
{
	return r == VMMU_ACCESS_DONE &&
	       mmu_pattern_check(sw.mem + SW_GPA, SW_GPA, SW_LEN, 7,
				 "VMMU_VCPU_ACCESS");
}

static struct kvm_pre_fault_memory pre_range;

static void pre_fault_reset(void)
{
	sw_fresh();
	pre_range = (struct kvm_pre_fault_memory) {
		.gpa = SW_GPA, .size = SW_LEN,
	};
}

static long pre_fault_call(void)
{
	return vmmu_ioctl(sw.vcpu_fd, KVM_PRE_FAULT_MEMORY,
			  (unsigned long)&pre_range);
}

static bool pre_fault_check(long r)
{
	struct vmmu_translation tr;
	u64 gpa;

	/* A failure after the first page ends the call early, with 0. */
	while (r == 0 && pre_range.size)
		r = pre_fault_call();
	if (r)
		return false;
	for (gpa = SW_GPA; gpa < SW_GPA + SW_LEN; gpa += PAGE_SIZE)
		if (mmu_translate(sw.vcpu_fd, gpa, &tr) ||
		    !(tr.flags & VMMU_TR_PRESENT))
			return false;
	return true;
}

static const struct sweep_op sw_fault_ops[] = {
	{ .name = "VMMU_VCPU_ACCESS write (software fault path)",
	  .errnos = fault_errnos, .fault_path = true, .reset = sw_fresh,
	  .call = sw_access_call, .check = sw_access_check },
	{ .name = "KVM_PRE_FAULT_MEMORY (software vCPU)",
	  .errnos = fault_errnos, .fault_path = true, .reset = pre_fault_reset,
	  .call = pre_fault_call, .check = pre_fault_check },
};

/*
 * Dirty logging turned on over 2 MiB leaves (THP-backed slot 2 of the
 * software VM, pre-faulted before every step): splitting them is best
 * effort, so a failure there is absorbed, and every leaf, split or whole,
 * is write-protected all the same.
 */
#define HUGE_SLOT	2
#define HUGE_GPA	(64ULL << 20)
#define HUGE_SIZE	(4ULL << 20)
#define HUGE_PAGE	(2ULL << 20)

static void *huge_res;
static u8 *huge_mem;

static void huge_mem_alloc(void)
{
	u64 off;

	huge_res = mmu_map_anon(HUGE_SIZE + HUGE_PAGE, NULL);
	huge_mem = (u8 *)(((u64)huge_res + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
	madvise(huge_mem, HUGE_SIZE, MADV_HUGEPAGE);
	memset(huge_mem, 0x48, HUGE_SIZE);
	for (off = 0; off < HUGE_SIZE; off += HUGE_PAGE)
		madvise(huge_mem + off, HUGE_PAGE, MADV_COLLAPSE);
}

static long huge_slot_set(u32 flags)
{
	return vmmu_set_region(sw.vm_fd, HUGE_SLOT, flags, HUGE_GPA, HUGE_SIZE,
			       (u64)huge_mem);
}

static void huge_log_reset(void)
{
	struct kvm_pre_fault_memory range = {
		.gpa = HUGE_GPA, .size = HUGE_SIZE,
	};

	if (huge_slot_set(0) ||
	    vmmu_ioctl(sw.vcpu_fd, KVM_PRE_FAULT_MEMORY, (unsigned long)&range) ||
	    range.size)
		bail_out("cannot map slot %d", HUGE_SLOT);
}

static long huge_log_call(void)
{
	return huge_slot_set(KVM_MEM_LOG_DIRTY_PAGES);
}

/* Logging is on, no leaf is writable, and a write is logged alone. */
static bool huge_log_check(long r)
{
	u64 bm[HUGE_SIZE / PAGE_SIZE / 64] = { 0 };
	struct kvm_dirty_log dl = { .slot = HUGE_SLOT, .dirty_bitmap = bm };
	struct vmmu_translation tr;
	u64 gpa, w = 0x4c4f47;
	unsigned int i;

	if (r)
		return false;
	for (gpa = HUGE_GPA; gpa < HUGE_GPA + HUGE_SIZE; gpa += PAGE_SIZE)
		if (mmu_translate(sw.vcpu_fd, gpa, &tr) ||
		    (tr.flags & VMMU_TR_WRITABLE))
			return false;
	if (mmu_write(sw.vcpu_fd, HUGE_GPA + HUGE_PAGE + 3 * PAGE_SIZE, &w,
		      sizeof(w)) != VMMU_ACCESS_DONE ||
	    vmmu_ioctl(sw.vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&dl))
		return false;
	for (i = 0; i < ARRAY_SIZE(bm); i++)
		if (bm[i] != (i == HUGE_PAGE / PAGE_SIZE / 64 ? 8 : 0))
			return false;
	return true;
}

static void huge_log_undo(long r)
{
	(void)r;
	if (huge_slot_set(0))
		bail_out("cannot turn logging off in slot %d", HUGE_SLOT);
}

static const struct sweep_op huge_log_op = {
	.name = "KVM_SET_USER_MEMORY_REGION logging on over 2 MiB leaves",
	.errnos = no_errnos, .fault_path = true, .reset = huge_log_reset,
	.call = huge_log_call, .check = huge_log_check, .undo = huge_log_undo,
};

/* VMMU_TEST_PFNCACHE activate on the software VM. */
static void pc_reset(void)
{
	pc_deactivate(sw.vm_fd, 0);
	madvise(sw.mem + (PC_GPA & ~0xfffULL), PAGE_SIZE, MADV_DONTNEED);
}

static long pc_activate_call(void)
{
	return pc_activate(sw.vm_fd, 0, PC_GPA, PC_LEN);
}

static bool pc_activate_check(long r)
{
	u8 buf[PC_LEN];

	mmu_pattern_fill(buf, PC_GPA, PC_LEN, 9);
	return r == 0 && pc_write(sw.vm_fd, 0, 0, buf, PC_LEN) == 0 &&
	       mmu_pattern_check(sw.mem + PC_GPA, PC_GPA, PC_LEN, 9,
				 "the VMM");
}

static bool pc_inactive(void)
{
	u8 buf[PC_LEN];

	return pc_read(sw.vm_fd, 0, 0, buf, PC_LEN) == -EINVAL;
}

/* A write through the active cache after its page went: refresh, bounce. */
static u8 pc_buf[PC_LEN];

static void pc_write_reset(void)
{
	madvise(sw.mem + (PC_GPA & ~0xfffULL), PAGE_SIZE, MADV_DONTNEED);
}

static long pc_write_call(void)
{
	return pc_write(sw.vm_fd, 0, 0, pc_buf, PC_LEN);
}

static bool pc_write_check(long r)
{
	return r == 0 && mmu_pattern_check(sw.mem + PC_GPA, PC_GPA, PC_LEN, 10,
					   "the VMM");
}

static bool pc_not_written(void)
{
	return mmu_is_zero(sw.mem + PC_GPA, PC_LEN);
}

static const struct sweep_op pc_ops[] = {
	{ .name = "VMMU_TEST_PFNCACHE activate", .errnos = fault_errnos,
	  .reset = pc_reset, .call = pc_activate_call,
	  .check = pc_activate_check, .unchanged = pc_inactive },
	{ .name = "VMMU_TEST_PFNCACHE write (refresh of a dropped page)",
	  .errnos = fault_errnos, .reset = pc_write_reset,
	  .call = pc_write_call, .check = pc_write_check,
	  .unchanged = pc_not_written },
};

/* KVM_CREATE_IRQCHIP, VMMU_SET_MMU and KVM_CREATE_VCPU: a new VM each step. */
static int fresh_vm = -1;

static void fresh_vm_reset(void)
{
	if (fresh_vm >= 0)
		close(fresh_vm);
	fresh_vm = vmmu_create_vm_or_die(sys_fd);
	watch_vm = fresh_vm;
}

static void fresh_sw_vm_reset(void)
{
	if (fresh_vm >= 0)
		close(fresh_vm);
	fresh_vm = sw_vm_fd_create();
	watch_vm = fresh_vm;
}

static long irqchip_call(void)
{
	return vmmu_ioctl(fresh_vm, KVM_CREATE_IRQCHIP, 0);
}

static bool irqchip_check(long r)
{
	return r == 0 && irqchip_call() == -EEXIST;
}

/* The first use of a test cache allocates it. */
static long pc_first_call(void)
{
	struct vmmu_test_pfncache st;

	return pc_stats(fresh_vm, 1, &st);
}

static bool pc_first_check(long r)
{
	return r == 0 && pc_read(fresh_vm, 1, 0, pc_buf, 8) == -EINVAL;
}

static long set_hw_call(void)
{
	return guest_set_hw(fresh_vm);
}

static bool set_hw_check(long r)
{
	struct vmmu_mmu_config cfg;

	return r == 0 && !mmu_get_mmu(fresh_vm, &cfg) &&
	       cfg.vcpu_kind == guest_hw->vcpu_kind;
}

static long create_vcpu_call(void)
{
	return vmmu_ioctl(fresh_vm, KVM_CREATE_VCPU, 3);
}

static bool sw_vcpu_check(long fd)
{
	struct vmmu_translation tr;

	return fd >= 0 && mmu_translate(fd, 0, &tr) == 0 &&
	       vmmu_ioctl(fresh_vm, KVM_CREATE_VCPU, 3) == -EEXIST;
}

static bool hw_vcpu_check(long fd)
{
	size_t size = vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_regs regs;
	void *run;
	bool good;

	if (fd < 0)
		return false;
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	good = run != MAP_FAILED &&
	       !vmmu_ioctl(fd, KVM_GET_REGS, (unsigned long)&regs) &&
	       vmmu_ioctl(fresh_vm, KVM_CREATE_VCPU, 3) == -EEXIST;
	if (run != MAP_FAILED)
		munmap(run, size);
	return good;
}

static const struct sweep_op fresh_vm_ops[] = {
	{ .name = "KVM_CREATE_IRQCHIP", .errnos = no_errnos,
	  .reset = fresh_vm_reset, .call = irqchip_call,
	  .check = irqchip_check },
	{ .name = "VMMU_TEST_PFNCACHE first use of a cache",
	  .errnos = no_errnos, .reset = fresh_vm_reset, .call = pc_first_call,
	  .check = pc_first_check },
	{ .name = "VMMU_SET_MMU (hardware vCPUs: enables the backend)",
	  .errnos = no_errnos, .reset = fresh_vm_reset, .call = set_hw_call,
	  .check = set_hw_check },
	{ .name = "KVM_CREATE_VCPU (software)", .errnos = no_errnos,
	  .reset = fresh_sw_vm_reset, .call = create_vcpu_call,
	  .check = sw_vcpu_check, .undo = close_fd },
	{ .name = "KVM_CREATE_VCPU (hardware, the default kind)",
	  .errnos = no_errnos, .reset = fresh_vm_reset,
	  .call = create_vcpu_call, .check = hw_vcpu_check,
	  .undo = close_fd },
};

static void fresh_vm_close(void)
{
	if (fresh_vm >= 0)
		close(fresh_vm);
	fresh_vm = -1;
	watch_vm = -1;
}

/* The hardware guest. */
static struct guest g;

static u64 touch_word(unsigned int i)
{
	return TOUCH_GPA + i * TOUCH_STRIDE;
}

static void touch_start(void)
{
	struct kvm_regs regs;

	guest_get_regs(&g, &regs);
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rdi = TOUCH_GPA;
	regs.rsi = touch_word(TOUCH_NR);
	regs.rbx = TOUCH_SEED;
	regs.rdx = TOUCH_STRIDE;
	regs.rflags = 2;
	guest_set_regs(&g, &regs);
}

/* Fresh host pages and no tables: every fault tops the caches up. */
static void run_reset(void)
{
	madvise(g.mem + TOUCH_GPA, touch_word(TOUCH_NR) - TOUCH_GPA,
		MADV_DONTNEED);
	if (vmmu_ioctl(g.vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL");
	touch_start();
}

static long run_call(void)
{
	return guest_run(&g);
}

static bool run_check(long r)
{
	unsigned int i;

	if (r || g.run->exit_reason != KVM_EXIT_IO ||
	    g.run->io.port != PORT_DONE) {
		guest_exit_diag(&g);
		return false;
	}
	for (i = 0; i < TOUCH_NR; i++) {
		u64 gpa = touch_word(i), word;

		memcpy(&word, g.mem + gpa, sizeof(word));
		if (word != (gpa ^ TOUCH_SEED)) {
			diag("word at 0x%llx: 0x%llx", (unsigned long long)gpa,
			     (unsigned long long)word);
			return false;
		}
	}
	return true;
}

static const struct sweep_op run_op = {
	.name = "KVM_RUN (hardware vCPU faulting fresh pages)",
	.errnos = fault_errnos, .fault_path = true, .reset = run_reset,
	.call = run_call, .check = run_check,
};

/* KVM_SET_CPUID2: the supported table without its last entry. */
static struct kvm_cpuid2 *cpuid_old, *cpuid_new;

static bool cpuid_is(const struct kvm_cpuid2 *want)
{
	struct kvm_cpuid2 *c = cpuid_alloc();
	bool same;

	same = !vmmu_ioctl(g.vcpu_fd, KVM_GET_CPUID2, (unsigned long)c) &&
	       c->nent == want->nent &&
	       !memcmp(c->entries, want->entries,
		       want->nent * sizeof(want->entries[0]));
	free(c);
	return same;
}

static long set_cpuid_call(void)
{
	return vmmu_ioctl(g.vcpu_fd, KVM_SET_CPUID2, (unsigned long)cpuid_new);
}

static bool set_cpuid_check(long r)
{
	return r == 0 && cpuid_is(cpuid_new);
}

static bool cpuid_unchanged(void)
{
	return cpuid_is(cpuid_old);
}

static void set_cpuid_undo(long r)
{
	(void)r;
	if (vmmu_ioctl(g.vcpu_fd, KVM_SET_CPUID2, (unsigned long)cpuid_old))
		bail_out("KVM_SET_CPUID2 back");
}

static const struct sweep_op set_cpuid_op = {
	.name = "KVM_SET_CPUID2", .errnos = no_errnos,
	.call = set_cpuid_call, .check = set_cpuid_check,
	.unchanged = cpuid_unchanged, .undo = set_cpuid_undo,
};

/* VMMU_VCPU_SET_RUNSTATE from RS_GPA_A to a fresh page at RS_GPA_B. */
static struct vmmu_runstate *runstate_at(u64 gpa)
{
	return (struct vmmu_runstate *)(g.mem + gpa);
}

static void runstate_reset(void)
{
	if (pc_set_runstate(g.vcpu_fd, RS_GPA_A, VMMU_RUNSTATE_ENABLE))
		bail_out("VMMU_VCPU_SET_RUNSTATE to 0x%llx", RS_GPA_A);
	madvise(g.mem + RS_GPA_B, PAGE_SIZE, MADV_DONTNEED);
	run_reset();
}

static long runstate_call(void)
{
	return pc_set_runstate(g.vcpu_fd, RS_GPA_B, VMMU_RUNSTATE_ENABLE);
}

/* The guest runs once: the record at @gpa counts it, the one at @other not. */
static bool runstate_counts(u64 gpa, u64 other)
{
	struct vmmu_runstate before = *runstate_at(other);
	u64 entries = runstate_at(gpa)->entries;

	if (!run_check(guest_run(&g)))
		return false;
	touch_start();
	return runstate_at(gpa)->entries > entries &&
	       !memcmp(runstate_at(other), &before, sizeof(before));
}

static bool runstate_check(long r)
{
	return r == 0 && runstate_counts(RS_GPA_B, RS_GPA_A);
}

static bool runstate_unchanged(void)
{
	return runstate_counts(RS_GPA_A, RS_GPA_B);
}

static const struct sweep_op runstate_op = {
	.name = "VMMU_VCPU_SET_RUNSTATE", .errnos = fault_errnos,
	.reset = runstate_reset, .call = runstate_call,
	.check = runstate_check, .unchanged = runstate_unchanged,
};

/* mmap of the vCPU fd. */
static long vcpu_mmap_call(void)
{
	void *p = mmap(NULL, g.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       g.vcpu_fd, 0);

	return p == MAP_FAILED ? -errno : (long)p;
}

static bool vcpu_mmap_check(long p)
{
	/* The same kvm_run as the first mapping. */
	return ((struct kvm_run *)p)->exit_reason == g.run->exit_reason &&
	       ((struct kvm_run *)p)->io.port == g.run->io.port;
}

static void vcpu_mmap_undo(long p)
{
	munmap((void *)p, g.mmap_size);
}

static const struct sweep_op vcpu_mmap_op = {
	.name = "mmap of a vCPU fd", .errnos = no_errnos,
	.call = vcpu_mmap_call, .check = vcpu_mmap_check,
	.undo = vcpu_mmap_undo,
};

static void sweep_vm_ioctls(void)
{
	struct vmmu_memslot_list *list = vmmu_memslots_alloc(4);
	struct vmmu_mmu_config cfg;
	struct vmmu_stats st;
	unsigned int i;

	sw_vm_create(&sw);
	slot_vm = sw.vm_fd;
	watch_vm = sw.vm_fd;
	slot_mem = vmmu_alloc_guest_memory(PAGE_SIZE * 4);
	sweep(&create_vm_op);
	sweep_query("KVM_CHECK_EXTENSION (VM)", sw.vm_fd, KVM_CHECK_EXTENSION,
		    KVM_CAP_NR_MEMSLOTS, NULL, 0);
	sweep_query("VMMU_GET_MEMSLOTS", sw.vm_fd, VMMU_GET_MEMSLOTS, 0, list,
		    sizeof(*list) + 4 * sizeof(list->entries[0]));
	memset(&cfg, 0, sizeof(cfg));
	sweep_query("VMMU_GET_MMU", sw.vm_fd, VMMU_GET_MMU, 0, &cfg,
		    sizeof(cfg));
	memset(&st, 0, sizeof(st));
	sweep_query("VMMU_GET_STATS", sw.vm_fd, VMMU_GET_STATS, 0, &st,
		    sizeof(st));
	sweep_query("VMMU_ZAP_ALL", sw.vm_fd, VMMU_ZAP_ALL, 0, NULL, 0);
	for (i = 0; i < ARRAY_SIZE(slot_ops); i++)
		sweep(&slot_ops[i]);
	slot_delete_undo(0);
	mmu_pattern_fill(pc_buf, PC_GPA, PC_LEN, 10);
	for (i = 0; i < ARRAY_SIZE(pc_ops); i++)
		sweep(&pc_ops[i]);
	pc_deactivate(sw.vm_fd, 0);
	for (i = 0; i < ARRAY_SIZE(sw_fault_ops); i++)
		sweep(&sw_fault_ops[i]);
	huge_mem_alloc();
	sweep(&huge_log_op);
	if (vmmu_delete_region(sw.vm_fd, HUGE_SLOT))
		bail_out("cannot delete slot %d", HUGE_SLOT);
	munmap(huge_res, HUGE_SIZE + HUGE_PAGE);
	free(list);
}

static void sweep_sw_vcpu_ioctls(void)
{
	struct vmmu_translation tr = { .gpa = SW_GPA };

	sweep_query("VMMU_VCPU_TRANSLATE", sw.vcpu_fd, VMMU_VCPU_TRANSLATE, 0,
		    &tr, sizeof(tr));
	watch_vm = -1;
	sw_vm_destroy(&sw);
	munmap(slot_mem, PAGE_SIZE * 4);
}

/* Every register and state ioctl of the hardware vCPU, as queries. */
static void sweep_hw_queries(void)
{
	struct kvm_cpuid2 *c = cpuid_alloc();
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	guest_get_regs(&g, &regs);
	guest_get_sregs(&g, &sregs);
	sweep_query("KVM_GET_REGS", g.vcpu_fd, KVM_GET_REGS, 0, &regs,
		    sizeof(regs));
	sweep_query("KVM_SET_REGS", g.vcpu_fd, KVM_SET_REGS, 0, &regs,
		    sizeof(regs));
	sweep_query("KVM_GET_SREGS", g.vcpu_fd, KVM_GET_SREGS, 0, &sregs,
		    sizeof(sregs));
	sweep_query("KVM_SET_SREGS", g.vcpu_fd, KVM_SET_SREGS, 0, &sregs,
		    sizeof(sregs));
	sweep_query("KVM_GET_CPUID2", g.vcpu_fd, KVM_GET_CPUID2, 0, c,
		    cpuid_size(c));
	sweep_query("KVM_GET_MP_STATE", g.vcpu_fd, KVM_GET_MP_STATE, 0, &mp,
		    sizeof(mp));
	sweep_query("KVM_SET_MP_STATE", g.vcpu_fd, KVM_SET_MP_STATE, 0, &mp,
		    sizeof(mp));
	free(c);
}

static void cpuid_tables(void)
{
	cpuid_old = cpuid_alloc();
	if (vmmu_ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID,
		       (unsigned long)cpuid_old))
		bail_out("KVM_GET_SUPPORTED_CPUID");
	if (vmmu_ioctl(g.vcpu_fd, KVM_SET_CPUID2, (unsigned long)cpuid_old))
		bail_out("KVM_SET_CPUID2");
	cpuid_new = malloc(cpuid_size(cpuid_old));
	if (!cpuid_new)
		bail_out("out of memory");
	memcpy(cpuid_new, cpuid_old, cpuid_size(cpuid_old));
	cpuid_new->nent--;
}

static void sweep_hw_vcpu(void)
{
	unsigned int i;

	/* Backend enable and vCPU creation first, while no VM enabled it. */
	for (i = 0; i < ARRAY_SIZE(fresh_vm_ops); i++)
		sweep(&fresh_vm_ops[i]);
	fresh_vm_close();

	guest_create(&g, sys_fd, MEM_SIZE);
	watch_vm = g.vm_fd;
	guest_load(&g, CODE_GPA, touch, GUEST_CODE_SIZE(touch));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	/* Before KVM_RUN: after it only the same table is taken (as KVM). */
	cpuid_tables();
	sweep(&set_cpuid_op);
	sweep(&run_op);
	sweep(&vcpu_mmap_op);
	sweep_hw_queries();
	sweep(&runstate_op);
	watch_vm = -1;
	guest_destroy(&g);
	free(cpuid_old);
	free(cpuid_new);
}

/*
 * The first VM of a process also registers the process's mmu_notifier
 * subscriptions, once per mm: swept in a new child process every step.
 */
struct first_vm_report {
	long r;
	bool injected;
	bool fds_same;
	bool retry_ok;
};

static void first_vm_child(unsigned int n, int wfd)
{
	struct first_vm_report rep = { 0 };
	int fds = fd_count();

	fail_arm(n);
	rep.r = create_vm_call();
	rep.injected = fail_disarm();
	rep.fds_same = rep.r >= 0 || fd_count() == fds;
	if (rep.r < 0)
		rep.r = create_vm_call();
	rep.retry_ok = rep.r >= 0 && create_vm_check(rep.r);
	_exit(write(wfd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
}

/* One step in a child: false when no failure was injected. */
static bool first_vm_step(unsigned int n, bool *good)
{
	struct first_vm_report rep = { .r = -EPIPE };
	struct vmmu_objects before, after;
	int fds[2], status;
	pid_t pid;

	vmmu_objects_read_or_die(&before);
	if (pipe(fds))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid)
		first_vm_child(n, fds[1]);
	close(fds[1]);
	if (read(fds[0], &rep, sizeof(rep)) != sizeof(rep))
		rep.injected = false;
	close(fds[0]);
	waitpid(pid, &status, 0);
	vmmu_objects_read_or_die(&after);
	if (!rep.retry_ok || !rep.fds_same ||
	    !vmmu_objects_equal(&before, &after)) {
		diag("first VM, N=%u: %s%s%s", n,
		     rep.retry_ok ? "" : "no working VM at the end; ",
		     rep.fds_same ? "" : "an fd leaked; ",
		     vmmu_objects_equal(&before, &after) ? "" : "objects left");
		*good = false;
	}
	return rep.injected;
}

static void sweep_first_vm(void)
{
	unsigned int n, points = 0;
	bool good = true;

	for (n = 1; n <= SWEEP_MAX_N && first_vm_step(n, &good); n++)
		points++;
	if (n > SWEEP_MAX_N) {
		diag("first VM: still failing at N=%u: stopped", SWEEP_MAX_N);
		good = false;
	}
	ok(good, "%s: %u injection points, every one clean",
	   "KVM_CREATE_VM (first VM of a process)", points);
}

/*
 * The kernel log since the sweeps began: no splat, and no allocation-failure
 * report (warn_alloc) for an allocation of vmmu's own.  fail-nth failures of
 * the slab and page allocators print nothing, and kvmalloc() asks kmalloc
 * with __GFP_NOWARN before it falls back to vmalloc, so vmmu's allocations
 * never report; but the kernel's FPU code allocates a guest FPU state with
 * vzalloc() for vmmu as it does for KVM, and vmalloc reports its failures.
 */
static bool line_has(const char *line, const char * const *words)
{
	for (; *words; words++)
		if (strstr(line, *words))
			return true;
	return false;
}

static bool alloc_report_ok(const char *report, bool kernel_own)
{
	if (report && !kernel_own)
		diag("  not from the kernel's FPU state allocation: %s", report);
	return !report || kernel_own;
}

static void test_kernel_log(void)
{
	static const char * const splats[] = {
		"WARNING:", "BUG:", "Oops", "KASAN", "suspected memory leak",
		"circular locking", "recursive locking", NULL,
	};
	static const char * const alloc_reports[] = {
		"page allocation failure", "vmalloc error", NULL,
	};
	char *log = hv_log_since_mark(LOG_MARK), *line, *report = NULL;
	unsigned int reports = 0;
	bool good = log, kernel_own = false;

	for (line = log ? strtok(log, "\n") : NULL; line;
	     line = strtok(NULL, "\n")) {
		if (line_has(line, alloc_reports)) {
			good &= alloc_report_ok(report, kernel_own);
			report = line;
			kernel_own = false;
			reports++;
		} else if (strstr(line, "fpu_alloc_guest_fpstate")) {
			kernel_own = true;
		} else if (line_has(line, splats)) {
			diag("  %s", line);
			good = false;
		}
	}
	good &= alloc_report_ok(report, kernel_own);
	ok(good, "kernel log: no splat; %u allocation-failure reports, %s",
	   reports, "none for an allocation of vmmu's own");
	free(log);
}

/* No VM is left: no CPU may have SVM on (a backend reference leaked). */
static void test_backend_off(void)
{
	FILE *f = fopen(SVM_STATE, "re");
	int enabled = -1;

	if (!f) {
		skip(1, "no %s", SVM_STATE);
		return;
	}
	if (fscanf(f, "enabled %d", &enabled) != 1)
		enabled = -1;
	fclose(f);
	is_int(enabled, 0, "SVM is off again once every VM is gone");
}

#define NR_SYSTEM	4
#define NR_VM		(1 + 5 + ARRAY_SIZE(slot_ops) + ARRAY_SIZE(pc_ops) + \
			 ARRAY_SIZE(sw_fault_ops) + 1 + 1)
#define NR_HW		(ARRAY_SIZE(fresh_vm_ops) + 1 + 1 + 7 + 1 + 1)
#define NR_TESTS	(NR_SYSTEM + 1 + NR_VM + NR_HW + 3)

int main(void)
{
	struct vmmu_objects baseline;
	int r;

	tap_plan(NR_TESTS);
	if (!fail_available()) {
		skip(NR_TESTS, "%s %s", "no allocation-failure injection here",
		     "(needs FAULT_INJECTION, FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_DEBUG_FS)");
		return tap_finish();
	}
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&baseline);
	r = fail_setup();
	if (r)
		bail_out("cannot configure fault injection: %s",
			 errno_name(-r));
	atexit(fail_restore);
	hv_mark_log(LOG_MARK);

	sweep_system_ioctls();
	sweep_first_vm();
	mmu_pattern_fill(sw_buf, SW_GPA, SW_LEN, 7);
	sweep_vm_ioctls();
	sweep_sw_vcpu_ioctls();
	if (guest_hw_available(sys_fd))
		skip(NR_HW, "no hardware vCPUs here (%s)", guest_hw_why());
	else
		sweep_hw_vcpu();

	fail_restore();
	close(sys_fd);
	ok_objects(&baseline, "every object back at the baseline");
	test_backend_off();
	test_kernel_log();
	return tap_finish();
}
