// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging against a write fault that is in flight, made
 * deterministic with userfaultfd.
 *
 * Every round, in a new VM with one software vCPU and slot 0 of two pages
 * at GPA0 whose page 0 is userfaultfd-registered (missing):
 *
 *  0. the vCPU writes page 1, which maps it writable;
 *  1. the vCPU writes a word of page 0 and blocks in GUP, inside vmmu's
 *     fault handler, after it looked up its memslot; the handler (this
 *     thread) reads the fault message and serves nothing yet;
 *  2. thread B does the round's operation on slot 0:
 *       enable   logging turned on (it was off);
 *       harvest  GET_DIRTY_LOG (logging on), with manual protection also
 *                CLEAR of what it got;
 *       toggle   logging turned off, then on again;
 *       delete   the logged slot deleted;
 *       move     the logged slot moved to GPA_MOVED;
 *     and the test waits until B returns or WAIT_MS have passed (B may
 *     wait for the vCPU's fault, which holds vm->srcu);
 *  3. the fault is served; the vCPU's write completes (or, for a delete or
 *     move, ends as MMIO) and B returns.
 *
 * What must hold (KVM's semantics; the fault's slot may be stale by the
 * time it installs its SPTE): the log (B's harvest and the next one) is
 *  - enable: page 0 at most (page 1 was written before logging), and page
 *    0 if the enable returned before the write landed;
 *  - harvest: pages 0 and 1 (page 1 in B's harvest);
 *  - toggle: as enable (turning logging off drops the log);
 *  - move: page 1, and page 0 if the write landed (a move keeps the log);
 * and then
 *  - a harvest write-protects both pages again: new writes to both are
 *    logged, whatever the in-flight fault installed and whatever page 1's
 *    leaf was before logging was turned on;
 *  - a deleted slot has no log (ENOENT) and a slot created in its place
 *    starts with an empty one; a moved slot keeps its log, its old gpa is
 *    MMIO and its new one logs writes;
 *  - no object is left behind.
 *
 * A writable SPTE left in place by the enable (page 1's, or one the
 * in-flight fault installed from the slot it looked up before logging was
 * turned on, after the enable's write-protect walk) fails the "new writes
 * are logged" check: the software vCPU writes through its TLB and the SPTE
 * without faulting, so nothing is logged.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmu_util.h"
#include "stress_util.h"

#define P		PAGE_SIZE
#define GPA0		0x100000ULL
#define GPA_MOVED	0x300000ULL
#define NPAGES		2
#define SLOT		0

/* How long B may take before the test serves the fault anyway. */
#define WAIT_MS		300
/* Bound on the userfaultfd message and on everything after the serve. */
#define LIMIT_MS	10000

enum window_op { OP_ENABLE, OP_HARVEST, OP_TOGGLE, OP_DELETE, OP_MOVE, NR_OPS };

static const char *const op_name[NR_OPS] = {
	"enable", "harvest", "toggle", "delete", "move",
};

struct job {
	pthread_t thread;
	int vm_fd, vcpu_fd;
	enum window_op op;
	bool manual;
	u64 word;
	u64 bm;		/* what B's harvest got */
	int r;
	atomic_int started, finished;
};

struct counts {
	unsigned int rounds, op_first, landed;
	unsigned int failed;	/* rounds with a diagnostic */
};

static int set_region(int vm_fd, u32 flags, u64 gpa, u64 size, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = SLOT, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (u64)hva,
	};

	return (int)vmmu_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION,
			       (unsigned long)&r);
}

static int get_log(int vm_fd, u64 *bm)
{
	struct kvm_dirty_log log = { .slot = SLOT, .dirty_bitmap = bm };

	*bm = 0;
	return (int)vmmu_ioctl(vm_fd, KVM_GET_DIRTY_LOG, (unsigned long)&log);
}

static int clear_log(int vm_fd, u64 bm)
{
	struct kvm_clear_dirty_log log = {
		.slot = SLOT, .first_page = 0, .num_pages = NPAGES,
		.dirty_bitmap = &bm,
	};

	return (int)vmmu_ioctl(vm_fd, KVM_CLEAR_DIRTY_LOG, (unsigned long)&log);
}

/* GET (and with manual protection CLEAR what it got); -errno on failure. */
static int harvest(int vm_fd, bool manual, u64 *bm)
{
	int r = get_log(vm_fd, bm);

	if (!r && manual && *bm)
		r = clear_log(vm_fd, *bm);
	return r;
}

static void *vcpu_main(void *arg)
{
	struct job *j = arg;

	atomic_store(&j->started, 1);
	j->r = st_access(j->vcpu_fd, VMMU_ACCESS_WRITE, GPA0, &j->word, 8);
	atomic_store(&j->finished, 1);
	return NULL;
}

static void *op_main(void *arg)
{
	struct job *j = arg;
	void *hva = (void *)(unsigned long)j->word;
	u32 log = KVM_MEM_LOG_DIRTY_PAGES;

	atomic_store(&j->started, 1);
	switch (j->op) {
	case OP_ENABLE:
		j->r = set_region(j->vm_fd, log, GPA0, NPAGES * P, hva);
		break;
	case OP_HARVEST:
		j->r = harvest(j->vm_fd, j->manual, &j->bm);
		break;
	case OP_TOGGLE:
		j->r = set_region(j->vm_fd, 0, GPA0, NPAGES * P, hva);
		if (!j->r)
			j->r = set_region(j->vm_fd, log, GPA0, NPAGES * P, hva);
		break;
	case OP_DELETE:
		j->r = set_region(j->vm_fd, log, GPA0, 0, hva);
		break;
	case OP_MOVE:
		j->r = set_region(j->vm_fd, log, GPA_MOVED, NPAGES * P, hva);
		break;
	default:
		j->r = -1;
	}
	atomic_store(&j->finished, 1);
	return NULL;
}

static void job_start(struct job *j, void *(*fn)(void *))
{
	if (pthread_create(&j->thread, NULL, fn, j))
		bail_out("pthread_create failed");
	while (!atomic_load(&j->started))
		usleep(100);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static bool wait_finished(struct job *j, unsigned int ms)
{
	while (!atomic_load(&j->finished) && ms--)
		sleep_ms(1);
	return atomic_load(&j->finished);
}

static void join_or_die(struct job *j, const char *what, unsigned int round)
{
	if (!wait_finished(j, LIMIT_MS))
		bail_out("round %u: %s still blocked after %u ms", round, what,
			 LIMIT_MS);
	pthread_join(j->thread, NULL);
}

#define round_fail(c, round, op, fmt, ...) do {				\
	diag("round %u (%s): " fmt, (round), op_name[op], ##__VA_ARGS__); \
	(c)->failed++;							\
} while (0)

/* Writes by the vCPU to both pages at @gpa must be in the next harvest. */
static void check_new_write(struct counts *c, int vm_fd, int vcpu_fd,
			    bool manual, u64 gpa, unsigned int round,
			    enum window_op op)
{
	u64 word = st_pattern(0x77, round, 1), bm;
	int r, i;

	r = harvest(vm_fd, manual, &bm);
	if (r) {
		round_fail(c, round, op, "harvest before the new write: %s",
			   errno_name(-r));
		return;
	}
	for (i = 0; i < NPAGES; i++) {
		r = st_access(vcpu_fd, VMMU_ACCESS_WRITE, gpa + i * P, &word, 8);
		if (r != VMMU_ACCESS_DONE) {
			round_fail(c, round, op, "the new write to page %d: %s",
				   i, mmu_result_name(r));
			return;
		}
	}
	r = harvest(vm_fd, manual, &bm);
	if (r || bm != 3)
		round_fail(c, round, op,
			   "the new writes to pages 0 and 1: harvest %s, log %#llx (want 0x3)",
			   errno_name(-r), (unsigned long long)bm);
}

static void one_round(int sys_fd, struct counts *c, enum window_op op, bool manual)
{
	static u64 page[P / 8];
	unsigned int round = c->rounds;
	struct job jv = { 0 }, jb = { 0 };
	bool op_first, landed, done, logged_from_start;
	u64 word = st_pattern(0x5e, round, 0), bm = 0;
	struct uffd_msg msg;
	struct pollfd pfd;
	int vm_fd, vcpu_fd, uffd, r;
	u8 *mem;

	mem = mmu_map_anon(NPAGES * P, NULL);
	uffd = st_uffd_open(0);
	if (uffd < 0)
		bail_out("userfaultfd: %s", errno_name(-uffd));
	if (st_uffd_register(uffd, mem, P, UFFDIO_REGISTER_MODE_MISSING))
		bail_out("UFFDIO_REGISTER failed");
	vm_fd = st_vm_create(sys_fd, VMMU_MMU_FORMAT_NPT, 0, NULL);
	if (manual) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE },
		};

		r = (int)vmmu_ioctl(vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
		if (r)
			bail_out("KVM_ENABLE_CAP(MANUAL_DIRTY_LOG_PROTECT2): %s",
				 errno_name(-r));
	}
	logged_from_start = op != OP_ENABLE;
	r = set_region(vm_fd, logged_from_start ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		       GPA0, NPAGES * P, mem);
	if (r)
		bail_out("slot 0: %s", errno_name(-r));
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	/* 0. Page 1 mapped writable (and logged if logging is on). */
	r = st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA0 + P, &word, 8);
	if (r != VMMU_ACCESS_DONE)
		bail_out("round %u: the write to page 1: %s", round,
			 mmu_result_name(r));

	/* 1. The vCPU's write blocks in userfaultfd. */
	jv.vcpu_fd = vcpu_fd;
	jv.word = word;
	job_start(&jv, vcpu_main);
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	if (poll(&pfd, 1, LIMIT_MS) != 1 || st_uffd_read(uffd, &msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		bail_out("round %u: no userfaultfd message for the vCPU",
			 round);

	/* 2. B's operation. */
	jb.vm_fd = vm_fd;
	jb.op = op;
	jb.manual = manual;
	jb.word = (u64)(unsigned long)mem;
	job_start(&jb, op_main);
	op_first = wait_finished(&jb, WAIT_MS);
	if (op_first)
		c->op_first++;
	if (atomic_load(&jv.finished))
		round_fail(c, round, op, "the vCPU's write ended before its page was served: %s",
			   mmu_result_name(jv.r));

	/* 3. Serve the fault. */
	memset(page, 0, sizeof(page));
	if (st_uffd_copy(uffd, mem, page, P))
		bail_out("UFFDIO_COPY failed");
	join_or_die(&jv, "the vCPU's write", round);
	join_or_die(&jb, op_name[op], round);
	if (jb.r)
		round_fail(c, round, op, "B's operation: %s", errno_name(-jb.r));
	landed = *(u64 *)mem == word;
	if (landed)
		c->landed++;
	done = jv.r == VMMU_ACCESS_DONE;
	if (landed != done)
		round_fail(c, round, op, "the vCPU's write ended %s but %s in memory",
			   mmu_result_name(jv.r), landed ? "is" : "is not");

	switch (op) {
	case OP_ENABLE:
	case OP_HARVEST:
	case OP_TOGGLE:
		if (!landed) {
			round_fail(c, round, op, "the write to a present slot did not land");
			break;
		}
		r = get_log(vm_fd, &bm);
		if (r) {
			round_fail(c, round, op, "GET after the write: %s", errno_name(-r));
			break;
		}
		/*
		 * B's own harvest may have taken page 0's bit (if the write
		 * landed before it); otherwise it is in this one.  After an
		 * enable or a toggle that returned first the write was made
		 * with logging on; if B waited for the write, logging it is
		 * allowed, not required.  Page 1 was written before logging
		 * was turned on (enable, toggle) or before B's harvest.
		 */
		if (op == OP_HARVEST ? (bm | jb.bm) != 3 || !(jb.bm & 2) :
		    (bm | jb.bm) & ~1ULL || (op_first && !(bm & 1)))
			round_fail(c, round, op, "B's log %#llx, the next %#llx; B %s the write",
				   (unsigned long long)jb.bm, (unsigned long long)bm,
				   op_first ? "first" : "after");
		if (manual && bm)
			clear_log(vm_fd, bm);
		check_new_write(c, vm_fd, vcpu_fd, manual, GPA0, round, op);
		break;
	case OP_DELETE:
		r = get_log(vm_fd, &bm);
		if (r != -ENOENT)
			round_fail(c, round, op, "GET on the deleted slot: %s, want ENOENT",
				   errno_name(-r));
		r = st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA0, &word, 8);
		if (r != VMMU_ACCESS_MMIO)
			round_fail(c, round, op, "a write to the deleted slot's gpa: %s, want MMIO",
				   mmu_result_name(r));
		/* A new slot in its place: it starts with an empty log. */
		r = set_region(vm_fd, KVM_MEM_LOG_DIRTY_PAGES, GPA0, NPAGES * P,
			       mem);
		if (r) {
			round_fail(c, round, op, "slot 0 again: %s", errno_name(-r));
			break;
		}
		r = get_log(vm_fd, &bm);
		if (r || bm)
			round_fail(c, round, op, "the new slot's first log: %s %#llx, want empty",
				   errno_name(-r), (unsigned long long)bm);
		check_new_write(c, vm_fd, vcpu_fd, manual, GPA0, round, op);
		break;
	case OP_MOVE:
		r = get_log(vm_fd, &bm);
		if (r)
			round_fail(c, round, op, "GET on the moved slot: %s", errno_name(-r));
		else if (bm != (landed ? 3ULL : 2ULL))
			round_fail(c, round, op, "the moved slot's log %#llx, the write %s",
				   (unsigned long long)bm,
				   landed ? "landed" : "did not land");
		if (manual && bm)
			clear_log(vm_fd, bm);
		r = st_access(vcpu_fd, VMMU_ACCESS_WRITE, GPA0, &word, 8);
		if (r != VMMU_ACCESS_MMIO)
			round_fail(c, round, op, "a write to the old gpa: %s, want MMIO",
				   mmu_result_name(r));
		check_new_write(c, vm_fd, vcpu_fd, manual, GPA_MOVED, round, op);
		break;
	default:
		break;
	}

	close(vcpu_fd);
	close(vm_fd);
	close(uffd);
	munmap(mem, NPAGES * P);
	c->rounds++;
}

int main(void)
{
	unsigned int nr_rounds = st_scale(4, 2, 2);
	struct vmmu_objects base;
	struct counts per[NR_OPS][2] = { 0 };
	unsigned int i, m;
	int op, sys_fd;

	tap_plan(NR_OPS * 2 + 1);
	vmmu_objects_read_or_die(&base);
	sys_fd = vmmu_open();
	for (op = 0; op < NR_OPS; op++) {
		for (m = 0; m < 2; m++) {
			struct counts *c = &per[op][m];

			for (i = 0; i < nr_rounds; i++)
				one_round(sys_fd, c, op, m);
			diag("%s%s: %u rounds, B first in %u, the write landed in %u",
			     op_name[op], m ? " (manual protect)" : "",
			     c->rounds, c->op_first, c->landed);
			is_int(c->failed, 0, "%s%s against a write fault in flight: KVM's logs",
			       op_name[op], m ? " with manual protection" : "");
		}
	}
	close(sys_fd);
	ok_objects(&base, "objects back at baseline");
	return tap_finish();
}
