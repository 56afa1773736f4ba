// SPDX-License-Identifier: GPL-2.0
/*
 * Host page aging clears the accessed bits of the VM's tables.
 *
 * For each format (NPT, EPT) and backing (anonymous memory, a memfd) the
 * guest reads every page of a slot, VMMU_VCPU_TRANSLATE shows each one
 * ACCESSED, and then the host ages the slot's memory through
 *
 *  - MADV_PAGEOUT: reclaim checks references with folio_referenced(),
 *    which reaches the MMU notifier's clear_flush_young();
 *  - MADV_COLD: deactivates, and clears the host PTEs' young bits;
 *  - /proc/self/clear_refs ("1": clear the referenced bits);
 *  - /sys/kernel/mm/page_idle/bitmap (clear_young(): no flush).
 *
 * After aging, no page may be ACCESSED (a page may also have been
 * unmapped), VMMU_GET_STATS.young_cleared must have grown by at least the
 * number of pages still mapped, and the guest's next read must return the
 * data and set ACCESSED again: clear_flush_young() flushed the vCPU's TLB,
 * so the vCPU walks the tables again.  page_idle's clear_young() does not
 * flush (as in KVM), so there only the clearing is checked.
 *
 * Whether a path reaches the notifier at all is the kernel's business.
 * MADV_PAGEOUT does until 6.9 and is required to there; MADV_COLD and
 * clear_refs clear only the host's young bits on the kernels tested, so
 * for them a run after which young_cleared did not move and no mapped page
 * lost ACCESSED is a skip with that reason.  Whatever the path, every
 * mapped page that lost ACCESSED must be counted in young_cleared.  The test runs pinned to
 * one CPU so that the pages it touched leave that CPU's LRU batches when
 * madvise drains them.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		16
#define GPA		0x40000000ULL
#define SEED		0xa6e

#define PAGE_IDLE_PATH	"/sys/kernel/mm/page_idle/bitmap"

enum method { M_PAGEOUT, M_COLD, M_CLEAR_REFS, M_PAGE_IDLE, NR_METHODS };

static const char * const method_names[NR_METHODS] = {
	[M_PAGEOUT] = "MADV_PAGEOUT",
	[M_COLD] = "MADV_COLD",
	[M_CLEAR_REFS] = "clear_refs",
	[M_PAGE_IDLE] = "page_idle",
};

/* Tests per method: page_idle does not check the re-access. */
static unsigned int method_tests(enum method m)
{
	return m == M_PAGE_IDLE ? 4 : 5;
}

#define TESTS_PER_CONFIG	(5 + 5 + 5 + 4)
#define NR_FORMATS		2
#define NR_BACKINGS		2
#define NR_TESTS		(NR_FORMATS * NR_BACKINGS * TESTS_PER_CONFIG + 1)

struct config {
	const char *name;	/* "npt anon" ... */
	int vm_fd, vcpu_fd;
	char *mem;
};

/* Pages with all of @set in their translation; pfns into @pfns. */
static unsigned int count_flags(struct config *c, u32 set, u64 *pfns)
{
	struct vmmu_translation tr;
	unsigned int i, n = 0;

	for (i = 0; i < NPAGES; i++) {
		if (mmu_translate(c->vcpu_fd, GPA + i * P, &tr))
			bail_out("VMMU_VCPU_TRANSLATE: %s", strerror(errno));
		if ((tr.flags & set) == set)
			n++;
		if (pfns)
			pfns[i] = tr.flags & VMMU_TR_PFN_VALID ? tr.pfn : 0;
	}
	return n;
}

/* The guest reads every page; returns how many held the data. */
static unsigned int guest_read_all(struct config *c)
{
	static u64 buf[P / 8];
	unsigned int i, good = 0;

	for (i = 0; i < NPAGES; i++) {
		u64 gpa = GPA + i * P;

		if (st_access(c->vcpu_fd, VMMU_ACCESS_READ, gpa, buf, P) ==
		    VMMU_ACCESS_DONE &&
		    st_mismatch(buf, SEED, gpa >> 12, 0, P, false) < 0)
			good++;
	}
	return good;
}

static int write_file(const char *path, const void *buf, size_t len,
		      off_t off)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, off);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

/* Mark the pages @pfns idle: one 64-bit word of the bitmap per pfn. */
static int page_idle_mark(const u64 *pfns)
{
	unsigned int i;
	int r;

	for (i = 0; i < NPAGES; i++) {
		u64 word = 1ULL << (pfns[i] % 64);

		if (!pfns[i])
			return -ENOENT;
		r = write_file(PAGE_IDLE_PATH, &word, sizeof(word),
			       pfns[i] / 64 * 8);
		if (r)
			return r;
	}
	return 0;
}

/* Age the slot's memory; 0, or -errno if the method could not run. */
static int age(struct config *c, enum method m, const u64 *pfns)
{
	switch (m) {
	case M_PAGEOUT:
		return madvise(c->mem, NPAGES * P, MADV_PAGEOUT) ? -errno : 0;
	case M_COLD:
		return madvise(c->mem, NPAGES * P, MADV_COLD) ? -errno : 0;
	case M_CLEAR_REFS:
		return write_file("/proc/self/clear_refs", "1", 1, 0);
	case M_PAGE_IDLE:
		return page_idle_mark(pfns);
	default:
		return -EINVAL;
	}
}

/* Kernel release as major * 1000 + minor. */
static unsigned int kernel_version(void)
{
	unsigned int major = 0, minor = 0;
	struct utsname u;

	if (!uname(&u))
		sscanf(u.release, "%u.%u", &major, &minor);
	return major * 1000 + minor;
}

/*
 * Does @m reach the notifier's aging callbacks on this kernel?  @young and
 * @lost (mapped pages that lost ACCESSED) are what aging did.
 */
static bool method_reaches(enum method m, unsigned int young,
			   unsigned int lost, const char **why)
{
	switch (m) {
	case M_PAGEOUT:
		/*
		 * Until 6.9 reclaim checks references (folio_referenced() ->
		 * clear_flush_young()).  "mm: madvise: pageout: ignore
		 * references rather than clearing young" (6.9) skips that.
		 */
		*why = "MADV_PAGEOUT ignores references since 6.9: no aging callback";
		return kernel_version() < 6009;
	case M_COLD:
		*why = "MADV_COLD clears only host young bits: no aging callback";
		return young || lost;
	case M_CLEAR_REFS:
		*why = "clear_refs clears only host young bits: no aging callback";
		return young || lost;
	default:
		*why = "";
		return true;
	}
}

static void run_method(struct config *c, enum method m)
{
	unsigned int nt = method_tests(m), accessed, present, young, lost;
	const char *mn = method_names[m], *why;
	struct vmmu_stats before, after;
	u64 pfns[NPAGES];
	int r;

	if (m == M_PAGE_IDLE && access(PAGE_IDLE_PATH, W_OK)) {
		skip(nt, "%s %s: %s is not available (CONFIG_IDLE_PAGE_TRACKING)",
		     c->name, mn, PAGE_IDLE_PATH);
		return;
	}
	/* A fresh root: every page faults in again and is walked. */
	if (vmmu_ioctl(c->vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
	r = guest_read_all(c);
	accessed = count_flags(c, VMMU_TR_PRESENT | VMMU_TR_ACCESSED, pfns);
	if (!is_int(accessed, NPAGES,
		    "%s %s: after %d good guest reads every page is ACCESSED",
		    c->name, mn, r)) {
		skip(nt - 1, "pages were not accessed");
		return;
	}

	st_stats_or_die(c->vm_fd, &before);
	r = age(c, m, pfns);
	st_stats_or_die(c->vm_fd, &after);
	if (r) {
		skip(nt - 1, "%s failed: %s", mn, errno_name(-r));
		return;
	}
	accessed = count_flags(c, VMMU_TR_ACCESSED, NULL);
	present = count_flags(c, VMMU_TR_PRESENT, NULL);
	lost = present - accessed;
	young = after.young_cleared - before.young_cleared;
	diag("%s %s: %u present, %u accessed, young_cleared +%u, invalidations +%llu",
	     c->name, mn, present, accessed, young,
	     (unsigned long long)(after.invalidations - before.invalidations));
	ok(young >= lost,
	   "%s %s: young_cleared (+%u) counts every mapped page that lost ACCESSED (%u)",
	   c->name, mn, young, lost);
	if (!method_reaches(m, young, lost, &why)) {
		skip(nt - 2, "%s", why);
		return;
	}
	ok(accessed == 0 && young >= 1,
	   "%s %s: no page is ACCESSED after aging (%u are), young_cleared grew by %u",
	   c->name, mn, accessed, young);
	is_int(guest_read_all(c), NPAGES, "%s %s: guest re-reads return the data",
	       c->name, mn);
	if (m == M_PAGE_IDLE)
		return;
	is_int(count_flags(c, VMMU_TR_PRESENT | VMMU_TR_ACCESSED, NULL), NPAGES,
	       "%s %s: the re-reads set ACCESSED again (the flush made the vCPU walk)",
	       c->name, mn);
}

static void run_config(int sys_fd, u32 format, bool memfd_backed)
{
	struct config c;
	char name[32];
	int memfd = -1;
	enum method m;

	snprintf(name, sizeof(name), "%s %s", st_format_name(format),
		 memfd_backed ? "memfd" : "anon");
	c.name = name;
	c.vm_fd = st_vm_create(sys_fd, format, 0, NULL);
	if (memfd_backed) {
		memfd = mmu_memfd("vmmu-aging", NPAGES * P);
		c.mem = mmu_map_fd(memfd, NPAGES * P, 0, NULL);
	} else {
		c.mem = mmu_map_anon(NPAGES * P, NULL);
		madvise(c.mem, NPAGES * P, MADV_NOHUGEPAGE);
	}
	st_fill(c.mem, SEED, GPA >> 12, 0, NPAGES * P);
	mmu_set_region_or_die(c.vm_fd, 0, 0, GPA, NPAGES * P, c.mem);
	c.vcpu_fd = mmu_create_vcpu_or_die(c.vm_fd, 0);

	for (m = 0; m < NR_METHODS; m++)
		run_method(&c, m);

	close(c.vcpu_fd);
	close(c.vm_fd);
	munmap(c.mem, NPAGES * P);
	if (memfd >= 0)
		close(memfd);
}

int main(void)
{
	static const u32 formats[NR_FORMATS] = {
		VMMU_MMU_FORMAT_NPT, VMMU_MMU_FORMAT_EPT,
	};
	struct vmmu_objects base;
	unsigned int f;
	int sys_fd, r;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	r = st_pin_cpu(0);
	if (r)
		diag("cannot pin to CPU 0: %s", errno_name(-r));
	sys_fd = vmmu_open();

	for (f = 0; f < NR_FORMATS; f++) {
		run_config(sys_fd, formats[f], false);
		run_config(sys_fd, formats[f], true);
	}

	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
