// SPDX-License-Identifier: GPL-2.0
/* Tests of vmmu against another hypervisor: see hv_util.h. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hv_util.h"
#include "mmu_util.h"

#define MEM_SIZE	BIT_ULL(20)
#define CODE_GPA	0x1000ULL
#define DATA_GPA	0x3000ULL
#define SYSLOG_READ_ALL	3
#define SYSLOG_SIZE	10

GUEST_CODE(hv_rm_out, ".code16",
	   "	mov $0x42, %al\n"
	   "	out %al, $0x80\n"
	   "	hlt\n");

int hv_load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long r;

	if (fd < 0)
		return -errno;
	r = syscall(SYS_finit_module, fd, "", 0);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r;
}

int hv_unload_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

int hv_open_vmmu(void)
{
	int fd, n;

	for (n = 0; n < 500; n++) {
		fd = open(VMMU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			return fd < 0 ? -errno : fd;
		usleep(10000);
	}
	return -ENOENT;
}

char *hv_log_since_mark(const char *mark)
{
	int size = klogctl(SYSLOG_SIZE, NULL, 0);
	char *buf, *p, *last = NULL;
	int n;

	if (size <= 0)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	n = klogctl(SYSLOG_READ_ALL, buf, size);
	buf[n > 0 ? n : 0] = 0;
	for (p = strstr(buf, mark); p; p = strstr(p + 1, mark))
		last = p;
	if (!last) {
		free(buf);
		return NULL;
	}
	memmove(buf, last, strlen(last) + 1);
	return buf;
}

void hv_mark_log(const char *mark)
{
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "%s\n", mark);
	if (fd < 0 || write(fd, line, n) != n)
		bail_out("cannot write to /dev/kmsg: %s", strerror(errno));
	close(fd);
}

/*
 * The first line of @log (modified) that holds @needle and every one of
 * @more (NULL-terminated), or a splat if @needle is NULL; or NULL.
 */
static const char *find_line(char *log, const char *needle,
			     const char * const *more)
{
	static const char * const bad[] = {
		"WARNING:", "BUG:", "Call Trace", "Oops", "lockdep",
	};
	unsigned int i;
	char *line;

	for (line = log ? strtok(log, "\n") : NULL; line;
	     line = strtok(NULL, "\n")) {
		if (!needle) {
			for (i = 0; i < ARRAY_SIZE(bad); i++)
				if (strstr(line, bad[i]))
					return line;
			continue;
		}
		if (!strstr(line, needle))
			continue;
		for (i = 0; more[i] && strstr(line, more[i]); i++)
			;
		if (!more[i])
			return line;
	}
	return NULL;
}

bool hv_test_log_clean(const char *mark, const char *desc)
{
	char *log = hv_log_since_mark(mark);
	const char *splat = find_line(log, NULL, NULL);
	bool cond = log && !splat;

	if (!ok(cond, "%s", desc))
		diag("  %s", splat ? splat : "the kernel log cannot be read");
	free(log);
	return cond;
}

void hv_test_log(const char *mark, const char *what)
{
	const char * const more[] = { what, "another hypervisor", NULL };
	char *log = hv_log_since_mark(mark);
	const char *why = find_line(log, "vmmu: ", more);

	if (why)
		diag("  %s", why);
	ok(why, "the kernel log says why vmmu refused %s", what);
	free(log);
	hv_test_log_clean(mark, "and holds no WARN or other splat");
}

void hv_test_software_vm(int sys_fd)
{
	struct vmmu_mmu_config cfg = {
		.format = VMMU_MMU_FORMAT_NPT,
		.vcpu_kind = VMMU_VCPU_SOFTWARE,
	};
	u64 word = 0x5eed0f5aULL, back = 0;
	int vm_fd, vcpu_fd, r;
	u8 *mem;

	vm_fd = vmmu_create_vm_or_die(sys_fd);
	is_errno(mmu_set_mmu(vm_fd, &cfg), 0,
		 "a VM with software vCPUs meanwhile: VMMU_SET_MMU");
	mem = vmmu_alloc_guest_memory(MEM_SIZE);
	mmu_set_region_or_die(vm_fd, 0, 0, 0, MEM_SIZE, mem);
	vcpu_fd = mmu_create_vcpu_or_die(vm_fd, 0);
	r = mmu_write(vcpu_fd, DATA_GPA, &word, sizeof(word));
	if (!r)
		r = mmu_read(vcpu_fd, DATA_GPA, &back, sizeof(back));
	ok(r == VMMU_ACCESS_DONE && back == word &&
	   *(u64 *)(mem + DATA_GPA) == word,
	   "its software vCPU writes and reads guest memory (%s)",
	   mmu_result_name(r));
	close(vcpu_fd);
	close(vm_fd);
	munmap(mem, MEM_SIZE);
}

int hv_tiny_guest_create(struct guest *g, int sys_fd,
			 int (*set_kind)(int vm_fd))
{
	long size;
	int r;

	memset(g, 0, sizeof(*g));
	g->sys_fd = sys_fd;
	g->vm_fd = vmmu_create_vm(sys_fd);
	if (g->vm_fd < 0)
		return g->vm_fd;
	r = set_kind ? set_kind(g->vm_fd) : 0;
	if (r) {
		close(g->vm_fd);
		return r;
	}
	g->mem = vmmu_alloc_guest_memory(MEM_SIZE);
	g->mem_size = MEM_SIZE;
	r = vmmu_set_region(g->vm_fd, 0, 0, 0, MEM_SIZE, (u64)g->mem);
	if (r)
		bail_out("KVM_SET_USER_MEMORY_REGION: %s", errno_name(-r));
	g->vcpu_fd = mmu_create_vcpu_or_die(g->vm_fd, 0);
	size = vmmu_ioctl(sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (long)sizeof(struct kvm_run))
		bail_out("KVM_GET_VCPU_MMAP_SIZE: %ld", size);
	g->mmap_size = size;
	g->run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->vcpu_fd, 0);
	if (g->run == MAP_FAILED)
		bail_out("mmap of the vCPU fd: %s", strerror(errno));
	guest_load(g, CODE_GPA, hv_rm_out, GUEST_CODE_SIZE(hv_rm_out));
	guest_setup_real_mode(g, CODE_GPA);
	return 0;
}

void hv_test_tiny_guest(int sys_fd, int (*set_kind)(int vm_fd),
			const char *who)
{
	struct guest g;
	int r;

	r = hv_tiny_guest_create(&g, sys_fd, set_kind);
	if (!is_errno(r, 0, "%s: a VM with a vCPU", who)) {
		skip(2, "no VM");
		return;
	}
	r = guest_run(&g);
	ok_guest_io(&g, r, KVM_EXIT_IO_OUT, 1, 0x80, 0x42,
		    "%s: the guest runs: OUT 0x42 to port 0x80", who);
	r = guest_run(&g);
	ok_guest_exit(&g, r, KVM_EXIT_HLT, "%s: then HLT", who);
	guest_destroy(&g);
}
