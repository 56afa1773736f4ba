// SPDX-License-Identifier: GPL-2.0
/*
 * Per-VM and per-vCPU statistics: the descriptor tables of include/vmmu/
 * stats.h, VMMU_GET_STATS, KVM_GET_STATS_FD and
 * <debugfs>/vmmu/<pid>-<id>/{stats,vcpu<n>/stats}.
 */
#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/overflow.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmmu.h>

#include <vmmu/stats.h>
#include <vmmu/tdp_mmu.h>
#include <vmmu/vcpu.h>
#include <vmmu/vm.h>

#include "dev.h"

static u64 vmmu_count_roots(const struct list_head *head, bool valid)
{
	struct vmmu_mmu_page *root;
	u64 n = 0;

	rcu_read_lock();
	if (valid)
		list_for_each_entry_rcu(root, head, valid_link)
			n++;
	else
		list_for_each_entry_rcu(root, head, invalid_link)
			n++;
	rcu_read_unlock();
	return n;
}

/* The VMMU_VM_VALUE() lines of include/vmmu/stats_vm.h. */
static u64 vmmu_vm_read_roots_valid(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return vmmu_count_roots(&vm->valid_roots, true);
}

static u64 vmmu_vm_read_roots_invalid(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return vmmu_count_roots(&vm->invalid_roots, false);
}

static u64 vmmu_vm_read_invalidate_seq(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->mmu_invalidate_seq);
}

static u64 vmmu_vm_read_invalidate_in_progress(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->mmu_invalidate_in_progress);
}

static u64 vmmu_vm_read_nx_lpage_splits(const void *owner)
{
	const struct vmmu_vm *vm = owner;

	return READ_ONCE(vm->nr_nx_tables);
}

/* VM lines with a place in struct vmmu_stats: the index of its __u64. */
#define VMMU_UAPI(member)						\
	((int)(offsetof(struct vmmu_stats, member) / sizeof(__u64)))

/* The VM's descriptors: one per line of the table. */
#define VMMU_VM_STAT(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vm_stats,			\
			   counters[VMMU_VM_STAT_##id]),		\
	.uapi_index = (uapi) },
#define VMMU_VM_LEVEL(level, id, kind, uapi) {			\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vm_stats, mapped[(level) - 1]),	\
	.uapi_index = (uapi) },
#define VMMU_VM_VALUE(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.read = vmmu_vm_read_##id, .uapi_index = (uapi) },

static const struct vmmu_stat_desc vmmu_vm_stats_desc[] = {
#include <vmmu/stats_vm.h>
};

const struct vmmu_stats_scope vmmu_vm_stats_scope = {
	.desc = vmmu_vm_stats_desc,
	.nr = ARRAY_SIZE(vmmu_vm_stats_desc),
	.stats_offset = offsetof(struct vmmu_vm, stats),
};

/*
 * The VM table and struct vmmu_stats agree: the lines with a uAPI place
 * are as many as the struct's __u64s before @reserved, and the sum of
 * BIT(index) over them has every one of those bits set, which n powers of
 * two below 2^n give only when no two are the same.  Likewise every level
 * has exactly one LEVEL line, so debugfs shows them all.
 */
#define VMMU_UAPI_NR	(offsetof(struct vmmu_stats, reserved) / sizeof(__u64))
/* An int, for enum constants; 0 for VMMU_NO_UAPI. */
#define VMMU_UAPI_BIT(index)	((1 << ((index) + 1)) >> 1)

enum {
	VMMU_VM_UAPI_LINES = 0
#define VMMU_VM_STAT(name, kind, uapi)		-((uapi) >= 0)
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-((uapi) >= 0)
#define VMMU_VM_VALUE(name, kind, uapi)		-((uapi) >= 0)
#include <vmmu/stats_vm.h>
	,
	VMMU_VM_UAPI_BITS = 0
#define VMMU_VM_STAT(name, kind, uapi)		-VMMU_UAPI_BIT(uapi)
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-VMMU_UAPI_BIT(uapi)
#define VMMU_VM_VALUE(name, kind, uapi)		-VMMU_UAPI_BIT(uapi)
#include <vmmu/stats_vm.h>
	,
	VMMU_VM_LEVEL_BITS = 0
#define VMMU_VM_LEVEL(level, name, kind, uapi)	-(1 << ((level) - 1))
#include <vmmu/stats_vm.h>
	,
};

static_assert(VMMU_UAPI_NR < 31);
static_assert(offsetof(struct vmmu_stats, reserved) % sizeof(__u64) == 0);
static_assert(-VMMU_VM_UAPI_LINES == VMMU_UAPI_NR);
static_assert(-VMMU_VM_UAPI_BITS == BIT(VMMU_UAPI_NR) - 1);
static_assert(-VMMU_VM_LEVEL_BITS == BIT(VMMU_MAX_LEVEL) - 1);

#undef VMMU_UAPI
/* The vCPU table has no ioctl struct: a VMMU_UAPI() there does not build. */
#define VMMU_UAPI(member)	BUILD_BUG_ON_ZERO(1)

#define VMMU_VCPU_STAT(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.offset = offsetof(struct vmmu_vcpu_stats,			\
			   counters[VMMU_VCPU_STAT_##id]),		\
	.uapi_index = (uapi) },
#define VMMU_VCPU_VALUE(id, kind, uapi) {				\
	.name = #id, VMMU_STAT_KIND_##kind, .size = 1,		\
	.read = vmmu_vcpu_read_##id, .uapi_index = (uapi) },

static const struct vmmu_stat_desc vmmu_vcpu_stats_desc[] = {
#include <vmmu/stats_vcpu.h>
};

const struct vmmu_stats_scope vmmu_vcpu_stats_scope = {
	.desc = vmmu_vcpu_stats_desc,
	.nr = ARRAY_SIZE(vmmu_vcpu_stats_desc),
	.stats_offset = offsetof(struct vmmu_vcpu, stats),
};

/**
 * vmmu_vm_fill_stats() - VMMU_GET_STATS: a VM's values, from its table
 * @vm: the VM
 * @st: filled in; counters are read one by one, not as one atomic snapshot
 */
void vmmu_vm_fill_stats(struct vmmu_vm *vm, struct vmmu_stats *st)
{
	vmmu_stats_fill(&vmmu_vm_stats_scope, vm, st, sizeof(*st));
}

static int vmmu_vm_stats_show(struct seq_file *m, void *unused)
{
	vmmu_stats_show(m, &vmmu_vm_stats_scope, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vm_stats);

static int vmmu_vcpu_stats_show(struct seq_file *m, void *unused)
{
	vmmu_stats_show(m, &vmmu_vcpu_stats_scope, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vmmu_vcpu_stats);

/**
 * vmmu_vm_debugfs_create() - <debugfs>/vmmu/<pid>-<id>/stats for a new VM
 * @vm: the VM
 *
 * Failures are ignored: the VM works without its debugfs files.
 */
void vmmu_vm_debugfs_create(struct vmmu_vm *vm)
{
	static atomic_t vmmu_vm_ids = ATOMIC_INIT(0);
	char name[32];

	snprintf(name, sizeof(name), "%d-%d", task_tgid_nr(current),
		 atomic_inc_return(&vmmu_vm_ids));
	vm->debugfs_dentry = debugfs_create_dir(name, vmmu_debugfs_root());
	debugfs_create_file("stats", 0444, vm->debugfs_dentry, vm,
			    &vmmu_vm_stats_fops);
}

/**
 * vmmu_vcpu_debugfs_create() - <debugfs>/vmmu/<pid>-<id>/vcpu<n>/stats
 * @vcpu: a vCPU just published; it lives as long as its VM, whose
 *	vmmu_vm_debugfs_remove() removes the file before the vCPU is freed
 *
 * Failures are ignored, as for the VM's files.
 */
void vmmu_vcpu_debugfs_create(struct vmmu_vcpu *vcpu)
{
	struct dentry *dir;
	char name[24];

	snprintf(name, sizeof(name), "vcpu%d", vcpu->vcpu_id);
	dir = debugfs_create_dir(name, vcpu->vm->debugfs_dentry);
	debugfs_create_file("stats", 0444, dir, vcpu, &vmmu_vcpu_stats_fops);
}

/**
 * vmmu_vm_debugfs_remove() - remove a VM's debugfs files
 * @vm: the VM; returns after every reader of the files is done with it
 */
void vmmu_vm_debugfs_remove(struct vmmu_vm *vm)
{
	debugfs_remove_recursive(vm->debugfs_dentry);
}

/*
 * KVM_GET_STATS_FD: KVM's binary statistics, generated from the same
 * tables.  The file holds, as KVM lays it out, the header, the id string
 * (VMMU_STATS_NAME_SIZE bytes), one descriptor per table line (struct
 * kvm_stats_desc and a name of that size) and the data block: each
 * line's u64 values, at the descriptor's offset from the block's start.
 * Everything before the data block is fixed when the fd is made; the data
 * is read from the counters at each read.
 */

/**
 * struct vmmu_stats_file - an fd of KVM_GET_STATS_FD
 * @vm: the VM, referenced while the fd is open (so its vCPUs live too)
 * @scope: the VM's table or the vCPUs'
 * @owner: the VM or the vCPU whose values the data block holds
 * @data_size: bytes of the data block
 * @head_size: bytes of @head, which is also the data block's offset
 * @head: the header, the id and the descriptors
 */
struct vmmu_stats_file {
	struct vmmu_vm *vm;
	const struct vmmu_stats_scope *scope;
	const void *owner;
	size_t data_size;
	size_t head_size;
	u8 head[];
};

/* The size of the id and of each name, KVM's (its KVM_STATS_NAME_SIZE). */
#define VMMU_STATS_NAME_SIZE	48
/*
 * A descriptor and its name.  Not sizeof(struct kvm_stats_desc): newer
 * kernels (6.12) give @name its fixed size inside the kernel (an empty
 * array outside), which sizeof would then count twice.
 */
#define VMMU_STATS_DESC_SIZE						\
	(offsetof(struct kvm_stats_desc, name) + VMMU_STATS_NAME_SIZE)

/* The file's fixed part, for @scope's table; NULL without memory. */
static struct vmmu_stats_file *
vmmu_stats_file_alloc(const struct vmmu_stats_scope *scope, const char *id)
{
	size_t head_size = sizeof(struct kvm_stats_header) +
			   VMMU_STATS_NAME_SIZE +
			   scope->nr * VMMU_STATS_DESC_SIZE;
	struct kvm_stats_header *hdr;
	struct vmmu_stats_file *sf;
	u32 offset = 0;
	unsigned int i;

	sf = kzalloc(struct_size(sf, head, head_size), GFP_KERNEL_ACCOUNT);
	if (!sf)
		return NULL;
	sf->scope = scope;
	sf->head_size = head_size;
	hdr = (struct kvm_stats_header *)sf->head;
	hdr->name_size = VMMU_STATS_NAME_SIZE;
	hdr->num_desc = scope->nr;
	hdr->id_offset = sizeof(*hdr);
	hdr->desc_offset = hdr->id_offset + VMMU_STATS_NAME_SIZE;
	hdr->data_offset = head_size;
	strscpy(sf->head + hdr->id_offset, id, VMMU_STATS_NAME_SIZE);
	for (i = 0; i < scope->nr; i++) {
		const struct vmmu_stat_desc *desc = &scope->desc[i];
		struct kvm_stats_desc *kd;

		kd = (void *)(sf->head + hdr->desc_offset +
			      i * VMMU_STATS_DESC_SIZE);
		kd->flags = desc->flags;
		kd->exponent = desc->exponent;
		kd->size = desc->size;
		kd->offset = offset;
		strscpy(kd->name, desc->name, VMMU_STATS_NAME_SIZE);
		offset += desc->size * sizeof(u64);
	}
	sf->data_size = offset;
	return sf;
}

/*
 * Copy [@pos, @pos + @len) of the data block to @buf, each value read now:
 * a line's first u64 is its value, any others read 0 (every line has one
 * today).  Nothing is allocated: a read cannot fail for memory.
 */
static int vmmu_stats_copy_data(const struct vmmu_stats_file *sf,
				char __user *buf, size_t pos, size_t len)
{
	const struct vmmu_stats_scope *scope = sf->scope;
	size_t start = 0, end = pos + len, from, n;
	unsigned int i, j;
	u64 v;

	for (i = 0; i < scope->nr && start < end; i++) {
		for (j = 0; j < scope->desc[i].size; j++, start += sizeof(v)) {
			if (start + sizeof(v) <= pos || start >= end)
				continue;
			v = j ? 0 : vmmu_stat_read(scope, &scope->desc[i],
						   sf->owner);
			from = max(start, pos);
			n = min(start + sizeof(v), end) - from;
			if (copy_to_user(buf + (from - pos),
					 (u8 *)&v + (from - start), n))
				return -EFAULT;
		}
	}
	return 0;
}

static ssize_t vmmu_stats_read(struct file *file, char __user *buf,
			       size_t len, loff_t *ppos)
{
	const struct vmmu_stats_file *sf = file->private_data;
	size_t total = sf->head_size + sf->data_size;
	size_t pos, n, done = 0;
	int r;

	if (*ppos < 0)
		return -EINVAL;
	if (*ppos >= total || !len)
		return 0;
	pos = *ppos;
	len = min(len, total - pos);
	if (pos < sf->head_size) {
		n = min(len, sf->head_size - pos);
		if (copy_to_user(buf, sf->head + pos, n))
			return -EFAULT;
		done = n;
	}
	if (done < len) {
		r = vmmu_stats_copy_data(sf, buf + done,
					 pos + done - sf->head_size,
					 len - done);
		if (r && !done)
			return r;
		if (!r)
			done = len;
	}
	*ppos = pos + done;
	return done;
}

static int vmmu_stats_release(struct inode *inode, struct file *file)
{
	struct vmmu_stats_file *sf = file->private_data;

	vmmu_dev_vm_put(sf->vm);
	kfree(sf);
	return 0;
}

static const struct file_operations vmmu_stats_fops = {
	.owner = THIS_MODULE,
	.read = vmmu_stats_read,
	.release = vmmu_stats_release,
	.llseek = noop_llseek,
};

/*
 * A new stats fd for @owner (the VM or one of its vCPUs), which holds a
 * reference to @vm until it is closed.
 */
static int vmmu_stats_fd(struct vmmu_vm *vm,
			 const struct vmmu_stats_scope *scope,
			 const void *owner, const char *id)
{
	struct vmmu_stats_file *sf;
	struct file *file;
	int fd;

	sf = vmmu_stats_file_alloc(scope, id);
	if (!sf)
		return -ENOMEM;
	sf->vm = vm;
	sf->owner = owner;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto err_free;
	file = anon_inode_getfile("vmmu-stats", &vmmu_stats_fops, sf,
				  O_RDONLY);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_free;
	}
	/* As KVM's: pread at any offset. */
	file->f_mode |= FMODE_PREAD;
	vmmu_vm_get(vm);
	fd_install(fd, file);
	return fd;

err_free:
	kfree(sf);
	return fd;
}

/**
 * vmmu_vm_get_stats_fd() - KVM_GET_STATS_FD on a VM fd
 * @vm: the VM, called from the process that created it
 *
 * The id is KVM's: "kvm-<pid>".
 *
 * Return: the new fd, -ENOMEM, or another negative errno (no fd left).
 */
int vmmu_vm_get_stats_fd(struct vmmu_vm *vm)
{
	char id[VMMU_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "kvm-%d", task_tgid_nr(current));
	return vmmu_stats_fd(vm, &vmmu_vm_stats_scope, vm, id);
}

/**
 * vmmu_vcpu_get_stats_fd() - KVM_GET_STATS_FD on a vCPU fd
 * @vcpu: the vCPU, called from the process that created its VM
 *
 * The id is KVM's: "kvm-<pid>/vcpu-<id>".
 *
 * Return: as vmmu_vm_get_stats_fd().
 */
int vmmu_vcpu_get_stats_fd(struct vmmu_vcpu *vcpu)
{
	char id[VMMU_STATS_NAME_SIZE];

	snprintf(id, sizeof(id), "kvm-%d/vcpu-%d", task_tgid_nr(current),
		 vcpu->vcpu_id);
	return vmmu_stats_fd(vcpu->vm, &vmmu_vcpu_stats_scope, vcpu, id);
}
