// SPDX-License-Identifier: GPL-2.0
/*
 * Every invalid KVM_SET_USER_MEMORY_REGION gets KVM's errno, and leaves the
 * memslot set (entries and generation) exactly as it was.
 *
 * KVM checks in this order (kvm_vm_ioctl_set_memory_region() and
 * __kvm_set_memory_region()): slot id, flags, size / gpa / hva alignment,
 * hva access_ok(), address space id, gpa + size overflow, page count,
 * delete of an empty slot, hva / size / READONLY change of a live slot, and
 * only then overlap (-EEXIST).  Every check but the last gives -EINVAL, so
 * the order shows where an invalid request also overlaps another slot: it
 * must get -EINVAL, not -EEXIST.  After them comes the architecture's check
 * (kvm_arch_prepare_memory_region()): a created or moved slot must end at or
 * below 2^gpa_bits, else -EINVAL, so there overlap wins.
 */
#include <stdlib.h>
#include <unistd.h>

#include "mmu_util.h"
#include "tap.h"
#include "vmmu_util.h"

#define P		PAGE_SIZE
#define LOG		KVM_MEM_LOG_DIRTY_PAGES
#define RO		KVM_MEM_READONLY
#define AS1		BIT(16)

/*
 * The VM under test has three slots; FREE_ID and FREE_GPA are unused.
 * Guest memory (BUF) is one mapping of GUEST_PAGES pages.
 */
#define SLOT0_GPA	0x100000ULL
#define SLOT0_SIZE	(16 * P)
#define SLOT0_HVA	0
#define SLOT1_GPA	0x200000ULL
#define SLOT1_SIZE	(4 * P)
#define SLOT1_HVA	(16 * P)
#define SLOT7_GPA	0x300000ULL
#define SLOT7_SIZE	P
#define SLOT7_HVA	(20 * P)
#define FREE_ID		3
#define FREE_GPA	0x400000ULL
#define GUEST_PAGES	32

/* A user address far from anything mapped; it need not be mapped. */
#define BIG_HVA		BIT_ULL(40)
#define MAX_SIZE	(VMMU_MEM_MAX_NR_PAGES * P)

enum hva_base {
	ABS,		/* hva is an absolute address */
	BUF,		/* hva is an offset into the guest memory mapping */
	TOP,		/* hva is an offset from TASK_SIZE_MAX */
};

struct bad_region {
	const char *name;
	u32 slot;
	u32 flags;
	u64 gpa;
	u64 size;
	enum hva_base base;
	u64 hva;
	int err;
};

static const struct bad_region cases[] = {
	/* Flags: KVM_MEM_LOG_DIRTY_PAGES and KVM_MEM_READONLY only. */
	{ "unknown flag bit 2",
	  FREE_ID, 1U << 2, FREE_GPA, P, BUF, 0, EINVAL },
	{ "unknown flag bit 31",
	  FREE_ID, 1U << 31, FREE_GPA, P, BUF, 0, EINVAL },
	{ "KVM_MEM_LOG_DIRTY_PAGES with unknown flag bit 2",
	  FREE_ID, LOG | (1U << 2), FREE_GPA, P, BUF, 0, EINVAL },
	{ "KVM_MEM_LOG_DIRTY_PAGES on a live slot, with a new size",
	  0, LOG, SLOT0_GPA, SLOT0_SIZE + P, BUF, SLOT0_HVA, EINVAL },
	{ "live READONLY slot given KVM_MEM_LOG_DIRTY_PAGES instead",
	  1, LOG, SLOT1_GPA, SLOT1_SIZE, BUF, SLOT1_HVA, EINVAL },

	/* Slot id: below KVM_CAP_NR_MEMSLOTS. */
	{ "slot id 512", 512, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "slot id 513", 513, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "slot id 1000", 1000, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "slot id 0xffff", 0xffff, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "delete of slot id 512", 512, 0, 0, 0, ABS, 0, EINVAL },

	/* Alignment of size, gpa and hva. */
	{ "size of 1 byte", FREE_ID, 0, FREE_GPA, 1, BUF, 0, EINVAL },
	{ "size of a page - 1", FREE_ID, 0, FREE_GPA, P - 1, BUF, 0, EINVAL },
	{ "size of a page + 1", FREE_ID, 0, FREE_GPA, P + 1, BUF, 0, EINVAL },
	{ "size of 1.5 pages",
	  FREE_ID, 0, FREE_GPA, P + P / 2, BUF, 0, EINVAL },
	{ "gpa 1 byte past a page",
	  FREE_ID, 0, FREE_GPA + 1, P, BUF, 0, EINVAL },
	{ "gpa half a page past a page",
	  FREE_ID, 0, FREE_GPA + P / 2, P, BUF, 0, EINVAL },
	{ "hva 1 byte past a page", FREE_ID, 0, FREE_GPA, P, BUF, 1, EINVAL },
	{ "hva half a page past a page",
	  FREE_ID, 0, FREE_GPA, P, BUF, P / 2, EINVAL },
	{ "live slot re-set with an unaligned size",
	  0, 0, SLOT0_GPA, SLOT0_SIZE + 1, BUF, SLOT0_HVA, EINVAL },
	{ "delete of a live slot with an unaligned gpa",
	  0, 0, SLOT0_GPA + 1, 0, BUF, SLOT0_HVA, EINVAL },
	{ "delete of a live slot with an unaligned hva",
	  0, 0, SLOT0_GPA, 0, BUF, SLOT0_HVA + 1, EINVAL },

	/* hva: a user address, and hva + size within TASK_SIZE_MAX. */
	{ "kernel hva (direct map)",
	  FREE_ID, 0, FREE_GPA, P, ABS, 0xffff888000000000ULL, EINVAL },
	{ "kernel hva (kernel text)",
	  FREE_ID, 0, FREE_GPA, P, ABS, 0xffffffff81000000ULL, EINVAL },
	{ "kernel hva (last page)",
	  FREE_ID, 0, FREE_GPA, P, ABS, 0xfffffffffffff000ULL, EINVAL },
	{ "non-canonical hva 1 << 63",
	  FREE_ID, 0, FREE_GPA, P, ABS, 1ULL << 63, EINVAL },
	{ "non-canonical hva 1 << 56",
	  FREE_ID, 0, FREE_GPA, P, ABS, 1ULL << 56, EINVAL },
	{ "hva at TASK_SIZE_MAX",
	  FREE_ID, 0, FREE_GPA, P, TOP, 0, EINVAL },
	{ "hva + size one page beyond TASK_SIZE_MAX",
	  FREE_ID, 0, FREE_GPA, 2 * P, TOP, -P, EINVAL },
	{ "hva + size wraps around",
	  FREE_ID, 0, FREE_GPA, -P, BUF, 0, EINVAL },
	{ "delete of a live slot with a kernel hva",
	  0, 0, SLOT0_GPA, 0, ABS, 0xffff888000000000ULL, EINVAL },

	/* Address space id: only 0. */
	{ "address space 1",
	  AS1 | FREE_ID, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "address space 1, same region as live slot 0 of address space 0",
	  AS1 | 0, 0, SLOT0_GPA, SLOT0_SIZE, BUF, SLOT0_HVA, EINVAL },
	{ "address space 0x8000",
	  0x80000000U | FREE_ID, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "address space 0xffff",
	  0xffff0000U | FREE_ID, 0, FREE_GPA, P, BUF, 0, EINVAL },
	{ "delete of slot 0 in address space 1",
	  AS1 | 0, 0, 0, 0, ABS, 0, EINVAL },

	/* gpa + size must not wrap around, not even to exactly 0. */
	{ "gpa + size wraps past 2^64",
	  FREE_ID, 0, -P, 2 * P, BUF, 0, EINVAL },
	{ "gpa + size is exactly 2^64",
	  FREE_ID, 0, -P, P, BUF, 0, EINVAL },
	{ "gpa + size wraps by 16 pages",
	  FREE_ID, 0, -16 * P, 32 * P, BUF, 0, EINVAL },

	/* At most KVM_MEM_MAX_NR_PAGES pages. */
	{ "KVM_MEM_MAX_NR_PAGES + 1 pages",
	  FREE_ID, 0, 1ULL << 45, MAX_SIZE + P, ABS, BIG_HVA, EINVAL },
	{ "2^32 pages",
	  FREE_ID, 0, 1ULL << 45, (1ULL << 32) * P, ABS, BIG_HVA, EINVAL },

	/* Delete of a slot that does not exist. */
	{ "delete of an empty slot", FREE_ID, 0, 0, 0, ABS, 0, EINVAL },
	{ "delete of empty slot 511", 511, 0, 0, 0, ABS, 0, EINVAL },
	{ "delete of an empty slot, with READONLY and an address",
	  FREE_ID, RO, FREE_GPA, 0, BUF, 0, EINVAL },

	/* A live slot keeps its hva, its size and its READONLY flag. */
	{ "live slot with a new hva",
	  0, 0, SLOT0_GPA, SLOT0_SIZE, BUF, 24 * P, EINVAL },
	{ "live slot with a distant new hva",
	  0, 0, SLOT0_GPA, SLOT0_SIZE, ABS, BIG_HVA, EINVAL },
	{ "live slot grown",
	  0, 0, SLOT0_GPA, 2 * SLOT0_SIZE, BUF, SLOT0_HVA, EINVAL },
	{ "live slot shrunk",
	  0, 0, SLOT0_GPA, SLOT0_SIZE / 2, BUF, SLOT0_HVA, EINVAL },
	{ "live slot made READONLY",
	  0, RO, SLOT0_GPA, SLOT0_SIZE, BUF, SLOT0_HVA, EINVAL },
	{ "live READONLY slot made writable",
	  1, 0, SLOT1_GPA, SLOT1_SIZE, BUF, SLOT1_HVA, EINVAL },
	{ "live slot moved with a new hva",
	  0, 0, FREE_GPA, SLOT0_SIZE, BUF, 24 * P, EINVAL },
	{ "live slot moved with a new size",
	  0, 0, FREE_GPA, SLOT0_SIZE - P, BUF, SLOT0_HVA, EINVAL },
	{ "live slot moved and made READONLY",
	  0, RO, FREE_GPA, SLOT0_SIZE, BUF, SLOT0_HVA, EINVAL },

	/* Overlap with another slot on create or move. */
	{ "new slot on exactly another slot's range",
	  FREE_ID, 0, SLOT0_GPA, SLOT0_SIZE, BUF, 24 * P, EEXIST },
	{ "new slot overlapping another slot's first page",
	  FREE_ID, 0, SLOT0_GPA - P, 2 * P, BUF, 24 * P, EEXIST },
	{ "new slot overlapping another slot's last page",
	  FREE_ID, 0, SLOT0_GPA + SLOT0_SIZE - P, 2 * P, BUF, 24 * P, EEXIST },
	{ "new slot inside another slot",
	  FREE_ID, 0, SLOT0_GPA + 4 * P, P, BUF, 24 * P, EEXIST },
	{ "new slot covering three slots",
	  FREE_ID, 0, 0, FREE_GPA, BUF, 0, EEXIST },
	{ "new READONLY slot on a READONLY slot",
	  FREE_ID, RO, SLOT1_GPA, SLOT1_SIZE, BUF, SLOT1_HVA, EEXIST },
	{ "new slot 511 on a one-page slot",
	  511, 0, SLOT7_GPA, P, BUF, 24 * P, EEXIST },
	{ "slot moved onto another slot",
	  7, 0, SLOT1_GPA, SLOT7_SIZE, BUF, SLOT7_HVA, EEXIST },
	{ "slot moved onto another slot's last page",
	  7, 0, SLOT1_GPA + SLOT1_SIZE - P, SLOT7_SIZE, BUF, SLOT7_HVA, EEXIST },
	{ "slot moved to overlap another slot's first page",
	  0, 0, SLOT1_GPA - SLOT0_SIZE + P, SLOT0_SIZE, BUF, SLOT0_HVA, EEXIST },
	{ "READONLY slot moved onto another slot",
	  1, RO, SLOT0_GPA, SLOT1_SIZE, BUF, SLOT1_HVA, EEXIST },

	/* Invalid and overlapping: -EINVAL wins, every check precedes overlap. */
	{ "overlap + KVM_MEM_LOG_DIRTY_PAGES with unknown flag bit 2",
	  FREE_ID, LOG | (1U << 2), SLOT0_GPA, P, BUF, 24 * P, EINVAL },
	{ "overlap + unknown flag",
	  FREE_ID, 1U << 2, SLOT0_GPA, P, BUF, 24 * P, EINVAL },
	{ "overlap + slot id 512",
	  512, 0, SLOT0_GPA, P, BUF, 24 * P, EINVAL },
	{ "overlap + unaligned size",
	  FREE_ID, 0, SLOT0_GPA, P + 1, BUF, 24 * P, EINVAL },
	{ "overlap + unaligned hva",
	  FREE_ID, 0, SLOT0_GPA, P, BUF, 24 * P + 8, EINVAL },
	{ "overlap + kernel hva",
	  FREE_ID, 0, SLOT0_GPA, P, ABS, 0xffff888000000000ULL, EINVAL },
	{ "overlap + address space 1",
	  AS1 | FREE_ID, 0, SLOT0_GPA, P, BUF, 24 * P, EINVAL },
	{ "overlap + KVM_MEM_MAX_NR_PAGES + 1 pages",
	  FREE_ID, 0, 0, MAX_SIZE + P, ABS, BIG_HVA, EINVAL },
	{ "live slot with a new hva, moved onto another slot",
	  0, 0, SLOT1_GPA, SLOT0_SIZE, BUF, 24 * P, EINVAL },
	{ "live slot with a new size, moved onto another slot",
	  0, 0, SLOT1_GPA, SLOT0_SIZE + P, BUF, SLOT0_HVA, EINVAL },
	{ "live READONLY slot made writable, moved onto another slot",
	  1, 0, SLOT0_GPA, SLOT1_SIZE, BUF, SLOT1_HVA, EINVAL },
	{ "live slot + KVM_MEM_LOG_DIRTY_PAGES + unknown flag, moved onto another slot",
	  7, LOG | (1U << 2), SLOT1_GPA, SLOT7_SIZE, BUF, SLOT7_HVA, EINVAL },
};

static u64 case_hva(const struct bad_region *c, void *buf, u64 task_size_max)
{
	switch (c->base) {
	case BUF:
		return (unsigned long)buf + c->hva;
	case TOP:
		return task_size_max + c->hva;
	default:
		return c->hva;
	}
}

static void run_cases(int vm_fd, void *buf)
{
	u64 task_size_max = vmmu_task_size_max();
	struct vmmu_memslot_list *before;
	unsigned int i;

	diag("TASK_SIZE_MAX is %#llx (%d-level paging)",
	     (unsigned long long)task_size_max,
	     task_size_max > (1ULL << 47) ? 5 : 4);
	before = vmmu_memslots_read_or_die(vm_fd);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bad_region *c = &cases[i];
		u64 hva = case_hva(c, buf, task_size_max);
		int r;

		r = vmmu_set_region(vm_fd, c->slot, c->flags, c->gpa, c->size,
				    hva);
		if (!is_errno(r, c->err, "%s: %s", c->name, errno_name(c->err)))
			diag("  slot %#x flags %#x gpa %#llx size %#llx hva %#llx",
			     c->slot, c->flags, (unsigned long long)c->gpa,
			     (unsigned long long)c->size,
			     (unsigned long long)hva);
		if (!ok_memslots_unchanged(vm_fd, before,
					   "%s: memslot set unchanged", c->name)) {
			/* Compare the next cases with what is there now. */
			free(before);
			before = vmmu_memslots_read_or_die(vm_fd);
		}
	}
	free(before);
}

/* The three slots of the VM under test, in gpa order. */
static void setup_slots(int vm_fd, void *buf, struct vmmu_memslot_info *want)
{
	u64 hva = (unsigned long)buf;
	unsigned int i;

	want[0] = (struct vmmu_memslot_info) {
		0, 0, SLOT0_GPA, SLOT0_SIZE, hva + SLOT0_HVA };
	want[1] = (struct vmmu_memslot_info) {
		1, RO, SLOT1_GPA, SLOT1_SIZE, hva + SLOT1_HVA };
	want[2] = (struct vmmu_memslot_info) {
		7, 0, SLOT7_GPA, SLOT7_SIZE, hva + SLOT7_HVA };
	for (i = 0; i < 3; i++) {
		if (!is_errno(vmmu_set_region(vm_fd, want[i].slot,
					      want[i].flags,
					      want[i].guest_phys_addr,
					      want[i].memory_size,
					      want[i].userspace_addr),
			      0, "setup: create slot %u", want[i].slot))
			bail_out("cannot set up the memslots under test");
	}
}

/* A VM without any slot: deleting is invalid, the set stays empty. */
static void test_empty_vm(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	struct vmmu_memslot_list *before = vmmu_memslots_read_or_die(vm_fd);

	is_errno(vmmu_delete_region(vm_fd, 0), EINVAL,
		 "VM without slots: delete of slot 0: EINVAL");
	ok_memslots_unchanged(vm_fd, before,
			      "VM without slots: memslot set unchanged");
	free(before);
	close(vm_fd);
}

/* Each case fails with its errno and leaves the set as it was. */
static void run_limit_cases(int vm_fd, const struct bad_region *cases,
			    unsigned int n, u64 limit)
{
	struct vmmu_memslot_list *before = vmmu_memslots_read_or_die(vm_fd);
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct bad_region *c = &cases[i];

		if (!is_errno(vmmu_set_region(vm_fd, c->slot, c->flags, c->gpa,
					      c->size, c->hva),
			      c->err, "%s: %s", c->name, errno_name(c->err)))
			diag("  slot %u gpa %#llx size %#llx, limit %#llx",
			     c->slot, (unsigned long long)c->gpa,
			     (unsigned long long)c->size,
			     (unsigned long long)limit);
		if (!ok_memslots_unchanged(vm_fd, before,
					   "%s: memslot set unchanged", c->name)) {
			free(before);
			before = vmmu_memslots_read_or_die(vm_fd);
		}
	}
	free(before);
}

/* Creates and moves beyond 2^gpa_bits, with slot 0 on [@slot0, +2 pages). */
static void test_beyond_limit(int vm_fd, u64 hva, u64 limit, u64 slot0,
			      unsigned int root_bits)
{
	const struct bad_region cases[] = {
		{ "new slot starting at 2^gpa_bits",
		  FREE_ID, 0, limit, P, ABS, hva, EINVAL },
		{ "new slot crossing 2^gpa_bits",
		  FREE_ID, 0, limit - P, 2 * P, ABS, hva, EINVAL },
		{ "new slot at 2^(bits the root maps), an alias of gpa 0",
		  FREE_ID, 0, 1ULL << root_bits, P, ABS, hva, EINVAL },
		{ "new slot ending one page below 2^64",
		  FREE_ID, 0, -2 * P, P, ABS, hva, EINVAL },
		{ "slot 0 moved across 2^gpa_bits",
		  0, 0, limit - P, 2 * P, ABS, hva, EINVAL },
		{ "slot 0 moved to 2^gpa_bits",
		  0, 0, limit, 2 * P, ABS, hva, EINVAL },
		{ "beyond 2^gpa_bits with an unaligned size",
		  FREE_ID, 0, limit, P + 1, ABS, hva, EINVAL },
		{ "new slot on slot 0 and across 2^gpa_bits: overlap first",
		  FREE_ID, 0, slot0 + P, 4 * P, ABS, hva + 4 * P, EEXIST },
	};

	run_limit_cases(vm_fd, cases, ARRAY_SIZE(cases), limit);
}

/*
 * The end of the guest-physical space: a created or moved slot must end at
 * or below 2^gpa_bits (what the root maps, at most the host's MAXPHYADDR),
 * else EINVAL, as KVM's kvm_arch_prepare_memory_region() refuses a slot
 * beyond kvm_mmu_max_gfn().  KVM makes that check after the generic ones:
 * a request that also overlaps another slot gets EEXIST.
 */
static void test_gpa_limit(int sys_fd, void *buf)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	u64 hva = (unsigned long)buf, limit, slot0;
	struct bad_region onto = {
		"slot 0 moved onto slot 1 and beyond: overlap first",
		0, 0, 0, 2 * P, ABS, hva, EEXIST };
	struct vmmu_mmu_config cfg;
	unsigned int bits, root_bits;

	if (mmu_get_mmu(vm_fd, &cfg))
		bail_out("VMMU_GET_MMU failed");
	bits = mmu_gpa_bits(cfg.levels);
	root_bits = mmu_root_gpa_bits(cfg.levels);
	limit = 1ULL << bits;
	slot0 = limit - 4 * P;
	is_int(cfg.gpa_bits, bits,
	       "gpa_bits %u: the %u-level root's %u, at most MAXPHYADDR %u",
	       bits, cfg.levels, root_bits, mmu_host_phys_bits());
	is_errno(vmmu_set_region(vm_fd, 0, 0, slot0, 2 * P, hva), 0,
		 "slot 0 on the 3rd and 4th pages below 2^%u", bits);
	test_beyond_limit(vm_fd, hva, limit, slot0, root_bits);

	is_errno(vmmu_set_region(vm_fd, 1, 0, limit - P, P, hva + 8 * P), 0,
		 "slot 1 ending exactly at 2^%u", bits);
	onto.gpa = limit - P;
	run_limit_cases(vm_fd, &onto, 1, limit);
	close(vm_fd);
}

/* After all the failures the VM still takes a valid update. */
static void test_still_usable(int vm_fd, void *buf)
{
	struct vmmu_memslot_list *before = vmmu_memslots_read_or_die(vm_fd);
	struct vmmu_memslot_list *after;

	is_errno(vmmu_set_region(vm_fd, FREE_ID, 0, FREE_GPA, P,
				 (unsigned long)buf + 24 * P),
		 0, "a valid new slot is still accepted");
	after = vmmu_memslots_read_or_die(vm_fd);
	is_int(after->nr, before->nr + 1, "and it is listed");
	ok(after->generation > before->generation,
	   "and the generation moved on (%llu -> %llu)",
	   (unsigned long long)before->generation,
	   (unsigned long long)after->generation);
	free(before);
	free(after);
}

int main(void)
{
	struct vmmu_memslot_info want[3];
	struct vmmu_objects baseline;
	int sys_fd, vm_fd;
	void *buf;

	tap_plan(2 + 3 + 1 + 2 * ARRAY_SIZE(cases) + 3 + 3 + 2 * 9 + 1);

	vmmu_objects_read_or_die(&baseline);
	sys_fd = vmmu_open();
	buf = vmmu_alloc_guest_memory(GUEST_PAGES * P);

	test_empty_vm(sys_fd);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	setup_slots(vm_fd, buf, want);
	{
		struct vmmu_memslot_list *list;

		list = vmmu_memslots_read_or_die(vm_fd);
		ok_memslots(list, want, 3, "setup: three slots listed");
		free(list);
	}

	run_cases(vm_fd, buf);
	test_still_usable(vm_fd, buf);

	close(vm_fd);
	test_gpa_limit(sys_fd, buf);
	close(sys_fd);
	ok_objects(&baseline, "module objects back at baseline after close");
	return tap_finish();
}
