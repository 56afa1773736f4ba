// SPDX-License-Identifier: GPL-2.0
/*
 * Every slot id that KVM_CAP_NR_MEMSLOTS reports can be used at once; the
 * next id is refused; the full set lists, moves, detects overlap and
 * empties again.  The time taken is printed for information only.
 */
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "vmmu_util.h"

#define P	PAGE_SIZE

/* The slot with id @id sits at gpa index perm(id): not in id order. */
struct layout {
	unsigned int nr;
	unsigned int stride;	/* coprime with nr: id * stride % nr permutes */
	unsigned long buf;
};

static unsigned int gcd(unsigned int a, unsigned int b)
{
	while (b) {
		unsigned int t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static u64 slot_gpa(const struct layout *l, unsigned int id)
{
	/* Every other page, so that no two slots touch. */
	return (u64)(id * l->stride % l->nr) * 2 * P;
}

static u64 slot_hva(const struct layout *l, unsigned int id)
{
	return l->buf + (u64)id * P;
}

static int create_slot(int vm_fd, const struct layout *l, unsigned int id)
{
	return vmmu_set_region(vm_fd, id, 0, slot_gpa(l, id), P,
			       slot_hva(l, id));
}

/* Create every slot in @order; returns how many failed. */
static unsigned int fill(int vm_fd, const struct layout *l, bool reverse)
{
	unsigned int i, failed = 0;

	for (i = 0; i < l->nr; i++) {
		unsigned int id = reverse ? l->nr - 1 - i : i;
		int r = create_slot(vm_fd, l, id);

		if (r && !failed++)
			diag("  first failure: slot %u: %s", id,
			     errno_name(-r));
	}
	return failed;
}

static double elapsed_ms(u64 start)
{
	return (vmmu_now_ns() - start) / 1e6;
}

static void test_full_set(int vm_fd, const struct layout *l)
{
	struct vmmu_memslot_info *want;
	struct vmmu_memslot_list *list, *small;
	unsigned int id;

	want = calloc(l->nr, sizeof(*want));
	if (!want)
		bail_out("out of memory");
	for (id = 0; id < l->nr; id++) {
		unsigned int k = slot_gpa(l, id) / (2 * P);

		want[k] = (struct vmmu_memslot_info) {
			id, 0, slot_gpa(l, id), P, slot_hva(l, id) };
	}
	list = vmmu_memslots_read_or_die(vm_fd);
	ok_memslots(list, want, l->nr, "all %u slots listed in gpa order",
		    l->nr);

	is_errno(vmmu_set_region(vm_fd, l->nr, 0, 2 * l->nr * P, P, l->buf),
		 EINVAL, "slot id %u (the slot count): EINVAL", l->nr);
	ok_memslots_unchanged(vm_fd, list, "full set unchanged after that");

	is_errno(vmmu_set_region(vm_fd, 0, 0, slot_gpa(l, 1), P,
				 slot_hva(l, 0)),
		 EEXIST, "full set: slot 0 moved onto slot 1: EEXIST");
	is_errno(vmmu_set_region(vm_fd, 0, 0, 2 * l->nr * P, P,
				 slot_hva(l, 0)),
		 0, "full set: slot 0 moved above every other slot");
	is_errno(create_slot(vm_fd, l, 0), 0,
		 "full set: slot 0 moved back");

	small = vmmu_memslots_alloc(l->nr - 1);
	is_errno(vmmu_get_memslots(vm_fd, small), E2BIG,
		 "GET_MEMSLOTS with room for one slot less: E2BIG");
	is_int(small->nr, l->nr, "and nr tells the slot count");
	free(small);
	free(list);
	free(want);
}

int main(void)
{
	struct vmmu_objects baseline, full;
	struct vmmu_memslot_list *list;
	struct layout l;
	unsigned int id, half, failed;
	int sys_fd, vm_fd;
	u64 gen, start;
	long nr;

	tap_plan(17);

	vmmu_objects_read_or_die(&baseline);
	sys_fd = vmmu_open();
	nr = vmmu_check_extension(sys_fd, KVM_CAP_NR_MEMSLOTS);
	if (!ok(nr > 1 && nr <= 0x10000, "KVM_CAP_NR_MEMSLOTS is %ld", nr))
		bail_out("no usable slot count");
	l.nr = nr;
	for (l.stride = 37; gcd(l.stride, l.nr) != 1; l.stride++)
		;
	l.buf = (unsigned long)vmmu_alloc_guest_memory(l.nr * P);
	vm_fd = vmmu_create_vm_or_die(sys_fd);
	list = vmmu_memslots_read_or_die(vm_fd);
	gen = list->generation;
	free(list);

	start = vmmu_now_ns();
	failed = fill(vm_fd, &l, false);
	diag("created %u slots in %.1f ms", l.nr, elapsed_ms(start));
	is_int(failed, 0, "every slot id from 0 to %u created", l.nr - 1);

	list = vmmu_memslots_read_or_die(vm_fd);
	ok(list->generation >= gen + l.nr,
	   "generation grew once per create at least (%llu -> %llu)",
	   (unsigned long long)gen, (unsigned long long)list->generation);
	free(list);
	vmmu_objects_read_or_die(&full);
	is_int(full.memslots - baseline.memslots, l.nr,
	       "the memslots counter counts every live slot");

	test_full_set(vm_fd, &l);

	start = vmmu_now_ns();
	failed = 0;
	half = (l.nr + 1) / 2;
	for (id = 0; id < l.nr; id++) {
		/* Even ids first, then odd ones. */
		unsigned int victim = id < half ? 2 * id : 2 * (id - half) + 1;
		int r = vmmu_delete_region(vm_fd, victim);

		if (r && !failed++)
			diag("  first failure: slot %u: %s", victim,
			     errno_name(-r));
	}
	diag("deleted %u slots in %.1f ms", l.nr, elapsed_ms(start));
	is_int(failed, 0, "every slot deleted");
	list = vmmu_memslots_read_or_die(vm_fd);
	ok_memslots(list, NULL, 0, "no slot left");
	free(list);

	start = vmmu_now_ns();
	failed = fill(vm_fd, &l, true);
	diag("created %u slots again, highest id first, in %.1f ms", l.nr,
	     elapsed_ms(start));
	is_int(failed, 0, "every slot id can be used again");
	list = vmmu_memslots_read_or_die(vm_fd);
	is_int(list->nr, l.nr, "all %u slots listed again", l.nr);
	free(list);

	start = vmmu_now_ns();
	close(vm_fd);
	diag("closed a VM with %u slots in %.1f ms", l.nr, elapsed_ms(start));
	close(sys_fd);
	ok_objects(&baseline, "module objects back at baseline after close");
	return tap_finish();
}
