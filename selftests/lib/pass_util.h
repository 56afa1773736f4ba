/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hardware vCPUs in threads whose guests make pass after pass over guest
 * memory, for stress tests that change the host's view of that memory
 * meanwhile.
 *
 * The guest asks with an IN of one byte from PASS_PORT_ASK after each pass
 * whether to go on (0) or halt.  The vCPU thread calls the test's
 * on_pass() there, counts the pass, and answers 0 until pass_stop() was
 * called and the guest made one full pass after it; then the guest halts.
 * Other exits and KVM_RUN errors go to the test's callbacks; without one,
 * or when it returns false, the thread stops with an error.
 *
 *	v->on_pass = check_my_pass;
 *	pass_vcpu_start(&g, v, 0, &regs);
 *	... change the host mapping, pass_wait(vcpus, nr, 2) ...
 *	pass_stop();
 *	pass_join(vcpus, nr);
 */
#ifndef VMMU_SELFTESTS_PASS_UTIL_H
#define VMMU_SELFTESTS_PASS_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "guest_util.h"

#define PASS_PORT_ASK	0x31
#define PASS_MAX_VCPUS	8

/*
 * The end of a guest's page loop (label 1, page in rcx, end in rsi) and of
 * its pass loop (label 0): next page, else ask, go on or halt.
 */
#define PASS_GUEST_NEXT_PAGE				\
	"	add $4096, %rcx\n"				\
	"	cmp %rsi, %rcx\n"				\
	"	jb 1b\n"					\
	"	in $0x31, %al\n"				\
	"	test %al, %al\n"				\
	"	jz 0b\n"					\
	"	hlt\n"

/**
 * struct pass_vcpu - one vCPU and its thread
 * @thread: the thread
 * @index: vCPU id; vCPU 0 is the guest's own
 * @vcpu_fd: the vCPU
 * @run: its kvm_run
 * @result: 0 while running or after a clean halt; -errno of KVM_RUN or
 *	-EPROTO once stopped by an error
 * @passes: passes completed (on_pass() returned true)
 * @halted: the thread has ended (HLT or an error)
 * @why: the error, in words
 * @on_pass: pass @pass ended; false stops the thread
 * @on_exit: any exit other than HLT and the ask; false (or NULL) stops it
 * @on_error: KVM_RUN failed with @r; true runs again, false (or NULL)
 *	stops the thread
 * @before_run: called before every KVM_RUN, if set
 */
struct pass_vcpu {
	pthread_t thread;
	int index;
	int vcpu_fd;
	struct kvm_run *run;
	atomic_int result;
	atomic_ulong passes;
	atomic_bool halted;
	char why[400];
	bool (*on_pass)(struct pass_vcpu *v, u64 pass);
	bool (*on_exit)(struct pass_vcpu *v);
	bool (*on_error)(struct pass_vcpu *v, int r);
	void (*before_run)(struct pass_vcpu *v);
};

/*
 * tap_plan(@nr_tests), open /dev/vmmu and find the kind of hardware vCPU
 * (guest_hw_available()): the fd, or -1 after skipping every test because
 * there is none here.
 */
int pass_open(unsigned int nr_tests);

/*
 * vCPU @index of @g (0: g's own vCPU, else a new one in vCPU 0's segment
 * state) with registers @regs, and its thread.  The callbacks must be set.
 * Bails out on failure.
 */
void pass_vcpu_start(struct guest *g, struct pass_vcpu *v, int index,
		     const struct kvm_regs *regs);
/* Registers for a pass guest: RIP, RSP, RFLAGS 2, RDI and RSI; others 0. */
void pass_regs_init(struct kvm_regs *regs, u64 rip, u64 rsp, u64 rdi,
		    u64 rsi);
/*
 * Wait until each of @nr vCPUs made @n more passes or ended.  Waiters
 * sleep: vCPU threads never do, and spinning waiters would starve them.
 */
void pass_wait(struct pass_vcpu *v, int nr, unsigned long n);
/*
 * Sleep until @done(@arg) is true; it is evaluated again after every
 * pass_wake().  vCPU threads wake waiters after each pass and when they end;
 * call pass_wake() after any other change a waiter waits for.
 */
void pass_wait_for(bool (*done)(void *arg), void *arg);
void pass_wake(void);
/* Let the guests halt after one more full pass. */
void pass_stop(void);
/* Join the @nr threads; then pass_vcpu_start() may start a new set. */
void pass_join(struct pass_vcpu *v, int nr);
/* Close the vCPUs pass_vcpu_start() created (not vCPU 0). */
void pass_vcpu_close(struct guest *g, struct pass_vcpu *v, int nr);

#endif /* VMMU_SELFTESTS_PASS_UTIL_H */
