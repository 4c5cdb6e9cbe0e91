/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPFIX packet sections (RFC 7133 / IANA IEs 313 ipHeaderPacketSection,
 * 315 dataLinkFrameSection, 312 dataLinkFrameSize): a record carrying the
 * sampled packet itself is filled by the sampled-header parser, with Bytes
 * from the frame size and Packets 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sftest.h"

#define SC_DOMAIN 9u
#define SC_VARLEN 0xffffu
#define SC_SRC_MAC 0x020000000001ull
#define SC_DST_MAC 0x020000000002ull

static const uint8_t sc_src4[4] = {198, 51, 100, 10};
static const uint8_t sc_dst4[4] = {203, 0, 113, 20};
static const uint8_t sc_v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t sc_v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};

static struct nm_sb sc_pkt;

/* Ethernet / 802.1Q 42 / IPv4 / TCP 40000 -> 443 (58 bytes). */
static const struct nm_sb *sc_frame(void)
{
	nm_sb_init(&sc_pkt);
	nm_sb_eth(&sc_pkt, SC_DST_MAC, SC_SRC_MAC, 0x8100);
	nm_sb_vlan(&sc_pkt, 42, 0x0800);
	struct nm_sb_ip4 h = {0};
	h.tos = 0x28;
	h.ttl = 61;
	h.proto = 6;
	memcpy(h.src, sc_src4, 4);
	memcpy(h.dst, sc_dst4, 4);
	nm_sb_ip4(&sc_pkt, &h);
	nm_sb_tcp(&sc_pkt, 40000, 443, 0x12);
	return &sc_pkt;
}

/* IPv6 / UDP 5353 -> 53 (48 bytes). */
static const struct nm_sb *sc_ip6(void)
{
	nm_sb_init(&sc_pkt);
	struct nm_sb_ip6 h = {0};
	h.flow = 0x54321;
	h.nh = 17;
	h.hlim = 64;
	memcpy(h.src, sc_v6a, 16);
	memcpy(h.dst, sc_v6b, 16);
	nm_sb_ip6(&sc_pkt, &h);
	nm_sb_udp(&sc_pkt, 5353, 53, 8);
	return &sc_pkt;
}

/* One template set: id, then (IE, length) pairs. */
static void sc_template(struct nm_sb *b, uint16_t id, const uint16_t (*f)[2], uint16_t n)
{
	nm_sb_set_begin(b, 2);
	nm_sb_u16(b, id);
	nm_sb_u16(b, n);
	for (uint16_t i = 0; i < n; i++) {
		nm_sb_u16(b, f[i][0]);
		nm_sb_u16(b, f[i][1]);
	}
	nm_sb_set_end(b);
}

static enum nm_err sc_send(struct nm_sft *t)
{
	nm_sb_ipfix_end(&t->sb);
	assert_false(t->sb.overflow);
	return nm_sft_ipfix(t);
}

static void sc_assert_frame(const struct nm_flow *f)
{
	assert_int_equal(f->type, NM_FLOW_TYPE_IPFIX);
	assert_int_equal(f->src_mac, SC_SRC_MAC);
	assert_int_equal(f->dst_mac, SC_DST_MAC);
	assert_int_equal(f->vlan_id, 42);
	assert_int_equal(f->etype, 0x0800);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->src_port, 40000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->tcp_flags, 0x12);
	assert_int_equal(f->ip_tos, 0x28);
	assert_int_equal(f->ip_ttl, 61);
	assert_int_equal(f->packets, 1);
}

/* IE 315 (variable length) + IE 10 + IE 312, template and data in one message. */
static void test_section_frame(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint16_t fields[3][2] = {{315, SC_VARLEN}, {10, 4}, {312, 2}};
	nm_sb_init(&t->sb);
	nm_sb_ipfix_hdr(&t->sb, NM_SFT_NOW_S, 0, SC_DOMAIN);
	sc_template(&t->sb, 256, fields, 3);
	nm_sb_set_begin(&t->sb, 256);
	for (uint32_t i = 0; i < 2; i++) {
		const struct nm_sb *p = sc_frame();
		nm_sb_varlen(&t->sb, p->buf, p->len);
		nm_sb_u32(&t->sb, 17 + i);
		nm_sb_u16(&t->sb, (uint16_t)(1514 - i));
	}
	nm_sb_set_end(&t->sb);
	assert_int_equal(sc_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	for (uint32_t i = 0; i < 2; i++) {
		sc_assert_frame(&t->recs[i]);
		assert_int_equal(t->recs[i].in_if, 17 + i);
		assert_int_equal(t->recs[i].bytes, 1514 - i);
		assert_int_equal(t->recs[i].observation_domain_id, SC_DOMAIN);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_PACKET_SECTIONS), 2);
	assert_identity(t);
}

/* A section longer than 255 bytes (3-byte length form) and cut: still parsed. */
static void test_section_frame_long(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint16_t fields[3][2] = {{312, 2}, {315, SC_VARLEN}, {10, 4}};
	nm_sb_init(&t->sb);
	nm_sb_ipfix_hdr(&t->sb, NM_SFT_NOW_S, 0, SC_DOMAIN);
	sc_template(&t->sb, 300, fields, 3);
	nm_sb_set_begin(&t->sb, 300);
	nm_sb_u16(&t->sb, 9000);
	uint8_t frame[300];
	memset(frame, 0xee, sizeof(frame));
	const struct nm_sb *p = sc_frame();
	memcpy(frame, p->buf, p->len);
	nm_sb_u8(&t->sb, 255);
	nm_sb_u16(&t->sb, sizeof(frame));
	nm_sb_bytes(&t->sb, frame, sizeof(frame));
	nm_sb_u32(&t->sb, 5);
	nm_sb_set_end(&t->sb);
	assert_int_equal(sc_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	sc_assert_frame(&t->recs[0]);
	assert_int_equal(t->recs[0].bytes, 9000);
	assert_int_equal(t->recs[0].in_if, 5);
	assert_int_equal(nm_sft_ev(t, NM_EV_PACKET_SECTIONS), 1);
	assert_identity(t);
}

/* A fixed-length IE 315 (64 bytes) in a fixed-length template. */
static void test_section_frame_fixed(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint16_t fields[3][2] = {{10, 4}, {315, 64}, {312, 2}};
	nm_sb_init(&t->sb);
	nm_sb_ipfix_hdr(&t->sb, NM_SFT_NOW_S, 0, SC_DOMAIN);
	sc_template(&t->sb, 257, fields, 3);
	nm_sb_set_begin(&t->sb, 257);
	nm_sb_u32(&t->sb, 3);
	const struct nm_sb *p = sc_frame();
	nm_sb_bytes(&t->sb, p->buf, p->len);
	nm_sb_zeros(&t->sb, 64 - p->len);
	nm_sb_u16(&t->sb, 60);
	nm_sb_set_end(&t->sb);
	assert_int_equal(sc_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	sc_assert_frame(&t->recs[0]);
	assert_int_equal(t->recs[0].in_if, 3);
	assert_int_equal(t->recs[0].bytes, 60);
	assert_int_equal(nm_sft_ev(t, NM_EV_PACKET_SECTIONS), 1);
	assert_identity(t);
}

/* IE 313 starting at an IPv6 header; IE 2 gives the packet count. */
static void test_section_ip6(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint16_t fields[4][2] = {{313, SC_VARLEN}, {10, 4}, {1, 4}, {2, 4}};
	nm_sb_init(&t->sb);
	nm_sb_ipfix_hdr(&t->sb, NM_SFT_NOW_S, 0, SC_DOMAIN);
	sc_template(&t->sb, 258, fields, 4);
	nm_sb_set_begin(&t->sb, 258);
	const struct nm_sb *p = sc_ip6();
	nm_sb_varlen(&t->sb, p->buf, p->len);
	nm_sb_u32(&t->sb, 11);
	nm_sb_u32(&t->sb, 700);
	nm_sb_u32(&t->sb, 3);
	nm_sb_set_end(&t->sb);
	assert_int_equal(sc_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->etype, 0x86dd);
	assert_addr(&f->src_addr, "2001:db8::a");
	assert_addr(&f->dst_addr, "2001:db8:1::b");
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->src_port, 5353);
	assert_int_equal(f->dst_port, 53);
	assert_int_equal(f->ipv6_flow_label, 0x54321);
	assert_int_equal(f->ip_ttl, 64);
	assert_int_equal(f->src_mac, 0);
	assert_int_equal(f->in_if, 11);
	assert_int_equal(f->bytes, 700);
	assert_int_equal(f->packets, 3);
	assert_int_equal(nm_sft_ev(t, NM_EV_PACKET_SECTIONS), 1);
	assert_identity(t);
}

/* IE 313 starting at an IPv4 header, and an empty section. */
static void test_section_ip4_and_empty(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint16_t fields[2][2] = {{313, SC_VARLEN}, {10, 4}};
	nm_sb_init(&t->sb);
	nm_sb_ipfix_hdr(&t->sb, NM_SFT_NOW_S, 0, SC_DOMAIN);
	sc_template(&t->sb, 259, fields, 2);
	nm_sb_set_begin(&t->sb, 259);
	const struct nm_sb *p = sc_frame();
	nm_sb_varlen(&t->sb, p->buf + 18, p->len - 18);
	nm_sb_u32(&t->sb, 1);
	nm_sb_varlen(&t->sb, NULL, 0);
	nm_sb_u32(&t->sb, 2);
	nm_sb_set_end(&t->sb);
	assert_int_equal(sc_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_addr(&t->recs[0].src_addr, "198.51.100.10");
	assert_int_equal(t->recs[0].src_port, 40000);
	assert_int_equal(t->recs[0].packets, 1);
	assert_true(nm_addr_is_zero(&t->recs[1].src_addr));
	assert_int_equal(t->recs[1].in_if, 2);
	assert_identity(t);
}

#define SC_TEST(fn) cmocka_unit_test_setup_teardown(fn, nm_sft_setup, nm_sft_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		SC_TEST(test_section_frame),
		SC_TEST(test_section_frame_long),
		SC_TEST(test_section_frame_fixed),
		SC_TEST(test_section_ip6),
		SC_TEST(test_section_ip4_and_empty),
	};
	return cmocka_run_group_tests_name("packet_sections", tests, NULL, NULL);
}
