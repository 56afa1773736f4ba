// SPDX-License-Identifier: GPL-2.0
/*
 * MMU configuration and the argument checks of the vCPU ioctls.
 *
 * VMMU_GET_MMU reports the defaults (VMX vCPUs with 4-level EPT where the
 * machine has VMX vCPUs, SVM vCPUs with NPT of the host's paging depth
 * where it has SVM ones, else software vCPUs with that NPT), VMMU_SET_MMU
 * rejects bad requests and is refused once a
 * memslot or a vCPU exists; KVM_CREATE_VCPU follows KVM's limits and
 * errnos; VMMU_VCPU_ACCESS and VMMU_VCPU_TRANSLATE check their arguments.
 * gpa_bits is what the root maps, at most the host's MAXPHYADDR: accesses,
 * translations, pre-faults and memslots end there, and a slot on the last
 * page below it is no alias of gpa 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mmu_util.h"

#define P		PAGE_SIZE
#define SLOT_GPA	0x100000ULL
#define SLOT_PAGES	4
#define NR_TESTS	(84 + 7 * MMU_NR_CFGS)

static struct vmmu_objects baseline;
/* The vCPU kind of a VM that chose none, and its format and levels. */
static u32 default_kind;
static u32 default_format;
static int default_levels;

static bool cfg_equal(const struct vmmu_mmu_config *got, u32 format,
		      u32 levels, u32 kind)
{
	return got->format == format && got->levels == levels &&
	       got->vcpu_kind == kind &&
	       got->gpa_bits == mmu_gpa_bits(levels) && !got->pad &&
	       !got->pad2;
}

static void cfg_diag(const char *label, const struct vmmu_mmu_config *c)
{
	diag("  %s: format %u levels %u vcpu_kind %u pad %u gpa_bits %u pad2 %u",
	     label, c->format, c->levels, c->vcpu_kind, c->pad, c->gpa_bits,
	     c->pad2);
}

/* One test: VMMU_GET_MMU succeeds and reports @format / @levels / @kind. */
static bool ok_get_mmu(int vm_fd, u32 format, u32 levels, u32 kind,
		       const char *what)
{
	struct vmmu_mmu_config got;
	int r;

	memset(&got, 0xa5, sizeof(got));
	r = mmu_get_mmu(vm_fd, &got);
	if (!ok(!r && cfg_equal(&got, format, levels, kind),
		"%s: VMMU_GET_MMU reports format %u, %u levels, %u gpa bits, vCPU kind %u",
		what, format, levels, mmu_gpa_bits(levels), kind)) {
		if (r)
			diag("  VMMU_GET_MMU: -%s", errno_name(-r));
		else
			cfg_diag("got", &got);
		return false;
	}
	return true;
}

static void test_defaults(int sys_fd)
{
	int host = mmu_host_levels();
	struct vmmu_mmu_config cfg;
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int r;

	diag("host paging: %d levels", host);
	memset(&cfg, 0xa5, sizeof(cfg));
	r = mmu_get_mmu(vm_fd, &cfg);
	is_errno(r, 0, "VMMU_GET_MMU on a new VM");
	is_int(cfg.format, default_format, "default format is %s",
	       default_format == VMMU_MMU_FORMAT_EPT ? "EPT" : "NPT");
	is_int(cfg.levels, default_levels, "default levels: %d", default_levels);
	is_int(cfg.vcpu_kind, default_kind,
	       "default vCPU kind is %s",
	       default_kind == VMMU_VCPU_VMX ? "VMX" :
	       default_kind == VMMU_VCPU_SVM ? "SVM" : "the software vCPU");
	is_int(cfg.gpa_bits, mmu_gpa_bits(default_levels),
	       "default gpa_bits is %u: the root's %u, at most MAXPHYADDR %u",
	       mmu_gpa_bits(default_levels), mmu_root_gpa_bits(default_levels),
	       mmu_host_phys_bits());
	ok(!cfg.pad && !cfg.pad2, "VMMU_GET_MMU zeroes the padding");
	is_errno(vmmu_ioctl(vm_fd, VMMU_GET_MMU, 0), EFAULT,
		 "VMMU_GET_MMU with a NULL argument");
	close(vm_fd);
}

/* One test: VMMU_SET_MMU with @cfg fails with @err and changes nothing. */
static void set_mmu_fails(int vm_fd, struct vmmu_mmu_config cfg, int err,
			  const char *what)
{
	is_errno(mmu_set_mmu(vm_fd, &cfg), err, "VMMU_SET_MMU %s", what);
}

/* Does /proc/cpuinfo list @flag for the first CPU? */
static bool cpu_has_flag(const char *flag)
{
	static const char seps[] = { ' ', '\t', '\n', 0 };
	char line[4096], *tok, *save;
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		bail_out("cannot open /proc/cpuinfo");
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (tok = strtok_r(strchr(line, ':') + 1, seps, &save); tok;
		     tok = strtok_r(NULL, seps, &save))
			if (!strcmp(tok, flag))
				found = true;
		break;
	}
	fclose(f);
	return found;
}

#define EPT	VMMU_MMU_FORMAT_EPT
#define NPT	VMMU_MMU_FORMAT_NPT
#define SW	VMMU_VCPU_SOFTWARE
#define HOST	0xff

static void test_set_errors(int sys_fd)
{
	static const struct {
		struct vmmu_mmu_config cfg;	/* in field order */
		const char *what;
	} bad[] = {
		{ { EPT, 4, SW, 1, 0, 0 }, "with pad != 0" },
		{ { EPT, 4, SW, 0, 0, 1 }, "with pad2 != 0" },
		{ { 0, 4, SW, 0, 0, 0 }, "with format 0" },
		{ { 3, 4, SW, 0, 0, 0 }, "with format 3" },
		{ { EPT, 4, 0, 0, 0, 0 }, "with vcpu_kind 0" },
		{ { EPT, 4, 2, 0, 0, 0 }, "with vcpu_kind 2 (SVM needs NPT)" },
		{ { NPT, 0, 3, 0, 0, 0 }, "with vcpu_kind 3 (VMX needs EPT)" },
		{ { EPT, 4, 4, 0, 0, 0 }, "with vcpu_kind 4" },
		{ { EPT, 3, SW, 0, 0, 0 }, "EPT with levels 3" },
		{ { EPT, 6, SW, 0, 0, 0 }, "EPT with levels 6" },
		{ { NPT, 3, SW, 0, 0, 0 }, "NPT with levels 3" },
	};
	int host = mmu_host_levels();
	struct vmmu_mmu_config c = { NPT, host == 5 ? 4 : 5, SW, 0, 0, 0 };
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		set_mmu_fails(vm_fd, bad[i].cfg, EINVAL, bad[i].what);
	if (!cpu_has_flag("vmx")) {
		struct vmmu_mmu_config vmx = { EPT, 4, VMMU_VCPU_VMX, 0, 0, 0 };

		set_mmu_fails(vm_fd, vmx, ENODEV,
			      "with VMX vCPUs on a CPU without VMX");
	} else {
		skip(1, "this CPU has VMX: VMX vCPUs are tested elsewhere");
	}
	set_mmu_fails(vm_fd, c, EINVAL, "NPT with levels != host depth");
	is_errno(vmmu_ioctl(vm_fd, VMMU_SET_MMU, 0), EFAULT,
		 "VMMU_SET_MMU with a NULL argument");
	ok_get_mmu(vm_fd, default_format, default_levels, default_kind,
		   "after the rejected requests");
	close(vm_fd);
}

/* Reconfigure one VM several times before it has memslots or vCPUs. */
static void test_set_ok(int sys_fd)
{
	/* HOST stands for the host's paging depth. */
	static const struct {
		u32 format, levels, want_levels;
	} seq[] = {
		{ EPT, 0, 4 },
		{ EPT, 5, 5 },
		{ EPT, 4, 4 },
		{ NPT, 0, HOST },
		{ NPT, HOST, HOST },
	};
	u32 host = mmu_host_levels();
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(seq); i++) {
		struct vmmu_mmu_config c = {
			.format = seq[i].format,
			.levels = seq[i].levels == HOST ? host : seq[i].levels,
			.vcpu_kind = SW,
		};
		u32 want = seq[i].want_levels == HOST ? host :
							seq[i].want_levels;
		char what[48];
		int r;

		snprintf(what, sizeof(what), "%s levels %u",
			 c.format == VMMU_MMU_FORMAT_EPT ? "EPT" : "NPT",
			 c.levels);
		r = mmu_set_mmu(vm_fd, &c);
		if (!ok(!r && cfg_equal(&c, seq[i].format, want, SW),
			"VMMU_SET_MMU %s succeeds and returns %u levels", what,
			want)) {
			if (r)
				diag("  VMMU_SET_MMU: -%s", errno_name(-r));
			else
				cfg_diag("returned", &c);
		}
		ok_get_mmu(vm_fd, seq[i].format, want, SW, what);
	}
	close(vm_fd);
}

static void test_busy(int sys_fd)
{
	struct vmmu_mmu_config c = {
		.format = VMMU_MMU_FORMAT_EPT,
		.levels = 4,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	void *mem = vmmu_alloc_guest_memory(SLOT_PAGES * P);
	int vm_fd, vcpu_fd;

	/* A rejected memslot request leaves the VM configurable. */
	vm_fd = vmmu_create_vm_or_die(sys_fd);
	is_errno(vmmu_set_region(vm_fd, 0, 0, SLOT_GPA + 1, P,
				 (unsigned long)mem), EINVAL,
		 "a memslot at an unaligned gpa is rejected");
	is_errno(mmu_set_mmu(vm_fd, &c), 0,
		 "VMMU_SET_MMU after a rejected memslot request");
	close(vm_fd);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	mmu_set_region_or_die(vm_fd, 0, 0, SLOT_GPA, SLOT_PAGES * P, mem);
	is_errno(mmu_set_mmu(vm_fd, &c), EBUSY,
		 "VMMU_SET_MMU with a memslot: EBUSY");
	ok_get_mmu(vm_fd, default_format, default_levels, default_kind,
		   "after EBUSY");
	is_errno(vmmu_delete_region(vm_fd, 0), 0, "delete the memslot");
	is_errno(mmu_set_mmu(vm_fd, &c), EBUSY,
		 "VMMU_SET_MMU after the memslot was deleted: EBUSY");
	close(vm_fd);

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	is_errno(mmu_set_mmu(vm_fd, &c), EBUSY,
		 "VMMU_SET_MMU with a vCPU: EBUSY");
	close(vcpu_fd);
	is_errno(mmu_set_mmu(vm_fd, &c), EBUSY,
		 "VMMU_SET_MMU after the vCPU fd was closed: EBUSY");
	close(vm_fd);
	munmap(mem, SLOT_PAGES * P);
}

static void test_create_vcpu(int sys_fd)
{
	struct vmmu_objects now;
	int fds[64], vm_fd, r, ok_ids = 0;
	unsigned int i;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	is_errno(mmu_create_vcpu(vm_fd, 64), EINVAL, "vCPU id 64: EINVAL");
	is_errno(mmu_create_vcpu(vm_fd, 1UL << 32), EINVAL,
		 "vCPU id 2^32: EINVAL");
	fds[0] = mmu_create_vcpu(vm_fd, 63);
	is_errno(fds[0], 0, "vCPU id 63");
	is_errno(mmu_create_vcpu(vm_fd, 63), EEXIST,
		 "vCPU id 63 again: EEXIST");
	for (i = 1; i < 64; i++) {
		fds[i] = mmu_create_vcpu(vm_fd, i - 1);
		if (fds[i] >= 0)
			ok_ids++;
		else
			diag("  vCPU id %u: -%s", i - 1, errno_name(-fds[i]));
	}
	is_int(ok_ids, 63, "vCPU ids 0-62 as well: 64 vCPUs");
	is_errno(mmu_create_vcpu(vm_fd, 5), EINVAL,
		 "65th vCPU (id in use): EINVAL");
	is_errno(mmu_create_vcpu(vm_fd, 64), EINVAL,
		 "65th vCPU (id 64): EINVAL");
	vmmu_objects_read_or_die(&now);
	is_int(now.vcpus - baseline.vcpus, 64, "64 vCPUs are alive");
	for (i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	r = mmu_create_vcpu(vm_fd, 0);
	is_errno(r, EINVAL,
		 "closing the vCPU fds does not free room for a 65th vCPU");
	if (r >= 0)
		close(r);
	close(vm_fd);
}

/* A forked child uses the parent's vCPU fd; returns the child's -errno. */
static long child_vcpu_ioctl(int vcpu_fd, unsigned long request, void *arg)
{
	int fds[2], status;
	long r = -ECHILD;
	pid_t pid;

	if (pipe(fds))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		r = vmmu_ioctl(vcpu_fd, request, (unsigned long)arg);
		_exit(write(fds[1], &r, sizeof(r)) == sizeof(r) ? 0 : 1);
	}
	close(fds[1]);
	if (read(fds[0], &r, sizeof(r)) != sizeof(r))
		r = -ECHILD;
	close(fds[0]);
	waitpid(pid, &status, 0);
	return r;
}

static void test_vcpu_ioctls(int sys_fd)
{
	struct vmmu_translation tr;
	struct vmmu_access acc;
	void *mem = vmmu_alloc_guest_memory(SLOT_PAGES * P);
	void *ro = mmu_map_anon(P, NULL);
	char buf[64];
	struct vmmu_mmu_config sw = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int vm_fd, vcpu_fd, r;

	/* VMMU_VCPU_ACCESS is for software vCPUs. */
	vm_fd = vmmu_create_vm_or_die(sys_fd);
	if (mmu_set_mmu(vm_fd, &sw))
		bail_out("VMMU_SET_MMU with software vCPUs failed");
	mmu_set_region_or_die(vm_fd, 0, 0, SLOT_GPA, SLOT_PAGES * P, mem);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);

	r = mmu_translate(vcpu_fd, SLOT_GPA, &tr);
	ok(!r && tr.flags == VMMU_TR_NO_ROOT && !tr.level && !tr.spte &&
	   !tr.pfn, "VMMU_VCPU_TRANSLATE before any access: NO_ROOT only");
	if (r)
		diag("  VMMU_VCPU_TRANSLATE: -%s", errno_name(-r));
	else
		mmu_translation_diag("got", &tr);

	memset(&acc, 0, sizeof(acc));
	acc.gpa = SLOT_GPA;
	acc.buf = (unsigned long)buf;
	acc.len = 8;
	r = child_vcpu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, &acc);
	is_errno(r, EIO, "VMMU_VCPU_ACCESS from a forked child: EIO");
	r = child_vcpu_ioctl(vcpu_fd, VMMU_VCPU_TRANSLATE, &tr);
	is_errno(r, EIO, "VMMU_VCPU_TRANSLATE from a forked child: EIO");

	is_errno(vmmu_ioctl(vcpu_fd, _IO(VMMUIO, 0x7f), 0), EINVAL,
		 "unknown vCPU ioctl: EINVAL");
	is_errno(vmmu_ioctl(vcpu_fd, _IOWR(VMMUIO, 0x20, u64),
			    (unsigned long)buf), EINVAL,
		 "VMMU_VCPU_ACCESS's number with another size: EINVAL");
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_ZAP_ALL, 0), EINVAL,
		 "VM ioctl VMMU_ZAP_ALL on a vCPU fd: EINVAL");

	memset(&acc, 0, sizeof(acc));
	acc.gpa = SLOT_GPA;
	acc.buf = (unsigned long)buf;
	acc.len = 8;
	acc.flags = 1;
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&acc),
		 EINVAL, "VMMU_VCPU_ACCESS with flags != 0: EINVAL");
	acc.flags = 0;
	acc.pad = 1;
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&acc),
		 EINVAL, "VMMU_VCPU_ACCESS with pad != 0: EINVAL");
	acc.pad = 0;
	acc.kind = 3;
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&acc),
		 EINVAL, "VMMU_VCPU_ACCESS with kind 3: EINVAL");
	acc.kind = 0x80000000;
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&acc),
		 EINVAL, "VMMU_VCPU_ACCESS with kind 2^31: EINVAL");
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, 0), EFAULT,
		 "VMMU_VCPU_ACCESS with a NULL argument: EFAULT");
	is_errno(vmmu_ioctl(vcpu_fd, VMMU_VCPU_TRANSLATE, 0), EFAULT,
		 "VMMU_VCPU_TRANSLATE with a NULL argument: EFAULT");

	is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_READ, SLOT_GPA, NULL, 8, NULL),
		 EFAULT, "guest read into a NULL buffer: EFAULT");
	is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, SLOT_GPA, NULL, 8,
			    NULL),
		 EFAULT, "guest write from a NULL buffer: EFAULT");
	if (mprotect(ro, P, PROT_READ))
		bail_out("mprotect: %s", strerror(errno));
	is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_READ, SLOT_GPA, ro, 8, NULL),
		 EFAULT, "guest read into a read-only buffer: EFAULT");
	is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_READ, SLOT_GPA, buf, 8, NULL),
		 VMMU_ACCESS_DONE, "a good guest read after those");

	close(vcpu_fd);
	close(vm_fd);
	munmap(ro, P);
	munmap(mem, SLOT_PAGES * P);
}

/* KVM_PRE_FAULT_MEMORY of one page at @gpa: 0 or -errno. */
static int prefault_page(int vcpu_fd, u64 gpa)
{
	struct kvm_pre_fault_memory range = { .gpa = gpa, .size = P };

	return vmmu_ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, (unsigned long)&range);
}

/*
 * A slot whose last page is the last below the limit works, and is not an
 * alias of gpa 0: a guest write there lands in its own memory only.
 */
static void test_top_slot(const struct mmu_vm *vm, int vcpu_fd, u64 limit,
			  unsigned int bits)
{
	u64 *low = vmmu_alloc_guest_memory(P);
	u64 *top = vmmu_alloc_guest_memory(P);
	u64 w = 0x70b5107ULL, got = 0;
	int r;

	mmu_set_region_or_die(vm->vm_fd, 0, 0, 0, P, low);
	is_errno(vmmu_set_region(vm->vm_fd, 1, 0, limit - P, P,
				 (unsigned long)top),
		 0, "%s: a slot ending at 2^%u is accepted", vm->name, bits);
	r = mmu_write(vcpu_fd, limit - P + 8, &w, 8);
	ok(r == VMMU_ACCESS_DONE && top[1] == w && low[1] == 0,
	   "%s: a write to its last page lands there, not at gpa 0",
	   vm->name);
	r = mmu_read(vcpu_fd, 8, &got, 8);
	ok(r == VMMU_ACCESS_DONE && got == 0,
	   "%s: gpa 0 still reads its own memory", vm->name);
	is_errno(prefault_page(vcpu_fd, limit - P), 0,
		 "%s: KVM_PRE_FAULT_MEMORY of the page below 2^%u", vm->name,
		 bits);
	is_errno(prefault_page(vcpu_fd, limit), ENOENT,
		 "%s: KVM_PRE_FAULT_MEMORY at 2^%u: ENOENT", vm->name, bits);
	is_errno(vmmu_set_region(vm->vm_fd, 2, 0, limit, P,
				 (unsigned long)low),
		 EINVAL, "%s: a slot starting at 2^%u: EINVAL", vm->name, bits);
	vmmu_delete_region(vm->vm_fd, 1);
	vmmu_delete_region(vm->vm_fd, 0);
	munmap(low, P);
	munmap(top, P);
}

/*
 * The end of the guest-physical space, per configuration: 2^gpa_bits, the
 * smaller of what the root maps and the host's MAXPHYADDR.
 */
static void test_gpa_limits(int sys_fd)
{
	unsigned int c;

	diag("host MAXPHYADDR: %u bits", mmu_host_phys_bits());
	for (c = 0; c < MMU_NR_CFGS; c++) {
		struct vmmu_translation tr;
		struct vmmu_access acc;
		struct mmu_vm vm;
		unsigned int bits;
		u64 limit;
		char buf[16];
		int vcpu_fd, r;

		mmu_vm_create(sys_fd, &mmu_cfgs[c], &vm);
		bits = mmu_gpa_bits(vm.cfg.levels);
		limit = 1ULL << bits;
		is_int(vm.cfg.gpa_bits, bits,
		       "%s: gpa_bits %u: the root's %u, at most MAXPHYADDR",
		       vm.name, bits, mmu_root_gpa_bits(vm.cfg.levels));
		vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);

		r = mmu_access(vcpu_fd, VMMU_ACCESS_READ, limit - 1, buf, 1,
			       &acc);
		ok(r == VMMU_ACCESS_MMIO && acc.mmio_gpa == limit - 1 &&
		   !acc.done,
		   "%s: read of the last byte below 2^%u: MMIO there", vm.name,
		   bits);
		if (r != VMMU_ACCESS_MMIO || acc.mmio_gpa != limit - 1)
			diag("  got %s mmio_gpa %#llx done %u",
			     mmu_result_name(r),
			     (unsigned long long)acc.mmio_gpa, acc.done);
		is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_READ, limit - 1, buf,
				    2, NULL),
			 EINVAL, "%s: read crossing 2^%u: EINVAL", vm.name,
			 bits);
		is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, limit, buf, 1,
				    NULL),
			 EINVAL, "%s: write at 2^%u: EINVAL", vm.name, bits);
		is_errno(mmu_access(vcpu_fd, VMMU_ACCESS_READ, ~0ULL, buf, 2,
				    NULL),
			 EINVAL, "%s: read wrapping around 2^64: EINVAL",
			 vm.name);
		is_errno(mmu_translate(vcpu_fd, limit - 1, &tr), 0,
			 "%s: translate just below 2^%u", vm.name, bits);
		is_errno(mmu_translate(vcpu_fd, limit, &tr), EINVAL,
			 "%s: translate at 2^%u: EINVAL", vm.name, bits);
		test_top_slot(&vm, vcpu_fd, limit, bits);
		close(vcpu_fd);
		mmu_vm_close(&vm);
	}
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	/* Hardware vCPUs where KVM_RUN exists: the CPU's vendor's. */
	default_kind = VMMU_VCPU_SOFTWARE;
	default_format = VMMU_MMU_FORMAT_NPT;
	default_levels = mmu_host_levels();
	if (vmmu_check_extension(sys_fd, KVM_CAP_IMMEDIATE_EXIT) > 0) {
		default_kind = cpu_has_flag("vmx") ? VMMU_VCPU_VMX : VMMU_VCPU_SVM;
		if (default_kind == VMMU_VCPU_VMX) {
			default_format = VMMU_MMU_FORMAT_EPT;
			default_levels = 4;
		}
	}
	vmmu_objects_read_or_die(&baseline);
	vmmu_objects_diag("baseline", &baseline);

	test_defaults(sys_fd);
	test_set_errors(sys_fd);
	test_set_ok(sys_fd);
	test_busy(sys_fd);
	test_create_vcpu(sys_fd);
	test_vcpu_ioctls(sys_fd);
	test_gpa_limits(sys_fd);

	ok_objects(&baseline, "every object freed: counters at baseline");
	close(sys_fd);
	return tap_finish();
}
