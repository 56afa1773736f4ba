// SPDX-License-Identifier: GPL-2.0
/*
 * What is particular to VMX with EPT, on a machine (or Bochs) that has it:
 *
 *  - EPT accessed and dirty flags: vmmu installs leaves with A and D
 *    clear; after a guest read the CPU has set A (not D) in the leaf, after
 *    a guest write A and D (when <debugfs>/vmmu/vmx says ept_ad 1);
 *  - an EPT-violation storm: a guest writes a pattern into every page of
 *    2 MiB it never touched (one violation each), the VMM sees every word;
 *    then the VMM zaps every root, changes the data, and the guest reads
 *    it all back through new violations without a mismatch;
 *  - MMIO through an EPT violation outside every memslot: a write and a
 *    read the VMM answers;
 *  - real mode with unrestricted guest: segment arithmetic, data through
 *    two segment aliases of one page;
 *  - a 32-bit guest that enters long mode itself (CR4.PAE, CR3, EFER.LME by
 *    WRMSR, then CR0.PG: the write vmmu completes) and reads EFER.LMA.
 *
 * Skipped where vmmu has no VMX backend (the QEMU lanes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define NR_TESTS	24
#define VMX_STATE	"/sys/kernel/debug/vmmu/vmx"
#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define AD_READ_GPA	0x10000ULL
#define AD_WRITE_GPA	0x11000ULL
#define STORM_GPA	0x100000ULL
#define STORM_PAGES	512
#define STORM_ADD	1000
#define MMIO_GPA	0xd0000000ULL
#define EPT_A		BIT_ULL(8)
#define EPT_D		BIT_ULL(9)

/* Reads a byte of 0x10000, OUT; writes a byte of 0x11000, OUT; HLT. */
GUEST_CODE(rm_ad, ".code16",
	   "	mov $0x1000, %ax\n"
	   "	mov %ax, %ds\n"
	   "	mov (0), %al\n"
	   "	out %al, $0x80\n"
	   "	movb $0x5a, (0x1000)\n"
	   "	out %al, $0x81\n"
	   "	hlt\n");

/*
 * Page i of STORM_PAGES at STORM_GPA gets i ^ 0xa5a5a5a5 at offset 0 and i
 * at 2048; OUT 0x80 when done.  Then each page's word at 2048 is compared
 * with i + STORM_ADD; OUT 0x81 with the number of mismatches.
 */
GUEST_CODE(pm_storm, ".code32",
	   "	mov $0x100000, %edi\n"
	   "	xor %ecx, %ecx\n"
	   "1:	mov %ecx, %eax\n"
	   "	xor $0xa5a5a5a5, %eax\n"
	   "	mov %eax, (%edi)\n"
	   "	mov %ecx, 2048(%edi)\n"
	   "	add $4096, %edi\n"
	   "	inc %ecx\n"
	   "	cmp $512, %ecx\n"
	   "	jne 1b\n"
	   "	out %eax, $0x80\n"
	   "	mov $0x100000, %edi\n"
	   "	xor %ecx, %ecx\n"
	   "	xor %ebx, %ebx\n"
	   "2:	lea 1000(%ecx), %eax\n"
	   "	cmp 2048(%edi), %eax\n"
	   "	je 3f\n"
	   "	inc %ebx\n"
	   "3:	add $4096, %edi\n"
	   "	inc %ecx\n"
	   "	cmp $512, %ecx\n"
	   "	jne 2b\n"
	   "	mov %ebx, %eax\n"
	   "	out %eax, $0x81\n"
	   "	hlt\n");

/* An MMIO write of a dword, a read of one, OUT of what the read got. */
GUEST_CODE(pm_mmio, ".code32",
	   "	movl $0x12345678, 0xd0000000\n"
	   "	mov 0xd0000004, %eax\n"
	   "	out %eax, $0x80\n"
	   "	hlt\n");

/*
 * Real mode: 0x2000:0x0010 and 0x1fff:0x0020 are both linear 0x20010.
 * Writes through the first, reads through the second, OUT of the sum of
 * the value read and the segment base arithmetic check (0x2000 * 16).
 */
GUEST_CODE(rm_seg, ".code16",
	   "	mov $0x2000, %ax\n"
	   "	mov %ax, %ds\n"
	   "	movl $0x600dcafe, (0x10)\n"
	   "	mov $0x1fff, %ax\n"
	   "	mov %ax, %es\n"
	   "	mov %es:(0x20), %eax\n"
	   "	out %eax, $0x80\n"
	   "	hlt\n");

/* 32-bit protected mode to long mode, by the guest itself. */
GUEST_CODE(pm_to_long, ".code32",
	   "	mov %cr4, %eax\n"
	   "	or $0x20, %eax\n"
	   "	mov %eax, %cr4\n"
	   "	mov $0x2000, %eax\n"
	   "	mov %eax, %cr3\n"
	   "	mov $0xc0000080, %ecx\n"
	   "	rdmsr\n"
	   "	or $0x100, %eax\n"
	   "	wrmsr\n"
	   "	mov %cr0, %eax\n"
	   "	or $0x80000000, %eax\n"
	   "	mov %eax, %cr0\n"
	   "	mov $0xc0000080, %ecx\n"
	   "	rdmsr\n"
	   "	out %eax, $0x80\n"
	   "	hlt\n");

/* <debugfs>/vmmu/vmx: ept_ad, or -1 if it cannot be read. */
static int vmx_ept_ad(void)
{
	FILE *f = fopen(VMX_STATE, "r");
	char line[128];
	int ad = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ept_ad %d", &ad) == 1)
			break;
	fclose(f);
	return ad;
}

static void test_ad(int sys_fd)
{
	struct vmmu_translation tr;
	int ad = vmx_ept_ad();
	struct guest g;
	int r;

	ok(ad == 0 || ad == 1, "%s says whether EPT A/D flags are used (%d)",
	   VMX_STATE, ad);
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_ad, GUEST_CODE_SIZE(rm_ad));
	guest_setup_real_mode(&g, CODE_GPA);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, 0x80, 0,
		    "the guest read a byte of a fresh page");
	if (ad != 1) {
		skip(5, "EPT A/D flags are not in use here");
		guest_destroy(&g);
		return;
	}
	ok_translation(g.vcpu_fd, AD_READ_GPA, VMMU_TR_PRESENT | VMMU_TR_ACCESSED,
		       VMMU_TR_DIRTY, &tr,
		       "the page read: the CPU set A in the leaf, not D");
	ok_translation(g.vcpu_fd, AD_WRITE_GPA, 0, VMMU_TR_PRESENT, NULL,
		       "the page not touched yet is not mapped");
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, 0x81, 0,
		    "the guest wrote a byte of another page");
	ok_translation(g.vcpu_fd, AD_WRITE_GPA,
		       VMMU_TR_PRESENT | VMMU_TR_ACCESSED | VMMU_TR_DIRTY, 0, &tr,
		       "the page written: A and D set");
	ok((tr.spte & (EPT_A | EPT_D)) == (EPT_A | EPT_D),
	   "bits 8 and 9 of the raw EPT entry (0x%llx)",
	   (unsigned long long)tr.spte);
	guest_destroy(&g);
}

static void test_storm(int sys_fd)
{
	struct vmmu_stats before, after;
	long bad = 0;
	struct guest g;
	int i, r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, pm_storm, GUEST_CODE_SIZE(pm_storm));
	guest_setup_protected_mode(&g, CODE_GPA);
	st_stats_or_die(g.vm_fd, &before);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x80,
		    (STORM_PAGES - 1) ^ 0xa5a5a5a5,
		    "the guest wrote %d fresh pages", STORM_PAGES);
	st_stats_or_die(g.vm_fd, &after);
	/*
	 * A violation per page, or fewer where fault-around or a 2 MiB leaf
	 * mapped several: the host may back the storm with a transparent
	 * huge page, whose pages are all present after the first touch.
	 */
	ok(after.faults - before.faults +
	   after.prefetched - before.prefetched +
	   511 * (after.mapped[1] - before.mapped[1]) >= STORM_PAGES,
	   "an EPT violation per page, or leaves of fault-around or 2 MiB (%llu, %llu, %llu)",
	   (unsigned long long)(after.faults - before.faults),
	   (unsigned long long)(after.prefetched - before.prefetched),
	   (unsigned long long)(after.mapped[1] - before.mapped[1]));
	for (i = 0; i < STORM_PAGES; i++) {
		u32 *p = (u32 *)(g.mem + STORM_GPA + (u64)i * 4096);

		bad += p[0] != ((u32)i ^ 0xa5a5a5a5) || p[512] != (u32)i;
		p[512] = i + STORM_ADD;
	}
	is_int(bad, 0, "the VMM sees every word the guest wrote");
	is_errno(ioctl(g.vm_fd, VMMU_ZAP_ALL, 0), 0,
		 "VMMU_ZAP_ALL while the guest waits at its OUT");
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x81, 0,
		    "the guest reads the VMM's new data through new violations, no mismatch");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "and halts");
	guest_destroy(&g);
}

static void test_mmio(int sys_fd)
{
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, pm_mmio, GUEST_CODE_SIZE(pm_mmio));
	guest_setup_protected_mode(&g, CODE_GPA);
	r = guest_run(&g);
	ok_guest_mmio(&g, r, MMIO_GPA, 4, true, 0x12345678,
		      "MMIO write of a dword outside every memslot");
	r = guest_run(&g);
	ok_guest_mmio(&g, r, MMIO_GPA + 4, 4, false, 0, "MMIO read of a dword");
	guest_mmio_reply(&g, 0xcafef00d);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x80, 0xcafef00d,
		    "the read got the VMM's data");
	guest_destroy(&g);
}

static void test_real_mode(int sys_fd)
{
	struct guest g;
	u32 word;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rm_seg, GUEST_CODE_SIZE(rm_seg));
	guest_setup_real_mode(&g, CODE_GPA);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x80, 0x600dcafe,
		    "real mode: a dword read back through another segment");
	memcpy(&word, g.mem + 0x20010, sizeof(word));
	is_int(word, 0x600dcafe, "it is at linear (= guest-physical) 0x20010");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "real mode: HLT");
	guest_destroy(&g);
}

static void test_to_long(int sys_fd)
{
	struct kvm_sregs sregs;
	struct guest g;
	int r;

	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, pm_to_long, GUEST_CODE_SIZE(pm_to_long));
	/* The identity-mapping tables at GUEST_PT_GPA, then back to 32 bits. */
	guest_setup_long_mode(&g, CODE_GPA, 0);
	guest_setup_protected_mode(&g, CODE_GPA);
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 4, 0x80,
		    X86_EFER_LME | X86_EFER_LMA,
		    "the guest turned paging on with EFER.LME: RDMSR shows LMA");
	guest_get_sregs(&g, &sregs);
	ok((sregs.cr0 & X86_CR0_PG) && (sregs.efer & X86_EFER_LMA) &&
	   (sregs.cr4 & X86_CR4_PAE) && sregs.cr3 == GUEST_PT_GPA,
	   "KVM_GET_SREGS: CR0.PG, CR4.PAE, CR3, EFER.LMA (cr0 0x%llx efer 0x%llx)",
	   (unsigned long long)sregs.cr0, (unsigned long long)sregs.efer);
	is_int(sregs.cr0, X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG,
	       "CR0 is what the guest wrote, no bit of vmmu's own");
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "compatibility mode: HLT");
	guest_destroy(&g);
}

int main(void)
{
	struct vmmu_objects before;
	int sys_fd, r;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	setenv("VMMU_GUEST_KIND", "vmx", 1);
	r = guest_hw_available(sys_fd);
	if (r) {
		skip(NR_TESTS, "no VMX vCPUs here: %s", guest_hw_why());
		return tap_finish();
	}
	vmmu_objects_read_or_die(&before);
	test_ad(sys_fd);
	test_storm(sys_fd);
	test_mmio(sys_fd);
	test_real_mode(sys_fd);
	test_to_long(sys_fd);
	ok_objects(&before, "every VM is gone");
	return tap_finish();
}
