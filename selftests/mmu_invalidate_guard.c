// SPDX-License-Identifier: GPL-2.0
/*
 * mmu_notifier invalidations of host ranges that no memslot maps, and
 * memslot updates racing with invalidations:
 *
 *  (a) invalidations of memory no memslot maps change nothing a fault looks
 *      at: the VM's invalidation count, sequence and in-progress count stay
 *      where they were, and faults on the VM's own memory meanwhile never
 *      retry because of them;
 *  (b) a slot created over a range while the host invalidates it (mprotect
 *      and MADV_DONTNEED in a loop), accessed, then deleted, many times:
 *      every access completes, and at the end no invalidation is left in
 *      progress (a start and an end that disagreed about the slot would
 *      leave the count unbalanced and faults on that range retrying for
 *      ever, which the access's timer would turn into VMMU_ACCESS_INTR).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define NPAGES		16
#define GPA_OWN		0x100000ULL
#define GPA_CHURN	0x40000000ULL
#define SLOT_OWN	0
#define SLOT_CHURN	1

#define NR_TESTS	9

static atomic_bool stop;
static atomic_ulong churns;

/* Invalidate @arg's NPAGES pages over and over until told to stop. */
static void *churn_main(void *arg)
{
	u8 *mem = arg;
	size_t i;

	while (!atomic_load(&stop)) {
		for (i = 0; i < NPAGES; i++)
			mem[i * P] = (u8)i;
		mprotect(mem, NPAGES * P, PROT_READ);
		mprotect(mem, NPAGES * P, PROT_READ | PROT_WRITE);
		madvise(mem, NPAGES * P, MADV_DONTNEED);
		atomic_fetch_add(&churns, 1);
	}
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Arm a one-shot timer of @sec seconds: a stuck access ends with INTR. */
static void arm_timer(int sec)
{
	struct itimerval it = { .it_value = { .tv_sec = sec } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* Read every page of the slot at @gpa; the first result that is not DONE. */
static int read_pages(int vcpu_fd, u64 gpa)
{
	u64 word;
	int i, r;

	for (i = 0; i < NPAGES; i++) {
		r = st_access(vcpu_fd, VMMU_ACCESS_READ, gpa + i * P, &word,
			      sizeof(word));
		if (r != VMMU_ACCESS_DONE)
			return r;
	}
	return VMMU_ACCESS_DONE;
}

/*
 * The mappings within 4 MiB of @a or @b, from /proc/self/smaps, with their
 * huge-page lines, and the THP mode: what the host could have widened an
 * invalidation of @b to (a huge page split notifies its whole 2 MiB).
 */
static void maps_diag(const void *a, const void *b)
{
	unsigned long lo, hi, ua = (unsigned long)a, ub = (unsigned long)b;
	char line[512];
	bool near = false;
	FILE *f;

	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f && fgets(line, sizeof(line), f))
		tap_diag("THP: %s", line);
	if (f)
		fclose(f);
	f = fopen("/proc/self/smaps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		/* A mapping's first line; its keys never parse as a range. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			near = (lo < ua + (4UL << 20) && ua < hi + (4UL << 20)) ||
			       (lo < ub + (4UL << 20) && ub < hi + (4UL << 20));
			if (near)
				tap_diag("  %s", line);
		} else if (near && (strstr(line, "AnonHugePages") ||
				    strstr(line, "THPeligible"))) {
			tap_diag("    %s", line);
		}
	}
	if (f)
		fclose(f);
}

/*
 * NPAGES anonymous pages in a VMA of their own: 2 MiB-aligned in the middle
 * of a PROT_NONE reservation of RESERVE bytes, which no mapping merges with.
 * Memory merely beside the slot's would not do: when a VMA is split at an
 * address whose aligned 2 MiB lies wholly in that VMA, the host splits the
 * huge PMD that could map it and notifies the whole 2 MiB, huge or not
 * (vma_adjust_trans_huge(); seen on 6.1 as mprotect() of 64 KiB beside the
 * slot invalidating the slot's 2 MiB), and the slot's memory, mmap()ed next
 * to it, merges with it and with a thread stack below.  That is a real
 * invalidation of the slot's pages, rightly counted.
 */
#define RESERVE		(6UL << 20)
#define HUGE_2M		(2UL << 20)

static u8 *map_apart(void **reservation)
{
	u8 *res = mmap(NULL, RESERVE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned long mid;

	if (res == MAP_FAILED)
		bail_out("mmap of a %lu-byte reservation: %s", RESERVE,
			 strerror(errno));
	*reservation = res;
	mid = ((unsigned long)res + 2 * HUGE_2M - 1) & ~(HUGE_2M - 1);
	return mmu_map_anon(NPAGES * P, (void *)mid);
}

static void test_unrelated(int vm_fd, int vcpu_fd, void *own)
{
	unsigned long rounds = st_scale(400, 4, 50), i;
	void *reservation;
	u8 *other = map_apart(&reservation);
	struct vmmu_stats before, after;
	pthread_t churner;
	int bad = 0;

	atomic_store(&stop, false);
	atomic_store(&churns, 0);
	if (pthread_create(&churner, NULL, churn_main, other))
		bail_out("pthread_create");
	st_stats_or_die(vm_fd, &before);
	for (i = 0; i < rounds; i++) {
		/* Every page faults again, while the other thread churns. */
		if (ioctl(vm_fd, VMMU_ZAP_ALL, 0))
			bail_out("VMMU_ZAP_ALL: %s", strerror(errno));
		if (read_pages(vcpu_fd, GPA_OWN) != VMMU_ACCESS_DONE)
			bad++;
	}
	st_stats_or_die(vm_fd, &after);
	atomic_store(&stop, true);
	pthread_join(churner, NULL);
	tap_diag("(a) %lu rounds of %d faults against %lu rounds of unrelated invalidations",
		 rounds, NPAGES, atomic_load(&churns));
	st_stats_diag("(a)", &after);
	is_int(bad, 0, "(a) accesses to the VM's memory all completed");
	is_int(after.invalidations - before.invalidations, 0,
	       "(a) invalidations of unmapped memory are not counted as the VM's");
	is_int(after.invalidate_seq - before.invalidate_seq, 0,
	       "(a) nor do they move the invalidation sequence");
	if (!is_int(after.fault_retries - before.fault_retries, 0,
		    "(a) nor make any fault retry") ||
	    after.invalidations != before.invalidations) {
		tap_diag("(a) the slot's memory at %p, the other memory at %p",
			 own, (void *)other);
		maps_diag(own, other);
	}
	munmap(reservation, RESERVE);
}

static void test_slot_churn(int vm_fd, int vcpu_fd)
{
	unsigned long rounds = st_scale(400, 4, 50), i;
	u8 *mem = mmu_map_anon(NPAGES * P, NULL);
	unsigned long done = 0, mmio = 0, other = 0;
	struct vmmu_stats st;
	pthread_t churner;
	int r;

	atomic_store(&stop, false);
	atomic_store(&churns, 0);
	if (pthread_create(&churner, NULL, churn_main, mem))
		bail_out("pthread_create");
	for (i = 0; i < rounds; i++) {
		mmu_set_region_or_die(vm_fd, SLOT_CHURN, 0, GPA_CHURN,
				      NPAGES * P, mem);
		arm_timer(10);
		r = read_pages(vcpu_fd, GPA_CHURN);
		arm_timer(0);
		if (vmmu_delete_region(vm_fd, SLOT_CHURN))
			bail_out("delete slot %d", SLOT_CHURN);
		if (r == VMMU_ACCESS_DONE) {
			done++;
			continue;
		}
		/* Stuck faults would make every further round wait too. */
		tap_diag("(b) round %lu: read %s", i, mmu_result_name(r));
		if (r == VMMU_ACCESS_MMIO)
			mmio++;
		else
			other++;
		break;
	}
	atomic_store(&stop, true);
	pthread_join(churner, NULL);
	tap_diag("(b) %lu slot create/read/delete rounds against %lu invalidation rounds",
		 rounds, atomic_load(&churns));
	is_int(done, rounds, "(b) every read of the new slot completed");
	is_int(mmio + other, 0, "(b) none was MMIO, interrupted or failed");

	/* Quiet now: nothing may be left in progress. */
	st_stats_or_die(vm_fd, &st);
	is_int(st.invalidate_in_progress, 0,
	       "(b) no invalidation is left in progress");
	mmu_set_region_or_die(vm_fd, SLOT_CHURN, 0, GPA_CHURN, NPAGES * P,
			      mem);
	arm_timer(10);
	r = read_pages(vcpu_fd, GPA_CHURN);
	arm_timer(0);
	is_int(r, VMMU_ACCESS_DONE,
	       "(b) the range faults in once more after the churn (%s)",
	       mmu_result_name(r));
	if (vmmu_delete_region(vm_fd, SLOT_CHURN))
		bail_out("delete slot %d", SLOT_CHURN);
	st_stats_or_die(vm_fd, &st);
	is_int(st.invalidate_in_progress, 0,
	       "(b) still none in progress after the last delete");
	munmap(mem, NPAGES * P);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	int sys_fd, vm_fd, vcpu_fd;
	void *own;

	tap_plan(NR_TESTS);
	sigaction(SIGALRM, &sa, NULL);
	sys_fd = vmmu_open();
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	own = mmu_map_anon(NPAGES * P, NULL);
	memset(own, 0x5a, NPAGES * P);
	mmu_set_region_or_die(vm_fd, SLOT_OWN, 0, GPA_OWN, NPAGES * P, own);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	test_unrelated(vm_fd, vcpu_fd, own);
	test_slot_churn(vm_fd, vcpu_fd);

	close(vcpu_fd);
	close(vm_fd);
	close(sys_fd);
	return tap_finish();
}
