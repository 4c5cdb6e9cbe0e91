/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend: EAL, ports, one RX (and TX) queue per worker lcore, RSS on
 * IP addresses only so one exporter stays on one worker, burst receive;
 * what happens to each packet (classification, IPv4/IPv6 reassembly, ARP /
 * neighbour advertisement / echo replies for the collector's addresses,
 * dispatch to the decoders) is dpdk_pkt.c. Built only when libdpdk is
 * found; otherwise nm_dpdk_available() is false.
 */
#ifndef NM_DPDK_H
#define NM_DPDK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "worker.h"

bool nm_dpdk_available(void);

/* rte_eal_init() with the EAL arguments (argv[0..argc-1]), then the ports
 * of cfg (probing vdevs) and their queues. 0, or -1 with a message. */
int nm_dpdk_init(int argc, char **argv, struct nm_config *cfg, char *err, size_t errlen);

/* Runs a worker on each worker lcore until *stop, then finishes them. */
int nm_dpdk_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen);

void nm_dpdk_cleanup(void);

/*
 * Starts a thread of the control plane (sink, stats) after nm_dpdk_init():
 * a DPDK control thread, so zstd and librdkafka never share a worker
 * lcore's CPU. Returns 0 or an errno value, as pthread_create.
 */
int nm_dpdk_thread_create(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

/* Per-port counters for the stats: ipackets, imissed, rx_nombuf. */
void nm_dpdk_port_stats(void *file);

/* One DPDK port's ethdev statistics (rte_eth_stats). */
struct nm_port_stats {
	uint16_t port_id;
	uint64_t packets; /* ipackets: received by the port */
	uint64_t bytes;   /* ibytes */
	uint64_t missed;  /* imissed: dropped by the NIC, its RX queues full */
	uint64_t errors;  /* ierrors: erroneous frames */
	uint64_t nombuf;  /* rx_nombuf: no mbuf to receive into */
};

typedef void nm_port_stats_fn(void *ctx, const struct nm_port_stats *st);

/*
 * Calls fn(ctx, stats) for each port nm_dpdk_init() set up, in port order,
 * with rte_eth_stats_get()'s figures (a port whose statistics cannot be
 * read is left out). For the stats thread (a control thread): never call
 * it from a worker lcore, nor after nm_dpdk_cleanup() (the metrics
 * endpoint stops before it). Calls nothing before nm_dpdk_init() or
 * without DPDK.
 */
void nm_dpdk_port_stats_each(nm_port_stats_fn *fn, void *ctx);

#endif
