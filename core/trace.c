// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints of include/vmmu/trace.h, defined once for the module.
 */
#define CREATE_TRACE_POINTS
#include <vmmu/trace.h>
