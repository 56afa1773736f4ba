// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for vmmu's selftests; see vmmu_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "vmmu_util.h"

long vmmu_ioctl(int fd, unsigned long request, unsigned long arg)
{
	long r = ioctl(fd, request, arg);

	return r < 0 ? -errno : r;
}

int vmmu_open(void)
{
	int fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		bail_out("open %s: %s", VMMU_DEVICE_PATH, strerror(errno));
	return fd;
}

int vmmu_create_vm(int sys_fd)
{
	return vmmu_ioctl(sys_fd, KVM_CREATE_VM, 0);
}

int vmmu_create_vm_or_die(int sys_fd)
{
	int vm_fd = vmmu_create_vm(sys_fd);

	if (vm_fd < 0)
		bail_out("KVM_CREATE_VM: %s", strerror(-vm_fd));
	return vm_fd;
}

long vmmu_check_extension(int fd, long cap)
{
	return vmmu_ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

int vmmu_set_region_struct(int vm_fd,
			   const struct kvm_userspace_memory_region *region)
{
	return vmmu_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION,
			  (unsigned long)region);
}

int vmmu_set_region(int vm_fd, u32 slot, u32 flags, u64 gpa,
		    u64 size, u64 hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = hva,
	};

	return vmmu_set_region_struct(vm_fd, &region);
}

int vmmu_delete_region(int vm_fd, u32 slot)
{
	return vmmu_set_region(vm_fd, slot, 0, 0, 0, 0);
}

struct vmmu_memslot_list *vmmu_memslots_alloc(u32 capacity)
{
	struct vmmu_memslot_list *list;

	list = calloc(1, sizeof(*list) +
			 (size_t)capacity * sizeof(list->entries[0]));
	if (!list)
		bail_out("out of memory for %u memslot entries", capacity);
	list->nr = capacity;
	return list;
}

int vmmu_get_memslots(int vm_fd, struct vmmu_memslot_list *list)
{
	return vmmu_ioctl(vm_fd, VMMU_GET_MEMSLOTS, (unsigned long)list);
}

struct vmmu_memslot_list *vmmu_memslots_read(int vm_fd)
{
	u32 capacity = 16;
	int attempt, r;

	for (attempt = 0; attempt < 8; attempt++) {
		struct vmmu_memslot_list *list = vmmu_memslots_alloc(capacity);

		r = vmmu_get_memslots(vm_fd, list);
		if (!r)
			return list;
		/* On E2BIG the kernel wrote the size it needs to nr. */
		capacity = list->nr;
		free(list);
		if (r != -E2BIG)
			break;
	}
	errno = -r;
	return NULL;
}

struct vmmu_memslot_list *vmmu_memslots_read_or_die(int vm_fd)
{
	struct vmmu_memslot_list *list = vmmu_memslots_read(vm_fd);

	if (!list)
		bail_out("VMMU_GET_MEMSLOTS: %s", strerror(errno));
	return list;
}

static size_t vmmu_memslots_bytes(const struct vmmu_memslot_list *list)
{
	return sizeof(*list) + (size_t)list->nr * sizeof(list->entries[0]);
}

bool vmmu_memslots_equal(const struct vmmu_memslot_list *a,
			 const struct vmmu_memslot_list *b)
{
	return a->nr == b->nr && !memcmp(a, b, vmmu_memslots_bytes(a));
}

static void vmmu_memslot_diag(const char *label, unsigned int i,
			      const struct vmmu_memslot_info *e)
{
	diag("  %s[%u]: slot %#x flags %#x gpa %#llx size %#llx hva %#llx",
	     label, i, e->slot, e->flags,
	     (unsigned long long)e->guest_phys_addr,
	     (unsigned long long)e->memory_size,
	     (unsigned long long)e->userspace_addr);
}

void vmmu_memslots_diag(const char *label,
			const struct vmmu_memslot_list *list)
{
	unsigned int i;

	diag("  %s: nr %u pad %u generation %llu", label, list->nr, list->pad,
	     (unsigned long long)list->generation);
	for (i = 0; i < list->nr; i++)
		vmmu_memslot_diag(label, i, &list->entries[i]);
}

bool tap_memslots(const struct vmmu_memslot_list *list,
		  const struct vmmu_memslot_info *want, unsigned int nr,
		  const char *file, int line, const char *fmt, ...)
{
	bool cond;
	unsigned int i;
	va_list ap;

	cond = list && list->nr == nr &&
	       (!nr || !memcmp(list->entries, want, nr * sizeof(*want)));
	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (cond)
		return true;
	diag("  expected: %u memslots", nr);
	for (i = 0; i < nr; i++)
		vmmu_memslot_diag("expected", i, &want[i]);
	if (list)
		vmmu_memslots_diag("got", list);
	else
		diag("  got: VMMU_GET_MEMSLOTS failed");
	return false;
}

bool tap_memslots_unchanged(int vm_fd, const struct vmmu_memslot_list *before,
			    const char *file, int line, const char *fmt, ...)
{
	struct vmmu_memslot_list *now = vmmu_memslots_read(vm_fd);
	bool cond = now && vmmu_memslots_equal(before, now);
	va_list ap;

	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		vmmu_memslots_diag("before", before);
		if (now)
			vmmu_memslots_diag("after", now);
		else
			diag("  after: VMMU_GET_MEMSLOTS: %s", strerror(errno));
	}
	free(now);
	return cond;
}

int vmmu_objects_read(struct vmmu_objects *objs)
{
	FILE *f = fopen(VMMU_DEBUGFS_OBJECTS, "re");
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
		{ "vms", offsetof(struct vmmu_objects, vms) },
		{ "memslot_sets", offsetof(struct vmmu_objects, memslot_sets) },
		{ "memslots", offsetof(struct vmmu_objects, memslots) },
		{ "vcpus", offsetof(struct vmmu_objects, vcpus) },
		{ "roots", offsetof(struct vmmu_objects, roots) },
		{ "pt_pages", offsetof(struct vmmu_objects, pt_pages) },
		{ "dirty_bitmaps", offsetof(struct vmmu_objects, dirty_bitmaps) },
	};
	unsigned int i, found = 0;
	char name[64];
	long value;

	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", name, &value) == 2) {
		for (i = 0; i < ARRAY_SIZE(fields); i++) {
			if (strcmp(name, fields[i].name))
				continue;
			*(long *)((char *)objs + fields[i].offset) = value;
			found |= 1U << i;
		}
	}
	fclose(f);
	return found == (1U << ARRAY_SIZE(fields)) - 1 ? 0 : -ENOENT;
}

void vmmu_objects_read_or_die(struct vmmu_objects *objs)
{
	int r = vmmu_objects_read(objs);

	if (r)
		bail_out("cannot read the object counters from %s: %s",
			 VMMU_DEBUGFS_OBJECTS, strerror(-r));
}

bool vmmu_objects_equal(const struct vmmu_objects *a,
			const struct vmmu_objects *b)
{
	return !memcmp(a, b, sizeof(*a));
}

void vmmu_objects_diag(const char *label, const struct vmmu_objects *o)
{
	diag("  %s: vms %ld memslot_sets %ld memslots %ld vcpus %ld",
	     label, o->vms, o->memslot_sets, o->memslots, o->vcpus);
	diag("  %s: roots %ld pt_pages %ld dirty_bitmaps %ld", label, o->roots,
	     o->pt_pages, o->dirty_bitmaps);
}

bool tap_objects(const struct vmmu_objects *want, const char *file, int line,
		 const char *fmt, ...)
{
	struct vmmu_objects now;
	bool cond;
	va_list ap;
	int r;

	r = vmmu_objects_read(&now);
	cond = !r && vmmu_objects_equal(&now, want);
	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		vmmu_objects_diag("expected", want);
		if (r)
			diag("  got: %s: %s", VMMU_DEBUGFS_OBJECTS, strerror(-r));
		else
			vmmu_objects_diag("     got", &now);
	}
	return cond;
}

long long meminfo_kib(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "re");
	long long kib = -ENOENT;
	size_t len = strlen(field);
	char line[128];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

long long meminfo_kib_exact(const char *field)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			diag("stat_refresh: %s", strerror(errno));
		close(fd);
	}
	return meminfo_kib(field);
}

long long meminfo_available_kib(void)
{
	return meminfo_kib("MemAvailable");
}

int vmmu_try_unload(void)
{
	long r = syscall(SYS_delete_module, VMMU_MODULE_NAME, O_NONBLOCK);

	return r < 0 ? -errno : (int)r;
}

u64 vmmu_task_size_max(void)
{
	/*
	 * With 5-level paging the user address space reaches 2^56 and a
	 * fixed mapping just above 2^47 succeeds; with 4-level paging that
	 * address is beyond TASK_SIZE and mmap() fails.
	 */
	void *hint = (void *)(1ULL << 47);
	void *p;

	p = mmap(hint, PAGE_SIZE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED && errno != EEXIST)
		return (1ULL << 47) - PAGE_SIZE;
	if (p != MAP_FAILED)
		munmap(p, PAGE_SIZE);
	if (p != MAP_FAILED && p != hint)
		return (1ULL << 47) - PAGE_SIZE;
	return (1ULL << 56) - PAGE_SIZE;
}

void *vmmu_alloc_guest_memory(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap %zu bytes: %s", size, strerror(errno));
	return p;
}

u64 vmmu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int vmmu_caps_get(struct __user_cap_header_struct *hdr,
			 struct __user_cap_data_struct *data)
{
	hdr->version = _LINUX_CAPABILITY_VERSION_3;
	hdr->pid = 0;
	return syscall(SYS_capget, hdr, data) ? -errno : 0;
}

int vmmu_set_sys_admin(bool on)
{
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	struct __user_cap_header_struct hdr;
	u32 bit = CAP_TO_MASK(CAP_SYS_ADMIN);
	int i = CAP_TO_INDEX(CAP_SYS_ADMIN);
	int r = vmmu_caps_get(&hdr, data);

	if (r)
		return r;
	if (on)
		data[i].effective |= bit;
	else
		data[i].effective &= ~bit;
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

bool vmmu_has_sys_admin(void)
{
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	struct __user_cap_header_struct hdr;

	return !vmmu_caps_get(&hdr, data) &&
	       (data[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
		CAP_TO_MASK(CAP_SYS_ADMIN));
}
