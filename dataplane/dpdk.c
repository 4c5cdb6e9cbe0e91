/* SPDX-License-Identifier: BSD-3-Clause */
#include "dpdk.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_arp.h>
#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_telemetry.h>
#include <rte_udp.h>

#define NM_BURST 32
#define NM_PREFETCH_AHEAD 3
#define NM_VLAN_MAX 2
#define NM_FRAG_BUCKETS 4096  /* per worker at most: 4096 x 4 = 16 k datagrams in flight */
#define NM_FRAG_ENTRIES 4
#define NM_FRAG_TTL_MS 2000

struct nm_dport {
	uint16_t port_id;
	uint16_t nrxq, ntxq;
	struct rte_ether_addr mac;
	const struct nm_cfg_port *cfg;
};

static struct nm_dport nm_dports[NM_CFG_MAX_PORTS];
static uint32_t nm_ndports;
static struct rte_mempool *nm_pools[RTE_MAX_NUMA_NODES];

bool nm_dpdk_available(void)
{
	return true;
}

/* "net_pcap0,rx_pcap=x" -> "net_pcap0" (the ethdev name of a vdev). */
static void nm_dev_name(const char *devargs, char *name, size_t cap)
{
	size_t n = strcspn(devargs, ",");
	if (n >= cap)
		n = cap - 1;
	memcpy(name, devargs, n);
	name[n] = 0;
}

static int nm_port_setup(struct nm_dport *dp, uint32_t nworkers, const struct nm_config *cfg,
			 char *err, size_t errlen)
{
	uint16_t pid = dp->port_id;
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0) {
		snprintf(err, errlen, "%s: device info: %s", dp->cfg->device, rte_strerror(-rc));
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	uint64_t rss = info.flow_type_rss_offloads & RTE_ETH_RSS_IP;
	/* RSS on IP addresses only: every packet of an exporter, fragments
	 * included, lands on one queue. Without RSS, one queue. */
	if (nworkers > 1 && rss && info.max_rx_queues >= nworkers) {
		dp->nrxq = (uint16_t)nworkers;
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss;
	} else {
		dp->nrxq = 1;
	}
	dp->ntxq = (uint16_t)(nworkers < info.max_tx_queues ? nworkers : info.max_tx_queues);
	if (dp->ntxq == 0)
		dp->ntxq = 1;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	rc = rte_eth_dev_configure(pid, dp->nrxq, dp->ntxq, &conf);
	if (rc != 0) {
		snprintf(err, errlen, "%s: configure (%u rx, %u tx queues): %s", dp->cfg->device,
			 dp->nrxq, dp->ntxq, rte_strerror(-rc));
		return -1;
	}
	uint16_t nrx = (uint16_t)cfg->rx_desc, ntx = 512;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	int socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = 0;
	if (nm_pools[socket] == NULL) {
		char name[32];
		snprintf(name, sizeof(name), "nm_mbufs_%d", socket);
		nm_pools[socket] = rte_pktmbuf_pool_create(
			name, cfg->mbufs, 256, 0, (uint16_t)(cfg->mbuf_size + RTE_PKTMBUF_HEADROOM),
			socket);
		if (nm_pools[socket] == NULL) {
			snprintf(err, errlen, "mbufs: pool of %u on socket %d: %s", cfg->mbufs, socket,
				 rte_strerror(rte_errno));
			return -1;
		}
	}
	for (uint16_t q = 0; q < dp->nrxq; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nrx, (unsigned)socket, NULL, nm_pools[socket]);
		if (rc != 0) {
			snprintf(err, errlen,
				 "%s: rx queue %u: %s (mbufs: %u; a pcap replayed with infinite_rx "
				 "needs one mbuf per packet)",
				 dp->cfg->device, q, rte_strerror(-rc), cfg->mbufs);
			return -1;
		}
	}
	for (uint16_t q = 0; q < dp->ntxq; q++) {
		rc = rte_eth_tx_queue_setup(pid, q, ntx, (unsigned)socket, NULL);
		if (rc != 0) {
			snprintf(err, errlen, "%s: tx queue %u: %s", dp->cfg->device, q,
				 rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		snprintf(err, errlen, "%s: start: %s", dp->cfg->device, rte_strerror(-rc));
		return -1;
	}
	rte_eth_macaddr_get(pid, &dp->mac);
	rte_eth_allmulticast_enable(pid); /* neighbour solicitations */
	if (dp->cfg->accept_any_destination)
		rte_eth_promiscuous_enable(pid);
	return 0;
}

int nm_dpdk_init(int argc, char **argv, struct nm_config *cfg, char *err, size_t errlen)
{
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, errlen, "EAL init failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	unsigned nl = rte_lcore_count();
	if (nl < 2) {
		snprintf(err, errlen,
			 "EAL gave %u lcore; the main lcore runs control, workers need more "
			 "(e.g. -l 0-%u for %u workers)",
			 nl, cfg->workers, cfg->workers);
		return -1;
	}
	if (nl - 1 < cfg->workers) {
		snprintf(err, errlen,
			 "workers: %u configured, but EAL has %u worker lcore%s (-l / --lcores)",
			 cfg->workers, nl - 1, nl - 1 == 1 ? "" : "s");
		return -1;
	}
	for (uint32_t i = 0; i < cfg->nports; i++) {
		struct nm_dport *dp = &nm_dports[nm_ndports];
		char name[RTE_ETH_NAME_MAX_LEN];
		nm_dev_name(cfg->ports[i].device, name, sizeof(name));
		uint16_t pid;
		if (rte_eth_dev_get_port_by_name(name, &pid) != 0) {
			int rc = rte_dev_probe(cfg->ports[i].device);
			if (rc != 0 || rte_eth_dev_get_port_by_name(name, &pid) != 0) {
				snprintf(err, errlen, "ports[%u].device: %s: %s", i, cfg->ports[i].device,
					 rc ? rte_strerror(-rc) : "no such ethdev after probing");
				return -1;
			}
		}
		dp->port_id = pid;
		dp->cfg = &cfg->ports[i];
		if (nm_port_setup(dp, cfg->workers, cfg, err, errlen))
			return -1;
		nm_ndports++;
		char mac[RTE_ETHER_ADDR_FMT_SIZE];
		rte_ether_format_addr(mac, sizeof(mac), &dp->mac);
		fprintf(stderr, "netmeta: port %u (%s): %s, %u rx queue%s%s\n", pid, name, mac,
			dp->nrxq, dp->nrxq == 1 ? "" : "s",
			dp->nrxq == 1 && cfg->workers > 1 ? " (no RSS: worker 0 polls it)" : "");
	}
	return 0;
}

/* ---- worker lcore ---- */

struct nm_dworker {
	struct nm_worker *w;
	const struct nm_config *cfg;
	atomic_bool *stop;
	uint32_t id;
	struct rte_ip_frag_tbl *frag;
	struct rte_ip_frag_death_row dr;
	uint8_t bounce[65536];
};

static bool nm_is_ours(const struct nm_dport *dp, const struct nm_addr *a)
{
	for (uint32_t i = 0; i < dp->cfg->naddrs; i++)
		if (memcmp(dp->cfg->addrs[i].b, a->b, 16) == 0)
			return true;
	return false;
}

static bool nm_tx1(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m)
{
	if (x->id >= dp->ntxq || rte_eth_tx_burst(dp->port_id, (uint16_t)x->id, &m, 1) != 1) {
		nm_wc_add(x->w, NM_WC_TX_FAILED, 1);
		return false;
	}
	return true;
}

/* ARP request for one of our IPv4 addresses: answer in place. */
static bool nm_arp(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
		   struct rte_ether_hdr *eth, struct rte_arp_hdr *arp)
{
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return false;
	struct nm_addr tip;
	nm_addr_set_v4(&tip, (const uint8_t *)&arp->arp_data.arp_tip);
	if (!nm_is_ours(dp, &tip))
		return false;
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&dp->mac, &eth->src_addr);
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	uint32_t sip = arp->arp_data.arp_sip;
	arp->arp_data.arp_tip = sip;
	rte_ether_addr_copy(&dp->mac, &arp->arp_data.arp_sha);
	memcpy(&arp->arp_data.arp_sip, tip.b + 12, 4);
	if (nm_tx1(x, dp, m))
		nm_wc_add(x->w, NM_WC_ARP_REPLIED, 1);
	return true;
}

static void nm_swap_mac(const struct nm_dport *dp, struct rte_ether_hdr *eth)
{
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&dp->mac, &eth->src_addr);
}

/*
 * Handles one packet. Returns true when the mbuf was consumed (sent,
 * or kept by the reassembly table); false when the caller frees it.
 */
static bool nm_packet(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
		      uint64_t now_ns, uint64_t tsc)
{
	struct nm_worker *w = x->w;
	if (m->nb_segs > 1) {
		/* Never pair the first segment with the whole length: read it
		 * whole into the bounce buffer; no replies from there. */
		nm_wc_add(w, NM_WC_MULTI_SEGMENT, 1);
	}
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *p = rte_pktmbuf_read(m, 0, len, x->bounce);
	bool contiguous = m->nb_segs == 1;
	if (p == NULL || len < sizeof(struct rte_ether_hdr)) {
		nm_wc_add(w, NM_WC_MALFORMED, 1);
		return false;
	}
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)(uintptr_t)p;
	uint16_t et = rte_be_to_cpu_16(eth->ether_type);
	uint32_t off = sizeof(*eth);
	for (int depth = 0; et == RTE_ETHER_TYPE_VLAN || et == RTE_ETHER_TYPE_QINQ; depth++) {
		if (depth >= NM_VLAN_MAX || len < off + 4) {
			nm_wc_add(w, depth >= NM_VLAN_MAX ? NM_WC_NOT_IP : NM_WC_MALFORMED, 1);
			return false;
		}
		et = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
		off += 4;
	}
	if (et == RTE_ETHER_TYPE_ARP && contiguous && len >= off + sizeof(struct rte_arp_hdr)) {
		if (nm_arp(x, dp, m, eth, (struct rte_arp_hdr *)(uintptr_t)(p + off)))
			return true;
		nm_wc_add(w, NM_WC_NOT_IP, 1);
		return false;
	}
	struct nm_addr src, dst;
	uint8_t proto;
	uint32_t l4, l4len;
	if (et == RTE_ETHER_TYPE_IPV4) {
		if (len < off + 20) {
			nm_wc_add(w, NM_WC_MALFORMED, 1);
			return false;
		}
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(uintptr_t)(p + off);
		uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
		uint32_t tot = rte_be_to_cpu_16(ip->total_length);
		if ((ip->version_ihl >> 4) != 4 || ihl < 20 || tot < ihl || off + tot > len) {
			nm_wc_add(w, NM_WC_MALFORMED, 1);
			return false;
		}
		nm_addr_set_v4(&src, (const uint8_t *)&ip->src_addr);
		nm_addr_set_v4(&dst, (const uint8_t *)&ip->dst_addr);
		if (!dp->cfg->accept_any_destination && !nm_is_ours(dp, &dst)) {
			nm_wc_add(w, NM_WC_NOT_FOR_US, 1);
			return false;
		}
		if (rte_ipv4_frag_pkt_is_fragmented(ip)) {
			if (!contiguous) {
				nm_wc_add(w, NM_WC_FRAG_DROPPED, 1);
				return false;
			}
			m->l2_len = off;
			m->l3_len = ihl;
			uint32_t dead = x->dr.cnt;
			struct rte_mbuf *r = rte_ipv4_frag_reassemble_packet(x->frag, &x->dr, m, tsc, ip);
			if (r == NULL) {
				/* NULL both when kept and when refused: a refused one
				 * goes to the death row. */
				nm_wc_add(w, x->dr.cnt > dead ? NM_WC_FRAG_DROPPED : NM_WC_FRAG_HELD, 1);
				return true;
			}
			/* Complete: a chained mbuf, read whole below. */
			uint32_t rl = rte_pktmbuf_pkt_len(r);
			const uint8_t *rp = rte_pktmbuf_read(r, 0, rl, x->bounce);
			const struct rte_ipv4_hdr *rip = (const void *)(rp + r->l2_len);
			uint32_t rtot = rte_be_to_cpu_16(rip->total_length);
			if (rip->next_proto_id != IPPROTO_UDP || r->l2_len + rtot > rl ||
			    rtot < (uint32_t)r->l3_len + 8u) {
				nm_wc_add(w, NM_WC_NOT_UDP, 1);
				rte_pktmbuf_free(r);
				return true;
			}
			const uint8_t *u = rp + r->l2_len + r->l3_len;
			nm_worker_datagram(w, &src, (uint16_t)(u[0] << 8 | u[1]), (uint16_t)(u[2] << 8 | u[3]),
					   u + 8, rtot - (uint32_t)r->l3_len - 8u, now_ns);
			rte_pktmbuf_free(r);
			return true;
		}
		proto = ip->next_proto_id;
		l4 = off + ihl;
		l4len = tot - ihl;
		if (proto == IPPROTO_ICMP && contiguous && l4len >= 8 && p[l4] == RTE_IP_ICMP_ECHO_REQUEST &&
		    nm_is_ours(dp, &dst)) {
			struct rte_icmp_hdr *ic = (struct rte_icmp_hdr *)(uintptr_t)(p + l4);
			ic->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
			ic->icmp_cksum = 0;
			ic->icmp_cksum = (uint16_t)~rte_raw_cksum(ic, l4len);
			uint32_t t = ip->src_addr;
			ip->src_addr = ip->dst_addr;
			ip->dst_addr = t;
			ip->time_to_live = 64;
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
			nm_swap_mac(dp, eth);
			if (nm_tx1(x, dp, m))
				nm_wc_add(w, NM_WC_ICMP_REPLIED, 1);
			return true;
		}
	} else if (et == RTE_ETHER_TYPE_IPV6) {
		if (len < off + 40) {
			nm_wc_add(w, NM_WC_MALFORMED, 1);
			return false;
		}
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(uintptr_t)(p + off);
		uint32_t plen = rte_be_to_cpu_16(ip6->payload_len);
		if (off + 40 + plen > len) {
			nm_wc_add(w, NM_WC_MALFORMED, 1);
			return false;
		}
		memcpy(src.b, ip6->src_addr, 16);
		memcpy(dst.b, ip6->dst_addr, 16);
		proto = ip6->proto;
		l4 = off + 40;
		l4len = plen;
		/* Walk hop-by-hop / routing / destination options (capped). */
		for (int depth = 0; (proto == 0 || proto == 43 || proto == 60) && depth < 8; depth++) {
			if (l4len < 8) {
				nm_wc_add(w, NM_WC_MALFORMED, 1);
				return false;
			}
			uint32_t hl = ((uint32_t)p[l4 + 1] + 1) * 8;
			if (hl > l4len) {
				nm_wc_add(w, NM_WC_MALFORMED, 1);
				return false;
			}
			proto = p[l4];
			l4 += hl;
			l4len -= hl;
		}
		if (proto == IPPROTO_ICMPV6 && contiguous && l4len >= 24 && p[l4] == 135) {
			/* Neighbour solicitation: target at +8. */
			struct nm_addr target;
			memcpy(target.b, p + l4 + 8, 16);
			if (nm_is_ours(dp, &target)) {
				/* Answer with an advertisement: solicited, override,
				 * target link-layer address option. */
				uint8_t *q = (uint8_t *)(uintptr_t)(p + l4);
				if ((uint32_t)rte_pktmbuf_data_len(m) >= l4 + 32 ||
				    rte_pktmbuf_append(m, (uint16_t)(l4 + 32 - rte_pktmbuf_data_len(m)))) {
					q[0] = 136;
					q[1] = 0;
					q[4] = 0x60;
					q[5] = q[6] = q[7] = 0;
					q[24] = 2; /* target link-layer address */
					q[25] = 1;
					memcpy(q + 26, dp->mac.addr_bytes, 6);
					ip6->payload_len = rte_cpu_to_be_16(32);
					rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - (l4 + 32)));
					memcpy(ip6->dst_addr, ip6->src_addr, 16);
					memcpy(ip6->src_addr, target.b, 16);
					ip6->proto = IPPROTO_ICMPV6;
					ip6->hop_limits = 255;
					q[2] = q[3] = 0;
					/* returned in memory order, ready to store */
					uint16_t ck = rte_ipv6_udptcp_cksum(ip6, q);
					memcpy(q + 2, &ck, 2);
					nm_swap_mac(dp, eth);
					if (nm_tx1(x, dp, m))
						nm_wc_add(w, NM_WC_ND_REPLIED, 1);
					return true;
				}
			}
			nm_wc_add(w, NM_WC_NOT_UDP, 1);
			return false;
		}
		if (!dp->cfg->accept_any_destination && !nm_is_ours(dp, &dst)) {
			nm_wc_add(w, NM_WC_NOT_FOR_US, 1);
			return false;
		}
		if (proto == IPPROTO_FRAGMENT) {
			if (!contiguous || l4 != off + 40) {
				nm_wc_add(w, NM_WC_FRAG_DROPPED, 1);
				return false;
			}
			m->l2_len = off;
			m->l3_len = 40 + sizeof(struct rte_ipv6_fragment_ext);
			struct rte_ipv6_fragment_ext *fh = rte_ipv6_frag_get_ipv6_fragment_header(ip6);
			uint32_t dead = x->dr.cnt;
			struct rte_mbuf *r = rte_ipv6_frag_reassemble_packet(x->frag, &x->dr, m, tsc, ip6, fh);
			if (r == NULL) {
				nm_wc_add(w, x->dr.cnt > dead ? NM_WC_FRAG_DROPPED : NM_WC_FRAG_HELD, 1);
				return true;
			}
			uint32_t rl = rte_pktmbuf_pkt_len(r);
			const uint8_t *rp = rte_pktmbuf_read(r, 0, rl, x->bounce);
			const struct rte_ipv6_hdr *rip = (const void *)(rp + r->l2_len);
			uint32_t rplen = rte_be_to_cpu_16(rip->payload_len);
			if (rip->proto != IPPROTO_UDP || r->l2_len + 40 + rplen > rl || rplen < 8) {
				nm_wc_add(w, NM_WC_NOT_UDP, 1);
				rte_pktmbuf_free(r);
				return true;
			}
			const uint8_t *u = rp + r->l2_len + 40;
			nm_worker_datagram(w, &src, (uint16_t)(u[0] << 8 | u[1]), (uint16_t)(u[2] << 8 | u[3]),
					   u + 8, rplen - 8, now_ns);
			rte_pktmbuf_free(r);
			return true;
		}
		if (proto == IPPROTO_ICMPV6 && contiguous && l4len >= 8 && p[l4] == 128 &&
		    nm_is_ours(dp, &dst)) {
			uint8_t *q = (uint8_t *)(uintptr_t)(p + l4);
			q[0] = 129;
			q[2] = q[3] = 0;
			memcpy(ip6->dst_addr, ip6->src_addr, 16);
			memcpy(ip6->src_addr, dst.b, 16);
			ip6->hop_limits = 64;
			uint16_t ck = rte_ipv6_udptcp_cksum(ip6, q); /* memory order */
			memcpy(q + 2, &ck, 2);
			nm_swap_mac(dp, eth);
			if (nm_tx1(x, dp, m))
				nm_wc_add(w, NM_WC_ICMP_REPLIED, 1);
			return true;
		}
	} else {
		nm_wc_add(w, NM_WC_NOT_IP, 1);
		return false;
	}
	if (proto != IPPROTO_UDP) {
		nm_wc_add(w, NM_WC_NOT_UDP, 1);
		return false;
	}
	if (l4len < 8) {
		nm_wc_add(w, NM_WC_MALFORMED, 1);
		return false;
	}
	const uint8_t *u = p + l4;
	uint32_t ulen = (uint32_t)(u[4] << 8 | u[5]);
	if (ulen < 8 || ulen > l4len)
		ulen = l4len; /* trust the IP length */
	nm_worker_datagram(w, &src, (uint16_t)(u[0] << 8 | u[1]), (uint16_t)(u[2] << 8 | u[3]), u + 8,
			   ulen - 8, now_ns);
	return false;
}

static int nm_worker_main(void *arg)
{
	struct nm_dworker *x = arg;
	struct nm_worker *w = x->w;
	struct rte_mbuf *pkts[NM_BURST], *done[NM_BURST];
	uint64_t hz = rte_get_tsc_hz(), last_tick = 0;
	bool polls = false;
	for (uint32_t i = 0; i < nm_ndports; i++)
		polls |= x->id < nm_dports[i].nrxq;
	while (!atomic_load_explicit(x->stop, memory_order_acquire)) {
		uint32_t got = 0;
		for (uint32_t i = 0; i < nm_ndports; i++) {
			const struct nm_dport *dp = &nm_dports[i];
			if (x->id >= dp->nrxq)
				continue;
			uint16_t n = rte_eth_rx_burst(dp->port_id, (uint16_t)x->id, pkts, NM_BURST);
			if (n == 0)
				continue;
			got += n;
			uint64_t now = nm_now_ns(), tsc = rte_rdtsc();
			unsigned nd = 0;
			for (uint16_t k = 0; k < n && k < NM_PREFETCH_AHEAD; k++)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[k], void *));
			for (uint16_t k = 0; k < n; k++) {
				if (k + NM_PREFETCH_AHEAD < n)
					rte_prefetch0(rte_pktmbuf_mtod(pkts[k + NM_PREFETCH_AHEAD], void *));
				nm_wc_add(w, NM_WC_RX_PACKETS, 1);
				nm_wc_add(w, NM_WC_RX_BYTES, rte_pktmbuf_pkt_len(pkts[k]));
				if (!nm_packet(x, dp, pkts[k], now, tsc))
					done[nd++] = pkts[k];
			}
			rte_pktmbuf_free_bulk(done, nd);
		}
		uint64_t t = rte_rdtsc();
		if (got == 0 || t - last_tick > hz / 1000) {
			/* Fragments that never complete must not keep their mbufs:
			 * a flood of them would otherwise drain the pool for good. */
			rte_ip_frag_table_del_expired_entries(x->frag, &x->dr, t);
			nm_worker_tick(w, nm_now_ns());
			last_tick = t;
		}
		rte_ip_frag_free_death_row(&x->dr, NM_BURST);
		if (!polls) {
			/* No queue for this worker (a port without RSS): do not
			 * burn the CPU the sink and control threads share. */
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	nm_worker_finish(w);
	return 0;
}

/* DPDK telemetry: /netmeta/workers gives every worker counter summed,
 * /netmeta/decode the decoders' datagram and record counters
 * (dpdk-telemetry.py, or the telemetry socket). */
static struct nm_worker *nm_tel_workers;
static uint32_t nm_tel_nworkers;

static int nm_tel_workers_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (int c = 0; c < NM_WC__COUNT; c++) {
		uint64_t v = 0;
		for (uint32_t i = 0; i < nm_tel_nworkers; i++)
			v += nm_wc_get(&nm_tel_workers[i], (enum nm_wc)c);
		rte_tel_data_add_dict_u64(d, nm_wc_name((enum nm_wc)c), v);
	}
	return 0;
}

static int nm_tel_decode_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct nm_decode_stats s;
	nm_workers_dec_stats(nm_tel_workers, nm_tel_nworkers, &s);
	rte_tel_data_start_dict(d);
#define NM_X_(name, help) rte_tel_data_add_dict_u64(d, #name, s.name);
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	return 0;
}

int nm_dpdk_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen)
{
	nm_tel_workers = workers;
	nm_tel_nworkers = cfg->workers;
	rte_telemetry_register_cmd("/netmeta/workers", nm_tel_workers_cb,
				   "Worker counters of the collector, summed. No parameters");
	rte_telemetry_register_cmd("/netmeta/decode", nm_tel_decode_cb,
				   "Decoder datagram and record counters, summed. No parameters");
	struct nm_dworker *xs = rte_zmalloc("nm_dworkers", cfg->workers * sizeof(*xs), 64);
	if (xs == NULL) {
		snprintf(err, errlen, "out of memory for workers");
		return -1;
	}
	uint64_t hz = rte_get_tsc_hz();
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	for (uint32_t i = 0; i < cfg->workers; i++, lcore = rte_get_next_lcore(lcore, 1, 0)) {
		struct nm_dworker *x = &xs[i];
		x->w = &workers[i];
		x->cfg = cfg;
		x->stop = stop;
		x->id = i;
		/* Each entry holds up to RTE_LIBRTE_IP_FRAG_MAX_FRAG mbufs: keep the
		 * table to a quarter of the pool between all workers, so held
		 * fragments can never starve reception. */
		uint32_t entries = cfg->mbufs / 4 / RTE_LIBRTE_IP_FRAG_MAX_FRAG / cfg->workers;
		if (entries > NM_FRAG_BUCKETS * NM_FRAG_ENTRIES)
			entries = NM_FRAG_BUCKETS * NM_FRAG_ENTRIES;
		if (entries < 64)
			entries = 64;
		uint32_t buckets = 1;
		while (buckets * NM_FRAG_ENTRIES < entries)
			buckets <<= 1;
		x->frag = rte_ip_frag_table_create(buckets, NM_FRAG_ENTRIES, entries,
						   hz / 1000 * NM_FRAG_TTL_MS,
						   (int)rte_lcore_to_socket_id(lcore));
		if (x->frag == NULL) {
			snprintf(err, errlen, "worker %u: fragment table: %s", i, rte_strerror(rte_errno));
			return -1;
		}
		rte_eal_remote_launch(nm_worker_main, x, lcore);
	}
	/* The main lcore's CPU also runs the sink and stats threads: sleep,
	 * do not spin in rte_eal_mp_wait_lcore() while the workers run. */
	while (!atomic_load_explicit(stop, memory_order_acquire)) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	rte_eal_mp_wait_lcore();
	for (uint32_t i = 0; i < cfg->workers; i++) {
		rte_ip_frag_free_death_row(&xs[i].dr, 0);
		rte_ip_frag_table_destroy(xs[i].frag);
	}
	rte_free(xs);
	return 0;
}

void nm_dpdk_port_stats(void *file)
{
	FILE *o = file;
	for (uint32_t i = 0; i < nm_ndports; i++) {
		struct rte_eth_stats st;
		if (rte_eth_stats_get(nm_dports[i].port_id, &st) == 0)
			fprintf(o,
				"port%u ipackets %" PRIu64 "\nport%u imissed %" PRIu64
				"\nport%u ierrors %" PRIu64 "\nport%u rx_nombuf %" PRIu64 "\n",
				nm_dports[i].port_id, st.ipackets, nm_dports[i].port_id, st.imissed,
				nm_dports[i].port_id, st.ierrors, nm_dports[i].port_id, st.rx_nombuf);
	}
}

void nm_dpdk_cleanup(void)
{
	for (uint32_t i = 0; i < nm_ndports; i++) {
		rte_eth_dev_stop(nm_dports[i].port_id);
		rte_eth_dev_close(nm_dports[i].port_id);
	}
	rte_eal_cleanup();
}
