// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for tests that run guest code; see guest_util.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_util.h"

static const struct guest_hw guest_hw_kinds[] = {
	{ VMMU_VCPU_SVM, VMMU_MMU_FORMAT_NPT, "svm", "SVM", "NPT" },
	{ VMMU_VCPU_VMX, VMMU_MMU_FORMAT_EPT, "vmx", "VMX", "EPT" },
};

const struct guest_hw *guest_hw;

/* Why guest_hw_available() found no kind, for guest_hw_why(). */
static char guest_hw_reason[128] = "guest_hw_available() not called";

static int guest_set_kind(int vm_fd, const struct guest_hw *hw)
{
	struct vmmu_mmu_config cfg = {
		.format = hw->format,
		.vcpu_kind = hw->vcpu_kind,
	};

	return vmmu_ioctl(vm_fd, VMMU_SET_MMU, (unsigned long)&cfg);
}

int guest_set_svm(int vm_fd)
{
	return guest_set_kind(vm_fd, &guest_hw_kinds[0]);
}

int guest_open_or_skip(unsigned int nr_tests)
{
	int sys_fd = vmmu_open();

	if (!guest_hw_available(sys_fd))
		return sys_fd;
	skip(nr_tests, "no hardware vCPUs here (%s)", guest_hw_why());
	close(sys_fd);
	return -1;
}

int guest_set_hw(int vm_fd)
{
	if (!guest_hw)
		bail_out("%s: guest_hw_available() found no kind", __func__);
	return guest_set_kind(vm_fd, guest_hw);
}

int guest_svm_available(int sys_fd)
{
	int vm_fd = vmmu_create_vm_or_die(sys_fd);
	int r = guest_set_svm(vm_fd);

	close(vm_fd);
	if (!r)
		guest_hw = &guest_hw_kinds[0];
	return r;
}

int guest_hw_available(int sys_fd)
{
	const char *force = getenv("VMMU_GUEST_KIND");
	size_t i, len = 0;
	int r = -ENODEV;

	guest_hw = NULL;
	guest_hw_reason[0] = 0;
	for (i = 0; i < ARRAY_SIZE(guest_hw_kinds); i++) {
		const struct guest_hw *hw = &guest_hw_kinds[i];
		int vm_fd;

		if (force && *force && strcmp(force, hw->id))
			continue;
		vm_fd = vmmu_create_vm_or_die(sys_fd);
		r = guest_set_kind(vm_fd, hw);
		close(vm_fd);
		if (!r) {
			guest_hw = hw;
			return 0;
		}
		len += snprintf(guest_hw_reason + len,
				sizeof(guest_hw_reason) - len, "%s%s: %s",
				len ? ", " : "", hw->name, errno_name(-r));
		if (len >= sizeof(guest_hw_reason))
			len = sizeof(guest_hw_reason) - 1;
	}
	if (!guest_hw_reason[0])
		snprintf(guest_hw_reason, sizeof(guest_hw_reason),
			 "VMMU_GUEST_KIND=%s names no kind (svm, vmx)", force);
	else if (force && *force)
		snprintf(guest_hw_reason + len, sizeof(guest_hw_reason) - len,
			 " (VMMU_GUEST_KIND=%s)", force);
	return r;
}

const char *guest_hw_why(void)
{
	return guest_hw_reason;
}

bool guest_is_svm(void)
{
	return guest_hw && guest_hw->vcpu_kind == VMMU_VCPU_SVM;
}

bool guest_is_vmx(void)
{
	return guest_hw && guest_hw->vcpu_kind == VMMU_VCPU_VMX;
}

bool guest_slow_emulator(void)
{
	const char *emu = getenv("VMMU_EMULATOR");

	return emu && !strcmp(emu, "bochs");
}

static void guest_create_mem(struct guest *g, int sys_fd, size_t mem_size,
			     u32 ring_bytes, bool thp);

void guest_create(struct guest *g, int sys_fd, size_t mem_size)
{
	guest_create_mem(g, sys_fd, mem_size, 0, false);
}

void guest_create_ring(struct guest *g, int sys_fd, size_t mem_size,
		       u32 ring_bytes)
{
	guest_create_mem(g, sys_fd, mem_size, ring_bytes, false);
}

void guest_create_thp(struct guest *g, int sys_fd, size_t mem_size)
{
	guest_create_mem(g, sys_fd, mem_size, 0, true);
}

/* @size bytes, 2 MiB aligned, MADV_HUGEPAGE: transparent huge pages. */
static u8 *guest_alloc_thp(size_t size)
{
	size_t huge = 2UL << 20;
	u8 *p = vmmu_alloc_guest_memory(size + huge);
	u8 *mem = (u8 *)(((unsigned long)p + huge - 1) & ~(huge - 1));

	/* Keep [mem, mem + size) alone, so that munmap() of it frees all. */
	if (mem > p)
		munmap(p, mem - p);
	munmap(mem + size, p + size + huge - (mem + size));
	if (madvise(mem, size, MADV_HUGEPAGE))
		bail_out("MADV_HUGEPAGE: %s", strerror(errno));
	return mem;
}

static void guest_create_mem(struct guest *g, int sys_fd, size_t mem_size,
			     u32 ring_bytes, bool thp)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_DIRTY_LOG_RING, .args = { ring_bytes },
	};
	long size;
	int r;

	memset(g, 0, sizeof(*g));
	g->sys_fd = sys_fd;
	g->vm_fd = vmmu_create_vm_or_die(sys_fd);
	r = guest_set_hw(g->vm_fd);
	if (r)
		bail_out("VMMU_SET_MMU with %s vCPUs: %s", guest_hw->name,
			 errno_name(-r));
	if (ring_bytes) {
		r = (int)vmmu_ioctl(g->vm_fd, KVM_ENABLE_CAP, (unsigned long)&cap);
		if (r)
			bail_out("KVM_CAP_DIRTY_LOG_RING: %s", errno_name(-r));
	}
	g->mem = thp ? guest_alloc_thp(mem_size) :
		       vmmu_alloc_guest_memory(mem_size);
	g->mem_size = mem_size;
	r = vmmu_set_region(g->vm_fd, 0, 0, 0, mem_size, (u64)g->mem);
	if (r)
		bail_out("KVM_SET_USER_MEMORY_REGION: %s", errno_name(-r));
	g->vcpu_fd = vmmu_ioctl(g->vm_fd, KVM_CREATE_VCPU, 0);
	if (g->vcpu_fd < 0)
		bail_out("KVM_CREATE_VCPU: %s", errno_name(-g->vcpu_fd));
	size = vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (long)sizeof(struct kvm_run))
		bail_out("KVM_GET_VCPU_MMAP_SIZE: %ld", size);
	g->mmap_size = size;
	g->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->vcpu_fd, 0);
	if (g->run == MAP_FAILED)
		bail_out("mmap of the vCPU fd: %s", strerror(errno));
}

void guest_destroy(struct guest *g)
{
	if (g->run && g->run != MAP_FAILED)
		munmap(g->run, g->mmap_size);
	if (g->vcpu_fd > 0)
		close(g->vcpu_fd);
	if (g->vm_fd > 0)
		close(g->vm_fd);
	if (g->mem)
		munmap(g->mem, g->mem_size);
	memset(g, 0, sizeof(*g));
}

int guest_vcpu_add(struct guest *g, unsigned long id, struct kvm_run **run)
{
	struct kvm_sregs sregs;
	int vcpu_fd, r;

	vcpu_fd = vmmu_ioctl(g->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu_fd < 0)
		bail_out("KVM_CREATE_VCPU %lu: %s", id, errno_name(-vcpu_fd));
	*run = mmap(NULL, g->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    vcpu_fd, 0);
	if (*run == MAP_FAILED)
		bail_out("mmap of vCPU %lu: %s", id, strerror(errno));
	guest_get_sregs(g, &sregs);
	r = vmmu_ioctl(vcpu_fd, KVM_SET_SREGS, (unsigned long)&sregs);
	if (r)
		bail_out("KVM_SET_SREGS on vCPU %lu: %s", id, errno_name(-r));
	return vcpu_fd;
}

int guest_run(struct guest *g)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_RUN, 0);
}

void guest_run_or_die(struct guest *g)
{
	int r = guest_run(g);

	if (r)
		bail_out("KVM_RUN: %s", errno_name(-r));
}

void guest_get_regs(struct guest *g, struct kvm_regs *regs)
{
	int r = vmmu_ioctl(g->vcpu_fd, KVM_GET_REGS, (unsigned long)regs);

	if (r)
		bail_out("KVM_GET_REGS: %s", errno_name(-r));
}

void guest_set_regs(struct guest *g, const struct kvm_regs *regs)
{
	int r = vmmu_ioctl(g->vcpu_fd, KVM_SET_REGS, (unsigned long)regs);

	if (r)
		bail_out("KVM_SET_REGS: %s", errno_name(-r));
}

void guest_get_sregs(struct guest *g, struct kvm_sregs *sregs)
{
	int r = vmmu_ioctl(g->vcpu_fd, KVM_GET_SREGS, (unsigned long)sregs);

	if (r)
		bail_out("KVM_GET_SREGS: %s", errno_name(-r));
}

int guest_set_sregs(struct guest *g, const struct kvm_sregs *sregs)
{
	return vmmu_ioctl(g->vcpu_fd, KVM_SET_SREGS, (unsigned long)sregs);
}

static void guest_set_sregs_or_die(struct guest *g,
				   const struct kvm_sregs *sregs)
{
	int r = guest_set_sregs(g, sregs);

	if (r)
		bail_out("KVM_SET_SREGS: %s", errno_name(-r));
}

void guest_load(struct guest *g, u64 gpa, const void *code, size_t len)
{
	if (gpa + len > g->mem_size)
		bail_out("guest code at %#llx does not fit", (unsigned long long)gpa);
	memcpy(g->mem + gpa, code, len);
}

static void guest_set_start(struct guest *g, u64 rip, u64 rsp)
{
	struct kvm_regs regs;

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = rsp;
	regs.rflags = 2;
	guest_set_regs(g, &regs);
}

void guest_setup_real_mode(struct guest *g, u64 rip)
{
	struct kvm_sregs sregs;

	guest_get_sregs(g, &sregs);
	sregs.cs.selector = 0;
	sregs.cs.base = 0;
	guest_set_sregs_or_die(g, &sregs);
	guest_set_start(g, rip, 0);
}

static void guest_flat_segment(struct kvm_segment *seg, u16 selector,
			       u8 type, bool code64)
{
	memset(seg, 0, sizeof(*seg));
	seg->selector = selector;
	seg->limit = 0xffffffff;
	seg->type = type;
	seg->present = 1;
	seg->s = 1;
	seg->g = 1;
	seg->l = code64;
	seg->db = !code64;
}

/* Flat 4 GiB segments: code 0x08, data 0x10, a 64-bit TSS at 0x18. */
static void guest_flat_segments(struct kvm_sregs *sregs, bool code64)
{
	guest_flat_segment(&sregs->cs, 0x08, 0xb, code64);
	guest_flat_segment(&sregs->ds, 0x10, 0x3, false);
	sregs->es = sregs->ds;
	sregs->fs = sregs->ds;
	sregs->gs = sregs->ds;
	sregs->ss = sregs->ds;
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.selector = 0x18;
	sregs->tr.limit = 0x67;
	sregs->tr.type = 0xb;
	sregs->tr.present = 1;
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.unusable = 1;
	sregs->gdt.base = 0;
	sregs->gdt.limit = 0;
	sregs->idt.base = 0;
	sregs->idt.limit = 0;
}

void guest_setup_protected_mode(struct guest *g, u64 rip)
{
	struct kvm_sregs sregs;

	guest_get_sregs(g, &sregs);
	guest_flat_segments(&sregs, false);
	sregs.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	sregs.cr4 = 0;
	sregs.efer = 0;
	guest_set_sregs_or_die(g, &sregs);
	guest_set_start(g, rip, 0);
}

/* PML4 -> PDPT -> one PD of 2 MiB pages, in guest memory. */
static void guest_build_page_tables(struct guest *g)
{
	u64 *pml4 = (u64 *)(g->mem + GUEST_PT_GPA);
	u64 *pdpt = pml4 + 512;
	u64 *pd = pdpt + 512;
	u64 i;

	if (GUEST_PT_GPA + 3 * PAGE_SIZE > g->mem_size)
		bail_out("no room for the guest's page tables");
	memset(pml4, 0, 3 * PAGE_SIZE);
	pml4[0] = (GUEST_PT_GPA + PAGE_SIZE) | X86_PTE_PRESENT | X86_PTE_WRITE;
	pdpt[0] = (GUEST_PT_GPA + 2 * PAGE_SIZE) | X86_PTE_PRESENT |
		  X86_PTE_WRITE;
	for (i = 0; i < 512; i++)
		pd[i] = (i << 21) | X86_PTE_PRESENT | X86_PTE_WRITE |
			X86_PTE_LARGE;
}

void guest_setup_long_mode(struct guest *g, u64 rip, u64 rsp)
{
	struct kvm_sregs sregs;

	guest_build_page_tables(g);
	guest_get_sregs(g, &sregs);
	guest_flat_segments(&sregs, true);
	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		    X86_CR0_WP | X86_CR0_PG;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	sregs.cr3 = GUEST_PT_GPA;
	guest_set_sregs_or_die(g, &sregs);
	guest_set_start(g, rip, rsp);
}

void guest_setup_gdt_idt(struct guest *g, u64 gdt_gpa, u64 *idt, u64 idt_gpa,
			 unsigned int nr_vectors)
{
	u64 *gdt = (u64 *)(g->mem + gdt_gpa);
	struct kvm_sregs sregs;

	memset(gdt, 0, 3 * sizeof(*gdt));
	gdt[1] = 0x00af9b000000ffffULL;	/* code: present, DPL 0, L */
	gdt[2] = 0x00cf93000000ffffULL;	/* data: present, writable */
	memset(idt, 0, nr_vectors * 16);
	guest_get_sregs(g, &sregs);
	sregs.gdt.base = gdt_gpa;
	sregs.gdt.limit = 3 * 8 - 1;
	sregs.idt.base = idt_gpa;
	sregs.idt.limit = nr_vectors * 16 - 1;
	if (guest_set_sregs(g, &sregs))
		bail_out("KVM_SET_SREGS with a GDT and an IDT failed");
}

void guest_set_gate(u64 *idt, unsigned int vector, u64 handler)
{
	idt[2 * vector] = (handler & 0xffff) | 0x08ULL << 16 |
			  0x8e00ULL << 32 | (handler >> 16 & 0xffff) << 48;
	idt[2 * vector + 1] = handler >> 32;
}

u8 *guest_io_data(struct guest *g)
{
	return (u8 *)g->run + g->run->io.data_offset;
}

/* The 8 bytes of kvm_run.mmio.data. */
static u64 guest_mmio_data(struct guest *g)
{
	u64 data;

	memcpy(&data, g->run->mmio.data, sizeof(data));
	return data;
}

void guest_mmio_reply(struct guest *g, u64 data)
{
	memcpy(g->run->mmio.data, &data, sizeof(data));
}

const char *guest_exit_name(u32 reason)
{
	static const char * const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

static const char *guest_suberror_name(u32 suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "EMULATION";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "SIMUL_EX";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "DELIVERY_EV";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "UNEXPECTED_EXIT_REASON";
	default:
		return "?";
	}
}

void guest_internal_error_str(const struct kvm_run *run, char *buf,
			      size_t size)
{
	u32 i, ndata = run->internal.ndata;
	size_t n;

	n = snprintf(buf, size, "suberror %u (%s), ndata %u:",
		     run->internal.suberror,
		     guest_suberror_name(run->internal.suberror), ndata);
	if (ndata > ARRAY_SIZE(run->internal.data))
		ndata = ARRAY_SIZE(run->internal.data);
	for (i = 0; i < ndata && n < size; i++)
		n += snprintf(buf + n, size - n, " %#llx",
			      (unsigned long long)run->internal.data[i]);
}

void guest_exit_diag(struct guest *g)
{
	struct kvm_run *run = g->run;
	struct kvm_regs regs;
	char buf[512];

	diag("  exit_reason %u (%s)", run->exit_reason,
	     guest_exit_name(run->exit_reason));
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		diag("  io: direction %u size %u port %#x count %u data_offset %#llx",
		     run->io.direction, run->io.size, run->io.port,
		     run->io.count, (unsigned long long)run->io.data_offset);
		break;
	case KVM_EXIT_MMIO:
		diag("  mmio: phys_addr %#llx len %u is_write %u data %#llx",
		     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
		     run->mmio.is_write, (unsigned long long)guest_mmio_data(g));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		diag("  fail_entry: reason %#llx cpu %u",
		     (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
		     run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		guest_internal_error_str(run, buf, sizeof(buf));
		diag("  internal: %s", buf);
		break;
	}
	if (!vmmu_ioctl(g->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
		diag("  rip %#llx rax %#llx rflags %#llx",
		     (unsigned long long)regs.rip, (unsigned long long)regs.rax,
		     (unsigned long long)regs.rflags);
}

bool guest_run_to_port(struct guest *g, u16 port)
{
	int r = guest_run(g);

	if (!r && g->run->exit_reason == KVM_EXIT_IO &&
	    g->run->io.port == port)
		return true;
	diag("expected an exit to port %#x: KVM_RUN %d, exit %s, port %#x",
	     port, r, guest_exit_name(g->run->exit_reason), g->run->io.port);
	return false;
}

bool tap_guest_exit(struct guest *g, int r, u32 reason, const char *file,
		    int line, const char *fmt, ...)
{
	bool cond = !r && g->run->exit_reason == reason;
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		diag("  expected: KVM_RUN 0, exit %s", guest_exit_name(reason));
		if (r)
			diag("  KVM_RUN: -%s", errno_name(-r));
		guest_exit_diag(g);
	}
	return cond;
}

bool tap_guest_io(struct guest *g, int r, u8 direction, u8 size, u16 port,
		  u32 data, const char *file, int line, const char *fmt, ...)
{
	struct kvm_run *run = g->run;
	u32 got = 0;
	bool cond;
	va_list ap;

	cond = !r && run->exit_reason == KVM_EXIT_IO &&
	       run->io.direction == direction && run->io.size == size &&
	       run->io.port == port && run->io.count == 1 &&
	       run->io.data_offset == PAGE_SIZE;
	if (cond && direction == KVM_EXIT_IO_OUT) {
		memcpy(&got, guest_io_data(g), size);
		cond = got == data;
	}
	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		diag("  expected: IO direction %u size %u port %#x data %#x",
		     direction, size, port, data);
		if (r)
			diag("  KVM_RUN: -%s", errno_name(-r));
		guest_exit_diag(g);
		if (!r && run->exit_reason == KVM_EXIT_IO)
			diag("  data: %#x", got);
	}
	return cond;
}

bool tap_guest_mmio(struct guest *g, int r, u64 gpa, u32 len, bool is_write,
		    u64 data, const char *file, int line, const char *fmt, ...)
{
	struct kvm_run *run = g->run;
	u64 mask = len >= 8 ? ~0ULL : (1ULL << (8 * len)) - 1;
	bool cond;
	va_list ap;

	cond = !r && run->exit_reason == KVM_EXIT_MMIO &&
	       run->mmio.phys_addr == gpa && run->mmio.len == len &&
	       run->mmio.is_write == is_write &&
	       (!is_write || (guest_mmio_data(g) & mask) == (data & mask));
	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		diag("  expected: MMIO phys_addr %#llx len %u is_write %u data %#llx",
		     (unsigned long long)gpa, len, is_write,
		     (unsigned long long)data);
		if (r)
			diag("  KVM_RUN: -%s", errno_name(-r));
		guest_exit_diag(g);
	}
	return cond;
}
