// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls a VMM such as QEMU calls before its first KVM_RUN and when it
 * resets or saves a vCPU, with KVM's values and errnos, on the hardware
 * vCPU of either vendor:
 *
 * - capabilities: KVM_CAP_SET_TSS_ADDR and KVM_CAP_MP_STATE (1),
 *   KVM_CAP_IRQ_ROUTING (KVM's route limit, 4096);
 * - KVM_SET_TSS_ADDR: up to 4 GiB minus three pages, EINVAL above;
 *   KVM_SET_GSI_ROUTING: EINVAL (no in-kernel interrupt controller);
 * - KVM_GET_MSR_INDEX_LIST: E2BIG with the count written when the room is
 *   short, EFAULT, and a list every entry of which KVM_GET_MSRS reads;
 * - KVM_GET_MSRS / KVM_SET_MSRS: the number of MSRs done, stopping at the
 *   first one refused (what came before it stays done); 0 entries is 0;
 *   E2BIG from 256 entries; EFAULT; the VMM may write what the guest may
 *   not (an MCi_STATUS, kvmclock turned off) but not kvmclock on;
 * - the TSCs of a VM's vCPUs: a VMM's writes of the same value to each,
 *   even 10 ms apart, leave them equal (KVM's synchronization); a value
 *   far from it does not;
 * - KVM_SET_SREGS with an APIC base WRMSR would refuse: EINVAL;
 * - KVM_GET_FPU / KVM_SET_FPU: the guest reads the XMM register the VMM
 *   set, the VMM reads the one the guest set;
 * - KVM_SET_BOOT_CPU_ID: the BSP bit goes to the vCPU named, only before
 *   the first vCPU (EBUSY after);
 * - KVM_CAP_GET_MSR_FEATURES: KVM_GET_MSR_FEATURE_INDEX_LIST and
 *   KVM_GET_MSRS on the system fd (the microcode revision);
 * - KVM_SET_CPUID2 after the vCPU ran: the same table again is accepted, a
 *   different one is EINVAL (as in KVM); the supported table has KVM's
 *   hypervisor leaves with no paravirtual feature;
 * - KVM_CAP_MSR_PLATFORM_INFO: turned off, the guest's RDMSR of
 *   MSR_PLATFORM_INFO is #GP (a triple fault here: no IDT);
 * - KVM_CAP_VCPU_ATTRIBUTES: KVM_VCPU_TSC_CTRL / KVM_VCPU_TSC_OFFSET through
 *   KVM_HAS/GET/SET_DEVICE_ATTR (ENXIO for anything else, EFAULT), the
 *   offset the TSC MSR shows.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"

#define MEM_SIZE	(4ULL << 20)
#define CODE_GPA	0x1000ULL
#define STACK_GPA	0x9000ULL
#define NR_TESTS	62

#define MSR_TSC			0x10
#define MSR_KVM_WALL_CLOCK	0x11
#define MSR_KVM_SYSTEM_TIME	0x12
#define MSR_STAR		0xc0000081
#define MSR_PAT			0x277
#define MSR_MC0_STATUS		0x401
#define MSR_UNKNOWN		0x12345678
#define MAX_IO_MSRS		256	/* KVM's bound on one KVM_GET/SET_MSRS */
#define PAT_RESET		0x0007040600070406ULL
#define MSR_UCODE_REV		0x8b
#define MSR_APIC_BASE		0x1b
#define MSR_PLATFORM_INFO	0xce
#define APIC_BASE_BSP		BIT_ULL(8)

/* RDMSR of ECX, then HLT. */
GUEST_CODE(rdmsr_code, ".code64",
	   "	rdmsr\n"
	   "	hlt\n");

/* MOVQ XMM0 to RAX, RBX to XMM1; then HLT. */
GUEST_CODE(fpu_code, ".code64",
	   "	movq %xmm0, %rax\n"
	   "	movq %rbx, %xmm1\n"
	   "	hlt\n");

struct msrs {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[MAX_IO_MSRS];
};

static int msrs_ioctl(int vcpu_fd, unsigned long req, struct msrs *m,
		      unsigned int n)
{
	m->hdr.nmsrs = n;
	return vmmu_ioctl(vcpu_fd, req, (unsigned long)m);
}

static u64 host_tsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

/* A page no process may read: unmapped. */
static void *unmapped_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap: %m");
	munmap(p, 4096);
	return p;
}

static void test_caps(struct guest *g)
{
	is_int(vmmu_ioctl(g->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR),
	       1, "KVM_CAP_SET_TSS_ADDR: 1");
	is_int(vmmu_ioctl(g->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MP_STATE), 1,
	       "KVM_CAP_MP_STATE: 1");
	is_int(vmmu_ioctl(g->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING),
	       4096, "KVM_CAP_IRQ_ROUTING: KVM's route limit, 4096");
}

static void test_vm_ioctls(struct guest *g)
{
	struct kvm_irq_routing routing = { .nr = 0 };

	is_int(vmmu_ioctl(g->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000), 0,
	       "KVM_SET_TSS_ADDR 0xfffbd000 (QEMU's): 0");
	is_int(vmmu_ioctl(g->vm_fd, KVM_SET_TSS_ADDR, 0xffffd000), 0,
	       "KVM_SET_TSS_ADDR 4 GiB minus three pages: 0");
	is_errno(vmmu_ioctl(g->vm_fd, KVM_SET_TSS_ADDR, 0xffffd001), EINVAL,
		 "KVM_SET_TSS_ADDR above 4 GiB minus three pages");
	is_errno(vmmu_ioctl(g->vm_fd, KVM_SET_TSS_ADDR, 1ULL << 32), EINVAL,
		 "KVM_SET_TSS_ADDR at 4 GiB");
	is_errno(vmmu_ioctl(g->vm_fd, KVM_SET_GSI_ROUTING,
			    (unsigned long)&routing), EINVAL,
		 "KVM_SET_GSI_ROUTING without an in-kernel irqchip");
}

/* KVM_GET_MSR_INDEX_LIST, then KVM_GET_MSRS of every MSR in it. */
static void test_index_list(struct guest *g)
{
	struct kvm_msr_list *list, small = { .nmsrs = 0 };
	struct msrs *m = calloc(1, sizeof(*m));
	unsigned int i, n;
	bool tsc = false, pat = false;
	long r;

	r = vmmu_ioctl(g->sys_fd, KVM_GET_MSR_INDEX_LIST, (unsigned long)&small);
	n = small.nmsrs;
	ok(r == -E2BIG && n > 0 && n < MAX_IO_MSRS,
	   "KVM_GET_MSR_INDEX_LIST with no room: E2BIG, the count (%ld, %u)",
	   r, n);
	is_errno(vmmu_ioctl(g->sys_fd, KVM_GET_MSR_INDEX_LIST,
			    (unsigned long)unmapped_page()), EFAULT,
		 "KVM_GET_MSR_INDEX_LIST to an unmapped page");
	list = calloc(1, sizeof(*list) + n * sizeof(u32));
	if (!list || !m)
		bail_out("calloc");
	list->nmsrs = n;
	r = vmmu_ioctl(g->sys_fd, KVM_GET_MSR_INDEX_LIST, (unsigned long)list);
	for (i = 0; i < n; i++) {
		tsc |= list->indices[i] == MSR_TSC;
		pat |= list->indices[i] == MSR_PAT;
		m->e[i].index = list->indices[i];
	}
	ok(!r && list->nmsrs == n && tsc && pat,
	   "KVM_GET_MSR_INDEX_LIST: %u MSRs, the TSC and PAT among them", n);
	r = msrs_ioctl(g->vcpu_fd, KVM_GET_MSRS, m, n);
	if (!is_int(r, n, "KVM_GET_MSRS reads every MSR of the list"))
		diag("  stopped at %#x", r >= 0 && r < n ? m->e[r].index : 0);
	free(list);
	free(m);
}

static void test_msrs(struct guest *g)
{
	struct msrs *m = calloc(1, sizeof(*m));
	long r;

	if (!m)
		bail_out("calloc");
	is_int(msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, 0), 0,
	       "KVM_SET_MSRS of 0 MSRs: 0");
	is_errno(msrs_ioctl(g->vcpu_fd, KVM_GET_MSRS, m, MAX_IO_MSRS), E2BIG,
		 "KVM_GET_MSRS of 256 MSRs");
	is_errno(msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, MAX_IO_MSRS), E2BIG,
		 "KVM_SET_MSRS of 256 MSRs");
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_GET_MSRS,
			    (unsigned long)unmapped_page()), EFAULT,
		 "KVM_GET_MSRS from an unmapped page");

	/* STAR, then a PAT with memory type 2, then PAT: stops at the second. */
	m->e[0] = (struct kvm_msr_entry){ .index = MSR_STAR, .data = 0x1234ULL << 32 };
	m->e[1] = (struct kvm_msr_entry){ .index = MSR_PAT, .data = 0x02 };
	m->e[2] = (struct kvm_msr_entry){ .index = MSR_STAR, .data = 0 };
	r = msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, 3);
	is_int(r, 1, "KVM_SET_MSRS stops at an invalid PAT: 1 MSR set");
	memset(m->e, 0, 3 * sizeof(m->e[0]));
	m->e[0].index = MSR_STAR;
	m->e[1].index = MSR_PAT;
	m->e[2].index = MSR_UNKNOWN;
	m->e[3].index = MSR_STAR;
	m->e[3].data = 0xdead;
	r = msrs_ioctl(g->vcpu_fd, KVM_GET_MSRS, m, 4);
	ok(r == 2 && m->e[0].data == 0x1234ULL << 32 && m->e[1].data == PAT_RESET &&
	   m->e[3].data == 0xdead,
	   "KVM_GET_MSRS: STAR as set, PAT as RESET left it, stops at an unknown MSR (%ld, %#llx, %#llx)",
	   r, (unsigned long long)m->e[0].data, (unsigned long long)m->e[1].data);

	m->e[0] = (struct kvm_msr_entry){ .index = MSR_MC0_STATUS, .data = 0xb000000000000000ULL };
	m->e[1] = (struct kvm_msr_entry){ .index = MSR_KVM_SYSTEM_TIME, .data = 0x5000 };
	m->e[2] = (struct kvm_msr_entry){ .index = MSR_KVM_WALL_CLOCK, .data = 0 };
	is_int(msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, 3), 3,
	       "KVM_SET_MSRS: the VMM may set MC0_STATUS and kvmclock turned off");
	m->e[0] = (struct kvm_msr_entry){ .index = MSR_KVM_SYSTEM_TIME, .data = 0x5001 };
	is_int(msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, 1), 0,
	       "KVM_SET_MSRS of kvmclock turned on: refused (no kvmclock)");
	m->e[0] = (struct kvm_msr_entry){ .index = MSR_KVM_WALL_CLOCK, .data = 0x6000 };
	is_int(msrs_ioctl(g->vcpu_fd, KVM_SET_MSRS, m, 1), 0,
	       "KVM_SET_MSRS of a kvmclock wall clock address: refused");
	memset(m->e, 0, 2 * sizeof(m->e[0]));
	m->e[0].index = MSR_MC0_STATUS;
	m->e[1].index = MSR_KVM_SYSTEM_TIME;
	r = msrs_ioctl(g->vcpu_fd, KVM_GET_MSRS, m, 2);
	ok(r == 2 && m->e[0].data == 0xb000000000000000ULL &&
	   m->e[1].data == 0x5000,
	   "KVM_GET_MSRS reads them back (%ld, %#llx, %#llx)", r,
	   (unsigned long long)m->e[0].data, (unsigned long long)m->e[1].data);
	free(m);
}

static u64 get_tsc(int vcpu_fd)
{
	struct msrs m = { .e[0].index = MSR_TSC };

	if (msrs_ioctl(vcpu_fd, KVM_GET_MSRS, &m, 1) != 1)
		bail_out("KVM_GET_MSRS of the TSC failed");
	return m.e[0].data;
}

static int set_tsc(int vcpu_fd, u64 value)
{
	struct msrs m = { .e[0] = { .index = MSR_TSC, .data = value } };

	return msrs_ioctl(vcpu_fd, KVM_SET_MSRS, &m, 1);
}

/*
 * Two vCPUs: their TSCs start equal; the same value written to each 10 ms
 * apart leaves them equal; a value 2^40 ticks away does not.  "Equal":
 * reading vCPU 0 then vCPU 1 gives t0 <= t1, and t1 - t0 is at most the
 * host's ticks between the two reads.
 */
static void test_tsc_sync(struct guest *g)
{
	struct kvm_run *run1;
	int fd1 = guest_vcpu_add(g, 1, &run1);
	u64 h0, h1, t0, t1;
	int s0, s1;

	h0 = host_tsc();
	t0 = get_tsc(g->vcpu_fd);
	t1 = get_tsc(fd1);
	h1 = host_tsc();
	ok(t0 <= t1 && t1 - t0 <= h1 - h0,
	   "two new vCPUs have the same TSC (vCPU 1 - vCPU 0: %lld, host ticks %llu)",
	   (long long)(t1 - t0), (unsigned long long)(h1 - h0));

	s0 = set_tsc(g->vcpu_fd, 1ULL << 45);
	usleep(10000);
	s1 = set_tsc(fd1, 1ULL << 45);
	h0 = host_tsc();
	t0 = get_tsc(g->vcpu_fd);
	t1 = get_tsc(fd1);
	h1 = host_tsc();
	ok(s0 == 1 && s1 == 1 && t0 <= t1 && t1 - t0 <= h1 - h0,
	   "the same TSC written to both, 10 ms apart: equal (%lld, host ticks %llu)",
	   (long long)(t1 - t0), (unsigned long long)(h1 - h0));

	s1 = set_tsc(fd1, (1ULL << 45) + (1ULL << 40));
	t0 = get_tsc(g->vcpu_fd);
	t1 = get_tsc(fd1);
	ok(s1 == 1 && t1 - t0 > (1ULL << 39),
	   "2^40 ticks more written to vCPU 1: it is ahead (%lld)",
	   (long long)(t1 - t0));
	munmap(run1, g->mmap_size);
	close(fd1);
}

static void test_sregs_apic_base(struct guest *g)
{
	struct kvm_sregs sregs, after;

	guest_get_sregs(g, &sregs);
	sregs.apic_base = 0xfee00c00ULL;	/* x2APIC mode */
	is_errno(guest_set_sregs(g, &sregs), EINVAL,
		 "KVM_SET_SREGS with the APIC base in x2APIC mode");
	sregs.apic_base = 0xfee00801ULL;	/* reserved bit 0 */
	is_errno(guest_set_sregs(g, &sregs), EINVAL,
		 "KVM_SET_SREGS with reserved bit 0 of the APIC base");
	guest_get_sregs(g, &after);
	is_hex(after.apic_base, 0xfee00900ULL,
	       "the APIC base is unchanged: enabled, BSP");
}

static void test_fpu(struct guest *g)
{
	const u64 xmm0 = 0x0123456789abcdefULL, rbx = 0xfedcba9876543210ULL;
	struct kvm_fpu fpu;
	struct kvm_regs regs;
	int r;

	memset(&fpu, 0, sizeof(fpu));
	is_int(vmmu_ioctl(g->vcpu_fd, KVM_GET_FPU, (unsigned long)&fpu), 0,
	       "KVM_GET_FPU: 0");
	ok(fpu.fcw == 0x37f && fpu.mxcsr == 0x1f80,
	   "a new vCPU's FCW and MXCSR are RESET's (%#x, %#x)", fpu.fcw,
	   fpu.mxcsr);
	memcpy(fpu.xmm[0], &xmm0, sizeof(xmm0));
	is_int(vmmu_ioctl(g->vcpu_fd, KVM_SET_FPU, (unsigned long)&fpu), 0,
	       "KVM_SET_FPU: 0");
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_SET_FPU,
			    (unsigned long)unmapped_page()), EFAULT,
		 "KVM_SET_FPU from an unmapped page");

	guest_load(g, CODE_GPA, fpu_code, GUEST_CODE_SIZE(fpu_code));
	guest_setup_long_mode(g, CODE_GPA, STACK_GPA);
	guest_get_regs(g, &regs);
	regs.rbx = rbx;
	guest_set_regs(g, &regs);
	r = guest_run(g);
	guest_get_regs(g, &regs);
	ok(!r && g->run->exit_reason == KVM_EXIT_HLT && regs.rax == xmm0,
	   "the guest reads the XMM0 KVM_SET_FPU gave (%#llx)",
	   (unsigned long long)regs.rax);
	memset(&fpu, 0, sizeof(fpu));
	r = vmmu_ioctl(g->vcpu_fd, KVM_GET_FPU, (unsigned long)&fpu);
	ok(!r && !memcmp(fpu.xmm[1], &rbx, sizeof(rbx)),
	   "KVM_GET_FPU reads the XMM1 the guest wrote");
}

static u64 apic_base_of(int vcpu_fd)
{
	struct msrs m = { .e[0].index = MSR_APIC_BASE };

	if (msrs_ioctl(vcpu_fd, KVM_GET_MSRS, &m, 1) != 1)
		bail_out("KVM_GET_MSRS of the APIC base failed");
	return m.e[0].data;
}

static long tsc_attr(int vcpu_fd, unsigned long req, u32 group, u64 attr,
		     void *addr)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (unsigned long)addr,
	};

	return vmmu_ioctl(vcpu_fd, req, (unsigned long)&a);
}

/*
 * The TSC offset as a vCPU attribute: what KVM_GET_MSRS of the TSC shows
 * is the host's TSC plus it, before and after a KVM_SET_DEVICE_ATTR.
 */
static void test_tsc_attr(struct guest *g)
{
	u64 off = 0, set = -(1ULL << 44), h0, h1, t;
	long r;

	is_int(vmmu_ioctl(g->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_ATTRIBUTES),
	       1, "KVM_CAP_VCPU_ATTRIBUTES: 1");
	is_int(tsc_attr(g->vcpu_fd, KVM_HAS_DEVICE_ATTR, KVM_VCPU_TSC_CTRL,
			KVM_VCPU_TSC_OFFSET, NULL), 0,
	       "KVM_HAS_DEVICE_ATTR(KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET): 0");
	ok(tsc_attr(g->vcpu_fd, KVM_HAS_DEVICE_ATTR, KVM_VCPU_TSC_CTRL, 1, NULL) == -ENXIO &&
	   tsc_attr(g->vcpu_fd, KVM_GET_DEVICE_ATTR, 1, KVM_VCPU_TSC_OFFSET, &off) == -ENXIO,
	   "another attribute or group: ENXIO");
	is_errno(tsc_attr(g->vcpu_fd, KVM_GET_DEVICE_ATTR, KVM_VCPU_TSC_CTRL,
			  KVM_VCPU_TSC_OFFSET, unmapped_page()), EFAULT,
		 "KVM_GET_DEVICE_ATTR to an unmapped page");
	h0 = host_tsc();
	r = tsc_attr(g->vcpu_fd, KVM_GET_DEVICE_ATTR, KVM_VCPU_TSC_CTRL,
		     KVM_VCPU_TSC_OFFSET, &off);
	t = get_tsc(g->vcpu_fd);
	h1 = host_tsc();
	ok(!r && t - off >= h0 && t - off <= h1,
	   "KVM_GET_DEVICE_ATTR: the TSC MSR is the host's TSC plus the offset");
	r = tsc_attr(g->vcpu_fd, KVM_SET_DEVICE_ATTR, KVM_VCPU_TSC_CTRL,
		     KVM_VCPU_TSC_OFFSET, &set);
	h0 = host_tsc();
	t = get_tsc(g->vcpu_fd);
	h1 = host_tsc();
	ok(!r && t - set >= h0 && t - set <= h1,
	   "KVM_SET_DEVICE_ATTR of -2^44: the TSC MSR follows");
	r = tsc_attr(g->vcpu_fd, KVM_GET_DEVICE_ATTR, KVM_VCPU_TSC_CTRL,
		     KVM_VCPU_TSC_OFFSET, &off);
	ok(!r && off == set, "KVM_GET_DEVICE_ATTR reads it back");
}

/* A VM of its own, without memory: vCPU 1 the boot vCPU. */
static void test_boot_cpu_id(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int fd0, fd1;
	long r;

	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_BOOT_CPU_ID),
	       1, "KVM_CAP_SET_BOOT_CPU_ID: 1");
	if (guest_set_hw(vm_fd))
		bail_out("VMMU_SET_MMU failed");
	is_int(vmmu_ioctl(vm_fd, KVM_SET_BOOT_CPU_ID, 1), 0,
	       "KVM_SET_BOOT_CPU_ID 1 before any vCPU: 0");
	fd0 = vmmu_ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	fd1 = vmmu_ioctl(vm_fd, KVM_CREATE_VCPU, 1);
	if (fd0 < 0 || fd1 < 0)
		bail_out("KVM_CREATE_VCPU failed");
	ok(!(apic_base_of(fd0) & APIC_BASE_BSP) &&
	   (apic_base_of(fd1) & APIC_BASE_BSP),
	   "vCPU 1's APIC base has the BSP bit, vCPU 0's not");
	r = vmmu_ioctl(vm_fd, KVM_SET_BOOT_CPU_ID, 0);
	is_errno(r, EBUSY, "KVM_SET_BOOT_CPU_ID after the first vCPU");
	close(fd0);
	close(fd1);
	close(vm_fd);
}

static void test_feature_msrs(struct guest *g)
{
	struct kvm_msr_list *list = calloc(1, sizeof(*list) + 16 * sizeof(u32));
	struct msrs *m = calloc(1, sizeof(*m));
	unsigned int i;
	bool ucode = false;
	long r;

	if (!list || !m)
		bail_out("calloc");
	is_int(vmmu_ioctl(g->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_MSR_FEATURES),
	       1, "KVM_CAP_GET_MSR_FEATURES: 1");
	r = vmmu_ioctl(g->sys_fd, KVM_GET_MSR_FEATURE_INDEX_LIST,
		       (unsigned long)list);
	ok(r == -E2BIG && list->nmsrs >= 1,
	   "KVM_GET_MSR_FEATURE_INDEX_LIST with no room: E2BIG, the count (%u)",
	   list->nmsrs);
	list->nmsrs = 16;
	r = vmmu_ioctl(g->sys_fd, KVM_GET_MSR_FEATURE_INDEX_LIST,
		       (unsigned long)list);
	for (i = 0; !r && i < list->nmsrs; i++) {
		ucode |= list->indices[i] == MSR_UCODE_REV;
		m->e[i].index = list->indices[i];
	}
	ok(!r && ucode, "the feature MSRs: %u, the microcode revision among them",
	   list->nmsrs);
	is_int(msrs_ioctl(g->sys_fd, KVM_GET_MSRS, m, list->nmsrs), list->nmsrs,
	       "KVM_GET_MSRS on the system fd reads every feature MSR");
	m->e[0].index = MSR_STAR;
	is_int(msrs_ioctl(g->sys_fd, KVM_GET_MSRS, m, 1), 0,
	       "KVM_GET_MSRS on the system fd of a vCPU MSR: 0 read");
	is_errno(msrs_ioctl(g->sys_fd, KVM_GET_MSRS, m, MAX_IO_MSRS), E2BIG,
		 "KVM_GET_MSRS on the system fd of 256 MSRs");
	free(list);
	free(m);
}

static struct kvm_cpuid2 *get_cpuid(int fd, unsigned long req)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(c->entries[0]));

	if (!c)
		bail_out("calloc");
	c->nent = 256;
	if (vmmu_ioctl(fd, req, (unsigned long)c))
		bail_out("CPUID ioctl failed");
	return c;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *c,
						u32 fn)
{
	u32 i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn)
			return &c->entries[i];
	return NULL;
}

/* Run the guest once (the test ends with g's vCPU having run). */
static void test_cpuid_after_run(struct guest *g)
{
	struct kvm_cpuid2 *c = get_cpuid(g->sys_fd, KVM_GET_SUPPORTED_CPUID);
	const struct kvm_cpuid_entry2 *h0 = find_leaf(c, 0x40000000);
	const struct kvm_cpuid_entry2 *h1 = find_leaf(c, 0x40000001);
	struct kvm_cpuid_entry2 *e7;

	ok(h0 && h0->eax == 0x40000001 && h0->ebx == 0x4b4d564b &&
	   h0->ecx == 0x564b4d56 && h0->edx == 0x4d,
	   "supported CPUID 0x40000000: KVMKVMKVM, up to 0x40000001");
	ok(h1 && !h1->eax && !h1->ebx && !h1->ecx && !h1->edx,
	   "supported CPUID 0x40000001: no paravirtual feature");
	e7 = (struct kvm_cpuid_entry2 *)find_leaf(c, 0x7);
	if (!e7)
		bail_out("no leaf 7");
	e7->ebx ^= 1;
	is_int(vmmu_ioctl(g->vcpu_fd, KVM_SET_CPUID2, (unsigned long)c), 0,
	       "KVM_SET_CPUID2 of another table before KVM_RUN: 0");
	e7->ebx ^= 1;
	is_int(vmmu_ioctl(g->vcpu_fd, KVM_SET_CPUID2, (unsigned long)c), 0,
	       "KVM_SET_CPUID2 of the supported table before KVM_RUN: 0");
	guest_load(g, CODE_GPA, fpu_code, GUEST_CODE_SIZE(fpu_code));
	guest_setup_long_mode(g, CODE_GPA, STACK_GPA);
	guest_run_or_die(g);
	is_int(vmmu_ioctl(g->vcpu_fd, KVM_SET_CPUID2, (unsigned long)c), 0,
	       "KVM_SET_CPUID2 of the same table after KVM_RUN: 0");
	e7->ebx ^= 1;
	is_errno(vmmu_ioctl(g->vcpu_fd, KVM_SET_CPUID2, (unsigned long)c),
		 EINVAL, "KVM_SET_CPUID2 of another table after KVM_RUN");
	free(c);
}

/* A VM of its own: MSR_PLATFORM_INFO readable, then not. */
static void test_platform_info(int sys_fd)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MSR_PLATFORM_INFO };
	struct kvm_regs regs;
	struct guest g;
	int r;

	is_int(vmmu_ioctl(sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSR_PLATFORM_INFO),
	       1, "KVM_CAP_MSR_PLATFORM_INFO: 1");
	guest_create(&g, sys_fd, MEM_SIZE);
	guest_load(&g, CODE_GPA, rdmsr_code, GUEST_CODE_SIZE(rdmsr_code));
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	guest_get_regs(&g, &regs);
	regs.rcx = MSR_PLATFORM_INFO;
	guest_set_regs(&g, &regs);
	r = guest_run(&g);
	guest_get_regs(&g, &regs);
	ok(!r && g.run->exit_reason == KVM_EXIT_HLT && regs.rax == 1ULL << 31,
	   "the guest reads MSR_PLATFORM_INFO (CPUID faulting offered)");
	cap.flags = 1;
	is_errno(vmmu_ioctl(g.vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap), EINVAL,
		 "KVM_ENABLE_CAP(KVM_CAP_MSR_PLATFORM_INFO) with flags");
	cap.flags = 0;
	cap.args[0] = 0;
	is_int(vmmu_ioctl(g.vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap), 0,
	       "KVM_ENABLE_CAP(KVM_CAP_MSR_PLATFORM_INFO, 0): 0");
	guest_setup_long_mode(&g, CODE_GPA, STACK_GPA);
	guest_get_regs(&g, &regs);
	regs.rcx = MSR_PLATFORM_INFO;
	guest_set_regs(&g, &regs);
	r = guest_run(&g);
	ok(!r && g.run->exit_reason == KVM_EXIT_SHUTDOWN,
	   "turned off, the guest's RDMSR is #GP (no IDT: %s)",
	   guest_exit_name(g.run->exit_reason));
	guest_destroy(&g);
}

int main(void)
{
	struct guest g;
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = guest_open_or_skip(NR_TESTS);
	if (sys_fd < 0)
		return tap_finish();
	guest_create(&g, sys_fd, MEM_SIZE);
	diag("%s vCPU", guest_is_svm() ? "SVM" : "VMX");
	test_caps(&g);
	test_vm_ioctls(&g);
	test_index_list(&g);
	test_msrs(&g);
	test_tsc_sync(&g);
	test_sregs_apic_base(&g);
	test_fpu(&g);
	test_feature_msrs(&g);
	test_tsc_attr(&g);
	guest_destroy(&g);
	guest_create(&g, sys_fd, MEM_SIZE);
	test_cpuid_after_run(&g);
	guest_destroy(&g);
	test_boot_cpu_id(sys_fd);
	test_platform_info(sys_fd);
	close(sys_fd);
	return tap_finish();
}
