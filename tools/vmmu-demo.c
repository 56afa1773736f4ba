// SPDX-License-Identifier: GPL-2.0
/*
 * vmmu-demo: a walk through vmmu's VM and memslot uAPI, as a tiny VMM.
 *
 * It opens /dev/vmmu, asks what it supports, creates a VM, backs a PC-like
 * guest-physical layout with anonymous memory (low RAM, a read-only BIOS
 * ROM, high RAM), lists the memslots, moves one, shows that an overlapping
 * slot is refused, and deletes one, printing the memslot generation as it
 * goes.  Every result is checked: the exit status is 0 only if each one was
 * what KVM's uAPI promises.
 *
 * The program is a sequence of steps over one struct vmm, so that running a
 * guest is one more step (create a vCPU, load code into guest memory, run)
 * once vmmu has vCPUs.
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
typedef __u32 u32;
typedef __u64 u64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define KiB		1024ULL
#define MiB		(1024 * KiB)

/* The guest-physical layout: a region of guest memory per memslot. */
struct region {
	const char *name;
	u32 slot;
	u32 flags;
	u64 gpa;
	u64 size;
	u64 offset;	/* into the VMM's guest memory mapping */
};

static const struct region layout[] = {
	{ "low RAM", 0, 0, 0, 640 * KiB, 0 },
	{ "BIOS ROM", 1, KVM_MEM_READONLY, 0xf0000, 64 * KiB, 1 * MiB },
	{ "high RAM", 2, 0, 1 * MiB, 2 * MiB, 2 * MiB },
};

#define GUEST_MEM_SIZE	(4 * MiB)

struct vmm {
	int sys_fd;
	int vm_fd;
	int vcpu_fd;
	u8 *mem;		/* guest memory, GUEST_MEM_SIZE bytes */
	u64 generation;	/* of the memslot set last listed */
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
		{ EFAULT, "EFAULT" }, { ENOENT, "ENOENT" },
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
		{ "KVM_CAP_DESTROY_MEMORY_REGION_WORKS",
		  KVM_CAP_DESTROY_MEMORY_REGION_WORKS, 1 },
		{ "KVM_CAP_JOIN_MEMORY_REGIONS_WORKS",
		  KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, 1 },
		{ "KVM_CAP_MAX_VCPUS", KVM_CAP_MAX_VCPUS, 0 },
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
		       r ? "" : "  (not supported yet)");
		if (r < caps[i].need)
			unexpected(vmm, "%s is %ld, the demo needs %ld",
				   caps[i].name, r, caps[i].need);
	}
	return !vmm->unexpected;
}

static bool step_create_vm(struct vmm *vmm)
{
	struct vmmu_mmu_config cfg = { 0 };
	long r;

	heading("KVM_CREATE_VM");
	vmm->vm_fd = do_ioctl(vmm->sys_fd, KVM_CREATE_VM, 0);
	if (vmm->vm_fd < 0) {
		unexpected(vmm, "KVM_CREATE_VM: %s", result_str(vmm->vm_fd));
		return false;
	}
	printf("   VM fd %d\n", vmm->vm_fd);
	/* The demo's vCPU walks the tables in software (VMMU_VCPU_ACCESS). */
	cfg.format = VMMU_MMU_FORMAT_NPT;
	cfg.vcpu_kind = VMMU_VCPU_SOFTWARE;
	r = do_ioctl(vmm->vm_fd, VMMU_SET_MMU, (unsigned long)&cfg);
	if (r) {
		unexpected(vmm, "VMMU_SET_MMU (software vCPUs): %s", result_str(r));
		return false;
	}
	return true;
}

static bool step_guest_memory(struct vmm *vmm)
{
	static const char rom_sign[] = "vmmu demo BIOS";

	heading("Guest memory");
	vmm->mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vmm->mem == MAP_FAILED) {
		unexpected(vmm, "mmap: %s", strerror(errno));
		return false;
	}
	/* Something for a guest to find one day: a signature in the ROM. */
	memcpy(vmm->mem + layout[1].offset, rom_sign, sizeof(rom_sign));
	printf("   %llu MiB of anonymous memory at %p\n",
	       GUEST_MEM_SIZE / MiB, (void *)vmm->mem);
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
	list = list_slots(vmm);
	if (!list)
		return false;
	vmm->generation = list->generation;
	free(list);

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

static bool step_move(struct vmm *vmm)
{
	const struct region *high = &layout[2];
	const struct vmmu_memslot_info *e;
	struct vmmu_memslot_list *list;
	u64 new_gpa = 4 * MiB;
	bool good = true;
	int ret;

	heading("Move high RAM (same slot, hva and size; new gpa)");
	ret = set_region(vmm, high->slot, high->flags, new_gpa, high->size,
			 region_hva(vmm, high));
	printf("   slot %u: gpa %#llx -> %#llx: %s\n\n", high->slot,
	       (unsigned long long)high->gpa, (unsigned long long)new_gpa,
	       result_str(ret));
	if (ret)
		unexpected(vmm, "move refused");
	list = list_and_check(vmm, true);
	if (!list)
		return false;
	e = find_slot(list, high->slot);
	if (!e || e->guest_phys_addr != new_gpa) {
		unexpected(vmm, "slot %u is not at %#llx", high->slot,
			   (unsigned long long)new_gpa);
		good = false;
	}
	free(list);
	return good && !ret;
}

static bool step_noop(struct vmm *vmm)
{
	const struct region *low = &layout[0];
	struct vmmu_memslot_list *list;
	int ret;

	heading("Set low RAM again, unchanged: nothing happens");
	ret = set_region(vmm, low->slot, low->flags, low->gpa, low->size,
			 region_hva(vmm, low));
	printf("   slot %u: %s\n\n", low->slot, result_str(ret));
	if (ret)
		unexpected(vmm, "identical re-set refused");
	list = list_and_check(vmm, false);
	if (!list)
		return false;
	free(list);
	return !ret;
}

static bool step_overlap(struct vmm *vmm)
{
	const struct region *low = &layout[0];
	u64 gpa = 512 * KiB;
	int ret;

	heading("A new slot overlapping low RAM is refused");
	ret = set_region(vmm, 3, 0, gpa, 256 * KiB,
			 (unsigned long)vmm->mem + 3 * MiB);
	printf("   slot 3 gpa %#llx size 256 KiB (low RAM ends at %#llx): %s\n",
	       (unsigned long long)gpa,
	       (unsigned long long)(low->gpa + low->size), result_str(ret));
	if (ret != -EEXIST) {
		unexpected(vmm, "expected EEXIST");
		return false;
	}
	return true;
}

static bool step_delete(struct vmm *vmm)
{
	const struct region *rom = &layout[1];
	struct vmmu_memslot_list *list;
	bool good = true;
	int ret;

	heading("Delete the BIOS ROM slot (size 0)");
	ret = set_region(vmm, rom->slot, 0, 0, 0, 0);
	printf("   slot %u: %s\n\n", rom->slot, result_str(ret));
	if (ret)
		unexpected(vmm, "delete refused");
	list = list_and_check(vmm, true);
	if (!list)
		return false;
	if (find_slot(list, rom->slot)) {
		unexpected(vmm, "slot %u is still listed", rom->slot);
		good = false;
	}
	free(list);
	return good && !ret;
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
	printf("   gpa %#llx: %s, level %u, %s%s%s, spte %#llx\n",
	       (unsigned long long)gpa,
	       tr.flags & VMMU_TR_PRESENT ? "present" : "not present", tr.level,
	       tr.flags & VMMU_TR_WRITABLE ? "writable" : "read-only",
	       tr.flags & VMMU_TR_ACCESSED ? ", accessed" : "",
	       tr.flags & VMMU_TR_DIRTY ? ", dirty" : "",
	       (unsigned long long)tr.spte);
}

static bool step_vcpu(struct vmm *vmm)
{
	static const char msg[] = "hello from the software vCPU";
	const struct region *ram = &layout[0], *rom = &layout[1];
	struct vmmu_access acc;
	char back[sizeof(msg)];
	long r;

	heading("A software vCPU (KVM_CREATE_VCPU) walks the VM's page tables");
	vmm->vcpu_fd = do_ioctl(vmm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vmm->vcpu_fd < 0) {
		unexpected(vmm, "KVM_CREATE_VCPU: %s", result_str(vmm->vcpu_fd));
		return false;
	}
	r = vcpu_access(vmm, ram->gpa + 0x1000, (void *)msg, sizeof(msg),
			VMMU_ACCESS_WRITE, &acc);
	printf("   write \"%s\" at gpa 0x1000: %s, %u bytes\n", msg,
	       result_str(r), acc.done);
	if (r || acc.result != VMMU_ACCESS_DONE ||
	    memcmp(vmm->mem + ram->offset + 0x1000, msg, sizeof(msg)))
		unexpected(vmm, "the VMM does not see the guest's write");
	else
		printf("   the VMM reads it in its own mapping of guest memory\n");
	show_translation(vmm, ram->gpa + 0x1000);

	r = vcpu_access(vmm, ram->gpa + 0x1000, back, sizeof(back),
			VMMU_ACCESS_READ, &acc);
	if (r || memcmp(back, msg, sizeof(msg)))
		unexpected(vmm, "reading it back failed");

	r = vcpu_access(vmm, rom->gpa, (void *)msg, 4, VMMU_ACCESS_WRITE, &acc);
	printf("   write to the read-only BIOS ROM: %s\n",
	       acc.result == VMMU_ACCESS_MMIO ? "MMIO exit" : result_str(r));
	if (r || acc.result != VMMU_ACCESS_MMIO)
		unexpected(vmm, "a ROM write must be MMIO");
	r = vcpu_access(vmm, 0x300000, back, 4, VMMU_ACCESS_READ, &acc);
	printf("   read at gpa 0x300000, where no memslot is: %s\n",
	       acc.result == VMMU_ACCESS_MMIO ? "MMIO exit" : result_str(r));
	if (r || acc.result != VMMU_ACCESS_MMIO)
		unexpected(vmm, "a read outside memslots must be MMIO");
	return true;
}

static bool step_stats(struct vmm *vmm)
{
	struct vmmu_stats st;

	heading("MMU statistics (VMMU_GET_STATS)");
	if (do_ioctl(vmm->vm_fd, VMMU_GET_STATS, (unsigned long)&st)) {
		unexpected(vmm, "VMMU_GET_STATS failed");
		return false;
	}
	printf("   page faults          %llu (%llu retried)\n",
	       (unsigned long long)st.faults,
	       (unsigned long long)st.fault_retries);
	printf("   4 KiB pages mapped   %llu (now %llu)\n",
	       (unsigned long long)st.pages_mapped,
	       (unsigned long long)st.mapped[0]);
	printf("   page-table pages     %llu (%llu freed)\n",
	       (unsigned long long)st.tables,
	       (unsigned long long)st.tables_freed);
	printf("   roots                %llu valid, %llu invalidated\n",
	       (unsigned long long)st.roots_valid,
	       (unsigned long long)st.roots_invalidated);
	printf("   TLB flushes          %llu\n",
	       (unsigned long long)st.tlb_flushes);
	printf("   host invalidations   %llu\n",
	       (unsigned long long)st.invalidations);
	if (!st.faults || !st.pages_mapped)
		unexpected(vmm, "the vCPU's accesses must have faulted pages in");
	return true;
}

static bool (*const steps[])(struct vmm *vmm) = {
	step_open,
	step_system,
	step_create_vm,
	step_guest_memory,
	step_add_slots,
	step_move,
	step_noop,
	step_overlap,
	step_vcpu,
	step_delete,
	step_stats,
};

int main(void)
{
	static struct vmm the_vmm = { .sys_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	struct vmm *vmm = &the_vmm;
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("vmmu demo: VMs, memslots and a software vCPU on %s\n",
	       VMMU_DEVICE_PATH);
	for (i = 0; i < ARRAY_SIZE(steps); i++)
		if (!steps[i](vmm))
			break;

	if (vmm->vcpu_fd >= 0)
		close(vmm->vcpu_fd);
	if (vmm->vm_fd >= 0)
		close(vmm->vm_fd);
	if (vmm->sys_fd >= 0)
		close(vmm->sys_fd);
	if (i < ARRAY_SIZE(steps) || vmm->unexpected) {
		printf("\nvmmu demo FAILED: %u unexpected result(s)\n",
		       vmm->unexpected);
		return 1;
	}
	printf("\nvmmu demo done: every result was as expected\n");
	return 0;
}
