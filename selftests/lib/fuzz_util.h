/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctl fuzzer's pieces (see selftests/fuzz.c): its random streams, the
 * epoch child that issues the operations, the counters it shares with the
 * parent, and the kernel log scan the parent runs after every epoch.
 */
#ifndef VMMU_SELFTESTS_FUZZ_UTIL_H
#define VMMU_SELFTESTS_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>

#include "vmmu_util.h"

#define FZ_MAX_THREADS		8
#define FZ_EXIT_REASONS		64

/* Operation classes, counted per class. */
enum fz_class {
	FZ_OP_VM_CREATE,
	FZ_OP_SET_MMU,
	FZ_OP_VCPU_CREATE,
	FZ_OP_MEMSLOT,
	FZ_OP_IOCTL,
	FZ_OP_RANDOM_IOCTL,
	FZ_OP_GUEST,
	FZ_OP_CLOSE,
	FZ_OP_DUP,
	FZ_OP_FORK,
	FZ_OP_MEM,
	FZ_OP_RUN_MAP,
	FZ_OP_ZAP,
	FZ_OP_PFNCACHE,
	FZ_OP_RUNSTATE,
	FZ_NR_CLASSES
};

/* How an epoch child ends. */
enum fz_end {
	FZ_END_RETURN,		/* joins its threads, closes everything */
	FZ_END_EXIT_GROUP,	/* exit_group() with fds open, vCPUs running */
	FZ_END_KILLED,		/* SIGKILL from the parent mid-operation */
	FZ_NR_ENDS
};

/* Counters an epoch child adds to; the parent maps them shared. */
struct fz_stats {
	u64 ops[FZ_NR_CLASSES];
	u64 ioctl_ok;
	u64 ioctl_failed;
	u64 runs;
	u64 runs_entered;
	u64 exits[FZ_EXIT_REASONS];
	u64 faults_armed;
	u64 timers_started;		/* pfncache test timers */
	u64 stats_fds;			/* KVM_GET_STATS_FD fds read and closed */
	/* Their preads that failed, but for EINVAL at a negative offset. */
	u64 stats_read_errors;
	/* ioctls of a forked process on inherited fds that did not fail EIO */
	u64 eio_broken;
	u64 eio_cmd;
	__s64 eio_ret;
};

/* What an epoch child does. */
struct fz_epoch {
	u64 seed;
	u64 epoch;
	unsigned int nr_threads;
	unsigned int nr_ops;		/* per thread */
	enum fz_end end;
	bool inject;			/* arm fail-nth now and then */
	struct fz_stats *stats;
};

/* A splitmix64 stream. */
struct fz_rng {
	u64 state;
};

/* The stream of thread @thread of epoch @epoch of seed @seed. */
void fz_rng_init(struct fz_rng *r, u64 seed, u64 epoch, u64 thread);
u64 fz_rand(struct fz_rng *r);
/* Uniform in [0, @n); 0 if @n is 0. */
u64 fz_below(struct fz_rng *r, u64 n);
/* True with probability @pct percent. */
bool fz_chance(struct fz_rng *r, unsigned int pct);

/* The stream of the epoch's own decisions (how it ends). */
#define FZ_STREAM_EPOCH		0xffffULL

/* Map what the epoch children need before the first fork. */
void fz_child_prepare(unsigned int nr_threads);
/* The body of an epoch child: never returns. */
noreturn void fz_child_run(const struct fz_epoch *ep);

/* Open /dev/kmsg at its end: the fd, or -errno. */
int fz_kmsg_open(void);
/*
 * Read the records logged since the last call; print (diag) and count the
 * lines that report a kernel problem.
 */
unsigned int fz_kmsg_scan(int fd);

#endif /* VMMU_SELFTESTS_FUZZ_UTIL_H */
