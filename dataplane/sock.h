/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Socket backend, for hosts without a spare NIC: one thread per worker, each
 * with its own SO_REUSEPORT UDP socket per listen port, recvmmsg() batches,
 * and a classic-BPF reuseport program that picks the socket (= worker) from
 * the exporter's source address, so an exporter's templates stay on one
 * worker as they do with RSS on the DPDK path.
 */
#ifndef NM_SOCK_H
#define NM_SOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "worker.h"

/* One instance per port: 0 when share_ports is set or no other socket holds
 * any listen port; else -1 with "listen: port P on B is in use by another
 * process ...: refused; ..." in err. A probe, not a lock: two collectors
 * started in the same instant may both pass. main() calls it before the
 * metrics endpoint binds, so the operator sees this message rather than
 * the metrics port's; nm_sock_run() probes again just before it binds. */
int nm_sock_ports_free(const struct nm_config *cfg, char *err, size_t errlen);

/* --check: binds, and closes at once, every listen port as start-up binds
 * it (with SO_REUSEPORT under share_ports, else without, so that a port
 * anyone holds is refused in nm_sock_ports_free's words); any failure (an
 * address that is not local, a port below 1024 without the capability)
 * is refused with start-up's message. 0, or -1 with it in err. */
int nm_sock_ports_bindable(const struct nm_config *cfg, char *err, size_t errlen);

/* Runs the socket backend until *stop; workers[] are initialised. Returns 0,
 * or -1 with a message in err when sockets could not be set up. */
int nm_sock_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen);

/*
 * Datagrams the kernel dropped at one socket (SO_RXQ_OVFL): worker w's
 * socket on cfg->listen[k]. Its sum over w and k is KERNEL_DROPS (the
 * worker updates both after each receive that carries the count). Any
 * thread; 0 for a socket that does not exist (yet).
 */
uint64_t nm_sock_kernel_drops(uint32_t w, uint32_t k);

#endif
