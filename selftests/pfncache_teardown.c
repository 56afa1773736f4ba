// SPDX-License-Identifier: GPL-2.0
/*
 * A VM closed while its gfn->pfn caches are busy: a test cache's soft
 * hrtimer writes through the cache every 10 us and queues a refresh each
 * time it finds the cache invalid.  Tearing the VM down invalidates the
 * cache (the notifier's release when it unregisters); a refresh that then
 * published the page again after the notifier was gone would map a page
 * that nothing invalidates any more.  The caches must go first: vmmu warns
 * if a cache is published after its VM's notifier is unregistered, and
 * the lane fails on the warning.
 *
 * Every round also leaves the memory behind released (MADV_DONTNEED, then
 * munmap) right after the close, and the objects must be back at their
 * baseline at the end.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmu_util.h"
#include "pfncache_util.h"
#include "stress_util.h"

#define NR_TESTS	2
#define P		PAGE_SIZE
#define NPAGES		4
#define GPA		0x200000ULL

static void sleep_us(long us)
{
	struct timespec ts = { 0, us * 1000L };

	nanosleep(&ts, NULL);
}

/* One VM: a busy cache, an invalidation, then the close. */
static int one_round(int sys_fd, unsigned long i)
{
	int vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	u8 *mem = mmu_map_anon(NPAGES * P, NULL);
	int r;

	memset(mem, 0x11, NPAGES * P);
	mmu_set_region_or_die(vm_fd, 0, 0, GPA, NPAGES * P, mem);
	r = pc_activate(vm_fd, 0, GPA + (i % NPAGES) * P, 16);
	if (!r)
		r = pc_timer_start(vm_fd, 0, 10000);
	/* Make the timer find the cache invalid now and then. */
	sleep_us(50);
	madvise(mem, NPAGES * P, MADV_DONTNEED);
	sleep_us(i % 100);
	close(vm_fd);
	madvise(mem, NPAGES * P, MADV_DONTNEED);
	munmap(mem, NPAGES * P);
	return r;
}

int main(void)
{
	unsigned long rounds = st_scale(300, 4, 50), i;
	struct vmmu_objects before;
	int sys_fd, bad = 0;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	vmmu_objects_read_or_die(&before);
	for (i = 0; i < rounds; i++)
		if (one_round(sys_fd, i))
			bad++;
	tap_diag("%lu VMs closed with a running cache timer", rounds);
	is_int(bad, 0, "every cache was activated and its timer started");
	ok_objects(&before, "no object left behind");
	close(sys_fd);
	return tap_finish();
}
