// SPDX-License-Identifier: GPL-2.0
/*
 * Software-vCPU accesses that block in GUP on userfaultfd-registered guest
 * memory complete when a handler thread resolves the fault:
 *
 *  (a) MISSING mode, anonymous memory: a read blocks, the handler sees the
 *      fault message while the access is still blocked, serves the page
 *      with UFFDIO_COPY, and the read returns exactly what was copied; a
 *      write blocks with UFFD_PAGEFAULT_FLAG_WRITE and lands in the page
 *      that was served;
 *  (b) the same for several multi-page accesses from two vCPU threads at
 *      once, the handler serving each page once;
 *  (c) MINOR mode on shmem (a memfd mapped twice: the guest's view is
 *      registered, the handler writes new data through the other view and
 *      resolves with UFFDIO_CONTINUE): the guest reads the handler's data,
 *      which proves the access waited for it.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define SEED_A		0xa11ce
#define SEED_W		0xb0b
#define SEED_OLD	0x01d
#define SEED_NEW	0x9e7

#define NPAGES		16
#define GPA		0x40000000ULL
#define MULTI_FIRST	4		/* (b) uses pages 4..11 */
#define PAGES_PER_VCPU	4
#define NR_VCPUS	2
#define GPA_PLAIN	0x60000000ULL
#define GPA_MINOR	0x80000000ULL
#define NPAGES_MINOR	(NR_VCPUS * PAGES_PER_VCPU)

#define NR_TESTS_MINOR	8
#define NR_TESTS	(24 + NR_TESTS_MINOR)

/* A vCPU thread doing one access. */
struct vcpu_job {
	pthread_t thread;
	int vcpu_fd;
	u32 kind;
	u64 gpa;
	u32 len;
	void *buf;
	int r;
	atomic_int finished;
};

static void *vcpu_job_main(void *arg)
{
	struct vcpu_job *j = arg;

	j->r = st_access(j->vcpu_fd, j->kind, j->gpa, j->buf, j->len);
	atomic_store(&j->finished, 1);
	return NULL;
}

static void vcpu_job_start(struct vcpu_job *j, int vcpu_fd, u32 kind,
			   u64 gpa, void *buf, u32 len)
{
	j->vcpu_fd = vcpu_fd;
	j->kind = kind;
	j->gpa = gpa;
	j->buf = buf;
	j->len = len;
	j->r = -1;
	atomic_store(&j->finished, 0);
	if (pthread_create(&j->thread, NULL, vcpu_job_main, j))
		bail_out("pthread_create failed");
}

/*
 * A fault handler thread: resolves @expected pages of [hva, hva + n pages)
 * with UFFDIO_COPY of pattern @seed (MISSING) or by writing pattern @seed
 * through @alias and UFFDIO_CONTINUE (MINOR).
 */
struct handler {
	pthread_t thread;
	int uffd;
	bool minor;
	char *hva;
	char *alias;
	unsigned int npages;
	u64 first_gfn;
	u64 seed;
	unsigned int expected;
	struct vcpu_job *jobs;		/* to check they are still blocked */
	unsigned int nr_jobs;
	unsigned int jobs_first_idx;	/* page of the range jobs[0] starts at */
	/* results */
	unsigned int events, served, dup, bad_addr, bad_flags, not_blocked;
	int err;
};

/* Is the job that waits for page @idx of the range still blocked? */
static bool job_blocked(struct handler *h, unsigned long idx)
{
	unsigned long j = (idx - h->jobs_first_idx) / PAGES_PER_VCPU;

	return j >= h->nr_jobs || !atomic_load(&h->jobs[j].finished);
}

static void *handler_main(void *arg)
{
	struct handler *h = arg;
	static u64 page[P / 8];

	while (h->served < h->expected) {
		struct uffd_msg msg;
		unsigned long addr, idx;
		int r;

		r = st_uffd_read(h->uffd, &msg);
		if (r) {
			h->err = r;
			break;
		}
		h->events++;
		addr = msg.arg.pagefault.address;
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    addr < (unsigned long)h->hva ||
		    addr >= (unsigned long)h->hva + h->npages * P) {
			h->bad_addr++;
			continue;
		}
		if (!!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR) !=
		    h->minor)
			h->bad_flags++;
		idx = (addr - (unsigned long)h->hva) / P;
		/* The access that needs this page cannot have finished. */
		if (!job_blocked(h, idx))
			h->not_blocked++;
		if (h->minor) {
			st_fill(h->alias + idx * P, h->seed,
				h->first_gfn + idx, 0, P);
			r = st_uffd_continue(h->uffd, h->hva + idx * P, P);
		} else {
			st_fill(page, h->seed, h->first_gfn + idx, 0, P);
			r = st_uffd_copy(h->uffd, h->hva + idx * P, page, P);
		}
		if (r == -EEXIST) {
			h->dup++;
			continue;
		}
		if (r) {
			h->err = r;
			break;
		}
		h->served++;
	}
	return NULL;
}

static void handler_start(struct handler *h)
{
	h->events = 0;
	h->served = 0;
	h->dup = 0;
	h->bad_addr = 0;
	h->bad_flags = 0;
	h->not_blocked = 0;
	h->err = 0;
	if (pthread_create(&h->thread, NULL, handler_main, h))
		bail_out("pthread_create failed");
}

static unsigned int count_present(int vcpu_fd, u64 gpa, unsigned int n)
{
	struct vmmu_translation tr;
	unsigned int i, hits = 0;

	for (i = 0; i < n; i++)
		if (!mmu_translate(vcpu_fd, gpa + i * P, &tr) &&
		    (tr.flags & VMMU_TR_PRESENT))
			hits++;
	return hits;
}

/*
 * (a) one read and one write, served from the main thread.  vCPU 1 looks
 * at the shared root meanwhile (vCPU 0's mutex is held by its access).
 */
static void test_single(int vm_fd, int vcpu_fds[], int uffd, char *mem)
{
	int vcpu_fd = vcpu_fds[0];
	struct vcpu_job job;
	struct uffd_msg msg;
	static u64 page[P / 8], buf[P / 8];
	struct vmmu_stats before, after;

	st_stats_or_die(vm_fd, &before);
	vcpu_job_start(&job, vcpu_fd, VMMU_ACCESS_READ, GPA, buf, P);
	is_errno(st_uffd_read(uffd, &msg), 0, "read: fault message");
	ok(msg.event == UFFD_EVENT_PAGEFAULT &&
	   msg.arg.pagefault.address == (unsigned long)mem &&
	   !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE),
	   "read: a read fault on page 0 (event %u address %#llx flags %#llx)",
	   msg.event, (unsigned long long)msg.arg.pagefault.address,
	   (unsigned long long)msg.arg.pagefault.flags);
	ok(!atomic_load(&job.finished),
	   "read: the access is blocked while the page is missing");
	ok(!count_present(vcpu_fds[1], GPA, 1),
	   "read: nothing mapped meanwhile (seen by vCPU 1)");
	st_fill(page, SEED_A, GPA >> 12, 0, P);
	is_errno(st_uffd_copy(uffd, mem, page, P), 0, "read: UFFDIO_COPY");
	pthread_join(job.thread, NULL);
	is_int(job.r, VMMU_ACCESS_DONE, "read: the access completes");
	ok(!memcmp(buf, page, P), "read: the guest read exactly what was copied");
	ok(count_present(vcpu_fd, GPA, 1), "read: page 0 is mapped now");
	st_stats_or_die(vm_fd, &after);
	ok(after.faults > before.faults, "read: it went through the fault handler");

	st_fill(buf, SEED_W, (GPA >> 12) + 1, 0, P);
	vcpu_job_start(&job, vcpu_fd, VMMU_ACCESS_WRITE, GPA + P, buf, P);
	is_errno(st_uffd_read(uffd, &msg), 0, "write: fault message");
	ok(msg.event == UFFD_EVENT_PAGEFAULT &&
	   msg.arg.pagefault.address == (unsigned long)(mem + P) &&
	   (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE),
	   "write: a write fault on page 1 (event %u address %#llx flags %#llx)",
	   msg.event, (unsigned long long)msg.arg.pagefault.address,
	   (unsigned long long)msg.arg.pagefault.flags);
	ok(!atomic_load(&job.finished), "write: the access is blocked");
	memset(page, 0, P);
	is_errno(st_uffd_copy(uffd, mem + P, page, P), 0,
		 "write: UFFDIO_COPY of a zero page");
	pthread_join(job.thread, NULL);
	is_int(job.r, VMMU_ACCESS_DONE, "write: the access completes");
	ok(st_mismatch(mem + P, SEED_W, (GPA >> 12) + 1, 0, P, false) < 0,
	   "write: the guest's data is in the page that was served");
}

/* (b) two vCPU threads, multi-page reads, a handler thread. */
static void test_multi(int vcpu_fds[], int uffd, char *mem)
{
	struct vcpu_job jobs[NR_VCPUS];
	static u64 bufs[NR_VCPUS][PAGES_PER_VCPU * P / 8];
	struct handler h = {
		.uffd = uffd,
		.hva = mem,
		.npages = NPAGES,
		.first_gfn = GPA >> 12,
		.seed = SEED_A,
		.expected = NR_VCPUS * PAGES_PER_VCPU,
		.jobs = jobs,
		.nr_jobs = NR_VCPUS,
		.jobs_first_idx = MULTI_FIRST,
	};
	unsigned int i, done = 0, good = 0;

	memset(jobs, 0, sizeof(jobs));
	handler_start(&h);
	for (i = 0; i < NR_VCPUS; i++) {
		u64 gpa = GPA + (MULTI_FIRST + i * PAGES_PER_VCPU) * P;

		vcpu_job_start(&jobs[i], vcpu_fds[i], VMMU_ACCESS_READ, gpa,
			       bufs[i], PAGES_PER_VCPU * P);
	}
	for (i = 0; i < NR_VCPUS; i++) {
		u64 gfn = (GPA >> 12) + MULTI_FIRST + i * PAGES_PER_VCPU;

		pthread_join(jobs[i].thread, NULL);
		if (jobs[i].r == VMMU_ACCESS_DONE)
			done++;
		if (st_mismatch(bufs[i], SEED_A, gfn, 0, PAGES_PER_VCPU * P,
				false) < 0)
			good++;
	}
	pthread_join(h.thread, NULL);
	diag("multi: %u fault messages, %u pages served, %u duplicates",
	     h.events, h.served, h.dup);
	is_errno(h.err, 0, "multi: the handler saw no error");
	is_int(h.served, NR_VCPUS * PAGES_PER_VCPU,
	       "multi: every page was served once");
	is_int(h.bad_addr, 0, "multi: every fault was on a page of the range");
	is_int(h.not_blocked, 0,
	       "multi: no access had finished while a page was missing");
	is_int(done, NR_VCPUS, "multi: both vCPUs' accesses complete");
	is_int(good, NR_VCPUS, "multi: both read exactly what was copied");
}

/* (c) MINOR mode on shmem. */
static void test_minor(int sys_fd)
{
	struct vcpu_job jobs[NR_VCPUS];
	static u64 bufs[NR_VCPUS][PAGES_PER_VCPU * P / 8];
	int uffd, memfd, vm_fd, vcpu_fds[NR_VCPUS];
	unsigned int i, done = 0, good = 0;
	char *view, *alias;
	struct handler h;
	int r;

	uffd = st_uffd_open(UFFD_FEATURE_MINOR_SHMEM);
	if (uffd < 0) {
		skip(NR_TESTS_MINOR, "userfaultfd MINOR on shmem: %s",
		     errno_name(-uffd));
		return;
	}
	memfd = mmu_memfd("vmmu-uffd-minor", NPAGES_MINOR * P);
	alias = mmu_map_fd(memfd, NPAGES_MINOR * P, 0, NULL);
	view = mmu_map_fd(memfd, NPAGES_MINOR * P, 0, NULL);
	/* The page cache holds the old data; the view maps none of it. */
	st_fill(alias, SEED_OLD, GPA_MINOR >> 12, 0, NPAGES_MINOR * P);
	r = st_uffd_register(uffd, view, NPAGES_MINOR * P,
			     UFFDIO_REGISTER_MODE_MINOR);
	if (r == -EINVAL) {
		skip(NR_TESTS_MINOR, "UFFDIO_REGISTER_MODE_MINOR on a memfd: %s",
		     errno_name(-r));
		goto out;
	}
	if (!is_errno(r, 0, "minor: memfd registered in MINOR mode")) {
		skip(NR_TESTS_MINOR - 1, "not registered");
		goto out;
	}
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mmu_set_region_or_die(vm_fd, 0, 0, GPA_MINOR, NPAGES_MINOR * P, view);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_fds[i] = mmu_create_vcpu_or_die(vm_fd, i);

	memset(&h, 0, sizeof(h));
	h.uffd = uffd;
	h.minor = true;
	h.hva = view;
	h.alias = alias;
	h.npages = NPAGES_MINOR;
	h.first_gfn = GPA_MINOR >> 12;
	h.seed = SEED_NEW;
	h.expected = NPAGES_MINOR;
	h.jobs = jobs;
	h.nr_jobs = NR_VCPUS;
	memset(jobs, 0, sizeof(jobs));
	handler_start(&h);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_job_start(&jobs[i], vcpu_fds[i], VMMU_ACCESS_READ,
			       GPA_MINOR + i * PAGES_PER_VCPU * P, bufs[i],
			       PAGES_PER_VCPU * P);
	for (i = 0; i < NR_VCPUS; i++) {
		u64 gfn = (GPA_MINOR >> 12) + i * PAGES_PER_VCPU;

		pthread_join(jobs[i].thread, NULL);
		if (jobs[i].r == VMMU_ACCESS_DONE)
			done++;
		if (st_mismatch(bufs[i], SEED_NEW, gfn, 0, PAGES_PER_VCPU * P,
				false) < 0)
			good++;
	}
	pthread_join(h.thread, NULL);
	diag("minor: %u fault messages, %u pages continued, %u duplicates",
	     h.events, h.served, h.dup);
	is_errno(h.err, 0, "minor: the handler saw no error");
	is_int(h.served, NPAGES_MINOR, "minor: every page was continued once");
	is_int(h.bad_flags, 0, "minor: every message has UFFD_PAGEFAULT_FLAG_MINOR");
	is_int(h.not_blocked, 0,
	       "minor: no access had finished before its pages were resolved");
	is_int(done, NR_VCPUS, "minor: both vCPUs' accesses complete");
	is_int(good, NR_VCPUS,
	       "minor: both read the data the handler wrote before UFFDIO_CONTINUE");
	is_int(count_present(vcpu_fds[0], GPA_MINOR, NPAGES_MINOR),
	       NPAGES_MINOR, "minor: every page is mapped now");
	for (i = 0; i < NR_VCPUS; i++)
		close(vcpu_fds[i]);
	close(vm_fd);
out:
	munmap(view, NPAGES_MINOR * P);
	munmap(alias, NPAGES_MINOR * P);
	close(memfd);
	close(uffd);
}

int main(void)
{
	int sys_fd, vm_fd, uffd, vcpu_fds[NR_VCPUS];
	struct vmmu_objects base;
	static u64 plain_buf[1];
	char *mem, *plain;
	unsigned int i;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();

	uffd = st_uffd_open(0);
	if (uffd < 0)
		bail_out("userfaultfd: %s", errno_name(-uffd));
	mem = mmu_map_anon(NPAGES * P, NULL);
	plain = mmu_map_anon(P, NULL);
	plain[0] = 1;
	is_errno(st_uffd_register(uffd, mem, NPAGES * P,
				  UFFDIO_REGISTER_MODE_MISSING), 0,
		 "anonymous guest memory registered in MISSING mode");
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	mmu_set_region_or_die(vm_fd, 0, 0, GPA, NPAGES * P, mem);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_fds[i] = mmu_create_vcpu_or_die(vm_fd, i);

	/* vCPU 1 loads the shared root through a slot without userfaultfd. */
	mmu_set_region_or_die(vm_fd, 1, 0, GPA_PLAIN, P, plain);
	is_int(st_access(vcpu_fds[1], VMMU_ACCESS_READ, GPA_PLAIN, plain_buf,
			 8), VMMU_ACCESS_DONE, "vCPU 1 reads a plain slot");
	test_single(vm_fd, vcpu_fds, uffd, mem);
	test_multi(vcpu_fds, uffd, mem);

	for (i = 0; i < NR_VCPUS; i++)
		close(vcpu_fds[i]);
	close(vm_fd);
	close(uffd);
	munmap(mem, NPAGES * P);
	munmap(plain, P);

	test_minor(sys_fd);

	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
