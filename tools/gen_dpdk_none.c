/* SPDX-License-Identifier: BSD-3-Clause */
/* Built without libdpdk: netmeta-gen has no DPDK output. */
#include <stdio.h>

#include "gen_dpdk.h"

bool nm_gen_dpdk_available(void)
{
	return false;
}

int nm_gen_dpdk_open(const char *dev, const char *eal_extra, char *err, size_t errlen)
{
	(void)dev;
	(void)eal_extra;
	snprintf(err, errlen, "built without DPDK");
	return -1;
}

int nm_gen_dpdk_send(const uint8_t *hdrs, const uint8_t *payload, size_t len)
{
	(void)hdrs;
	(void)payload;
	(void)len;
	return -1;
}

void nm_gen_dpdk_close(uint64_t *sent, uint64_t *dropped)
{
	*sent = *dropped = 0;
}
