// SPDX-License-Identifier: GPL-2.0
/*
 * VMMU_TEST_PFNCACHE: test caches that userspace threads drive, for the
 * selftests only.  Each VM has up to VMMU_TEST_PFNCACHES of them, created
 * on first use and freed with the VM.
 *
 * READ and WRITE are sleepable readers: check, and refresh when the check
 * fails.  The timer is a reader that cannot sleep: a soft hrtimer whose
 * callback (softirq) writes through the cache when the check passes and
 * otherwise queues a work item that refreshes the cache.
 */
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>
#include <linux/workqueue.h>

#include <vmmu/pfncache.h>
#include <vmmu/vm.h>

/**
 * struct vmmu_pfncache_test - a cache driven by VMMU_TEST_PFNCACHE
 * @cache: the cache
 * @timer: the soft hrtimer consumer
 * @refresh_work: refreshes the cache for the timer
 * @timer_lock: serializes TIMER_START and TIMER_STOP
 * @period_ns: the timer's period; 0 while it is stopped
 * @timer_writes: callbacks that wrote through the cache
 * @timer_skips: callbacks that found the cache invalid
 */
struct vmmu_pfncache_test {
	struct vmmu_pfncache cache;
	struct hrtimer timer;
	struct work_struct refresh_work;
	struct mutex timer_lock;	/* TIMER_START, TIMER_STOP */
	u64 period_ns;
	atomic64_t timer_writes;
	atomic64_t timer_skips;
};

static_assert(ARRAY_SIZE(((struct vmmu_vm *)0)->pfncache_tests) ==
	      VMMU_TEST_PFNCACHES);

/* The words the timer writes: (n, ~n). */
#define VMMU_TEST_TIMER_BYTES	16

static void vmmu_pfncache_test_refresh_work(struct work_struct *work)
{
	struct vmmu_pfncache_test *t =
		container_of(work, struct vmmu_pfncache_test, refresh_work);
	struct mm_struct *mm = t->cache.vm->mm;

	/* A refresh looks the page up in the VM's mm, if it still lives. */
	if (!mmget_not_zero(mm))
		return;
	kthread_use_mm(mm);
	/* Errors (inactive, unmapped) wait for the next callback. */
	vmmu_pfncache_refresh(&t->cache, VMMU_TEST_TIMER_BYTES);
	kthread_unuse_mm(mm);
	mmput(mm);
}

static enum hrtimer_restart vmmu_pfncache_test_timer(struct hrtimer *timer)
{
	struct vmmu_pfncache_test *t =
		container_of(timer, struct vmmu_pfncache_test, timer);
	unsigned long flags;
	u64 *p, n;

	read_lock_irqsave(&t->cache.lock, flags);
	if (vmmu_pfncache_check(&t->cache, VMMU_TEST_TIMER_BYTES)) {
		p = t->cache.khva;
		n = atomic64_inc_return(&t->timer_writes);
		WRITE_ONCE(p[0], n);
		WRITE_ONCE(p[1], ~n);
		vmmu_pfncache_mark_dirty(&t->cache, NULL);
	} else {
		atomic64_inc(&t->timer_skips);
		/* Never wait here: a work item refreshes. */
		schedule_work(&t->refresh_work);
	}
	read_unlock_irqrestore(&t->cache.lock, flags);
	hrtimer_forward_now(timer, ns_to_ktime(READ_ONCE(t->period_ns)));
	return HRTIMER_RESTART;
}

/* The test cache @id, created on first use; NULL if out of memory. */
static struct vmmu_pfncache_test *vmmu_pfncache_test_get(struct vmmu_vm *vm,
							 u32 id)
{
	struct vmmu_pfncache_test *t, *old;

	/* Pairs with the cmpxchg() below, which publishes a new one. */
	t = smp_load_acquire(&vm->pfncache_tests[id]);
	if (t)
		return t;
	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return NULL;
	vmmu_pfncache_init(&t->cache, vm);
	hrtimer_init(&t->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	t->timer.function = vmmu_pfncache_test_timer;
	INIT_WORK(&t->refresh_work, vmmu_pfncache_test_refresh_work);
	mutex_init(&t->timer_lock);
	old = cmpxchg(&vm->pfncache_tests[id], NULL, t);
	if (!old)
		return t;
	vmmu_pfncache_destroy(&t->cache);
	kfree(t);
	return old;
}

static void vmmu_pfncache_test_timer_stop(struct vmmu_pfncache_test *t)
{
	mutex_lock(&t->timer_lock);
	if (t->period_ns) {
		hrtimer_cancel(&t->timer);
		cancel_work_sync(&t->refresh_work);
		t->period_ns = 0;
	}
	mutex_unlock(&t->timer_lock);
}

static int vmmu_pfncache_test_timer_start(struct vmmu_pfncache_test *t,
					  u64 period_ns)
{
	if (period_ns < 10000 || period_ns > NSEC_PER_SEC)
		return -EINVAL;
	mutex_lock(&t->timer_lock);
	if (!t->period_ns) {
		WRITE_ONCE(t->period_ns, period_ns);
		hrtimer_start(&t->timer, ns_to_ktime(period_ns),
			      HRTIMER_MODE_REL_SOFT);
	}
	mutex_unlock(&t->timer_lock);
	return 0;
}

/*
 * Copy in 8-byte words where the range allows, each one whole (READ_ONCE,
 * WRITE_ONCE), so that tests can check words that other users of the cache
 * write at the same time.
 */
static void vmmu_pfncache_test_memcpy(void *dst, const void *src, size_t len)
{
	size_t i;

	if (!IS_ALIGNED((unsigned long)dst | (unsigned long)src | len, 8)) {
		memcpy(dst, src, len);
		return;
	}
	for (i = 0; i < len / 8; i++)
		WRITE_ONCE(((u64 *)dst)[i], READ_ONCE(((const u64 *)src)[i]));
}

/* READ or WRITE: a sleepable reader of the cache. */
static int vmmu_pfncache_test_copy(struct vmmu_pfncache_test *t,
				   struct vmmu_test_pfncache *arg)
{
	void __user *ubuf = u64_to_user_ptr(arg->buf);
	bool write = arg->op == VMMU_TEST_PFNCACHE_WRITE;
	unsigned long end = (unsigned long)arg->offset + arg->len;
	unsigned long flags;
	void *bounce;
	int r = 0;

	if (!arg->len || end > PAGE_SIZE)
		return -EINVAL;
	bounce = kmalloc(arg->len, GFP_KERNEL_ACCOUNT);
	if (!bounce)
		return -ENOMEM;
	if (write && copy_from_user(bounce, ubuf, arg->len)) {
		r = -EFAULT;
		goto out;
	}
	read_lock_irqsave(&t->cache.lock, flags);
	while (!vmmu_pfncache_check(&t->cache, end)) {
		read_unlock_irqrestore(&t->cache.lock, flags);
		r = vmmu_pfncache_refresh(&t->cache, end);
		if (r)
			goto out;
		read_lock_irqsave(&t->cache.lock, flags);
	}
	if (write) {
		vmmu_pfncache_test_memcpy(t->cache.khva + arg->offset, bounce,
					  arg->len);
		vmmu_pfncache_mark_dirty(&t->cache, NULL);
	} else {
		vmmu_pfncache_test_memcpy(bounce, t->cache.khva + arg->offset,
					  arg->len);
	}
	read_unlock_irqrestore(&t->cache.lock, flags);
	if (!write && copy_to_user(ubuf, bounce, arg->len))
		r = -EFAULT;
out:
	kfree(bounce);
	return r;
}

static int vmmu_pfncache_test_op(struct vmmu_pfncache_test *t,
				 struct vmmu_test_pfncache *arg)
{
	switch (arg->op) {
	case VMMU_TEST_PFNCACHE_ACTIVATE:
		return vmmu_pfncache_activate(&t->cache, arg->gpa, arg->len);
	case VMMU_TEST_PFNCACHE_DEACTIVATE:
		vmmu_pfncache_deactivate(&t->cache);
		return 0;
	case VMMU_TEST_PFNCACHE_REFRESH:
		return vmmu_pfncache_refresh(&t->cache, arg->len);
	case VMMU_TEST_PFNCACHE_READ:
	case VMMU_TEST_PFNCACHE_WRITE:
		return vmmu_pfncache_test_copy(t, arg);
	case VMMU_TEST_PFNCACHE_TIMER_START:
		return vmmu_pfncache_test_timer_start(t, arg->period_ns);
	case VMMU_TEST_PFNCACHE_TIMER_STOP:
		vmmu_pfncache_test_timer_stop(t);
		return 0;
	case VMMU_TEST_PFNCACHE_STATS:
		return 0;
	default:
		return -EINVAL;
	}
}

static void vmmu_pfncache_test_stats(struct vmmu_pfncache_test *t,
				     struct vmmu_test_pfncache *arg)
{
	unsigned long flags;

	read_lock_irqsave(&t->cache.lock, flags);
	arg->refreshes = t->cache.refreshes;
	arg->retries = t->cache.retries;
	read_unlock_irqrestore(&t->cache.lock, flags);
	arg->timer_writes = atomic64_read(&t->timer_writes);
	arg->timer_skips = atomic64_read(&t->timer_skips);
}

/**
 * vmmu_pfncache_test_ioctl() - VMMU_TEST_PFNCACHE
 * @vm: the VM
 * @uarg: the user's struct vmmu_test_pfncache
 *
 * Return: 0, -EFAULT, -EINVAL (bad op, id, reserved field, range or
 * period; an inactive cache), -ENOMEM, or an error of activate or refresh.
 */
int vmmu_pfncache_test_ioctl(struct vmmu_vm *vm,
			     struct vmmu_test_pfncache __user *uarg)
{
	struct vmmu_test_pfncache arg;
	struct vmmu_pfncache_test *t;
	int i, r;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	for (i = 0; i < ARRAY_SIZE(arg.reserved); i++)
		if (arg.reserved[i])
			return -EINVAL;
	if (arg.id >= VMMU_TEST_PFNCACHES || !arg.op ||
	    arg.op > VMMU_TEST_PFNCACHE_STATS)
		return -EINVAL;
	t = vmmu_pfncache_test_get(vm, arg.id);
	if (!t)
		return -ENOMEM;
	r = vmmu_pfncache_test_op(t, &arg);
	vmmu_pfncache_test_stats(t, &arg);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return r;
}

/**
 * vmmu_pfncache_test_destroy() - free a VM's test caches
 * @vm: the VM; no fd refers to it any more
 */
void vmmu_pfncache_test_destroy(struct vmmu_vm *vm)
{
	int i;

	for (i = 0; i < VMMU_TEST_PFNCACHES; i++) {
		struct vmmu_pfncache_test *t = vm->pfncache_tests[i];

		if (!t)
			continue;
		vmmu_pfncache_test_timer_stop(t);
		vmmu_pfncache_destroy(&t->cache);
		mutex_destroy(&t->timer_lock);
		kfree(t);
		vm->pfncache_tests[i] = NULL;
	}
}
