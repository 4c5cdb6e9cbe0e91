/* SPDX-License-Identifier: BSD-3-Clause */
#include "gen_dpdk.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "flowgen.h"

#define NM_TX_BURST 32

static struct rte_mempool *nm_pool;
static uint16_t nm_port;
static struct rte_mbuf *nm_q[NM_TX_BURST];
static unsigned nm_nq;
static uint64_t nm_sent, nm_dropped;

bool nm_gen_dpdk_available(void)
{
	return true;
}

int nm_gen_dpdk_open(const char *dev, const char *eal_extra, char *err, size_t errlen)
{
	/* rte_eal_init() takes char *argv[]: writable copies, not literals. */
	static char prefix[64], extra[1024], a_name[] = "netmeta-gen", a_nohuge[] = "--no-huge",
		    a_m[] = "-m", a_mem[] = "256", a_notel[] = "--no-telemetry",
		    a_nopci[] = "--no-pci";
	char *argv[64];
	int argc = 0;
	snprintf(prefix, sizeof(prefix), "--file-prefix=nmgen%d", (int)getpid());
	argv[argc++] = a_name;
	argv[argc++] = a_nohuge;
	argv[argc++] = a_m;
	argv[argc++] = a_mem;
	argv[argc++] = a_notel;
	argv[argc++] = prefix;
	bool vdev = strncmp(dev, "net_", 4) == 0;
	if (vdev)
		argv[argc++] = a_nopci;
	snprintf(extra, sizeof(extra), "%s", eal_extra ? eal_extra : "");
	for (char *t = strtok(extra, " "); t && argc < 62; t = strtok(NULL, " "))
		argv[argc++] = t;
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, errlen, "EAL init: %s", rte_strerror(rte_errno));
		return -1;
	}
	char name[RTE_ETH_NAME_MAX_LEN];
	size_t n = strcspn(dev, ",");
	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), dev);
	if (rte_eth_dev_get_port_by_name(name, &nm_port) != 0) {
		int rc = rte_dev_probe(dev);
		if (rc != 0 || rte_eth_dev_get_port_by_name(name, &nm_port) != 0) {
			snprintf(err, errlen, "%s: %s", dev, rc ? rte_strerror(-rc) : "no such port");
			return -1;
		}
	}
	nm_pool = rte_pktmbuf_pool_create("nmgen", 8191, 256, 0, 9216 + RTE_PKTMBUF_HEADROOM,
					  rte_socket_id());
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (nm_pool == NULL) {
		snprintf(err, errlen, "%s: mbuf pool: %s", dev, rte_strerror(rte_errno));
		return -1;
	}
	int rc;
	if ((rc = rte_eth_dev_configure(nm_port, 1, 1, &conf)) != 0 ||
	    (rc = rte_eth_rx_queue_setup(nm_port, 0, 256, rte_socket_id(), NULL, nm_pool)) != 0 ||
	    (rc = rte_eth_tx_queue_setup(nm_port, 0, 1024, rte_socket_id(), NULL)) != 0 ||
	    (rc = rte_eth_dev_start(nm_port)) != 0) {
		snprintf(err, errlen, "%s: port setup failed: %s", dev, rte_strerror(-rc));
		return -1;
	}
	return 0;
}

static void nm_flush(void)
{
	unsigned done = 0;
	for (int tries = 0; done < nm_nq && tries < 1000; tries++)
		done += rte_eth_tx_burst(nm_port, 0, nm_q + done, (uint16_t)(nm_nq - done));
	if (done < nm_nq) {
		rte_pktmbuf_free_bulk(nm_q + done, nm_nq - done);
		nm_dropped += nm_nq - done;
	}
	nm_sent += done;
	nm_nq = 0;
}

int nm_gen_dpdk_send(const uint8_t *hdrs, const uint8_t *payload, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(nm_pool);
	char *p = m ? rte_pktmbuf_append(m, (uint16_t)(NM_UDP_HDRS + len)) : NULL;
	if (p == NULL) {
		if (m)
			rte_pktmbuf_free(m);
		nm_dropped++;
		return -1;
	}
	memcpy(p, hdrs, NM_UDP_HDRS);
	memcpy(p + NM_UDP_HDRS, payload, len);
	nm_q[nm_nq++] = m;
	if (nm_nq == NM_TX_BURST)
		nm_flush();
	return 0;
}

void nm_gen_dpdk_close(uint64_t *sent, uint64_t *dropped)
{
	nm_flush();
	rte_eth_dev_stop(nm_port);
	rte_eth_dev_close(nm_port);
	rte_eal_cleanup();
	*sent = nm_sent;
	*dropped = nm_dropped;
}
