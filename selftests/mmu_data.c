// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory contents through the software vCPU, in every MMU
 * configuration.
 *
 * Every byte of a 64 MiB anonymous slot goes from VMMU_VCPU_ACCESS to the
 * VMM's mapping and back, in page-aligned and in page-straddling pieces.
 * Read-only slots and addresses outside every slot give MMIO results with
 * the right address and byte count; fetches read like reads; a memfd slot
 * keeps what the guest wrote after the VMM unmaps it.  VMMU_VCPU_TRANSLATE
 * shows the entry the accesses left: accessed after a read, dirty after a
 * write, in the bit layout of the format, mapping the page that
 * /proc/self/pagemap names.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE

#define BIG_SLOT	0
#define BIG_GPA		0x40000000ULL
#define BIG_SIZE	(64ULL << 20)

#define RW_SLOT		1
#define RW_GPA		0x10000000ULL
#define RO_SLOT		2
#define RO_GPA		(RW_GPA + SMALL_SIZE)
#define SMALL_SIZE	(4 * P)

#define HOLE_GPA	0x20000000ULL

#define SHM_SLOT	3
#define SHM_GPA		0x30000000ULL
#define SHM_SIZE	BIT_ULL(20)

#define TR_SLOT		4
#define TR_GPA		0x50000000ULL

#define TESTS_PER_CFG	31
#define NR_TESTS	(TESTS_PER_CFG * MMU_NR_CFGS)

static struct vmmu_objects baseline;

/* Seeds: one per pass and configuration, so no pass sees an older one. */
static u64 seed_of(unsigned int cfg, unsigned int what)
{
	return 0x1000 * (cfg + 1) + what;
}

static void test_big_slot(const struct mmu_vm *vm, int vcpu_fd,
			  unsigned int c)
{
	u8 *mem = mmu_map_anon(BIG_SIZE, NULL);
	u8 *buf = mmu_map_anon(BIG_SIZE, NULL);
	u64 s;
	int r;

	mmu_set_region_or_die(vm->vm_fd, BIG_SLOT, 0, BIG_GPA, BIG_SIZE, mem);

	s = seed_of(c, 1);
	mmu_pattern_fill(buf, BIG_GPA, BIG_SIZE, s);
	r = mmu_guest_write_range(vcpu_fd, BIG_GPA, buf, BIG_SIZE, 256 * 1024);
	ok(!r && mmu_pattern_check(mem, BIG_GPA, BIG_SIZE, s, "VMM mapping"),
	   "%s: 64 MiB written by the guest in 256 KiB pieces: the VMM sees all",
	   vm->name);

	s = seed_of(c, 2);
	mmu_pattern_fill(mem, BIG_GPA, BIG_SIZE, s);
	memset(buf, 0, BIG_SIZE);
	r = mmu_guest_read_range(vcpu_fd, BIG_GPA, buf, BIG_SIZE, 12345);
	ok(!r && mmu_pattern_check(buf, BIG_GPA, BIG_SIZE, s, "guest read"),
	   "%s: 64 MiB written by the VMM, read by the guest in 12345-byte pieces",
	   vm->name);

	s = seed_of(c, 3);
	mmu_pattern_fill(buf, BIG_GPA, BIG_SIZE, s);
	r = mmu_guest_write_range(vcpu_fd, BIG_GPA, buf, BIG_SIZE, 3 * P + 7);
	ok(!r && mmu_pattern_check(mem, BIG_GPA, BIG_SIZE, s, "VMM mapping"),
	   "%s: 64 MiB written by the guest in 12295-byte pieces: the VMM sees all",
	   vm->name);

	s = seed_of(c, 4);
	mmu_pattern_fill(mem, BIG_GPA, BIG_SIZE, s);
	memset(buf, 0, BIG_SIZE);
	r = mmu_guest_read_range(vcpu_fd, BIG_GPA, buf, BIG_SIZE, P);
	ok(!r && mmu_pattern_check(buf, BIG_GPA, BIG_SIZE, s, "guest read"),
	   "%s: 64 MiB written by the VMM, read by the guest page by page",
	   vm->name);

	is_errno(vmmu_delete_region(vm->vm_fd, BIG_SLOT), 0,
		 "%s: delete the 64 MiB slot", vm->name);
	munmap(buf, BIG_SIZE);
	munmap(mem, BIG_SIZE);
}

/* A read-write slot followed by a read-only one, then a hole. */
static void test_readonly(const struct mmu_vm *vm, int vcpu_fd, unsigned int c)
{
	u8 *rw = mmu_map_anon(SMALL_SIZE, NULL);
	u8 *ro = mmu_map_anon(SMALL_SIZE, NULL);
	u64 s_rw = seed_of(c, 10), s_ro = seed_of(c, 11);
	u8 buf[2 * P], data[512];
	struct vmmu_translation tr;
	struct vmmu_access acc;
	int r;

	mmu_pattern_fill(rw, RW_GPA, SMALL_SIZE, s_rw);
	mmu_pattern_fill(ro, RO_GPA, SMALL_SIZE, s_ro);
	mmu_set_region_or_die(vm->vm_fd, RW_SLOT, 0, RW_GPA, SMALL_SIZE, rw);
	mmu_set_region_or_die(vm->vm_fd, RO_SLOT, KVM_MEM_READONLY, RO_GPA,
			      SMALL_SIZE, ro);

	r = mmu_guest_read_range(vcpu_fd, RO_GPA, buf, 2 * P, 2 * P);
	ok(!r && mmu_pattern_check(buf, RO_GPA, 2 * P, s_ro, "guest read"),
	   "%s: reads of a READONLY slot work", vm->name);

	memset(data, 0xee, sizeof(data));
	r = mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, RO_GPA + P + 8, data, 16,
		       &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == RO_GPA + P + 8 &&
	   !acc.done,
	   "%s: a write to a READONLY slot: MMIO at its gpa, done 0",
	   vm->name);
	if (r != VMMU_ACCESS_MMIO || acc.mmio_gpa != RO_GPA + P + 8 ||
	    acc.done)
		diag("  got %s mmio_gpa %#llx done %u", mmu_result_name(r),
		     (unsigned long long)acc.mmio_gpa, acc.done);

	/* 100 bytes at the end of the read-write slot, 100 beyond. */
	r = mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, RO_GPA - 100, data, 200,
		       &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == RO_GPA && acc.done == 100,
	   "%s: a write from a RW into a READONLY slot: MMIO there, done 100",
	   vm->name);
	if (r != VMMU_ACCESS_MMIO || acc.mmio_gpa != RO_GPA ||
	    acc.done != 100)
		diag("  got %s mmio_gpa %#llx done %u", mmu_result_name(r),
		     (unsigned long long)acc.mmio_gpa, acc.done);
	ok(!memcmp(rw + SMALL_SIZE - 100, data, 100) &&
	   mmu_pattern_check(rw, RW_GPA, SMALL_SIZE - 104, s_rw, "RW slot"),
	   "%s: the write reached the RW slot's last 100 bytes only",
	   vm->name);
	ok(mmu_pattern_check(ro, RO_GPA, SMALL_SIZE, s_ro, "READONLY slot"),
	   "%s: the READONLY slot's memory is unchanged", vm->name);
	ok_translation(vcpu_fd, RO_GPA + P, VMMU_TR_PRESENT,
		       VMMU_TR_WRITABLE | VMMU_TR_DIRTY, &tr,
		       "%s: the READONLY slot's entry is present, not writable",
		       vm->name);

	r = mmu_access(vcpu_fd, VMMU_ACCESS_READ, HOLE_GPA + 24, buf, 8, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == HOLE_GPA + 24 &&
	   !acc.done, "%s: a read outside every slot: MMIO at its gpa",
	   vm->name);
	r = mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, HOLE_GPA, data, 8, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == HOLE_GPA && !acc.done,
	   "%s: a write outside every slot: MMIO at its gpa", vm->name);

	/* From the read-only slot's last 256 bytes into nothing. */
	memset(buf, 0, sizeof(buf));
	r = mmu_access(vcpu_fd, VMMU_ACCESS_READ, RO_GPA + SMALL_SIZE - 256,
		       buf, 512, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == RO_GPA + SMALL_SIZE &&
	   acc.done == 256 &&
	   mmu_pattern_check(buf, RO_GPA + SMALL_SIZE - 256, 256, s_ro,
			     "guest read"),
	   "%s: a read from a slot's end into nothing: MMIO there, done 256",
	   vm->name);
	if (r != VMMU_ACCESS_MMIO || acc.done != 256)
		diag("  got %s mmio_gpa %#llx done %u", mmu_result_name(r),
		     (unsigned long long)acc.mmio_gpa, acc.done);

	memset(buf, 0, sizeof(buf));
	r = mmu_access(vcpu_fd, VMMU_ACCESS_FETCH, RW_GPA + 64, buf, P, &acc);
	ok(r == VMMU_ACCESS_DONE && acc.done == P &&
	   mmu_pattern_check(buf, RW_GPA + 64, P, s_rw, "fetch"),
	   "%s: a fetch of a page's worth reads guest memory", vm->name);
	r = mmu_access(vcpu_fd, VMMU_ACCESS_FETCH, HOLE_GPA + P, buf, 8, &acc);
	ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == HOLE_GPA + P,
	   "%s: a fetch outside every slot: MMIO", vm->name);

	vmmu_delete_region(vm->vm_fd, RW_SLOT);
	vmmu_delete_region(vm->vm_fd, RO_SLOT);
	munmap(rw, SMALL_SIZE);
	munmap(ro, SMALL_SIZE);
}

static void test_shmem(const struct mmu_vm *vm, int vcpu_fd, unsigned int c)
{
	int fd = mmu_memfd("vmmu-data", SHM_SIZE);
	u8 *hva = mmu_map_fd(fd, SHM_SIZE, 0, NULL);
	u8 *buf = malloc(SHM_SIZE), *again;
	u64 s = seed_of(c, 20);
	int r;

	if (!buf)
		bail_out("out of memory");
	mmu_set_region_or_die(vm->vm_fd, SHM_SLOT, 0, SHM_GPA, SHM_SIZE, hva);
	mmu_pattern_fill(buf, SHM_GPA, SHM_SIZE, s);
	r = mmu_guest_write_range(vcpu_fd, SHM_GPA, buf, SHM_SIZE, 5 * P + 3);
	is_errno(r, VMMU_ACCESS_DONE, "%s: the guest writes 1 MiB of a memfd slot", vm->name);

	munmap(hva, SHM_SIZE);
	is_errno(mmu_read(vcpu_fd, SHM_GPA + 3 * P, buf, 8), EFAULT,
		 "%s: after the VMM unmapped it, guest reads fail with EFAULT",
		 vm->name);

	again = mmu_map_fd(fd, SHM_SIZE, 0, NULL);
	ok(mmu_pattern_check(again, SHM_GPA, SHM_SIZE, s, "memfd"),
	   "%s: the memfd, mapped again, kept every byte the guest wrote",
	   vm->name);
	munmap(again, SHM_SIZE);

	mmu_map_fd(fd, SHM_SIZE, 0, hva);
	memset(buf, 0, SHM_SIZE);
	r = mmu_guest_read_range(vcpu_fd, SHM_GPA, buf, SHM_SIZE, SHM_SIZE);
	ok(!r && mmu_pattern_check(buf, SHM_GPA, SHM_SIZE, s, "guest read"),
	   "%s: mapped again at the slot's address, the guest reads it back",
	   vm->name);

	vmmu_delete_region(vm->vm_fd, SHM_SLOT);
	munmap(hva, SHM_SIZE);
	close(fd);
	free(buf);
}

/*
 * Does @spte have the bits of a present 4 KiB leaf in @vm's format, with
 * the dirty bit iff @dirty?  Explains itself in a diagnostic if not.
 */
static bool spte_bits_ok(const struct mmu_vm *vm, u64 spte, bool dirty,
			 bool writable)
{
	bool good;

	if (vm->cfg.format == VMMU_MMU_FORMAT_EPT) {
		good = (spte & MMU_EPT_READ) && (spte & MMU_EPT_EXEC) &&
		       !!(spte & MMU_EPT_WRITE) == writable &&
		       ((spte & MMU_EPT_MT_MASK) >> MMU_EPT_MT_SHIFT) ==
		       MMU_EPT_MT_WB &&
		       (spte & MMU_EPT_ACCESSED) &&
		       !!(spte & MMU_EPT_DIRTY) == dirty;
		if (!good)
			diag("  EPT spte %#llx: want R, X, W=%d, memtype %llu (WB), A, D=%d",
			     (unsigned long long)spte, writable, MMU_EPT_MT_WB,
			     dirty);
	} else {
		good = (spte & MMU_NPT_PRESENT) && (spte & MMU_NPT_USER) &&
		       !!(spte & MMU_NPT_WRITE) == writable &&
		       (spte & MMU_NPT_ACCESSED) &&
		       !!(spte & MMU_NPT_DIRTY) == dirty &&
		       !(spte & MMU_NPT_NX);
		if (!good)
			diag("  NPT spte %#llx: want P, U, W=%d, A, D=%d, no NX",
			     (unsigned long long)spte, writable, dirty);
	}
	return good;
}

/* PFN_VALID, and the pfn is what the VMM's mapping has at @hva. */
static bool pfn_ok(const struct vmmu_translation *tr, const void *hva)
{
	u64 pagemap = mmu_pagemap_pfn(hva);
	u64 spte_pfn = (tr->spte & MMU_SPTE_PFN_MASK) / P;

	if ((tr->flags & VMMU_TR_PFN_VALID) && tr->pfn && tr->pfn == pagemap &&
	    spte_pfn == pagemap)
		return true;
	diag("  pfn %#llx (%s), spte pfn %#llx, pagemap pfn %#llx",
	     (unsigned long long)tr->pfn,
	     tr->flags & VMMU_TR_PFN_VALID ? "valid" : "not valid",
	     (unsigned long long)spte_pfn, (unsigned long long)pagemap);
	return false;
}

static void test_translate(const struct mmu_vm *vm, int vcpu_fd,
			   unsigned int c)
{
	u8 *mem = mmu_map_anon(4 * P, NULL);
	u64 s = seed_of(c, 30), w = 0x0123456789abcdefULL, got = 0;
	struct vmmu_translation tr;
	int r;

	/* Written by the VMM first: real pages, not the zero page. */
	mmu_pattern_fill(mem, TR_GPA, 4 * P, s);
	mmu_set_region_or_die(vm->vm_fd, TR_SLOT, 0, TR_GPA, 4 * P, mem);

	ok_translation(vcpu_fd, TR_GPA + P, 0,
		       VMMU_TR_PRESENT | VMMU_TR_NO_ROOT, NULL,
		       "%s: a page not accessed yet is not present", vm->name);

	r = mmu_read(vcpu_fd, TR_GPA + P + 16, &got, 8);
	ok(r == VMMU_ACCESS_DONE && got == mmu_pattern(s, TR_GPA + P + 16),
	   "%s: guest read of the page", vm->name);
	ok_translation(vcpu_fd, TR_GPA + P + 16,
		       VMMU_TR_PRESENT | VMMU_TR_ACCESSED,
		       VMMU_TR_DIRTY | VMMU_TR_ROOT_INVALID, &tr,
		       "%s: after a read: PRESENT|ACCESSED, not DIRTY", vm->name);
	is_int(tr.level, 1, "%s: after a read the entry is at level 1",
	       vm->name);
	ok(spte_bits_ok(vm, tr.spte, false, tr.flags & VMMU_TR_WRITABLE),
	   "%s: after a read the raw entry has the format's bits, not D",
	   vm->name);
	ok(pfn_ok(&tr, mem + P), "%s: PFN_VALID, the pfn is pagemap's",
	   vm->name);

	r = mmu_write(vcpu_fd, TR_GPA + P + 16, &w, 8);
	ok(r == VMMU_ACCESS_DONE && *(u64 *)(mem + P + 16) == w,
	   "%s: guest write to the page", vm->name);
	ok_translation(vcpu_fd, TR_GPA + P, VMMU_TR_PRESENT |
		       VMMU_TR_WRITABLE | VMMU_TR_ACCESSED | VMMU_TR_DIRTY, 0,
		       &tr, "%s: after a write: PRESENT|WRITABLE|ACCESSED|DIRTY",
		       vm->name);
	ok(tr.level == 1 && spte_bits_ok(vm, tr.spte, true, true),
	   "%s: after a write the raw level-1 entry has W, A and D", vm->name);
	ok(pfn_ok(&tr, mem + P), "%s: after the write the pfn is pagemap's",
	   vm->name);

	vmmu_delete_region(vm->vm_fd, TR_SLOT);
	munmap(mem, 4 * P);
}

int main(void)
{
	unsigned int c;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&baseline);

	for (c = 0; c < MMU_NR_CFGS; c++) {
		struct mmu_vm vm;
		u64 t0 = vmmu_now_ns();
		int vcpu_fd;

		mmu_vm_create(sys_fd, &mmu_cfgs[c], &vm);
		vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
		test_big_slot(&vm, vcpu_fd, c);
		test_readonly(&vm, vcpu_fd, c);
		test_shmem(&vm, vcpu_fd, c);
		test_translate(&vm, vcpu_fd, c);
		close(vcpu_fd);
		mmu_vm_close(&vm);
		ok_objects(&baseline, "%s: objects back at baseline",
			   vm.name);
		diag("%s took %.1f s", vm.name, (vmmu_now_ns() - t0) / 1e9);
	}
	close(sys_fd);
	return tap_finish();
}
