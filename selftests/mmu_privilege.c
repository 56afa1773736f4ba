// SPDX-License-Identifier: GPL-2.0
/*
 * What vmmu keeps from a caller without CAP_SYS_ADMIN.
 *
 * VMMU_VCPU_TRANSLATE: the host pfn, in the pfn field and in the address
 * bits (51:12) of the raw entry, which read as 0; every other bit of the
 * answer is what a privileged caller sees.
 *
 * The program runs as root: it takes CAP_SYS_ADMIN out of its effective set
 * around the unprivileged calls and puts it back after them.  That changes
 * the calling thread only, which stays in the VM's process (a VM answers
 * only the mm that created it, so a forked child could not ask).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE
#define SLOT_GPA	0x100000ULL
#define SLOT_PAGES	4
#define TR_TESTS	6
#define NR_TESTS	(TR_TESTS * MMU_NR_CFGS + 1)

static struct vmmu_objects baseline;

static void sys_admin_off(void)
{
	if (vmmu_set_sys_admin(false) || vmmu_has_sys_admin())
		bail_out("cannot drop CAP_SYS_ADMIN from the effective set");
}

static void sys_admin_on(void)
{
	if (vmmu_set_sys_admin(true) || !vmmu_has_sys_admin())
		bail_out("cannot raise CAP_SYS_ADMIN again");
}

/* VMMU_VCPU_TRANSLATE of @gpa without CAP_SYS_ADMIN. */
static int translate_unprivileged(int vcpu_fd, u64 gpa,
				  struct vmmu_translation *tr)
{
	int r;

	sys_admin_off();
	r = mmu_translate(vcpu_fd, gpa, tr);
	sys_admin_on();
	return r;
}

/* The same page translated by root and by a caller without the cap. */
static void test_translate(const struct mmu_vm *vm, int vcpu_fd, u8 *mem)
{
	u64 gpa = SLOT_GPA + P, w = 0x9a9e5eed0f5ULL, pagemap;
	struct vmmu_translation root, user;

	is_errno(mmu_write(vcpu_fd, gpa + 8, &w, 8), VMMU_ACCESS_DONE,
		 "%s: a guest write maps the page", vm->name);
	is_errno(mmu_translate(vcpu_fd, gpa, &root), 0,
		 "%s: VMMU_VCPU_TRANSLATE with CAP_SYS_ADMIN", vm->name);
	pagemap = mmu_pagemap_pfn(mem + P);
	if (!ok((root.flags & VMMU_TR_PFN_VALID) && root.pfn &&
		root.pfn == pagemap &&
		(root.spte & MMU_SPTE_PFN_MASK) / P == pagemap,
		"%s: CAP_SYS_ADMIN sees the pfn (%#llx), also in the spte",
		vm->name, (unsigned long long)pagemap))
		mmu_translation_diag("root", &root);

	memset(&user, 0xa5, sizeof(user));
	is_errno(translate_unprivileged(vcpu_fd, gpa, &user), 0,
		 "%s: VMMU_VCPU_TRANSLATE without CAP_SYS_ADMIN", vm->name);
	if (!ok(!(user.flags & VMMU_TR_PFN_VALID) && !user.pfn &&
		!(user.spte & MMU_SPTE_PFN_MASK),
		"%s: without it: no pfn, PFN_VALID clear, spte bits 51:12 zero",
		vm->name))
		mmu_translation_diag("without CAP_SYS_ADMIN", &user);
	if (!ok(user.gpa == gpa && user.level == root.level &&
		user.flags == (root.flags & ~VMMU_TR_PFN_VALID) &&
		user.spte == (root.spte & ~MMU_SPTE_PFN_MASK) &&
		(user.flags & VMMU_TR_PRESENT),
		"%s: without it: level, flags and the other spte bits as root sees them",
		vm->name)) {
		mmu_translation_diag("root", &root);
		mmu_translation_diag("without CAP_SYS_ADMIN", &user);
	}
}

static void test_translate_cfgs(int sys_fd)
{
	unsigned int c;

	for (c = 0; c < MMU_NR_CFGS; c++) {
		u8 *mem = vmmu_alloc_guest_memory(SLOT_PAGES * P);
		struct mmu_vm vm;
		int vcpu_fd;

		mmu_vm_create(sys_fd, &mmu_cfgs[c], &vm);
		mmu_set_region_or_die(vm.vm_fd, 0, 0, SLOT_GPA, SLOT_PAGES * P,
				      mem);
		vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
		test_translate(&vm, vcpu_fd, mem);
		close(vcpu_fd);
		mmu_vm_close(&vm);
		munmap(mem, SLOT_PAGES * P);
	}
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	if (!vmmu_has_sys_admin()) {
		skip(NR_TESTS, "needs CAP_SYS_ADMIN to compare with");
		return tap_finish();
	}
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&baseline);
	test_translate_cfgs(sys_fd);
	close(sys_fd);
	ok_objects(&baseline, "every object freed: counters at baseline");
	return tap_finish();
}
