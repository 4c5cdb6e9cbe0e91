/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sampled-header parser tests (decoders/hdr.h): Ethernet, 802.1Q and QinQ
 * with the VLAN depth cap, MPLS stacks (RFC 3032) with their cap, PPP
 * (RFC 1662 framing), IPv4 with options and fragments (RFC 791), IPv6 with
 * extension headers and fragments (RFC 8200) and their cap, TCP, UDP, ICMP
 * and ICMPv6, one level of encapsulation (VXLAN RFC 7348, GRE RFC 2784/2890
 * with TEB, IP-in-IP, IPv6-in-IPv4, IPv6-in-IPv6), and truncation at every
 * length of whole packets.
 *
 * Every parse reads from a copy placed at the very end of a readable page
 * followed by an inaccessible one, so a read past the given length faults
 * in every build (and ASan reports it in sanitizer builds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hdr.h"
#include "sfbuild.h"

#define HD_MAC_A 0x00005e005301ull /* outer / only frame */
#define HD_MAC_B 0x00005e005302ull
#define HD_MAC_C 0x02aabbccdd01ull /* inner frame of an encapsulation */
#define HD_MAC_D 0x02aabbccdd02ull

static const uint8_t hd_in_src[4] = {198, 51, 100, 10};
static const uint8_t hd_in_dst[4] = {203, 0, 113, 20};
static const uint8_t hd_out_src[4] = {192, 0, 2, 1};
static const uint8_t hd_out_dst[4] = {192, 0, 2, 2};
static const uint8_t hd_v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t hd_v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};
static const uint8_t hd_v6c[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
static const uint8_t hd_v6d[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02};

/* ---- guarded parsing ---- */

static uint8_t *hd_page; /* one readable page, then one PROT_NONE page */
static size_t hd_pagesz;

static int hd_group_setup(void **state)
{
	(void)state;
	long ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0)
		return -1;
	hd_pagesz = (size_t)ps;
	void *m = mmap(NULL, 2 * hd_pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (m == MAP_FAILED)
		return -1;
	hd_page = m;
	return mprotect(hd_page + hd_pagesz, hd_pagesz, PROT_NONE);
}

static int hd_group_teardown(void **state)
{
	(void)state;
	munmap(hd_page, 2 * hd_pagesz);
	return 0;
}

/* Parses the first len bytes of pkt, placed so that byte len is unreadable. */
static enum nm_hdr_res hd_parse_n(const struct nm_sb *pkt, size_t len, enum nm_hdr_start st,
				  struct nm_flow *f)
{
	assert_false(pkt->overflow);
	assert_true(len <= pkt->len && len <= hd_pagesz);
	uint8_t *p = hd_page + hd_pagesz - len;
	memcpy(p, pkt->buf, len);
	memset(f, 0, sizeof(*f));
	return nm_hdr_parse(p, len, st, f);
}

static enum nm_hdr_res hd_parse(const struct nm_sb *pkt, enum nm_hdr_start st, struct nm_flow *f)
{
	return hd_parse_n(pkt, pkt->len, st, f);
}

static const char *hd_addr(const struct nm_addr *a)
{
	static char bufs[4][64];
	static unsigned next;
	char *buf = bufs[next++ % 4];
	return nm_addr_format(a, buf, sizeof(bufs[0]));
}

#define assert_addr(a, s) assert_string_equal(hd_addr(a), (s))

/* ---- packet writers ---- */

static struct nm_sb hd_pkt;

static struct nm_sb *hd_new(void)
{
	nm_sb_init(&hd_pkt);
	return &hd_pkt;
}

/* Inner IPv4 header: 198.51.100.10 -> 203.0.113.20, tos 0x28, ttl 61, id 0x1234. */
static void hd_ip4_in(struct nm_sb *b, uint8_t proto)
{
	struct nm_sb_ip4 h = {0};
	h.tos = 0x28;
	h.id = 0x1234;
	h.ttl = 61;
	h.proto = proto;
	memcpy(h.src, hd_in_src, 4);
	memcpy(h.dst, hd_in_dst, 4);
	nm_sb_ip4(b, &h);
}

/* Outer IPv4 header: 192.0.2.1 -> 192.0.2.2, tos 0x10, ttl 64, id 0x4321. */
static void hd_ip4_out(struct nm_sb *b, uint8_t proto)
{
	struct nm_sb_ip4 h = {0};
	h.tos = 0x10;
	h.id = 0x4321;
	h.ttl = 64;
	h.proto = proto;
	memcpy(h.src, hd_out_src, 4);
	memcpy(h.dst, hd_out_dst, 4);
	nm_sb_ip4(b, &h);
}

/* IPv6 header 2001:db8::a -> 2001:db8:1::b, class 0x2e, label 0xabcde, hop limit 33. */
static void hd_ip6_in(struct nm_sb *b, uint8_t nh)
{
	struct nm_sb_ip6 h = {0};
	h.tclass = 0x2e;
	h.flow = 0xabcde;
	h.nh = nh;
	h.hlim = 33;
	memcpy(h.src, hd_v6a, 16);
	memcpy(h.dst, hd_v6b, 16);
	nm_sb_ip6(b, &h);
}

/* Outer IPv6 header fd00::1 -> fd00::2, class 0x04, label 0x12345, hop limit 200. */
static void hd_ip6_out(struct nm_sb *b, uint8_t nh)
{
	struct nm_sb_ip6 h = {0};
	h.tclass = 0x04;
	h.flow = 0x12345;
	h.nh = nh;
	h.hlim = 200;
	memcpy(h.src, hd_v6c, 16);
	memcpy(h.dst, hd_v6d, 16);
	nm_sb_ip6(b, &h);
}

static void hd_assert_in4_tcp(const struct nm_flow *f)
{
	assert_int_equal(f->etype, 0x0800);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->ip_tos, 0x28);
	assert_int_equal(f->ip_ttl, 61);
	assert_int_equal(f->fragment_id, 0x1234);
	assert_int_equal(f->fragment_offset, 0);
	assert_int_equal(f->src_port, 40000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->tcp_flags, 0x12);
}

static void hd_assert_in6_tcp(const struct nm_flow *f)
{
	assert_int_equal(f->etype, 0x86dd);
	assert_addr(&f->src_addr, "2001:db8::a");
	assert_addr(&f->dst_addr, "2001:db8:1::b");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->ip_tos, 0x2e);
	assert_int_equal(f->ipv6_flow_label, 0xabcde);
	assert_int_equal(f->ip_ttl, 33);
	assert_int_equal(f->src_port, 40000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->tcp_flags, 0x12);
}

static void hd_assert_no_encap(const struct nm_flow *f)
{
	assert_int_equal(f->has_encap, 0);
	assert_true(nm_addr_is_zero(&f->src_addr_encap));
	assert_true(nm_addr_is_zero(&f->dst_addr_encap));
	assert_int_equal(f->proto_encap, 0);
	assert_int_equal(f->etype_encap, 0);
}

/* The outer header moved to the *Encap fields (hd_ip4_out). */
static void hd_assert_encap4(const struct nm_flow *f, uint32_t proto)
{
	assert_int_equal(f->has_encap, 1);
	assert_addr(&f->src_addr_encap, "192.0.2.1");
	assert_addr(&f->dst_addr_encap, "192.0.2.2");
	assert_int_equal(f->proto_encap, proto);
	assert_int_equal(f->etype_encap, 0x0800);
	assert_int_equal(f->ip_tos_encap, 0x10);
	assert_int_equal(f->ip_ttl_encap, 64);
	assert_int_equal(f->fragment_id_encap, 0x4321);
}

/* ---- Ethernet, VLANs ---- */

static struct nm_sb *hd_eth_ip4_tcp(void)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void test_eth_ipv4_tcp(void **state)
{
	(void)state;
	struct nm_flow f;
	assert_int_equal(hd_parse(hd_eth_ip4_tcp(), NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.dst_mac, HD_MAC_B);
	assert_int_equal(f.src_mac, HD_MAC_A);
	hd_assert_in4_tcp(&f);
	assert_int_equal(f.vlan_id, 0);
	assert_int_equal(f.has_mpls, 0);
	assert_int_equal(f.has_ppp, 0);
	hd_assert_no_encap(&f);
}

static void test_vlan_8021q(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8100);
	nm_sb_vlan(b, 5u << 13 | 42, 0x0800); /* PCP 5, VID 42 */
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.vlan_id, 42);
	assert_int_equal(f.src_mac, HD_MAC_A);
	hd_assert_in4_tcp(&f);
}

/* QinQ: the service (outer) tag is VlanId; the inner packet is parsed. */
static void test_vlan_qinq_88a8(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x88a8);
	nm_sb_vlan(b, 100, 0x8100);
	nm_sb_vlan(b, 200, 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.vlan_id, 100);
	hd_assert_in4_tcp(&f);
}

static void test_vlan_qinq_9100(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x9100);
	nm_sb_vlan(b, 0x1000 | 300, 0x8100); /* DEI set */
	nm_sb_vlan(b, 400, 0x86dd);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.vlan_id, 300);
	hd_assert_in6_tcp(&f);
}

/* NM_HDR_VLAN_MAX tags are followed; one more is the depth cap. */
static struct nm_sb *hd_vlans(unsigned n)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8100);
	for (unsigned i = 0; i < n; i++)
		nm_sb_vlan(b, (uint16_t)(10 + i), i + 1 < n ? 0x8100 : 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void test_vlan_depth(void **state)
{
	(void)state;
	struct nm_flow f;
	assert_int_equal(hd_parse(hd_vlans(NM_HDR_VLAN_MAX), NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.vlan_id, 10);
	hd_assert_in4_tcp(&f);
	assert_int_equal(hd_parse(hd_vlans(NM_HDR_VLAN_MAX + 1), NM_HDR_ETHERNET, &f), NM_HDR_DEPTH);
	assert_int_equal(f.vlan_id, 10);
	assert_int_equal(f.src_mac, HD_MAC_A);
	assert_true(nm_addr_is_zero(&f.src_addr));
	assert_int_equal(f.proto, 0);
	assert_int_equal(f.src_port, 0);
	/* A long chain stops at the cap too. */
	assert_int_equal(hd_parse(hd_vlans(40), NM_HDR_ETHERNET, &f), NM_HDR_DEPTH);
}

/* An 802.3 length field (LLC follows): nothing above L2. */
static void test_eth_llc(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x0026);
	nm_sb_u32(b, 0x424203);
	nm_sb_zeros(b, 34);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.src_mac, HD_MAC_A);
	assert_int_equal(f.etype, 0);
	assert_true(nm_addr_is_zero(&f.src_addr));
}

/* A non-IP EtherType (ARP) is recorded, nothing parsed above it. */
static void test_eth_arp(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, 0xffffffffffffull, HD_MAC_A, 0x0806);
	nm_sb_zeros(b, 28);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.etype, 0x0806);
	assert_int_equal(f.dst_mac, 0xffffffffffffull);
	assert_int_equal(f.proto, 0);
}

/* ---- MPLS ---- */

static void test_mpls_stack(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8847);
	nm_sb_mpls(b, 16, 0, false, 255);
	nm_sb_mpls(b, 17, 1, false, 254);
	nm_sb_mpls(b, 18, 2, false, 253);
	nm_sb_mpls(b, 1048575, 7, true, 252);
	hd_ip4_in(b, 17);
	nm_sb_udp(b, 5000, 6000, 8);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.has_mpls, 1);
	assert_int_equal(f.mpls_count, 4);
	assert_int_equal(f.mpls1_label, 16);
	assert_int_equal(f.mpls1_ttl, 255);
	assert_int_equal(f.mpls2_label, 17);
	assert_int_equal(f.mpls2_ttl, 254);
	assert_int_equal(f.mpls3_label, 18);
	assert_int_equal(f.mpls3_ttl, 253);
	assert_int_equal(f.mpls_last_label, 1048575);
	assert_int_equal(f.mpls_last_ttl, 252);
	assert_int_equal(f.etype, 0x0800);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.src_port, 5000);
	assert_int_equal(f.dst_port, 6000);
}

/* Header protocol 13: the header starts at the label stack. */
static void test_mpls_start_ipv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_mpls(b, 300, 0, true, 9);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_MPLS, &f), NM_HDR_OK);
	assert_int_equal(f.mpls_count, 1);
	assert_int_equal(f.mpls1_label, 300);
	assert_int_equal(f.mpls1_ttl, 9);
	assert_int_equal(f.mpls_last_label, 300);
	assert_int_equal(f.mpls_last_ttl, 9);
	assert_int_equal(f.mpls2_label, 0);
	hd_assert_in6_tcp(&f);
}

/* Payload after the stack that is not IP (pseudowire control word). */
static void test_mpls_non_ip(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8847);
	nm_sb_mpls(b, 20, 0, true, 64);
	nm_sb_u32(b, 0); /* control word */
	nm_sb_eth(b, HD_MAC_D, HD_MAC_C, 0x0800);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.mpls_count, 1);
	assert_true(nm_addr_is_zero(&f.src_addr));
	assert_int_equal(f.src_mac, HD_MAC_A);
}

static struct nm_sb *hd_mpls_n(unsigned n, bool bottom)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8847);
	for (unsigned i = 0; i < n; i++)
		nm_sb_mpls(b, 100 + i, 0, bottom && i + 1 == n, (uint8_t)(200 - i));
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void test_mpls_depth(void **state)
{
	(void)state;
	struct nm_flow f;
	assert_int_equal(hd_parse(hd_mpls_n(NM_HDR_MPLS_MAX, true), NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.mpls_count, NM_HDR_MPLS_MAX);
	assert_int_equal(f.mpls_last_label, 100 + NM_HDR_MPLS_MAX - 1);
	hd_assert_in4_tcp(&f);
	assert_int_equal(hd_parse(hd_mpls_n(NM_HDR_MPLS_MAX + 1, true), NM_HDR_ETHERNET, &f),
			 NM_HDR_DEPTH);
	assert_true(nm_addr_is_zero(&f.src_addr));
	assert_int_equal(f.src_port, 0);
	/* No bottom-of-stack bit anywhere: the cap or the end stops it. */
	assert_int_equal(hd_parse(hd_mpls_n(60, false), NM_HDR_ETHERNET, &f), NM_HDR_DEPTH);
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8847);
	for (unsigned i = 0; i < 3; i++)
		nm_sb_mpls(b, 100 + i, 0, false, 9);
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_TRUNCATED);
	assert_int_equal(f.mpls_count, 3);
}

/* ---- PPP ---- */

static void test_ppp_ipv4(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_u16(b, 0xff03);
	nm_sb_u16(b, 0x0021);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_PPP, &f), NM_HDR_OK);
	assert_int_equal(f.has_ppp, 1);
	assert_int_equal(f.ppp_address_control, 0xff03);
	hd_assert_in4_tcp(&f);
	assert_int_equal(f.src_mac, 0);
}

static void test_ppp_ipv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_u16(b, 0xff03);
	nm_sb_u16(b, 0x0057);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_PPP, &f), NM_HDR_OK);
	assert_int_equal(f.has_ppp, 1);
	hd_assert_in6_tcp(&f);
}

static void test_unsupported_start(void **state)
{
	(void)state;
	struct nm_flow f;
	struct nm_flow zero;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(hd_parse(hd_eth_ip4_tcp(), (enum nm_hdr_start)2, &f), NM_HDR_UNSUPPORTED);
	assert_memory_equal(&f, &zero, sizeof(f));
	assert_int_equal(hd_parse(hd_eth_ip4_tcp(), (enum nm_hdr_start)0, &f), NM_HDR_UNSUPPORTED);
	assert_memory_equal(&f, &zero, sizeof(f));
}

/* ---- IPv4 ---- */

/* IHL 6: the transport header starts 24 bytes in, not 20. */
static void test_ipv4_options(void **state)
{
	(void)state;
	for (uint8_t ihl = 6; ihl <= 15; ihl += 9) {
		struct nm_sb *b = hd_new();
		struct nm_sb_ip4 h = {0};
		h.ihl = ihl;
		h.tos = 0x28;
		h.id = 0x1234;
		h.ttl = 61;
		h.proto = 6;
		memcpy(h.src, hd_in_src, 4);
		memcpy(h.dst, hd_in_dst, 4);
		nm_sb_ip4(b, &h);
		nm_sb_tcp(b, 40000, 443, 0x12);
		struct nm_flow f;
		assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
		hd_assert_in4_tcp(&f);
	}
}

/* IHL below 5 or a version other than 4: nothing is trusted. */
static void test_ipv4_bad_header(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	b->buf[0] = 0x44;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_TRUNCATED);
	assert_true(nm_addr_is_zero(&f.src_addr));
	assert_int_equal(f.proto, 0);
	assert_int_equal(f.src_port, 0);
	b->buf[0] = 0x65;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_TRUNCATED);
	assert_true(nm_addr_is_zero(&f.src_addr));
	/* IHL beyond the captured bytes: addresses known, no ports. */
	b->buf[0] = 0x4f;
	assert_int_equal(hd_parse_n(b, 40, NM_HDR_IPV4, &f), NM_HDR_TRUNCATED);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.src_port, 0);
}

/* A non-first fragment carries no transport header: no ports. */
static void test_ipv4_fragment(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	struct nm_sb_ip4 h = {0};
	h.id = 0xbeef;
	h.frag = 0x2000 | 185; /* MF, offset 185 * 8 */
	h.ttl = 64;
	h.proto = 17;
	memcpy(h.src, hd_in_src, 4);
	memcpy(h.dst, hd_in_dst, 4);
	nm_sb_ip4(b, &h);
	nm_sb_udp(b, 1111, 2222, 100); /* payload bytes that look like UDP */
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	assert_int_equal(f.fragment_id, 0xbeef);
	assert_int_equal(f.fragment_offset, 185);
	assert_int_equal(f.proto, 17);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.src_port, 0);
	assert_int_equal(f.dst_port, 0);
	/* The first fragment (MF, offset 0) has the ports. */
	nm_sb_patch_u16(b, 6, 0x2000);
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	assert_int_equal(f.fragment_offset, 0);
	assert_int_equal(f.src_port, 1111);
	assert_int_equal(f.dst_port, 2222);
	/* DF alone is not a fragment. */
	nm_sb_patch_u16(b, 6, 0x4000);
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	assert_int_equal(f.fragment_offset, 0);
	assert_int_equal(f.src_port, 1111);
}

static void test_udp(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x0800);
	hd_ip4_in(b, 17);
	nm_sb_udp(b, 53, 33000, 60);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.src_port, 53);
	assert_int_equal(f.dst_port, 33000);
	assert_int_equal(f.tcp_flags, 0);
}

static void test_icmp(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip4_in(b, 1);
	nm_sb_icmp(b, 3, 13); /* unreachable, administratively prohibited */
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 1);
	assert_int_equal(f.icmp_type, 3);
	assert_int_equal(f.icmp_code, 13);
	assert_int_equal(f.src_port, 0);
	assert_int_equal(f.dst_port, 0);
}

static void test_icmpv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip6_in(b, 58);
	nm_sb_icmp(b, 1, 4); /* destination unreachable, port unreachable */
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 58);
	assert_int_equal(f.icmp_type, 1);
	assert_int_equal(f.icmp_code, 4);
	assert_int_equal(f.src_port, 0);
	/* Echo request behind a hop-by-hop header (MLD-like). */
	b = hd_new();
	hd_ip6_in(b, 0);
	nm_sb_ip6_ext(b, 58, 0);
	nm_sb_icmp(b, 128, 0);
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 58);
	assert_int_equal(f.icmp_type, 128);
}

/* ---- IPv6 ---- */

/* Hop-by-hop, routing (16 bytes), destination options, first fragment, TCP. */
static struct nm_sb *hd_ip6_chain(void)
{
	struct nm_sb *b = hd_new();
	hd_ip6_in(b, 0);
	nm_sb_ip6_ext(b, 43, 0);
	nm_sb_ip6_ext(b, 60, 1);
	nm_sb_ip6_ext(b, 44, 0);
	nm_sb_ip6_frag(b, 6, 0, true, 0xdeadbeef);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void test_ipv6_ext_headers(void **state)
{
	(void)state;
	struct nm_sb *b = hd_ip6_chain();
	assert_int_equal(b->len, 40 + 8 + 16 + 8 + 8 + 20);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	hd_assert_in6_tcp(&f);
	assert_int_equal(f.fragment_id, 0xdeadbeef);
	assert_int_equal(f.fragment_offset, 0);
}

static void test_ipv6_fragment(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip6_in(b, 44);
	nm_sb_ip6_frag(b, 17, 100, false, 77);
	nm_sb_udp(b, 1111, 2222, 8); /* payload bytes that look like UDP */
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.fragment_offset, 100);
	assert_int_equal(f.fragment_id, 77);
	assert_int_equal(f.src_port, 0);
	assert_int_equal(f.dst_port, 0);
	assert_addr(&f.src_addr, "2001:db8::a");
}

static struct nm_sb *hd_ip6_dopts(unsigned n)
{
	struct nm_sb *b = hd_new();
	hd_ip6_in(b, 60);
	for (unsigned i = 0; i < n; i++)
		nm_sb_ip6_ext(b, i + 1 < n ? 60 : 17, 0);
	nm_sb_udp(b, 1, 2, 8);
	return b;
}

static void test_ipv6_ext_depth(void **state)
{
	(void)state;
	struct nm_flow f;
	assert_int_equal(hd_parse(hd_ip6_dopts(NM_HDR_V6_EXT_MAX), NM_HDR_IPV6, &f), NM_HDR_OK);
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.dst_port, 2);
	assert_int_equal(hd_parse(hd_ip6_dopts(NM_HDR_V6_EXT_MAX + 1), NM_HDR_IPV6, &f),
			 NM_HDR_DEPTH);
	assert_int_equal(f.src_port, 0);
	assert_int_equal(f.dst_port, 0);
	assert_addr(&f.src_addr, "2001:db8::a");
	assert_int_equal(hd_parse(hd_ip6_dopts(100), NM_HDR_IPV6, &f), NM_HDR_DEPTH);
}

/* ---- encapsulations ---- */

/* Ethernet/802.1Q 10/IPv4/UDP 4789/VXLAN/Ethernet/IPv4/TCP. */
static struct nm_sb *hd_vxlan(void)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8100);
	nm_sb_vlan(b, 10, 0x0800);
	hd_ip4_out(b, 17);
	nm_sb_udp(b, 51000, 4789, 0);
	nm_sb_vxlan(b, 5000);
	nm_sb_eth(b, HD_MAC_D, HD_MAC_C, 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void test_vxlan(void **state)
{
	(void)state;
	struct nm_flow f;
	assert_int_equal(hd_parse(hd_vxlan(), NM_HDR_ETHERNET, &f), NM_HDR_OK);
	hd_assert_in4_tcp(&f);
	hd_assert_encap4(&f, 17);
	/* The flow is seen on the outer link: outer MACs and VLAN (hdr.c). */
	assert_int_equal(f.src_mac, HD_MAC_A);
	assert_int_equal(f.dst_mac, HD_MAC_B);
	assert_int_equal(f.vlan_id, 10);
}

/* UDP 4789 with the VXLAN I flag clear is plain UDP. */
static void test_vxlan_flag_clear(void **state)
{
	(void)state;
	struct nm_sb *b = hd_vxlan();
	b->buf[18 + 20 + 8] = 0;
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	hd_assert_no_encap(&f);
	assert_addr(&f.src_addr, "192.0.2.1");
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.src_port, 51000);
	assert_int_equal(f.dst_port, 4789);
}

/* Outer IPv4 / GRE (flags) / payload written by the caller. */
static struct nm_sb *hd_gre_begin(uint16_t flags, uint16_t proto)
{
	struct nm_sb *b = hd_new();
	hd_ip4_out(b, 47);
	nm_sb_gre(b, flags, proto, 0x11223344, 0x55667788);
	return b;
}

static void test_gre(void **state)
{
	(void)state;
	/* plain, key, checksum + key + sequence, sequence only */
	static const uint16_t flags[4] = {0x0000, 0x2000, 0xb000, 0x1000};
	for (int i = 0; i < 4; i++) {
		struct nm_sb *b = hd_gre_begin(flags[i], 0x0800);
		hd_ip4_in(b, 6);
		nm_sb_tcp(b, 40000, 443, 0x12);
		struct nm_flow f;
		assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
		hd_assert_in4_tcp(&f);
		hd_assert_encap4(&f, 47);
	}
}

static void test_gre_ipv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_gre_begin(0x2000, 0x86dd);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_in6_tcp(&f);
	hd_assert_encap4(&f, 47);
}

/* GRE transparent Ethernet bridging (0x6558): inner frame, then IPv4. */
static void test_gre_teb(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x0800);
	hd_ip4_out(b, 47);
	nm_sb_gre(b, 0x2000, 0x6558, 7, 0);
	nm_sb_eth(b, HD_MAC_D, HD_MAC_C, 0x8100);
	nm_sb_vlan(b, 99, 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	hd_assert_in4_tcp(&f);
	hd_assert_encap4(&f, 47);
	assert_int_equal(f.src_mac, HD_MAC_A);
	assert_int_equal(f.vlan_id, 0);
}

/* GRE version 1 (PPTP) is not followed. */
static void test_gre_v1(void **state)
{
	(void)state;
	struct nm_sb *b = hd_gre_begin(0x3001, 0x880b);
	nm_sb_u16(b, 0xff03);
	nm_sb_u16(b, 0x0021);
	hd_ip4_in(b, 6);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_no_encap(&f);
	assert_addr(&f.src_addr, "192.0.2.1");
	assert_int_equal(f.proto, 47);
}

static void test_ipip(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x0800);
	hd_ip4_out(b, 4);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	hd_assert_in4_tcp(&f);
	hd_assert_encap4(&f, 4);
}

static void test_ipv6_in_ipv4(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip4_out(b, 41);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_in6_tcp(&f);
	hd_assert_encap4(&f, 41);
	assert_int_equal(f.fragment_id, 0); /* the outer ID moved to FragmentIdEncap */
}

static void test_ipv6_in_ipv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x86dd);
	hd_ip6_out(b, 41);
	hd_ip6_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_ETHERNET, &f), NM_HDR_OK);
	hd_assert_in6_tcp(&f);
	assert_int_equal(f.has_encap, 1);
	assert_addr(&f.src_addr_encap, "fd00::1");
	assert_addr(&f.dst_addr_encap, "fd00::2");
	assert_int_equal(f.proto_encap, 41);
	assert_int_equal(f.etype_encap, 0x86dd);
	assert_int_equal(f.ip_tos_encap, 0x04);
	assert_int_equal(f.ip_ttl_encap, 200);
	assert_int_equal(f.ipv6_flow_label_encap, 0x12345);
}

/* IPv4 in IPv6 (next header 4), behind a hop-by-hop header. */
static void test_ipv4_in_ipv6(void **state)
{
	(void)state;
	struct nm_sb *b = hd_new();
	hd_ip6_out(b, 0);
	nm_sb_ip6_ext(b, 4, 0);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	struct nm_flow f;
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	hd_assert_in4_tcp(&f);
	assert_int_equal(f.has_encap, 1);
	assert_int_equal(f.proto_encap, 4);
	assert_int_equal(f.etype_encap, 0x86dd);
	assert_int_equal(f.ipv6_flow_label, 0);
}

/* Only one level: an encapsulation inside the inner packet is not followed. */
static void test_encap_one_level(void **state)
{
	(void)state;
	struct nm_flow f;
	/* IPv4 / IPv4 / IPv4 / TCP: the flow is the middle header. */
	struct nm_sb *b = hd_new();
	hd_ip4_out(b, 4);
	hd_ip4_in(b, 4);
	struct nm_sb_ip4 h = {0};
	h.proto = 6;
	h.ttl = 1;
	memcpy(h.src, hd_v6c + 12, 4);
	memcpy(h.dst, hd_v6d + 12, 4);
	nm_sb_ip4(b, &h);
	nm_sb_tcp(b, 40000, 443, 0x12);
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_encap4(&f, 4);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.proto, 4);
	assert_int_equal(f.ip_ttl, 61);
	assert_int_equal(f.src_port, 0);
	assert_int_equal(f.tcp_flags, 0);

	/* IPv4 / GRE / IPv4 / UDP 4789 / VXLAN / ...: VXLAN not followed. */
	b = hd_gre_begin(0, 0x0800);
	hd_ip4_in(b, 17);
	nm_sb_udp(b, 51000, 4789, 0);
	nm_sb_vxlan(b, 1);
	nm_sb_eth(b, HD_MAC_D, HD_MAC_C, 0x0800);
	hd_ip6_out(b, 6);
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_encap4(&f, 47);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.proto, 17);
	assert_int_equal(f.src_port, 51000);
	assert_int_equal(f.dst_port, 4789);

	/* VXLAN / inner IPv4 / GRE / IPv4: GRE not followed. */
	b = hd_new();
	hd_ip4_out(b, 17);
	nm_sb_udp(b, 51000, 4789, 0);
	nm_sb_vxlan(b, 1);
	nm_sb_eth(b, HD_MAC_D, HD_MAC_C, 0x0800);
	hd_ip4_in(b, 47);
	nm_sb_gre(b, 0, 0x0800, 0, 0);
	hd_ip6_out(b, 6);
	assert_int_equal(hd_parse(b, NM_HDR_IPV4, &f), NM_HDR_OK);
	hd_assert_encap4(&f, 17);
	assert_addr(&f.src_addr, "198.51.100.10");
	assert_int_equal(f.proto, 47);

	/* IPv6 / IPv6 / IPv6: the middle one is the flow. */
	b = hd_new();
	hd_ip6_out(b, 41);
	hd_ip6_in(b, 41);
	hd_ip6_out(b, 6);
	nm_sb_tcp(b, 1, 2, 0x02);
	assert_int_equal(hd_parse(b, NM_HDR_IPV6, &f), NM_HDR_OK);
	assert_addr(&f.src_addr_encap, "fd00::1");
	assert_addr(&f.src_addr, "2001:db8::a");
	assert_int_equal(f.proto, 41);
	assert_int_equal(f.src_port, 0);
}

/* ---- truncation at every length ---- */

/*
 * Every field of a cut parse is either unset (0) or what the whole packet
 * gives: a cut never leaves a wrong value behind. skip names fields a cut
 * may legitimately set to something else (NULL-terminated).
 */
static bool hd_skipped(const char *name, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strcmp(name, *skip) == 0)
			return true;
	return false;
}

#define HD_CMP_SCALAR(name, mem)                                                             \
	if (!hd_skipped(#name, skip) && c->mem != 0 && c->mem != full->mem) {              \
		print_error("cut %zu: %s = %llu, whole packet %llu\n", cut, #name,           \
			    (unsigned long long)c->mem, (unsigned long long)full->mem);      \
		bad++;                                                                       \
	}
#define HD_CMP_ENUM(name, mem) HD_CMP_SCALAR(name, mem)
#define HD_CMP_U32(name, mem) HD_CMP_SCALAR(name, mem)
#define HD_CMP_U64(name, mem) HD_CMP_SCALAR(name, mem)
#define HD_CMP_MAC(name, mem) HD_CMP_SCALAR(name, mem)
#define HD_CMP_BOOL(name, mem) HD_CMP_SCALAR(name, mem)
#define HD_CMP_ADDR(name, mem)                                                               \
	if (!hd_skipped(#name, skip) && !nm_addr_is_zero(&c->mem) &&                        \
	    memcmp(&c->mem, &full->mem, sizeof(c->mem)) != 0) {                              \
		print_error("cut %zu: %s = %s, whole packet %s\n", cut, #name,               \
			    hd_addr(&c->mem), hd_addr(&full->mem));                          \
		bad++;                                                                       \
	}
#define HD_CMP_U32LIST(name, mem)
#define HD_CMP_STR(name, mem)
#define HD_CMP_(num, name, kind, mem, pb) HD_CMP_##kind(name, mem)

static void hd_assert_subset(const struct nm_flow *c, const struct nm_flow *full, size_t cut,
			     const char *const *skip)
{
	int bad = 0;
	NM_FLOW_FIELDS(HD_CMP_)
	assert_int_equal(bad, 0);
}

/* Checks one cut of a sweep: f is the parse of the first cut bytes. */
typedef void (*hd_cut_check)(const struct nm_flow *f, size_t cut, enum nm_hdr_res res);

/*
 * Parses every prefix 0..len of pkt (each placed against the guard page).
 * res must be NM_HDR_OK exactly from ok_at on; with subset, every cut's
 * fields must be a subset of the whole packet's; check (if any) asserts the
 * fields of each layer appear exactly when the layer is complete.
 */
static void hd_sweep(const struct nm_sb *pkt, enum nm_hdr_start st, size_t ok_at, bool subset,
		     const char *const *skip, hd_cut_check check)
{
	struct nm_flow full, f;
	assert_int_equal(hd_parse(pkt, st, &full), NM_HDR_OK);
	for (size_t cut = 0; cut <= pkt->len; cut++) {
		enum nm_hdr_res res = hd_parse_n(pkt, cut, st, &f);
		if ((res == NM_HDR_OK) != (cut >= ok_at)) {
			print_error("cut %zu of %zu: result %d\n", cut, pkt->len, (int)res);
			fail();
		}
		if (res != NM_HDR_OK)
			assert_int_equal(res, NM_HDR_TRUNCATED);
		if (subset)
			hd_assert_subset(&f, &full, cut, skip);
		if (check)
			check(&f, cut, res);
	}
}

/* Ethernet 0-14, 802.1Q 14-18, IPv4 with IHL 6 18-42, TCP 42-62. */
static struct nm_sb *hd_cut_pkt_v4(void)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8100);
	nm_sb_vlan(b, 42, 0x0800);
	struct nm_sb_ip4 h = {0};
	h.ihl = 6;
	h.tos = 0x28;
	h.id = 0x1234;
	h.ttl = 61;
	h.proto = 6;
	memcpy(h.src, hd_in_src, 4);
	memcpy(h.dst, hd_in_dst, 4);
	nm_sb_ip4(b, &h);
	nm_sb_tcp(b, 40000, 443, 0x12);
	return b;
}

static void hd_check_v4(const struct nm_flow *f, size_t cut, enum nm_hdr_res res)
{
	(void)res;
	assert_int_equal(f->src_mac != 0, cut >= 14);
	assert_int_equal(f->vlan_id != 0, cut >= 18);
	assert_int_equal(f->etype != 0, cut >= 18);
	/* Cut inside the IPv4 header: no address, protocol, TTL or TOS. */
	assert_int_equal(!nm_addr_is_zero(&f->src_addr), cut >= 38);
	assert_int_equal(!nm_addr_is_zero(&f->dst_addr), cut >= 38);
	assert_int_equal(f->proto != 0, cut >= 38);
	assert_int_equal(f->ip_ttl != 0, cut >= 38);
	assert_int_equal(f->ip_tos != 0, cut >= 38);
	/* TCP needs 4 bytes for the ports and 14 for the flags. */
	assert_int_equal(f->src_port != 0, cut >= 46);
	assert_int_equal(f->dst_port != 0, cut >= 46);
	assert_int_equal(f->tcp_flags != 0, cut >= 56);
	if (cut == 42 + 10) {
		assert_int_equal(f->src_port, 40000);
		assert_int_equal(f->tcp_flags, 0);
	}
}

static void test_cut_eth_vlan_ipv4_tcp(void **state)
{
	(void)state;
	hd_sweep(hd_cut_pkt_v4(), NM_HDR_ETHERNET, 56, true, NULL, hd_check_v4);
}

/* IPv6 0-40, hop-by-hop 40-48, routing 48-64, dest opts 64-72, fragment 72-80, TCP 80-100. */
static void hd_check_v6(const struct nm_flow *f, size_t cut, enum nm_hdr_res res)
{
	(void)res;
	assert_int_equal(!nm_addr_is_zero(&f->src_addr), cut >= 40);
	assert_int_equal(f->ipv6_flow_label != 0, cut >= 40);
	assert_int_equal(f->ip_ttl != 0, cut >= 40);
	assert_int_equal(f->fragment_id != 0, cut >= 80);
	assert_int_equal(f->src_port != 0, cut >= 84);
	assert_int_equal(f->tcp_flags != 0, cut >= 94);
	/* Proto is the last next-header value reached; TCP once it is there. */
	assert_true(f->proto == 0 || f->proto == 43 || f->proto == 60 || f->proto == 44 ||
		    f->proto == 6);
	if (cut >= 84)
		assert_int_equal(f->proto, 6);
}

static void test_cut_ipv6_ext_tcp(void **state)
{
	(void)state;
	static const char *const skip[] = {"Proto", NULL};
	hd_sweep(hd_ip6_chain(), NM_HDR_IPV6, 94, true, skip, hd_check_v6);
}

/* Ethernet 0-14, MPLS 14-18-22, IPv4 22-42, UDP 42-50. */
static struct nm_sb *hd_cut_pkt_mpls(void)
{
	struct nm_sb *b = hd_new();
	nm_sb_eth(b, HD_MAC_B, HD_MAC_A, 0x8847);
	nm_sb_mpls(b, 1000, 0, false, 64);
	nm_sb_mpls(b, 2000, 0, true, 63);
	hd_ip4_in(b, 17);
	nm_sb_udp(b, 5000, 6000, 8);
	return b;
}

static void hd_check_mpls(const struct nm_flow *f, size_t cut, enum nm_hdr_res res)
{
	(void)res;
	assert_int_equal(f->mpls1_label != 0, cut >= 18);
	assert_int_equal(f->mpls2_label != 0, cut >= 22);
	assert_int_equal(f->mpls_count, cut >= 22 ? 2 : cut >= 18 ? 1 : 0);
	if (cut >= 22) {
		assert_int_equal(f->mpls_last_label, 2000);
		assert_int_equal(f->mpls_last_ttl, 63);
	}
	assert_int_equal(!nm_addr_is_zero(&f->src_addr), cut >= 42);
	assert_int_equal(f->src_port != 0, cut >= 46);
}

static void test_cut_mpls_ipv4_udp(void **state)
{
	(void)state;
	/* Within the stack the count and last entry describe the entries seen, and
	 * Etype is the MPLS EtherType until the payload's IP version is read. */
	static const char *const skip[] = {"MPLSCount", "MPLSLastTTL", "MPLSLastLabel", "Etype",
					   NULL};
	hd_sweep(hd_cut_pkt_mpls(), NM_HDR_ETHERNET, 46, true, skip, hd_check_mpls);
}

/*
 * VXLAN: outer Ethernet 0-14, 802.1Q 14-18, IPv4 18-38, UDP 38-46, VXLAN
 * 46-54, inner Ethernet 54-68, IPv4 68-88, TCP 88-108.
 */
static void hd_check_vxlan(const struct nm_flow *f, size_t cut, enum nm_hdr_res res)
{
	(void)res;
	assert_int_equal(f->src_mac, cut >= 14 ? HD_MAC_A : 0);
	assert_int_equal(f->vlan_id, cut >= 18 ? 10 : 0);
	/* The encapsulation is known once the VXLAN header is complete. */
	assert_int_equal(f->has_encap, cut >= 54);
	if (cut < 54) {
		assert_int_equal(!nm_addr_is_zero(&f->src_addr), cut >= 38);
		if (cut >= 38)
			assert_addr(&f->src_addr, "192.0.2.1");
		assert_int_equal(f->src_port, cut >= 42 ? 51000 : 0);
		assert_int_equal(f->dst_port, cut >= 42 ? 4789 : 0);
		hd_assert_no_encap(f);
		return;
	}
	hd_assert_encap4(f, 17);
	assert_int_equal(f->src_mac, HD_MAC_A);
	assert_int_equal(!nm_addr_is_zero(&f->src_addr), cut >= 88);
	assert_int_equal(f->proto, cut >= 88 ? 6 : 0);
	assert_int_equal(f->ip_ttl, cut >= 88 ? 61 : 0);
	assert_int_equal(f->src_port, cut >= 92 ? 40000 : 0);
	assert_int_equal(f->dst_port, cut >= 92 ? 443 : 0);
	assert_int_equal(f->tcp_flags, cut >= 102 ? 0x12 : 0);
	if (cut >= 68)
		assert_int_equal(f->etype, 0x0800);
}

static void test_cut_vxlan(void **state)
{
	(void)state;
	hd_sweep(hd_vxlan(), NM_HDR_ETHERNET, 102, false, NULL, hd_check_vxlan);
}

/*
 * Inner EtherType while the inner Ethernet header of a VXLAN packet is cut
 * (bytes 54-67): the outer header's EtherType moved to EtypeEncap, so Etype
 * must not keep claiming it for the inner frame.
 */
static void test_cut_vxlan_inner_etype(void **state)
{
	(void)state;
	struct nm_sb *b = hd_vxlan();
	struct nm_flow f;
	for (size_t cut = 54; cut < 68; cut++) {
		assert_int_equal(hd_parse_n(b, cut, NM_HDR_ETHERNET, &f), NM_HDR_TRUNCATED);
		assert_int_equal(f.has_encap, 1);
		assert_int_equal(f.etype_encap, 0x0800);
		assert_int_equal(f.etype, 0);
	}
}

/* Outer IPv4 0-20, GRE with checksum, key, sequence 20-36, IPv4 36-56, TCP 56-76. */
static void hd_check_gre(const struct nm_flow *f, size_t cut, enum nm_hdr_res res)
{
	(void)res;
	/* The outer protocol (47) says "encapsulated" once GRE's first word is there. */
	assert_int_equal(f->has_encap, cut >= 24);
	if (cut >= 24)
		hd_assert_encap4(f, 47);
	else if (cut >= 20)
		assert_addr(&f->src_addr, "192.0.2.1");
	assert_int_equal(f->src_port != 0, cut >= 60);
	if (cut >= 56)
		assert_addr(&f->src_addr, "198.51.100.10");
	else if (cut >= 24)
		assert_true(nm_addr_is_zero(&f->src_addr));
}

static void test_cut_gre(void **state)
{
	(void)state;
	struct nm_sb *b = hd_gre_begin(0xb000, 0x0800);
	hd_ip4_in(b, 6);
	nm_sb_tcp(b, 40000, 443, 0x12);
	hd_sweep(b, NM_HDR_IPV4, 70, false, NULL, hd_check_gre);
}

/* The other packets of this file: no read past the cut, OK only when whole. */
static void test_cut_others(void **state)
{
	(void)state;
	struct nm_sb pkt;
	static const char *const mpls_skip[] = {"MPLSCount", "MPLSLastTTL", "MPLSLastLabel",
						"Etype", NULL};

	pkt = *hd_vlans(NM_HDR_VLAN_MAX);
	hd_sweep(&pkt, NM_HDR_ETHERNET, pkt.len - 6, true, NULL, NULL);

	pkt = *hd_mpls_n(5, true);
	hd_sweep(&pkt, NM_HDR_ETHERNET, pkt.len - 6, true, mpls_skip, NULL);

	/* PPP / IPv4 / TCP */
	nm_sb_init(&pkt);
	nm_sb_u16(&pkt, 0xff03);
	nm_sb_u16(&pkt, 0x0021);
	hd_ip4_in(&pkt, 6);
	nm_sb_tcp(&pkt, 40000, 443, 0x12);
	hd_sweep(&pkt, NM_HDR_PPP, pkt.len - 6, true, NULL, NULL);

	/* IPv6 non-first fragment: complete once the fragment header is. */
	nm_sb_init(&pkt);
	hd_ip6_in(&pkt, 44);
	nm_sb_ip6_frag(&pkt, 17, 100, false, 77);
	nm_sb_udp(&pkt, 1, 2, 8);
	hd_sweep(&pkt, NM_HDR_IPV6, 48, true, (const char *const[]){"Proto", NULL}, NULL);

	/* ICMPv6 */
	nm_sb_init(&pkt);
	hd_ip6_in(&pkt, 58);
	nm_sb_icmp(&pkt, 1, 4);
	hd_sweep(&pkt, NM_HDR_IPV6, 42, true, NULL, NULL);

	/* ICMP (type 0 echo reply: only the code would show, both 0 here) */
	nm_sb_init(&pkt);
	hd_ip4_in(&pkt, 1);
	nm_sb_icmp(&pkt, 11, 1);
	hd_sweep(&pkt, NM_HDR_IPV4, 22, true, NULL, NULL);

	/* IPv6 in IPv4, IPv6 in IPv6, IP in IP, GRE TEB, VXLAN with IPv6 inside */
	nm_sb_init(&pkt);
	hd_ip4_out(&pkt, 41);
	hd_ip6_in(&pkt, 6);
	nm_sb_tcp(&pkt, 40000, 443, 0x12);
	hd_sweep(&pkt, NM_HDR_IPV4, pkt.len - 6, false, NULL, NULL);

	nm_sb_init(&pkt);
	hd_ip6_out(&pkt, 41);
	hd_ip6_in(&pkt, 17);
	nm_sb_udp(&pkt, 1, 2, 8);
	hd_sweep(&pkt, NM_HDR_IPV6, pkt.len - 4, false, NULL, NULL);

	nm_sb_init(&pkt);
	hd_ip4_out(&pkt, 4);
	hd_ip4_in(&pkt, 17);
	nm_sb_udp(&pkt, 1, 2, 8);
	hd_sweep(&pkt, NM_HDR_IPV4, pkt.len - 4, false, NULL, NULL);

	nm_sb_init(&pkt);
	hd_ip4_out(&pkt, 47);
	nm_sb_gre(&pkt, 0x2000, 0x6558, 7, 0);
	nm_sb_eth(&pkt, HD_MAC_D, HD_MAC_C, 0x8100);
	nm_sb_vlan(&pkt, 99, 0x0800);
	hd_ip4_in(&pkt, 6);
	nm_sb_tcp(&pkt, 40000, 443, 0x12);
	hd_sweep(&pkt, NM_HDR_IPV4, pkt.len - 6, false, NULL, NULL);

	nm_sb_init(&pkt);
	nm_sb_eth(&pkt, HD_MAC_B, HD_MAC_A, 0x86dd);
	hd_ip6_out(&pkt, 17);
	nm_sb_udp(&pkt, 51000, 4789, 0);
	nm_sb_vxlan(&pkt, 5000);
	nm_sb_eth(&pkt, HD_MAC_D, HD_MAC_C, 0x86dd);
	hd_ip6_in(&pkt, 6);
	nm_sb_tcp(&pkt, 40000, 443, 0x12);
	hd_sweep(&pkt, NM_HDR_ETHERNET, pkt.len - 6, false, NULL, NULL);
}

/* Every start protocol on every prefix of random bytes: no read past the cut. */
static void test_cut_random(void **state)
{
	(void)state;
	static const enum nm_hdr_start starts[] = {NM_HDR_ETHERNET, NM_HDR_PPP, NM_HDR_IPV4,
						   NM_HDR_IPV6, NM_HDR_MPLS};
	struct nm_sb pkt;
	uint32_t x = 0x12345678;
	struct nm_flow f;
	for (int round = 0; round < 200; round++) {
		nm_sb_init(&pkt);
		for (int i = 0; i < 160; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			nm_sb_u8(&pkt, (uint8_t)x);
		}
		/* Steer the first bytes towards the parsers' interesting paths. */
		pkt.buf[0] = (uint8_t)(round & 1 ? 0x45 : 0x60);
		pkt.buf[12] = 0x81;
		pkt.buf[13] = 0x00;
		for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++)
			for (size_t cut = 0; cut <= pkt.len; cut++)
				(void)hd_parse_n(&pkt, cut, starts[s], &f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eth_ipv4_tcp),
		cmocka_unit_test(test_vlan_8021q),
		cmocka_unit_test(test_vlan_qinq_88a8),
		cmocka_unit_test(test_vlan_qinq_9100),
		cmocka_unit_test(test_vlan_depth),
		cmocka_unit_test(test_eth_llc),
		cmocka_unit_test(test_eth_arp),
		cmocka_unit_test(test_mpls_stack),
		cmocka_unit_test(test_mpls_start_ipv6),
		cmocka_unit_test(test_mpls_non_ip),
		cmocka_unit_test(test_mpls_depth),
		cmocka_unit_test(test_ppp_ipv4),
		cmocka_unit_test(test_ppp_ipv6),
		cmocka_unit_test(test_unsupported_start),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_bad_header),
		cmocka_unit_test(test_ipv4_fragment),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_icmpv6),
		cmocka_unit_test(test_ipv6_ext_headers),
		cmocka_unit_test(test_ipv6_fragment),
		cmocka_unit_test(test_ipv6_ext_depth),
		cmocka_unit_test(test_vxlan),
		cmocka_unit_test(test_vxlan_flag_clear),
		cmocka_unit_test(test_gre),
		cmocka_unit_test(test_gre_ipv6),
		cmocka_unit_test(test_gre_teb),
		cmocka_unit_test(test_gre_v1),
		cmocka_unit_test(test_ipip),
		cmocka_unit_test(test_ipv6_in_ipv4),
		cmocka_unit_test(test_ipv6_in_ipv6),
		cmocka_unit_test(test_ipv4_in_ipv6),
		cmocka_unit_test(test_encap_one_level),
		cmocka_unit_test(test_cut_eth_vlan_ipv4_tcp),
		cmocka_unit_test(test_cut_ipv6_ext_tcp),
		cmocka_unit_test(test_cut_mpls_ipv4_udp),
		cmocka_unit_test(test_cut_vxlan),
		cmocka_unit_test(test_cut_vxlan_inner_etype),
		cmocka_unit_test(test_cut_gre),
		cmocka_unit_test(test_cut_others),
		cmocka_unit_test(test_cut_random),
	};
	return cmocka_run_group_tests_name("hdr", tests, hd_group_setup, hd_group_teardown);
}
