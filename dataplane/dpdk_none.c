/* SPDX-License-Identifier: BSD-3-Clause */
/* Built when libdpdk is not available: the socket backend only. */
#include <stdio.h>

#include "dpdk.h"

bool nm_dpdk_available(void)
{
	return false;
}

int nm_dpdk_init(int argc, char **argv, struct nm_config *cfg, char *err, size_t errlen)
{
	(void)argc;
	(void)argv;
	(void)cfg;
	snprintf(err, errlen, "built without DPDK");
	return -1;
}

int nm_dpdk_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen)
{
	(void)cfg;
	(void)workers;
	(void)stop;
	snprintf(err, errlen, "built without DPDK");
	return -1;
}

void nm_dpdk_cleanup(void)
{
}

void nm_dpdk_port_stats(void *file)
{
	(void)file;
}

void nm_dpdk_port_stats_each(nm_port_stats_fn *fn, void *ctx)
{
	(void)fn;
	(void)ctx;
}

int nm_dpdk_thread_create(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	(void)name;
	return pthread_create(t, NULL, fn, arg);
}
