/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests that run guest code on hardware vCPUs (AMD SVM with NPT
 * or Intel VMX with EPT, whichever the machine has): a VM with one vCPU and
 * one memslot at guest-physical 0, its kvm_run mapping, KVM_RUN and the
 * register ioctls, and guest states for real, 32-bit protected and 64-bit
 * long mode.
 *
 * A test calls guest_hw_available() first and skips what needs hardware
 * vCPUs if it fails:
 *
 *	if (guest_hw_available(sys_fd)) {
 *		skip(NR_TESTS, "no hardware vCPUs here (%s)", guest_hw_why());
 *		return tap_finish();
 *	}
 *
 * Guest code is written in assembly in the test itself and assembled with
 * the test:
 *
 *	GUEST_CODE(hello, ".code16",
 *		"	mov $0x41, %al\n"
 *		"	out %al, $0x80\n"
 *		"hello_hlt:\n"
 *		"	hlt\n");
 *	GUEST_LABEL(hello_hlt);
 *
 *	guest_load(&g, 0x1000, hello, GUEST_CODE_SIZE(hello));
 *
 * Guest code must be position independent (relative jumps only): it runs at
 * whatever address it is loaded to.  GUEST_OFFSET(hello, hello_hlt) is the
 * offset of a label in it.
 */
#ifndef VMMU_SELFTESTS_GUEST_UTIL_H
#define VMMU_SELFTESTS_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

#include "tap.h"
#include "vmmu_util.h"

#define GUEST_CODE(name, mode, body)					\
	extern const u8 name[], name##_end[];				\
	asm(".pushsection .rodata\n"					\
	    #name ":\n"							\
	    mode "\n"							\
	    body							\
	    "\n.code64\n"						\
	    #name "_end:\n"						\
	    ".popsection\n")

#define GUEST_LABEL(label)		extern const u8 label[]
#define GUEST_CODE_SIZE(name)		((size_t)(name##_end - (name)))
#define GUEST_OFFSET(name, label)	((u64)((label) - (name)))

/* x86 bits the tests use to build guest state. */
#define X86_CR0_PE		BIT_ULL(0)
#define X86_CR0_MP		BIT_ULL(1)
#define X86_CR0_ET		BIT_ULL(4)
#define X86_CR0_NE		BIT_ULL(5)
#define X86_CR0_WP		BIT_ULL(16)
#define X86_CR0_PG		BIT_ULL(31)
#define X86_CR4_PAE		BIT_ULL(5)
#define X86_CR4_OSFXSR		BIT_ULL(9)
#define X86_CR4_OSXMMEXCPT	BIT_ULL(10)
#define X86_EFER_LME		BIT_ULL(8)
#define X86_EFER_LMA		BIT_ULL(10)
#define X86_PTE_PRESENT		BIT_ULL(0)
#define X86_PTE_WRITE		BIT_ULL(1)
#define X86_PTE_LARGE		BIT_ULL(7)

/* Where guest_setup_long_mode() puts the guest's page tables. */
#define GUEST_PT_GPA		0x2000ULL
/* How much of guest-physical memory those tables identity-map. */
#define GUEST_PT_MAPPED		BIT_ULL(30)

/**
 * struct guest_hw - a kind of hardware vCPU
 * @vcpu_kind: VMMU_VCPU_SVM or VMMU_VCPU_VMX
 * @format: the table format it needs: VMMU_MMU_FORMAT_NPT or _EPT
 * @id: "svm" or "vmx", as VMMU_GUEST_KIND spells it
 * @name: "SVM" or "VMX"
 * @tables: "NPT" or "EPT"
 */
struct guest_hw {
	u32 vcpu_kind;
	u32 format;
	const char *id;
	const char *name;
	const char *tables;
};

/* The kind guest_hw_available() chose; NULL until it found one. */
extern const struct guest_hw *guest_hw;

/**
 * struct guest - a VM with one hardware vCPU
 * @sys_fd: /dev/vmmu
 * @vm_fd: the VM
 * @vcpu_fd: the vCPU
 * @run: the vCPU's struct kvm_run, mapped
 * @mmap_size: KVM_GET_VCPU_MMAP_SIZE
 * @mem: the memory of slot 0, at guest-physical 0
 * @mem_size: its size
 */
struct guest {
	int sys_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	size_t mmap_size;
	u8 *mem;
	size_t mem_size;
};

/*
 * Can this machine run hardware vCPUs?  Tries SVM with NPT, then VMX with
 * EPT (only the one the environment variable VMMU_GUEST_KIND names, "svm"
 * or "vmx", if set), and makes the first that VMMU_SET_MMU accepts
 * guest_hw, the kind guest_create() and guest_set_hw() use.  0 if one
 * works, else the last errno VMMU_SET_MMU gave (ENODEV: no such hardware
 * or backend; EBUSY: another hypervisor owns it), negated; guest_hw_why()
 * then says why, kind by kind ("SVM: ENODEV, VMX: ENODEV").
 */
int guest_hw_available(int sys_fd);
const char *guest_hw_why(void);
/*
 * /dev/vmmu, opened, if guest_hw_available() finds a kind; else -1 after
 * reporting @nr_tests tests as skipped with guest_hw_why().
 */
int guest_open_or_skip(unsigned int nr_tests);
/* guest_hw is SVM / VMX. */
bool guest_is_svm(void);
bool guest_is_vmx(void);

/* VMMU_SET_MMU to guest_hw's kind and table format: 0 or -errno. */
int guest_set_hw(int vm_fd);

/*
 * For tests of SVM itself: can this machine run SVM vCPUs (0, and SVM is
 * guest_hw then; else the errno as above), and VMMU_SET_MMU to NPT with
 * SVM vCPUs (0 or -errno).
 */
int guest_svm_available(int sys_fd);
int guest_set_svm(int vm_fd);

/*
 * Does the test run under a slow emulator (VMMU_EMULATOR=bochs, set by
 * the Bochs lane, about 80 million guest instructions a second)?  Tests
 * then use smaller sizes.
 */
bool guest_slow_emulator(void);

/*
 * A VM with guest_hw's vCPUs, @mem_size bytes of anonymous memory in slot 0 at
 * guest-physical 0, and vCPU 0 with its kvm_run mapped.  Bails out on
 * failure.
 */
void guest_create(struct guest *g, int sys_fd, size_t mem_size);
/* The same with memory of transparent huge pages (2 MiB aligned). */
void guest_create_thp(struct guest *g, int sys_fd, size_t mem_size);
/* The same, with dirty rings of @ring_bytes (KVM_CAP_DIRTY_LOG_RING). */
void guest_create_ring(struct guest *g, int sys_fd, size_t mem_size,
		       u32 ring_bytes);
/* Close everything guest_create() opened and unmap its memory. */
void guest_destroy(struct guest *g);

/*
 * Another vCPU of @g's VM, with id @id and its kvm_run mapped at *@run
 * (g->mmap_size bytes), in vCPU 0's segment and control-register state
 * (KVM_GET_SREGS of vCPU 0, KVM_SET_SREGS on the new one).  Returns the vCPU
 * fd.  Bails out on failure.
 */
int guest_vcpu_add(struct guest *g, unsigned long id, struct kvm_run **run);

/* KVM_RUN: 0 or -errno. */
int guest_run(struct guest *g);
/* KVM_RUN, bailing out if it fails. */
void guest_run_or_die(struct guest *g);

/* Register ioctls, bailing out on failure (set_sregs returns it). */
void guest_get_regs(struct guest *g, struct kvm_regs *regs);
void guest_set_regs(struct guest *g, const struct kvm_regs *regs);
void guest_get_sregs(struct guest *g, struct kvm_sregs *sregs);
int guest_set_sregs(struct guest *g, const struct kvm_sregs *sregs);

/* Copy @len bytes of code to guest-physical @gpa. */
void guest_load(struct guest *g, u64 gpa, const void *code, size_t len);

/* Real mode, CS base 0, IP = @rip; other registers 0, RFLAGS 2. */
void guest_setup_real_mode(struct guest *g, u64 rip);
/* 32-bit flat protected mode without paging, at @rip. */
void guest_setup_protected_mode(struct guest *g, u64 rip);
/*
 * 64-bit long mode with the guest's own page tables at GUEST_PT_GPA,
 * identity-mapping GUEST_PT_MAPPED with 2 MiB pages; IDT limit 0 (any
 * exception is a triple fault).  RIP = @rip, RSP = @rsp.
 */
void guest_setup_long_mode(struct guest *g, u64 rip, u64 rsp);

/*
 * For a long-mode guest that takes exceptions or interrupts: a GDT in guest
 * memory at @gdt_gpa (flat 64-bit code at 0x08, data at 0x10, the selectors
 * guest_setup_long_mode() loads) and an IDT of @nr_vectors empty gates at
 * @idt_gpa, whose page the caller maps at @idt (guest memory or a slot of
 * its own); both loaded with KVM_SET_SREGS.  Bails out on failure.
 */
void guest_setup_gdt_idt(struct guest *g, u64 gdt_gpa, u64 *idt, u64 idt_gpa,
			 unsigned int nr_vectors);
/* A 64-bit interrupt gate (selector 0x08, DPL 0) for @vector at @handler. */
void guest_set_gate(u64 *idt, unsigned int vector, u64 handler);

/* The port I/O data of the last KVM_EXIT_IO. */
u8 *guest_io_data(struct guest *g);

/* "IO", "HLT", "SHUTDOWN" ... for a KVM_EXIT_* reason. */
const char *guest_exit_name(u32 reason);
/*
 * The detail of a KVM_EXIT_INTERNAL_ERROR in @run, into @buf: "suberror 1
 * (EMULATION), ndata 7: 0x1 0x4 ...", every data word the exit has.
 */
void guest_internal_error_str(const struct kvm_run *run, char *buf,
			      size_t size);
/* Print the last exit as "# " diagnostics. */
void guest_exit_diag(struct guest *g);
/*
 * KVM_RUN until the guest's next exit: true if it is an OUT or IN to
 * @port, else false with a diagnostic of what came instead.
 */
bool guest_run_to_port(struct guest *g, u16 port);

/*
 * One test: the last KVM_RUN returned @r == 0 and exited with @reason.
 * The exit is printed on failure.
 */
bool tap_guest_exit(struct guest *g, int r, u32 reason, const char *file,
		    int line, const char *fmt, ...);
#define ok_guest_exit(g, r, reason, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_guest_exit((g), (r), (reason), __FILE__, __LINE__, __VA_ARGS__))

/*
 * One test: the last exit is KVM_EXIT_IO with these @direction, @size and
 * @port, count 1, and (for OUT) @data in the I/O page.
 */
bool tap_guest_io(struct guest *g, int r, u8 direction, u8 size, u16 port,
		  u32 data, const char *file, int line, const char *fmt, ...);
#define ok_guest_io(g, r, direction, size, port, data, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_guest_io((g), (r), (direction), (size), (port), (data), \
		      __FILE__, __LINE__, __VA_ARGS__))

/*
 * One test: the last exit is KVM_EXIT_MMIO at @gpa, @len bytes, a write if
 * @is_write, and (for a write) the low @len bytes of kvm_run.mmio.data are
 * @data.
 */
bool tap_guest_mmio(struct guest *g, int r, u64 gpa, u32 len, bool is_write,
		    u64 data, const char *file, int line, const char *fmt, ...);
#define ok_guest_mmio(g, r, gpa, len, is_write, data, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_guest_mmio((g), (r), (gpa), (len), (is_write), (data), \
			__FILE__, __LINE__, __VA_ARGS__))

/* Answer an MMIO read: @len bytes of @data into kvm_run.mmio.data. */
void guest_mmio_reply(struct guest *g, u64 data);

#endif /* VMMU_SELFTESTS_GUEST_UTIL_H */
