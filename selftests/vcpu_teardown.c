// SPDX-License-Identifier: GPL-2.0
/*
 * VMs with hardware vCPUs torn down while their vCPUs run guest code.
 *
 * Every round starts several vCPUs, each in its own thread, each spinning
 * in a real-mode guest that counts in guest memory; the VMM waits until
 * every counter moved, so every thread is inside KVM_RUN in the guest.
 *
 * Closed fds: the main thread closes the VM fd and every vCPU fd while the
 * vCPUs run.  The VM lives on (the running vCPUs hold it) and the guests
 * go on counting.  A signal with a handler that does nothing (no
 * SA_RESTART) then stops each thread: KVM_RUN returns -EINTR with
 * KVM_EXIT_INTR, the thread unmaps its kvm_run and ends, and with that
 * the last reference is gone: every object of the VM is freed.
 *
 * Killed: a child process runs the vCPUs and is killed with SIGKILL.
 * Exiting: a child process calls exit_group (_exit) while its vCPUs run
 * and its fds are open; the mm goes away before the files do.  After
 * either, every object is gone.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define NR_TESTS	10
#define NR_VCPUS	3
#define ROUNDS		6
#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL
#define COUNTER_GPA	0x8000ULL
#define COUNTER_STRIDE	64
#define WAIT_MS		30000

/* Count in the dword at DS:BX forever. */
GUEST_CODE(rm_count, ".code16",
	   "1:	incl (%bx)\n"
	   "	jmp 1b\n");

struct vcpu {
	pthread_t thread;
	int fd;
	struct kvm_run *run;
	size_t mmap_size;
	int result;		/* of KVM_RUN */
	u32 exit_reason;
	atomic_bool done;
};

/* A VM with NR_VCPUS vCPUs, all counting at their own counter. */
struct spinner {
	struct guest g;
	struct vcpu vcpus[NR_VCPUS];
};

static void on_signal(int sig)
{
	(void)sig;
}

/* vCPU @i's counter, which its guest increments as it runs. */
static u32 counter(struct spinner *s, int i)
{
	u32 *p = (u32 *)(s->g.mem + COUNTER_GPA + i * COUNTER_STRIDE);

	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void spinner_create(struct spinner *s, int sys_fd)
{
	struct kvm_regs regs;
	int i;

	memset(s, 0, sizeof(*s));
	guest_create(&s->g, sys_fd, MEM_SIZE);
	guest_load(&s->g, CODE_GPA, rm_count, GUEST_CODE_SIZE(rm_count));
	guest_setup_real_mode(&s->g, CODE_GPA);
	for (i = 0; i < NR_VCPUS; i++) {
		struct vcpu *v = &s->vcpus[i];

		if (i) {
			v->fd = guest_vcpu_add(&s->g, i, &v->run);
		} else {
			v->fd = s->g.vcpu_fd;
			v->run = s->g.run;
		}
		v->mmap_size = s->g.mmap_size;
		memset(&regs, 0, sizeof(regs));
		regs.rip = CODE_GPA;
		regs.rbx = COUNTER_GPA + i * COUNTER_STRIDE;
		regs.rflags = 2;
		if (vmmu_ioctl(v->fd, KVM_SET_REGS, (unsigned long)&regs))
			bail_out("KVM_SET_REGS on vCPU %d", i);
	}
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;

	v->result = vmmu_ioctl(v->fd, KVM_RUN, 0);
	v->exit_reason = v->run->exit_reason;
	munmap(v->run, v->mmap_size);
	atomic_store(&v->done, true);
	return NULL;
}

/* Start every vCPU; true once each guest counted (bounded wait). */
static bool spinner_start(struct spinner *s)
{
	int i, n;

	for (i = 0; i < NR_VCPUS; i++)
		if (pthread_create(&s->vcpus[i].thread, NULL, vcpu_main,
				   &s->vcpus[i]))
			return false;
	for (i = 0; i < NR_VCPUS; i++)
		for (n = 0; !counter(s, i); n++) {
			if (n == WAIT_MS)
				return false;
			usleep(1000);
		}
	return true;
}

/* True once @i's counter moves past @from (bounded wait). */
static bool counter_moves(struct spinner *s, int i, u32 from)
{
	int n;

	for (n = 0; n < WAIT_MS; n++) {
		if (counter(s, i) != from)
			return true;
		usleep(1000);
	}
	return false;
}

/* Signal every thread still in KVM_RUN until all are out (bounded). */
static bool spinner_interrupt(struct spinner *s)
{
	int i, n, left;

	for (n = 0; n < WAIT_MS / 10; n++) {
		left = 0;
		for (i = 0; i < NR_VCPUS; i++) {
			if (atomic_load(&s->vcpus[i].done))
				continue;
			pthread_kill(s->vcpus[i].thread, SIGUSR1);
			left++;
		}
		if (!left)
			return true;
		usleep(10000);
	}
	return false;
}

struct round_result {
	unsigned int rounds;
	unsigned int running;	/* rounds where every guest ran */
	unsigned int alive;	/* ... and the VM outlived its fds */
	unsigned int eintr;	/* vCPU threads out with -EINTR, EXIT_INTR */
	unsigned int clean;	/* rounds with every object gone after */
};

/* One round of closing every fd under running vCPUs. */
static void round_closed_fds(int sys_fd, const struct vmmu_objects *base,
			     struct round_result *res)
{
	struct vmmu_objects now;
	struct spinner s;
	bool alive = true;
	u32 from[NR_VCPUS];
	int i;

	spinner_create(&s, sys_fd);
	if (!spinner_start(&s))
		bail_out("the vCPUs of round %u did not start", res->rounds);
	res->running++;
	close(s.g.vm_fd);
	for (i = 0; i < NR_VCPUS; i++) {
		from[i] = counter(&s, i);
		close(s.vcpus[i].fd);
	}
	vmmu_objects_read_or_die(&now);
	alive = now.vms == base->vms + 1 && now.vcpus == base->vcpus + NR_VCPUS;
	for (i = 0; i < NR_VCPUS; i++)
		alive &= counter_moves(&s, i, from[i]);
	res->alive += alive;
	if (!spinner_interrupt(&s))
		bail_out("a vCPU thread of round %u is stuck in KVM_RUN",
			 res->rounds);
	for (i = 0; i < NR_VCPUS; i++) {
		struct vcpu *v = &s.vcpus[i];

		pthread_join(v->thread, NULL);
		if (v->result == -EINTR && v->exit_reason == KVM_EXIT_INTR)
			res->eintr++;
		else
			diag("  round %u vCPU %d: KVM_RUN %s, exit %u",
			     res->rounds, i, errno_name(-v->result),
			     v->exit_reason);
	}
	if (!vmmu_objects_read(&now) && vmmu_objects_equal(&now, base))
		res->clean++;
	else
		vmmu_objects_diag("  left after the round", &now);
	/* Only the guest memory is left: every fd is closed. */
	munmap(s.g.mem, s.g.mem_size);
	res->rounds++;
}

static void test_closed_fds(int sys_fd)
{
	unsigned int rounds = st_scale(ROUNDS, 2, 2), i;
	struct round_result res;
	struct vmmu_objects base;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&res, 0, sizeof(res));
	vmmu_objects_read_or_die(&base);
	for (i = 0; i < rounds; i++)
		round_closed_fds(sys_fd, &base, &res);
	diag("closed fds: %u rounds of %d vCPUs", res.rounds, NR_VCPUS);
	is_int(res.running, rounds,
	       "closed fds: every vCPU ran in the guest in every round");
	is_int(res.alive, rounds,
	       "the VM and vCPUs outlive their fds while the vCPUs run, and the guests go on");
	is_int(res.eintr, rounds * NR_VCPUS,
	       "a signal ends every KVM_RUN: -EINTR, KVM_EXIT_INTR");
	is_int(res.clean, rounds,
	       "every object is gone once the threads are out of KVM_RUN");
}

/*
 * The child: run the vCPUs, tell the parent through @wfd once all count,
 * wait for a byte or EOF on @rfd, then exit_group with everything open if
 * @exit, or else wait for SIGKILL.
 */
static noreturn void child_main(int sys_fd, int wfd, int rfd, bool exit)
{
	struct spinner s;
	char c = 1;

	spinner_create(&s, sys_fd);
	if (!spinner_start(&s))
		_exit(3);
	if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) < 0)
		_exit(4);
	if (exit)
		_exit(0);
	for (;;)
		pause();
}

struct child_result {
	unsigned int ended;	/* as expected: by SIGKILL, or status 0 */
	unsigned int alive;	/* its VM and vCPUs existed while running */
	unsigned int clean;
};

static void round_child(int sys_fd, const struct vmmu_objects *base,
			bool exit, struct child_result *res)
{
	int ready[2], go[2], status = 0;
	struct vmmu_objects now;
	bool alive = false;
	pid_t pid;
	char c = 1;

	if (pipe(ready) || pipe(go))
		bail_out("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork");
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		child_main(sys_fd, ready[1], go[0], exit);
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) == 1 && !vmmu_objects_read(&now))
		alive = now.vms == base->vms + 1 &&
			now.vcpus == base->vcpus + NR_VCPUS;
	close(ready[0]);
	if (exit) {
		if (write(go[1], &c, 1) != 1)
			diag("  cannot tell the child to exit");
	} else {
		kill(pid, SIGKILL);
	}
	close(go[1]);
	waitpid(pid, &status, 0);
	res->alive += alive;
	if (exit ? WIFEXITED(status) && !WEXITSTATUS(status) :
		   WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		res->ended++;
	else
		diag("  child status %#x", status);
	if (!vmmu_objects_read(&now) && vmmu_objects_equal(&now, base))
		res->clean++;
	else
		vmmu_objects_diag("  left after the child", &now);
}

static void test_child(int sys_fd, bool exit)
{
	const char *how = exit ? "exit_group" : "SIGKILL";
	unsigned int rounds = st_scale(ROUNDS, 2, 2), i;
	struct child_result res;
	struct vmmu_objects base;

	memset(&res, 0, sizeof(res));
	vmmu_objects_read_or_die(&base);
	for (i = 0; i < rounds; i++)
		round_child(sys_fd, &base, exit, &res);
	diag("%s: %u child processes with %d running vCPUs each", how,
	     rounds, NR_VCPUS);
	is_int(res.alive, rounds,
	       "%s: every child's VM and vCPUs existed while its guests ran",
	       how);
	is_int(res.ended, rounds, exit ?
	       "exit_group: every child exited with status 0" :
	       "SIGKILL: every child died by SIGKILL");
	is_int(res.clean, rounds, "%s: every object is gone after the child",
	       how);
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	test_closed_fds(sys_fd);
	test_child(sys_fd, false);
	test_child(sys_fd, true);
	close(sys_fd);
	return tap_finish();
}
