// SPDX-License-Identifier: GPL-2.0
/*
 * The statistics tables: VMMU_GET_STATS and <debugfs>/vmmu/<pid>-<n>/stats
 * come from one descriptor table, so after a scripted workload they agree
 * on every counter, and the per-vCPU file counts the exits the guest made.
 *
 * Software vCPU (every lane): writes and reads through VMMU_VCPU_ACCESS,
 * MADV_DONTNEED of part of the memory, VMMU_ZAP_ALL and a read on the new
 * root.  Then VMMU_GET_STATS, the debugfs file, VMMU_GET_STATS again: every
 * value of struct vmmu_stats has its line in the file (under the name the
 * table gives it), with a value between the two snapshots; the workload
 * moved the counters it must have moved; the vCPU's file has the vCPU
 * table's lines; the VM's directory goes with its last fd.
 *
 * Hardware vCPU (SVM or VMX, else skipped): a real-mode guest makes 3 OUT,
 * 2 IN, an MMIO write, an MMIO read and a HLT, then spins until a signal
 * ends KVM_RUN.  The vCPU's file counts exactly those exits, and the VM's
 * values agree again.
 *
 * KVM_GET_STATS_FD, on the VM and on each vCPU (KVM_CAP_BINARY_STATS_FD):
 * KVM's header, with the id "kvm-<pid>" or "kvm-<pid>/vcpu-<id>" right
 * after it; one descriptor per debugfs line, same names in the same
 * order, one u64 each at offset 8 * i, of KVM's types, units and bases
 * (faults and exits cumulative, pages_4k instant); the data block equal
 * to the debugfs values of the idle VM; every byte the same read one at a
 * time with pread; nothing past the end; read() going on from where it
 * stopped; write() refused (EBADF).  The fds hold the VM: with the VM and
 * vCPU fds closed, the VM's debugfs directory stays and the fds still read;
 * a forked child's copy of the VM's stats fd keeps the VM after the parent
 * closed its own, reads it, and the child's exit ends the VM.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"

#define DEBUGFS_VMMU	"/sys/kernel/debug/vmmu"

#define SW_GPA		0x100000ULL
#define SW_NPAGES	64
#define SW_NDROP	8
#define SEED		0x57a7

#define HW_MEM_SIZE	0x10000ULL	/* MMIO at 0xa0000 is beyond it */
#define HW_CODE_GPA	0x1000ULL
#define HW_MMIO_GPA	0xa0000ULL

/* The id's and every name's size in KVM's binary statistics. */
#define STATS_NAME_SIZE	48

#define NR_AGREE	(1 + NR_UAPI)
#define NR_BINARY	9
#define NR_SW		(NR_AGREE + 6 + 3 + 1 + 1 + 2 * NR_BINARY + 1)
#define NR_HW		(2 + 6 + NR_AGREE + NR_BINARY)
#define NR_TESTS	(NR_SW + NR_HW)

/* Every value of struct vmmu_stats and the name the VM table gives it. */
#define UAPI(member, name)	{ name, offsetof(struct vmmu_stats, member) }
static const struct {
	const char *name;
	size_t offset;
} uapi_stats[] = {
	UAPI(faults, "faults"),
	UAPI(fault_retries, "fault_retries"),
	UAPI(pages_mapped, "pages_mapped"),
	UAPI(mapped[0], "pages_4k"),
	UAPI(mapped[1], "pages_2m"),
	UAPI(mapped[2], "pages_1g"),
	UAPI(mapped[3], "pages_512g"),
	UAPI(mapped[4], "pages_256t"),
	UAPI(leaves_zapped, "leaves_zapped"),
	UAPI(tables, "tables"),
	UAPI(tables_freed, "tables_freed"),
	UAPI(invalidations, "invalidations"),
	UAPI(roots_valid, "roots_valid"),
	UAPI(roots_invalid, "roots_invalid"),
	UAPI(roots_invalidated, "roots_invalidated"),
	UAPI(tlb_flushes, "remote_tlb_flush"),
	UAPI(young_cleared, "young_cleared"),
	UAPI(invalidate_seq, "invalidate_seq"),
	UAPI(invalidate_in_progress, "invalidate_in_progress"),
	UAPI(leaves_wrprot, "leaves_wrprot"),
	UAPI(pf_fast, "pf_fast"),
	UAPI(huge_splits, "huge_splits"),
	UAPI(huge_recovered, "huge_recovered"),
	UAPI(prefetched, "prefetched"),
};

#define NR_UAPI		24
static_assert(ARRAY_SIZE(uapi_stats) == NR_UAPI, "NR_UAPI");
static_assert(NR_UAPI * sizeof(__u64) ==
	      offsetof(struct vmmu_stats, reserved),
	      "every value of struct vmmu_stats has its name here");

/* The vCPU table's names, in its order. */
static const char *const vcpu_stats[] = {
	"exits", "io_exits", "mmio_exits", "halt_exits", "irq_injections",
	"irq_window_exits", "request_irq_exits", "nmi_injections",
	"nmi_window_exits", "emulator_replays",
	"signal_exits", "tlb_flush", "dirty_ring_full_exits",
};

#define MAX_LINES	64

/* A debugfs stats file: its "name value" lines. */
struct stats_file {
	unsigned int nr;
	char name[MAX_LINES][48];
	unsigned long long value[MAX_LINES];
	bool well_formed;	/* every line parsed, no name twice */
};

static void stats_file_read(const char *path, struct stats_file *sf)
{
	char line[128], rest[2];
	FILE *f = fopen(path, "re");
	unsigned int i;

	memset(sf, 0, sizeof(*sf));
	sf->well_formed = f;
	if (!f) {
		diag("%s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sf->nr == MAX_LINES ||
		    sscanf(line, "%47s %llu %1s", sf->name[sf->nr],
			   &sf->value[sf->nr], rest) != 2) {
			diag("%s: cannot parse: %s", path, line);
			sf->well_formed = false;
			continue;
		}
		for (i = 0; i < sf->nr; i++)
			if (!strcmp(sf->name[i], sf->name[sf->nr]))
				sf->well_formed = false;
		sf->nr++;
	}
	fclose(f);
}

/* The value of @name, or -1 (as unsigned) with *found false. */
static unsigned long long stats_file_get(const struct stats_file *sf,
					 const char *name, bool *found)
{
	unsigned int i;

	for (i = 0; i < sf->nr; i++) {
		if (!strcmp(sf->name[i], name)) {
			*found = true;
			return sf->value[i];
		}
	}
	*found = false;
	return -1ULL;
}

static u64 uapi_value(const struct vmmu_stats *st, unsigned int i)
{
	return *(const u64 *)((const char *)st + uapi_stats[i].offset);
}

/*
 * <debugfs>/vmmu/<pid>-<n> of the VM this process created last (the test
 * holds one VM at a time): the largest <n> with our pid; "" if none.
 */
static void vm_debugfs_dir(char *buf, size_t size)
{
	DIR *d = opendir(DEBUGFS_VMMU);
	int pid, n, best = -1;
	struct dirent *e;

	buf[0] = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (sscanf(e->d_name, "%d-%d", &pid, &n) == 2 &&
		    pid == getpid() && n > best) {
			best = n;
			snprintf(buf, size, "%s/%s", DEBUGFS_VMMU, e->d_name);
		}
	}
	closedir(d);
}

static void get_stats(int vm_fd, struct vmmu_stats *st)
{
	long r = vmmu_ioctl(vm_fd, VMMU_GET_STATS, (unsigned long)st);

	if (r)
		bail_out("VMMU_GET_STATS: %s", errno_name(-r));
}

/*
 * VMMU_GET_STATS before and after reading the VM's debugfs file: every
 * value of the struct is in the file, between the two (equal to both when
 * nothing moved).  NR_AGREE tests.  @after gets the second snapshot.
 */
static void check_agreement(const char *label, int vm_fd, const char *dir,
			    struct vmmu_stats *after)
{
	struct vmmu_stats before;
	struct stats_file sf;
	unsigned long long v;
	char path[300];
	unsigned int i;
	bool found;
	u64 lo, hi;

	snprintf(path, sizeof(path), "%s/stats", dir);
	get_stats(vm_fd, &before);
	stats_file_read(path, &sf);
	get_stats(vm_fd, after);
	ok(sf.well_formed && sf.nr >= NR_UAPI,
	   "%s: %s has %u well-formed 'name value' lines, no name twice",
	   label, path, sf.nr);
	for (i = 0; i < NR_UAPI; i++) {
		v = stats_file_get(&sf, uapi_stats[i].name, &found);
		lo = uapi_value(&before, i);
		hi = uapi_value(after, i);
		if (lo > hi) {
			lo = hi;
			hi = uapi_value(&before, i);
		}
		if (ok(found && v >= lo && v <= hi,
		       "%s: %s agrees with VMMU_GET_STATS", label,
		       uapi_stats[i].name))
			continue;
		if (found)
			diag("  debugfs: %llu", v);
		else
			diag("  debugfs: no line '%s'", uapi_stats[i].name);
		diag("  VMMU_GET_STATS: %llu, then %llu",
		     (unsigned long long)uapi_value(&before, i),
		     (unsigned long long)uapi_value(after, i));
	}
	for (i = 0; i < sf.nr; i++)
		diag("%s: %s %llu", label, sf.name[i], sf.value[i]);
}

/* The vCPU's file; one test: exactly the vCPU table's names, in order. */
static void read_vcpu_file(const char *label, const char *dir, int vcpu_id,
			   struct stats_file *sf)
{
	bool same;
	char path[300];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/vcpu%d/stats", dir, vcpu_id);
	stats_file_read(path, sf);
	same = sf->well_formed && sf->nr == ARRAY_SIZE(vcpu_stats);
	for (i = 0; same && i < sf->nr; i++)
		same = !strcmp(sf->name[i], vcpu_stats[i]);
	ok(same, "%s: %s has the vCPU table's %zu lines", label, path,
	   ARRAY_SIZE(vcpu_stats));
	for (i = 0; i < sf->nr; i++)
		diag("%s: vcpu%d %s %llu", label, vcpu_id, sf->name[i],
		     sf->value[i]);
}

static unsigned long long vcpu_value(const struct stats_file *sf,
				     const char *name)
{
	bool found;

	return stats_file_get(sf, name, &found);
}

/* KVM_GET_STATS_FD on a VM or vCPU fd, or bail out. */
static int get_stats_fd(int fd)
{
	long r = vmmu_ioctl(fd, KVM_GET_STATS_FD, 0);

	if (r < 0)
		bail_out("KVM_GET_STATS_FD: %s", errno_name(-r));
	return r;
}

/* The kind KVM gives a statistic of that name, where the test knows it. */
static bool kind_known(const char *name, __u32 *flags)
{
	if (!strcmp(name, "faults") || !strcmp(name, "exits"))
		*flags = KVM_STATS_TYPE_CUMULATIVE;
	else if (!strcmp(name, "pages_4k"))
		*flags = KVM_STATS_TYPE_INSTANT;
	else
		return false;
	*flags |= KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10;
	return true;
}

/*
 * The binary statistics of @stats_fd against the debugfs file @path of the
 * same VM or vCPU, which is idle: NR_BINARY tests.
 */
static void check_binary(const char *label, int stats_fd, const char *path,
			 const char *want_id)
{
	struct kvm_stats_header h;
	struct stats_file sf;
	size_t desc_size, total, i;
	char id[STATS_NAME_SIZE + 1] = "", *file, *bytes;
	bool good, known_ok = true;
	unsigned int known = 0;
	ssize_t n;
	u64 *data;

	stats_file_read(path, &sf);
	n = pread(stats_fd, &h, sizeof(h), 0);
	desc_size = sizeof(struct kvm_stats_desc) + h.name_size;
	ok(n == sizeof(h) && !h.flags && h.name_size == STATS_NAME_SIZE &&
	   h.num_desc == sf.nr && h.id_offset == sizeof(h) &&
	   h.desc_offset == h.id_offset + h.name_size &&
	   h.data_offset == h.desc_offset + h.num_desc * desc_size,
	   "%s: header: %u descriptors (debugfs: %u lines), id at %u, descriptors at %u, data at %u",
	   label, h.num_desc, sf.nr, h.id_offset, h.desc_offset,
	   h.data_offset);
	if (n != sizeof(h) || h.num_desc != sf.nr || !sf.nr ||
	    h.name_size != STATS_NAME_SIZE) {
		skip(NR_BINARY - 1, "%s: no header to go on", label);
		return;
	}
	total = h.data_offset + h.num_desc * sizeof(u64);
	file = calloc(1, total + 1);
	bytes = calloc(1, total + 1);
	if (!file || !bytes)
		bail_out("out of memory");
	n = pread(stats_fd, file, total, 0);
	memcpy(id, file + h.id_offset, STATS_NAME_SIZE);
	ok(!strcmp(id, want_id), "%s: id '%s' (want '%s')", label, id,
	   want_id);

	good = n == (ssize_t)total;
	for (i = 0; good && i < h.num_desc; i++) {
		struct kvm_stats_desc *d =
			(void *)(file + h.desc_offset + i * desc_size);
		__u32 flags;

		good = !strcmp(d->name, sf.name[i]) && d->size == 1 &&
		       !d->bucket_size && d->offset == i * sizeof(u64);
		if (!good)
			diag("descriptor %zu: '%s' size %u bucket %u offset %u",
			     i, d->name, d->size, d->bucket_size, d->offset);
		if (kind_known(d->name, &flags)) {
			known++;
			known_ok &= d->flags == flags && !d->exponent;
		}
	}
	ok(good, "%s: descriptors: the debugfs names in order, one u64 each at 8 * i",
	   label);
	ok(known && known_ok,
	   "%s: KVM's type, unit, base and exponent (%u known names)", label,
	   known);

	data = (u64 *)(file + h.data_offset);
	good = n == (ssize_t)total;
	for (i = 0; good && i < h.num_desc; i++) {
		good = data[i] == sf.value[i];
		if (!good)
			diag("%s: binary %llu, debugfs %llu", sf.name[i],
			     (unsigned long long)data[i], sf.value[i]);
	}
	ok(good, "%s: the data block has the debugfs values", label);

	for (i = 0; i < total; i++)
		if (pread(stats_fd, bytes + i, 1, i) != 1)
			break;
	ok(i == total && !memcmp(bytes, file, total),
	   "%s: the %zu bytes read one at a time with pread are the same",
	   label, total);
	ok(pread(stats_fd, bytes, 16, total) == 0 &&
	   pread(stats_fd, bytes, 16, total - 1) == 1,
	   "%s: nothing past the end, 1 byte before it", label);
	ok(read(stats_fd, &h, sizeof(h)) == sizeof(h) &&
	   read(stats_fd, id, STATS_NAME_SIZE) == STATS_NAME_SIZE &&
	   !strcmp(id, want_id),
	   "%s: read() goes on where it stopped: header, then the id", label);
	errno = 0;
	ok(write(stats_fd, &h, sizeof(h)) == -1 && errno == EBADF,
	   "%s: write(): EBADF", label);
	free(bytes);
	free(file);
}

/*
 * The VM's last reference in another process: a child inherits @stats_fd,
 * the parent closes its own, the child reads the fd and exits.  True if
 * the VM (its debugfs directory @dir) lived until then and went with the
 * child's exit.
 */
static bool last_ref_in_child(int stats_fd, const char *dir)
{
	struct kvm_stats_header h;
	int go[2], status;
	bool stayed;
	pid_t pid;
	char c;

	if (pipe(go))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (!pid) {
		close(go[1]);
		if (read(go[0], &c, 1) < 0)
			_exit(2);
		_exit(pread(stats_fd, &h, sizeof(h), 0) == sizeof(h) &&
		      h.name_size == STATS_NAME_SIZE ? 0 : 1);
	}
	close(go[0]);
	close(stats_fd);
	stayed = !access(dir, F_OK);
	close(go[1]);
	if (waitpid(pid, &status, 0) != pid)
		bail_out("waitpid: %s", strerror(errno));
	if (!stayed)
		diag("%s went with the parent's fds", dir);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		diag("the child's read failed (status 0x%x)", status);
	return stayed && WIFEXITED(status) && !WEXITSTATUS(status) &&
	       access(dir, F_OK) && errno == ENOENT;
}

/* Faults, zaps, an invalidation, a zap of every root: every kind moves. */
static void sw_workload(int vm_fd, int vcpu_fd, u8 *mem)
{
	static u8 buf[SW_NPAGES * PAGE_SIZE];
	long r;

	mmu_pattern_fill(buf, SW_GPA, sizeof(buf), SEED);
	if (mmu_guest_write_range(vcpu_fd, SW_GPA, buf, sizeof(buf),
				  PAGE_SIZE) ||
	    mmu_guest_read_range(vcpu_fd, SW_GPA, buf, sizeof(buf),
				 PAGE_SIZE))
		bail_out("software vCPU access to the memslot failed");
	if (madvise(mem, SW_NDROP * PAGE_SIZE, MADV_DONTNEED))
		bail_out("MADV_DONTNEED: %s", strerror(errno));
	r = vmmu_ioctl(vm_fd, VMMU_ZAP_ALL, 0);
	if (r)
		bail_out("VMMU_ZAP_ALL: %s", errno_name(-r));
	if (mmu_read(vcpu_fd, SW_GPA + SW_NDROP * PAGE_SIZE, buf, 8))
		bail_out("read after VMMU_ZAP_ALL failed");
}

static void test_software(int sys_fd)
{
	char dir[280], path[300], id[STATS_NAME_SIZE];
	int vcpu_fd, vm_stats, vcpu_stats;
	struct kvm_stats_header h;
	struct stats_file vf;
	struct vmmu_stats st;
	struct mmu_vm vm;
	u8 *mem;

	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	mem = mmu_map_anon(SW_NPAGES * PAGE_SIZE, NULL);
	mmu_set_region_or_die(vm.vm_fd, 0, 0, SW_GPA, SW_NPAGES * PAGE_SIZE,
			      mem);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);
	vm_debugfs_dir(dir, sizeof(dir));
	sw_workload(vm.vm_fd, vcpu_fd, mem);

	check_agreement("software", vm.vm_fd, dir, &st);
	ok(st.faults >= SW_NPAGES, "software: faults %llu >= %u",
	   (unsigned long long)st.faults, SW_NPAGES);
	ok(st.leaves_zapped >= SW_NDROP, "software: leaves_zapped %llu >= %u",
	   (unsigned long long)st.leaves_zapped, SW_NDROP);
	ok(st.invalidations >= 1, "software: invalidations %llu >= 1",
	   (unsigned long long)st.invalidations);
	ok(st.roots_invalidated >= 1, "software: roots_invalidated %llu >= 1",
	   (unsigned long long)st.roots_invalidated);
	ok(st.tlb_flushes >= 1, "software: remote_tlb_flush %llu >= 1",
	   (unsigned long long)st.tlb_flushes);
	ok(st.mapped[0] >= 1, "software: pages_4k %llu >= 1",
	   (unsigned long long)st.mapped[0]);

	read_vcpu_file("software", dir, 0, &vf);
	is_int(vcpu_value(&vf, "exits"), 0,
	       "software: a software vCPU has no exits");
	ok(vcpu_value(&vf, "tlb_flush") >= 2 &&
	   vcpu_value(&vf, "tlb_flush") != -1ULL,
	   "software: tlb_flush >= 2 (first root, root after VMMU_ZAP_ALL)");

	is_int(vmmu_check_extension(sys_fd, KVM_CAP_BINARY_STATS_FD), 1,
	       "KVM_CAP_BINARY_STATS_FD is 1");
	vm_stats = get_stats_fd(vm.vm_fd);
	vcpu_stats = get_stats_fd(vcpu_fd);
	snprintf(path, sizeof(path), "%s/stats", dir);
	snprintf(id, sizeof(id), "kvm-%d", getpid());
	check_binary("software VM stats fd", vm_stats, path, id);
	snprintf(path, sizeof(path), "%s/vcpu0/stats", dir);
	snprintf(id, sizeof(id), "kvm-%d/vcpu-0", getpid());
	check_binary("software vCPU stats fd", vcpu_stats, path, id);

	close(vcpu_fd);
	mmu_vm_close(&vm);
	ok(dir[0] && !access(dir, F_OK) &&
	   pread(vm_stats, &h, sizeof(h), 0) == sizeof(h) &&
	   pread(vcpu_stats, &h, sizeof(h), 0) == sizeof(h),
	   "software: with the VM and vCPU fds closed, the stats fds hold the VM: %s stays, both read",
	   dir);
	close(vcpu_stats);
	ok(last_ref_in_child(vm_stats, dir),
	   "software: a forked child's copy of the stats fd keeps the VM after the parent closed every fd, reads it, and its exit ends the VM: %s is gone",
	   dir);
	munmap(mem, SW_NPAGES * PAGE_SIZE);
}

/* DS = 0xa000: offsets 0x10 and 0x20 are MMIO_GPA + 0x10 and + 0x20. */
GUEST_CODE(rm_exits, ".code16",
	   "	mov $0xa000, %ax\n"
	   "	mov %ax, %ds\n"
	   "	mov $0x41, %al\n"
	   "	out %al, $0x80\n"
	   "	out %al, $0x80\n"
	   "	out %al, $0x80\n"
	   "	in $0x81, %al\n"
	   "	in $0x81, %al\n"
	   "	movb %al, 0x10\n"
	   "	movb 0x20, %bl\n"
	   "	hlt\n"
	   "1:	jmp 1b\n");

static void on_alarm(int sig)
{
	(void)sig;
}

/* Run the guest to its HLT: true if the exits were the script's. */
static bool hw_script(struct guest *g)
{
	unsigned int io = 0, mmio = 0;
	int r;

	for (;;) {
		r = guest_run(g);
		if (r) {
			diag("KVM_RUN: %s", errno_name(-r));
			return false;
		}
		switch (g->run->exit_reason) {
		case KVM_EXIT_IO:
			io++;
			continue;
		case KVM_EXIT_MMIO:
			if (!g->run->mmio.is_write)
				guest_mmio_reply(g, 0x5a);
			mmio++;
			continue;
		case KVM_EXIT_HLT:
			return io == 5 && mmio == 2;
		default:
			guest_exit_diag(g);
			return false;
		}
	}
}

static void test_hardware(int sys_fd)
{
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	char dir[280], path[300], id[STATS_NAME_SIZE], label[64];
	struct sigaction sa = { .sa_handler = on_alarm };
	struct stats_file vf;
	struct vmmu_stats st;
	struct guest g;
	int r, stats_fd;

	if (guest_hw_available(sys_fd)) {
		skip(NR_HW, "no hardware vCPUs here (%s)", guest_hw_why());
		return;
	}
	guest_create(&g, sys_fd, HW_MEM_SIZE);
	vm_debugfs_dir(dir, sizeof(dir));
	guest_load(&g, HW_CODE_GPA, rm_exits, GUEST_CODE_SIZE(rm_exits));
	guest_setup_real_mode(&g, HW_CODE_GPA);
	ok(hw_script(&g), "%s: the guest made 5 IO, 2 MMIO and 1 HLT exits",
	   guest_hw->name);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	r = guest_run(&g);
	signal(SIGALRM, SIG_DFL);
	is_errno(r, EINTR, "%s: a signal ends KVM_RUN of the spinning guest",
		 guest_hw->name);

	read_vcpu_file(guest_hw->name, dir, 0, &vf);
	is_int(vcpu_value(&vf, "io_exits"), 5, "%s: io_exits", guest_hw->name);
	is_int(vcpu_value(&vf, "mmio_exits"), 2, "%s: mmio_exits",
	       guest_hw->name);
	is_int(vcpu_value(&vf, "halt_exits"), 1, "%s: halt_exits",
	       guest_hw->name);
	is_int(vcpu_value(&vf, "signal_exits"), 1, "%s: signal_exits",
	       guest_hw->name);
	ok(vcpu_value(&vf, "exits") >= 8 && vcpu_value(&vf, "exits") != -1ULL,
	   "%s: exits >= the 8 the guest made", guest_hw->name);
	check_agreement(guest_hw->name, g.vm_fd, dir, &st);
	stats_fd = get_stats_fd(g.vcpu_fd);
	snprintf(path, sizeof(path), "%s/vcpu0/stats", dir);
	snprintf(id, sizeof(id), "kvm-%d/vcpu-0", getpid());
	snprintf(label, sizeof(label), "%s vCPU stats fd", guest_hw->name);
	check_binary(label, stats_fd, path, id);
	close(stats_fd);
	guest_destroy(&g);
}

int main(void)
{
	int sys_fd;

	tap_plan(NR_TESTS);
	sys_fd = vmmu_open();
	test_software(sys_fd);
	test_hardware(sys_fd);
	close(sys_fd);
	return tap_finish();
}
