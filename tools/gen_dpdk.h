/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-gen's DPDK TX output: frames go out of one DPDK port (a NIC or
 * any vdev, e.g. net_pcap0,tx_pcap=FILE or net_af_packet0,iface=X). Built
 * when libdpdk is there; otherwise nm_gen_dpdk_available() is false.
 */
#ifndef NM_GEN_DPDK_H
#define NM_GEN_DPDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool nm_gen_dpdk_available(void);

/* EAL init (default arguments: --no-huge -m 256 --no-pci --no-telemetry and
 * a file prefix of its own, plus eal_extra split at spaces), then the
 * port: a vdev string is probed, a PCI address allowed. 0 or -1 + err. */
int nm_gen_dpdk_open(const char *dev, const char *eal_extra, char *err, size_t errlen);

/* Queues one frame (42 header bytes, then the payload); sends in bursts.
 * 0, or -1 when the port refused it (counted). */
int nm_gen_dpdk_send(const uint8_t *hdrs, const uint8_t *payload, size_t len);

/* Sends what is queued, stops the port. *sent / *dropped: frames. */
void nm_gen_dpdk_close(uint64_t *sent, uint64_t *dropped);

#endif
