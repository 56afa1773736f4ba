// SPDX-License-Identifier: GPL-2.0
/*
 * Memory caches: allocate while sleeping is allowed, use under mmu_lock.
 */
#include <linux/gfp.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmstat.h>

#include <vmmu/memcache.h>
#include <vmmu/stats.h>

static void *vmmu_memcache_new(struct vmmu_memcache *mc)
{
	void *obj;

	if (mc->kmem)
		return kmem_cache_zalloc(mc->kmem, GFP_KERNEL_ACCOUNT | mc->gfp);
	obj = (void *)__get_free_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO | mc->gfp);
	if (!obj)
		return NULL;
	/* Shown in /proc/meminfo and memory.stat as SecPageTables. */
	mod_lruvec_page_state(virt_to_page(obj), NR_SECONDARY_PAGETABLE, 1);
	vmmu_object_inc(VMMU_OBJ_PT_PAGE);
	return obj;
}

static void vmmu_memcache_release(struct vmmu_memcache *mc, void *obj)
{
	if (mc->kmem)
		kmem_cache_free(mc->kmem, obj);
	else
		vmmu_pt_page_free(obj);
}

/**
 * vmmu_pt_page_free() - free a page-table page
 * @table: the page, from a memcache without @kmem
 */
void vmmu_pt_page_free(void *table)
{
	mod_lruvec_page_state(virt_to_page(table), NR_SECONDARY_PAGETABLE, -1);
	free_page((unsigned long)table);
	vmmu_object_dec(VMMU_OBJ_PT_PAGE);
}

/**
 * vmmu_memcache_topup() - make sure at least @min objects are available
 * @mc: the cache
 * @min: objects needed, at most VMMU_MEMCACHE_CAPACITY
 *
 * May sleep.  Fills the cache completely when it has to allocate at all, so
 * most faults find it full.  The objects are charged to @mc->memcg, the VM
 * owner's memory cgroup, whichever thread allocates them.
 *
 * Return: 0, or -ENOMEM with the cache holding what could be allocated.
 */
int vmmu_memcache_topup(struct vmmu_memcache *mc, int min)
{
	struct mem_cgroup *old;
	int r = 0;

	might_sleep();
	if (mc->nobjs >= min)
		return 0;
	old = set_active_memcg(mc->memcg);
	while (mc->nobjs < VMMU_MEMCACHE_CAPACITY) {
		void *obj = vmmu_memcache_new(mc);

		if (!obj) {
			r = mc->nobjs >= min ? 0 : -ENOMEM;
			break;
		}
		mc->objs[mc->nobjs++] = obj;
	}
	set_active_memcg(old);
	return r;
}

/**
 * vmmu_memcache_alloc() - take an object; never sleeps
 * @mc: a cache topped up for this operation
 *
 * Return: the object, or NULL if the caller did not top up enough (a bug).
 */
void *vmmu_memcache_alloc(struct vmmu_memcache *mc)
{
	if (WARN_ON_ONCE(!mc->nobjs))
		return NULL;
	return mc->objs[--mc->nobjs];
}

/**
 * vmmu_memcache_put() - give back an object that was not used
 * @mc: the cache it came from
 * @obj: the object, zeroed again by the caller if it was written
 */
void vmmu_memcache_put(struct vmmu_memcache *mc, void *obj)
{
	if (mc->nobjs < VMMU_MEMCACHE_CAPACITY)
		mc->objs[mc->nobjs++] = obj;
	else
		vmmu_memcache_release(mc, obj);
}

/**
 * vmmu_memcache_free() - free every object in the cache
 * @mc: the cache
 */
void vmmu_memcache_free(struct vmmu_memcache *mc)
{
	while (mc->nobjs)
		vmmu_memcache_release(mc, mc->objs[--mc->nobjs]);
}
