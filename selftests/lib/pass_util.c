// SPDX-License-Identifier: GPL-2.0
/*
 * Hardware vCPUs in threads whose guests make passes over guest memory;
 * see pass_util.h.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pass_util.h"
#include "stress_util.h"

static atomic_bool pass_stopping;
/* Waiters sleep here rather than spin: vCPU threads need the CPUs. */
static pthread_mutex_t pass_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pass_cond = PTHREAD_COND_INITIALIZER;

void pass_wake(void)
{
	pthread_mutex_lock(&pass_lock);
	pthread_cond_broadcast(&pass_cond);
	pthread_mutex_unlock(&pass_lock);
}

void pass_wait_for(bool (*done)(void *arg), void *arg)
{
	pthread_mutex_lock(&pass_lock);
	while (!done(arg))
		pthread_cond_wait(&pass_cond, &pass_lock);
	pthread_mutex_unlock(&pass_lock);
}

/* The guest asks whether to go on: check the pass, then answer. */
static bool pass_answer(struct pass_vcpu *v, bool *last_pass)
{
	u8 *data = (u8 *)v->run + v->run->io.data_offset;
	bool stopping;

	if (!v->on_pass(v, atomic_load(&v->passes) + 1))
		return false;
	atomic_fetch_add(&v->passes, 1);
	pass_wake();
	/* One full pass after pass_stop(), then halt. */
	stopping = atomic_load(&pass_stopping);
	*data = stopping && *last_pass;
	*last_pass = stopping;
	return true;
}

/* The exit the thread stopped at, its registers and, if any, its data. */
static void pass_describe(struct pass_vcpu *v)
{
	struct kvm_regs regs;
	char detail[300] = "";

	if (v->why[0])
		return;
	memset(&regs, 0, sizeof(regs));
	vmmu_ioctl(v->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs);
	if (v->run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		guest_internal_error_str(v->run, detail, sizeof(detail));
	snprintf(v->why, sizeof(v->why),
		 "exit %s, rip %#llx, rcx %#llx, rax %#llx%s%s",
		 guest_exit_name(v->run->exit_reason),
		 (unsigned long long)regs.rip, (unsigned long long)regs.rcx,
		 (unsigned long long)regs.rax, detail[0] ? "; " : "", detail);
}

static void *pass_vcpu_main(void *arg)
{
	struct pass_vcpu *v = arg;
	bool last_pass = false;
	int r;

	/*
	 * One CPU per vCPU: left to themselves, two vCPU threads that never
	 * sleep can share a CPU for long and one of them barely advances.
	 */
	st_pin_cpu(v->index % sysconf(_SC_NPROCESSORS_ONLN));
	for (;;) {
		if (v->before_run)
			v->before_run(v);
		r = vmmu_ioctl(v->vcpu_fd, KVM_RUN, 0);
		if (r && v->on_error && v->on_error(v, r))
			continue;
		if (r) {
			if (!v->why[0])
				snprintf(v->why, sizeof(v->why), "KVM_RUN: %s",
					 errno_name(-r));
			v->result = r;
			break;
		}
		if (v->run->exit_reason == KVM_EXIT_HLT)
			break;
		if (v->run->exit_reason == KVM_EXIT_IO &&
		    v->run->io.direction == KVM_EXIT_IO_IN &&
		    v->run->io.port == PASS_PORT_ASK) {
			if (!pass_answer(v, &last_pass))
				break;
		} else if (!v->on_exit || !v->on_exit(v)) {
			pass_describe(v);
			v->result = -EPROTO;
			break;
		}
	}
	v->halted = true;
	pass_wake();
	return NULL;
}

int pass_open(unsigned int nr_tests)
{
	int sys_fd;

	tap_plan(nr_tests);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(nr_tests, "no hardware vCPUs here (%s)", guest_hw_why());
		close(sys_fd);
		return -1;
	}
	return sys_fd;
}

void pass_vcpu_start(struct guest *g, struct pass_vcpu *v, int index,
		     const struct kvm_regs *regs)
{
	int r;

	v->index = index;
	if (index) {
		v->vcpu_fd = guest_vcpu_add(g, index, &v->run);
	} else {
		v->vcpu_fd = g->vcpu_fd;
		v->run = g->run;
	}
	r = vmmu_ioctl(v->vcpu_fd, KVM_SET_REGS, (unsigned long)regs);
	if (r)
		bail_out("KVM_SET_REGS on vCPU %d: %s", index, errno_name(-r));
	if (pthread_create(&v->thread, NULL, pass_vcpu_main, v))
		bail_out("pthread_create for vCPU %d", index);
}

void pass_regs_init(struct kvm_regs *regs, u64 rip, u64 rsp, u64 rdi,
		    u64 rsi)
{
	memset(regs, 0, sizeof(*regs));
	regs->rip = rip;
	regs->rsp = rsp;
	regs->rflags = 2;
	regs->rdi = rdi;
	regs->rsi = rsi;
}

struct pass_target {
	struct pass_vcpu *v;
	int nr;
	unsigned long since[PASS_MAX_VCPUS];
	unsigned long n;
};

static bool pass_reached(void *arg)
{
	struct pass_target *t = arg;
	int i;

	for (i = 0; i < t->nr; i++)
		if (!atomic_load(&t->v[i].halted) &&
		    atomic_load(&t->v[i].passes) < t->since[i] + t->n)
			return false;
	return true;
}

void pass_wait(struct pass_vcpu *v, int nr, unsigned long n)
{
	struct pass_target t = { .v = v, .nr = nr, .n = n };
	int i;

	if (nr > PASS_MAX_VCPUS)
		bail_out("%s: %d vCPUs", __func__, nr);
	for (i = 0; i < nr; i++)
		t.since[i] = atomic_load(&v[i].passes);
	pass_wait_for(pass_reached, &t);
}

void pass_stop(void)
{
	atomic_store(&pass_stopping, true);
}

void pass_join(struct pass_vcpu *v, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		pthread_join(v[i].thread, NULL);
	/* The threads are gone: a new set may start. */
	atomic_store(&pass_stopping, false);
}

void pass_vcpu_close(struct guest *g, struct pass_vcpu *v, int nr)
{
	int i;

	for (i = 0; i < nr; i++) {
		if (!v[i].index)
			continue;
		munmap(v[i].run, g->mmap_size);
		close(v[i].vcpu_fd);
	}
}
