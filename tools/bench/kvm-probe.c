// SPDX-License-Identifier: GPL-2.0
/*
 * kvm-probe: which of the ioctls that upstream KVM selftests (the 6.1
 * library, demand_paging_test and dirty_log_perf_test) need does a /dev/kvm
 * provide?
 *
 * The ioctls are issued in the order the library issues them; a failure
 * does not stop the probe where later steps can still be tried, so one run
 * lists everything that is missing.  The last steps run a real 64-bit
 * guest with its own page tables, as the library's guests do: it writes
 * 0x42 and then 0x43 to port 0x1000 (the library's ucall port), and each
 * KVM_RUN must return KVM_EXIT_IO with that byte.
 *
 * The required steps are exactly what demand_paging_test needs.  What only
 * dirty_log_perf_test needs (dirty logging) is probed too, but reported as
 * "info": it does not count.
 *
 * Usage: kvm-probe [DEVICE]   (default /dev/kvm)
 * Prints one line per step ("ok", "MISSING", "unreached" or "info") and a
 * summary "missing: ..." line; exits 0 only if every required step worked.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE	(4UL << 20)
#define DIRTY_GPA	0x40000000UL
#define DIRTY_SIZE	(64UL << 10)
#define PML4_GPA	0x1000
#define PDPT_GPA	0x2000
#define PD_GPA		0x3000
#define CODE_GPA	0x10000
#define STACK_GPA	0x20000
#define UCALL_PORT	0x1000
#define MAX_CPUID	100	/* what the library allocates */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define PTE_P		0x1ULL
#define PTE_RW		0x2ULL
#define PTE_US		0x4ULL
#define PTE_PS		0x80ULL

static int n_ok, n_missing;
static char missing[2048];

static void report(bool ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("%-9s %s", ok ? "ok" : "MISSING", what);
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	if (ok) {
		n_ok++;
		return;
	}
	n_missing++;
	if (strlen(missing) + strlen(what) + 3 < sizeof(missing)) {
		if (missing[0])
			strcat(missing, ", ");
		strcat(missing, what);
	}
}

static void not_reached(const char *what, const char *because)
{
	printf("%-9s %s (%s)\n", "unreached", what, because);
}

/* A step that does not count: "info", with "ok" or the errno. */
static bool info0(int r, const char *what)
{
	printf("%-9s %s: %s\n", "info", what, r ? strerror(errno) : "ok");
	return r == 0;
}

/* ok if r == 0; otherwise MISSING with the errno. */
static bool check0(int r, const char *what)
{
	if (r == 0) {
		report(true, what, NULL);
		return true;
	}
	report(false, what, "%s", strerror(errno));
	return false;
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm)
{
	struct kvm_cpuid2 *cpuid;
	unsigned int i;

	cpuid = calloc(1, sizeof(*cpuid) +
		       MAX_CPUID * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return NULL;
	cpuid->nent = MAX_CPUID;
	if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid)) {
		report(false, "KVM_GET_SUPPORTED_CPUID", "%s", strerror(errno));
		free(cpuid);
		return NULL;
	}
	for (i = 0; i < cpuid->nent; i++) {
		if (cpuid->entries[i].function == 0x80000008) {
			report(true, "KVM_GET_SUPPORTED_CPUID",
			       "%u entries, leaf 0x80000008: %u physical, %u virtual address bits",
			       cpuid->nent, cpuid->entries[i].eax & 0xff,
			       (cpuid->entries[i].eax >> 8) & 0xff);
			return cpuid;
		}
	}
	report(false, "KVM_GET_SUPPORTED_CPUID",
	       "%u entries, no leaf 0x80000008 (the library takes the guest physical-address width from it)",
	       cpuid->nent);
	return cpuid;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
		    bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

/* A 64-bit guest at CODE_GPA: out 0x42, 0x43, ... to UCALL_PORT forever. */
static void load_guest(uint8_t *mem)
{
	static const uint8_t code[] = {
		0xba, 0x00, 0x10, 0x00, 0x00,	/* mov edx, 0x1000 */
		0xb0, 0x42,			/* mov al, 0x42 */
		0xee,				/* 1: out dx, al */
		0xfe, 0xc0,			/* inc al */
		0xeb, 0xfb,			/* jmp 1b */
	};
	uint64_t *pml4 = (uint64_t *)(mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(mem + PD_GPA);

	pml4[0] = PDPT_GPA | PTE_P | PTE_RW | PTE_US;
	pdpt[0] = PD_GPA | PTE_P | PTE_RW | PTE_US;
	pd[0] = 0 | PTE_P | PTE_RW | PTE_US | PTE_PS;
	pd[1] = (2UL << 20) | PTE_P | PTE_RW | PTE_US | PTE_PS;
	memcpy(mem + CODE_GPA, code, sizeof(code));
}

static void long_mode_sregs(struct kvm_sregs *sregs)
{
	set_seg(&sregs->cs, 0x8, 11, true);
	set_seg(&sregs->ds, 0x10, 3, false);
	sregs->es = sregs->ds;
	sregs->ss = sregs->ds;
	sregs->fs = sregs->ds;
	sregs->gs = sregs->ds;
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.selector = 0x18;
	sregs->tr.limit = 0x67;
	sregs->tr.type = 11;
	sregs->tr.present = 1;
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.unusable = 1;
	sregs->gdt.limit = 0;
	sregs->idt.limit = 0;
	sregs->cr0 = 0x80000031;	/* PG, NE, ET, PE */
	sregs->cr3 = PML4_GPA;
	sregs->cr4 = 0x220;		/* OSFXSR, PAE */
	sregs->efer = 0x500;		/* LMA, LME */
}

static void run_guest(int vcpu, struct kvm_run *run, uint8_t want)
{
	char what[64];
	uint8_t data;
	int r;

	snprintf(what, sizeof(what), "KVM_RUN -> KVM_EXIT_IO (out 0x%x)", want);
	do {
		r = ioctl(vcpu, KVM_RUN, 0);
	} while (r && errno == EINTR);
	if (r) {
		report(false, what, "KVM_RUN: %s", strerror(errno));
		return;
	}
	if (run->exit_reason != KVM_EXIT_IO) {
		report(false, what, "exit_reason %u", run->exit_reason);
		return;
	}
	data = *((uint8_t *)run + run->io.data_offset);
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != UCALL_PORT ||
	    run->io.size != 1 || run->io.count != 1 || data != want) {
		report(false, what, "direction %u port 0x%x size %u count %u data 0x%x",
		       run->io.direction, run->io.port, run->io.size,
		       run->io.count, data);
		return;
	}
	report(true, what, NULL);
}

static void probe_vcpu(int kvm, int vm, const struct kvm_cpuid2 *cpuid,
		       uint8_t *mem)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_run *run = MAP_FAILED;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	bool state_ok = true;
	int vcpu, size, r;

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		report(false, "KVM_CREATE_VCPU", "%s", strerror(errno));
		not_reached("every vCPU ioctl", "no vCPU");
		return;
	}
	report(true, "KVM_CREATE_VCPU", NULL);

	size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run)) {
		report(false, "KVM_GET_VCPU_MMAP_SIZE", "%d (%s)", size,
		       size < 0 ? strerror(errno) : "too small");
	} else {
		report(true, "KVM_GET_VCPU_MMAP_SIZE", "%d", size);
		run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   vcpu, 0);
		if (run == MAP_FAILED)
			report(false, "mmap(vCPU fd)", "%s", strerror(errno));
		else
			report(true, "mmap(vCPU fd)", NULL);
	}

	if (cpuid) {
		state_ok &= check0(ioctl(vcpu, KVM_SET_CPUID2, cpuid),
				   "KVM_SET_CPUID2");
		state_ok &= check0(ioctl(vcpu, KVM_GET_CPUID2, cpuid),
				   "KVM_GET_CPUID2");
	} else {
		/* Without the supported table: an empty one is valid too. */
		struct kvm_cpuid2 empty = { .nent = 0 };

		check0(ioctl(vcpu, KVM_SET_CPUID2, &empty),
		       "KVM_SET_CPUID2 (empty table)");
		state_ok = false;
	}

	r = ioctl(vcpu, KVM_GET_SREGS, &sregs);
	state_ok &= check0(r, "KVM_GET_SREGS");
	if (r)
		memset(&sregs, 0, sizeof(sregs));
	long_mode_sregs(&sregs);
	state_ok &= check0(ioctl(vcpu, KVM_SET_SREGS, &sregs),
			   "KVM_SET_SREGS (64-bit mode, guest paging)");

	r = ioctl(vcpu, KVM_GET_REGS, &regs);
	state_ok &= check0(r, "KVM_GET_REGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rsp = STACK_GPA;
	regs.rflags = 0x2;
	state_ok &= check0(ioctl(vcpu, KVM_SET_REGS, &regs), "KVM_SET_REGS");
	state_ok &= check0(ioctl(vcpu, KVM_SET_MP_STATE, &mp), "KVM_SET_MP_STATE");

	if (run == MAP_FAILED) {
		not_reached("KVM_RUN", "no mapped struct kvm_run");
		close(vcpu);
		return;
	}
	run->immediate_exit = 1;
	r = ioctl(vcpu, KVM_RUN, 0);
	if (r == -1 && errno == EINTR)
		report(true, "KVM_RUN with immediate_exit", "EINTR");
	else
		report(false, "KVM_RUN with immediate_exit", "%d (%s), want EINTR",
		       r, r ? strerror(errno) : "no error");
	run->immediate_exit = 0;

	if (!mem || !state_ok) {
		not_reached("KVM_RUN of a guest", "the vCPU or its memory is not set up");
	} else {
		run_guest(vcpu, run, 0x42);
		run_guest(vcpu, run, 0x43);
	}
	munmap(run, size);
	close(vcpu);
}

static void probe_dirty_log(int vm)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 1,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = DIRTY_GPA,
		.memory_size = DIRTY_SIZE,
	};
	uint64_t bitmap[(DIRTY_SIZE >> 12) / 64 + 1] = { 0 };
	struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = bitmap };
	struct kvm_clear_dirty_log clear = {
		.slot = 1, .first_page = 0, .num_pages = DIRTY_SIZE >> 12,
		.dirty_bitmap = bitmap,
	};
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	void *mem;
	int r;

	printf("-- dirty_log_perf_test (not required)\n");
	r = ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (r > 0)
		info0(ioctl(vm, KVM_ENABLE_CAP, &cap),
		      "KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)");
	else
		printf("%-9s KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 = %d: %s\n",
		       "info", r, "not offered, the test does without");

	mem = mmap(NULL, DIRTY_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return;
	}
	slot.userspace_addr = (uintptr_t)mem;
	if (!info0(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot),
		   "KVM_SET_USER_MEMORY_REGION(KVM_MEM_LOG_DIRTY_PAGES)")) {
		printf("%-9s %s\n", "info",
		       "KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG: no dirty-logged slot");
		munmap(mem, DIRTY_SIZE);
		return;
	}
	info0(ioctl(vm, KVM_GET_DIRTY_LOG, &log), "KVM_GET_DIRTY_LOG");
	if (r > 0)
		info0(ioctl(vm, KVM_CLEAR_DIRTY_LOG, &clear), "KVM_CLEAR_DIRTY_LOG");
	munmap(mem, DIRTY_SIZE);
}

static void probe_sysfs(void)
{
	static const char * const params[] = {
		"/sys/module/kvm_amd/parameters/npt",
		"/sys/module/kvm_intel/parameters/ept",
		"/sys/module/kvm_intel/parameters/unrestricted_guest",
	};
	unsigned int i;

	printf("-- /sys/module parameters the 6.1 library reads %s\n",
	       "(not for these two tests: kvm_is_tdp_enabled(), vm_is_unrestricted_guest())");
	for (i = 0; i < ARRAY_SIZE(params); i++)
		printf("%-9s %s\n", access(params[i], R_OK) ? "absent" : "present",
		       params[i]);
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
	struct kvm_userspace_memory_region slot0 = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
	};
	struct kvm_cpuid2 *cpuid;
	uint8_t *mem;
	int kvm, vm, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kvm-probe: %s\n-- demand_paging_test\n", dev);
	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		report(false, "open", "%s: %s", dev, strerror(errno));
		goto out;
	}
	r = ioctl(kvm, KVM_GET_API_VERSION, 0);
	report(r == KVM_API_VERSION, "KVM_GET_API_VERSION", "%d", r);
	r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	report(r > 0, "KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS)", "%d", r);
	r = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT);
	report(r > 0, "KVM_CHECK_EXTENSION(KVM_CAP_IMMEDIATE_EXIT)",
	       r > 0 ? "%d" : "%d: the library SKIPs every test without it", r);
	cpuid = get_supported_cpuid(kvm);

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		report(false, "KVM_CREATE_VM", "%s", strerror(errno));
		not_reached("every VM and vCPU ioctl", "no VM");
		goto out;
	}
	report(true, "KVM_CREATE_VM", NULL);

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	load_guest(mem);
	slot0.userspace_addr = (uintptr_t)mem;
	if (!check0(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot0),
		    "KVM_SET_USER_MEMORY_REGION"))
		mem = NULL;
	check0(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
	probe_vcpu(kvm, vm, cpuid, mem);
	probe_dirty_log(vm);
	close(vm);
	close(kvm);
out:
	probe_sysfs();
	printf("kvm-probe: %d ok, %d missing%s%s\n", n_ok, n_missing,
	       n_missing ? "; missing: " : "", missing);
	return n_missing ? 1 : 0;
}
