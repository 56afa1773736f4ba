// SPDX-License-Identifier: GPL-2.0
/*
 * KVM_PRE_FAULT_MEMORY on a vCPU fd: KVM's struct, number, errnos and
 * write-back of the range that is left.
 *
 * The -EINTR case needs a signal that is pending before the first page is
 * mapped, and a signal that arrives before the ioctl reaches the kernel is
 * delivered before it, so the signal must arrive while the ioctl already
 * runs but has not mapped anything.  The range is backed by a userfaultfd
 * MISSING-registered area: the vCPU thread blocks in GUP on its first page,
 * which the handler learns from the fault message.  GUP waits for
 * userfaultfd killably, so SIGUSR1 (handler without SA_RESTART) only
 * becomes pending; the handler then makes an unrelated invalidation
 * (MADV_DONTNEED of a scratch page in a memslot of its own: the
 * invalidation sequence moves) and serves the page.  The fault finds the
 * sequence changed, retries, sees the signal and returns -EINTR with
 * nothing mapped.  The same with the blocking page second in the range
 * gives partial progress: 0 and a written-back range that starts at the
 * page that was interrupted.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define SEED		0x9f1e

#define SLOT_A		0		/* 16 pages, read-write */
#define GPA_A		0x100000ULL
#define NPAGES_A	16
#define SLOT_B		1		/* 8 pages, range runs past its end */
#define GPA_B		0x200000ULL
#define NPAGES_B	8
#define SLOT_RO		2		/* read-only */
#define GPA_RO		0x300000ULL
#define NPAGES_RO	4
#define SLOT_NONE	3		/* host mapping is PROT_NONE */
#define GPA_NONE	0x400000ULL
#define NPAGES_NONE	4
#define SLOT_UFFD	4		/* userfaultfd MISSING */
#define GPA_UFFD	0x500000ULL
#define NPAGES_UFFD	4
#define SLOT_SCRATCH	5		/* one page, invalidated to move the seq */
#define GPA_SCRATCH	0x600000ULL
#define GPA_HOLE	0x10000000ULL	/* no memslot */

#define NR_TESTS	57

static atomic_int sigusr1_seen;

static void on_sigusr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&sigusr1_seen, 1);
}

/* KVM_PRE_FAULT_MEMORY of [gpa, gpa + size); @out gets the struct back. */
static int prefault(int vcpu_fd, u64 gpa, u64 size, u64 flags,
		    struct kvm_pre_fault_memory *out)
{
	struct kvm_pre_fault_memory range = {
		.gpa = gpa,
		.size = size,
		.flags = flags,
	};
	int r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY,
			   (unsigned long)&range);

	if (out)
		*out = range;
	return r;
}

/* Number of pages of [gpa, gpa + n pages) whose flags contain @want. */
static unsigned int count_flags(int vcpu_fd, u64 gpa, unsigned int n,
				u32 want)
{
	struct vmmu_translation tr;
	unsigned int i, hits = 0;

	for (i = 0; i < n; i++) {
		if (mmu_translate(vcpu_fd, gpa + i * P, &tr))
			bail_out("VMMU_VCPU_TRANSLATE %#llx failed",
				 (unsigned long long)(gpa + i * P));
		if ((tr.flags & want) == want)
			hits++;
	}
	return hits;
}

static u64 faults(int vm_fd)
{
	struct vmmu_stats st;

	st_stats_or_die(vm_fd, &st);
	return st.faults;
}

static void test_einval(int vcpu_fd)
{
	static const struct {
		u64 gpa, size, flags;
		const char *what;
	} cases[] = {
		{ GPA_A, P, 1, "flags 1" },
		{ GPA_A, P, 1ULL << 63, "flags bit 63" },
		{ GPA_A + 8, P, 0, "unaligned gpa" },
		{ GPA_A, P + 512, 0, "unaligned size" },
		{ GPA_A, 0, 0, "size 0" },
		{ ~0ULL - P + 1, 2 * P, 0, "gpa + size overflows" },
		{ P, ~0ULL - P + 1, 0, "gpa + size is exactly 2^64" },
	};
	struct kvm_pre_fault_memory out;
	struct vmmu_translation tr;
	unsigned int i, unchanged = 0;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = prefault(vcpu_fd, cases[i].gpa, cases[i].size,
				 cases[i].flags, &out);

		is_errno(r, EINVAL, "%s: EINVAL", cases[i].what);
		if (out.gpa == cases[i].gpa && out.size == cases[i].size)
			unchanged++;
	}
	is_int(unchanged, ARRAY_SIZE(cases),
	       "EINVAL: gpa and size written back unchanged");
	is_errno(mmu_translate(vcpu_fd, GPA_A, &tr), 0, "translate after EINVAL");
	ok(tr.flags & VMMU_TR_NO_ROOT,
	   "EINVAL before any work: the vCPU still has no root (flags %s)",
	   mmu_tr_flags_str(tr.flags));
}

struct blocked_prefault {
	pthread_t thread;
	int vcpu_fd;
	u64 gpa, size;
	struct kvm_pre_fault_memory out;
	int r;
};

static void *blocked_prefault_main(void *arg)
{
	struct blocked_prefault *b = arg;

	b->r = prefault(b->vcpu_fd, b->gpa, b->size, 0, &b->out);
	return NULL;
}

/*
 * Pre-fault [gpa, gpa + size) in a thread that blocks on the userfaultfd
 * page @hva_wait; signal it, invalidate @scratch, serve the page.
 */
static void prefault_interrupted(int vm_fd, int vcpu_fd, int uffd,
				 u64 gpa, u64 size, void *hva_wait,
				 u64 gfn_wait, void *scratch,
				 struct blocked_prefault *b)
{
	struct vmmu_stats before, after;
	struct uffd_msg msg;
	static u64 page[P / 8];

	memset(b, 0, sizeof(*b));
	b->vcpu_fd = vcpu_fd;
	b->gpa = gpa;
	b->size = size;
	atomic_store(&sigusr1_seen, 0);
	if (pthread_create(&b->thread, NULL, blocked_prefault_main, b))
		bail_out("pthread_create failed");

	is_errno(st_uffd_read(uffd, &msg), 0, "userfaultfd: fault message");
	ok(msg.event == UFFD_EVENT_PAGEFAULT &&
	   msg.arg.pagefault.address == (unsigned long)hva_wait,
	   "the vCPU thread is blocked on %p (message event %u address %#llx)",
	   hva_wait, msg.event,
	   (unsigned long long)msg.arg.pagefault.address);

	pthread_kill(b->thread, SIGUSR1);
	st_stats_or_die(vm_fd, &before);
	if (madvise(scratch, P, MADV_DONTNEED))
		bail_out("madvise scratch: %s", strerror(errno));
	st_stats_or_die(vm_fd, &after);
	ok(after.invalidate_seq != before.invalidate_seq,
	   "MADV_DONTNEED of a scratch page moved the invalidation sequence");

	st_fill(page, SEED, gfn_wait, 0, P);
	if (st_uffd_copy(uffd, hva_wait, page, P))
		bail_out("UFFDIO_COPY: %s", strerror(errno));
	pthread_join(b->thread, NULL);
	is_int(atomic_load(&sigusr1_seen), 1, "the SIGUSR1 handler ran once");
}

static void test_eintr(int sys_fd)
{
	struct kvm_pre_fault_memory out;
	struct blocked_prefault b;
	struct sigaction sa;
	int vm_fd, vcpu_fd, uffd;
	char *mem, *scratch;
	static u64 buf[P / 8];
	unsigned int i, n;

	uffd = st_uffd_open(0);
	if (uffd < 0) {
		skip(18, "userfaultfd: %s", errno_name(-uffd));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;		/* no SA_RESTART */
	if (sigaction(SIGUSR1, &sa, NULL))
		bail_out("sigaction: %s", strerror(errno));

	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mem = mmu_map_anon(NPAGES_UFFD * P, NULL);
	scratch = mmu_map_anon(P, NULL);
	scratch[0] = 1;
	if (st_uffd_register(uffd, mem, NPAGES_UFFD * P,
			     UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER: %s", strerror(errno));
	mmu_set_region_or_die(vm_fd, SLOT_UFFD, 0, GPA_UFFD, NPAGES_UFFD * P, mem);
	/* Invalidations of memory no memslot maps leave the sequence alone. */
	mmu_set_region_or_die(vm_fd, SLOT_SCRATCH, 0, GPA_SCRATCH, P, scratch);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	/* Page 0 blocks first: nothing mapped yet when the signal shows. */
	prefault_interrupted(vm_fd, vcpu_fd, uffd, GPA_UFFD, 3 * P, mem,
			     GPA_UFFD >> 12, scratch, &b);
	is_errno(b.r, EINTR, "signal before progress: EINTR");
	ok(b.out.gpa == GPA_UFFD && b.out.size == 3 * P,
	   "EINTR: range written back unchanged (gpa %#llx size %#llx)",
	   (unsigned long long)b.out.gpa, (unsigned long long)b.out.size);
	n = count_flags(vcpu_fd, GPA_UFFD, NPAGES_UFFD, VMMU_TR_PRESENT);
	is_int(n, 0, "EINTR: no page was mapped");

	/* Page 0 is there now, page 1 blocks: one page of progress. */
	prefault_interrupted(vm_fd, vcpu_fd, uffd, GPA_UFFD, 3 * P,
			     mem + P, (GPA_UFFD >> 12) + 1, scratch, &b);
	is_errno(b.r, 0, "signal after one page: success");
	ok(b.out.gpa == GPA_UFFD + P && b.out.size == 2 * P,
	   "partial: gpa %#llx size %#llx written back (want %#llx %#llx)",
	   (unsigned long long)b.out.gpa, (unsigned long long)b.out.size,
	   (unsigned long long)(GPA_UFFD + P), (unsigned long long)(2 * P));
	ok(count_flags(vcpu_fd, GPA_UFFD, 1, VMMU_TR_PRESENT) == 1 &&
	   count_flags(vcpu_fd, GPA_UFFD + P, NPAGES_UFFD - 1,
		       VMMU_TR_PRESENT) == 0,
	   "partial: exactly the first page is mapped");

	/* Serve page 2 ahead; without a signal pages 1 and 2 map. */
	st_fill(buf, SEED, (GPA_UFFD >> 12) + 2, 0, P);
	is_errno(st_uffd_copy(uffd, mem + 2 * P, buf, P), 0,
		 "UFFDIO_COPY of page 2 ahead of any fault");
	is_errno(prefault(vcpu_fd, GPA_UFFD + P, 2 * P, 0, &out), 0,
		 "pre-fault of the served pages");
	is_int(count_flags(vcpu_fd, GPA_UFFD, 3, VMMU_TR_PRESENT), 3,
	       "pages 0-2 of the userfaultfd slot are mapped");
	n = 0;
	for (i = 0; i < 3; i++) {
		u64 gpa = GPA_UFFD + i * P;

		if (st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P) ==
		    VMMU_ACCESS_DONE &&
		    st_mismatch(buf, SEED, gpa >> 12, 0, P, false) < 0)
			n++;
	}
	is_int(n, 3, "the guest reads what UFFDIO_COPY served");

	signal(SIGUSR1, SIG_DFL);
	close(vcpu_fd);
	close(vm_fd);
	close(uffd);
	munmap(mem, NPAGES_UFFD * P);
	munmap(scratch, P);
}

int main(void)
{
	struct kvm_pre_fault_memory out;
	struct vmmu_objects base;
	struct vmmu_stats st;
	char *mem_a, *mem_b, *mem_ro, *mem_none;
	int sys_fd, vm_fd, vcpu_fd, vcpu2_fd;
	unsigned int i, good;
	u64 f0;
	static u64 buf[P / 8];

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();

	is_hex(KVM_PRE_FAULT_MEMORY, 0xc040aed5ULL,
	       "KVM_PRE_FAULT_MEMORY is KVM's _IOWR(0xae, 0xd5, 64 bytes)");
	is_int(vmmu_check_extension(sys_fd, KVM_CAP_PRE_FAULT_MEMORY), 1,
	       "KVM_CHECK_EXTENSION(KVM_CAP_PRE_FAULT_MEMORY) on /dev/vmmu");

	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	is_int(vmmu_check_extension(vm_fd, KVM_CAP_PRE_FAULT_MEMORY), 1,
	       "KVM_CHECK_EXTENSION(KVM_CAP_PRE_FAULT_MEMORY) on the VM fd");

	mem_a = mmu_map_anon(NPAGES_A * P, NULL);
	st_fill(mem_a, SEED, GPA_A >> 12, 0, NPAGES_A * P);
	mem_b = mmu_map_anon(NPAGES_B * P, NULL);
	st_fill(mem_b, SEED, GPA_B >> 12, 0, NPAGES_B * P);
	mem_ro = mmu_map_anon(NPAGES_RO * P, NULL);
	st_fill(mem_ro, SEED, GPA_RO >> 12, 0, NPAGES_RO * P);
	mem_none = st_reserve(NPAGES_NONE * P, NULL);
	mmu_set_region_or_die(vm_fd, SLOT_A, 0, GPA_A, NPAGES_A * P, mem_a);
	mmu_set_region_or_die(vm_fd, SLOT_B, 0, GPA_B, NPAGES_B * P, mem_b);
	mmu_set_region_or_die(vm_fd, SLOT_RO, KVM_MEM_READONLY, GPA_RO,
			      NPAGES_RO * P, mem_ro);
	mmu_set_region_or_die(vm_fd, SLOT_NONE, 0, GPA_NONE, NPAGES_NONE * P,
			      mem_none);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	test_einval(vcpu_fd);

	is_errno(prefault(vcpu_fd, GPA_HOLE, 4 * P, 0, &out), ENOENT,
		 "no memslot: ENOENT");
	ok(out.gpa == GPA_HOLE && out.size == 4 * P,
	   "ENOENT: range written back unchanged");
	is_errno(prefault(vcpu_fd, GPA_A - 2 * P, 4 * P, 0, &out), ENOENT,
		 "range starting below the slot: ENOENT (first page has none)");

	/* Full success, before any access. */
	f0 = faults(vm_fd);
	is_int(count_flags(vcpu_fd, GPA_A, NPAGES_A, VMMU_TR_PRESENT), 0,
	       "slot A: nothing mapped before the pre-fault");
	is_errno(prefault(vcpu_fd, GPA_A, NPAGES_A * P, 0, &out), 0,
		 "pre-fault of all of slot A");
	ok(out.size == 0 && out.gpa == GPA_A + NPAGES_A * P,
	   "full success: size 0, gpa %#llx (want %#llx)",
	   (unsigned long long)out.gpa,
	   (unsigned long long)(GPA_A + NPAGES_A * P));
	is_int(count_flags(vcpu_fd, GPA_A, NPAGES_A, VMMU_TR_PRESENT), NPAGES_A,
	       "every page of slot A is present before any access");
	ok(faults(vm_fd) - f0 >= NPAGES_A,
	   "the pre-fault went through the fault handler (%llu faults)",
	   (unsigned long long)(faults(vm_fd) - f0));
	f0 = faults(vm_fd);
	good = 0;
	for (i = 0; i < NPAGES_A; i++) {
		u64 gpa = GPA_A + i * P;

		if (st_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P) ==
		    VMMU_ACCESS_DONE &&
		    st_mismatch(buf, SEED, gpa >> 12, 0, P, false) < 0)
			good++;
	}
	is_int(good, NPAGES_A, "guest reads of slot A return its data");
	is_int(faults(vm_fd) - f0, 0, "and take no fault: the pages were mapped");

	/* Partial progress: the range runs past the end of slot B. */
	is_errno(prefault(vcpu_fd, GPA_B + 4 * P, 8 * P, 0, &out), 0,
		 "range running past the end of slot B: success");
	ok(out.gpa == GPA_B + NPAGES_B * P && out.size == 4 * P,
	   "partial: gpa %#llx size %#llx written back (want %#llx %#llx)",
	   (unsigned long long)out.gpa, (unsigned long long)out.size,
	   (unsigned long long)(GPA_B + NPAGES_B * P),
	   (unsigned long long)(4 * P));
	ok(count_flags(vcpu_fd, GPA_B, 4, VMMU_TR_PRESENT) == 0 &&
	   count_flags(vcpu_fd, GPA_B + 4 * P, 4, VMMU_TR_PRESENT) == 4,
	   "slot B: exactly the pages asked for are mapped");
	{
		struct kvm_pre_fault_memory again = out;
		int r = vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY,
				   (unsigned long)&again);

		is_errno(r, ENOENT, "resuming with the written-back range: ENOENT");
		ok(again.gpa == out.gpa && again.size == out.size,
		   "and the range is unchanged");
	}

	/* A read-only slot maps read-only; a PROT_NONE host range faults. */
	is_errno(prefault(vcpu_fd, GPA_RO, NPAGES_RO * P, 0, &out), 0,
		 "read-only slot: success");
	ok(count_flags(vcpu_fd, GPA_RO, NPAGES_RO, VMMU_TR_PRESENT) ==
	   NPAGES_RO &&
	   count_flags(vcpu_fd, GPA_RO, NPAGES_RO, VMMU_TR_WRITABLE) == 0,
	   "read-only slot: present and not writable");
	is_errno(prefault(vcpu_fd, GPA_NONE, NPAGES_NONE * P, 0, &out), EFAULT,
		 "host range PROT_NONE: EFAULT");
	ok(out.gpa == GPA_NONE && out.size == NPAGES_NONE * P,
	   "EFAULT: range written back unchanged");

	/* After VMMU_ZAP_ALL the pre-fault loads a new root. */
	is_errno(vmmu_ioctl(vm_fd, VMMU_ZAP_ALL, 0), 0, "VMMU_ZAP_ALL");
	is_errno(prefault(vcpu_fd, GPA_A, 2 * P, 0, &out), 0,
		 "pre-fault after VMMU_ZAP_ALL");
	{
		struct vmmu_translation tr;

		mmu_translate(vcpu_fd, GPA_A, &tr);
		ok((tr.flags & VMMU_TR_PRESENT) &&
		   !(tr.flags & VMMU_TR_ROOT_INVALID),
		   "mapped in a new valid root (flags %s)",
		   mmu_tr_flags_str(tr.flags));
	}
	st_stats_or_die(vm_fd, &st);
	is_int(st.roots_invalid, 0, "no invalid root left");

	/* A second vCPU shares the valid root: it sees what the first mapped. */
	vcpu2_fd = mmu_create_vcpu_or_die(vm_fd, 1);
	is_errno(prefault(vcpu2_fd, GPA_A + 2 * P, P, 0, &out), 0,
		 "pre-fault on a second vCPU");
	is_int(count_flags(vcpu2_fd, GPA_A, 3, VMMU_TR_PRESENT), 3,
	       "the second vCPU's root shows both vCPUs' pre-faults");

	close(vcpu2_fd);
	close(vcpu_fd);
	close(vm_fd);

	test_eintr(sys_fd);

	close(sys_fd);
	munmap(mem_a, NPAGES_A * P);
	munmap(mem_b, NPAGES_B * P);
	munmap(mem_ro, NPAGES_RO * P);
	munmap(mem_none, NPAGES_NONE * P);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
