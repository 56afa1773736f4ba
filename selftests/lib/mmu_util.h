/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for vmmu's MMU selftests: VMs in a chosen page-table format,
 * software vCPUs, guest accesses and translations, data patterns, and the
 * module's full set of object counters.
 *
 * As in vmmu_util.h, wrappers of an ioctl return its result or -errno, and
 * helpers whose failure makes the rest of a test meaningless bail out.
 */
#ifndef VMMU_SELFTESTS_MMU_UTIL_H
#define VMMU_SELFTESTS_MMU_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/kvm.h>
#include <linux/vmmu.h>

#include "tap.h"
#include "vmmu_util.h"

/* EPT entry bits (Intel SDM vol. 3, "EPT Paging-Structure Entries"). */
#define MMU_EPT_READ		BIT_ULL(0)
#define MMU_EPT_WRITE		BIT_ULL(1)
#define MMU_EPT_EXEC		BIT_ULL(2)
#define MMU_EPT_MT_SHIFT	3
#define MMU_EPT_MT_MASK		(7ULL << MMU_EPT_MT_SHIFT)
#define MMU_EPT_MT_WB		6ULL
#define MMU_EPT_ACCESSED	BIT_ULL(8)
#define MMU_EPT_DIRTY		BIT_ULL(9)

/* x86-64 page-table bits, as AMD NPT uses them. */
#define MMU_NPT_PRESENT		BIT_ULL(0)
#define MMU_NPT_WRITE		BIT_ULL(1)
#define MMU_NPT_USER		BIT_ULL(2)
#define MMU_NPT_ACCESSED	BIT_ULL(5)
#define MMU_NPT_DIRTY		BIT_ULL(6)
#define MMU_NPT_NX		BIT_ULL(63)

/* Host frame bits of an entry of either format. */
#define MMU_SPTE_PFN_MASK	0x000ffffffffff000ULL

/* A page-table configuration to run a test in. */
struct mmu_cfg {
	u32 format;	/* VMMU_MMU_FORMAT_* */
	u32 levels;	/* 0: the default */
};

/* The configurations every data test runs in: NPT default, EPT 4, EPT 5. */
#define MMU_NR_CFGS	3
extern const struct mmu_cfg mmu_cfgs[MMU_NR_CFGS];

/**
 * struct mmu_vm - a VM set up in one configuration
 * @vm_fd: the VM fd
 * @cfg: the configuration as VMMU_SET_MMU returned it
 * @name: "npt5", "ept4", ...: prefix of the TAP lines about this VM
 */
struct mmu_vm {
	int vm_fd;
	struct vmmu_mmu_config cfg;
	char name[8];
};

/* Paging levels of the host: 5 with LA57 in use, else 4. */
int mmu_host_levels(void);
/* The host's MAXPHYADDR: CPUID 0x80000008 EAX[7:0], as vmmu reads it. */
unsigned int mmu_host_phys_bits(void);
/* Guest-physical address bits a root with @levels levels maps. */
unsigned int mmu_root_gpa_bits(unsigned int levels);
/*
 * The gpa_bits of a VM whose root has @levels levels: what the root maps,
 * but no more than the host's MAXPHYADDR.  Memslots end below 2^gpa_bits.
 */
unsigned int mmu_gpa_bits(unsigned int levels);

/* VMMU_SET_MMU / VMMU_GET_MMU: 0 or -errno. */
int mmu_set_mmu(int vm_fd, struct vmmu_mmu_config *cfg);
int mmu_get_mmu(int vm_fd, struct vmmu_mmu_config *cfg);

/* A new VM in configuration @c; bails out on failure. */
void mmu_vm_create(int sys_fd, const struct mmu_cfg *c, struct mmu_vm *vm);
void mmu_vm_close(struct mmu_vm *vm);
/* "npt5" etc. for a configuration as VMMU_GET_MMU reports it. */
void mmu_cfg_name(const struct vmmu_mmu_config *cfg, char *buf, size_t size);

/* KVM_CREATE_VCPU: the vCPU fd, or -errno. */
int mmu_create_vcpu(int vm_fd, unsigned long id);
int mmu_create_vcpu_or_die(int vm_fd, unsigned long id);

/* KVM_SET_USER_MEMORY_REGION on a VM, bailing out on failure. */
void mmu_set_region_or_die(int vm_fd, u32 slot, u32 flags,
			   u64 gpa, u64 size, const void *hva);

/*
 * VMMU_VCPU_ACCESS of @len bytes at @gpa through @buf.  Returns the result
 * (VMMU_ACCESS_DONE, _MMIO or _INTR) or -errno; if @acc is not NULL it
 * receives the whole answer.
 */
int mmu_access(int vcpu_fd, u32 kind, u64 gpa, void *buf,
	       u32 len, struct vmmu_access *acc);

static inline int mmu_read(int vcpu_fd, u64 gpa, void *buf, u32 len)
{
	return mmu_access(vcpu_fd, VMMU_ACCESS_READ, gpa, buf, len, NULL);
}

static inline int mmu_write(int vcpu_fd, u64 gpa, const void *buf,
			    u32 len)
{
	return mmu_access(vcpu_fd, VMMU_ACCESS_WRITE, gpa, (void *)buf, len,
			  NULL);
}

/* "DONE", "MMIO", "-EFAULT" ... for a mmu_access() result; per thread. */
const char *mmu_result_name(int r);

/* VMMU_VCPU_TRANSLATE of @gpa: 0 or -errno. */
int mmu_translate(int vcpu_fd, u64 gpa, struct vmmu_translation *tr);
/* Print @tr as a "# " diagnostic. */
void mmu_translation_diag(const char *label, const struct vmmu_translation *tr);
/* "PRESENT|ACCESSED|..." for VMMU_TR_* flags, in a static buffer. */
const char *mmu_tr_flags_str(u32 flags);

/*
 * One test: VMMU_VCPU_TRANSLATE of @gpa succeeds and its flags have every
 * bit of @set and no bit of @clear.  The translation is printed on failure
 * and stored in @tr_out if that is not NULL.
 */
bool tap_translation(int vcpu_fd, u64 gpa, u32 set, u32 clear,
		     struct vmmu_translation *tr_out, const char *file,
		     int line, const char *fmt, ...);
#define ok_translation(vcpu_fd, gpa, set, clear, tr_out, ...) \
	(tap_check_format(__VA_ARGS__), \
	 tap_translation((vcpu_fd), (gpa), (set), (clear), (tr_out), \
			 __FILE__, __LINE__, __VA_ARGS__))

/*
 * Data patterns.  mmu_pattern() is the 8-byte word that pattern @seed has at
 * guest-physical address @gpa (a multiple of 8): every word of every page
 * differs, a pattern never has a zero word, and patterns of different seeds
 * differ.  Buffers start at an 8-byte aligned @gpa and have a length that is
 * a multiple of 8.
 */
u64 mmu_pattern(u64 seed, u64 gpa);
void mmu_pattern_fill(void *buf, u64 gpa, size_t len, u64 seed);
/* Byte offset of the first word that differs from the pattern, or -1. */
long mmu_pattern_mismatch(const void *buf, u64 gpa, size_t len,
			  u64 seed);
/* Same, printing the first difference as a diagnostic labelled @what. */
bool mmu_pattern_check(const void *buf, u64 gpa, size_t len,
		       u64 seed, const char *what);
/* True if @len bytes at @buf are all zero. */
bool mmu_is_zero(const void *buf, size_t len);

/*
 * Guest accesses of a whole range in @chunk-byte pieces (the last may be
 * shorter); the pieces start at @gpa, so an odd @chunk makes them straddle
 * page boundaries.  Return 0 when every access is VMMU_ACCESS_DONE with all
 * bytes done, else the first bad result (or -EIO for a short DONE), with a
 * diagnostic.
 */
int mmu_guest_write_range(int vcpu_fd, u64 gpa, const void *buf,
			  size_t len, size_t chunk);
int mmu_guest_read_range(int vcpu_fd, u64 gpa, void *buf, size_t len,
			 size_t chunk);

/* A memfd of @size bytes; bails out on failure. */
int mmu_memfd(const char *name, size_t size);
/*
 * mmap() @size bytes of @fd at @offset, shared, read-write; at exactly @addr
 * (MAP_FIXED) if it is not NULL.  Bails out on failure.
 */
void *mmu_map_fd(int fd, size_t size, off_t offset, void *addr);
/* Anonymous private read-write memory; at exactly @addr if not NULL. */
void *mmu_map_anon(size_t size, void *addr);

/*
 * The host frame mapped at @hva, from /proc/self/pagemap (needs
 * CAP_SYS_ADMIN to be non-zero); 0 if not present or unreadable.
 */
u64 mmu_pagemap_pfn(const void *hva);

/*
 * AnonHugePages (kB) of the mappings that overlap [@p, @p + @size), from
 * /proc/self/smaps (whole mappings: a range inside one counts all of it);
 * -errno if unreadable.
 */
long mmu_anon_huge_kb(const void *p, size_t size);

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

/*
 * Asks the host to back [@p, @p + @size) (2 MiB aligned, in a mapping of
 * its own, touched) with transparent huge pages: MADV_COLLAPSE of each
 * 2 MiB, for up to @tries rounds while smaps shows less than all of it huge
 * (a collapse may fail for a moment: EAGAIN under memory pressure, a page
 * briefly pinned).  Returns mmu_anon_huge_kb() of the range afterwards.
 */
long mmu_thp_collapse(void *p, size_t size, int tries);

#endif /* VMMU_SELFTESTS_MMU_UTIL_H */
