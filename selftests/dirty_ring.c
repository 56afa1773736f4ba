// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty ring: KVM_CAP_DIRTY_LOG_RING (and _ACQ_REL, _WITH_BITMAP), the
 * ring mapped from the vCPU fd, KVM_RESET_DIRTY_RINGS and
 * KVM_EXIT_DIRTY_RING_FULL, with KVM's errnos.
 *
 *  1. capabilities and errnos: sizes, once only, before vCPUs only; GET and
 *     CLEAR refused with rings; mmap only shared and not executable;
 *  2. a software vCPU's writes appear in its ring in order (slot, offset),
 *     reads never; a reset write-protects exactly the harvested pages and
 *     the next write takes the fast path and is logged again; at the soft
 *     limit a write stops (VMMU_ACCESS_DIRTY_RING_FULL) and goes on after a
 *     reset;
 *  3. a hostile VMM: RESET marks on entries the vCPU never published, and
 *     garbage slots and offsets in harvested entries, change nothing;
 *  4. with the bitmap: a write no vCPU makes (a gfn->pfn cache) is in the
 *     bitmap, a vCPU's write in its ring only;
 *  5. a hardware vCPU writing more pages than the soft limit exits with
 *     KVM_EXIT_DIRTY_RING_FULL, goes on after each reset, and the entries
 *     it logged are exactly the pages it wrote.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		512
#define GPA		0x40000000ULL
#define SLOT		3
/* 256 entries, soft limit 192. */
#define RING_BYTES	4096
#define RING_ENTRIES	(RING_BYTES / sizeof(struct kvm_dirty_gfn))
#define RING_SOFT	(RING_ENTRIES - 64)
#define RING_OFF	((off_t)KVM_DIRTY_LOG_PAGE_OFFSET * (off_t)P)

#define NR_ERRNO_TESTS	21
#define NR_SW_TESTS	16
#define NR_HOSTILE_TESTS 4
#define NR_BITMAP_TESTS	5
#define NR_HW_TESTS	4
#define NR_TESTS	(NR_ERRNO_TESTS + NR_SW_TESTS + NR_HOSTILE_TESTS + \
			 NR_BITMAP_TESTS + NR_HW_TESTS + 1)

static int enable_cap(int vm_fd, u32 cap, u64 arg)
{
	struct kvm_enable_cap c = { .cap = cap, .args = { arg } };

	return (int)vmmu_ioctl(vm_fd, KVM_ENABLE_CAP, (unsigned long)&c);
}

static int reset_rings(int vm_fd)
{
	return (int)vmmu_ioctl(vm_fd, KVM_RESET_DIRTY_RINGS, 0);
}

static struct kvm_dirty_gfn *map_ring(int vcpu_fd)
{
	void *p = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vcpu_fd, RING_OFF);

	if (p == MAP_FAILED)
		bail_out("mmap of the dirty ring: %s", strerror(errno));
	return p;
}

/* The ring as the VMM sees it: where it has harvested up to. */
struct ring_view {
	struct kvm_dirty_gfn *gfns;
	u32 next;
};

/*
 * Harvest every published entry into @pages (offsets, at most @max), mark
 * each RESET; returns how many, or -1 with a diagnostic if an entry names
 * another slot.
 */
static int harvest(struct ring_view *r, u32 slot, u64 *pages, int max)
{
	int n = 0;

	for (;;) {
		struct kvm_dirty_gfn *e = &r->gfns[r->next % RING_ENTRIES];

		if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) &
		      KVM_DIRTY_GFN_F_DIRTY))
			return n;
		if (e->slot != slot || n >= max) {
			diag("entry %u: slot %u offset %llu (n %d)", r->next,
			     e->slot, (unsigned long long)e->offset, n);
			return -1;
		}
		pages[n++] = e->offset;
		__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
				 __ATOMIC_RELEASE);
		r->next++;
	}
}

/* 1. capabilities and errnos ------------------------------------------- */

static void test_errnos(int sys_fd)
{
	struct kvm_dirty_log log = { .slot = SLOT };
	struct kvm_clear_dirty_log clr = { .slot = SLOT, .num_pages = 64 };
	u64 bm[NPAGES / 64];
	struct mmu_vm vm, vm2;
	int fd, vcpu;
	void *mem, *p;

	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING),
	       65536 * 16, "KVM_CAP_DIRTY_LOG_RING: the largest ring, 1 MiB");
	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_DIRTY_LOG_RING_ACQ_REL), 65536 * 16,
	       "KVM_CAP_DIRTY_LOG_RING_ACQ_REL: the same");
	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP), 1,
	       "KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP: 1");

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	fd = vm.vm_fd;
	is_errno(reset_rings(fd), EINVAL, "KVM_RESET_DIRTY_RINGS without rings: EINVAL");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0), EINVAL,
		 "WITH_BITMAP before the ring: EINVAL");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, 0), EINVAL, "ring size 0: EINVAL");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, 4096 + 16), EINVAL,
		 "ring size not a power of two: EINVAL");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, 512), EINVAL,
		 "ring smaller than a page and the reserved entries: EINVAL");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, 2 << 20), E2BIG,
		 "ring of 2 MiB: E2BIG");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, 1ULL << 32), E2BIG,
		 "ring of 4 GiB (args[0] beyond 32 bits): E2BIG");
	is_int(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, RING_BYTES), 0,
	       "KVM_CAP_DIRTY_LOG_RING_ACQ_REL of 4 KiB");
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, RING_BYTES), EINVAL,
		 "a second ring size: EINVAL");
	mem = mmu_map_anon(NPAGES * P, NULL);
	mmu_set_region_or_die(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			      mem);
	is_errno(enable_cap(fd, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0), EINVAL,
		 "WITH_BITMAP once a memslot exists: EINVAL");
	log.dirty_bitmap = bm;
	clr.dirty_bitmap = bm;
	is_errno(vmmu_ioctl(fd, KVM_GET_DIRTY_LOG, (unsigned long)&log), ENXIO,
		 "KVM_GET_DIRTY_LOG with rings: ENXIO");
	is_errno(vmmu_ioctl(fd, KVM_CLEAR_DIRTY_LOG, (unsigned long)&clr), ENXIO,
		 "KVM_CLEAR_DIRTY_LOG with rings: ENXIO");
	is_int(reset_rings(fd), 0, "KVM_RESET_DIRTY_RINGS with nothing to reset: 0");

	vcpu = mmu_create_vcpu_or_die(fd, 0);
	p = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, vcpu,
		 RING_OFF);
	ok(p == MAP_FAILED && errno == EINVAL, "a private mapping of the ring: EINVAL");
	if (p != MAP_FAILED)
		munmap(p, RING_BYTES);
	p = mmap(NULL, RING_BYTES, PROT_READ | PROT_EXEC, MAP_SHARED, vcpu,
		 RING_OFF);
	ok(p == MAP_FAILED && errno == EINVAL, "an executable mapping of the ring: EINVAL");
	if (p != MAP_FAILED)
		munmap(p, RING_BYTES);
	p = mmap(NULL, RING_BYTES, PROT_READ, MAP_SHARED, vcpu, RING_OFF);
	ok(p != MAP_FAILED && !((struct kvm_dirty_gfn *)p)[RING_ENTRIES - 1].flags,
	   "a shared mapping of the ring: empty entries");
	if (p != MAP_FAILED)
		munmap(p, RING_BYTES);
	close(vcpu);
	mmu_vm_close(&vm);

	/* Rings only before the first vCPU. */
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm2);
	vcpu = mmu_create_vcpu_or_die(vm2.vm_fd, 0);
	is_errno(enable_cap(vm2.vm_fd, KVM_CAP_DIRTY_LOG_RING, RING_BYTES), EINVAL,
		 "a ring once a vCPU exists: EINVAL");
	p = mmap(NULL, P, PROT_READ, MAP_SHARED, vcpu, 0);
	ok(p == MAP_FAILED && errno == ENODEV,
	   "mmap of a software vCPU without a ring: ENODEV");
	close(vcpu);
	mmu_vm_close(&vm2);
	munmap(mem, NPAGES * P);
}

/* 2. and 3. a software vCPU --------------------------------------------- */

static int write_pages(int vcpu_fd, u64 first, u64 count, u64 stride,
		       struct vmmu_access *acc)
{
	u64 i, v = 0x77;
	int r;

	for (i = 0; i < count; i++) {
		r = mmu_access(vcpu_fd, VMMU_ACCESS_WRITE,
			       GPA + (first + i * stride) * P, &v, 8, acc);
		if (r != VMMU_ACCESS_DONE)
			return r;
	}
	return VMMU_ACCESS_DONE;
}

static void test_sw(int sys_fd)
{
	struct vmmu_translation tr;
	struct ring_view rv = { 0 };
	struct vmmu_access acc;
	struct vmmu_stats st0, st1;
	u64 pages[RING_ENTRIES], v;
	struct mmu_vm vm;
	int fd, vcpu, n, r, i;
	bool in_order;
	void *mem;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	fd = vm.vm_fd;
	if (enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, RING_BYTES))
		bail_out("KVM_CAP_DIRTY_LOG_RING");
	mem = mmu_map_anon(NPAGES * P, NULL);
	mmu_set_region_or_die(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			      mem);
	vcpu = mmu_create_vcpu_or_die(fd, 0);
	rv.gfns = map_ring(vcpu);

	is_int(write_pages(vcpu, 10, 5, 3, NULL), VMMU_ACCESS_DONE,
	       "the vCPU writes pages 10, 13, 16, 19, 22");
	is_int(mmu_read(vcpu, GPA + 100 * P, &v, 8), VMMU_ACCESS_DONE,
	       "and reads page 100");
	n = harvest(&rv, SLOT, pages, RING_ENTRIES);
	in_order = n == 5;
	for (i = 0; in_order && i < 5; i++)
		in_order = pages[i] == 10 + 3 * (u64)i;
	ok(in_order, "the ring holds the 5 pages in order, slot %d, nothing else (%d)",
	   SLOT, n);
	is_int(reset_rings(fd), 5, "KVM_RESET_DIRTY_RINGS resets 5 entries");
	ok(!rv.gfns[0].flags && !rv.gfns[4].flags, "their flags are 0 again");
	ok(!mmu_translate(vcpu, GPA + 13 * P, &tr) &&
	   (tr.flags & VMMU_TR_PRESENT) && !(tr.flags & VMMU_TR_WRITABLE),
	   "page 13 is write-protected again");
	st_stats_or_die(fd, &st0);
	is_int(write_pages(vcpu, 13, 1, 1, NULL), VMMU_ACCESS_DONE, "page 13 written again");
	st_stats_or_die(fd, &st1);
	is_int(st1.pf_fast - st0.pf_fast, 1, "through the fast path");
	n = harvest(&rv, SLOT, pages, RING_ENTRIES);
	ok(n == 1 && pages[0] == 13, "the ring has page 13 again, in entry 5");
	is_int(reset_rings(fd), 1, "reset 1");

	/* The soft limit: 192 entries; the ring now starts at entry 6. */
	r = write_pages(vcpu, 200, 250, 1, &acc);
	is_int(r, VMMU_ACCESS_DIRTY_RING_FULL,
	       "writing 250 pages stops with VMMU_ACCESS_DIRTY_RING_FULL");
	n = harvest(&rv, SLOT, pages, RING_ENTRIES);
	is_int(n, RING_SOFT, "after exactly the soft limit of entries");
	ok(n > 0 && pages[n - 1] == 200 + (u64)n - 1 && acc.done == 0,
	   "the last one the last page written; the refused write did nothing");
	is_int(reset_rings(fd), RING_SOFT, "all of them reset");
	is_int(write_pages(vcpu, 200 + RING_SOFT, 250 - RING_SOFT, 1, NULL),
	       VMMU_ACCESS_DONE, "then the rest of the writes go on");
	n = harvest(&rv, SLOT, pages, RING_ENTRIES);
	is_int(n, 250 - RING_SOFT, "and are logged (the ring wrapped)");

	/* 3. A hostile VMM. */
	{
		u32 next = rv.next;
		int k;

		/* Entries the vCPU never published, marked RESET. */
		for (k = 0; k < 20; k++)
			rv.gfns[(next + k) % RING_ENTRIES].flags =
				KVM_DIRTY_GFN_F_RESET;
		is_int(reset_rings(fd), 250 - RING_SOFT,
		       "RESET marks past the last published entry are not reset");
		for (k = 0; k < 20; k++)
			rv.gfns[(next + k) % RING_ENTRIES].flags = 0;
		write_pages(vcpu, 30, 3, 1, NULL);
		harvest(&rv, SLOT, pages, RING_ENTRIES);
		/* Garbage in harvested entries: another slot, far offsets. */
		rv.gfns[next % RING_ENTRIES].slot = 77;
		rv.gfns[(next + 1) % RING_ENTRIES].offset = ~0ULL;
		rv.gfns[(next + 2) % RING_ENTRIES].offset = NPAGES;
		is_int(reset_rings(fd), 3, "entries with garbage are reset and skipped");
		ok(!mmu_translate(vcpu, GPA + 30 * P, &tr) &&
		   (tr.flags & VMMU_TR_WRITABLE),
		   "page 30, whose entry named slot 77, is still writable");
		is_int(write_pages(vcpu, 40, 1, 1, NULL), VMMU_ACCESS_DONE,
		       "the vCPU goes on");
	}
	munmap(rv.gfns, RING_BYTES);
	close(vcpu);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
}

/* 4. with the bitmap ---------------------------------------------------- */

static void test_bitmap(int sys_fd)
{
	struct ring_view rv = { 0 };
	u64 bm[NPAGES / 64], pages[RING_ENTRIES], v = 5;
	struct kvm_dirty_log log = { .slot = SLOT, .dirty_bitmap = bm };
	struct mmu_vm vm;
	int fd, vcpu, n, r;
	void *mem;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	fd = vm.vm_fd;
	r = enable_cap(fd, KVM_CAP_DIRTY_LOG_RING, RING_BYTES);
	r = r ?: enable_cap(fd, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0);
	is_int(r, 0, "rings with bitmaps");
	mem = mmu_map_anon(NPAGES * P, NULL);
	mmu_set_region_or_die(fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, GPA, NPAGES * P,
			      mem);
	vcpu = mmu_create_vcpu_or_die(fd, 0);
	rv.gfns = map_ring(vcpu);
	write_pages(vcpu, 5, 1, 1, NULL);
	r = pc_activate(fd, 0, GPA + 6 * P, 8);
	r = r ?: pc_write(fd, 0, 0, &v, 8);
	is_int(r, 0, "the vCPU writes page 5, a gfn->pfn cache page 6");
	memset(bm, 0, sizeof(bm));
	is_int(vmmu_ioctl(fd, KVM_GET_DIRTY_LOG, (unsigned long)&log), 0,
	       "KVM_GET_DIRTY_LOG works with the bitmap");
	ok(bm[0] == 1ULL << 6, "the bitmap has page 6 only (%#llx)",
	   (unsigned long long)bm[0]);
	n = harvest(&rv, SLOT, pages, RING_ENTRIES);
	ok(n == 1 && pages[0] == 5, "the ring has page 5 only");
	pc_deactivate(fd, 0);
	munmap(rv.gfns, RING_BYTES);
	close(vcpu);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * P);
}

/* 5. a hardware vCPU ---------------------------------------------------- */

/* Write one word into each of RCX pages from RSI on; then OUT, HLT. */
GUEST_CODE(ring_writer, ".code64",
	   "1:	mov %rcx, (%rsi)\n"
	   "	add $0x1000, %rsi\n"
	   "	dec %rcx\n"
	   "	jnz 1b\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

#define HW_MEM		(4ULL << 20)
#define HW_CODE		0x100000ULL
#define HW_STACK	0x108000ULL
#define HW_GPA		0x20000000ULL
#define HW_PAGES	300

static void test_hw(void)
{
	static u64 pages[4 * RING_ENTRIES];
	static u8 seen[HW_PAGES];
	struct ring_view rv = { 0 };
	struct kvm_regs regs;
	int sys_fd, vcpu, n, full = 0, total = 0, distinct = 0, r, i;
	bool outside = false;
	struct guest g;
	void *mem;

	sys_fd = guest_open_or_skip(NR_HW_TESTS);
	if (sys_fd < 0)
		return;
	guest_create_ring(&g, sys_fd, HW_MEM, RING_BYTES);
	vcpu = g.vcpu_fd;
	guest_load(&g, HW_CODE, ring_writer, GUEST_CODE_SIZE(ring_writer));
	mem = mmu_map_anon(HW_PAGES * P, NULL);
	mmu_set_region_or_die(g.vm_fd, SLOT, KVM_MEM_LOG_DIRTY_PAGES, HW_GPA,
			      HW_PAGES * P, mem);
	rv.gfns = map_ring(vcpu);
	guest_setup_long_mode(&g, HW_CODE, HW_STACK);
	guest_get_regs(&g, &regs);
	regs.rsi = HW_GPA;
	regs.rcx = HW_PAGES;
	guest_set_regs(&g, &regs);

	for (i = 0; i < 10; i++) {
		r = guest_run(&g);
		n = harvest(&rv, SLOT, pages, 4 * RING_ENTRIES);
		if (r || n < 0)
			break;
		total += n;
		for (int k = 0; k < n; k++) {
			if (pages[k] >= HW_PAGES)
				outside = true;
			else if (!seen[pages[k]]++)
				distinct++;
		}
		reset_rings(g.vm_fd);
		if (g.run->exit_reason != KVM_EXIT_DIRTY_RING_FULL)
			break;
		full++;
	}
	is_int(r, 0, "%s: KVM_RUN", guest_hw->name);
	ok(full >= 1, "KVM_EXIT_DIRTY_RING_FULL %d times on the way", full);
	is_int(g.run->exit_reason, KVM_EXIT_IO, "then the guest finished its writes");
	/*
	 * The write whose fault logged the entry that filled the ring is
	 * retried after the reset protected its page again: logged twice.
	 */
	ok(distinct == HW_PAGES && !outside && total <= HW_PAGES + full,
	   "the ring logged each of the %d pages, none outside (%d entries, %d pages)",
	   HW_PAGES, total, distinct);
	munmap(rv.gfns, RING_BYTES);
	guest_destroy(&g);
	munmap(mem, HW_PAGES * P);
	close(sys_fd);
}

int main(void)
{
	struct vmmu_objects base;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	test_errnos(sys_fd);
	test_sw(sys_fd);
	test_bitmap(sys_fd);
	close(sys_fd);
	test_hw();
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
