// SPDX-License-Identifier: GPL-2.0
/*
 * vmmu's tracepoints (include/vmmu/trace.h), read through tracefs: each
 * event of a scripted workload is there, with the values the workload
 * knows.
 *
 * The events are off until the test turns them on.  Software vCPU (every
 * lane), with fault-around off so that every page faults by itself:
 *
 * - creating a memslot of 8 pages gives vmmu_memslot "change create" with
 *   its slot, gfn, size, flags and host address;
 * - reading each page gives one vmmu_page_fault at its gpa, an error code
 *   without the write bit, result "fixed", level 1;
 * - MADV_DONTNEED of one page gives vmmu_invalidate_start for exactly its
 *   host range with in_progress 1, then vmmu_invalidate_end with the
 *   sequence one higher and in_progress 0;
 * - VMMU_ZAP_ALL gives vmmu_remote_tlb_flush, the last one's count equal
 *   to VMMU_GET_STATS's tlb_flushes;
 * - deleting the memslot gives "change delete".
 *
 * Hardware vCPU (SVM or VMX, else skipped): a real-mode guest makes an OUT
 * and a HLT; vmmu_userspace_exit reports KVM_EXIT_IO and KVM_EXIT_HLT, each
 * with the RIP that KVM_GET_REGS gives right after that exit.
 *
 * Nothing else in the trace buffer counts: lines are those of this
 * process's pid.  At exit, also after a bail-out, the events are turned
 * off and fault-around is put back.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_util.h"
#include "mmu_util.h"
#include "stress_util.h"

#define NPAGES		8
#define GPA		0x100000ULL
#define DROP		2	/* the page MADV_DONTNEED drops */
#define PF_WRITE	0x2	/* the error code's write bit */

#define HW_MEM_SIZE	0x10000ULL
#define HW_CODE_GPA	0x1000ULL

#define NR_SW		(2 + 1 + NPAGES + 2 + 1)
#define NR_HW		3
#define NR_TESTS	(NR_SW + NR_HW + 1)

static char tracefs[64];
static unsigned long fault_around_was;

static void tfs(char *path, size_t size, const char *name)
{
	snprintf(path, size, "%s/%s", tracefs, name);
}

static int tfs_write(const char *name, const char *s)
{
	char path[128];

	tfs(path, sizeof(path), name);
	return st_write_file(path, s);
}

/*
 * At exit, also after a bail-out: the events off and fault-around as it
 * was, so that the lane's next programs run as usual.
 */
static void put_back(void)
{
	tfs_write("events/vmmu/enable", "0");
	st_param_write("fault_around", fault_around_was);
}

/* tracefs, mounted if it is not yet. */
static bool find_tracefs(void)
{
	static const char *const where[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(where); i++) {
		snprintf(path, sizeof(path), "%s/events/vmmu", where[i]);
		if (!access(path, F_OK)) {
			snprintf(tracefs, sizeof(tracefs), "%s", where[i]);
			return true;
		}
	}
	if (mount("tracefs", where[0], "tracefs", 0, NULL))
		return false;
	snprintf(path, sizeof(path), "%s/events/vmmu", where[0]);
	snprintf(tracefs, sizeof(tracefs), "%s", where[0]);
	return !access(path, F_OK);
}

/* Every line of the trace buffer from this process that holds @event. */
static char *trace_lines(const char *event)
{
	char path[128], line[512], pid[24], key[64];
	size_t size = 1, len;
	char *out = calloc(1, 1);
	FILE *f;

	tfs(path, sizeof(path), "trace");
	f = fopen(path, "re");
	if (!f || !out)
		bail_out("%s: %s", path, strerror(errno));
	snprintf(pid, sizeof(pid), "-%d ", getpid());
	snprintf(key, sizeof(key), " %s: ", event);
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, pid) || !strstr(line, key))
			continue;
		len = strlen(line);
		out = realloc(out, size + len);
		if (!out)
			bail_out("out of memory");
		memcpy(out + size - 1, line, len + 1);
		size += len;
	}
	fclose(f);
	return out;
}

/* The text after "@event: " on line @n of @lines (0-based), or NULL. */
static const char *nth_event(const char *lines, const char *event,
			     unsigned int n, char *buf, size_t size)
{
	char key[64];
	const char *p = lines, *e;

	snprintf(key, sizeof(key), " %s: ", event);
	while ((p = strstr(p, key))) {
		p += strlen(key);
		e = strchr(p, '\n');
		if (!n--) {
			snprintf(buf, size, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
			return buf;
		}
	}
	return NULL;
}

static void clear_trace(void)
{
	if (tfs_write("trace", ""))
		bail_out("cannot clear the trace buffer");
}

static void test_software(int sys_fd)
{
	char *lines, buf[256], want[256], result[16];
	int vcpu_fd, n, nfixed, id, level, fixed[NPAGES];
	unsigned long long seq = 0, seq2 = 0, gpa;
	struct vmmu_stats st;
	struct mmu_vm vm;
	unsigned long drop;
	unsigned int i, err;
	long ip, ip2;
	bool good;
	u8 *mem, b;

	mem = mmu_map_anon(NPAGES * PAGE_SIZE, NULL);
	madvise(mem, NPAGES * PAGE_SIZE, MADV_NOHUGEPAGE);
	mmu_vm_create(sys_fd, &mmu_cfgs[0], &vm);
	vcpu_fd = mmu_create_vcpu_or_die(vm.vm_fd, 0);

	clear_trace();
	mmu_set_region_or_die(vm.vm_fd, 0, 0, GPA, NPAGES * PAGE_SIZE, mem);
	for (i = 0; i < NPAGES; i++)
		if (mmu_read(vcpu_fd, GPA + i * PAGE_SIZE, &b, 1) !=
		    VMMU_ACCESS_DONE)
			bail_out("read of page %u failed", i);
	drop = (unsigned long)mem + DROP * PAGE_SIZE;
	if (madvise((void *)drop, PAGE_SIZE, MADV_DONTNEED))
		bail_out("MADV_DONTNEED: %s", strerror(errno));
	if (vmmu_ioctl(vm.vm_fd, VMMU_ZAP_ALL, 0))
		bail_out("VMMU_ZAP_ALL failed");
	mmu_set_region_or_die(vm.vm_fd, 0, 0, GPA, 0, NULL);
	if (vmmu_ioctl(vm.vm_fd, VMMU_GET_STATS, (unsigned long)&st))
		bail_out("VMMU_GET_STATS failed");

	lines = trace_lines("vmmu_memslot");
	snprintf(want, sizeof(want),
		 "change create slot 0 gfn 0x%llx pages %u flags 0x0 hva 0x%lx",
		 GPA >> 12, NPAGES, (unsigned long)mem);
	ok(nth_event(lines, "vmmu_memslot", 0, buf, sizeof(buf)) &&
	   !strcmp(buf, want), "vmmu_memslot: '%s'", buf);
	snprintf(want, sizeof(want),
		 "change delete slot 0 gfn 0x%llx pages %u flags 0x0 hva 0x%lx",
		 GPA >> 12, NPAGES, (unsigned long)mem);
	ok(nth_event(lines, "vmmu_memslot", 1, buf, sizeof(buf)) &&
	   !strcmp(buf, want) &&
	   !nth_event(lines, "vmmu_memslot", 2, buf, sizeof(buf)),
	   "vmmu_memslot: then '%s', and no more", want);
	free(lines);

	/* A fault may also retry (it raced): those lines are not counted. */
	lines = trace_lines("vmmu_page_fault");
	memset(fixed, 0, sizeof(fixed));
	for (n = 0, nfixed = 0;
	     nth_event(lines, "vmmu_page_fault", n, buf, sizeof(buf)); n++) {
		diag("vmmu_page_fault: %s", buf);
		if (sscanf(buf, "vcpu %d gpa 0x%llx error 0x%x result %15s level %d",
			   &id, &gpa, &err, result, &level) != 5 ||
		    strcmp(result, "fixed"))
			continue;
		nfixed++;
		i = (gpa - GPA) / PAGE_SIZE;
		if (!id && gpa >= GPA && i < NPAGES &&
		    !(gpa % PAGE_SIZE) && !(err & PF_WRITE) &&
		    level == 1)
			fixed[i]++;
	}
	is_int(nfixed, NPAGES,
	       "vmmu_page_fault: %u fixed (fault-around off), %d lines", NPAGES,
	       n);
	for (i = 0; i < NPAGES; i++)
		is_int(fixed[i], 1,
		       "vmmu_page_fault: vcpu 0 gpa 0x%llx, a read, fixed, level 1",
		       GPA + i * PAGE_SIZE);
	free(lines);

	lines = trace_lines("vmmu_invalidate_start");
	snprintf(want, sizeof(want), "hva 0x%lx end 0x%lx seq %%llu in_progress %%ld",
		 drop, (unsigned long)(drop + PAGE_SIZE));
	good = nth_event(lines, "vmmu_invalidate_start", 0, buf, sizeof(buf)) &&
	       sscanf(buf, want, &seq, &ip) == 2 && ip == 1 &&
	       !nth_event(lines, "vmmu_invalidate_start", 1, buf, sizeof(buf));
	ok(good, "vmmu_invalidate_start: only the dropped page's range, in_progress 1");
	free(lines);
	lines = trace_lines("vmmu_invalidate_end");
	good = good &&
	       nth_event(lines, "vmmu_invalidate_end", 0, buf, sizeof(buf)) &&
	       sscanf(buf, want, &seq2, &ip2) == 2 && seq2 == seq + 1 && !ip2;
	ok(good, "vmmu_invalidate_end: the same range, seq %llu then %llu, in_progress 0",
	   seq, seq2);
	free(lines);

	lines = trace_lines("vmmu_remote_tlb_flush");
	for (n = 0; nth_event(lines, "vmmu_remote_tlb_flush", n, buf, sizeof(buf)); n++)
		;
	snprintf(want, sizeof(want), "count %llu",
		 (unsigned long long)st.tlb_flushes);
	ok(n && nth_event(lines, "vmmu_remote_tlb_flush", n - 1, buf,
			  sizeof(buf)) && !strcmp(buf, want),
	   "vmmu_remote_tlb_flush: %d, the last '%s' (VMMU_GET_STATS)", n,
	   want);
	free(lines);

	close(vcpu_fd);
	mmu_vm_close(&vm);
	munmap(mem, NPAGES * PAGE_SIZE);
}

GUEST_CODE(out_hlt, ".code16",
	   "	out %al, $0x80\n"
	   "	hlt\n");

static void test_hardware(int sys_fd)
{
	struct kvm_regs regs;
	struct guest g;
	char *lines, buf[128], want[128];
	u64 rip[2];
	u32 reason[2];
	int i;

	if (guest_hw_available(sys_fd)) {
		skip(NR_HW, "no hardware vCPUs here (%s)", guest_hw_why());
		return;
	}
	guest_create(&g, sys_fd, HW_MEM_SIZE);
	guest_load(&g, HW_CODE_GPA, out_hlt, GUEST_CODE_SIZE(out_hlt));
	guest_setup_real_mode(&g, HW_CODE_GPA);
	clear_trace();
	for (i = 0; i < 2; i++) {
		if (guest_run(&g))
			bail_out("KVM_RUN failed");
		reason[i] = g.run->exit_reason;
		if (vmmu_ioctl(g.vcpu_fd, KVM_GET_REGS, (unsigned long)&regs))
			bail_out("KVM_GET_REGS failed");
		rip[i] = regs.rip;
	}
	ok(reason[0] == KVM_EXIT_IO && reason[1] == KVM_EXIT_HLT,
	   "%s: the guest exits for its OUT, then its HLT", guest_hw->name);
	lines = trace_lines("vmmu_userspace_exit");
	for (i = 0; i < 2; i++) {
		snprintf(want, sizeof(want), "vcpu 0 reason %u rip 0x%llx",
			 reason[i], (unsigned long long)rip[i]);
		ok(nth_event(lines, "vmmu_userspace_exit", i, buf,
			     sizeof(buf)) && !strcmp(buf, want),
		   "%s: vmmu_userspace_exit %d: '%s'", guest_hw->name, i,
		   want);
	}
	free(lines);
	guest_destroy(&g);
}

int main(void)
{
	char path[128];
	int sys_fd, on = -1;
	FILE *f;

	tap_plan(NR_TESTS);
	if (!find_tracefs()) {
		skip(NR_TESTS, "no tracefs with events/vmmu");
		return tap_finish();
	}
	tfs(path, sizeof(path), "events/vmmu/enable");
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = -1;
		fclose(f);
	}
	is_int(on, 0, "%s: off until turned on", path);
	if (st_param_read("fault_around", &fault_around_was) ||
	    st_param_write("fault_around", 0))
		bail_out("cannot turn fault-around off");
	atexit(put_back);
	if (tfs_write("events/vmmu/enable", "1") ||
	    tfs_write("tracing_on", "1"))
		bail_out("cannot turn the vmmu events on");

	sys_fd = vmmu_open();
	test_software(sys_fd);
	test_hardware(sys_fd);
	close(sys_fd);
	return tap_finish();
}
