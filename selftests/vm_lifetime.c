// SPDX-License-Identifier: GPL-2.0
/*
 * VM lifetime: a VM lives exactly as long as one of its fds, whoever holds it
 * and however the holder goes away, and it belongs to the mm that created it.
 *
 * The module's object counters (debugfs vmmu/objects) are compared with a
 * baseline taken at the start; the VM is freed synchronously, so they must
 * be back at the baseline as soon as close() returns or the process that
 * held the last fd has been reaped.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmmu_util.h"

#define P		PAGE_SIZE
#define GUEST_PAGES	16
#define NR_LOOPS	1000
#define NR_WARMUP	32
#define NR_AT_ONCE	64
/* How much MemAvailable may drop over NR_LOOPS VMs without being a leak. */
#define MEM_SLACK_KIB	(16 * 1024)

static struct vmmu_objects baseline;
static void *guest_mem;

static u64 hva(unsigned int page)
{
	return (unsigned long)guest_mem + (u64)page * P;
}

/* One test: exactly @vms VMs more than at the baseline exist. */
static bool ok_vms(long vms, const char *what)
{
	struct vmmu_objects now;

	vmmu_objects_read_or_die(&now);
	return is_int(now.vms - baseline.vms, vms, "%s: %ld VM(s) alive", what,
		      vms);
}

/* A VM with @nr_slots one-page slots; the fd, or -errno. */
static int create_vm_with_slots(int sys_fd, unsigned int nr_slots)
{
	int vm_fd = vmmu_create_vm(sys_fd);
	unsigned int i;
	int r;

	if (vm_fd < 0)
		return vm_fd;
	for (i = 0; i < nr_slots; i++) {
		r = vmmu_set_region(vm_fd, i, 0, 0x100000 + i * P, P, hva(i));
		if (r) {
			close(vm_fd);
			return r;
		}
	}
	return vm_fd;
}

/* Children report through a pipe: an array of results. */
struct report {
	long r[12];
};

static void write_report(int fd, const struct report *rep)
{
	ssize_t n = write(fd, rep, sizeof(*rep));

	if (n != (ssize_t)sizeof(*rep))
		_exit(3);
}

static void read_report(int fd, struct report *rep)
{
	ssize_t n = read(fd, rep, sizeof(*rep));
	unsigned int i;

	if (n != (ssize_t)sizeof(*rep)) {
		diag("  child sent no report (read: %zd)", n);
		for (i = 0; i < ARRAY_SIZE(rep->r); i++)
			rep->r[i] = -ECHILD;
	}
}

static void make_pipe(int fds[2])
{
	if (pipe(fds))
		bail_out("pipe: %s", strerror(errno));
}

static pid_t fork_or_die(void)
{
	pid_t pid = fork();

	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	return pid;
}

/* Reap @pid; returns its wait status. */
static int reap(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			bail_out("waitpid %d: %s", (int)pid, strerror(errno));
	return status;
}

static void test_counters(int sys_fd)
{
	struct vmmu_objects now;
	int vm_fd = create_vm_with_slots(sys_fd, 1);

	if (vm_fd < 0)
		bail_out("cannot create a VM with a slot: %s",
			 errno_name(-vm_fd));
	vmmu_objects_read_or_die(&now);
	is_int(now.vms - baseline.vms, 1, "the vms counter counts a live VM");
	is_int(now.memslots - baseline.memslots, 1,
	       "the memslots counter counts a live slot");
	close(vm_fd);
	ok_objects(&baseline, "counters back at baseline after close");
}

/* Create, populate, read and close a VM @nr times; returns failures. */
static unsigned int create_destroy(int sys_fd, unsigned int nr)
{
	struct vmmu_memslot_list *list = vmmu_memslots_alloc(4);
	unsigned int i, failed = 0;

	for (i = 0; i < nr; i++) {
		int vm_fd = create_vm_with_slots(sys_fd, 1 + i % 4);
		int r = vm_fd < 0 ? vm_fd : 0;

		if (!r) {
			list->nr = 4;
			r = vmmu_get_memslots(vm_fd, list);
			close(vm_fd);
		}
		if (r && !failed++)
			diag("  first failure at VM %u: %s", i, errno_name(-r));
	}
	free(list);
	return failed;
}

static void test_create_destroy_loop(int sys_fd)
{
	long long mem_before, mem_after;
	unsigned int failed;
	u64 start;

	/* Let slab caches and the like reach their steady size first. */
	create_destroy(sys_fd, NR_WARMUP);
	mem_before = meminfo_available_kib();

	start = vmmu_now_ns();
	failed = create_destroy(sys_fd, NR_LOOPS);
	diag("%u VMs created and destroyed in %.1f ms", NR_LOOPS,
	     (vmmu_now_ns() - start) / 1e6);
	is_int(failed, 0, "%u VMs with 1-4 slots created and destroyed",
	       NR_LOOPS);
	ok_objects(&baseline, "counters back at baseline after %u VMs",
		   NR_LOOPS);

	mem_after = meminfo_available_kib();
	diag("MemAvailable %lld kB before, %lld kB after", mem_before,
	     mem_after);
	/*
	 * KASAN keeps freed objects in a quarantine, so MemAvailable says
	 * nothing there; such kernels have kmemleak, which the harness runs.
	 */
	if (access("/sys/kernel/debug/kmemleak", F_OK) == 0)
		skip(1, "MemAvailable: debug kernel, %s",
		     "KASAN quarantine; kmemleak checks leaks");
	else
		ok(mem_before > 0 && mem_after >= mem_before - MEM_SLACK_KIB,
		   "MemAvailable dropped by less than %d kB", MEM_SLACK_KIB);
}

static void test_many_at_once(int sys_fd)
{
	int fds[NR_AT_ONCE];
	unsigned int i;

	for (i = 0; i < NR_AT_ONCE; i++) {
		fds[i] = create_vm_with_slots(sys_fd, 2);
		if (fds[i] < 0)
			diag("  VM %u: %s", i, errno_name(-fds[i]));
	}
	ok_vms(NR_AT_ONCE, "64 VMs with 2 slots each open at once");
	for (i = 0; i < NR_AT_ONCE; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok_objects(&baseline, "counters back at baseline after closing them");
}

static void *thread_set_region(void *arg)
{
	int vm_fd = *(int *)arg;

	return (void *)(long)vmmu_set_region(vm_fd, 5, 0, 0x500000, P, hva(5));
}

/* Another thread shares the mm: its ioctls on the VM work. */
static void test_thread(int vm_fd)
{
	pthread_t thread;
	void *ret;

	if (pthread_create(&thread, NULL, thread_set_region, &vm_fd))
		bail_out("pthread_create failed");
	pthread_join(thread, &ret);
	is_errno((long)ret, 0,
		 "another thread of the creating process sets a memslot");
}

/* In a forked child: what it can and cannot do with the parent's VM. */
static void fork_child(int sys_fd, int vm_fd, int report_fd)
{
	struct vmmu_memslot_list *list = vmmu_memslots_alloc(4);
	struct report rep = { { 0 } };
	int own_vm;

	rep.r[0] = vmmu_set_region(vm_fd, 1, 0, 0x200000, P, hva(1));
	rep.r[1] = vmmu_delete_region(vm_fd, 0);
	rep.r[2] = vmmu_check_extension(vm_fd, KVM_CAP_USER_MEMORY);
	rep.r[3] = vmmu_get_memslots(vm_fd, list);
	rep.r[4] = vmmu_ioctl(vm_fd, _IO(KVMIO, 0xff), 0);
	rep.r[5] = vmmu_check_extension(sys_fd, KVM_CAP_USER_MEMORY);
	own_vm = vmmu_create_vm(sys_fd);
	rep.r[6] = own_vm;
	rep.r[7] = own_vm < 0 ? own_vm :
		vmmu_set_region(own_vm, 0, 0, 0x100000, P, hva(2));
	list->nr = 4;
	rep.r[8] = own_vm < 0 ? own_vm : vmmu_get_memslots(own_vm, list);
	if (!rep.r[8])
		rep.r[8] = list->nr;
	write_report(report_fd, &rep);
	_exit(0);
}

static void test_fork(int sys_fd)
{
	struct vmmu_memslot_list *before;
	struct report rep;
	int vm_fd, pipe_fds[2], status;
	pid_t pid;

	vm_fd = create_vm_with_slots(sys_fd, 1);
	if (vm_fd < 0)
		bail_out("cannot create a VM: %s", errno_name(-vm_fd));
	test_thread(vm_fd);
	before = vmmu_memslots_read_or_die(vm_fd);

	make_pipe(pipe_fds);
	pid = fork_or_die();
	if (!pid)
		fork_child(sys_fd, vm_fd, pipe_fds[1]);
	close(pipe_fds[1]);
	read_report(pipe_fds[0], &rep);
	close(pipe_fds[0]);
	status = reap(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		diag("  child ended with status %#x", status);

	is_errno(rep.r[0], EIO,
		 "child: KVM_SET_USER_MEMORY_REGION on the parent's VM: EIO");
	is_errno(rep.r[1], EIO,
		 "child: delete of a slot of the parent's VM: EIO");
	is_errno(rep.r[2], EIO,
		 "child: KVM_CHECK_EXTENSION on the parent's VM: EIO");
	is_errno(rep.r[3], EIO,
		 "child: VMMU_GET_MEMSLOTS on the parent's VM: EIO");
	is_errno(rep.r[4], EIO,
		 "child: unknown ioctl on the parent's VM: EIO, not ENOTTY");
	is_int(rep.r[5], 1, "child: KVM_CHECK_EXTENSION on /dev/vmmu works");
	is_errno(rep.r[6], 0, "child: KVM_CREATE_VM works");
	is_errno(rep.r[7], 0, "child: a memslot in its own VM works");
	is_int(rep.r[8], 1, "child: its own VM lists its memslot");

	ok_memslots_unchanged(vm_fd, before,
			      "parent's memslot set unchanged by the child");
	is_errno(vmmu_set_region(vm_fd, 1, 0, 0x200000, P, hva(1)), 0,
		 "parent still updates its VM after the child used it");
	ok_vms(1, "child reaped: its VM is gone, the parent's is not");
	free(before);
	close(vm_fd);
	ok_objects(&baseline, "counters back at baseline after close");
}

/*
 * The creator of a VM exits while a child it forked still holds the VM fd:
 * the VM outlives its mm's users (it only pins the mm_struct) and is freed
 * when the child goes.
 */
static void test_creator_exits(void)
{
	int to_child[2], from_child[2];
	struct report rep;
	pid_t creator, holder;
	char go = 'g';

	make_pipe(to_child);
	make_pipe(from_child);
	creator = fork_or_die();
	if (!creator) {
		int sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		int vm_fd = create_vm_with_slots(sys_fd, 2);
		pid_t pid;

		if (sys_fd < 0 || vm_fd < 0)
			_exit(1);
		pid = fork();
		if (pid < 0)
			_exit(1);
		if (!pid) {
			/* The holder: wait until the creator is gone. */
			memset(&rep, 0, sizeof(rep));
			rep.r[0] = getpid();
			write_report(from_child[1], &rep);
			if (read(to_child[0], &go, 1) != 1)
				_exit(1);
			rep.r[0] = vmmu_set_region(vm_fd, 3, 0, 0x300000, P,
						   hva(3));
			rep.r[1] = vmmu_check_extension(vm_fd,
							KVM_CAP_USER_MEMORY);
			write_report(from_child[1], &rep);
			_exit(0);
		}
		_exit(0);
	}
	close(to_child[0]);
	close(from_child[1]);
	read_report(from_child[0], &rep);
	holder = rep.r[0];
	reap(creator);

	ok_vms(1, "creator exited, a child still holds the VM fd");
	if (write(to_child[1], &go, 1) != 1)
		diag("  cannot wake the holder: %s", strerror(errno));
	read_report(from_child[0], &rep);
	is_errno(rep.r[0], EIO, "holder: KVM_SET_USER_MEMORY_REGION: EIO");
	is_errno(rep.r[1], EIO, "holder: KVM_CHECK_EXTENSION on the VM: EIO");
	if (holder > 0)
		reap(holder);
	ok_objects(&baseline, "holder reaped: counters back at baseline");
	close(to_child[1]);
	close(from_child[0]);
}

/* Close /dev/vmmu, the VM fd and a dup of it in the order @order. */
static void test_close_order(const unsigned int order[3])
{
	static const char * const names[3] = { "/dev/vmmu", "VM", "dup" };
	struct vmmu_memslot_list *list = vmmu_memslots_alloc(4);
	int fds[3];
	bool open_fd[3] = { true, true, true }, good = true;
	unsigned int i;

	fds[0] = vmmu_open();
	fds[1] = create_vm_with_slots(fds[0], 1);
	if (fds[1] < 0)
		bail_out("cannot create a VM: %s", errno_name(-fds[1]));
	fds[2] = dup(fds[1]);
	if (fds[2] < 0)
		bail_out("dup: %s", strerror(errno));

	for (i = 0; i < 3; i++) {
		struct vmmu_objects now;
		long r, want;
		int vm_fd;

		close(fds[order[i]]);
		open_fd[order[i]] = false;
		vm_fd = open_fd[1] ? fds[1] : open_fd[2] ? fds[2] : -1;
		vmmu_objects_read_or_die(&now);
		want = vm_fd >= 0 ? 1 : 0;
		if (now.vms - baseline.vms != want) {
			diag("  after closing %s: %ld VMs, expected %ld",
			     names[order[i]], now.vms - baseline.vms, want);
			good = false;
		}
		if (vm_fd < 0)
			continue;
		list->nr = 4;
		r = vmmu_get_memslots(vm_fd, list);
		if (r || list->nr != 1) {
			diag("  after closing %s: VMMU_GET_MEMSLOTS gave %s, nr %u",
			     names[order[i]], r ? errno_name(-r) : "0",
			     list->nr);
			good = false;
		}
	}
	ok(good, "close %s, %s, %s: the VM lives while a VM fd is open",
	   names[order[0]], names[order[1]], names[order[2]]);
	ok_objects(&baseline, "close %s, %s, %s: counters back at baseline",
		   names[order[0]], names[order[1]], names[order[2]]);
	free(list);
}

static void test_close_orders(void)
{
	static const unsigned int orders[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 },
		{ 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(orders); i++)
		test_close_order(orders[i]);
}

/* A child that creates VMs and memslots until it is killed. */
static void killed_child(int ready_fd, bool forever)
{
	int sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int vms[8];
	unsigned int i;
	char c = 'r';

	if (sys_fd < 0)
		_exit(1);
	for (i = 0; i < ARRAY_SIZE(vms); i++)
		vms[i] = create_vm_with_slots(sys_fd, 4);
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	for (i = 0; forever; i++) {
		unsigned int k = i % ARRAY_SIZE(vms);

		if (vms[k] >= 0)
			close(vms[k]);
		vms[k] = create_vm_with_slots(sys_fd, 1 + i % 4);
	}
	for (;;)
		pause();
}

/* Fork a killed_child(), wait until it is ready, return its pid. */
static pid_t start_killed_child(bool forever)
{
	int fds[2];
	pid_t pid;
	char c;

	make_pipe(fds);
	pid = fork_or_die();
	if (!pid)
		killed_child(fds[1], forever);
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1)
		diag("  child %d did not get ready", (int)pid);
	close(fds[0]);
	return pid;
}

static void test_kill(void)
{
	static const unsigned int delays_us[] = { 0, 1000, 5000, 20000, 50000 };
	unsigned int i;
	bool good = true;
	pid_t pid;
	int status;

	pid = start_killed_child(false);
	ok_vms(8, "child holding 8 VMs with 4 slots each");
	kill(pid, SIGKILL);
	status = reap(pid);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "child killed by SIGKILL");
	ok_objects(&baseline, "child reaped: counters back at baseline");

	for (i = 0; i < ARRAY_SIZE(delays_us); i++) {
		struct vmmu_objects now;

		pid = start_killed_child(true);
		usleep(delays_us[i]);
		kill(pid, SIGKILL);
		reap(pid);
		vmmu_objects_read_or_die(&now);
		if (memcmp(&now, &baseline, sizeof(now))) {
			diag("  killed after %u us: vms %ld memslot_sets %ld memslots %ld",
			     delays_us[i], now.vms, now.memslot_sets,
			     now.memslots);
			good = false;
		}
	}
	ok(good, "children killed while creating and closing VMs: %s",
	   "counters back at baseline each time");
}

static void test_exit_with_fds_open(void)
{
	pid_t pid = fork_or_die();

	if (!pid) {
		int sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		unsigned int i;

		if (sys_fd < 0)
			_exit(1);
		for (i = 0; i < 4; i++)
			if (create_vm_with_slots(sys_fd, 3) < 0)
				_exit(1);
		_exit(0);
	}
	reap(pid);
	ok_objects(&baseline,
		   "child exited with 4 VM fds open: counters back at baseline");
}

static void check_unload_refused(const char *what)
{
	int r = vmmu_try_unload();

	if (!is_errno(r, EWOULDBLOCK, "unload refused while %s is open", what) &&
	    !r)
		bail_out("vmmu was unloaded while %s was open", what);
}

static void test_unload_refused(void)
{
	int sys_fd = vmmu_open();
	int vm_fd;

	check_unload_refused("only /dev/vmmu");
	vm_fd = create_vm_with_slots(sys_fd, 1);
	if (vm_fd < 0)
		bail_out("cannot create a VM: %s", errno_name(-vm_fd));
	close(sys_fd);
	check_unload_refused("only a VM fd");
	close(vm_fd);

	sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ok(sys_fd >= 0, "vmmu still loaded: /dev/vmmu opens");
	if (sys_fd >= 0)
		close(sys_fd);
}

int main(void)
{
	int sys_fd;

	tap_plan(3 + 3 + 2 + 1 + 13 + 4 + 12 + 4 + 1 + 3);

	/* Reap orphaned grandchildren, see test_creator_exits(). */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* A child that died early must not take us down with a pipe write. */
	signal(SIGPIPE, SIG_IGN);
	vmmu_objects_read_or_die(&baseline);
	guest_mem = vmmu_alloc_guest_memory(GUEST_PAGES * P);
	sys_fd = vmmu_open();

	test_counters(sys_fd);
	test_create_destroy_loop(sys_fd);
	test_many_at_once(sys_fd);
	test_fork(sys_fd);
	close(sys_fd);
	test_creator_exits();
	test_close_orders();
	test_kill();
	test_exit_with_fds_open();
	test_unload_refused();

	return tap_finish();
}
