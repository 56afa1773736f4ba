// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for vmmu's MMU selftests; see mmu_util.h.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu_util.h"

const struct mmu_cfg mmu_cfgs[MMU_NR_CFGS] = {
	{ VMMU_MMU_FORMAT_NPT, 0 },
	{ VMMU_MMU_FORMAT_EPT, 4 },
	{ VMMU_MMU_FORMAT_EPT, 5 },
};

int mmu_host_levels(void)
{
	static int levels;

	if (!levels)
		levels = vmmu_task_size_max() > (1ULL << 47) ? 5 : 4;
	return levels;
}

unsigned int mmu_host_phys_bits(void)
{
	unsigned int eax, ebx, ecx, edx, bits;

	__cpuid(0x80000000, eax, ebx, ecx, edx);
	if (eax < 0x80000008)
		bail_out("no CPUID leaf 0x80000008: cannot tell MAXPHYADDR");
	__cpuid(0x80000008, eax, ebx, ecx, edx);
	bits = eax & 0xff;
	return bits > 52 ? 52 : bits;
}

unsigned int mmu_root_gpa_bits(unsigned int levels)
{
	unsigned int bits = 12 + 9 * levels;

	return bits > 52 ? 52 : bits;
}

unsigned int mmu_gpa_bits(unsigned int levels)
{
	unsigned int root = mmu_root_gpa_bits(levels);
	unsigned int host = mmu_host_phys_bits();

	return root < host ? root : host;
}

int mmu_set_mmu(int vm_fd, struct vmmu_mmu_config *cfg)
{
	return vmmu_ioctl(vm_fd, VMMU_SET_MMU, (unsigned long)cfg);
}

int mmu_get_mmu(int vm_fd, struct vmmu_mmu_config *cfg)
{
	return vmmu_ioctl(vm_fd, VMMU_GET_MMU, (unsigned long)cfg);
}

void mmu_cfg_name(const struct vmmu_mmu_config *cfg, char *buf, size_t size)
{
	const char *fmt = cfg->format == VMMU_MMU_FORMAT_EPT ? "ept" :
			  cfg->format == VMMU_MMU_FORMAT_NPT ? "npt" : "fmt?";

	snprintf(buf, size, "%s%u", fmt, cfg->levels);
}

void mmu_vm_create(int sys_fd, const struct mmu_cfg *c, struct mmu_vm *vm)
{
	struct vmmu_mmu_config cfg = {
		.format = c->format,
		.levels = c->levels,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	int r;

	vm->vm_fd = vmmu_create_vm_or_die(sys_fd);
	r = mmu_set_mmu(vm->vm_fd, &cfg);
	if (r)
		bail_out("VMMU_SET_MMU format %u levels %u: %s", c->format,
			 c->levels, errno_name(-r));
	vm->cfg = cfg;
	mmu_cfg_name(&cfg, vm->name, sizeof(vm->name));
}

void mmu_vm_close(struct mmu_vm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	vm->vm_fd = -1;
}

int mmu_create_vcpu(int vm_fd, unsigned long id)
{
	return vmmu_ioctl(vm_fd, KVM_CREATE_VCPU, id);
}

int mmu_create_vcpu_or_die(int vm_fd, unsigned long id)
{
	int fd = mmu_create_vcpu(vm_fd, id);

	if (fd < 0)
		bail_out("KVM_CREATE_VCPU %lu: %s", id, errno_name(-fd));
	return fd;
}

void mmu_set_region_or_die(int vm_fd, u32 slot, u32 flags,
			   u64 gpa, u64 size, const void *hva)
{
	int r = vmmu_set_region(vm_fd, slot, flags, gpa, size,
				(unsigned long)hva);

	if (r)
		bail_out("KVM_SET_USER_MEMORY_REGION slot %u gpa %#llx size %#llx: %s",
			 slot, (unsigned long long)gpa,
			 (unsigned long long)size, errno_name(-r));
}

int mmu_access(int vcpu_fd, u32 kind, u64 gpa, void *buf,
	       u32 len, struct vmmu_access *acc)
{
	struct vmmu_access a = {
		.gpa = gpa,
		.buf = (unsigned long)buf,
		.len = len,
		.kind = kind,
	};
	long r;

	r = vmmu_ioctl(vcpu_fd, VMMU_VCPU_ACCESS, (unsigned long)&a);
	if (acc)
		*acc = a;
	return r < 0 ? (int)r : (int)a.result;
}

const char *mmu_result_name(int r)
{
	static __thread char buf[32];

	switch (r) {
	case VMMU_ACCESS_DONE:
		return "DONE";
	case VMMU_ACCESS_MMIO:
		return "MMIO";
	case VMMU_ACCESS_INTR:
		return "INTR";
	}
	if (r < 0)
		snprintf(buf, sizeof(buf), "-%s", errno_name(-r));
	else
		snprintf(buf, sizeof(buf), "result %d", r);
	return buf;
}

int mmu_translate(int vcpu_fd, u64 gpa, struct vmmu_translation *tr)
{
	memset(tr, 0, sizeof(*tr));
	tr->gpa = gpa;
	return vmmu_ioctl(vcpu_fd, VMMU_VCPU_TRANSLATE, (unsigned long)tr);
}

const char *mmu_tr_flags_str(u32 flags)
{
	static const char * const names[] = {
		"PRESENT", "WRITABLE", "EXECUTABLE", "ACCESSED", "DIRTY",
		"PFN_VALID", "ROOT_INVALID", "NO_ROOT",
	};
	static char buf[128];
	unsigned int i;
	size_t n = 0;

	buf[0] = 0;
	for (i = 0; i < 32; i++) {
		if (!(flags & (1U << i)))
			continue;
		if (i < ARRAY_SIZE(names))
			n += snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      n ? "|" : "", names[i]);
		else
			n += snprintf(buf + n, sizeof(buf) - n, "%sbit%u",
				      n ? "|" : "", i);
		if (n >= sizeof(buf))
			break;
	}
	if (!n)
		snprintf(buf, sizeof(buf), "0");
	return buf;
}

void mmu_translation_diag(const char *label, const struct vmmu_translation *tr)
{
	diag("  %s: gpa %#llx flags %s level %u spte %#llx pfn %#llx", label,
	     (unsigned long long)tr->gpa, mmu_tr_flags_str(tr->flags),
	     tr->level, (unsigned long long)tr->spte,
	     (unsigned long long)tr->pfn);
}

bool tap_translation(int vcpu_fd, u64 gpa, u32 set, u32 clear,
		     struct vmmu_translation *tr_out, const char *file,
		     int line, const char *fmt, ...)
{
	struct vmmu_translation tr;
	bool cond;
	va_list ap;
	int r;

	r = mmu_translate(vcpu_fd, gpa, &tr);
	cond = !r && (tr.flags & set) == set && !(tr.flags & clear);
	va_start(ap, fmt);
	tap_vok(cond, file, line, fmt, ap);
	va_end(ap);
	if (!cond) {
		if (r) {
			diag("  VMMU_VCPU_TRANSLATE %#llx: -%s",
			     (unsigned long long)gpa, errno_name(-r));
		} else {
			diag("  expected flags with %s", mmu_tr_flags_str(set));
			diag("  and without %s", mmu_tr_flags_str(clear));
			mmu_translation_diag("got", &tr);
		}
	}
	if (tr_out)
		*tr_out = tr;
	return cond;
}

u64 mmu_pattern(u64 seed, u64 gpa)
{
	/* splitmix64 of (seed, address): cheap and well mixed. */
	u64 x = seed * 0xd1342543de82ef95ULL + (gpa >> 3) +
		     0x9e3779b97f4a7c15ULL;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x | 1;
}

void mmu_pattern_fill(void *buf, u64 gpa, size_t len, u64 seed)
{
	u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = mmu_pattern(seed, gpa + i * 8);
}

long mmu_pattern_mismatch(const void *buf, u64 gpa, size_t len,
			  u64 seed)
{
	const u64 *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (p[i] != mmu_pattern(seed, gpa + i * 8))
			return (long)(i * 8);
	return -1;
}

bool mmu_pattern_check(const void *buf, u64 gpa, size_t len,
		       u64 seed, const char *what)
{
	long off = mmu_pattern_mismatch(buf, gpa, len, seed);
	const u64 *p = buf;
	size_t i, bad = 0;

	if (off < 0)
		return true;
	for (i = off / 8; i < len / 8; i++)
		if (p[i] != mmu_pattern(seed, gpa + i * 8))
			bad++;
	diag("  %s: first difference at gpa %#llx: expected %#llx, got %#llx",
	     what, (unsigned long long)(gpa + off),
	     (unsigned long long)mmu_pattern(seed, gpa + off),
	     (unsigned long long)p[off / 8]);
	diag("  %s: %zu of %zu words differ", what, bad, len / 8);
	return false;
}

bool mmu_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int mmu_access_range(int vcpu_fd, u32 kind, u64 gpa,
			    void *buf, size_t len, size_t chunk)
{
	struct vmmu_access acc;
	size_t off, n;
	int r;

	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		r = mmu_access(vcpu_fd, kind, gpa + off, (char *)buf + off,
			       (u32)n, &acc);
		if (r == VMMU_ACCESS_DONE && acc.done == n)
			continue;
		diag("  %s of %zu bytes at gpa %#llx: %s, done %u",
		     kind == VMMU_ACCESS_WRITE ? "write" : "read", n,
		     (unsigned long long)(gpa + off), mmu_result_name(r),
		     acc.done);
		return r == VMMU_ACCESS_DONE ? -EIO : r;
	}
	return 0;
}

int mmu_guest_write_range(int vcpu_fd, u64 gpa, const void *buf,
			  size_t len, size_t chunk)
{
	return mmu_access_range(vcpu_fd, VMMU_ACCESS_WRITE, gpa, (void *)buf,
				len, chunk);
}

int mmu_guest_read_range(int vcpu_fd, u64 gpa, void *buf, size_t len,
			 size_t chunk)
{
	return mmu_access_range(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, len,
				chunk);
}

int mmu_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		bail_out("memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)size))
		bail_out("ftruncate memfd to %zu: %s", size, strerror(errno));
	return fd;
}

void *mmu_map_fd(int fd, size_t size, off_t offset, void *addr)
{
	void *p = mmap(addr, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (addr ? MAP_FIXED : 0), fd, offset);

	if (p == MAP_FAILED)
		bail_out("mmap of fd %d, %zu bytes at %p: %s", fd, size, addr,
			 strerror(errno));
	return p;
}

void *mmu_map_anon(size_t size, void *addr)
{
	void *p = mmap(addr, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | (addr ? MAP_FIXED : 0),
		       -1, 0);

	if (p == MAP_FAILED)
		bail_out("mmap of %zu anonymous bytes at %p: %s", size, addr,
			 strerror(errno));
	return p;
}

u64 mmu_pagemap_pfn(const void *hva)
{
	u64 entry = 0;
	off_t off = (off_t)((unsigned long)hva / PAGE_SIZE * sizeof(entry));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, &entry, sizeof(entry), off);
	close(fd);
	if (n != (ssize_t)sizeof(entry) || !(entry & (1ULL << 63)))
		return 0;
	return entry & ((1ULL << 55) - 1);
}

long mmu_anon_huge_kb(const void *p, size_t size)
{
	unsigned long start, end, lo = (unsigned long)p, hi = lo + size;
	bool in = false;
	char line[256];
	long kb, total = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start < hi && end > lo;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			total += kb;
	}
	fclose(f);
	return total;
}

long mmu_thp_collapse(void *p, size_t size, int tries)
{
	const size_t huge = 2UL << 20;
	long kb = mmu_anon_huge_kb(p, size);
	size_t off;

	while (tries-- > 0 && kb >= 0 && kb < (long)(size >> 10)) {
		for (off = 0; off < size; off += huge)
			madvise((char *)p + off, huge, MADV_COLLAPSE);
		kb = mmu_anon_huge_kb(p, size);
	}
	return kb;
}
