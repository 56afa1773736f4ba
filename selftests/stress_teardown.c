// SPDX-License-Identifier: GPL-2.0
/*
 * Tearing a VM down while its vCPUs are in the middle of accesses.
 *
 *  (a) Every vCPU thread is blocked in GUP on a userfaultfd page (the
 *      handler has the fault messages) when the main thread closes the VM
 *      fd and every vCPU fd.  The ioctls in progress keep their files, so
 *      the VM must still exist; once the pages are served the accesses
 *      complete with the served data, the next ioctl on each closed fd
 *      fails with EBADF, and the VM is gone.
 *  (b) Many times: vCPU threads read and write a memfd slot whose pages
 *      the main thread has just dropped (MADV_DONTNEED), so they are
 *      faulting, when the main thread closes every fd (in varying order).
 *      Each access must complete with correct data or fail with EBADF
 *      after the close; after the threads are joined every object is gone.
 *  (c) A child process whose vCPU threads are blocked in GUP on userfaultfd
 *      pages is killed with SIGKILL; the parent reaps it and checks that
 *      every object is gone.
 *  (d) Many times: a child process with vCPU threads faulting on a memfd
 *      slot while its main thread keeps unmapping and remapping it is
 *      killed with SIGKILL once every vCPU has made progress; the child
 *      reports its accesses through shared memory, the parent checks them
 *      and that every object is gone after each reap.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define GPA		0x40000000ULL
#define SEED		0x7ea2
#define NR_VCPUS	3
#define NPAGES		64
#define CHUNK		(4 * P)		/* multi-page accesses in (b), (d) */

#define ITERS_A		3
#define ITERS_B		100
#define ITERS_C		10
#define ITERS_D		100

#define NR_TESTS	16

static struct vmmu_objects base;
static struct vmmu_mmu_config sw_cfg = {
	.format = VMMU_MMU_FORMAT_NPT,
	.vcpu_kind = VMMU_VCPU_SOFTWARE,
};

/* (a) ---------------------------------------------------------------- */

struct blocked {
	pthread_t thread;
	int vcpu_fd;
	u64 gpa;
	int r1, r2;
	u64 buf[P / 8];
};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;

	b->r1 = st_access(b->vcpu_fd, VMMU_ACCESS_READ, b->gpa, b->buf, P);
	/* The fd was closed meanwhile: nothing may be done through it. */
	b->r2 = st_access(b->vcpu_fd, VMMU_ACCESS_READ, b->gpa, b->buf + 8, 8);
	return NULL;
}

static void part_a(int sys_fd)
{
	unsigned int it, i, events = 0, alive = 0, done = 0, ebadf = 0;
	unsigned int gone = 0;
	static struct blocked bl[NR_VCPUS];
	static u64 page[P / 8];

	for (it = 0; it < ITERS_A; it++) {
		struct vmmu_objects now;
		struct uffd_msg msg;
		int vm_fd, uffd;
		char *mem;

		uffd = st_uffd_open(0);
		if (uffd < 0)
			bail_out("userfaultfd: %s", errno_name(-uffd));
		vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
		mem = mmu_map_anon(NR_VCPUS * P, NULL);
		if (st_uffd_register(uffd, mem, NR_VCPUS * P,
				     UFFDIO_REGISTER_MODE_MISSING))
			bail_out("UFFDIO_REGISTER: %s", strerror(errno));
		mmu_set_region_or_die(vm_fd, 0, 0, GPA, NR_VCPUS * P, mem);
		for (i = 0; i < NR_VCPUS; i++) {
			memset(&bl[i], 0, sizeof(bl[i]));
			bl[i].vcpu_fd = mmu_create_vcpu_or_die(vm_fd, i);
			bl[i].gpa = GPA + i * P;
			if (pthread_create(&bl[i].thread, NULL, blocked_main,
					   &bl[i]))
				bail_out("pthread_create failed");
		}
		for (i = 0; i < NR_VCPUS; i++)
			if (!st_uffd_read(uffd, &msg) &&
			    msg.event == UFFD_EVENT_PAGEFAULT)
				events++;

		/* Every vCPU is inside an ioctl now. */
		close(vm_fd);
		for (i = 0; i < NR_VCPUS; i++)
			close(bl[i].vcpu_fd);
		vmmu_objects_read_or_die(&now);
		if (now.vms == base.vms + 1 &&
		    now.vcpus == base.vcpus + NR_VCPUS)
			alive++;
		else
			vmmu_objects_diag("after closing every fd", &now);

		for (i = 0; i < NR_VCPUS; i++) {
			st_fill(page, SEED, (GPA >> 12) + i, 0, P);
			if (st_uffd_copy(uffd, mem + i * P, page, P))
				bail_out("UFFDIO_COPY: %s", strerror(errno));
		}
		for (i = 0; i < NR_VCPUS; i++) {
			pthread_join(bl[i].thread, NULL);
			if (bl[i].r1 == VMMU_ACCESS_DONE &&
			    st_mismatch(bl[i].buf, SEED, (GPA >> 12) + i, 0, P,
					false) < 0)
				done++;
			else
				diag("(a) vCPU %u: %s", i,
				     mmu_result_name(bl[i].r1));
			if (bl[i].r2 == -EBADF)
				ebadf++;
			else
				diag("(a) vCPU %u after close: %s", i,
				     mmu_result_name(bl[i].r2));
		}
		vmmu_objects_read_or_die(&now);
		if (vmmu_objects_equal(&now, &base))
			gone++;
		else
			vmmu_objects_diag("after the threads finished", &now);
		close(uffd);
		munmap(mem, NR_VCPUS * P);
	}
	diag("(a) %d iterations of %d vCPUs blocked in GUP while every fd closed",
	     ITERS_A, NR_VCPUS);
	is_int(events, ITERS_A * NR_VCPUS,
	       "(a) every vCPU thread blocked in GUP on a userfaultfd page");
	is_int(alive, ITERS_A,
	       "(a) with every fd closed the VM and its vCPUs still exist while the ioctls run");
	is_int(done, ITERS_A * NR_VCPUS,
	       "(a) the blocked accesses complete with the served data");
	is_int(ebadf, ITERS_A * NR_VCPUS,
	       "(a) the next ioctl on a closed vCPU fd fails with EBADF");
	is_int(gone, ITERS_A,
	       "(a) once the threads are done every object is gone");
}

/* (b) ---------------------------------------------------------------- */

struct racer {
	pthread_t thread;
	unsigned int id;
	int vcpu_fd;
	struct st_pace *pace;
	atomic_int *closing;
	int last;
	unsigned long done, inflight, bad;
	char first_bad[128];
	u64 buf[CHUNK / 8];
};

static void *racer_main(void *arg)
{
	struct racer *w = arg;
	u64 rnd = 0x6a09e667f3bcc909ULL * (w->id + 1);

	while (st_pace_begin(w->pace, w->id)) {
		u64 x = st_rand(&rnd);
		u64 gpa = GPA + (x % (NPAGES - CHUNK / P + 1)) * P;
		bool write = (x >> 40) % 3 == 0;
		int c0, c1, r;

		if (write)
			st_fill(w->buf, SEED, gpa >> 12, 0, CHUNK);
		c0 = atomic_load(w->closing);
		r = st_access(w->vcpu_fd, write ? VMMU_ACCESS_WRITE :
			      VMMU_ACCESS_READ, gpa, w->buf, CHUNK);
		c1 = atomic_load(w->closing);
		st_pace_end(w->pace, w->id);
		w->last = r;
		if (r == -EBADF && c1)
			break;
		if (r == VMMU_ACCESS_DONE &&
		    (write || st_mismatch(w->buf, SEED, gpa >> 12, 0, CHUNK,
					  false) < 0)) {
			w->done++;
			if (!c0 && c1)
				w->inflight++;
			continue;
		}
		if (!w->bad++)
			snprintf(w->first_bad, sizeof(w->first_bad),
				 "vCPU %u: %s at %#llx: %s", w->id,
				 write ? "write" : "read",
				 (unsigned long long)gpa, mmu_result_name(r));
	}
	return NULL;
}

static void part_b(int sys_fd)
{
	unsigned long iters = st_scale(ITERS_B, 2, 10), it, done = 0;
	unsigned long inflight = 0, bad = 0, ended = 0, gone = 0;
	static struct racer rs[NR_VCPUS];
	atomic_int closing;
	struct st_pace pace;
	unsigned int i;
	int memfd;
	char *mem;

	memfd = mmu_memfd("vmmu-teardown", NPAGES * P);
	mem = mmu_map_fd(memfd, NPAGES * P, 0, NULL);
	st_fill(mem, SEED, GPA >> 12, 0, NPAGES * P);
	for (it = 0; it < iters; it++) {
		struct vmmu_objects now;
		int vm_fd;

		vm_fd = st_vm_create(sys_fd, it % 2 ? VMMU_MMU_FORMAT_EPT :
				     VMMU_MMU_FORMAT_NPT, 0, NULL);
		mmu_set_region_or_die(vm_fd, 0, 0, GPA, NPAGES * P, mem);
		atomic_store(&closing, 0);
		st_pace_init(&pace, NR_VCPUS, 1000000);
		for (i = 0; i < NR_VCPUS; i++) {
			memset(&rs[i], 0, sizeof(rs[i]));
			rs[i].id = i;
			rs[i].vcpu_fd = mmu_create_vcpu_or_die(vm_fd, i);
			rs[i].pace = &pace;
			rs[i].closing = &closing;
			if (pthread_create(&rs[i].thread, NULL, racer_main,
					   &rs[i]))
				bail_out("pthread_create failed");
		}
		st_pace_wait(&pace);
		/* The memfd keeps the data: the threads fault it back in. */
		madvise(mem, NPAGES * P, MADV_DONTNEED);

		atomic_store(&closing, 1);
		switch (it % 3) {
		case 0:
			close(vm_fd);
			for (i = 0; i < NR_VCPUS; i++)
				close(rs[i].vcpu_fd);
			break;
		case 1:
			for (i = 0; i < NR_VCPUS; i++)
				close(rs[i].vcpu_fd);
			close(vm_fd);
			break;
		default:
			close(rs[0].vcpu_fd);
			close(vm_fd);
			for (i = 1; i < NR_VCPUS; i++)
				close(rs[i].vcpu_fd);
		}
		/* Any thread still waiting for budget goes on to EBADF. */
		for (i = 0; i < NR_VCPUS; i++) {
			pthread_join(rs[i].thread, NULL);
			done += rs[i].done;
			inflight += rs[i].inflight;
			bad += rs[i].bad;
			if (rs[i].bad)
				diag("(b) %s", rs[i].first_bad);
			if (rs[i].last == -EBADF)
				ended++;
		}
		vmmu_objects_read_or_die(&now);
		if (vmmu_objects_equal(&now, &base))
			gone++;
		else
			vmmu_objects_diag("(b) after the threads", &now);
	}
	munmap(mem, NPAGES * P);
	close(memfd);
	diag("(b) %lu iterations: %lu accesses done, %lu of them across the close",
	     iters, done, inflight);
	is_int(bad, 0,
	       "(b) every access completed with its data or failed with EBADF after the close");
	is_int(ended, iters * NR_VCPUS,
	       "(b) every vCPU thread ended on EBADF from its closed fd");
	ok(inflight > 0,
	   "(b) accesses were in flight when the fds were closed (%lu)",
	   inflight);
	is_int(gone, iters, "(b) every object gone after each of %lu iterations",
	       iters);
}

/* (c), (d): children ------------------------------------------------- */

/* What a child reports to its parent through shared memory. */
struct child_report {
	atomic_ulong accesses;
	atomic_ulong bad;
	atomic_ulong efault_ok;
	atomic_ulong unmapped;		/* window */
};

static void child_fail(int ready_fd, const char *what)
{
	char c = 'F';

	fprintf(stderr, "stress_teardown child: %s: %s\n", what,
		strerror(errno));
	if (write(ready_fd, &c, 1) < 0)
		_exit(3);
	_exit(2);
}

struct child_vcpu {
	pthread_t thread;
	unsigned int id;
	int vcpu_fd;
	struct child_report *rep;
	struct st_pace *pace;
	u64 buf[CHUNK / 8];
};

/* (c): read one missing page, forever blocked. */
static void *child_blocked_main(void *arg)
{
	struct child_vcpu *v = arg;

	st_access(v->vcpu_fd, VMMU_ACCESS_READ, GPA + v->id * P, v->buf, P);
	return NULL;
}

/* (d): fault and verify until killed. */
static void *child_racer_main(void *arg)
{
	struct child_vcpu *v = arg;
	u64 rnd = 0xbb67ae8584caa73bULL * (v->id + 1);

	while (st_pace_begin(v->pace, v->id)) {
		u64 x = st_rand(&rnd);
		u64 gpa = GPA + (x % (NPAGES - CHUNK / P + 1)) * P;
		bool write = (x >> 40) % 3 == 0;
		unsigned long u0, u1;
		int r;

		if (write)
			st_fill(v->buf, SEED, gpa >> 12, 0, CHUNK);
		u0 = atomic_load(&v->rep->unmapped);
		r = st_access(v->vcpu_fd, write ? VMMU_ACCESS_WRITE :
			      VMMU_ACCESS_READ, gpa, v->buf, CHUNK);
		u1 = atomic_load(&v->rep->unmapped);
		atomic_fetch_add(&v->rep->accesses, 1);
		if (r == -EFAULT && st_window_hit(u0, u1))
			atomic_fetch_add(&v->rep->efault_ok, 1);
		else if (r != VMMU_ACCESS_DONE ||
			 (!write && st_mismatch(v->buf, SEED, gpa >> 12, 0,
						CHUNK, false) >= 0))
			atomic_fetch_add(&v->rep->bad, 1);
		st_pace_end(v->pace, v->id);
	}
	return NULL;
}

/*
 * The child: a VM with NR_VCPUS vCPU threads; writes one byte to
 * @ready_fd once they are where the parent wants them, then never returns.
 */
static noreturn void child_main(bool blocked, int ready_fd,
				struct child_report *rep)
{
	static struct child_vcpu vs[NR_VCPUS];
	struct st_pace pace;
	int sys_fd, vm_fd, uffd = -1, memfd = -1;
	unsigned int i;
	char *mem, c = 'R';

	sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (sys_fd < 0)
		child_fail(ready_fd, "open /dev/vmmu");
	vm_fd = vmmu_create_vm(sys_fd);
	if (vm_fd < 0)
		child_fail(ready_fd, "KVM_CREATE_VM");
	/* The vCPUs access memory with VMMU_VCPU_ACCESS: software ones. */
	if (mmu_set_mmu(vm_fd, &sw_cfg))
		child_fail(ready_fd, "VMMU_SET_MMU");
	if (blocked) {
		uffd = st_uffd_open(0);
		mem = mmap(NULL, NPAGES * P, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (uffd < 0 || mem == MAP_FAILED ||
		    st_uffd_register(uffd, mem, NPAGES * P,
				     UFFDIO_REGISTER_MODE_MISSING))
			child_fail(ready_fd, "userfaultfd");
	} else {
		memfd = memfd_create("vmmu-child", MFD_CLOEXEC);
		if (memfd < 0 || ftruncate(memfd, NPAGES * P))
			child_fail(ready_fd, "memfd");
		mem = mmap(NULL, NPAGES * P, PROT_READ | PROT_WRITE,
			   MAP_SHARED, memfd, 0);
		if (mem == MAP_FAILED)
			child_fail(ready_fd, "mmap memfd");
		st_fill(mem, SEED, GPA >> 12, 0, NPAGES * P);
	}
	if (vmmu_set_region(vm_fd, 0, 0, GPA, NPAGES * P, (unsigned long)mem))
		child_fail(ready_fd, "KVM_SET_USER_MEMORY_REGION");
	st_pace_init(&pace, NR_VCPUS, 1000000);
	for (i = 0; i < NR_VCPUS; i++) {
		vs[i].id = i;
		vs[i].rep = rep;
		vs[i].pace = &pace;
		vs[i].vcpu_fd = vmmu_ioctl(vm_fd, KVM_CREATE_VCPU, i);
		if (vs[i].vcpu_fd < 0 ||
		    pthread_create(&vs[i].thread, NULL,
				   blocked ? child_blocked_main :
				   child_racer_main, &vs[i]))
			child_fail(ready_fd, "vCPU thread");
	}
	if (blocked) {
		struct uffd_msg msg;

		for (i = 0; i < NR_VCPUS; i++)
			if (st_uffd_read(uffd, &msg))
				child_fail(ready_fd, "userfaultfd read");
		if (write(ready_fd, &c, 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	st_pace_wait(&pace);
	if (write(ready_fd, &c, 1) != 1)
		_exit(2);
	/* Keep the vCPUs faulting until the parent's SIGKILL. */
	for (;;) {
		st_window_open(&rep->unmapped);
		munmap(mem, NPAGES * P);
		if (mmap(mem, NPAGES * P, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, memfd, 0) == MAP_FAILED)
			_exit(2);
		st_window_close(&rep->unmapped);
		madvise(mem, NPAGES * P, MADV_DONTNEED);
	}
}

/*
 * Run one child, kill it once ready, reap it.  Returns bits: 1 ready,
 * 2 killed by SIGKILL, 4 objects back at baseline.
 */
static unsigned int run_child(bool blocked, struct child_report *rep)
{
	struct vmmu_objects now;
	unsigned int res = 0;
	int pipefd[2], status;
	pid_t pid;
	char c;

	if (pipe(pipefd))
		bail_out("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		close(pipefd[0]);
		child_main(blocked, pipefd[1], rep);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) == 1 && c == 'R')
		res |= 1;
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL)
		res |= 2;
	else
		diag("child status %#x", status);
	close(pipefd[0]);
	vmmu_objects_read_or_die(&now);
	if (vmmu_objects_equal(&now, &base))
		res |= 4;
	else
		vmmu_objects_diag("after reaping the child", &now);
	return res;
}

static void part_children(bool blocked, unsigned long iters,
			  struct child_report *rep)
{
	const char *what = blocked ? "(c)" : "(d)";
	unsigned long it, ready = 0, killed = 0, gone = 0;
	unsigned long accesses = 0, bad = 0, efault = 0;

	for (it = 0; it < iters; it++) {
		unsigned int res;

		memset(rep, 0, sizeof(*rep));
		res = run_child(blocked, rep);
		ready += !!(res & 1);
		killed += !!(res & 2);
		gone += !!(res & 4);
		accesses += atomic_load(&rep->accesses);
		bad += atomic_load(&rep->bad);
		efault += atomic_load(&rep->efault_ok);
	}
	if (blocked) {
		diag("(c) %lu children killed with %d vCPU threads blocked in GUP",
		     iters, NR_VCPUS);
		is_int(ready, iters,
		       "(c) each child's vCPU threads were blocked in GUP on userfaultfd pages");
	} else {
		diag("(d) %lu children: %lu accesses (%lu EFAULT while unmapped)",
		     iters, accesses, efault);
		ok(ready == iters && bad == 0,
		   "(d) each child's vCPUs made progress, every access right (%lu bad)",
		   bad);
	}
	is_int(killed, iters, "%s every child died of SIGKILL", what);
	is_int(gone, iters, "%s every object gone after each of %lu reaps",
	       what, iters);
}

int main(void)
{
	struct child_report *rep;
	int sys_fd;

	tap_plan(NR_TESTS);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();

	part_a(sys_fd);
	part_b(sys_fd);

	rep = mmap(NULL, P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (rep == MAP_FAILED)
		bail_out("mmap shared: %s", strerror(errno));
	part_children(true, st_scale(ITERS_C, 2, 3), rep);
	part_children(false, st_scale(ITERS_D, 2, 10), rep);

	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
