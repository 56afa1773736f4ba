// SPDX-License-Identifier: GPL-2.0
/*
 * Memory cgroup helpers for vmmu's selftests; see cg_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"

#define CG_POLL_US	100000
#define CG_POLL_MAX	300	/* 30 s: memcg stats flush every 2 s */

int cg_find_base(char *base)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[256];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(base, CG_PATH_MAX, "/sys/fs/cgroup%s", line + 3);
		r = 0;
	}
	fclose(f);
	if (!r && access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		r = -ENOENT;
	return r;
}

int cg_write(const char *cg, const char *file, const char *val)
{
	char path[CG_PATH_MAX + 64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int cg_enter(const char *cg)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return cg_write(cg, "cgroup.procs", pid);
}

long cg_read_key(const char *cg, const char *file, const char *key)
{
	char path[CG_PATH_MAX + 64], name[64];
	long value, r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", name, &value) == 2)
		if (!strcmp(name, key))
			r = value;
	fclose(f);
	return r;
}

long cg_read_long(const char *cg, const char *file)
{
	char path[CG_PATH_MAX + 64];
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

long cg_wait_stat(const char *cg, const char *key, long want)
{
	long v = cg_read_key(cg, "memory.stat", key);
	int i;

	for (i = 0; i < CG_POLL_MAX && v != want && v >= 0; i++) {
		usleep(CG_POLL_US);
		v = cg_read_key(cg, "memory.stat", key);
	}
	return v;
}
