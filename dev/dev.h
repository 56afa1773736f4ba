/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internal interface of dev/: the character device and the fds it hands out.
 */
#ifndef _VMMU_DEV_DEV_H
#define _VMMU_DEV_DEV_H

struct vmmu_vm;

long vmmu_check_extension(struct vmmu_vm *vm, unsigned long cap);
int vmmu_dev_create_vm(unsigned long type);

#endif /* _VMMU_DEV_DEV_H */
