/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Preflight of the host (netmeta --check and start-up): the limits the
 * process's memory meets, and whether the sockets start-up binds can be
 * bound. Nothing is kept: a probe socket is closed before the function
 * returns, no file is written.
 */
#ifndef NM_PREFLIGHT_H
#define NM_PREFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * The number of bytes this process can still allocate and touch, as the
 * smallest of: physical memory; what RLIMIT_AS leaves above the address
 * space mapped now (VmSize); the memory limit of the process's cgroup and
 * of each of its ancestors (cgroup v2 memory.max, v1
 * memory.limit_in_bytes). *what names the bound that applied ("physical
 * memory", "the address space RLIMIT_AS leaves (...)", "cgroup memory.max
 * (PATH)"). Returns 0 when no bound is known.
 */
uint64_t nm_preflight_mem_limit(char *what, size_t whatlen);

/*
 * Binds, and closes at once, every socket start-up binds, as start-up
 * binds it: with the socket backend each listen port on cfg->bind (UDP;
 * without SO_REUSEPORT, so a port anyone holds is refused, or with it when
 * share_ports is true, so a port another netmeta holds is not), then the
 * metrics endpoint (TCP, SO_REUSEADDR). Finds ports in use, a bind address
 * that is not local, ports below 1024 without the capability. 0, or -1
 * with start-up's own message in err.
 */
int nm_preflight_ports(const struct nm_config *cfg, char *err, size_t errlen);

#endif
