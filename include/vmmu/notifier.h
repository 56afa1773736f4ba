/* SPDX-License-Identifier: GPL-2.0 */
/*
 * notifier/: coherence with the host mm.
 */
#ifndef _VMMU_NOTIFIER_H
#define _VMMU_NOTIFIER_H

struct vmmu_vm;

int vmmu_notifier_register(struct vmmu_vm *vm);
void vmmu_notifier_unregister(struct vmmu_vm *vm);

#endif /* _VMMU_NOTIFIER_H */
