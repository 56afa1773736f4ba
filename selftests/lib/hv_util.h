/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tests of vmmu against another hypervisor (svm_busy, vmx_busy): loading
 * and unloading modules, the kernel log since a mark, and the small VMs
 * both kinds of test run.
 */
#ifndef VMMU_SELFTEST_HV_UTIL_H
#define VMMU_SELFTEST_HV_UTIL_H

#include "guest_util.h"

#define HV_VMMU_MODULE	"/vmmu.ko"

/* finit_module() of the file @path, with no parameters: 0 or -errno. */
int hv_load_module(const char *path);
/* delete_module() of @name, without waiting: 0 or -errno. */
int hv_unload_module(const char *name);
/* /dev/vmmu, once devtmpfs made it (bounded wait), or -errno. */
int hv_open_vmmu(void);

/* Write @mark to the kernel log (bails out if it cannot). */
void hv_mark_log(const char *mark);
/* The kernel log after the last @mark line, malloc()ed, or NULL. */
char *hv_log_since_mark(const char *mark);
/*
 * Two tests on the kernel log since the last @mark: vmmu said why it
 * refused @what ("SVM", "VMX": a "vmmu: " line naming it and "another
 * hypervisor"), and there is no WARN or other splat.
 */
void hv_test_log(const char *mark, const char *what);
/* One test, described by @desc: no splat in the kernel log since @mark. */
bool hv_test_log_clean(const char *mark, const char *desc);

/* One test: a VM of software vCPUs on @sys_fd writes and reads memory. */
void hv_test_software_vm(int sys_fd);

/*
 * Three tests: a VM on @sys_fd (/dev/kvm or /dev/vmmu), configured by
 * @set_kind unless NULL, runs a real-mode guest that does OUT 0x42 to port
 * 0x80, then HLT.  @who names the VM in the test descriptions.
 */
void hv_test_tiny_guest(int sys_fd, int (*set_kind)(int vm_fd),
			const char *who);
/*
 * The VM of hv_test_tiny_guest(), ready to run: 0, or -errno of
 * KVM_CREATE_VM or @set_kind (nothing is left open then).
 */
int hv_tiny_guest_create(struct guest *g, int sys_fd,
			 int (*set_kind)(int vm_fd));

#endif
