// SPDX-License-Identifier: GPL-2.0
/*
 * Two hardware vCPUs in two threads while the VMM takes memory away.
 *
 * Each vCPU runs a 64-bit guest that writes a pass-numbered pattern over
 * its own 4 MiB region, pass after pass, and asks the VMM with an IN
 * whether to stop.  Meanwhile the main thread drops random pieces of both
 * regions (MADV_DONTNEED: mmu_notifier invalidations, zaps, remote TLB
 * flushes that kick the running vCPUs) and now and then invalidates every
 * root (VMMU_ZAP_ALL: the vCPUs load a new root).  After the last of those
 * the guests make one more full pass and halt: the VMM then finds that
 * pass in every word, so the guests wrote to the pages the VMM has, never
 * to pages it dropped.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define NR_VCPUS	2
#define NR_TESTS	(1 + 3 * NR_VCPUS + 1)
#define MEM_SIZE	(32ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define REGION_GPA(i)	((8ULL + 8 * (i)) << 20)
#define REGION_SIZE	(4ULL << 20)
#define STRIDE		64
#define DROP_SIZE	(64ULL << 10)
/* 300 rounds; 60 under Bochs (guest_slow_emulator()). */
static int rounds = 300;
#define PORT_ASK	0x31

/* Pass r8 over [rdi, rsi): every STRIDE bytes, (pass << 48) | address. */
GUEST_CODE(lm_passes, ".code64",
	   "0:	inc %r8\n"
	   "	mov %rdi, %rcx\n"
	   "1:	mov %r8, %rax\n"
	   "	shl $48, %rax\n"
	   "	or %rcx, %rax\n"
	   "	mov %rax, (%rcx)\n"
	   "	add $64, %rcx\n"
	   "	cmp %rsi, %rcx\n"
	   "	jb 1b\n"
	   "	in $0x31, %al\n"
	   "	test %al, %al\n"
	   "	jz 0b\n"
	   "	hlt\n");

struct vcpu_thread {
	pthread_t thread;
	int index;
	int vcpu_fd;
	struct kvm_run *run;
	int result;		/* 0, or -errno of KVM_RUN, or -EPROTO */
	u64 passes;
	u32 bad_exit;
};

static struct guest g;
static atomic_bool stop;

static int vcpu_set_start(struct vcpu_thread *t)
{
	struct kvm_regs regs;

	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 2;
	regs.rdi = REGION_GPA(t->index);
	regs.rsi = REGION_GPA(t->index) + REGION_SIZE;
	return vmmu_ioctl(t->vcpu_fd, KVM_SET_REGS, (unsigned long)&regs);
}

/* Answer the guest's question: go on (0) or stop (1). */
static void answer(struct vcpu_thread *t, bool *last_pass)
{
	u8 *data = (u8 *)t->run + t->run->io.data_offset;

	*data = 0;
	if (!atomic_load(&stop))
		return;
	/* One full pass after the VMM's last change, then stop. */
	if (*last_pass)
		*data = 1;
	*last_pass = true;
}

static void *vcpu_main(void *arg)
{
	struct vcpu_thread *t = arg;
	bool last_pass = false;
	struct kvm_regs regs;
	int r;

	for (;;) {
		r = vmmu_ioctl(t->vcpu_fd, KVM_RUN, 0);
		if (r) {
			t->result = r;
			return NULL;
		}
		if (t->run->exit_reason == KVM_EXIT_HLT)
			break;
		if (t->run->exit_reason != KVM_EXIT_IO ||
		    t->run->io.port != PORT_ASK) {
			t->bad_exit = t->run->exit_reason;
			t->result = -EPROTO;
			return NULL;
		}
		answer(t, &last_pass);
	}
	if (!vmmu_ioctl(t->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
		t->passes = regs.r8;
	return NULL;
}

static void vcpu_setup(struct vcpu_thread *t, int index)
{
	struct kvm_sregs sregs;

	t->index = index;
	if (index == 0) {
		t->vcpu_fd = g.vcpu_fd;
		t->run = g.run;
		return;
	}
	t->vcpu_fd = vmmu_ioctl(g.vm_fd, KVM_CREATE_VCPU, index);
	if (t->vcpu_fd < 0)
		bail_out("KVM_CREATE_VCPU %d: %s", index, errno_name(-t->vcpu_fd));
	t->run = mmap(NULL, g.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      t->vcpu_fd, 0);
	if (t->run == MAP_FAILED)
		bail_out("mmap of vCPU %d", index);
	/* The same long-mode state as vCPU 0's. */
	guest_get_sregs(&g, &sregs);
	if (vmmu_ioctl(t->vcpu_fd, KVM_SET_SREGS, (unsigned long)&sregs))
		bail_out("KVM_SET_SREGS on vCPU %d", index);
}

/* Take memory away from the running guests, rounds times. */
static void disturb(void)
{
	unsigned int seed = 1;
	int i, v;

	for (i = 0; i < rounds; i++) {
		for (v = 0; v < NR_VCPUS; v++) {
			u64 off = (rand_r(&seed) % (REGION_SIZE / DROP_SIZE)) *
				  DROP_SIZE;

			madvise(g.mem + REGION_GPA(v) + off, DROP_SIZE,
				MADV_DONTNEED);
		}
		if (i % 50 == 49)
			vmmu_ioctl(g.vm_fd, VMMU_ZAP_ALL, 0);
		usleep(500);
	}
	atomic_store(&stop, true);
}

/*
 * After an unexpected exit: where the vCPU was, and how its root maps the
 * guest's code, page tables and stack next to the host's frames.
 */
static void vcpu_diag(struct vcpu_thread *t)
{
	static const u64 gpas[] = { CODE_GPA, GUEST_PT_GPA,
				    GUEST_PT_GPA + PAGE_SIZE,
				    GUEST_PT_GPA + 2 * PAGE_SIZE,
				    STACK_GPA - PAGE_SIZE };
	struct vmmu_translation tr;
	struct kvm_regs regs;
	unsigned int i;

	if (!vmmu_ioctl(t->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
		diag("  rip %#llx rcx %#llx r8 %#llx", (unsigned long long)regs.rip,
		     (unsigned long long)regs.rcx, (unsigned long long)regs.r8);
	for (i = 0; i < ARRAY_SIZE(gpas); i++) {
		if (mmu_translate(t->vcpu_fd, gpas[i], &tr))
			continue;
		diag("  gpa %#llx: level %u pfn %#llx (%s), host pfn %#llx",
		     (unsigned long long)gpas[i], tr.level,
		     (unsigned long long)tr.pfn, mmu_tr_flags_str(tr.flags),
		     (unsigned long long)mmu_pagemap_pfn(g.mem + gpas[i]));
	}
}

/* The index of the first word of region @v without pass @pass, or -1. */
static long long first_stale(int v, u64 pass)
{
	u64 a;

	for (a = REGION_GPA(v); a < REGION_GPA(v) + REGION_SIZE; a += STRIDE) {
		u64 want = pass << 48 | a;

		if (*(u64 *)(g.mem + a) != want)
			return (long long)a;
	}
	return -1;
}

int main(void)
{
	struct vcpu_thread threads[NR_VCPUS];
	struct vmmu_objects before;
	int sys_fd, v;
	long long bad;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	if (guest_hw_available(sys_fd)) {
		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
		return tap_finish();
	}
	if (guest_slow_emulator())
		rounds = 60;
	vmmu_objects_read_or_die(&before);
	memset(threads, 0, sizeof(threads));
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, lm_passes, GUEST_CODE_SIZE(lm_passes));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	for (v = 0; v < NR_VCPUS; v++) {
		vcpu_setup(&threads[v], v);
		if (vcpu_set_start(&threads[v]))
			bail_out("KVM_SET_REGS on vCPU %d", v);
	}
	for (v = 0; v < NR_VCPUS; v++)
		pthread_create(&threads[v].thread, NULL, vcpu_main, &threads[v]);
	disturb();
	for (v = 0; v < NR_VCPUS; v++)
		pthread_join(threads[v].thread, NULL);
	ok(atomic_load(&stop), "%d rounds of drops and zaps while %d vCPUs ran",
	   rounds, NR_VCPUS);

	for (v = 0; v < NR_VCPUS; v++) {
		struct vcpu_thread *t = &threads[v];

		if (!is_errno(t->result, 0, "vCPU %d ran until HLT", v)) {
			diag("  exit reason %u", t->bad_exit);
			vcpu_diag(t);
		}
		ok(t->passes >= 2, "vCPU %d made %llu passes", v,
		   (unsigned long long)t->passes);
		bad = first_stale(v, t->passes);
		if (!ok(bad < 0, "vCPU %d: the VMM sees the last pass in every word",
			v))
			diag("  gpa %#llx holds %#llx", bad,
			     (unsigned long long)*(u64 *)(g.mem + bad));
		if (v) {
			munmap(t->run, g.mmap_size);
			close(t->vcpu_fd);
		}
	}
	guest_destroy(&g);
	ok_objects(&before, "every object is gone after close");
	close(sys_fd);
	return tap_finish();
}
