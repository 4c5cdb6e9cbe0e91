/* SPDX-License-Identifier: BSD-3-Clause */
#include "dpdk_pkt.h"

#include <string.h>

#include <rte_ip.h>
#include <rte_prefetch.h>

/* Ethernet/IPv4 ARP (RFC 826) field offsets. */
#define NM_ARP_OP 6
#define NM_ARP_SHA 8
#define NM_ARP_SPA 14
#define NM_ARP_THA 18
#define NM_ARP_TPA 24
#define NM_ARP_OP_REPLY 2

#define NM_ECHO_TTL 64
#define NM_ND_NA_LEN 32      /* advertisement + target link-layer address option */
#define NM_ND_NA_FLAGS 0x60  /* solicited, override */
#define NM_ND_OPT_TLLA 2

void nm_dport_us_init(struct nm_dport *dp)
{
	dp->us.addrs = dp->cfg->addrs;
	dp->us.naddrs = dp->cfg->naddrs;
	dp->us.any_dst = dp->cfg->accept_any_destination;
}

const uint8_t *nm_dpkt_frame(const struct rte_mbuf *m, uint8_t *buf, uint32_t cap,
			     uint32_t *len, enum nm_wc *fail)
{
	uint32_t pl = rte_pktmbuf_pkt_len(m);
	if (pl > cap) {
		*fail = NM_WC_OVERSIZE;
		return NULL;
	}
	if (m->nb_segs == 1 && m->next == NULL) {
		if (m->data_len != pl) {
			*fail = NM_WC_MALFORMED;
			return NULL;
		}
		*len = pl;
		return rte_pktmbuf_mtod(m, const uint8_t *);
	}
	/* Copy at most pl (<= cap) bytes, whatever the segments claim; a chain
	 * longer than nb_segs (or a loop) ends the walk. */
	uint32_t got = 0, n = 0;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		uint32_t dl = s->data_len;
		if (++n > m->nb_segs || dl > pl - got) {
			*fail = NM_WC_MALFORMED;
			return NULL;
		}
		if (dl) {
			memcpy(buf + got, rte_pktmbuf_mtod(s, const uint8_t *), dl);
			got += dl;
		}
	}
	if (got != pl || n != m->nb_segs) {
		*fail = NM_WC_MALFORMED;
		return NULL;
	}
	*len = pl;
	return buf;
}

/* The packet sampler's chain copy (see dpdk_pkt.h). */
const uint8_t *nm_dpkt_sample_bytes(struct nm_dworker *x, const struct rte_mbuf *m,
				    uint32_t *caplen)
{
	uint32_t pl = rte_pktmbuf_pkt_len(m);
	if (m->nb_segs == 1 && m->next == NULL) {
		if (m->data_len != pl)
			return NULL;
		*caplen = pl;
		return rte_pktmbuf_mtod(m, const uint8_t *);
	}
	uint32_t want = pl < NM_DPKT_SAMPLE_COPY ? pl : NM_DPKT_SAMPLE_COPY;
	uint32_t got = 0, seen = 0, n = 0;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		uint32_t room = want - got, dl = s->data_len;
		/* cppcheck 2.10 reads no DPDK header and takes pkt_len as 0 */
		// cppcheck-suppress knownConditionTrueFalse
		if (room == 0)
			break;
		if (++n > m->nb_segs || dl > pl - seen)
			return NULL;
		seen += dl;
		uint32_t take = RTE_MIN(dl, room);
		memcpy(x->bounce + got, rte_pktmbuf_mtod(s, const uint8_t *), take);
		got += take;
	}
	if (got != want)
		return NULL;
	*caplen = got;
	return x->bounce;
}

/* Counts the request (what) and sends the reply built in m. */
static bool nm_dpkt_send(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
			 enum nm_wc what)
{
	nm_wc_add(x->w, what, 1);
	if (nm_dpkt_env_tx(x, dp, m))
		return true;
	nm_wc_add(x->w, NM_WC_TX_FAILED, 1);
	return false; /* the port did not take it: the caller frees it */
}

/* Back to where the frame came from, from our MAC. */
static void nm_dpkt_swap_mac(const struct nm_dport *dp, uint8_t *eth)
{
	memcpy(eth, eth + 6, 6);
	memcpy(eth + 6, dp->mac.addr_bytes, 6);
}

/* ARP request for one of our IPv4 addresses: the reply, in place. */
static bool nm_dpkt_arp(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
			const struct nm_l2l3 *c)
{
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *a = eth + c->l3;
	uint8_t tpa[4];
	memcpy(tpa, a + NM_ARP_TPA, 4);
	a[NM_ARP_OP] = 0;
	a[NM_ARP_OP + 1] = NM_ARP_OP_REPLY;
	memmove(a + NM_ARP_THA, a + NM_ARP_SHA, 10); /* target := the asker (MAC, IPv4) */
	memcpy(a + NM_ARP_SHA, dp->mac.addr_bytes, 6);
	memcpy(a + NM_ARP_SPA, tpa, 4);
	nm_dpkt_swap_mac(dp, eth);
	return nm_dpkt_send(x, dp, m, NM_WC_ARP_REPLIED);
}

/* ICMP echo request to us: the reply, in place (IPv4 options kept). */
static bool nm_dpkt_echo4(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
			  const struct nm_l2l3 *c)
{
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = eth + c->l3, *ic = eth + c->l4;
	ic[0] = NM_ICMP4_ECHO_REPLY;
	ic[2] = ic[3] = 0;
	uint16_t ck = (uint16_t)~rte_raw_cksum(ic, c->l4_len); /* memory order */
	memcpy(ic + 2, &ck, 2);
	uint8_t t[4];
	memcpy(t, ip + NM_IP4_SRC, 4);
	memcpy(ip + NM_IP4_SRC, ip + NM_IP4_DST, 4);
	memcpy(ip + NM_IP4_DST, t, 4);
	ip[8] = NM_ECHO_TTL;
	ip[10] = ip[11] = 0;
	ck = rte_ipv4_cksum((const struct rte_ipv4_hdr *)(const void *)ip);
	memcpy(ip + 10, &ck, 2);
	nm_dpkt_swap_mac(dp, eth);
	return nm_dpkt_send(x, dp, m, NM_WC_ICMP_REPLIED);
}

/* ICMPv6 echo request to us (no extension headers): the reply, in place. */
static bool nm_dpkt_echo6(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
			  const struct nm_l2l3 *c)
{
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = eth + c->l3, *ic = eth + c->l4;
	ic[0] = NM_ICMP6_ECHO_REPLY;
	ic[2] = ic[3] = 0;
	memcpy(ip + NM_IP6_DST, ip + NM_IP6_SRC, 16);
	memcpy(ip + NM_IP6_SRC, c->dst.b, 16);
	ip[7] = NM_ECHO_TTL;
	/* over payload_len bytes from ic: the message, as l3_len is 40 */
	uint16_t ck = rte_ipv6_udptcp_cksum((const struct rte_ipv6_hdr *)(const void *)ip, ic);
	memcpy(ic + 2, &ck, 2); /* memory order */
	nm_dpkt_swap_mac(dp, eth);
	return nm_dpkt_send(x, dp, m, NM_WC_ICMP_REPLIED);
}

/*
 * Neighbour solicitation for one of our addresses (no extension headers,
 * hop limit 255): a solicited advertisement with the target link-layer
 * address option, built over the request (RFC 4861 4.4, 7.2.4).
 */
static bool nm_dpkt_nd(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
		       const struct nm_l2l3 *c)
{
	uint32_t need = c->l4 + NM_ND_NA_LEN, have = rte_pktmbuf_data_len(m);
	if (have < need && rte_pktmbuf_append(m, (uint16_t)(need - have)) == NULL) {
		nm_wc_add(x->w, NM_WC_NOT_UDP, 1); /* no room for the option */
		return false;
	}
	if (rte_pktmbuf_data_len(m) > need)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - need));
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = eth + c->l3, *q = eth + c->l4;
	q[0] = NM_ICMP6_ND_NA;
	q[1] = 0;
	q[2] = q[3] = 0;
	q[4] = NM_ND_NA_FLAGS;
	q[5] = q[6] = q[7] = 0;
	/* q[8..23]: the target, kept */
	q[24] = NM_ND_OPT_TLLA;
	q[25] = 1; /* option length in units of 8 bytes */
	memcpy(q + 26, dp->mac.addr_bytes, 6);
	ip[4] = 0;
	ip[5] = NM_ND_NA_LEN;
	ip[6] = NM_IPPROTO_ICMPV6;
	ip[7] = NM_ND_HOP_LIMIT;
	memcpy(ip + NM_IP6_DST, ip + NM_IP6_SRC, 16);
	memcpy(ip + NM_IP6_SRC, q + 8, 16);
	uint16_t ck = rte_ipv6_udptcp_cksum((const struct rte_ipv6_hdr *)(const void *)ip, q);
	memcpy(q + 2, &ck, 2); /* memory order */
	nm_dpkt_swap_mac(dp, eth);
	return nm_dpkt_send(x, dp, m, NM_WC_ND_REPLIED);
}

/* A UDP datagram (classified: at least 8 bytes of header) to the worker. */
static void nm_dpkt_udp(struct nm_worker *w, const uint8_t *p, const struct nm_l2l3 *c,
			uint64_t now_ns)
{
	uint16_t sport = 0, dport = 0;
	size_t plen = 0;
	nm_l4_udp_read(p + c->l4, c->l4_len, &sport, &dport, &plen);
	nm_worker_datagram(w, &c->src, sport, dport, p + c->l4 + 8, plen, now_ns);
}

static const enum nm_wc nm_dpkt_drop_wc[NM_PKT_ACT__COUNT] = {
	[NM_PKT_ACT_NOT_IP] = NM_WC_NOT_IP,
	[NM_PKT_ACT_NOT_UDP] = NM_WC_NOT_UDP,
	[NM_PKT_ACT_NOT_FOR_US] = NM_WC_NOT_FOR_US,
	[NM_PKT_ACT_MALFORMED] = NM_WC_MALFORMED,
	[NM_PKT_ACT_FRAG_DROPPED] = NM_WC_FRAG_DROPPED,
};

/*
 * Fragment (read in place) to rte_ip_frag, which takes the mbuf. When it
 * completes a datagram, the chain is read whole (bounded like any frame),
 * walked again and handed over as UDP; the completing fragment is counted
 * by what the datagram turned out to be.
 */
static bool nm_dpkt_reasm(struct nm_dworker *x, struct rte_mbuf *m, const struct nm_l2l3 *c,
			  uint64_t now_ns, uint64_t tsc)
{
	struct nm_worker *w = x->w;
	bool v6 = c->kind == NM_L2L3_IPV6;
	/* rte_ip_frag finds the IPv6 fragment header only right after the
	 * fixed header. */
	if (v6 && c->l3_len != NM_IP6_HDR + NM_IP6_FRAG_HDR) {
		nm_wc_add(w, NM_WC_FRAG_DROPPED, 1);
		return false;
	}
	m->l2_len = c->l3;
	m->l3_len = c->l3_len;
	bool dropped = false;
	struct rte_mbuf *r = nm_dpkt_env_reassemble(x, m, v6, tsc, &dropped);
	if (r == NULL) {
		nm_wc_add(w, dropped ? NM_WC_FRAG_DROPPED : NM_WC_FRAG_HELD, 1);
		return true;
	}
	if (r->nb_segs > 1)
		nm_wc_add(w, NM_WC_MULTI_SEGMENT, 1);
	uint32_t len = 0;
	enum nm_wc fail = NM_WC_MALFORMED;
	const uint8_t *p = nm_dpkt_frame(r, x->bounce, sizeof(x->bounce), &len, &fail);
	if (p == NULL) {
		nm_wc_add(w, fail, 1);
	} else {
		struct nm_l2l3 rc;
		enum nm_pkt_act a = nm_pkt_classify_reassembled(p, len, NM_LINK_ETHERNET, &rc);
		if (a == NM_PKT_ACT_UDP)
			nm_dpkt_udp(w, p, &rc, now_ns);
		else
			nm_wc_add(w, nm_dpkt_drop_wc[a], 1);
	}
	nm_dpkt_env_free(r);
	return true;
}

bool nm_packet(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m,
	       uint64_t now_ns, uint64_t tsc)
{
	struct nm_worker *w = x->w;
	if (m->nb_segs > 1)
		nm_wc_add(w, NM_WC_MULTI_SEGMENT, 1);
	uint32_t len = 0;
	enum nm_wc fail = NM_WC_MALFORMED;
	const uint8_t *p = nm_dpkt_frame(m, x->bounce, sizeof(x->bounce), &len, &fail);
	if (p == NULL) {
		nm_wc_add(w, fail, 1);
		return false;
	}
	/* Read in place: replies can be built over it, rte_ip_frag can take it. */
	bool in_place = p != x->bounce;
	struct nm_l2l3 c;
	enum nm_pkt_act a = nm_pkt_classify(p, len, NM_LINK_ETHERNET, in_place, &dp->us, &c);
	switch (a) {
	case NM_PKT_ACT_UDP:
		nm_dpkt_udp(w, p, &c, now_ns);
		return false;
	case NM_PKT_ACT_REASM:
		return nm_dpkt_reasm(x, m, &c, now_ns, tsc);
	case NM_PKT_ACT_ARP_REPLY:
		return nm_dpkt_arp(x, dp, m, &c);
	case NM_PKT_ACT_ND_REPLY:
		return nm_dpkt_nd(x, dp, m, &c);
	case NM_PKT_ACT_ECHO_REPLY:
		return c.kind == NM_L2L3_IPV4 ? nm_dpkt_echo4(x, dp, m, &c)
					      : nm_dpkt_echo6(x, dp, m, &c);
	default:
		nm_wc_add(w, nm_dpkt_drop_wc[a], 1);
		return false;
	}
}

uint16_t nm_dpkt_burst(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf **pkts,
		       uint16_t n, uint64_t now_ns, uint64_t tsc, struct rte_mbuf **done)
{
	uint64_t bytes = 0;
	uint16_t nd = 0;
	for (uint16_t k = 0; k < n && k < NM_PREFETCH_AHEAD; k++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[k], void *));
	for (uint16_t k = 0; k < n; k++) {
		if (k + NM_PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[k + NM_PREFETCH_AHEAD], void *));
		bytes += rte_pktmbuf_pkt_len(pkts[k]); /* before a reply changes it */
		if (!nm_packet(x, dp, pkts[k], now_ns, tsc))
			done[nd++] = pkts[k];
	}
	nm_wc_add(x->w, NM_WC_RX_PACKETS, n);
	nm_wc_add(x->w, NM_WC_RX_BYTES, bytes);
	return nd;
}
