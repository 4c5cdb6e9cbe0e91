/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Big and inconsistent frames through the DPDK worker's real packet path
 * (dataplane/dpdk_pkt.c), on mbufs built by hand (nm_fuzz_mbuf.h): frames
 * of 64 KiB + 1 to 256 KiB, one segment (pkt_len above data_len) and
 * chained, on every path (collector port, reassembly, replies); the
 * largest frames an IP header can describe, which the old 64 KiB bounce
 * buffer overflowed; chains whose pkt_len or nb_segs disagree with their
 * segments. Every counter of each burst is checked exactly; the harness
 * adds its own checks (see nm_fuzz_mbuf.h). Suites fuzz-replay (run under
 * ASan/UBSan in CI) and dataplane.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nm_fuzz_mbuf.h"

#define BF_BIG 80066 /* the BIG TCP frame of issue 17 */
#define BF_PORT 2055

static const uint8_t bf_peer_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01};
static const uint8_t bf_us_mac[6] = {0x02, 0, 0, 0, 0, 0xfe};
static const uint8_t bf_peer4[4] = {198, 51, 100, 20};
static const uint8_t bf_us4[4] = {192, 0, 2, 254};
static const uint8_t bf_peer6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20};
static const uint8_t bf_us6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};

/* ---- frames ---- */

static void bf_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet header with ntags 802.1Q tags; returns its length. */
static uint32_t bf_eth(uint8_t *f, uint16_t etype, unsigned ntags)
{
	memcpy(f, bf_us_mac, 6);
	memcpy(f + 6, bf_peer_mac, 6);
	uint32_t o = 12;
	for (unsigned i = 0; i < ntags; i++, o += 4) {
		bf_be16(f + o, 0x8100);
		bf_be16(f + o + 2, 100 + i);
	}
	bf_be16(f + o, etype);
	return o + 2;
}

/* IPv4 header (20 bytes) at f with total length tot and fragment word. */
static void bf_ip4(uint8_t *f, uint32_t tot, uint8_t proto, uint16_t frag)
{
	f[0] = 0x45;
	bf_be16(f + 2, tot);
	bf_be16(f + 4, 0x1234);
	bf_be16(f + 6, frag);
	f[8] = 64;
	f[9] = proto;
	memcpy(f + 12, bf_peer4, 4);
	memcpy(f + 16, bf_us4, 4);
}

static void bf_ip6(uint8_t *f, uint32_t plen, uint8_t nh, uint8_t hlim)
{
	f[0] = 0x60;
	bf_be16(f + 4, plen);
	f[6] = nh;
	f[7] = hlim;
	memcpy(f + 8, bf_peer6, 16);
	memcpy(f + 24, bf_us6, 16);
}

static void bf_udp(uint8_t *f, uint16_t dport, uint32_t len)
{
	bf_be16(f, 40000);
	bf_be16(f + 2, dport);
	bf_be16(f + 4, len > 65535 ? 0 : len);
}

/* A frame buffer of len zero bytes. */
static uint8_t *bf_new(uint32_t len)
{
	uint8_t *f = calloc(1, len);
	assert_non_null(f);
	return f;
}

/* IPv4 UDP to us, filling len bytes (total length = len - L2, or 0 when
 * that does not fit in 16 bits, as segmentation offload sends it). */
static uint8_t *bf_udp4_frame(uint32_t len, unsigned ntags, uint16_t dport)
{
	uint8_t *f = bf_new(len);
	uint32_t l2 = bf_eth(f, 0x0800, ntags), ip = len - l2;
	bf_ip4(f + l2, ip > 65535 ? 0 : ip, 17, 0);
	bf_udp(f + l2 + 20, dport, ip - 20);
	return f;
}

/* IPv6 UDP to us: payload length = len - L2 - 40, or a jumbogram (payload
 * length 0, hop-by-hop Jumbo Payload option, RFC 2675) when over 65535. */
static uint8_t *bf_udp6_frame(uint32_t len, unsigned ntags, uint16_t dport)
{
	uint8_t *f = bf_new(len);
	uint32_t l2 = bf_eth(f, 0x86dd, ntags), pl = len - l2 - 40;
	uint8_t *p = f + l2 + 40;
	if (pl > 65535) {
		bf_ip6(f + l2, 0, 0, 64);
		p[0] = 17; /* hop-by-hop: next header UDP, length 0 (8 bytes) */
		p[2] = 0xc2; /* Jumbo Payload */
		p[3] = 4;
		p[4] = (uint8_t)(pl >> 24);
		p[5] = (uint8_t)(pl >> 16);
		p[6] = (uint8_t)(pl >> 8);
		p[7] = (uint8_t)pl;
		bf_udp(p + 8, dport, 0);
	} else {
		bf_ip6(f + l2, pl, 17, 64);
		bf_udp(p, dport, pl);
	}
	return f;
}

/* ---- runs ---- */

struct bf_want {
	enum nm_wc c;
	uint64_t v;
};

static struct nm_fm bf_h;

static int bf_setup(void **state)
{
	(void)state;
	nm_fm_init(&bf_h, 2, false);
	return 0;
}

static int bf_teardown(void **state)
{
	(void)state;
	nm_fm_fini(&bf_h);
	return 0;
}

static const char *const bf_names[NM_WC__COUNT] = {
#define NM_X_(name, msg) #name,
	NM_WORKER_COUNTERS(NM_X_)
#undef NM_X_
};

/*
 * Runs one burst of the chains and checks every worker counter moved by
 * exactly what want says (RX_PACKETS and RX_BYTES by the burst's own).
 */
static void bf_run(struct rte_mbuf **pkts, uint16_t n, const struct bf_want *want, size_t nwant)
{
	uint64_t before[NM_WC__COUNT], expect[NM_WC__COUNT] = {0};
	for (int c = 0; c < NM_WC__COUNT; c++)
		before[c] = nm_fm_ctr(&bf_h, (enum nm_wc)c);
	expect[NM_WC_RX_PACKETS] = n;
	for (uint16_t i = 0; i < n; i++)
		expect[NM_WC_RX_BYTES] += pkts[i]->pkt_len;
	for (size_t i = 0; i < nwant; i++)
		expect[want[i].c] = want[i].v;
	nm_fm_burst(&bf_h, pkts, n);
	for (int c = 0; c < NM_WC__COUNT; c++) {
		uint64_t got = nm_fm_ctr(&bf_h, (enum nm_wc)c) - before[c];
		if (got != expect[c])
			fail_msg("%s moved by %llu, want %llu", bf_names[c],
				 (unsigned long long)got, (unsigned long long)expect[c]);
	}
}

/* One frame, one burst. */
static void bf_one(const uint8_t *f, uint32_t len, const struct nm_fm_shape *s,
		   const struct bf_want *want, size_t nwant)
{
	struct rte_mbuf *m = nm_fm_build(f, len, s);
	bf_run(&m, 1, want, nwant);
}

#define BF_N(a) (sizeof(a) / sizeof(a[0]))

/* 2 KiB segments, as a PMD with 2 KiB mbufs chains a big frame. */
static struct nm_fm_shape bf_chain(uint32_t len)
{
	struct nm_fm_shape s = {0};
	s.nseg = (uint16_t)((len + 2047) / 2048);
	s.headroom = 128;
	return s;
}

/* One segment holding the first 1514 bytes, pkt_len claiming len. */
static struct nm_fm_shape bf_lying_single(uint32_t len)
{
	struct nm_fm_shape s = {0};
	s.nseg = 1;
	s.pkt_len = NM_FM_LEN_VALUE;
	s.delta = len;
	s.headroom = 128;
	return s;
}

/* ---- collector port ---- */

/* The 80,066-byte BIG TCP frame (IPv4 total length 0), chained and as
 * one segment whose pkt_len says 80,066: OVERSIZE, nothing read. */
static void test_big_tcp_ipv4(void **state)
{
	(void)state;
	uint8_t *f = bf_new(BF_BIG);
	uint32_t l2 = bf_eth(f, 0x0800, 0);
	bf_ip4(f + l2, 0, 6, 0);
	struct nm_fm_shape s = bf_chain(BF_BIG);
	struct bf_want w[] = {{NM_WC_OVERSIZE, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(f, BF_BIG, &s, w, BF_N(w));
	s = bf_lying_single(BF_BIG);
	struct bf_want w1[] = {{NM_WC_OVERSIZE, 1}};
	bf_one(f, 1514, &s, w1, BF_N(w1));
	free(f);
}

/* An IPv6 jumbogram of 80,066 bytes, and the same carrying VXLAN and
 * GENEVE: OVERSIZE. */
static void test_big_jumbogram_and_tunnels(void **state)
{
	(void)state;
	static const uint16_t dports[] = {BF_PORT, 4789, 6081};
	for (size_t i = 0; i < BF_N(dports); i++) {
		uint8_t *f = bf_udp6_frame(BF_BIG, 0, dports[i]);
		struct nm_fm_shape s = bf_chain(BF_BIG);
		struct bf_want w[] = {{NM_WC_OVERSIZE, 1}, {NM_WC_MULTI_SEGMENT, 1}};
		bf_one(f, BF_BIG, &s, w, BF_N(w));
		free(f);
		f = bf_udp4_frame(BF_BIG, 1, dports[i]);
		bf_one(f, BF_BIG, &s, w, BF_N(w));
		free(f);
	}
}

/* Past the bounce buffer up to 256 KiB, chained in 2 KiB segments, in
 * 60 KiB ones, and as one lying segment; all in one burst. */
static void test_big_sizes(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {NM_DPKT_BOUNCE + 1, 100000, 131072, 200000, 262144};
	struct rte_mbuf *pkts[3 * BF_N(sizes)];
	uint16_t n = 0;
	for (size_t i = 0; i < BF_N(sizes); i++) {
		uint8_t *f = bf_udp4_frame(sizes[i], 0, BF_PORT);
		struct nm_fm_shape s = bf_chain(sizes[i]);
		pkts[n++] = nm_fm_build(f, sizes[i], &s);
		s.nseg = (uint16_t)(sizes[i] / 61440 + 1);
		s.seed = 7;
		pkts[n++] = nm_fm_build(f, sizes[i], &s);
		s = bf_lying_single(sizes[i]);
		pkts[n++] = nm_fm_build(f, 1514, &s);
		free(f);
	}
	struct bf_want w[] = {{NM_WC_OVERSIZE, n}, {NM_WC_MULTI_SEGMENT, 2 * BF_N(sizes)}};
	bf_run(pkts, n, w, BF_N(w));
}

/* The longest frames an IP header describes are read whole: 64 KiB + 1,
 * 65,549 bytes of IPv4 (total length 65,535) and 65,601 of IPv6 behind
 * three tags (payload length 65,535), all past the old 64 KiB buffer. */
static void test_largest_datagrams(void **state)
{
	(void)state;
	uint8_t *k = bf_udp4_frame(65537, 0, BF_PORT);
	struct nm_fm_shape ks = bf_chain(65537);
	struct bf_want wk[] = {{NM_WC_UDP_DATAGRAMS, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(k, 65537, &ks, wk, BF_N(wk));
	assert_int_equal(bf_h.last_datagram_len, 65537 - 14 - 28);
	ks = bf_lying_single(65537); /* one segment claiming it: inconsistent */
	struct bf_want wk1[] = {{NM_WC_MALFORMED, 1}};
	bf_one(k, 1514, &ks, wk1, BF_N(wk1));
	free(k);
	uint32_t len4 = 14 + 65535;
	uint8_t *f = bf_udp4_frame(len4, 0, BF_PORT);
	struct nm_fm_shape s = bf_chain(len4);
	struct bf_want w[] = {{NM_WC_UDP_DATAGRAMS, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(f, len4, &s, w, BF_N(w));
	assert_int_equal(bf_h.last_datagram_len, 65535 - 28);
	free(f);
	f = bf_udp6_frame(NM_DPKT_BOUNCE, NM_L2_VLAN_MAX, BF_PORT);
	s = bf_chain(NM_DPKT_BOUNCE);
	bf_one(f, NM_DPKT_BOUNCE, &s, w, BF_N(w));
	assert_int_equal(bf_h.last_datagram_len, 65535 - 8);
	/* one byte more: oversize */
	uint8_t *g = bf_new(NM_DPKT_BOUNCE + 1);
	memcpy(g, f, NM_DPKT_BOUNCE);
	s = bf_chain(NM_DPKT_BOUNCE + 1);
	struct bf_want w1[] = {{NM_WC_OVERSIZE, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(g, NM_DPKT_BOUNCE + 1, &s, w1, BF_N(w1));
	free(g);
	free(f);
}

/* ---- chains that disagree with pkt_len or nb_segs ---- */

static void test_inconsistent_chains(void **state)
{
	(void)state;
	uint32_t len = 3000;
	uint8_t *f = bf_udp4_frame(len, 0, BF_PORT);
	struct nm_fm_shape s = bf_chain(len);
	struct rte_mbuf *pkts[8];
	uint16_t n = 0;
	s.pkt_len = NM_FM_LEN_MINUS; /* segments hold more than pkt_len */
	s.delta = 1000;
	pkts[n++] = nm_fm_build(f, len, &s);
	s.pkt_len = NM_FM_LEN_PLUS; /* pkt_len beyond the last segment */
	pkts[n++] = nm_fm_build(f, len, &s);
	s.delta = 200000; /* ... and beyond the bounce buffer: oversize first */
	pkts[n++] = nm_fm_build(f, len, &s);
	s.pkt_len = NM_FM_LEN_SUM;
	s.nb_segs = NM_FM_SEGS_PLUS1;
	pkts[n++] = nm_fm_build(f, len, &s);
	s.nb_segs = NM_FM_SEGS_MINUS1;
	pkts[n++] = nm_fm_build(f, len, &s);
	s.nb_segs = NM_FM_SEGS_ZERO;
	pkts[n++] = nm_fm_build(f, len, &s);
	/* one segment, pkt_len under / over data_len */
	struct nm_fm_shape one = {
		.nseg = 1, .pkt_len = NM_FM_LEN_MINUS, .delta = 1, .headroom = 128};
	pkts[n++] = nm_fm_build(f, 1500, &one);
	one.pkt_len = NM_FM_LEN_PLUS;
	pkts[n++] = nm_fm_build(f, 1500, &one);
	/* MULTI_SEGMENT goes by nb_segs > 1: the first four */
	struct bf_want w[] = {{NM_WC_MALFORMED, 7}, {NM_WC_OVERSIZE, 1}, {NM_WC_MULTI_SEGMENT, 4}};
	bf_run(pkts, n, w, BF_N(w));
	free(f);
}

/* ---- reassembly ---- */

static struct nm_fm_reasm_plan bf_complete(uint32_t len, bool lie)
{
	struct nm_fm_reasm_plan p = {0};
	p.action = NM_FM_REASM_COMPLETE;
	p.fix_headers = true;
	p.len = len;
	p.shape = bf_chain(len);
	if (lie) {
		p.shape.pkt_len = NM_FM_LEN_PLUS;
		p.shape.delta = 1;
	}
	return p;
}

/* A first fragment whose datagram completes at 80,066 bytes (IPv4 and
 * IPv6), at 65,549 bytes (read whole, handed over), as a chain whose
 * pkt_len lies, and one that completes as a fragment still. */
static void test_reassembled(void **state)
{
	(void)state;
	uint8_t *f4 = bf_new(1514), *f6 = bf_new(1514);
	uint32_t l2 = bf_eth(f4, 0x0800, 0);
	bf_ip4(f4 + l2, 1500, 17, 0x2000);
	bf_udp(f4 + l2 + 20, BF_PORT, 65535 - 20);
	l2 = bf_eth(f6, 0x86dd, 0);
	bf_ip6(f6 + l2, 1460, 44, 64);
	f6[l2 + 40] = 17; /* fragment header: UDP, offset 0, more */
	f6[l2 + 43] = 1;
	f6[l2 + 47] = 9;
	bf_udp(f6 + l2 + 48, BF_PORT, 70000);
	struct nm_fm_shape one = {.nseg = 1, .headroom = 128};
	struct rte_mbuf *pkts[6];
	uint16_t n = 0;
	bf_h.plan[n] = bf_complete(BF_BIG, false);
	pkts[n++] = nm_fm_build(f4, 1514, &one);
	bf_h.plan[n] = bf_complete(BF_BIG, false);
	pkts[n++] = nm_fm_build(f6, 1514, &one);
	bf_h.plan[n] = bf_complete(14 + 65535, false);
	pkts[n++] = nm_fm_build(f4, 1514, &one);
	bf_h.plan[n] = bf_complete(5000, true);
	pkts[n++] = nm_fm_build(f4, 1514, &one);
	bf_h.plan[n] = bf_complete(5000, false);
	bf_h.plan[n].fix_headers = false; /* still says "fragment" */
	pkts[n++] = nm_fm_build(f4, 1514, &one);
	bf_h.plan[n].action = NM_FM_REASM_DROP;
	pkts[n++] = nm_fm_build(f6, 1514, &one);
	bf_h.nplan = n;
	uint64_t dg = bf_h.datagrams;
	struct bf_want w[] = {{NM_WC_OVERSIZE, 2},
			      {NM_WC_UDP_DATAGRAMS, 1},
			      {NM_WC_MALFORMED, 2},
			      {NM_WC_FRAG_DROPPED, 1},
			      {NM_WC_MULTI_SEGMENT, 5}};
	bf_run(pkts, n, w, BF_N(w));
	assert_int_equal(bf_h.datagrams, dg + 1);
	assert_int_equal(bf_h.last_datagram_len, 65535 - 28);
	bf_h.nplan = 0;
	/* A fragment that is chained is not handed to rte_ip_frag. */
	struct nm_fm_shape two = {.nseg = 2, .headroom = 128};
	struct bf_want w1[] = {{NM_WC_FRAG_DROPPED, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(f4, 1514, &two, w1, BF_N(w1));
	free(f4);
	free(f6);
}

/* ---- replies ---- */

static uint8_t *bf_echo4(uint32_t len)
{
	uint8_t *f = bf_new(len);
	uint32_t l2 = bf_eth(f, 0x0800, 0), ip = len - l2;
	bf_ip4(f + l2, ip > 65535 ? 0 : ip, 1, 0);
	f[l2 + 20] = 8;
	return f;
}

static uint8_t *bf_arp(uint32_t len)
{
	uint8_t *f = bf_new(len);
	uint32_t l2 = bf_eth(f, 0x0806, 0);
	uint8_t *a = f + l2;
	a[1] = 1;
	a[2] = 8;
	a[4] = 6;
	a[5] = 4;
	a[7] = 1;
	memcpy(a + 8, bf_peer_mac, 6);
	memcpy(a + 14, bf_peer4, 4);
	memcpy(a + 24, bf_us4, 4);
	return f;
}

static uint8_t *bf_ns(uint32_t len)
{
	uint8_t *f = bf_new(len);
	uint32_t l2 = bf_eth(f, 0x86dd, 0);
	bf_ip6(f + l2, len - l2 - 40, 58, 255);
	f[l2 + 40] = 135;
	memcpy(f + l2 + 48, bf_us6, 16);
	return f;
}

/* Requests in big frames (chained or lying single segments) are never
 * answered: OVERSIZE; small chained ones are not either (replies are
 * built in place); a small single-segment one is, once. */
static void test_replies(void **state)
{
	(void)state;
	uint8_t *(*mk[])(uint32_t) = {bf_echo4, bf_arp, bf_ns};
	for (size_t i = 0; i < BF_N(mk); i++) {
		uint8_t *f = mk[i](BF_BIG);
		struct nm_fm_shape s = bf_chain(BF_BIG);
		struct bf_want w[] = {{NM_WC_OVERSIZE, 1}, {NM_WC_MULTI_SEGMENT, 1}};
		bf_one(f, BF_BIG, &s, w, BF_N(w));
		s = bf_lying_single(BF_BIG);
		struct bf_want w1[] = {{NM_WC_OVERSIZE, 1}};
		bf_one(f, 1514, &s, w1, BF_N(w1));
		free(f);
	}
	uint64_t tx = bf_h.tx_taken;
	struct nm_fm_shape two = {.nseg = 2, .headroom = 128, .tailroom = 64};
	struct nm_fm_shape one = {.nseg = 1, .headroom = 128, .tailroom = 64};
	uint8_t *f = bf_echo4(98);
	struct bf_want w[] = {{NM_WC_NOT_UDP, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(f, 98, &two, w, BF_N(w));
	struct bf_want wr[] = {{NM_WC_ICMP_REPLIED, 1}};
	bf_one(f, 98, &one, wr, BF_N(wr));
	free(f);
	f = bf_arp(60);
	struct bf_want wa[] = {{NM_WC_NOT_IP, 1}, {NM_WC_MULTI_SEGMENT, 1}};
	bf_one(f, 60, &two, wa, BF_N(wa));
	struct bf_want wa1[] = {{NM_WC_ARP_REPLIED, 1}};
	bf_one(f, 60, &one, wa1, BF_N(wa1));
	free(f);
	f = bf_ns(14 + 40 + 24);
	bf_one(f, 14 + 40 + 24, &two, w, BF_N(w));
	struct bf_want wn[] = {{NM_WC_ND_REPLIED, 1}};
	bf_one(f, 14 + 40 + 24, &one, wn, BF_N(wn));
	free(f);
	assert_int_equal(bf_h.tx_taken, tx + 3);
	/* The port refuses: counted under the request and TX_FAILED; the
	 * mbuf comes back to be freed (the harness checks it does). */
	bf_h.tx_refuse = true;
	f = bf_echo4(98);
	struct bf_want wf[] = {{NM_WC_ICMP_REPLIED, 1}, {NM_WC_TX_FAILED, 1}};
	bf_one(f, 98, &one, wf, BF_N(wf));
	free(f);
	bf_h.tx_refuse = false;
}

/* A full burst of mixed frames: RX counted once for the burst, each frame
 * in its counter. */
static void test_burst(void **state)
{
	(void)state;
	struct rte_mbuf *pkts[NM_BURST];
	uint16_t n = 0;
	while (n < NM_BURST) {
		uint32_t len = n % 2 ? 70000 : 200 + n;
		uint8_t *f = bf_udp4_frame(len, n % 4 == 0 ? 2 : 0, BF_PORT);
		struct nm_fm_shape s = bf_chain(len);
		pkts[n++] = nm_fm_build(f, len, &s);
		free(f);
	}
	struct bf_want w[] = {{NM_WC_OVERSIZE, NM_BURST / 2},
			      {NM_WC_UDP_DATAGRAMS, NM_BURST / 2},
			      {NM_WC_MULTI_SEGMENT, NM_BURST / 2}};
	bf_run(pkts, n, w, BF_N(w));
}

int main(void)
{
#define BF_TEST(t) cmocka_unit_test_setup_teardown(t, bf_setup, bf_teardown)
	const struct CMUnitTest tests[] = {
		BF_TEST(test_big_tcp_ipv4),
		BF_TEST(test_big_jumbogram_and_tunnels),
		BF_TEST(test_big_sizes),
		BF_TEST(test_largest_datagrams),
		BF_TEST(test_inconsistent_chains),
		BF_TEST(test_reassembled),
		BF_TEST(test_replies),
		BF_TEST(test_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
