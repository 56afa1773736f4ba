// SPDX-License-Identifier: GPL-2.0
/*
 * vmmu-demo: a tiny VMM on /dev/vmmu.
 *
 * It speaks KVM's uAPI (<linux/kvm.h>) plus vmmu's own ioctls
 * (<linux/vmmu.h>), in the order a VMM does:
 *
 *  1. Open /dev/vmmu, ask what it supports, create a VM and choose its MMU:
 *     AMD NPT tables with SVM vCPUs, or Intel EPT tables with VMX vCPUs,
 *     that run real guest code.
 *  2. Back a PC-like guest-physical layout with anonymous memory: low RAM,
 *     a read-only BIOS ROM, high RAM (KVM_SET_USER_MEMORY_REGION); list it,
 *     see an overlapping slot refused, move and delete a spare slot.  High
 *     RAM starts at 2 MiB in guest-physical memory and in the VMM's mapping,
 *     which asks for transparent huge pages there: where the host backs it
 *     with 2 MiB pages, vmmu maps it with 2 MiB leaves.
 *  3. Run a guest: a few lines of position-independent 64-bit code with its
 *     own page tables, which the demo builds in guest memory and enters with
 *     KVM_SET_SREGS directly in long mode.  The guest says hello through an
 *     I/O port (the demo prints what it writes there), reads the ROM, writes
 *     a pattern over all of high RAM - nested page faults that vmmu resolves
 *     inside KVM_RUN, one per 2 MiB where the host has huge pages - sends
 *     back a checksum of it and halts.
 *     The demo checks the checksum, and the pattern in its own mapping.
 *  4. Print the MMU's counters (VMMU_GET_STATS) and the KVM_RUN exits.
 *
 * Without either (VMMU_SET_MMU fails with ENODEV: no CPU with SVM and NPT
 * or VMX and EPT, or one that does not show them), or with --software,
 * step 3 uses a
 * software vCPU instead: VMMU_VCPU_ACCESS reads and writes guest memory
 * through the same tables, walked in software, with the same page faults.
 *
 * Every result is checked; the exit status is 0 only if each one was as
 * expected.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define BIT_ULL(n)	(1ULL << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define PAGE_SIZE	(4 * KiB)

/* The guest-physical layout: a region of guest memory per memslot. */
struct region {
	const char *name;
	u32 slot;
	u32 flags;
	u64 gpa;
	u64 size;
	u64 offset;	/* into the VMM's guest memory mapping */
};

enum { LOW_RAM, ROM, HIGH_RAM };

static const struct region layout[] = {
	[LOW_RAM] = { "low RAM", 0, 0, 0, 640 * KiB, 0 },
	[ROM] = { "BIOS ROM", 1, KVM_MEM_READONLY, 0xf0000, 64 * KiB, 1 * MiB },
	/* gpa and offset both 2 MiB aligned: room for 2 MiB leaves. */
	[HIGH_RAM] = { "high RAM", 2, 0, 2 * MiB, 8 * MiB, 2 * MiB },
};

/* A slot that is added, moved and deleted to show how; no guest uses it. */
static const struct region spare = {
	"spare", 3, 0, 64 * MiB, 1 * MiB, 10 * MiB
};

#define GUEST_MEM_SIZE	(11 * MiB)
#define HUGE_PAGE	(2 * MiB)

/* What the BIOS ROM holds: the guest prints it. */
static const char rom_sign[] = "vmmu demo BIOS, read-only";

/*
 * Where things are in low RAM: the guest's page tables (PML4, PDPT and one
 * page directory of 2 MiB pages, identity-mapping the first GiB), its code
 * and its stack.
 */
#define PML4_GPA	0x1000ULL
#define PDPT_GPA	0x2000ULL
#define PD_GPA		0x3000ULL
#define CODE_GPA	0x8000ULL
#define STACK_TOP	0x80000ULL

/* Guest I/O ports: bytes of text, and 32-bit halves of the checksum. */
#define PORT_CONSOLE	0xe9
#define PORT_RESULT	0xea
#define STR(x)		#x
#define ASM_NUM(x)	STR(x)

/* The pattern the guest writes: one 64-bit word per 8 bytes of high RAM. */
#define PATTERN_SEED	0x5eedf00dcafe0000ULL
#define PATTERN_MUL	0x9e3779b97f4a7c15ULL

#define HELLO	"Hello from a guest running on vmmu's nested page tables!"

/*
 * The guest, 64-bit and position independent (RIP-relative addresses and
 * relative jumps only): the demo copies these bytes to CODE_GPA.
 * In: r8 = the ROM text, r9 = high RAM, r10 = its size, r11 = PATTERN_SEED,
 * r12 = PATTERN_MUL, rsp = the top of its stack.
 */
asm(".pushsection .rodata\n"
	"demo_guest:\n"
	".code64\n"
	"	lea	.Lhello(%rip), %rsi\n"
	"	call	.Lputs\n"
	"	lea	.Lrom_says(%rip), %rsi\n"
	"	call	.Lputs\n"
	"	mov	%r8, %rsi\n"
	"	call	.Lputs\n"
	"	lea	.Lwriting(%rip), %rsi\n"
	"	call	.Lputs\n"
	/* word at address a = (a ^ seed) * mul; a '.' per MiB */
	"	mov	%r9, %rdi\n"
	"	lea	(%r9, %r10), %rcx\n"
	"1:	mov	%rdi, %rax\n"
	"	xor	%r11, %rax\n"
	"	imul	%r12, %rax\n"
	"	mov	%rax, (%rdi)\n"
	"	add	$8, %rdi\n"
	"	test	$0xfffff, %edi\n"
	"	jnz	2f\n"
	"	mov	$'.', %al\n"
	"	out	%al, $" ASM_NUM(PORT_CONSOLE) "\n"
	"2:	cmp	%rcx, %rdi\n"
	"	jb	1b\n"
	"	lea	.Ldone(%rip), %rsi\n"
	"	call	.Lputs\n"
	/* checksum: rbx = rol(rbx, 5) ^ word, over the words read back */
	"	mov	%r9, %rdi\n"
	"	xor	%ebx, %ebx\n"
	"3:	rol	$5, %rbx\n"
	"	xor	(%rdi), %rbx\n"
	"	add	$8, %rdi\n"
	"	cmp	%rcx, %rdi\n"
	"	jb	3b\n"
	"	mov	%ebx, %eax\n"
	"	out	%eax, $" ASM_NUM(PORT_RESULT) "\n"
	"	mov	%rbx, %rax\n"
	"	shr	$32, %rax\n"
	"	out	%eax, $" ASM_NUM(PORT_RESULT) "\n"
	"	lea	.Lbye(%rip), %rsi\n"
	"	call	.Lputs\n"
	"	hlt\n"
	/* puts: the NUL-terminated text at rsi, to the console port */
	".Lputs:\n"
	"	lodsb\n"
	"	test	%al, %al\n"
	"	jz	4f\n"
	"	out	%al, $" ASM_NUM(PORT_CONSOLE) "\n"
	"	jmp	.Lputs\n"
	"4:	ret\n"
	".Lhello:	.asciz \"" HELLO "\\n\"\n"
	".Lrom_says: .asciz \"The BIOS ROM says: \"\n"
	".Lwriting: .asciz \"\\nWriting a pattern over high RAM, a dot per MiB: \"\n"
	".Ldone:	.asciz \" done\\nSending its checksum to port "
		ASM_NUM(PORT_RESULT) ".\\n\"\n"
	".Lbye:	.asciz \"Bye!\\n\"\n"
	"demo_guest_end:\n"
	".popsection\n");

/* The guest's code as assembled above, and its size. */
static const u8 *guest_code(size_t *size)
{
	const u8 *start, *end;

	asm("lea demo_guest(%%rip), %0\n\t"
	    "lea demo_guest_end(%%rip), %1"
	    : "=r" (start), "=r" (end));
	*size = end - start;
	return start;
}

/* x86 bits for the guest's state and page tables. */
#define CR0_PE		BIT_ULL(0)
#define CR0_ET		BIT_ULL(4)
#define CR0_NE		BIT_ULL(5)
#define CR0_PG		BIT_ULL(31)
#define CR4_PAE		BIT_ULL(5)
#define EFER_LME	BIT_ULL(8)
#define EFER_LMA	BIT_ULL(10)
#define PTE_PRESENT	BIT_ULL(0)
#define PTE_WRITE	BIT_ULL(1)
#define PTE_LARGE	BIT_ULL(7)

/* Counts of KVM_RUN exits by reason; IO by port. */
struct exit_counts {
	unsigned int runs;
	unsigned int io_console;
	unsigned int io_result;
	unsigned int hlt;
	unsigned int other;
};

struct vmm {
	bool want_hw;		/* false with --software */
	const struct hw_kind *hw; /* the VM's hardware vCPUs, or NULL */
	int sys_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;	/* hardware vCPUs only */
	size_t run_size;
	u8 *mem;		/* guest memory, GUEST_MEM_SIZE bytes */
	u64 generation;		/* of the memslot set last listed */
	struct exit_counts exits;
	unsigned int unexpected;
};

static void heading(const char *title)
{
	printf("\n== %s\n", title);
}

/* Count and report a result that is not what the uAPI promises. */
static void report_unexpected(struct vmm *vmm, const char *fmt, ...)
{
	va_list ap;

	vmm->unexpected++;
	printf("   UNEXPECTED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* unexpected(vmm, fmt, ...), with the format checked as printf()'s. */
#define unexpected(vmm, ...) \
	((void)(0 && printf(__VA_ARGS__)), report_unexpected(vmm, __VA_ARGS__))

static long do_ioctl(int fd, unsigned long request, unsigned long arg)
{
	long r = ioctl(fd, request, arg);

	return r < 0 ? -errno : r;
}

/* "ok", or the errno's name and text: "EEXIST (File exists)". */
static const char *result_str(long r)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ EINVAL, "EINVAL" }, { EEXIST, "EEXIST" }, { E2BIG, "E2BIG" },
		{ EIO, "EIO" }, { ENOTTY, "ENOTTY" }, { ENOMEM, "ENOMEM" },
		{ EFAULT, "EFAULT" }, { ENOENT, "ENOENT" }, { ENODEV, "ENODEV" },
		{ EBUSY, "EBUSY" }, { EINTR, "EINTR" },
	};
	static char buf[80];
	const char *name = "error";
	unsigned int i;

	if (r >= 0)
		return "ok";
	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].err == -r)
			name = names[i].name;
	snprintf(buf, sizeof(buf), "%s (%s)", name, strerror(-r));
	return buf;
}

static int set_region(struct vmm *vmm, u32 slot, u32 flags,
		      u64 gpa, u64 size, u64 hva)
{
	struct kvm_userspace_memory_region mem = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return do_ioctl(vmm->vm_fd, KVM_SET_USER_MEMORY_REGION,
			(unsigned long)&mem);
}

static u64 region_hva(const struct vmm *vmm, const struct region *r)
{
	return (unsigned long)vmm->mem + r->offset;
}

/* The VMM's pointer to guest-physical @gpa in region @r. */
static void *region_ptr(const struct vmm *vmm, const struct region *r,
			u64 gpa)
{
	return vmm->mem + r->offset + (gpa - r->gpa);
}

/* ---- Part 1: the system, a VM and its MMU ---- */

static bool step_open(struct vmm *vmm)
{
	heading("Open " VMMU_DEVICE_PATH);
	vmm->sys_fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (vmm->sys_fd < 0) {
		unexpected(vmm, "open: %s (is vmmu.ko loaded?)",
			   strerror(errno));
		return false;
	}
	printf("   fd %d\n", vmm->sys_fd);
	return true;
}

static bool step_system(struct vmm *vmm)
{
	static const struct {
		const char *name;
		long cap;
		long need;	/* the least value this demo relies on */
	} caps[] = {
		{ "KVM_CAP_USER_MEMORY", KVM_CAP_USER_MEMORY, 1 },
		{ "KVM_CAP_NR_MEMSLOTS", KVM_CAP_NR_MEMSLOTS, 4 },
		{ "KVM_CAP_READONLY_MEM", KVM_CAP_READONLY_MEM, 1 },
		{ "KVM_CAP_CHECK_EXTENSION_VM", KVM_CAP_CHECK_EXTENSION_VM, 1 },
		{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS, 1 },
		{ "KVM_CAP_IMMEDIATE_EXIT", KVM_CAP_IMMEDIATE_EXIT, 0 },
		{ "KVM_CAP_IRQCHIP", KVM_CAP_IRQCHIP, 0 },
	};
	unsigned int i;
	long r;

	heading("System ioctls");
	r = do_ioctl(vmm->sys_fd, KVM_GET_API_VERSION, 0);
	printf("   %-38s %ld\n", "KVM_GET_API_VERSION", r);
	if (r != KVM_API_VERSION)
		unexpected(vmm, "API version %ld, expected %d", r,
			   KVM_API_VERSION);
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		r = do_ioctl(vmm->sys_fd, KVM_CHECK_EXTENSION, caps[i].cap);
		printf("   %-38s %ld%s\n", caps[i].name, r,
		       r ? "" : "  (not supported)");
		if (r < caps[i].need)
			unexpected(vmm, "%s is %ld, the demo needs %ld",
				   caps[i].name, r, caps[i].need);
	}
	return !vmm->unexpected;
}

static bool step_create_vm(struct vmm *vmm)
{
	heading("KVM_CREATE_VM");
	vmm->vm_fd = do_ioctl(vmm->sys_fd, KVM_CREATE_VM, 0);
	if (vmm->vm_fd < 0) {
		unexpected(vmm, "KVM_CREATE_VM: %s", result_str(vmm->vm_fd));
		return false;
	}
	printf("   VM fd %d\n", vmm->vm_fd);
	return true;
}

/* The hardware vCPU kinds, in the order the demo tries them. */
struct hw_kind {
	const char *name;	/* "SVM" */
	const char *tables;	/* "NPT" */
	u32 vcpu_kind;
	u32 format;
	const char *missing;	/* why ENODEV, in a newcomer's words */
	const char *owner;	/* who has it when EBUSY */
};

static const struct hw_kind hw_kinds[] = {
	{ "SVM", "NPT", VMMU_VCPU_SVM, VMMU_MMU_FORMAT_NPT,
	  "this CPU has no SVM with NPT that vmmu can use",
	  "another hypervisor has SVM turned on: unload kvm_amd" },
	{ "VMX", "EPT", VMMU_VCPU_VMX, VMMU_MMU_FORMAT_EPT,
	  "this CPU has no VMX with EPT that vmmu can use",
	  "another hypervisor has VMX turned on: unload kvm_intel" },
};

static const char *kind_name(u32 vcpu_kind)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(hw_kinds); i++)
		if (hw_kinds[i].vcpu_kind == vcpu_kind)
			return hw_kinds[i].name;
	return vcpu_kind == VMMU_VCPU_SOFTWARE ? "software" : "unknown";
}

/* VMMU_SET_MMU with @kind's tables and vCPUs; true if the VM took them. */
static bool try_hw_kind(struct vmm *vmm, const struct hw_kind *kind)
{
	struct vmmu_mmu_config cfg = {
		.format = kind->format,
		.vcpu_kind = kind->vcpu_kind,
	};
	long r = do_ioctl(vmm->vm_fd, VMMU_SET_MMU, (unsigned long)&cfg);

	printf("   %s tables, %s vCPUs: %s\n", kind->tables, kind->name,
	       result_str(r));
	if (!r)
		return true;
	printf("   no %s vCPUs: %s.\n", kind->name,
	       r == -ENODEV ? kind->missing :
	       r == -EBUSY ? kind->owner : "unexpected error");
	/* Only ENODEV is "this machine has none"; the rest is wrong. */
	if (r != -ENODEV)
		unexpected(vmm, "VMMU_SET_MMU: %s", result_str(r));
	return false;
}

/*
 * VMMU_SET_MMU comes before the first memslot and vCPU: the page-table
 * format and the kind of vCPU (SVM with NPT or VMX with EPT: real guest
 * code; software: the tables walked by vmmu itself, chosen explicitly
 * because a new VM gets hardware vCPUs wherever vmmu has them).
 */
static bool step_choose_mmu(struct vmm *vmm)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	unsigned int i;
	long r;

	heading("Choose the MMU (VMMU_SET_MMU)");
	vmm->hw = NULL;
	for (i = 0; vmm->want_hw && i < ARRAY_SIZE(hw_kinds); i++) {
		if (try_hw_kind(vmm, &hw_kinds[i])) {
			vmm->hw = &hw_kinds[i];
			break;
		}
	}
	if (!vmm->want_hw)
		printf("   --software: hardware vCPUs not asked for\n");
	else if (!vmm->hw)
		printf("   The guest's part runs on a software vCPU instead.\n");
	if (!vmm->hw) {
		r = do_ioctl(vmm->vm_fd, VMMU_SET_MMU, (unsigned long)&cfg);
		printf("   NPT tables, software vCPUs: %s\n", result_str(r));
		if (r) {
			unexpected(vmm, "VMMU_SET_MMU (software): %s",
				   result_str(r));
			return false;
		}
	}
	if (do_ioctl(vmm->vm_fd, VMMU_GET_MMU, (unsigned long)&cfg)) {
		unexpected(vmm, "VMMU_GET_MMU failed");
		return false;
	}
	printf("   VMMU_GET_MMU: %s tables, %u levels, %u guest-physical address bits, %s vCPUs\n",
	       cfg.format == VMMU_MMU_FORMAT_NPT ? "NPT" : "EPT", cfg.levels,
	       cfg.gpa_bits, kind_name(cfg.vcpu_kind));
	if (cfg.vcpu_kind != (vmm->hw ? vmm->hw->vcpu_kind : VMMU_VCPU_SOFTWARE))
		unexpected(vmm, "VMMU_GET_MMU reads back vCPU kind %u",
			   cfg.vcpu_kind);
	return true;
}

/* ---- Part 2: guest memory and memslots ---- */

static bool step_guest_memory(struct vmm *vmm)
{
	const struct region *high = &layout[HIGH_RAM];
	u8 *map, *end;

	heading("Guest memory");
	/* 2 MiB aligned: map more, keep the aligned part, give back the rest. */
	map = mmap(NULL, GUEST_MEM_SIZE + HUGE_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		unexpected(vmm, "mmap: %s", strerror(errno));
		return false;
	}
	vmm->mem = (u8 *)(((unsigned long)map + HUGE_PAGE - 1) &
			  ~(HUGE_PAGE - 1));
	end = vmm->mem + GUEST_MEM_SIZE;
	if (vmm->mem > map)
		munmap(map, vmm->mem - map);
	munmap(end, map + GUEST_MEM_SIZE + HUGE_PAGE - end);
	/* Not fatal: a host without THP backs it with 4 KiB pages. */
	if (madvise(region_ptr(vmm, high, high->gpa), high->size,
		    MADV_HUGEPAGE))
		printf("   (no transparent huge pages here: %s)\n",
		       strerror(errno));
	/* The VMM writes the ROM; the guest can only read it. */
	memcpy(region_ptr(vmm, &layout[ROM], layout[ROM].gpa), rom_sign,
	       sizeof(rom_sign));
	printf("   %llu MiB of anonymous memory at %p; \"%s\" in the ROM\n",
	       GUEST_MEM_SIZE / MiB, (void *)vmm->mem, rom_sign);
	return true;
}

/* VMMU_GET_MEMSLOTS, printed as a table; NULL on failure (free() it). */
static struct vmmu_memslot_list *list_slots(struct vmm *vmm)
{
	struct vmmu_memslot_list *list;
	u32 capacity = 16;
	unsigned int i;
	long r;

	list = calloc(1, sizeof(*list) + capacity * sizeof(list->entries[0]));
	if (!list)
		return NULL;
	list->nr = capacity;
	r = do_ioctl(vmm->vm_fd, VMMU_GET_MEMSLOTS, (unsigned long)list);
	if (r) {
		unexpected(vmm, "VMMU_GET_MEMSLOTS: %s", result_str(r));
		free(list);
		return NULL;
	}
	if (!list->nr)
		printf("   (no memslots)\n");
	else
		printf("   %-4s  %-8s  %-18s  %-10s  %s\n", "slot", "flags",
		       "guest physical", "size", "host virtual");
	for (i = 0; i < list->nr; i++) {
		const struct vmmu_memslot_info *e = &list->entries[i];

		printf("   %-4u  %-8s  0x%016llx  %6llu KiB  %#llx\n", e->slot,
		       e->flags & KVM_MEM_READONLY ? "readonly" : "-",
		       (unsigned long long)e->guest_phys_addr,
		       (unsigned long long)(e->memory_size / KiB),
		       (unsigned long long)e->userspace_addr);
	}
	printf("   generation %llu\n", (unsigned long long)list->generation);
	return list;
}

/* List the slots and check the generation moved on (or not). */
static struct vmmu_memslot_list *list_and_check(struct vmm *vmm, bool changed)
{
	struct vmmu_memslot_list *list = list_slots(vmm);

	if (!list)
		return NULL;
	if (changed && list->generation <= vmm->generation)
		unexpected(vmm, "generation did not grow");
	if (!changed && list->generation != vmm->generation)
		unexpected(vmm, "generation changed");
	vmm->generation = list->generation;
	return list;
}

/* The listed slot with id @slot, or NULL. */
static const struct vmmu_memslot_info *
find_slot(const struct vmmu_memslot_list *list, u32 slot)
{
	unsigned int i;

	for (i = 0; i < list->nr; i++)
		if (list->entries[i].slot == slot)
			return &list->entries[i];
	return NULL;
}

static bool step_add_slots(struct vmm *vmm)
{
	struct vmmu_memslot_list *list;
	unsigned int i;
	bool good = true;

	heading("Add memslots (KVM_SET_USER_MEMORY_REGION)");
	for (i = 0; i < ARRAY_SIZE(layout); i++) {
		const struct region *r = &layout[i];
		int ret = set_region(vmm, r->slot, r->flags, r->gpa, r->size,
				     region_hva(vmm, r));

		printf("   slot %u %-9s gpa 0x%06llx size %5llu KiB%s: %s\n",
		       r->slot, r->name, (unsigned long long)r->gpa,
		       (unsigned long long)(r->size / KiB),
		       r->flags & KVM_MEM_READONLY ? " readonly" : "",
		       result_str(ret));
		if (ret) {
			unexpected(vmm, "slot %u not created", r->slot);
			good = false;
		}
	}
	printf("\n");
	list = list_and_check(vmm, true);
	if (!list)
		return false;
	if (list->nr != ARRAY_SIZE(layout)) {
		unexpected(vmm, "%u slots listed, expected %zu", list->nr,
			   ARRAY_SIZE(layout));
		good = false;
	}
	free(list);
	return good;
}

static bool step_noop(struct vmm *vmm)
{
	const struct region *low = &layout[LOW_RAM];
	struct vmmu_memslot_list *list;
	int ret;

	heading("Set low RAM again, unchanged: nothing happens");
	ret = set_region(vmm, low->slot, low->flags, low->gpa, low->size,
			 region_hva(vmm, low));
	printf("   slot %u: %s\n", low->slot, result_str(ret));
	if (ret)
		unexpected(vmm, "identical re-set refused");
	list = list_and_check(vmm, false);
	free(list);
	return list && !ret;
}

static bool step_overlap(struct vmm *vmm)
{
	const struct region *low = &layout[LOW_RAM];
	u64 gpa = 512 * KiB;
	int ret;

	heading("A new slot overlapping low RAM is refused");
	ret = set_region(vmm, spare.slot, 0, gpa, 256 * KiB,
			 region_hva(vmm, &spare));
	printf("   slot %u gpa %#llx size 256 KiB (low RAM ends at %#llx): %s\n",
	       spare.slot, (unsigned long long)gpa,
	       (unsigned long long)(low->gpa + low->size), result_str(ret));
	if (ret != -EEXIST) {
		unexpected(vmm, "expected EEXIST");
		return false;
	}
	return true;
}

/* Add the spare slot, move it (same slot, hva and size; new gpa), delete. */
static bool step_move_delete(struct vmm *vmm)
{
	const struct region *s = &spare;
	u64 new_gpa = 2 * s->gpa;
	struct vmmu_memslot_list *list;
	const struct vmmu_memslot_info *e;
	int add, move, del;
	bool good;

	heading("Add a spare slot, move it, delete it (size 0)");
	add = set_region(vmm, s->slot, 0, s->gpa, s->size, region_hva(vmm, s));
	move = set_region(vmm, s->slot, 0, new_gpa, s->size, region_hva(vmm, s));
	printf("   slot %u: add at %#llx: %s; move to %#llx: %s\n", s->slot,
	       (unsigned long long)s->gpa, result_str(add),
	       (unsigned long long)new_gpa, result_str(move));
	list = list_and_check(vmm, true);
	if (!list)
		return false;
	e = find_slot(list, s->slot);
	good = !add && !move && e && e->guest_phys_addr == new_gpa;
	if (!good)
		unexpected(vmm, "slot %u is not at %#llx", s->slot,
			   (unsigned long long)new_gpa);
	free(list);

	del = set_region(vmm, s->slot, 0, 0, 0, 0);
	printf("\n   slot %u: delete: %s\n", s->slot, result_str(del));
	list = list_and_check(vmm, true);
	if (!list)
		return false;
	if (del || find_slot(list, s->slot)) {
		unexpected(vmm, "slot %u is still there", s->slot);
		good = false;
	}
	free(list);
	return good;
}

/* ---- Part 3: a guest ---- */

static u64 pattern_word(u64 gpa)
{
	return (gpa ^ PATTERN_SEED) * PATTERN_MUL;
}

/* The checksum the guest computes, from the pattern's definition. */
static u64 expected_checksum(void)
{
	const struct region *r = &layout[HIGH_RAM];
	u64 gpa, sum = 0;

	for (gpa = r->gpa; gpa < r->gpa + r->size; gpa += 8)
		sum = ((sum << 5) | (sum >> 59)) ^ pattern_word(gpa);
	return sum;
}

/* Does the VMM's own mapping of high RAM hold the pattern? */
static bool check_high_ram(struct vmm *vmm)
{
	const struct region *r = &layout[HIGH_RAM];
	const u64 *words = region_ptr(vmm, r, r->gpa);
	u64 i;

	for (i = 0; i < r->size / 8; i++) {
		if (words[i] != pattern_word(r->gpa + i * 8)) {
			unexpected(vmm, "the VMM reads %#llx at gpa %#llx",
				   (unsigned long long)words[i],
				   (unsigned long long)(r->gpa + i * 8));
			return false;
		}
	}
	printf("   the VMM finds the pattern in all %llu MiB of its own mapping\n",
	       (unsigned long long)(r->size / MiB));
	return true;
}

static bool create_vcpu(struct vmm *vmm)
{
	vmm->vcpu_fd = do_ioctl(vmm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vmm->vcpu_fd < 0) {
		unexpected(vmm, "KVM_CREATE_VCPU: %s", result_str(vmm->vcpu_fd));
		return false;
	}
	printf("   KVM_CREATE_VCPU: vCPU fd %d\n", vmm->vcpu_fd);
	return true;
}

/* PML4 -> PDPT -> PD of 2 MiB pages, identity-mapping the first GiB. */
static void build_guest_page_tables(struct vmm *vmm)
{
	u64 *pml4 = region_ptr(vmm, &layout[LOW_RAM], PML4_GPA);
	u64 *pdpt = region_ptr(vmm, &layout[LOW_RAM], PDPT_GPA);
	u64 *pd = region_ptr(vmm, &layout[LOW_RAM], PD_GPA);
	unsigned int i;

	pml4[0] = PDPT_GPA | PTE_PRESENT | PTE_WRITE;
	pdpt[0] = PD_GPA | PTE_PRESENT | PTE_WRITE;
	for (i = 0; i < 512; i++)
		pd[i] = i * 2 * MiB | PTE_PRESENT | PTE_WRITE | PTE_LARGE;
}

/* A flat segment: base 0, limit 4 GiB; a 64-bit code or a data segment. */
static struct kvm_segment flat_segment(u16 selector, bool code)
{
	return (struct kvm_segment) {
		.selector = selector,
		.limit = 0xffffffff,
		.type = code ? 0xb : 0x3,	/* execute/read or read/write, accessed */
		.present = 1,
		.s = 1,
		.g = 1,
		.l = code,
		.db = !code,
	};
}

/*
 * Long mode straight away: no GDT or IDT in guest memory (the segment
 * registers are loaded as they are given; any exception shuts the guest
 * down), paging on with the tables above.
 */
static long enter_long_mode(struct vmm *vmm)
{
	struct kvm_sregs sregs;
	long r;

	r = do_ioctl(vmm->vcpu_fd, KVM_GET_SREGS, (unsigned long)&sregs);
	if (r)
		return r;
	sregs.cs = flat_segment(0x08, true);
	sregs.ds = flat_segment(0x10, false);
	sregs.es = sregs.ds;
	sregs.fs = sregs.ds;
	sregs.gs = sregs.ds;
	sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment) {
		.selector = 0x18, .limit = 0x67, .type = 0xb, .present = 1,
	};
	sregs.ldt = (struct kvm_segment) { .unusable = 1 };
	sregs.gdt = (struct kvm_dtable) { 0 };
	sregs.idt = (struct kvm_dtable) { 0 };
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	return do_ioctl(vmm->vcpu_fd, KVM_SET_SREGS, (unsigned long)&sregs);
}

/* The guest's registers at its first instruction: see demo_guest. */
static long set_entry_regs(struct vmm *vmm)
{
	const struct region *high = &layout[HIGH_RAM];
	struct kvm_regs regs = {
		.rip = CODE_GPA,
		.rsp = STACK_TOP,
		.rflags = 0x2,
		.r8 = layout[ROM].gpa,
		.r9 = high->gpa,
		.r10 = high->size,
		.r11 = PATTERN_SEED,
		.r12 = PATTERN_MUL,
	};

	return do_ioctl(vmm->vcpu_fd, KVM_SET_REGS, (unsigned long)&regs);
}

static bool load_guest(struct vmm *vmm)
{
	size_t size;
	const u8 *code = guest_code(&size);
	long r;

	memcpy(region_ptr(vmm, &layout[LOW_RAM], CODE_GPA), code, size);
	build_guest_page_tables(vmm);
	printf("   %zu bytes of guest code at %#llx\n", size, CODE_GPA);
	printf("   its page tables at %#llx: PML4, PDPT, PD of 2 MiB pages\n",
	       PML4_GPA);
	r = enter_long_mode(vmm);
	printf("   KVM_SET_SREGS (64-bit long mode, CR3 %#llx): %s\n",
	       PML4_GPA, result_str(r));
	if (r) {
		unexpected(vmm, "the vCPU refused long mode");
		return false;
	}
	r = set_entry_regs(vmm);
	printf("   KVM_SET_REGS (RIP %#llx, RSP %#llx): %s\n", CODE_GPA,
	       STACK_TOP, result_str(r));
	if (r) {
		unexpected(vmm, "KVM_SET_REGS failed");
		return false;
	}
	return true;
}

static bool map_kvm_run(struct vmm *vmm)
{
	long size = do_ioctl(vmm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);

	if (size < (long)sizeof(struct kvm_run)) {
		unexpected(vmm, "KVM_GET_VCPU_MMAP_SIZE: %ld", size);
		return false;
	}
	vmm->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			vmm->vcpu_fd, 0);
	if (vmm->run == MAP_FAILED) {
		vmm->run = NULL;
		unexpected(vmm, "mmap of the vCPU fd: %s", strerror(errno));
		return false;
	}
	vmm->run_size = size;
	return true;
}

/* What the guest has told the VMM so far. */
struct guest_output {
	char line[160];		/* console text not printed yet */
	size_t len;
	char first_line[160];
	unsigned int nr_results;
	u32 result[2];		/* the checksum, low half first */
};

static void console_flush(struct guest_output *out)
{
	out->line[out->len] = '\0';
	printf("   guest> %s\n", out->line);
	if (!out->first_line[0])
		strcpy(out->first_line, out->line);
	out->len = 0;
}

static void console_byte(struct guest_output *out, char c)
{
	if (c == '\n' || out->len == sizeof(out->line) - 1)
		console_flush(out);
	if (c != '\n')
		out->line[out->len++] = c;
}

/* Print the exit KVM_RUN returned with, when it is not one we expect. */
static void exit_diag(struct vmm *vmm)
{
	struct kvm_run *run = vmm->run;
	struct kvm_regs regs;

	printf("   exit_reason %u", run->exit_reason);
	if (run->exit_reason == KVM_EXIT_IO)
		printf(" (IO: port %#x, size %u, direction %u)", run->io.port,
		       run->io.size, run->io.direction);
	if (run->exit_reason == KVM_EXIT_SHUTDOWN)
		printf(" (SHUTDOWN: the guest took an exception)");
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		printf(" (INTERNAL_ERROR: suberror %u, data %#llx %#llx)",
		       run->internal.suberror,
		       (unsigned long long)run->internal.data[0],
		       (unsigned long long)run->internal.data[1]);
	if (!do_ioctl(vmm->vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
		printf(", guest RIP %#llx", (unsigned long long)regs.rip);
	putchar('\n');
}

/* One OUT from the guest; false if it is not one the guest makes. */
static bool handle_io(struct vmm *vmm, struct guest_output *out)
{
	struct kvm_run *run = vmm->run;
	const u8 *data = (const u8 *)run + run->io.data_offset;

	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.count != 1)
		return false;
	if (run->io.port == PORT_CONSOLE && run->io.size == 1) {
		vmm->exits.io_console++;
		console_byte(out, data[0]);
		return true;
	}
	if (run->io.port == PORT_RESULT && run->io.size == 4 &&
	    out->nr_results < ARRAY_SIZE(out->result)) {
		vmm->exits.io_result++;
		memcpy(&out->result[out->nr_results++], data, 4);
		return true;
	}
	return false;
}

/* KVM_RUN until the guest halts; false on anything else. */
static bool run_until_hlt(struct vmm *vmm, struct guest_output *out)
{
	long r;

	for (;;) {
		r = do_ioctl(vmm->vcpu_fd, KVM_RUN, 0);
		vmm->exits.runs++;
		if (r) {
			unexpected(vmm, "KVM_RUN: %s", result_str(r));
			return false;
		}
		if (vmm->run->exit_reason == KVM_EXIT_HLT) {
			vmm->exits.hlt++;
			break;
		}
		if (vmm->run->exit_reason == KVM_EXIT_IO && handle_io(vmm, out))
			continue;
		vmm->exits.other++;
		unexpected(vmm, "the guest exited in a way it never does:");
		exit_diag(vmm);
		return false;
	}
	if (out->len)
		console_flush(out);
	return true;
}

static bool check_guest_output(struct vmm *vmm, const struct guest_output *out)
{
	u64 sum = (u64)out->result[1] << 32 | out->result[0];
	u64 want = expected_checksum();
	bool good = true;

	printf("\n   the guest halted (KVM_EXIT_HLT)\n");
	if (strcmp(out->first_line, HELLO)) {
		unexpected(vmm, "the guest's first line is not its hello");
		good = false;
	}
	if (out->nr_results != 2) {
		unexpected(vmm, "the guest sent %u checksum halves, not 2",
			   out->nr_results);
		return false;
	}
	printf("   checksum from the guest %#018llx, computed by the VMM %#018llx: %s\n",
	       (unsigned long long)sum, (unsigned long long)want,
	       sum == want ? "equal" : "DIFFERENT");
	if (sum != want) {
		unexpected(vmm, "the guest's checksum is wrong");
		good = false;
	}
	return check_high_ram(vmm) && good;
}

static bool run_hw_guest(struct vmm *vmm)
{
	struct guest_output out = { .len = 0 };
	char title[64];

	snprintf(title, sizeof(title), "Run a 64-bit guest on the %s vCPU (KVM_RUN)",
		 vmm->hw->name);
	heading(title);
	if (!create_vcpu(vmm) || !map_kvm_run(vmm) || !load_guest(vmm))
		return false;
	printf("   KVM_RUN until the guest halts; what it writes to port %#x:\n\n",
	       PORT_CONSOLE);
	if (!run_until_hlt(vmm, &out))
		return false;
	return check_guest_output(vmm, &out);
}

/* Access guest memory through the software vCPU; returns -errno or 0. */
static long vcpu_access(struct vmm *vmm, u64 gpa, void *buf, u32 len,
			u32 kind, struct vmmu_access *acc)
{
	*acc = (struct vmmu_access) {
		.gpa = gpa,
		.buf = (unsigned long)buf,
		.len = len,
		.kind = kind,
	};
	return do_ioctl(vmm->vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)acc);
}

static void show_translation(struct vmm *vmm, u64 gpa)
{
	struct vmmu_translation tr = { .gpa = gpa };

	if (do_ioctl(vmm->vcpu_fd, VMMU_VCPU_TRANSLATE, (unsigned long)&tr)) {
		unexpected(vmm, "VMMU_VCPU_TRANSLATE failed");
		return;
	}
	printf("   VMMU_VCPU_TRANSLATE %#llx: %s, level %u, %s%s%s, spte %#llx\n",
	       (unsigned long long)gpa,
	       tr.flags & VMMU_TR_PRESENT ? "present" : "not present", tr.level,
	       tr.flags & VMMU_TR_WRITABLE ? "writable" : "read-only",
	       tr.flags & VMMU_TR_ACCESSED ? ", accessed" : "",
	       tr.flags & VMMU_TR_DIRTY ? ", dirty" : "",
	       (unsigned long long)tr.spte);
	if (!(tr.flags & VMMU_TR_PRESENT))
		unexpected(vmm, "a page just written is not mapped");
}

/* Hello, a ROM write and a read where no memory is. */
static void software_hello(struct vmm *vmm)
{
	static const char msg[] = "Hello from vmmu's software vCPU!";
	const u64 gpa = 0x1000;
	struct vmmu_access acc;
	char back[sizeof(msg)];
	long r;

	r = vcpu_access(vmm, gpa, (void *)msg, sizeof(msg), VMMU_ACCESS_WRITE,
			&acc);
	printf("   write \"%s\" at gpa %#llx: %s\n", msg,
	       (unsigned long long)gpa, result_str(r));
	if (r || acc.result != VMMU_ACCESS_DONE ||
	    memcmp(region_ptr(vmm, &layout[LOW_RAM], gpa), msg, sizeof(msg)))
		unexpected(vmm, "the VMM does not see the vCPU's write");
	else
		printf("   the VMM reads it in its own mapping of guest memory\n");
	show_translation(vmm, gpa);
	r = vcpu_access(vmm, gpa, back, sizeof(back), VMMU_ACCESS_READ, &acc);
	if (r || memcmp(back, msg, sizeof(msg)))
		unexpected(vmm, "reading it back failed");

	r = vcpu_access(vmm, layout[ROM].gpa, back, 4, VMMU_ACCESS_WRITE, &acc);
	printf("   write to the read-only BIOS ROM: %s\n",
	       acc.result == VMMU_ACCESS_MMIO ? "MMIO exit" : result_str(r));
	if (r || acc.result != VMMU_ACCESS_MMIO)
		unexpected(vmm, "a ROM write must be MMIO");
	r = vcpu_access(vmm, 0x300000000ULL, back, 4, VMMU_ACCESS_READ, &acc);
	printf("   read at gpa 0x300000000, where no memslot is: %s\n",
	       acc.result == VMMU_ACCESS_MMIO ? "MMIO exit" : result_str(r));
	if (r || acc.result != VMMU_ACCESS_MMIO)
		unexpected(vmm, "a read outside memslots must be MMIO");
}

/* What the hardware guest does to high RAM, page by page through the vCPU. */
static bool software_pattern(struct vmm *vmm)
{
	const struct region *high = &layout[HIGH_RAM];
	u64 page[PAGE_SIZE / 8], gpa, sum = 0;
	struct vmmu_access acc;
	unsigned int i;
	long r;

	for (gpa = high->gpa; gpa < high->gpa + high->size; gpa += PAGE_SIZE) {
		for (i = 0; i < ARRAY_SIZE(page); i++)
			page[i] = pattern_word(gpa + i * 8);
		r = vcpu_access(vmm, gpa, page, PAGE_SIZE, VMMU_ACCESS_WRITE,
				&acc);
		if (r || acc.result != VMMU_ACCESS_DONE) {
			unexpected(vmm, "write at gpa %#llx: %s, result %u",
				   (unsigned long long)gpa, result_str(r),
				   acc.result);
			return false;
		}
	}
	for (gpa = high->gpa; gpa < high->gpa + high->size; gpa += PAGE_SIZE) {
		r = vcpu_access(vmm, gpa, page, PAGE_SIZE, VMMU_ACCESS_READ,
				&acc);
		if (r || acc.result != VMMU_ACCESS_DONE) {
			unexpected(vmm, "read at gpa %#llx: %s",
				   (unsigned long long)gpa, result_str(r));
			return false;
		}
		for (i = 0; i < ARRAY_SIZE(page); i++)
			sum = ((sum << 5) | (sum >> 59)) ^ page[i];
	}
	printf("   wrote a pattern over %llu MiB of high RAM, read it back: sum %#018llx, %s\n",
	       (unsigned long long)(high->size / MiB), (unsigned long long)sum,
	       sum == expected_checksum() ? "as expected" : "WRONG");
	if (sum != expected_checksum())
		unexpected(vmm, "the checksum should be %#018llx",
			   (unsigned long long)expected_checksum());
	return check_high_ram(vmm);
}

static bool run_software_vcpu(struct vmm *vmm)
{
	heading("A software vCPU walks the VM's tables (VMMU_VCPU_ACCESS)");
	if (!create_vcpu(vmm))
		return false;
	software_hello(vmm);
	return software_pattern(vmm) && !vmm->unexpected;
}

static bool step_guest(struct vmm *vmm)
{
	return vmm->hw ? run_hw_guest(vmm) : run_software_vcpu(vmm);
}

/* ---- Part 4: what it cost ---- */

static void print_exits(const struct vmm *vmm)
{
	const struct exit_counts *e = &vmm->exits;

	printf("\n   KVM_RUN calls          %u; the exits that reached the VMM:\n",
	       e->runs);
	printf("     IO, port %#x        %u (one per character)\n",
	       PORT_CONSOLE, e->io_console);
	printf("     IO, port %#x        %u (the checksum)\n", PORT_RESULT,
	       e->io_result);
	printf("     HLT                  %u\n", e->hlt);
	printf("     anything else        %u\n", e->other);
	printf("   Nested page faults never reach the VMM: vmmu resolves them inside KVM_RUN.\n");
}

static bool step_stats(struct vmm *vmm)
{
	const struct region *high = &layout[HIGH_RAM];
	struct vmmu_stats st;
	u64 mapped_bytes;

	heading("MMU statistics (VMMU_GET_STATS)");
	if (do_ioctl(vmm->vm_fd, VMMU_GET_STATS, (unsigned long)&st)) {
		unexpected(vmm, "VMMU_GET_STATS failed");
		return false;
	}
	printf("   page faults            %llu (%llu retried)\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.fault_retries);
	printf("   leaves mapped          %llu (%llu of them neighbours by fault-around)\n",
	       (unsigned long long)st.pages_mapped,
	       (unsigned long long)st.prefetched);
	printf("   now present            %llu of 4 KiB, %llu of 2 MiB\n",
	       (unsigned long long)st.mapped[0],
	       (unsigned long long)st.mapped[1]);
	printf("   page-table pages       %llu (%llu freed)\n",
	       (unsigned long long)st.tables,
	       (unsigned long long)st.tables_freed);
	printf("   roots                  %llu valid, %llu invalidated\n",
	       (unsigned long long)st.roots_valid,
	       (unsigned long long)st.roots_invalidated);
	printf("   TLB flushes            %llu\n",
	       (unsigned long long)st.tlb_flushes);
	printf("   host invalidations     %llu\n",
	       (unsigned long long)st.invalidations);
	if (vmm->hw)
		print_exits(vmm);

	/* All of high RAM was touched: it must all be mapped now. */
	mapped_bytes = st.mapped[0] * 4 * KiB + st.mapped[1] * 2 * MiB +
		       st.mapped[2] * 1024 * MiB;
	if (!st.faults || !st.tables || mapped_bytes < high->size)
		unexpected(vmm, "%llu KiB mapped: high RAM alone is %llu KiB",
			   (unsigned long long)(mapped_bytes / KiB),
			   (unsigned long long)(high->size / KiB));
	return true;
}

static bool (*const steps[])(struct vmm *vmm) = {
	step_open,
	step_system,
	step_create_vm,
	step_choose_mmu,
	step_guest_memory,
	step_add_slots,
	step_noop,
	step_overlap,
	step_move_delete,
	step_guest,
	step_stats,
};

static void vmm_close(struct vmm *vmm)
{
	if (vmm->run)
		munmap(vmm->run, vmm->run_size);
	if (vmm->vcpu_fd >= 0)
		close(vmm->vcpu_fd);
	if (vmm->vm_fd >= 0)
		close(vmm->vm_fd);
	if (vmm->sys_fd >= 0)
		close(vmm->sys_fd);
	if (vmm->mem)
		munmap(vmm->mem, GUEST_MEM_SIZE);
}

int main(int argc, char **argv)
{
	static struct vmm the_vmm = {
		.want_hw = true, .sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1,
	};
	struct vmm *vmm = &the_vmm;
	unsigned int i;

	if (argc == 2 && !strcmp(argv[1], "--software")) {
		vmm->want_hw = false;
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--software]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("vmmu demo: a tiny VMM on %s\n", VMMU_DEVICE_PATH);
	for (i = 0; i < ARRAY_SIZE(steps); i++)
		if (!steps[i](vmm))
			break;
	vmm_close(vmm);

	if (i < ARRAY_SIZE(steps) || vmm->unexpected) {
		printf("\nvmmu demo FAILED: %u unexpected result(s)\n",
		       vmm->unexpected);
		return 1;
	}
	printf("\nvmmu demo done (%s vCPU): every result was as expected\n",
	       vmm->hw ? vmm->hw->name : "software");
	return 0;
}
