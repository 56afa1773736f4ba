// SPDX-License-Identifier: GPL-2.0
/*
 * vmmu-migrate: live migration of a running guest from one VM to another,
 * driven by vmmu's dirty log, the way a VMM does it.
 *
 *  1. The source VM runs a 64-bit guest (hardware vCPU: SVM with NPT or VMX
 *     with EPT) that writes a pattern over 12 MiB of its RAM, pass after
 *     pass, and checks each pass by reading it back; it reports every pass
 *     on an I/O port.  A thread runs its vCPU.
 *  2. While it runs, the demo turns dirty logging on for the RAM slot,
 *     copies all of RAM to the destination VM's memory, then copies, round
 *     after round, the pages the log says were written since the last
 *     round (KVM_GET_DIRTY_LOG, or with --ring the vCPU's dirty ring and
 *     KVM_RESET_DIRTY_RINGS), until a round has few pages left.
 *  3. It stops the source vCPU (a signal that only KVM_RUN unblocks,
 *     KVM_SET_SIGNAL_MASK), completes the exit, harvests the last pages,
 *     copies them with the vCPU's registers (KVM_GET_REGS, KVM_GET_SREGS)
 *     and checks that the two memories are equal, byte for byte.
 *  4. The destination vCPU gets the registers and runs: the guest goes on
 *     where it stopped, finishes its pass and checks the whole pass it
 *     wrote, half of it before the move; the demo checks its report.
 *
 * It prints every round (pages copied) and the downtime: from the stop of
 * the source to the start of the destination.  The exit status is 0 only
 * if every check passed.
 *
 * Usage: vmmu-migrate [--ring]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define BIT_ULL(n)	(1ULL << (n))
#define MiB		(1024ULL * 1024)
#define PAGE_SIZE	4096ULL

/* Guest-physical layout: one slot of RAM at 0. */
#define RAM_SIZE	(16 * MiB)
#define RAM_PAGES	(RAM_SIZE / PAGE_SIZE)
#define RAM_SLOT	0
#define PML4_GPA	0x1000ULL
#define PDPT_GPA	0x2000ULL
#define PD_GPA		0x3000ULL
#define CODE_GPA	0x8000ULL
#define DATA_GPA	(4 * MiB)
#define DATA_END	RAM_SIZE

#define PORT_PASS	0xe0	/* a pass written and checked: eax = pass */
#define PORT_BAD	0xe1	/* a word was wrong: eax = its address */
#define STR(x)		#x
#define ASM_NUM(x)	STR(x)

/* Ring entries per vCPU with --ring; the soft limit is 64 fewer. */
#define RING_ENTRIES	4096
#define MAX_ROUNDS	12
/* A round with fewer dirty pages than this is the last before the stop. */
#define STOP_PAGES	256

/*
 * The guest.  In: rdi = DATA_GPA, rsi = DATA_END, rbx = the last pass
 * done (0 at first).  Each pass n writes the word n ^ address at every
 * 8-byte word of [rdi, rsi), a page at a time (so a pass dirties every
 * page), reads the pass back and sends n to PORT_PASS; a wrong word sends
 * its address to PORT_BAD and halts.
 */
asm(".pushsection .rodata\n"
	"migrate_guest:\n"
	".code64\n"
	"1:	inc	%rbx\n"
	"	mov	%rdi, %rcx\n"
	"2:	mov	%rcx, %rax\n"
	"	xor	%rbx, %rax\n"
	"	mov	%rax, (%rcx)\n"
	"	add	$8, %rcx\n"
	"	cmp	%rsi, %rcx\n"
	"	jb	2b\n"
	"	mov	%rdi, %rcx\n"
	"3:	mov	%rcx, %rax\n"
	"	xor	%rbx, %rax\n"
	"	cmp	%rax, (%rcx)\n"
	"	jne	4f\n"
	"	add	$8, %rcx\n"
	"	cmp	%rsi, %rcx\n"
	"	jb	3b\n"
	"	mov	%ebx, %eax\n"
	"	out	%eax, $" ASM_NUM(PORT_PASS) "\n"
	"	jmp	1b\n"
	"4:	mov	%ecx, %eax\n"
	"	out	%eax, $" ASM_NUM(PORT_BAD) "\n"
	"	hlt\n"
	"migrate_guest_end:\n"
	".popsection\n");

#define CR0_PE		BIT_ULL(0)
#define CR0_ET		BIT_ULL(4)
#define CR0_NE		BIT_ULL(5)
#define CR0_PG		BIT_ULL(31)
#define CR4_PAE		BIT_ULL(5)
#define EFER_LME	BIT_ULL(8)
#define EFER_LMA	BIT_ULL(10)
#define PTE_P		BIT_ULL(0)
#define PTE_W		BIT_ULL(1)
#define PTE_PS		BIT_ULL(7)

/* One VM with one hardware vCPU and its RAM. */
struct vm {
	const char *name;
	int fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t run_size;
	u8 *ram;
	struct kvm_dirty_gfn *ring;	/* --ring, source only */
	u32 ring_next;
};

static int sys_fd;
static bool use_ring;
static unsigned int failures;
static atomic_bool stop_requested;
static atomic_ulong passes;		/* passes reported by the source */
static pthread_t vcpu_thread;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("   %s ", ok ? "ok:  " : "FAIL:");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok)
		failures++;
}

static void die(const char *what)
{
	fprintf(stderr, "vmmu-migrate: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long xioctl(int fd, unsigned long req, unsigned long arg)
{
	long r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Which hardware vCPUs this machine has: SVM with NPT, else VMX with EPT. */
static int set_hw_mmu(int vm_fd)
{
	struct vmmu_mmu_config svm = {
		.format = VMMU_MMU_FORMAT_NPT, .vcpu_kind = VMMU_VCPU_SVM,
	};
	struct vmmu_mmu_config vmx = {
		.format = VMMU_MMU_FORMAT_EPT, .vcpu_kind = VMMU_VCPU_VMX,
	};

	if (!xioctl(vm_fd, VMMU_SET_MMU, (unsigned long)&svm))
		return 0;
	return (int)xioctl(vm_fd, VMMU_SET_MMU, (unsigned long)&vmx);
}

static void vm_create(struct vm *vm, const char *name, bool ring)
{
	struct kvm_userspace_memory_region mem = {
		.slot = RAM_SLOT, .memory_size = RAM_SIZE,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING,
		.args = { RING_ENTRIES * sizeof(struct kvm_dirty_gfn) },
	};
	long size;

	memset(vm, 0, sizeof(*vm));
	vm->name = name;
	vm->fd = (int)xioctl(sys_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM");
	errno = -set_hw_mmu(vm->fd);
	if (errno) {
		fprintf(stderr, "vmmu-migrate: no hardware vCPUs here (%s)%s\n",
			strerror(errno),
			": the demo needs SVM with NPT or VMX with EPT");
		exit(4);
	}
	if (ring && xioctl(vm->fd, KVM_ENABLE_CAP, (unsigned long)&cap))
		die("KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING)");
	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->ram == MAP_FAILED)
		die("mmap of guest RAM");
	mem.userspace_addr = (u64)vm->ram;
	if (xioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&mem))
		die("KVM_SET_USER_MEMORY_REGION");
	vm->vcpu_fd = (int)xioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		die("KVM_CREATE_VCPU");
	size = xioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run_size = size;
	vm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->vcpu_fd, 0);
	if (vm->run == MAP_FAILED)
		die("mmap of kvm_run");
	if (ring) {
		vm->ring = mmap(NULL, RING_ENTRIES * sizeof(*vm->ring),
				PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd,
				KVM_DIRTY_LOG_PAGE_OFFSET * PAGE_SIZE);
		if (vm->ring == MAP_FAILED)
			die("mmap of the dirty ring");
	}
}

static struct kvm_segment flat(u16 sel, bool code)
{
	return (struct kvm_segment) {
		.selector = sel, .limit = 0xffffffff, .present = 1, .s = 1,
		.g = 1, .type = code ? 0xb : 0x3, .l = code, .db = !code,
	};
}

/* Code, identity page tables (2 MiB pages), long mode, entry registers. */
static void guest_load(struct vm *vm)
{
	u64 *pml4 = (u64 *)(vm->ram + PML4_GPA);
	u64 *pdpt = (u64 *)(vm->ram + PDPT_GPA);
	u64 *pd = (u64 *)(vm->ram + PD_GPA);
	const u8 *start, *end;
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rip = CODE_GPA, .rflags = 2, .rdi = DATA_GPA, .rsi = DATA_END,
	};
	int i;

	asm("lea migrate_guest(%%rip), %0\n\t"
	    "lea migrate_guest_end(%%rip), %1" : "=r" (start), "=r" (end));
	memcpy(vm->ram + CODE_GPA, start, end - start);
	pml4[0] = PDPT_GPA | PTE_P | PTE_W;
	pdpt[0] = PD_GPA | PTE_P | PTE_W;
	for (i = 0; i < 512; i++)
		pd[i] = (u64)i * 2 * MiB | PTE_P | PTE_W | PTE_PS;
	if (xioctl(vm->vcpu_fd, KVM_GET_SREGS, (unsigned long)&sregs))
		die("KVM_GET_SREGS");
	sregs.cs = flat(8, true);
	sregs.ds = flat(16, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment) {
		.selector = 0x18, .limit = 0x67, .type = 0xb, .present = 1,
	};
	sregs.ldt = (struct kvm_segment) { .unusable = 1 };
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (xioctl(vm->vcpu_fd, KVM_SET_SREGS, (unsigned long)&sregs) ||
	    xioctl(vm->vcpu_fd, KVM_SET_REGS, (unsigned long)&regs))
		die("entering long mode");
}

/* SIGUSR1 ends KVM_RUN; it is blocked everywhere but inside KVM_RUN. */
static void on_sigusr1(int sig)
{
	(void)sig;
}

static void block_sigusr1(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/*
 * Run @vm's vCPU until a stop is requested (SIGUSR1 and stop_requested),
 * the guest reports a bad word, or @max_passes passes are done (0: no
 * limit).  Returns the last exit reason seen.
 */
static u32 run_guest(struct vm *vm, unsigned long max_passes,
		     unsigned long *done)
{
	struct {
		__u32 len;
		__u8 set[8];
	} mask = { .len = 8 };
	sigset_t set;

	pthread_sigmask(SIG_BLOCK, NULL, &set);
	sigdelset(&set, SIGUSR1);
	memcpy(mask.set, &set, 8);
	if (xioctl(vm->vcpu_fd, KVM_SET_SIGNAL_MASK, (unsigned long)&mask))
		die("KVM_SET_SIGNAL_MASK");
	for (;;) {
		long r = xioctl(vm->vcpu_fd, KVM_RUN, 0);
		u32 port, data;

		if (r == -EINTR) {
			if (atomic_load(&stop_requested))
				return KVM_EXIT_INTR;
			continue;
		}
		if (r)
			die("KVM_RUN");
		if (vm->run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
			/* The migration thread resets the ring; wait for it. */
			usleep(100);
			continue;
		}
		if (vm->run->exit_reason != KVM_EXIT_IO)
			return vm->run->exit_reason;
		port = vm->run->io.port;
		memcpy(&data, (u8 *)vm->run + vm->run->io.data_offset, 4);
		if (port == PORT_BAD) {
			printf("   the guest found a wrong word at %#x\n", data);
			return KVM_EXIT_IO;
		}
		*done = data;
		atomic_store(&passes, data);
		if (max_passes && data >= max_passes)
			return KVM_EXIT_IO;
	}
}

static void *source_vcpu(void *arg)
{
	static unsigned long done;

	run_guest(arg, 0, &done);
	return NULL;
}

/* Copy the pages of @bitmap (one bit per page) from @src to @dst. */
static unsigned long copy_bitmap(struct vm *src, struct vm *dst,
				 const u64 *bitmap)
{
	unsigned long n = 0, p;

	for (p = 0; p < RAM_PAGES; p++) {
		if (!(bitmap[p / 64] & (1ULL << (p % 64))))
			continue;
		memcpy(dst->ram + p * PAGE_SIZE, src->ram + p * PAGE_SIZE,
		       PAGE_SIZE);
		n++;
	}
	return n;
}

/* One round: the pages written since the last one, copied. */
static unsigned long round_bitmap(struct vm *src, struct vm *dst)
{
	static u64 bitmap[RAM_PAGES / 64];
	struct kvm_dirty_log log = { .slot = RAM_SLOT, .dirty_bitmap = bitmap };

	if (xioctl(src->fd, KVM_GET_DIRTY_LOG, (unsigned long)&log))
		die("KVM_GET_DIRTY_LOG");
	return copy_bitmap(src, dst, bitmap);
}

static unsigned long round_ring(struct vm *src, struct vm *dst)
{
	static u64 bitmap[RAM_PAGES / 64];
	unsigned long n;

	memset(bitmap, 0, sizeof(bitmap));
	for (;;) {
		struct kvm_dirty_gfn *e =
			&src->ring[src->ring_next % RING_ENTRIES];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			break;
		if (e->slot == RAM_SLOT && e->offset < RAM_PAGES)
			bitmap[e->offset / 64] |= 1ULL << (e->offset % 64);
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		src->ring_next++;
	}
	/* Protect them again before copying: a later write is logged. */
	if (xioctl(src->fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		die("KVM_RESET_DIRTY_RINGS");
	n = copy_bitmap(src, dst, bitmap);
	return n;
}

static unsigned long round_copy(struct vm *src, struct vm *dst)
{
	return use_ring ? round_ring(src, dst) : round_bitmap(src, dst);
}

int main(int argc, char **argv)
{
	struct kvm_userspace_memory_region logged = {
		.slot = RAM_SLOT, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.memory_size = RAM_SIZE,
	};
	unsigned long n, total = 0, after = 0, stopped;
	double t_stop, t_resume;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct vm src, dst;
	int round;
	u32 reason;

	use_ring = argc > 1 && !strcmp(argv[1], "--ring");
	sys_fd = open("/dev/vmmu", O_RDWR | O_CLOEXEC);
	if (sys_fd < 0)
		die("/dev/vmmu");
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_sigusr1);
	block_sigusr1();

	printf("== Live migration, dirty log: %s\n",
	       use_ring ? "the vCPU's dirty ring" : "KVM_GET_DIRTY_LOG bitmap");
	vm_create(&src, "source", use_ring);
	vm_create(&dst, "destination", false);
	guest_load(&src);
	pthread_create(&vcpu_thread, NULL, source_vcpu, &src);
	while (atomic_load(&passes) < 2)
		usleep(1000);
	printf("   the source guest is running: pass %lu\n",
	       atomic_load(&passes));

	/* Logging on, then the whole of RAM once. */
	logged.userspace_addr = (u64)src.ram;
	if (xioctl(src.fd, KVM_SET_USER_MEMORY_REGION, (unsigned long)&logged))
		die("KVM_MEM_LOG_DIRTY_PAGES");
	memcpy(dst.ram, src.ram, RAM_SIZE);
	printf("   round 0: all %llu pages copied (pass %lu)\n", RAM_PAGES,
	       atomic_load(&passes));
	for (round = 1; round <= MAX_ROUNDS; round++) {
		usleep(20000);
		n = round_copy(&src, &dst);
		total += n;
		printf("   round %d: %lu dirty pages copied (pass %lu)\n", round,
		       n, atomic_load(&passes));
		if (n < STOP_PAGES)
			break;
	}

	/* Stop the source: the signal ends KVM_RUN; the exit completes. */
	t_stop = now_ms();
	atomic_store(&stop_requested, true);
	pthread_kill(vcpu_thread, SIGUSR1);
	pthread_join(vcpu_thread, NULL);
	src.run->immediate_exit = 1;
	if (xioctl(src.vcpu_fd, KVM_RUN, 0) != -EINTR)
		check(false, "KVM_RUN with immediate_exit ends with EINTR");
	src.run->immediate_exit = 0;
	n = round_copy(&src, &dst);
	total += n;
	if (xioctl(src.vcpu_fd, KVM_GET_REGS, (unsigned long)&regs) ||
	    xioctl(src.vcpu_fd, KVM_GET_SREGS, (unsigned long)&sregs))
		die("reading the source vCPU");
	stopped = atomic_load(&passes);
	printf("   stopped after pass %lu, rip %#llx: last round %lu pages\n",
	       stopped, (unsigned long long)regs.rip, n);
	check(!memcmp(src.ram, dst.ram, RAM_SIZE),
	      "the destination's memory equals the source's, all %llu MiB",
	      RAM_SIZE / MiB);

	/* The destination takes over. */
	if (xioctl(dst.vcpu_fd, KVM_SET_SREGS, (unsigned long)&sregs) ||
	    xioctl(dst.vcpu_fd, KVM_SET_REGS, (unsigned long)&regs))
		die("loading the destination vCPU");
	t_resume = now_ms();
	atomic_store(&stop_requested, false);
	/*
	 * Pass stopped + 1 was under way at the stop: written partly on the
	 * source and partly here, it is checked whole here.
	 */
	reason = run_guest(&dst, stopped + 2, &after);
	check(reason == KVM_EXIT_IO && after == stopped + 2,
	      "the guest resumed on the destination and checked passes %lu and %lu",
	      stopped + 1, after);
	printf("   %d rounds, %lu pages after the first full copy, downtime %.1f ms\n",
	       round, total, t_resume - t_stop);
	return failures ? 1 : 0;
}
