// SPDX-License-Identifier: GPL-2.0
/*
 * The epoch child of the ioctl fuzzer (selftests/fuzz.c): THREADS threads
 * issue random operations on shared tables of fds and memory areas.
 *
 * Every thread draws from its own stream (seed, epoch, thread); with one
 * thread the sequence of operations is fully determined by the seed.  With
 * several, each thread's draws are, but not how they interleave.
 *
 * Nothing of the fuzzer's own is allocated while the threads run: every
 * buffer, stack and timer exists before the first operation.  So an
 * address range that a memslot or a pointer argument names holds either a
 * fuzzed area, nothing, or fuzzer data the kernel may legitimately write
 * (the per-thread scratch pages); the kernel writing into guest memory can
 * never corrupt the fuzzer.  Guest memory and kvm_run are accessed from
 * userspace only through /proc/self/mem, which fails instead of faulting
 * when another thread unmapped the area meanwhile.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "fail_util.h"
#include "fuzz_util.h"
#include "stress_util.h"

#define FZ_SYS		2
#define FZ_VMS		4
#define FZ_VCPUS	8
#define FZ_AREAS	8
#define FZ_MAPS		4
/* Guest memory areas live in this reserved range, at a fixed address. */
#define FZ_ARENA	((u8 *)0x100000000000ULL)
#define FZ_ARENA_SIZE	(64ULL << 20)
#define FZ_AREA_MIN	BIT_ULL(20)	/* below it: the read-only page */
#define FZ_AREA_MAX	(2ULL << 20)
/* Never mapped by anyone: memslots of any size may point here. */
#define FZ_FAR		0x200000000000ULL
#define FZ_KERNEL_PTR	0xffff888000000000ULL
/* Per-thread scratch: two pages, then an inaccessible guard page. */
#define FZ_SCRATCH	(2 * PAGE_SIZE)
#define FZ_CODE_MAX	256
#define FZ_RUNS		4

struct fz_area {
	u8 *addr;
	size_t size;
};

struct fz_thread {
	struct fz_rng rng;
	unsigned int id;
	pthread_t thread;
	timer_t timer;
	u8 *scratch;
};

/* Tables shared by the threads; fds are swapped in and out atomically. */
static struct {
	const struct fz_epoch *ep;
	struct fz_stats *st;
	int sys[FZ_SYS];
	int vm[FZ_VMS];
	int vcpu[FZ_VCPUS];
	int vcpu_vm[FZ_VCPUS];		/* the vm[] slot that made it */
	struct fz_area area[FZ_AREAS];
	struct fz_area map[FZ_MAPS];	/* kvm_run mappings */
	pthread_mutex_t area_lock;	/* area[] and map[], and their mm ops */
	size_t run_size;
	int mem_fd;			/* /proc/self/mem */
	u64 ops_done;
	pthread_barrier_t start;
	struct fz_thread threads[FZ_MAX_THREADS];
} fz = { .area_lock = PTHREAD_MUTEX_INITIALIZER };

static u8 *fz_scratch_base;

static void fz_count(u64 *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static int fz_get(int *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

/* Put @fd into @slot; whatever was there is closed. */
static void fz_put(int *slot, int fd)
{
	int old = __atomic_exchange_n(slot, fd, __ATOMIC_ACQ_REL);

	if (old >= 0)
		close(old);
}

static long fz_ioctl(int fd, unsigned long cmd, unsigned long arg)
{
	long r = ioctl(fd, cmd, arg);

	fz_count(r < 0 ? &fz.st->ioctl_failed : &fz.st->ioctl_ok);
	return r < 0 ? -errno : r;
}

/* A value of the kinds that find bugs: 0, small, powers of two, -1 ... */
static u64 fz_value(struct fz_rng *r)
{
	switch (fz_below(r, 10)) {
	case 0:
		return 0;
	case 1:
		return fz_below(r, 16);
	case 2:
		return fz_below(r, 1024) << 12;
	case 3:
		return 1ULL << fz_below(r, 64);
	case 4:
		return (1ULL << fz_below(r, 64)) - 1;
	case 5:
		return -fz_below(r, 4096);
	case 6:
		return fz_below(r, 1 << 20);
	default:
		return fz_rand(r);
	}
}

static void fz_fill(struct fz_rng *r, void *buf, size_t len)
{
	u64 *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = fz_value(r);
}

/* A guest-physical address: mostly in the first MiBs, sometimes anything. */
static u64 fz_gpa(struct fz_rng *r)
{
	if (fz_chance(r, 75))
		return fz_below(r, 4 << 20) & ~(fz_chance(r, 80) ? 7ULL : 0);
	return fz_value(r);
}

/* A random address inside a live area, or inside the arena. */
static u8 *fz_area_addr(struct fz_rng *r, size_t *room)
{
	struct fz_area a;

	pthread_mutex_lock(&fz.area_lock);
	a = fz.area[fz_below(r, FZ_AREAS)];
	pthread_mutex_unlock(&fz.area_lock);
	if (!a.addr) {
		*room = PAGE_SIZE;
		return FZ_ARENA + FZ_AREA_MIN + (fz_below(r, 1024) << 12);
	}
	*room = a.size;
	return a.addr;
}

/*
 * A pointer argument for @len bytes: the thread's scratch (random
 * contents) mostly, else NULL, unmapped, read-only, kernel, straddling the
 * guard page, or guest memory.
 */
static void *fz_pointer(struct fz_thread *t, size_t len)
{
	struct fz_rng *r = &t->rng;
	size_t room;

	switch (fz_below(r, 14)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(FZ_FAR + fz_below(r, 1 << 20));
	case 2:
		return FZ_ARENA + fz_below(r, PAGE_SIZE);
	case 3:
		return (void *)(FZ_KERNEL_PTR + (fz_below(r, 1 << 20) << 12));
	case 4:
		return t->scratch + FZ_SCRATCH - fz_below(r, len + 1);
	case 5:
		return fz_area_addr(r, &room) + fz_below(r, PAGE_SIZE);
	default:
		fz_fill(r, t->scratch, FZ_SCRATCH);
		return t->scratch;
	}
}

/*
 * Copy to or from our own memory through /proc/self/mem: fails instead of
 * faulting where another thread unmapped the memory meanwhile (the debug
 * kernel has no process_vm_writev()).
 */
static bool fz_poke(void *dst, const void *src, size_t len)
{
	return pwrite(fz.mem_fd, src, len, (off_t)(unsigned long)dst) ==
	       (ssize_t)len;
}

static bool fz_peek(void *dst, const void *src, size_t len)
{
	return pread(fz.mem_fd, dst, len, (off_t)(unsigned long)src) ==
	       (ssize_t)len;
}

/* fail-nth is armed for this thread's operation (see fz_arm()). */
static __thread bool fz_armed;

/* Fire SIGUSR1 at this thread after @ns, then every 2 ms; 0 disarms. */
static void fz_timer(struct fz_thread *t, long ns)
{
	struct itimerspec its = {
		.it_value.tv_nsec = ns,
		.it_interval.tv_nsec = ns ? 2000000 : 0,
	};

	timer_settime(t->timer, 0, &its, NULL);
}

/* An ioctl that may block (a guest that loops): bounded by the timer. */
static long fz_ioctl_timed(struct fz_thread *t, int fd, unsigned long cmd,
			   unsigned long arg)
{
	long r;

	if (cmd == KVM_RUN && fz_armed)
		return -EINTR;
	if (cmd == KVM_RUN)
		fz_count(&fz.st->runs);
	fz_timer(t, 200000 + fz_below(&t->rng, 3000000));
	r = fz_ioctl(fd, cmd, arg);
	fz_timer(t, 0);
	if (cmd == KVM_RUN && (r == 0 || r == -EINTR))
		fz_count(&fz.st->runs_entered);
	return r;
}

static int fz_pick(struct fz_rng *r, int *table, unsigned int n,
		   unsigned int *slot)
{
	*slot = fz_below(r, n);
	return fz_get(&table[*slot]);
}

static int fz_pick_vm(struct fz_rng *r)
{
	unsigned int s;

	return fz_pick(r, fz.vm, FZ_VMS, &s);
}

static int fz_pick_vcpu(struct fz_rng *r)
{
	unsigned int s;

	return fz_pick(r, fz.vcpu, FZ_VCPUS, &s);
}

static void fz_op_vm_create(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned long type = fz_chance(r, 90) ? 0 : fz_value(r);
	unsigned int s;
	int sys = fz_pick(r, fz.sys, FZ_SYS, &s);
	long fd;

	if (sys < 0 || fz_chance(r, 5)) {
		sys = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (sys < 0)
			return;
		fz_put(&fz.sys[s], sys);
	}
	fd = fz_ioctl(sys, KVM_CREATE_VM, type);
	if (fd >= 0)
		fz_put(&fz.vm[fz_below(r, FZ_VMS)], fd);
}

static void fz_mmu_config(struct fz_rng *r, struct vmmu_mmu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->format = fz_below(r, 4);
	cfg->levels = fz_chance(r, 50) ? 0 : fz_below(r, 7);
	cfg->vcpu_kind = fz_below(r, 5);
	cfg->gpa_bits = fz_chance(r, 70) ? 0 : fz_below(r, 64);
	if (fz_chance(r, 5))
		cfg->pad = fz_value(r);
	if (fz_chance(r, 5))
		cfg->pad2 = fz_value(r);
}

static void fz_op_set_mmu(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct vmmu_mmu_config cfg;
	int vm = fz_pick_vm(r);
	void *arg = &cfg;

	fz_mmu_config(r, &cfg);
	if (fz_chance(r, 10))
		arg = fz_pointer(t, sizeof(cfg));
	fz_ioctl(vm, VMMU_SET_MMU, (unsigned long)arg);
}

static void fz_op_vcpu_create(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	unsigned long id = fz_chance(r, 85) ? fz_below(r, 8) : fz_value(r);
	unsigned int s, v;
	int vm = fz_pick(r, fz.vm, FZ_VMS, &s);
	long fd;

	/* Software vCPUs now and then; else the VM's kind (hardware). */
	if (fz_chance(r, 25))
		fz_ioctl(vm, VMMU_SET_MMU, (unsigned long)&cfg);
	fd = fz_ioctl(vm, KVM_CREATE_VCPU, id);
	if (fd < 0)
		return;
	v = fz_below(r, FZ_VCPUS);
	__atomic_store_n(&fz.vcpu_vm[v], s, __ATOMIC_RELAXED);
	fz_put(&fz.vcpu[v], fd);
}

/* A memslot of every kind: fitting an area, misaligned, huge, bogus hva. */
static void fz_region(struct fz_rng *r, struct kvm_userspace_memory_region *m)
{
	size_t room, off;
	u8 *hva = fz_area_addr(r, &room);

	m->slot = fz_below(r, 12);
	if (fz_chance(r, 10))
		m->slot |= fz_below(r, 4) << 16;	/* address spaces */
	if (fz_chance(r, 3))
		m->slot = fz_value(r);
	switch (fz_below(r, 10)) {
	case 6:
	case 7:
		m->flags = KVM_MEM_READONLY;
		break;
	case 8:
		m->flags = KVM_MEM_LOG_DIRTY_PAGES;
		break;
	case 9:
		m->flags = 1U << fz_below(r, 32);
		break;
	default:
		m->flags = 0;
	}
	m->guest_phys_addr = fz_gpa(r) & ~(fz_chance(r, 90) ? 0xfffULL : 0);
	off = fz_below(r, room >> 12) << 12;
	m->userspace_addr = (unsigned long)hva + off;
	m->memory_size = (fz_below(r, (room - off) >> 12) + 1) << 12;
	switch (fz_below(r, 10)) {
	case 0:
	case 1:
		m->memory_size = 0;		/* delete */
		break;
	case 2:
		m->memory_size = fz_below(r, room - off) + 1;
		break;
	case 3:
		m->userspace_addr += fz_below(r, PAGE_SIZE);
		break;
	case 4:
		m->userspace_addr = FZ_FAR;
		m->memory_size = fz_value(r);
		break;
	case 5:
		m->userspace_addr = (unsigned long)fz_value(r) & 0xfff;
		m->userspace_addr |= fz_chance(r, 50) ? FZ_KERNEL_PTR : 0;
		break;
	default:
		break;
	}
}

static void fz_op_memslot(struct fz_thread *t)
{
	struct kvm_userspace_memory_region m;
	int vm = fz_pick_vm(&t->rng);

	fz_region(&t->rng, &m);
	fz_ioctl(vm, KVM_SET_USER_MEMORY_REGION, (unsigned long)&m);
}

enum fz_fd_kind { FZ_FD_SYS, FZ_FD_VM, FZ_FD_VCPU, FZ_NR_FD_KINDS };

/* The ioctls vmmu knows, the fd they go to, and whether @arg is a value. */
static const struct fz_known {
	unsigned long cmd;
	enum fz_fd_kind kind;
	bool by_value;
} fz_known[] = {
	{ KVM_GET_API_VERSION, FZ_FD_SYS, true },
	{ KVM_CHECK_EXTENSION, FZ_FD_SYS, true },
	{ KVM_GET_VCPU_MMAP_SIZE, FZ_FD_SYS, true },
	{ KVM_GET_SUPPORTED_CPUID, FZ_FD_SYS, false },
	{ KVM_CHECK_EXTENSION, FZ_FD_VM, true },
	{ KVM_SET_USER_MEMORY_REGION, FZ_FD_VM, false },
	{ VMMU_GET_MEMSLOTS, FZ_FD_VM, false },
	{ VMMU_SET_MMU, FZ_FD_VM, false },
	{ VMMU_GET_MMU, FZ_FD_VM, false },
	{ VMMU_ZAP_ALL, FZ_FD_VM, true },
	{ KVM_CREATE_IRQCHIP, FZ_FD_VM, true },
	{ KVM_ENABLE_CAP, FZ_FD_VM, false },
	{ KVM_SET_NR_MMU_PAGES, FZ_FD_VM, true },
	{ KVM_GET_NR_MMU_PAGES, FZ_FD_VM, true },
	{ VMMU_TEST_PFNCACHE, FZ_FD_VM, false },
	{ VMMU_GET_STATS, FZ_FD_VM, false },
	{ KVM_GET_DIRTY_LOG, FZ_FD_VM, false },
	{ KVM_CLEAR_DIRTY_LOG, FZ_FD_VM, false },
	{ KVM_RESET_DIRTY_RINGS, FZ_FD_VM, true },
	{ VMMU_VCPU_ACCESS, FZ_FD_VCPU, false },
	{ VMMU_VCPU_TRANSLATE, FZ_FD_VCPU, false },
	{ KVM_PRE_FAULT_MEMORY, FZ_FD_VCPU, false },
	{ KVM_RUN, FZ_FD_VCPU, true },
	{ VMMU_VCPU_SET_RUNSTATE, FZ_FD_VCPU, false },
	{ KVM_GET_REGS, FZ_FD_VCPU, false },
	{ KVM_SET_REGS, FZ_FD_VCPU, false },
	{ KVM_GET_SREGS, FZ_FD_VCPU, false },
	{ KVM_SET_SREGS, FZ_FD_VCPU, false },
	{ KVM_SET_CPUID2, FZ_FD_VCPU, false },
	{ KVM_GET_CPUID2, FZ_FD_VCPU, false },
	{ KVM_GET_MP_STATE, FZ_FD_VCPU, false },
	{ KVM_SET_MP_STATE, FZ_FD_VCPU, false },
	{ KVM_ENABLE_CAP, FZ_FD_VCPU, false },
	{ KVM_SET_SIGNAL_MASK, FZ_FD_VCPU, false },
	/* What VMMs use, hardware vCPUs only (EINVAL on software ones). */
	{ KVM_GET_MSR_INDEX_LIST, FZ_FD_SYS, false },
	{ KVM_GET_MSR_FEATURE_INDEX_LIST, FZ_FD_SYS, false },
	{ KVM_GET_MSRS, FZ_FD_SYS, false },
	{ KVM_X86_GET_MCE_CAP_SUPPORTED, FZ_FD_SYS, false },
	{ KVM_SET_TSS_ADDR, FZ_FD_VM, true },
	{ KVM_SET_BOOT_CPU_ID, FZ_FD_VM, true },
	{ KVM_SET_GSI_ROUTING, FZ_FD_VM, false },
	{ KVM_X86_SET_MSR_FILTER, FZ_FD_VM, false },
	{ KVM_INTERRUPT, FZ_FD_VCPU, false },
	{ KVM_NMI, FZ_FD_VCPU, true },
	{ KVM_GET_FPU, FZ_FD_VCPU, false },
	{ KVM_SET_FPU, FZ_FD_VCPU, false },
	{ KVM_GET_MSRS, FZ_FD_VCPU, false },
	{ KVM_SET_MSRS, FZ_FD_VCPU, false },
	{ KVM_GET_VCPU_EVENTS, FZ_FD_VCPU, false },
	{ KVM_SET_VCPU_EVENTS, FZ_FD_VCPU, false },
	{ KVM_X86_SETUP_MCE, FZ_FD_VCPU, false },
	{ KVM_X86_SET_MCE, FZ_FD_VCPU, false },
	{ KVM_HAS_DEVICE_ATTR, FZ_FD_VCPU, false },
	{ KVM_GET_DEVICE_ATTR, FZ_FD_VCPU, false },
	{ KVM_SET_DEVICE_ATTR, FZ_FD_VCPU, false },
	/* A new fd: fz_op_ioctl() reads some of it and closes it. */
	{ KVM_GET_STATS_FD, FZ_FD_VM, true },
	{ KVM_GET_STATS_FD, FZ_FD_VCPU, true },
};

static int fz_pick_fd(struct fz_rng *r, enum fz_fd_kind kind)
{
	unsigned int s;

	switch (kind) {
	case FZ_FD_SYS:
		return fz_pick(r, fz.sys, FZ_SYS, &s);
	case FZ_FD_VM:
		return fz_pick_vm(r);
	default:
		return fz_pick_vcpu(r);
	}
}

/* Make the random contents of @buf plausible enough to get past a check. */
static void fz_shape(struct fz_thread *t, unsigned long cmd, void *buf)
{
	struct fz_rng *r = &t->rng;
	struct kvm_cpuid2 *cpuid = buf;
	struct vmmu_memslot_list *slots = buf;
	struct vmmu_access *acc = buf;
	struct kvm_pre_fault_memory *pre = buf;
	struct vmmu_runstate_config *rs = buf;
	struct kvm_mp_state *mp = buf;
	struct vmmu_test_pfncache *pc = buf;
	struct kvm_enable_cap *cap = buf;
	struct kvm_clear_dirty_log *clr = buf;
	struct kvm_dirty_log *log = buf;
	struct kvm_signal_mask *sig = buf;
	struct kvm_msrs *msrs = buf;
	struct kvm_msr_list *list = buf;
	struct kvm_msr_filter *filter = buf;
	struct kvm_vcpu_events *ev = buf;
	struct kvm_interrupt *irq = buf;
	struct kvm_device_attr *attr = buf;
	unsigned int i;

	switch (cmd) {
	case KVM_GET_MSRS:
	case KVM_SET_MSRS:
		/* Entries follow in the scratch buffer: at most 256 fit. */
		msrs->nmsrs = fz_chance(r, 80) ? fz_below(r, 257) : fz_value(r);
		msrs->pad = fz_chance(r, 90) ? 0 : fz_value(r);
		for (i = 0; i < 8 && fz_chance(r, 70); i++)
			msrs->entries[i].index = fz_chance(r, 50) ?
				fz_below(r, 0x300) : 0xc0000080 + fz_below(r, 0x110);
		break;
	case KVM_GET_MSR_INDEX_LIST:
	case KVM_GET_MSR_FEATURE_INDEX_LIST:
		list->nmsrs = fz_chance(r, 80) ? fz_below(r, 300) : fz_value(r);
		break;
	case KVM_X86_SET_MSR_FILTER:
		filter->flags = fz_chance(r, 80) ? fz_below(r, 2) : fz_value(r);
		for (i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
			filter->ranges[i].flags = fz_chance(r, 80) ?
						  fz_below(r, 4) : fz_value(r);
			filter->ranges[i].nmsrs = fz_chance(r, 80) ?
						  fz_below(r, 0x3000) : fz_value(r);
			filter->ranges[i].bitmap = fz_pointer(t, 0x600);
		}
		break;
	case KVM_SET_VCPU_EVENTS:
		if (fz_chance(r, 70)) {
			ev->flags &= KVM_VCPUEVENT_VALID_NMI_PENDING |
				     KVM_VCPUEVENT_VALID_SHADOW;
			ev->exception.nr = fz_below(r, 32);
			ev->interrupt.soft = 0;
			memset(&ev->smi, 0, sizeof(ev->smi));
		}
		break;
	case KVM_INTERRUPT:
		irq->irq = fz_chance(r, 90) ? fz_below(r, 256) : fz_value(r);
		break;
	case KVM_HAS_DEVICE_ATTR:
	case KVM_GET_DEVICE_ATTR:
	case KVM_SET_DEVICE_ATTR:
		attr->flags = fz_chance(r, 90) ? 0 : fz_value(r);
		attr->group = fz_below(r, 2);
		attr->attr = fz_below(r, 2);
		attr->addr = (unsigned long)fz_pointer(t, 8);
		break;
	case KVM_GET_SUPPORTED_CPUID:
	case KVM_SET_CPUID2:
	case KVM_GET_CPUID2:
		cpuid->nent = fz_chance(r, 70) ? fz_below(r, 100) : fz_value(r);
		break;
	case VMMU_GET_MEMSLOTS:
		slots->nr = fz_chance(r, 70) ? fz_below(r, 40) : fz_value(r);
		slots->pad = fz_chance(r, 90) ? 0 : fz_value(r);
		break;
	case KVM_SET_USER_MEMORY_REGION:
		fz_region(r, buf);
		break;
	case VMMU_SET_MMU:
		fz_mmu_config(r, buf);
		break;
	case VMMU_VCPU_ACCESS:
		acc->gpa = fz_gpa(r);
		acc->len = fz_chance(r, 80) ? fz_below(r, FZ_SCRATCH) :
					      fz_value(r);
		acc->buf = (unsigned long)fz_pointer(t, acc->len);
		acc->kind = fz_below(r, 4);
		acc->flags = fz_chance(r, 90) ? 0 : fz_value(r);
		acc->pad = fz_chance(r, 90) ? 0 : fz_value(r);
		break;
	case VMMU_VCPU_TRANSLATE:
	case VMMU_VCPU_SET_RUNSTATE:
		rs->gpa = fz_gpa(r);
		rs->flags = fz_below(r, 4);
		rs->pad = fz_chance(r, 90) ? 0 : fz_value(r);
		break;
	case KVM_PRE_FAULT_MEMORY:
		memset(pre, 0, sizeof(*pre));
		pre->gpa = fz_gpa(r) & ~0xfffULL;
		pre->size = fz_chance(r, 80) ? fz_below(r, 64) << 12 :
					       fz_value(r);
		if (fz_chance(r, 10))
			pre->flags = fz_value(r);
		break;
	case VMMU_TEST_PFNCACHE:
		pc->op = fz_below(r, 10);
		pc->id = fz_below(r, VMMU_TEST_PFNCACHES + 2);
		pc->gpa = fz_gpa(r);
		pc->len = fz_chance(r, 80) ? fz_below(r, 64) : fz_value(r);
		pc->offset = fz_chance(r, 80) ? fz_below(r, 4096) : fz_value(r);
		pc->buf = (unsigned long)fz_pointer(t, pc->len);
		break;
	case KVM_SET_MP_STATE:
		mp->mp_state = fz_below(r, 10);
		break;
	case KVM_GET_DIRTY_LOG:
		log->slot = fz_chance(r, 80) ? fz_below(r, 12) : fz_value(r);
		/*
		 * The log is as long as the slot, which may be far longer
		 * than any buffer here: never let it land in the fuzzer's
		 * own memory.  Unmapped, or NULL: the harvest runs, then
		 * EFAULT.
		 */
		log->dirty_bitmap = fz_chance(r, 80) ?
			(void *)(FZ_FAR + fz_below(r, 1 << 20)) : NULL;
		break;
	case KVM_CLEAR_DIRTY_LOG:
		clr->slot = fz_chance(r, 80) ? fz_below(r, 12) : fz_value(r);
		clr->first_page = fz_chance(r, 70) ? fz_below(r, 4) * 64 :
						     fz_value(r);
		clr->num_pages = fz_chance(r, 70) ? fz_below(r, 4) * 64 :
						    fz_value(r);
		clr->dirty_bitmap = fz_pointer(t, FZ_SCRATCH);
		break;
	case KVM_SET_SIGNAL_MASK:
		sig->len = fz_chance(r, 80) ? 8 : fz_value(r);
		/*
		 * The fuzzer's own timer signal must reach KVM_RUN: it is
		 * what ends a guest that loops.  A mask that blocks it makes
		 * vmmu keep the vCPU in the guest, as it should, until the
		 * epoch's limit kills the child (seen once: seed
		 * 62761425213, epoch 3).
		 */
		sig->sigset[(SIGUSR1 - 1) / 8] &= ~(1U << ((SIGUSR1 - 1) % 8));
		break;
	case KVM_ENABLE_CAP:
		/* The one vmmu enables (on a VM), or one of KVM's others. */
		cap->cap = fz_chance(r, 20) ? KVM_CAP_MAX_VCPU_ID :
			   fz_chance(r, 10) ? KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 :
			   fz_chance(r, 10) ? KVM_CAP_DIRTY_LOG_RING :
					      fz_below(r, 250);
		cap->flags = fz_chance(r, 90) ? 0 : fz_value(r);
		cap->args[0] = fz_chance(r, 80) ? fz_below(r, 70) : fz_value(r);
		break;
	case KVM_SET_SREGS:
		if (fz_chance(r, 50) &&
		    !fz_ioctl(fz_pick_vcpu(r), KVM_GET_SREGS, (unsigned long)buf))
			((u64 *)buf)[fz_below(r, sizeof(struct kvm_sregs) / 8)] =
				fz_value(r);
		break;
	}
}

static void fz_op_ioctl(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	const struct fz_known *k = &fz_known[fz_below(r, ARRAY_SIZE(fz_known))];
	int fd = fz_pick_fd(r, k->kind);
	unsigned long arg;
	long res;

	if (k->by_value) {
		arg = fz_chance(r, 80) ? fz_below(r, 250) : fz_value(r);
		if (k->cmd == KVM_RUN && fz_chance(r, 90))
			arg = 0;
	} else {
		fz_fill(r, t->scratch, FZ_SCRATCH);
		fz_shape(t, k->cmd, t->scratch);
		arg = (unsigned long)t->scratch;
		if (fz_chance(r, 15))
			arg = (unsigned long)fz_pointer(t, _IOC_SIZE(k->cmd));
		/* Never a memslot of random hva and size: it could be ours. */
		if (arg == (unsigned long)t->scratch)
			fz_shape(t, k->cmd, t->scratch);
	}
	res = fz_ioctl_timed(t, fd, k->cmd, arg);
	if (k->cmd == KVM_GET_STATS_FD && res >= 0) {
		/* At any offset, of any length, while other threads work. */
		off_t off = fz_chance(r, 80) ? fz_below(r, 4096) : fz_value(r);

		/* Only a negative offset may fail (EINVAL, the VFS's). */
		if (pread(res, t->scratch, fz_below(r, FZ_SCRATCH), off) < 0 &&
		    (errno != EINVAL || off >= 0))
			fz_count(&fz.st->stats_read_errors);
		fz_count(&fz.st->stats_fds);
		close(res);
	}
}

/* An ioctl number in the KVMIO or VMMUIO range: any nr, size, direction. */
static void fz_op_random_ioctl(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned long cmd, arg;
	int fd = fz_pick_fd(r, fz_below(r, FZ_NR_FD_KINDS));

	cmd = _IOC(fz_below(r, 4), fz_chance(r, 50) ? KVMIO : VMMUIO,
		   fz_below(r, 256),
		   fz_chance(r, 70) ? fz_below(r, 512) : fz_below(r, 1 << 14));
	if (fz_chance(r, 30))
		arg = fz_value(r);
	else
		arg = (unsigned long)fz_pointer(t, _IOC_SIZE(cmd));
	if (arg == (unsigned long)t->scratch)
		fz_shape(t, cmd, t->scratch);
	/* A random number can name KVM_RUN: keep every ioctl bounded. */
	fz_ioctl_timed(t, fd, cmd, arg);
}

/* Real-mode code: templates that do I/O, touch memory, loop, jump far. */
static size_t fz_code(struct fz_rng *r, u8 *c)
{
	size_t n = 0, i, len;
	u16 v;

	while (n < FZ_CODE_MAX - 16) {
		v = fz_rand(r);
		switch (fz_below(r, 12)) {
		case 0:		/* hlt */
			c[n++] = 0xf4;
			break;
		case 1:		/* mov $v, %dx; out %al or %ax, (%dx) */
		case 2:		/* mov $v, %dx; in (%dx), %al or %ax */
			c[n++] = 0xba;
			c[n++] = v;
			c[n++] = v >> 8;
			c[n++] = (fz_chance(r, 50) ? 0xee : 0xec) +
				 fz_below(r, 2);
			break;
		case 3:		/* mov $v, %ax; mov %ax, %ds */
			c[n++] = 0xb8;
			c[n++] = v;
			c[n++] = v >> 8;
			c[n++] = 0x8e;
			c[n++] = 0xd8;
			break;
		case 4:		/* movb $imm, (v) */
			c[n++] = 0xc6;
			c[n++] = 0x06;
			c[n++] = v;
			c[n++] = v >> 8;
			c[n++] = fz_rand(r);
			break;
		case 5:		/* mov (v), %al */
			c[n++] = 0x8a;
			c[n++] = 0x06;
			c[n++] = v;
			c[n++] = v >> 8;
			break;
		case 6:		/* jmp . */
			c[n++] = 0xeb;
			c[n++] = 0xfe;
			break;
		case 7:		/* mov $v, %cx; loop . */
			c[n++] = 0xb9;
			c[n++] = v;
			c[n++] = v >> 8;
			c[n++] = 0xe2;
			c[n++] = 0xfe;
			break;
		case 8:		/* ljmp $seg, $off */
			c[n++] = 0xea;
			for (i = 0; i < 4; i++)
				c[n++] = fz_rand(r);
			break;
		case 9:		/* cpuid */
			c[n++] = 0x0f;
			c[n++] = 0xa2;
			break;
		case 10:	/* out %al, $imm8 */
			c[n++] = 0xe6;
			c[n++] = v;
			break;
		default:
			len = 1 + fz_below(r, 8);
			for (i = 0; i < len; i++)
				c[n++] = fz_rand(r);
		}
		if (fz_chance(r, 15))
			break;
	}
	return n;
}

static void fz_segment(struct kvm_segment *seg, u16 sel, u8 type, bool pm)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = pm ? sel : 0;
	seg->limit = pm ? 0xffffffff : 0xffff;
	seg->type = type;
	seg->present = 1;
	seg->s = 1;
	seg->db = pm;
	seg->g = pm;
}

/* Real mode at CS 0 mostly, flat protected mode, or something invalid. */
static void fz_guest_state(struct fz_thread *t, int fd, u64 rip)
{
	struct fz_rng *r = &t->rng;
	struct kvm_regs regs;
	struct kvm_sregs s;
	bool pm = fz_chance(r, 10);

	if (fz_ioctl(fd, KVM_GET_SREGS, (unsigned long)&s))
		return;
	s.cs.selector = 0;
	s.cs.base = 0;
	if (pm) {
		fz_segment(&s.cs, 0x08, 0xb, true);
		fz_segment(&s.ds, 0x10, 0x3, true);
		s.es = s.ds;
		s.ss = s.ds;
		s.cr0 |= 1;		/* PE */
	}
	if (fz_chance(r, 15))
		((u64 *)&s)[fz_below(r, sizeof(s) / 8)] = fz_value(r);
	fz_ioctl(fd, KVM_SET_SREGS, (unsigned long)&s);
	fz_fill(r, &regs, sizeof(regs));
	regs.rip = rip;
	if (fz_chance(r, 90))
		regs.rflags = 2;
	fz_ioctl(fd, KVM_SET_REGS, (unsigned long)&regs);
}

/* Complete an exit the way a VMM would, or not at all. */
static void fz_complete(struct fz_thread *t, u8 *run_map, struct kvm_run *run)
{
	struct fz_rng *r = &t->rng;
	u64 data[2] = { fz_rand(r), fz_rand(r) };
	u32 reason = run->exit_reason;
	size_t len;

	fz_count(&fz.st->exits[reason < FZ_EXIT_REASONS ? reason : 0]);
	if (reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN &&
	    run->io.data_offset < PAGE_SIZE) {
		len = (size_t)run->io.size * run->io.count;
		if (len > sizeof(data))
			len = sizeof(data);
		fz_poke(run_map + run->io.data_offset, data, len);
	} else if (reason == KVM_EXIT_MMIO && !run->mmio.is_write) {
		fz_poke(run_map + offsetof(struct kvm_run, mmio.data), data, 8);
	}
}

/* Set a guest up in a memslot at gpa 0, run it a few times. */
static void fz_op_guest(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct kvm_userspace_memory_region m = { .slot = fz_below(r, 2) };
	unsigned int v, i;
	int fd = fz_pick(r, fz.vcpu, FZ_VCPUS, &v);
	int vm = fz_get(&fz.vm[__atomic_load_n(&fz.vcpu_vm[v],
					       __ATOMIC_RELAXED)]);
	u8 code[FZ_CODE_MAX], *run_map;
	struct kvm_run run;
	size_t room, len;
	u8 *hva = fz_area_addr(r, &room);
	u64 rip;
	long ret;

	m.flags = fz_chance(r, 10) ? KVM_MEM_READONLY : 0;
	m.userspace_addr = (unsigned long)hva;
	m.memory_size = (fz_below(r, (room < (1 << 20) ? room : (1 << 20)) >>
				     12) + 1) << 12;
	if (fz_chance(r, 70))
		fz_ioctl(vm, KVM_SET_USER_MEMORY_REGION, (unsigned long)&m);
	rip = fz_below(r, m.memory_size < 0x10000 ? m.memory_size : 0x10000);
	len = fz_code(r, code);
	fz_poke(hva + rip, code, len);
	fz_guest_state(t, fd, rip);
	run_map = mmap(NULL, fz.run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	if (run_map == MAP_FAILED)
		run_map = NULL;
	for (i = fz_below(r, FZ_RUNS) + 1; i; i--) {
		u8 imm = fz_chance(r, 10);

		if (run_map)
			fz_poke(run_map + offsetof(struct kvm_run,
						   immediate_exit), &imm, 1);
		ret = fz_ioctl_timed(t, fd, KVM_RUN, 0);
		if ((ret == 0 || ret == -EINTR) && run_map &&
		    fz_peek(&run, run_map, sizeof(run)))
			fz_complete(t, run_map, &run);
	}
	if (run_map)
		munmap(run_map, fz.run_size);
}

static int *fz_table(enum fz_fd_kind kind, unsigned int *n)
{
	static const unsigned int sizes[] = { FZ_SYS, FZ_VMS, FZ_VCPUS };
	int *tables[] = { fz.sys, fz.vm, fz.vcpu };

	*n = sizes[kind];
	return tables[kind];
}

static void fz_op_close(struct fz_thread *t)
{
	unsigned int n;
	int *table = fz_table(fz_below(&t->rng, FZ_NR_FD_KINDS), &n);

	fz_put(&table[fz_below(&t->rng, n)], -1);
}

static void fz_op_dup(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	enum fz_fd_kind kind = fz_below(r, FZ_NR_FD_KINDS);
	unsigned int n, from, to;
	int *table = fz_table(kind, &n);
	int fd = dup(fz_pick(r, table, n, &from));

	if (fd < 0)
		return;
	to = fz_below(r, n);
	if (kind == FZ_FD_VCPU)
		__atomic_store_n(&fz.vcpu_vm[to], fz.vcpu_vm[from],
				 __ATOMIC_RELAXED);
	fz_put(&table[to], fd);
}

/* Is @fd a vmmu object of kind @what ("vmmu-vm", "vmmu-vcpu")? */
static bool fz_fd_is(int fd, const char *what)
{
	char path[32], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return !strncmp(link, "anon_inode:", 11) &&
	       !strncmp(link + 11, what, strlen(what));
}

/* An inherited VM or vCPU fd must refuse everything in another mm. */
static void fz_check_eio(int fd, const char *what, unsigned long cmd,
			 void *buf)
{
	long r;

	if (!fz_fd_is(fd, what))
		return;
	r = ioctl(fd, cmd, buf) < 0 ? -errno : 0;
	if (r == -EIO)
		return;
	fz_count(&fz.st->eio_broken);
	fz.st->eio_cmd = cmd;
	fz.st->eio_ret = r;
}

/* The forked process: a few operations on inherited fds, then _exit(). */
static void fz_grandchild(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct kvm_userspace_memory_region m = {
		.memory_size = PAGE_SIZE, .userspace_addr = FZ_FAR,
	};
	unsigned int i, s, n;
	int fd, *table;

	for (i = fz_below(r, 4) + 1; i; i--) {
		switch (fz_below(r, 4)) {
		case 0:
			fz_check_eio(fz_pick_vm(r), "vmmu-vm", VMMU_GET_MMU,
				     t->scratch);
			fz_check_eio(fz_pick_vm(r), "vmmu-vm",
				     KVM_SET_USER_MEMORY_REGION, &m);
			break;
		case 1:
			fz_check_eio(fz_pick_vcpu(r), "vmmu-vcpu", KVM_GET_REGS,
				     t->scratch);
			fz_check_eio(fz_pick_vcpu(r), "vmmu-vcpu", KVM_RUN, NULL);
			break;
		case 2:		/* cleared: a later fd may reuse the number */
			table = fz_table(fz_below(r, FZ_NR_FD_KINDS), &n);
			fz_put(&table[fz_below(r, n)], -1);
			break;
		default:	/* a VM of its own, gone before the next check */
			fd = ioctl(fz_pick(r, fz.sys, FZ_SYS, &s),
				   KVM_CREATE_VM, 0);
			if (fd < 0)
				break;
			ioctl(fd, KVM_SET_USER_MEMORY_REGION, &m);
			close(fd);
		}
	}
}

static void fz_op_fork(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	unsigned int how = fz_below(r, 3);
	pid_t pid = fork();

	if (pid == 0) {
		fz_grandchild(t);
		_exit(0);
	}
	if (pid < 0 || how == 2)
		return;		/* left running: the parent reaps it */
	if (how == 1)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A random page-aligned part of @a: its offset and length. */
static void fz_subrange(struct fz_rng *r, const struct fz_area *a,
			size_t *off, size_t *len)
{
	size_t pages = a->size >> 12;

	*off = fz_below(r, pages) << 12;
	*len = (fz_below(r, pages - (*off >> 12)) + 1) << 12;
}

/* A new area somewhere in the arena (a 2 MiB huge page now and then). */
static void fz_area_map(struct fz_rng *r, struct fz_area *a)
{
	bool huge = fz_chance(r, 15);
	size_t size = huge ? FZ_AREA_MAX :
			     (fz_below(r, FZ_AREA_MAX >> 12) + 1) << 12;
	u64 align = huge ? FZ_AREA_MAX : PAGE_SIZE;
	u64 span = FZ_ARENA_SIZE - FZ_AREA_MIN - size;
	u8 *addr = FZ_ARENA + FZ_AREA_MIN + fz_below(r, span / align) * align;
	int prot = fz_chance(r, 90) ? PROT_READ | PROT_WRITE : PROT_READ;
	int flags = fz_chance(r, 20) ? MAP_SHARED : MAP_PRIVATE;
	void *p;

	p = mmap(addr, size, prot, flags | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (p == MAP_FAILED)
		return;
	if (huge)
		madvise(p, size, MADV_HUGEPAGE);
	a->addr = p;
	a->size = size;
}

/* Map, unmap, protect, drop, move or fill guest memory areas. */
static void fz_op_mem(struct fz_thread *t)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
	};
	struct fz_rng *r = &t->rng;
	unsigned int op = fz_below(r, 6);
	struct fz_area *a = &fz.area[fz_below(r, FZ_AREAS)];
	size_t off, len, size;
	void *p;

	pthread_mutex_lock(&fz.area_lock);
	if (!a->addr || op == 0) {
		fz_area_map(r, a);
		goto out;
	}
	fz_subrange(r, a, &off, &len);
	switch (op) {
	case 1:
		if (fz_chance(r, 50)) {
			off = 0;
			len = a->size;
		}
		munmap(a->addr + off, len);
		if (len == a->size)
			a->addr = NULL;
		break;
	case 2:
		mprotect(a->addr + off, len, prots[fz_below(r, 3)]);
		break;
	case 3:
		madvise(a->addr + off, len, MADV_DONTNEED);
		break;
	case 4:
		size = (fz_below(r, FZ_AREA_MAX >> 12) + 1) << 12;
		p = mremap(a->addr, a->size, size,
			   fz_chance(r, 50) ? MREMAP_MAYMOVE : 0);
		if (p != MAP_FAILED) {
			a->addr = p;
			a->size = size;
		}
		break;
	default:
		fz_fill(r, t->scratch, FZ_SCRATCH);
		fz_poke(a->addr + off, t->scratch,
			len < FZ_SCRATCH ? len : FZ_SCRATCH);
	}
out:
	pthread_mutex_unlock(&fz.area_lock);
}

/* mmap of a vCPU fd with random offsets and sizes, munmap of one. */
static void fz_op_run_map(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct fz_area *a = &fz.map[fz_below(r, FZ_MAPS)];
	size_t size = fz.run_size, off = 0;
	void *p;

	if (fz_chance(r, 40))
		size = fz_chance(r, 50) ? fz_below(r, 4) << 12 :
					  fz_below(r, 3 * PAGE_SIZE);
	if (fz_chance(r, 30))
		off = fz_below(r, 4) << 12;
	pthread_mutex_lock(&fz.area_lock);
	if (a->addr && fz_chance(r, 50)) {
		munmap(a->addr, a->size);
		a->addr = NULL;
	} else {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fz_pick_vcpu(r), off);
		if (p != MAP_FAILED) {
			if (a->addr)
				munmap(a->addr, a->size);
			a->addr = p;
			a->size = size;
		}
	}
	pthread_mutex_unlock(&fz.area_lock);
}

static void fz_op_zap(struct fz_thread *t)
{
	fz_ioctl(fz_pick_vm(&t->rng), VMMU_ZAP_ALL, 0);
}

/* A test cache: activate, use, time, deactivate, in random order. */
static void fz_op_pfncache(struct fz_thread *t)
{
	static const u32 ops[] = {
		VMMU_TEST_PFNCACHE_ACTIVATE, VMMU_TEST_PFNCACHE_ACTIVATE,
		VMMU_TEST_PFNCACHE_DEACTIVATE, VMMU_TEST_PFNCACHE_REFRESH,
		VMMU_TEST_PFNCACHE_READ, VMMU_TEST_PFNCACHE_WRITE,
		VMMU_TEST_PFNCACHE_TIMER_START, VMMU_TEST_PFNCACHE_TIMER_STOP,
		VMMU_TEST_PFNCACHE_STATS,
	};
	struct fz_rng *r = &t->rng;
	struct vmmu_test_pfncache pc;
	int vm = fz_pick_vm(r);
	unsigned int i;

	for (i = fz_below(r, 4) + 1; i; i--) {
		memset(&pc, 0, sizeof(pc));
		pc.op = ops[fz_below(r, ARRAY_SIZE(ops))];
		pc.id = fz_below(r, VMMU_TEST_PFNCACHES);
		pc.gpa = fz_gpa(r);
		pc.len = fz_chance(r, 80) ? 8ULL << fz_below(r, 4) :
					    fz_below(r, 2 * PAGE_SIZE);
		pc.offset = fz_below(r, 64);
		pc.buf = (unsigned long)fz_pointer(t, pc.len);
		pc.period_ns = 10000 + fz_below(r, 1000000);
		if (!fz_ioctl(vm, VMMU_TEST_PFNCACHE, (unsigned long)&pc) &&
		    pc.op == VMMU_TEST_PFNCACHE_TIMER_START)
			fz_count(&fz.st->timers_started);
	}
}

static void fz_op_runstate(struct fz_thread *t)
{
	struct fz_rng *r = &t->rng;
	struct vmmu_runstate_config cfg = {
		.gpa = fz_gpa(r) & ~(fz_chance(r, 80) ? 63ULL : 0),
		.flags = fz_chance(r, 70) ? VMMU_RUNSTATE_ENABLE : 0,
	};

	fz_ioctl(fz_pick_vcpu(r), VMMU_VCPU_SET_RUNSTATE,
		 (unsigned long)&cfg);
}

/*
 * Operations, their weights, and whether fail-nth may be armed around
 * them: not around guests (KVM_RUN needs the timer signal) or fork.  An
 * injected failure in vCPU creation may print an allocation-failure
 * report (the kernel's FPU helper allocates without __GFP_NOWARN): a stack
 * dump without a header line, which fz_kmsg_scan() does not count.
 */
static const struct fz_op {
	void (*fn)(struct fz_thread *t);
	unsigned int weight;
	bool inject;
} fz_ops[FZ_NR_CLASSES] = {
	[FZ_OP_VM_CREATE] = { fz_op_vm_create, 4, true },
	[FZ_OP_SET_MMU] = { fz_op_set_mmu, 4, true },
	[FZ_OP_VCPU_CREATE] = { fz_op_vcpu_create, 6, true },
	[FZ_OP_MEMSLOT] = { fz_op_memslot, 10, true },
	[FZ_OP_IOCTL] = { fz_op_ioctl, 20, true },
	[FZ_OP_RANDOM_IOCTL] = { fz_op_random_ioctl, 6, true },
	[FZ_OP_GUEST] = { fz_op_guest, 12, false },
	[FZ_OP_CLOSE] = { fz_op_close, 4, true },
	[FZ_OP_DUP] = { fz_op_dup, 2, true },
	[FZ_OP_FORK] = { fz_op_fork, 1, false },
	[FZ_OP_MEM] = { fz_op_mem, 8, true },
	[FZ_OP_RUN_MAP] = { fz_op_run_map, 3, true },
	[FZ_OP_ZAP] = { fz_op_zap, 2, true },
	[FZ_OP_PFNCACHE] = { fz_op_pfncache, 5, true },
	[FZ_OP_RUNSTATE] = { fz_op_runstate, 3, true },
};

static enum fz_class fz_pick_op(struct fz_rng *r)
{
	unsigned int total = 0, i, w;

	for (i = 0; i < FZ_NR_CLASSES; i++)
		total += fz_ops[i].weight;
	w = fz_below(r, total);
	for (i = 0; w >= fz_ops[i].weight; i++)
		w -= fz_ops[i].weight;
	return i;
}

static void fz_on_signal(int sig)
{
	(void)sig;
}

static __thread int fz_current_op = -1;

/* A crash of the fuzzer itself: say where, then die of the signal. */
static void fz_on_crash(int sig, siginfo_t *si, void *uc)
{
	char line[128];
	int n;

	(void)uc;
	n = snprintf(line, sizeof(line),
		     "# fuzz child: signal %d at %p in operation class %d\n",
		     sig, si->si_addr, fz_current_op);
	if (write(STDOUT_FILENO, line, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * fail-nth for the next operation.  SIGUSR1 stays blocked meanwhile: an
 * injected failure while the kernel sets up a signal frame makes it force
 * SIGSEGV on the task (epoch children died so, without fz_on_crash()
 * running), which is no finding of vmmu's.  So KVM_RUN, which only the
 * signal ends, is left out while armed.
 */
static void fz_arm(struct fz_thread *t)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fz_armed = true;
	fz_count(&fz.st->faults_armed);
	fail_arm(1 + fz_below(&t->rng, 20));
}

static void fz_disarm(void)
{
	sigset_t set;

	fail_disarm();
	fz_armed = false;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = SIGUSR1,
	};
	enum fz_class c;
	unsigned int i;
	bool armed;

	sev._sigev_un._tid = syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->timer))
		_exit(3);
	pthread_barrier_wait(&fz.start);
	for (i = 0; i < fz.ep->nr_ops; i++) {
		c = fz_pick_op(&t->rng);
		armed = fz.ep->inject && fz_chance(&t->rng, 5) &&
			fz_ops[c].inject;
		if (armed)
			fz_arm(t);
		fz_current_op = c;
		fz_ops[c].fn(t);
		if (armed)
			fz_disarm();
		fz_count(&fz.st->ops[c]);
		__atomic_fetch_add(&fz.ops_done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

void fz_child_prepare(unsigned int nr_threads)
{
	size_t stride = FZ_SCRATCH + PAGE_SIZE;
	unsigned int i;

	st_reserve(FZ_ARENA_SIZE, FZ_ARENA);
	/* The arena's first page is the read-only one. */
	if (mmap(FZ_ARENA, PAGE_SIZE, PROT_READ,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		bail_out("mmap read-only page: %s", strerror(errno));
	fz_scratch_base = mmap(NULL, stride * nr_threads,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz_scratch_base == MAP_FAILED)
		bail_out("mmap scratch: %s", strerror(errno));
	for (i = 0; i < nr_threads; i++)
		mprotect(fz_scratch_base + i * stride + FZ_SCRATCH, PAGE_SIZE,
			 PROT_NONE);
}

/* exit_group() once a random share of all operations is done. */
static void fz_exit_group_later(const struct fz_epoch *ep,
				struct fz_rng *r)
{
	u64 at = fz_below(r, (u64)ep->nr_ops * ep->nr_threads);

	while (__atomic_load_n(&fz.ops_done, __ATOMIC_RELAXED) < at)
		usleep(1000);
	_exit(0);
}

static void fz_child_close_all(void)
{
	unsigned int i;

	for (i = 0; i < FZ_SYS; i++)
		fz_put(&fz.sys[i], -1);
	for (i = 0; i < FZ_VMS; i++)
		fz_put(&fz.vm[i], -1);
	for (i = 0; i < FZ_VCPUS; i++)
		fz_put(&fz.vcpu[i], -1);
	for (i = 0; i < FZ_AREAS; i++)
		if (fz.area[i].addr)
			munmap(fz.area[i].addr, fz.area[i].size);
	for (i = 0; i < FZ_MAPS; i++)
		if (fz.map[i].addr)
			munmap(fz.map[i].addr, fz.map[i].size);
}

void fz_child_run(const struct fz_epoch *ep)
{
	struct sigaction sa = { .sa_handler = fz_on_signal };
	struct fz_rng r;
	unsigned int i;
	long size;

	fz.ep = ep;
	fz.st = ep->stats;
	memset(fz.sys, -1, sizeof(fz.sys));
	memset(fz.vm, -1, sizeof(fz.vm));
	memset(fz.vcpu, -1, sizeof(fz.vcpu));
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	sa.sa_handler = NULL;
	sa.sa_sigaction = fz_on_crash;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	fz.sys[0] = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	fz.mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	size = ioctl(fz.sys[0], KVM_GET_VCPU_MMAP_SIZE, 0);
	fz.run_size = size > 0 ? (size_t)size : PAGE_SIZE;
	pthread_barrier_init(&fz.start, NULL, ep->nr_threads + 1);
	for (i = 0; i < ep->nr_threads; i++) {
		struct fz_thread *t = &fz.threads[i];

		t->id = i;
		t->scratch = fz_scratch_base + i * (FZ_SCRATCH + PAGE_SIZE);
		fz_rng_init(&t->rng, ep->seed, ep->epoch, i);
		if (pthread_create(&t->thread, NULL, fz_thread_fn, t))
			_exit(3);
	}
	pthread_barrier_wait(&fz.start);
	fz_rng_init(&r, ep->seed, ep->epoch, FZ_STREAM_EPOCH);
	fz_rand(&r);			/* the parent's draw: how it ends */
	if (ep->end == FZ_END_EXIT_GROUP)
		fz_exit_group_later(ep, &r);
	for (i = 0; i < ep->nr_threads; i++)
		pthread_join(fz.threads[i].thread, NULL);
	fz_child_close_all();
	_exit(0);
}
