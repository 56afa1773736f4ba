// SPDX-License-Identifier: GPL-2.0
/*
 * Valid memslot updates and what VMMU_GET_MEMSLOTS shows after each: create,
 * delete, move, no-op re-set, adjacency, id reuse, boundary sizes and
 * addresses, the generation, E2BIG, and independence of VMs.
 *
 * The expected set is kept in a model that applies KVM's semantics to each
 * request; after every step the listed set must equal the model, and the
 * generation must have grown exactly when the set changed.
 *
 * The one flag that may change on a live slot, KVM_MEM_LOG_DIRTY_PAGES, is
 * tested with its logs in dirty_log (KVM_MEM_READONLY cannot be toggled).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmu_util.h"
#include "tap.h"
#include "vmmu_util.h"

#define P		PAGE_SIZE
#define RO		KVM_MEM_READONLY
#define GUEST_PAGES	32
#define MAX_SIZE	(VMMU_MEM_MAX_NR_PAGES * P)
#define BIG_HVA		BIT_ULL(40)
#define MAX_MODEL	16

enum hva_base {
	ABS,		/* hva is an absolute address */
	BUF,		/* hva is an offset into the guest memory mapping */
	TOP,		/* hva is an offset from TASK_SIZE_MAX */
};

struct step {
	const char *name;
	u32 slot;
	u32 flags;
	u64 gpa;
	u64 size;
	enum hva_base base;
	u64 hva;
	bool changes;	/* the request changes the set */
};

static struct step steps[] = {
	{ "create slot 0", 0, 0, 0x100000, 16 * P, BUF, 0, true },
	{ "create READONLY slot 5 below slot 0 (listed first)",
	  5, RO, 0, 4 * P, BUF, 16 * P, true },
	{ "create slot 2 touching the end of slot 0",
	  2, 0, 0x110000, 4 * P, BUF, 20 * P, true },
	{ "create slot 3 touching the start of slot 0",
	  3, 0, 0x100000 - 4 * P, 4 * P, BUF, 24 * P, true },
	{ "identical re-set of slot 0 is a no-op",
	  0, 0, 0x100000, 16 * P, BUF, 0, false },
	{ "identical re-set of READONLY slot 5 is a no-op",
	  5, RO, 0, 4 * P, BUF, 16 * P, false },
	{ "move slot 0 to 8 MiB", 0, 0, 0x800000, 16 * P, BUF, 0, true },
	{ "move slot 0 by one page, overlapping its own old range",
	  0, 0, 0x801000, 16 * P, BUF, 0, true },
	{ "move slot 0 back between slots 3 and 2, touching both",
	  0, 0, 0x100000, 16 * P, BUF, 0, true },
	{ "move READONLY slot 5 to 1 GiB, still READONLY",
	  5, RO, 0x40000000, 4 * P, BUF, 16 * P, true },
	{ "delete slot 2 (gpa, hva and flags of the request do not matter)",
	  2, RO, 0x12345000, 0, BUF, 8 * P, true },
	{ "delete slot 3", 3, 0, 0, 0, ABS, 0, true },
	{ "re-create slot 2 with other gpa, size, hva and flags",
	  2, RO, 0x200000, 8 * P, BUF, 8 * P, true },
	{ "delete slot 0", 0, 0, 0, 0, ABS, 0, true },
	{ "create slot 9 where slot 0 was",
	  9, 0, 0x100000, 16 * P, BUF, 0, true },
	{ "create slot 10 on the same hva as slot 9",
	  10, 0, 0x300000, 4 * P, BUF, 0, true },
	/* Where slots 11 and 12 go (and 12's size): fix_limit_steps(). */
	{ "create slot 11 ending at 2^gpa_bits",
	  11, 0, 0, P, BUF, 0, true },
	{ "delete slot 11", 11, 0, 0, 0, ABS, 0, true },
	{ "create slot 12 of KVM_MEM_MAX_NR_PAGES pages, or up to 2^gpa_bits",
	  12, 0, 0, P, ABS, BIG_HVA, true },
	{ "delete slot 12", 12, 0, 0, 0, ABS, 0, true },
	{ "create slot 13 on the highest user pages but one",
	  13, 0, 0x10000000, P, TOP, -2 * P, true },
	{ "delete slot 13", 13, 0, 0, 0, ABS, 0, true },
	{ "delete slot 5", 5, 0, 0, 0, ABS, 0, true },
	{ "delete slot 2", 2, 0, 0, 0, ABS, 0, true },
	{ "delete slot 9", 9, 0, 0, 0, ABS, 0, true },
	{ "delete slot 10, the last one", 10, 0, 0, 0, ABS, 0, true },
};

/* What the VM's memslot set should be, sorted by gpa. */
struct model {
	struct vmmu_memslot_info e[MAX_MODEL];
	unsigned int nr;
};

static int cmp_gpa(const void *a, const void *b)
{
	const struct vmmu_memslot_info *x = a, *y = b;

	return x->guest_phys_addr < y->guest_phys_addr ? -1 :
	       x->guest_phys_addr > y->guest_phys_addr;
}

/* Apply a request KVM accepts: delete, or create / replace by id. */
static void model_set(struct model *m, const struct vmmu_memslot_info *req)
{
	unsigned int i;

	for (i = 0; i < m->nr; i++)
		if (m->e[i].slot == req->slot)
			break;
	if (!req->memory_size) {
		if (i < m->nr)
			m->e[i] = m->e[--m->nr];
	} else {
		if (i == m->nr) {
			if (m->nr == MAX_MODEL)
				bail_out("model full");
			m->nr++;
		}
		m->e[i] = *req;
	}
	qsort(m->e, m->nr, sizeof(m->e[0]), cmp_gpa);
}

/*
 * Slots reach up to 2^gpa_bits of the VM: its root's reach, at most the
 * host's MAXPHYADDR (a 40-bit QEMU CPU has 1 TiB, less than
 * KVM_MEM_MAX_NR_PAGES pages).  Put slot 11 on the last page below it and
 * slot 12 on its upper half, as large as both limits allow.
 */
static void fix_limit_steps(int vm_fd)
{
	struct vmmu_mmu_config cfg;
	u64 limit;
	unsigned int i;

	if (mmu_get_mmu(vm_fd, &cfg))
		bail_out("VMMU_GET_MMU failed");
	limit = 1ULL << mmu_gpa_bits(cfg.levels);
	diag("slots end below 2^%u", mmu_gpa_bits(cfg.levels));
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		if (!steps[i].size)
			continue;
		if (steps[i].slot == 11) {
			steps[i].gpa = limit - P;
		} else if (steps[i].slot == 12) {
			steps[i].gpa = limit / 2;
			steps[i].size = limit / 2 > MAX_SIZE ? MAX_SIZE :
							      limit / 2;
		}
	}
}

static void run_steps(int vm_fd, void *buf)
{
	u64 task_size_max = vmmu_task_size_max();
	struct vmmu_memslot_list *list;
	struct model m = { .nr = 0 };
	u64 gen;
	unsigned int i;

	list = vmmu_memslots_read_or_die(vm_fd);
	ok_memslots(list, m.e, 0, "a new VM has no memslots");
	gen = list->generation;
	diag("generation of a new VM: %llu", (unsigned long long)gen);
	free(list);

	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		const struct step *s = &steps[i];
		struct vmmu_memslot_info req = {
			.slot = s->slot,
			.flags = s->flags,
			.guest_phys_addr = s->gpa,
			.memory_size = s->size,
			.userspace_addr = s->hva,
		};

		if (s->base == BUF)
			req.userspace_addr += (unsigned long)buf;
		else if (s->base == TOP)
			req.userspace_addr += task_size_max;

		is_errno(vmmu_set_region(vm_fd, req.slot, req.flags,
					 req.guest_phys_addr, req.memory_size,
					 req.userspace_addr),
			 0, "%s", s->name);
		model_set(&m, &req);

		list = vmmu_memslots_read_or_die(vm_fd);
		ok_memslots(list, m.e, m.nr, "%s: listed as expected", s->name);
		if (s->changes)
			ok(list->generation > gen,
			   "%s: generation grew (%llu -> %llu)", s->name,
			   (unsigned long long)gen,
			   (unsigned long long)list->generation);
		else
			is_int(list->generation, gen,
			       "%s: generation unchanged", s->name);
		gen = list->generation;
		free(list);
	}
}

static void fill_canary(struct vmmu_memslot_info *e, unsigned int nr)
{
	memset(e, 0xa5, nr * sizeof(*e));
}

static bool is_canary(const struct vmmu_memslot_info *e, unsigned int nr)
{
	const unsigned char *p = (const void *)e;
	size_t i;

	for (i = 0; i < nr * sizeof(*e); i++)
		if (p[i] != 0xa5)
			return false;
	return true;
}

/* VMMU_GET_MEMSLOTS on a VM with three slots: capacity, E2BIG, pad. */
static void test_get_memslots(int vm_fd, void *buf)
{
	struct vmmu_memslot_info want[3];
	struct vmmu_memslot_list *list;
	u64 gen;
	unsigned int i;

	for (i = 0; i < 3; i++) {
		want[i] = (struct vmmu_memslot_info) {
			i, i == 1 ? RO : 0, 0x100000 * (i + 1), (i + 1) * P,
			(unsigned long)buf + 4 * i * P };
		if (vmmu_set_region(vm_fd, want[i].slot, want[i].flags,
				    want[i].guest_phys_addr,
				    want[i].memory_size,
				    want[i].userspace_addr))
			bail_out("cannot create slot %u", i);
	}

	list = vmmu_memslots_alloc(8);
	list->nr = 0;
	is_errno(vmmu_get_memslots(vm_fd, list), E2BIG,
		 "GET_MEMSLOTS with nr 0 and 3 slots: E2BIG");
	is_int(list->nr, 3, "E2BIG writes the number of slots to nr");

	list->nr = 2;
	fill_canary(list->entries, 8);
	is_errno(vmmu_get_memslots(vm_fd, list), E2BIG,
		 "GET_MEMSLOTS with nr 2 and 3 slots: E2BIG");
	is_int(list->nr, 3, "E2BIG with nr 2 writes 3 to nr");
	ok(is_canary(&list->entries[2], 6),
	   "E2BIG writes nothing beyond the capacity");

	list->nr = 3;
	is_errno(vmmu_get_memslots(vm_fd, list), 0,
		 "GET_MEMSLOTS with nr equal to the slot count");
	ok_memslots(list, want, 3, "nr 3: all three slots in gpa order");
	gen = list->generation;

	list->nr = 8;
	fill_canary(list->entries, 8);
	is_errno(vmmu_get_memslots(vm_fd, list), 0,
		 "GET_MEMSLOTS with room for 8");
	ok_memslots(list, want, 3, "nr 8: nr set to 3, three slots listed");
	ok(is_canary(&list->entries[3], 5),
	   "nothing written beyond the last slot");
	is_int(list->generation, gen,
	       "two reads without a change see the same generation");

	list->nr = 8;
	list->pad = 1;
	is_errno(vmmu_get_memslots(vm_fd, list), EINVAL,
		 "GET_MEMSLOTS with pad 1: EINVAL");
	list->nr = 8;
	list->pad = 0x80000000;
	is_errno(vmmu_get_memslots(vm_fd, list), EINVAL,
		 "GET_MEMSLOTS with pad 0x80000000: EINVAL");
	free(list);
}

/* Two VMs of one process have independent memslot sets. */
static void test_two_vms(int sys_fd, void *buf)
{
	struct vmmu_memslot_info a = { 0, 0, 0x100000, 4 * P, (unsigned long)buf };
	struct vmmu_memslot_info b = { 0, RO, 0x100000, 8 * P,
				       (unsigned long)buf + 8 * P };
	struct vmmu_memslot_list *list;
	int vm_a = vmmu_create_vm_or_die(sys_fd);
	int vm_b = vmmu_create_vm_or_die(sys_fd);

	if (vmmu_set_region(vm_a, a.slot, a.flags, a.guest_phys_addr,
			    a.memory_size, a.userspace_addr))
		bail_out("cannot create a slot in VM A");
	is_errno(vmmu_set_region(vm_b, b.slot, b.flags, b.guest_phys_addr,
				 b.memory_size, b.userspace_addr),
		 0, "VM B: same slot id and gpa as in VM A: no overlap");

	list = vmmu_memslots_read_or_die(vm_a);
	ok_memslots(list, &a, 1, "VM A lists only its own slot");
	free(list);
	list = vmmu_memslots_read_or_die(vm_b);
	ok_memslots(list, &b, 1, "VM B lists only its own slot");
	free(list);

	is_errno(vmmu_delete_region(vm_a, 0), 0, "VM A: delete slot 0");
	list = vmmu_memslots_read_or_die(vm_b);
	ok_memslots(list, &b, 1, "VM B still has its slot 0");
	free(list);

	close(vm_a);
	close(vm_b);
}

int main(void)
{
	struct vmmu_objects baseline;
	int sys_fd, vm_fd;
	void *buf;

	tap_plan(1 + 3 * ARRAY_SIZE(steps) + 13 + 5 + 1);

	vmmu_objects_read_or_die(&baseline);
	sys_fd = vmmu_open();
	buf = vmmu_alloc_guest_memory(GUEST_PAGES * P);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	fix_limit_steps(vm_fd);
	run_steps(vm_fd, buf);
	close(vm_fd);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	test_get_memslots(vm_fd, buf);
	close(vm_fd);

	test_two_vms(sys_fd, buf);

	close(sys_fd);
	ok_objects(&baseline, "module objects back at baseline after close");
	return tap_finish();
}
