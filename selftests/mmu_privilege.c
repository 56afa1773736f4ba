// SPDX-License-Identifier: GPL-2.0
/*
 * What vmmu keeps from a caller without CAP_SYS_ADMIN.
 *
 * VMMU_VCPU_TRANSLATE: the host pfn, in the pfn field and in the address
 * bits (51:12) of the raw entry, which read as 0; every other bit of the
 * answer is what a privileged caller sees.  The test hooks VMMU_ZAP_ALL and
 * VMMU_TEST_PFNCACHE: EPERM for every op, before the argument is read, and
 * nothing changes (no root invalidated, no cache activated, no guest memory
 * written).  The rest of the uAPI works without the capability.
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
#include "pfncache_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define SLOT_GPA	0x100000ULL
#define SLOT_PAGES	4
#define TR_TESTS	6
#define NR_PC_OPS	9
#define NR_TESTS	(TR_TESTS * MMU_NR_CFGS + 8 + NR_PC_OPS + 9 + 1)

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

/* VMMU_ZAP_ALL: EPERM and no root invalidated without the cap. */
static void test_zap_all(int vm_fd, int vcpu_fd)
{
	struct vmmu_stats before, after;
	struct vmmu_translation tr;
	u64 w = 1;
	int r, r_stats;

	if (mmu_write(vcpu_fd, SLOT_GPA, &w, 8) != VMMU_ACCESS_DONE)
		bail_out("cannot map the page the zap test looks at");
	st_stats_or_die(vm_fd, &before);
	sys_admin_off();
	r = vmmu_ioctl(vm_fd, VMMU_ZAP_ALL, 0);
	r_stats = st_stats(vm_fd, &after);
	sys_admin_on();
	is_errno(r, EPERM, "VMMU_ZAP_ALL without CAP_SYS_ADMIN: EPERM");
	is_errno(r_stats, 0, "VMMU_GET_STATS works without CAP_SYS_ADMIN");
	ok(after.roots_invalidated == before.roots_invalidated &&
	   after.roots_invalid == before.roots_invalid &&
	   after.leaves_zapped == before.leaves_zapped,
	   "no root invalidated, no leaf zapped (%llu, %llu, %llu before)",
	   (unsigned long long)before.roots_invalidated,
	   (unsigned long long)before.roots_invalid,
	   (unsigned long long)before.leaves_zapped);
	ok_translation(vcpu_fd, SLOT_GPA, VMMU_TR_PRESENT,
		       VMMU_TR_ROOT_INVALID | VMMU_TR_NO_ROOT, &tr,
		       "the vCPU's root is still valid and maps the page");

	is_errno(vmmu_ioctl(vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "VMMU_ZAP_ALL with CAP_SYS_ADMIN");
	st_stats_or_die(vm_fd, &after);
	ok(after.roots_invalidated > before.roots_invalidated,
	   "it invalidated the root (%llu -> %llu)",
	   (unsigned long long)before.roots_invalidated,
	   (unsigned long long)after.roots_invalidated);
	ok_translation(vcpu_fd, SLOT_GPA, VMMU_TR_ROOT_INVALID, 0, &tr,
		       "the vCPU's root reads as invalid now");
	is_errno(mmu_read(vcpu_fd, SLOT_GPA, &w, 8), VMMU_ACCESS_DONE,
		 "the vCPU reads on a new root");
}

static const struct {
	u32 op;
	const char *name;
} pc_ops[NR_PC_OPS] = {
	{ VMMU_TEST_PFNCACHE_ACTIVATE, "ACTIVATE" },
	{ VMMU_TEST_PFNCACHE_REFRESH, "REFRESH" },
	{ VMMU_TEST_PFNCACHE_READ, "READ" },
	{ VMMU_TEST_PFNCACHE_WRITE, "WRITE" },
	{ VMMU_TEST_PFNCACHE_TIMER_START, "TIMER_START" },
	{ VMMU_TEST_PFNCACHE_TIMER_STOP, "TIMER_STOP" },
	{ VMMU_TEST_PFNCACHE_STATS, "STATS" },
	{ VMMU_TEST_PFNCACHE_DEACTIVATE, "DEACTIVATE" },
	{ 99, "unknown op 99" },
};

/*
 * Every VMMU_TEST_PFNCACHE op without the cap, on 16 bytes: WRITE from
 * @words, READ into @back (so a WRITE that got through is not undone by
 * writing back what a READ fetched); returns what the call with a NULL
 * argument gave.
 */
static int pfncache_unprivileged(int vm_fd, u64 *words, u64 *back, int *r)
{
	struct vmmu_test_pfncache arg;
	unsigned int i;
	int r_null;

	sys_admin_off();
	for (i = 0; i < NR_PC_OPS; i++) {
		memset(&arg, 0, sizeof(arg));
		arg.op = pc_ops[i].op;
		arg.gpa = SLOT_GPA + P;
		arg.len = 16;
		arg.buf = (unsigned long)(arg.op == VMMU_TEST_PFNCACHE_READ ?
					  back : words);
		arg.period_ns = 100000;
		r[i] = pc_ioctl(vm_fd, &arg);
	}
	r_null = vmmu_ioctl(vm_fd, VMMU_TEST_PFNCACHE, 0);
	sys_admin_on();
	return r_null;
}

/* VMMU_TEST_PFNCACHE: EPERM, no cache activated, no memory written. */
static void test_pfncache(int vm_fd, u8 *mem)
{
	u64 words[2] = { 0xcac4e0ffULL, 0x5eed }, back[2], got = 0;
	struct vmmu_test_pfncache st;
	u8 *copy = malloc(P);
	int r[NR_PC_OPS], r_null;
	unsigned int i;

	if (!copy)
		bail_out("out of memory");
	memcpy(copy, mem + P, P);
	r_null = pfncache_unprivileged(vm_fd, words, back, r);
	for (i = 0; i < NR_PC_OPS; i++)
		is_errno(r[i], EPERM,
			 "VMMU_TEST_PFNCACHE %s without CAP_SYS_ADMIN: EPERM",
			 pc_ops[i].name);
	is_errno(r_null, EPERM,
		 "VMMU_TEST_PFNCACHE without CAP_SYS_ADMIN, NULL argument: EPERM");

	is_errno(pc_stats(vm_fd, 0, &st), 0, "STATS with CAP_SYS_ADMIN");
	ok(!st.refreshes && !st.retries && !st.timer_writes && !st.timer_skips,
	   "no refresh and no timer callback happened");
	is_errno(pc_read(vm_fd, 0, 0, &got, 8), EINVAL,
		 "the cache is still inactive: READ gives EINVAL");
	ok(!memcmp(copy, mem + P, P), "guest memory unchanged");

	is_errno(pc_activate(vm_fd, 0, SLOT_GPA + P, 16), 0,
		 "ACTIVATE with CAP_SYS_ADMIN");
	is_errno(pc_write(vm_fd, 0, 0, words, 8), 0,
		 "WRITE with CAP_SYS_ADMIN");
	ok(!memcmp(mem + P, words, 8), "the write is in guest memory");
	is_errno(pc_deactivate(vm_fd, 0), 0, "DEACTIVATE with CAP_SYS_ADMIN");
	free(copy);
}

static void test_hooks(int sys_fd)
{
	u8 *mem = vmmu_alloc_guest_memory(SLOT_PAGES * P);
	struct mmu_vm vm;
	int vcpu_fd;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	mmu_set_region_or_die(vm.vm_fd, 0, 0, SLOT_GPA, SLOT_PAGES * P, mem);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	test_zap_all(vm.vm_fd, vcpu_fd);
	test_pfncache(vm.vm_fd, mem);
	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, SLOT_PAGES * P);
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
	test_hooks(sys_fd);
	close(sys_fd);
	ok_objects(&baseline, "every object freed: counters at baseline");
	return tap_finish();
}
