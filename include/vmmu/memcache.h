/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory caches: objects allocated before mmu_lock is taken.
 *
 * Nothing allocates under mmu_lock.  A page fault tops its vCPU's caches up
 * to the most it can need (one page-table page and one vmmu_mmu_page per
 * level) while it may still sleep, then takes objects from them under the
 * lock.  An allocation failure therefore surfaces as -ENOMEM from the
 * top-up, before anything changed.
 */
#ifndef _VMMU_MEMCACHE_H
#define _VMMU_MEMCACHE_H

#include <linux/types.h>

#define VMMU_MEMCACHE_CAPACITY	8

struct kmem_cache;
struct mem_cgroup;

/**
 * struct vmmu_memcache - a small stack of preallocated objects
 * @nobjs: objects available
 * @kmem: where objects come from; NULL for zeroed page-table pages
 * @memcg: the memory cgroup charged for them (the VM owner's), or NULL
 * @gfp: flags added to GFP_KERNEL_ACCOUNT: __GFP_RETRY_MAYFAIL for a cache
 *	whose user copes with failure (the cgroup's limit then fails the
 *	allocation instead of waking its OOM killer)
 * @objs: the objects
 */
struct vmmu_memcache {
	int nobjs;
	struct kmem_cache *kmem;
	struct mem_cgroup *memcg;
	gfp_t gfp;
	void *objs[VMMU_MEMCACHE_CAPACITY];
};

int vmmu_memcache_topup(struct vmmu_memcache *mc, int min);
void *vmmu_memcache_alloc(struct vmmu_memcache *mc);
void vmmu_memcache_put(struct vmmu_memcache *mc, void *obj);
void vmmu_memcache_free(struct vmmu_memcache *mc);
void vmmu_pt_page_free(void *table);

#endif /* _VMMU_MEMCACHE_H */
