/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L2/L3 walker (decoders/l2l3.h): one test per reason a walk stops
 * (NM_L2L3_WHYS), the caps (NM_L2_VLAN_MAX tags of any of the three TPIDs,
 * NM_L3_V6_EXT_MAX extension headers), the link types, and the offsets,
 * addresses and fragment fields it reports. Every walk reads from a copy
 * placed at the very end of a readable page followed by an inaccessible
 * one, so a read past the frame faults in every build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "l2l3.h"
#include "sfbuild.h"

#define L_MAC_A 0x00005e005301ull
#define L_MAC_B 0x00005e005302ull

static const uint8_t l_src4[4] = {198, 51, 100, 10};
static const uint8_t l_dst4[4] = {192, 0, 2, 254};
static const uint8_t l_src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t l_dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};

static uint8_t *l_page;
static size_t l_pagesz;

static int l_setup(void **state)
{
	(void)state;
	long ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0)
		return -1;
	l_pagesz = (size_t)ps;
	void *m = mmap(NULL, 2 * l_pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED)
		return -1;
	l_page = m;
	return mprotect(l_page + l_pagesz, l_pagesz, PROT_NONE);
}

static int l_teardown(void **state)
{
	(void)state;
	munmap(l_page, 2 * l_pagesz);
	return 0;
}

/* Walks the first len bytes of b, placed so that byte len is unreadable. */
static enum nm_l2l3_kind l_walk_n(const struct nm_sb *b, size_t len, int link, struct nm_l2l3 *c)
{
	assert_false(b->overflow);
	assert_true(len <= b->len && len <= l_pagesz);
	uint8_t *p = l_page + l_pagesz - len;
	memcpy(p, b->buf, len);
	enum nm_l2l3_kind k = nm_l2l3_walk(p, len, link, c);
	assert_int_equal(k, c->kind);
	return k;
}

static enum nm_l2l3_kind l_walk(const struct nm_sb *b, int link, struct nm_l2l3 *c)
{
	return l_walk_n(b, b->len, link, c);
}

static void l_ip4(struct nm_sb *b, uint16_t total, uint16_t frag, uint8_t proto)
{
	struct nm_sb_ip4 h = {
		.total = total, .id = 0x1234, .frag = frag, .ttl = 64, .proto = proto};
	memcpy(h.src, l_src4, 4);
	memcpy(h.dst, l_dst4, 4);
	nm_sb_ip4(b, &h);
}

static void l_ip6(struct nm_sb *b, uint16_t plen, uint8_t nh)
{
	struct nm_sb_ip6 h = {.plen = plen, .nh = nh, .hlim = 255};
	memcpy(h.src, l_src6, 16);
	memcpy(h.dst, l_dst6, 16);
	nm_sb_ip6(b, &h);
}

/* Ethernet / IPv4 / UDP with 8 bytes of payload, then 6 bytes of padding. */
static void l_frame4(struct nm_sb *b)
{
	nm_sb_init(b);
	nm_sb_eth(b, L_MAC_B, L_MAC_A, NM_ETH_IPV4);
	l_ip4(b, 36, 0, NM_IPPROTO_UDP);
	nm_sb_udp(b, 40000, 2055, 16);
	nm_sb_zeros(b, 8 + 6);
}

static void test_ipv4_udp(void **state)
{
	(void)state;
	struct nm_sb b;
	struct nm_l2l3 c;
	l_frame4(&b);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV4);
	assert_int_equal(c.why, NM_L2L3_WHY_NONE);
	assert_int_equal(c.etype, NM_ETH_IPV4);
	assert_int_equal(c.l3, 14);
	assert_int_equal(c.l3_len, 20);
	assert_int_equal(c.l4, 34);
	assert_int_equal(c.l4_len, 16);
	assert_int_equal(c.end, 50); /* the padding is not the datagram's */
	assert_int_equal(c.proto, NM_IPPROTO_UDP);
	assert_int_equal(c.ttl, 64);
	assert_false(c.frag);
	assert_memory_equal(c.src.b + 12, l_src4, 4);
	assert_memory_equal(c.dst.b + 12, l_dst4, 4);
	assert_true(nm_addr_is_v4(&c.src));
	uint16_t sp, dp;
	size_t pl;
	assert_true(nm_l4_udp_read(b.buf + c.l4, c.l4_len, &sp, &dp, &pl));
	assert_int_equal(sp, 40000);
	assert_int_equal(dp, 2055);
	assert_int_equal(pl, 8);
	/* Every cut of the frame: never a read past it; IPv4 only once the
	 * datagram is whole. */
	for (size_t n = 0; n < b.len; n++) {
		enum nm_l2l3_kind k = l_walk_n(&b, n, NM_LINK_ETHERNET, &c);
		assert_int_equal(k, n >= 50 ? NM_L2L3_IPV4 : NM_L2L3_MALFORMED);
	}
}

/* IPv4 options: IHL honoured. */
static void test_ipv4_options(void **state)
{
	(void)state;
	struct nm_sb b;
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_IPV4);
	struct nm_sb_ip4 h = {.ihl = 7, .total = 28 + 8, .ttl = 1, .proto = NM_IPPROTO_UDP};
	nm_sb_ip4(&b, &h);
	nm_sb_udp(&b, 1, 2, 8);
	struct nm_l2l3 c;
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV4);
	assert_int_equal(c.l3_len, 28);
	assert_int_equal(c.l4, 14 + 28);
	assert_int_equal(c.l4_len, 8);
}

static void test_ipv4_fragments(void **state)
{
	(void)state;
	struct nm_sb b;
	struct nm_l2l3 c;
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_IPV4);
	l_ip4(&b, 20 + 16, NM_IP4_MF, NM_IPPROTO_UDP);
	nm_sb_zeros(&b, 16);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV4);
	assert_true(c.frag && c.frag_more);
	assert_int_equal(c.frag_off, 0);
	assert_int_equal(c.frag_id, 0x1234);
	nm_sb_patch_u16(&b, 14 + 6, 185); /* last fragment at 1480 */
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV4);
	assert_true(c.frag && !c.frag_more);
	assert_int_equal(c.frag_off, 1480);
	nm_sb_patch_u16(&b, 14 + 6, 0x4000); /* DF alone: not a fragment */
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV4);
	assert_false(c.frag);
}

static void test_ipv6_ext_and_fragment(void **state)
{
	(void)state;
	struct nm_sb b;
	struct nm_l2l3 c;
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_IPV6);
	l_ip6(&b, 8 + 16 + 8 + 8, NM_IPPROTO_HOPOPTS);
	nm_sb_ip6_ext(&b, NM_IPPROTO_DSTOPTS, 0);
	nm_sb_ip6_ext(&b, NM_IPPROTO_FRAGMENT, 1);
	nm_sb_ip6_frag(&b, NM_IPPROTO_UDP, 0, true, 0xabcdef01);
	nm_sb_udp(&b, 1, 2, 8);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV6);
	assert_int_equal(c.why, NM_L2L3_WHY_NONE);
	/* The walk stops after the fragment header: what follows is the
	 * reassembled datagram's. */
	assert_int_equal(c.l3_len, 40 + 8 + 16 + 8);
	assert_int_equal(c.l4, 14 + c.l3_len);
	assert_int_equal(c.l4_len, 8);
	assert_int_equal(c.proto, NM_IPPROTO_UDP);
	assert_true(c.frag && c.frag_more);
	assert_int_equal(c.frag_id, 0xabcdef01);
	assert_int_equal(c.ttl, 255);
	assert_memory_equal(c.src.b, l_src6, 16);
	assert_memory_equal(c.dst.b, l_dst6, 16);
}

/* Up to NM_L2_VLAN_MAX tags of 0x8100, 0x88a8 and 0x9100; one more is
 * VLAN_DEPTH: not looked into. */
static void test_vlan_cap(void **state)
{
	(void)state;
	static const uint16_t tpids[] = {NM_ETH_QINQ, NM_ETH_QINQ_OLD, NM_ETH_VLAN, NM_ETH_VLAN};
	for (unsigned n = 1; n <= NM_L2_VLAN_MAX + 1; n++) {
		struct nm_sb b;
		nm_sb_init(&b);
		nm_sb_eth(&b, L_MAC_B, L_MAC_A, tpids[0]);
		for (unsigned i = 0; i < n; i++)
			nm_sb_vlan(&b, (uint16_t)(100 + i), i + 1 < n ? tpids[i + 1] : NM_ETH_IPV4);
		l_ip4(&b, 28, 0, NM_IPPROTO_UDP);
		nm_sb_udp(&b, 1, 2, 8);
		struct nm_l2l3 c;
		enum nm_l2l3_kind k = l_walk(&b, NM_LINK_ETHERNET, &c);
		if (n <= NM_L2_VLAN_MAX) {
			assert_int_equal(k, NM_L2L3_IPV4);
			assert_int_equal(c.ntags, n);
			assert_int_equal(c.tci, 100);
			assert_int_equal(c.l3, 14 + 4 * n);
		} else {
			assert_int_equal(k, NM_L2L3_OTHER);
			assert_int_equal(c.why, NM_L2L3_WHY_VLAN_DEPTH);
			assert_int_equal(c.ntags, NM_L2_VLAN_MAX);
		}
	}
}

/* NM_L3_V6_EXT_MAX extension headers are walked; past that the walk stops
 * with the next one as the protocol (not UDP to anyone). */
static void test_ipv6_ext_cap(void **state)
{
	(void)state;
	for (unsigned n = NM_L3_V6_EXT_MAX; n <= NM_L3_V6_EXT_MAX + 1; n++) {
		struct nm_sb b;
		nm_sb_init(&b);
		nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_IPV6);
		l_ip6(&b, (uint16_t)(8 * n + 8), NM_IPPROTO_DSTOPTS);
		for (unsigned i = 0; i < n; i++)
			nm_sb_ip6_ext(&b, i + 1 < n ? NM_IPPROTO_DSTOPTS : NM_IPPROTO_UDP, 0);
		nm_sb_udp(&b, 1, 2, 8);
		struct nm_l2l3 c;
		assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV6);
		if (n == NM_L3_V6_EXT_MAX) {
			assert_int_equal(c.why, NM_L2L3_WHY_NONE);
			assert_int_equal(c.proto, NM_IPPROTO_UDP);
		} else {
			assert_int_equal(c.why, NM_L2L3_WHY_IP6_EXT_DEPTH);
			assert_int_equal(c.proto, NM_IPPROTO_DSTOPTS);
		}
	}
}

static void test_arp_and_other(void **state)
{
	(void)state;
	struct nm_sb b;
	struct nm_l2l3 c;
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_ARP);
	nm_sb_zeros(&b, 28);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_ARP);
	assert_int_equal(c.l3, 14);
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, 0x88cc); /* LLDP */
	nm_sb_zeros(&b, 20);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_OTHER);
	assert_int_equal(c.why, NM_L2L3_WHY_NONE);
	assert_int_equal(c.etype, 0x88cc);
	assert_int_equal(l_walk(&b, 12345, &c), NM_L2L3_OTHER);
	assert_int_equal(c.why, NM_L2L3_WHY_LINK_UNKNOWN);
}

/* Every link type: the same IPv4 or IPv6 datagram behind its header. */
static void test_links(void **state)
{
	(void)state;
	struct nm_sb ip4, ip6;
	nm_sb_init(&ip4);
	l_ip4(&ip4, 28, 0, NM_IPPROTO_UDP);
	nm_sb_udp(&ip4, 1, 2, 8);
	nm_sb_init(&ip6);
	l_ip6(&ip6, 8, NM_IPPROTO_UDP);
	nm_sb_udp(&ip6, 1, 2, 8);
	static const struct {
		int link;
		size_t hlen;
		size_t et_at; /* where the EtherType goes, or SIZE_MAX */
	} links[] = {
		{NM_LINK_RAW, 0, SIZE_MAX},         {NM_LINK_IPV4, 0, SIZE_MAX},
		{NM_LINK_IPV6, 0, SIZE_MAX},        {NM_LINK_NULL, 4, SIZE_MAX},
		{NM_LINK_LOOP, 4, SIZE_MAX},        {NM_LINK_LINUX_SLL, 16, 14},
		{NM_LINK_LINUX_SLL2, 20, 0},        {NM_LINK_ETHERNET, 14, 12},
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		for (int v6 = 0; v6 < 2; v6++) {
			const struct nm_sb *ip = v6 ? &ip6 : &ip4;
			struct nm_sb b;
			nm_sb_init(&b);
			nm_sb_zeros(&b, links[i].hlen);
			if (links[i].et_at != SIZE_MAX)
				nm_sb_patch_u16(&b, links[i].et_at, v6 ? NM_ETH_IPV6 : NM_ETH_IPV4);
			nm_sb_bytes(&b, ip->buf, ip->len);
			struct nm_l2l3 c;
			assert_int_equal(l_walk(&b, links[i].link, &c),
					 v6 ? NM_L2L3_IPV6 : NM_L2L3_IPV4);
			assert_int_equal(c.l3, links[i].hlen);
			assert_int_equal(c.proto, NM_IPPROTO_UDP);
			/* cut inside the link header */
			if (links[i].hlen)
				assert_int_equal(l_walk_n(&b, links[i].hlen - 1, links[i].link, &c),
						 NM_L2L3_MALFORMED);
			else
				assert_int_equal(l_walk_n(&b, 0, links[i].link, &c),
						 NM_L2L3_MALFORMED);
			assert_int_equal(c.why, NM_L2L3_WHY_LINK_SHORT);
		}
	}
}

/* ---- one test per reason ---- */

static void l_expect_bad(const struct nm_sb *b, enum nm_l2l3_why why)
{
	struct nm_l2l3 c;
	assert_int_equal(l_walk(b, NM_LINK_ETHERNET, &c), NM_L2L3_MALFORMED);
	assert_int_equal(c.why, why);
	assert_string_equal(nm_l2l3_kind_name((enum nm_l2l3_kind)c.kind), "malformed");
	assert_non_null(nm_l2l3_why_msg(why));
}

static void test_why_link_short(void **state)
{
	(void)state;
	struct nm_sb b;
	nm_sb_init(&b);
	nm_sb_zeros(&b, 13);
	l_expect_bad(&b, NM_L2L3_WHY_LINK_SHORT);
}

static void test_why_vlan_cut(void **state)
{
	(void)state;
	struct nm_sb b;
	nm_sb_init(&b);
	nm_sb_eth(&b, L_MAC_B, L_MAC_A, NM_ETH_VLAN);
	nm_sb_u16(&b, 10); /* TCI, then nothing */
	l_expect_bad(&b, NM_L2L3_WHY_VLAN_CUT);
}

static void test_why_ip4(void **state)
{
	(void)state;
	struct nm_sb b;
	l_frame4(&b);
	b.len = 14 + 19;
	l_expect_bad(&b, NM_L2L3_WHY_IP4_SHORT);
	l_frame4(&b);
	b.buf[14] = 0x55; /* version 5 */
	l_expect_bad(&b, NM_L2L3_WHY_IP4_VERSION);
	l_frame4(&b);
	b.buf[14] = 0x44; /* IHL 4 */
	l_expect_bad(&b, NM_L2L3_WHY_IP4_IHL);
	l_frame4(&b);
	nm_sb_patch_u16(&b, 14 + 2, 0); /* segmentation offload */
	l_expect_bad(&b, NM_L2L3_WHY_IP4_LEN_ZERO);
	l_frame4(&b);
	nm_sb_patch_u16(&b, 14 + 2, 19); /* under the header */
	l_expect_bad(&b, NM_L2L3_WHY_IP4_LEN);
	l_frame4(&b);
	nm_sb_patch_u16(&b, 14 + 2, (uint16_t)(b.len - 14 + 1)); /* beyond the frame */
	l_expect_bad(&b, NM_L2L3_WHY_IP4_LEN);
}

static void l_frame6(struct nm_sb *b, uint16_t plen, uint8_t nh, size_t body)
{
	nm_sb_init(b);
	nm_sb_eth(b, L_MAC_B, L_MAC_A, NM_ETH_IPV6);
	l_ip6(b, plen, nh);
	nm_sb_zeros(b, body);
}

static void test_why_ip6(void **state)
{
	(void)state;
	struct nm_sb b;
	l_frame6(&b, 8, NM_IPPROTO_UDP, 8);
	b.len = 14 + 39;
	l_expect_bad(&b, NM_L2L3_WHY_IP6_SHORT);
	l_frame6(&b, 8, NM_IPPROTO_UDP, 8);
	b.buf[14] = 0x40;
	l_expect_bad(&b, NM_L2L3_WHY_IP6_VERSION);
	l_frame6(&b, 0, NM_IPPROTO_HOPOPTS, 16); /* jumbogram */
	l_expect_bad(&b, NM_L2L3_WHY_IP6_JUMBO);
	l_frame6(&b, 9, NM_IPPROTO_UDP, 8);
	l_expect_bad(&b, NM_L2L3_WHY_IP6_LEN);
	l_frame6(&b, 7, NM_IPPROTO_ROUTING, 8); /* under 8 bytes of extension */
	l_expect_bad(&b, NM_L2L3_WHY_IP6_EXT_CUT);
	l_frame6(&b, 16, NM_IPPROTO_DSTOPTS, 16);
	b.buf[14 + 40 + 1] = 2; /* 24 bytes claimed, 16 there */
	l_expect_bad(&b, NM_L2L3_WHY_IP6_EXT_CUT);
	/* payload length 0 and no extension header: an empty datagram */
	struct nm_l2l3 c;
	l_frame6(&b, 0, 59, 0);
	assert_int_equal(l_walk(&b, NM_LINK_ETHERNET, &c), NM_L2L3_IPV6);
	assert_int_equal(c.l4_len, 0);
}

/* Names come from the list, one per reason. */
static void test_why_names(void **state)
{
	(void)state;
	for (int w = 0; w < NM_L2L3__WHY_COUNT; w++) {
		assert_string_not_equal(nm_l2l3_why_name((enum nm_l2l3_why)w), "?");
		assert_true(strlen(nm_l2l3_why_msg((enum nm_l2l3_why)w)) > 0);
	}
	assert_string_equal(nm_l2l3_why_name(NM_L2L3_WHY_IP4_LEN_ZERO), "IP4_LEN_ZERO");
	assert_string_equal(nm_l2l3_why_name(NM_L2L3__WHY_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_udp),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv6_ext_and_fragment),
		cmocka_unit_test(test_vlan_cap),
		cmocka_unit_test(test_ipv6_ext_cap),
		cmocka_unit_test(test_arp_and_other),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_why_link_short),
		cmocka_unit_test(test_why_vlan_cut),
		cmocka_unit_test(test_why_ip4),
		cmocka_unit_test(test_why_ip6),
		cmocka_unit_test(test_why_names),
	};
	return cmocka_run_group_tests(tests, l_setup, l_teardown);
}
