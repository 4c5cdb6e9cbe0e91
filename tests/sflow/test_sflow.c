/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sFlow v5 decoder tests (sflow.org "sFlow Version 5", July 2004, and the
 * "sFlow Dropped Packet Notification Structures" extension): every flow
 * record the decoder maps (1 sampled header per header protocol, 2, 3, 4,
 * 1001, 1002, 1003, 1006, 1007), every sample type (1, 2, 3, 4, 5), the
 * compact interface formats, IPv6 agents, trailing bytes, unknown and
 * enterprise formats skipped by length, one test per decode error with the
 * accounting identity, and sequence tracking per (agent, sub-agent) and per
 * (agent, sub-agent, source ID).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sftest.h"

#define SF_SUB 3u             /* sub-agent ID of the default agent */
#define SF_UPTIME 86400000u   /* agent uptime in the datagram header, ms */
#define SF_AGENT_STR "10.0.0.1"
#define SF_SRC_MAC 0x020000000001ull
#define SF_DST_MAC 0x020000000002ull

/* sFlow interface encodings (compact flow sample, sFlow v5 5.1). */
#define SF_IF_DISCARD(reason) (1u << 30 | (reason))
#define SF_IF_MULTI(n) (2u << 30 | (n))
#define SF_IF_LOCAL 0x3fffffffu

/* Exporter table kinds (decode.h, struct nm_exporter_info). */
#define SF_KIND_DGRAM 0x50
#define SF_KIND_FLOWS 0x51
#define SF_KIND_CTRS 0x52
#define SF_KIND_DROPS 0x53

static const uint8_t sf_agent[4] = {10, 0, 0, 1};
static const uint8_t sf_v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a};
static const uint8_t sf_v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b};

/* Scratch builder for sampled packet headers (single-threaded tests). */
static struct nm_sb sf_pkt;

/* ---- datagram, sample and record writers ---- */

/* Starts a datagram from agent 10.0.0.1, sub-agent sub. */
static void sf_dgram_sub(struct nm_sft *t, uint32_t sub, uint32_t seq, uint32_t nsamples)
{
	nm_sb_init(&t->sb);
	nm_sb_sflow_hdr4(&t->sb, sf_agent, sub, seq, SF_UPTIME, nsamples);
}

static void sf_dgram(struct nm_sft *t, uint32_t seq, uint32_t nsamples)
{
	sf_dgram_sub(t, SF_SUB, seq, nsamples);
}

static enum nm_err sf_send(struct nm_sft *t)
{
	assert_false(t->sb.overflow);
	assert_int_equal(t->sb.depth, 0);
	return nm_sft_sflow(t);
}

/* Compact flow sample (format 1) up to its record count; close with nm_sb_end(). */
static void sf_flow_begin(struct nm_sb *b, uint32_t seq, uint32_t source_id, uint32_t rate,
			  uint32_t input, uint32_t output, uint32_t nrec)
{
	nm_sb_begin(b, 1);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, source_id);
	nm_sb_u32(b, rate);
	nm_sb_u32(b, seq * rate); /* sample pool */
	nm_sb_u32(b, 0);          /* drops */
	nm_sb_u32(b, input);
	nm_sb_u32(b, output);
	nm_sb_u32(b, nrec);
}

/* Expanded flow sample (format 3) up to its record count. */
static void sf_xflow_begin(struct nm_sb *b, uint32_t seq, uint32_t src_type, uint32_t src_index,
			   uint32_t rate, uint32_t in_fmt, uint32_t in_val, uint32_t out_fmt,
			   uint32_t out_val, uint32_t nrec)
{
	nm_sb_begin(b, 3);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, src_type);
	nm_sb_u32(b, src_index);
	nm_sb_u32(b, rate);
	nm_sb_u32(b, seq * rate);
	nm_sb_u32(b, 0);
	nm_sb_u32(b, in_fmt);
	nm_sb_u32(b, in_val);
	nm_sb_u32(b, out_fmt);
	nm_sb_u32(b, out_val);
	nm_sb_u32(b, nrec);
}

/* Discarded packet sample (format 5) up to its record count. */
static void sf_drop_begin(struct nm_sb *b, uint32_t seq, uint32_t src_type, uint32_t src_index,
			  uint32_t drops, uint32_t input, uint32_t output, uint32_t reason,
			  uint32_t nrec)
{
	nm_sb_begin(b, 5);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, src_type);
	nm_sb_u32(b, src_index);
	nm_sb_u32(b, drops);
	nm_sb_u32(b, input);
	nm_sb_u32(b, output);
	nm_sb_u32(b, reason);
	nm_sb_u32(b, nrec);
}

/* Counter sample, compact (format 2) or expanded (format 4), up to nrec. */
static void sf_ctr_begin(struct nm_sb *b, uint32_t seq, uint32_t source_id, uint32_t nrec)
{
	nm_sb_begin(b, 2);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, source_id);
	nm_sb_u32(b, nrec);
}

static void sf_xctr_begin(struct nm_sb *b, uint32_t seq, uint32_t src_type, uint32_t src_index,
			  uint32_t nrec)
{
	nm_sb_begin(b, 4);
	nm_sb_u32(b, seq);
	nm_sb_u32(b, src_type);
	nm_sb_u32(b, src_index);
	nm_sb_u32(b, nrec);
}

/* Flow record 1: sampled header. */
static void sf_rec_header(struct nm_sb *b, uint32_t proto, uint32_t frame_len, const void *hdr,
			  size_t n)
{
	nm_sb_begin(b, 1);
	nm_sb_u32(b, proto);
	nm_sb_u32(b, frame_len);
	nm_sb_u32(b, 4); /* stripped: the FCS */
	nm_sb_opaque(b, hdr, n);
	nm_sb_end(b);
}

/* Flow record 2: Ethernet frame data (MACs are opaque mac[6], padded to 8). */
static void sf_rec_eth(struct nm_sb *b, uint32_t len, uint64_t src, uint64_t dst, uint32_t type)
{
	nm_sb_begin(b, 2);
	nm_sb_u32(b, len);
	nm_sb_mac(b, src);
	nm_sb_zeros(b, 2);
	nm_sb_mac(b, dst);
	nm_sb_zeros(b, 2);
	nm_sb_u32(b, type);
	nm_sb_end(b);
}

/* Flow record 3: IPv4 data. */
static void sf_rec_ip4(struct nm_sb *b, uint32_t len, uint32_t proto, const uint8_t src[4],
		       const uint8_t dst[4], uint32_t sport, uint32_t dport, uint32_t flags,
		       uint32_t tos)
{
	nm_sb_begin(b, 3);
	nm_sb_u32(b, len);
	nm_sb_u32(b, proto);
	nm_sb_bytes(b, src, 4);
	nm_sb_bytes(b, dst, 4);
	nm_sb_u32(b, sport);
	nm_sb_u32(b, dport);
	nm_sb_u32(b, flags);
	nm_sb_u32(b, tos);
	nm_sb_end(b);
}

/* Flow record 1001: extended switch. */
static void sf_rec_switch(struct nm_sb *b, uint32_t svlan, uint32_t sprio, uint32_t dvlan,
			  uint32_t dprio)
{
	nm_sb_begin(b, 1001);
	nm_sb_u32(b, svlan);
	nm_sb_u32(b, sprio);
	nm_sb_u32(b, dvlan);
	nm_sb_u32(b, dprio);
	nm_sb_end(b);
}

/* Generic interface counters (counter record 1, 88 bytes), values from base. */
static void sf_ctr_generic(struct nm_sb *b, uint32_t if_index)
{
	nm_sb_begin(b, 1);
	nm_sb_u32(b, if_index);
	nm_sb_u32(b, 6);                /* ifType ethernetCsmacd */
	nm_sb_u64(b, 10000000000ull);   /* ifSpeed */
	nm_sb_u32(b, 1);                /* ifDirection full-duplex */
	nm_sb_u32(b, 3);                /* ifStatus admin up, oper up */
	nm_sb_u64(b, 0x123456789aull);  /* ifInOctets */
	for (uint32_t i = 0; i < 6; i++)
		nm_sb_u32(b, 1001 + i); /* in ucast, mcast, bcast, discards, errors, unknown */
	nm_sb_u64(b, 0x0fedcba987ull);  /* ifOutOctets */
	for (uint32_t i = 0; i < 5; i++)
		nm_sb_u32(b, 2001 + i); /* out ucast, mcast, bcast, discards, errors */
	nm_sb_u32(b, 1);                /* ifPromiscuousMode */
	nm_sb_end(b);
}

/* Ethernet interface counters (counter record 2, 52 bytes). */
static void sf_ctr_ethernet(struct nm_sb *b)
{
	nm_sb_begin(b, 2);
	for (uint32_t i = 0; i < 13; i++)
		nm_sb_u32(b, 3001 + i);
	nm_sb_end(b);
}

/* ---- sampled packets ---- */

#define SF_FRAME_LEN 1518u
static const uint8_t sf_ip_src[4] = {198, 51, 100, 10};
static const uint8_t sf_ip_dst[4] = {203, 0, 113, 20};

/* IPv4 header + TCP 40000 -> 443, flags PSH|ACK, tos 0x28, ttl 61. */
static void sf_ip4_tcp(struct nm_sb *p)
{
	struct nm_sb_ip4 h = {0};
	h.tos = 0x28;
	h.total = 1500;
	h.id = 0x1234;
	h.ttl = 61;
	h.proto = 6;
	memcpy(h.src, sf_ip_src, 4);
	memcpy(h.dst, sf_ip_dst, 4);
	nm_sb_ip4(p, &h);
	nm_sb_tcp(p, 40000, 443, 0x18);
}

/* Ethernet, 802.1Q VLAN 42, IPv4, TCP. */
static struct nm_sb *sf_frame_eth(void)
{
	nm_sb_init(&sf_pkt);
	nm_sb_eth(&sf_pkt, SF_DST_MAC, SF_SRC_MAC, 0x8100);
	nm_sb_vlan(&sf_pkt, 0x2000 | 42, 0x0800);
	sf_ip4_tcp(&sf_pkt);
	return &sf_pkt;
}

/* One datagram with one compact flow sample holding the records written by fn. */
static enum nm_err sf_one_flow(struct nm_sft *t, uint32_t nrec, void (*fn)(struct nm_sb *b))
{
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, nrec);
	fn(&t->sb);
	nm_sb_end(&t->sb);
	return sf_send(t);
}

/* Asserts the per-datagram and per-sample part of a compact flow record. */
static void sf_assert_base(const struct nm_flow *f)
{
	assert_int_equal(f->type, NM_FLOW_TYPE_SFLOW_5);
	assert_addr(&f->sampler_address, SF_AGENT_STR);
	assert_int_equal(f->sequence_num, 1);
	assert_int_equal(f->observation_domain_id, SF_SUB);
	assert_int_equal(f->exporter_port, 6343);
	assert_int_equal(f->time_received, NM_SFT_NOW_S);
	assert_int_equal(f->time_received_ns, NM_SFT_NOW_S * NM_SFT_NS + 250000000ull);
	assert_int_equal(f->time_flow_start_ns, f->time_received_ns);
	assert_int_equal(f->time_flow_end_ns, f->time_received_ns);
	assert_int_equal(f->time_flow_start, NM_SFT_NOW_S);
	assert_int_equal(f->time_flow_end, NM_SFT_NOW_S);
	assert_int_equal(f->sampling_rate, 1024);
	assert_int_equal(f->sampler_id, 7);
	assert_int_equal(f->packets, 1);
	assert_int_equal(f->in_if, 7);
	assert_int_equal(f->out_if, 9);
	assert_int_equal(f->drop_reason, 0);
}

/* Asserts the fields sf_frame_eth()'s IPv4/TCP part gives. */
static void sf_assert_ip4_tcp(const struct nm_flow *f)
{
	assert_int_equal(f->etype, 0x0800);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->src_port, 40000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->tcp_flags, 0x18);
	assert_int_equal(f->ip_tos, 0x28);
	assert_int_equal(f->ip_ttl, 61);
	assert_int_equal(f->fragment_id, 0x1234);
}

/* ---- flow record 1: sampled header ---- */

static void w_hdr_eth(struct nm_sb *b)
{
	struct nm_sb *p = sf_frame_eth();
	sf_rec_header(b, 1, SF_FRAME_LEN, p->buf, p->len);
}

static void test_rec_header_ethernet(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_hdr_eth), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	sf_assert_ip4_tcp(f);
	assert_int_equal(f->bytes, SF_FRAME_LEN);
	assert_int_equal(f->src_mac, SF_SRC_MAC);
	assert_int_equal(f->dst_mac, SF_DST_MAC);
	assert_int_equal(f->vlan_id, 42);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_HDR_TRUNCATED), 0);
	assert_int_equal(nm_decoder_stats(t->d)->records, 1);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams_ok, 1);
	assert_identity(t);
}

static void w_hdr_ip4(struct nm_sb *b)
{
	nm_sb_init(&sf_pkt);
	struct nm_sb_ip4 h = {0};
	h.tos = 0xb8;
	h.id = 7;
	h.ttl = 250;
	h.proto = 17;
	memcpy(h.src, sf_ip_src, 4);
	memcpy(h.dst, sf_ip_dst, 4);
	nm_sb_ip4(&sf_pkt, &h);
	nm_sb_udp(&sf_pkt, 5353, 53, 40);
	sf_rec_header(b, 11, 60, sf_pkt.buf, sf_pkt.len);
}

static void test_rec_header_ipv4(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_hdr_ip4), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	assert_int_equal(f->etype, 0x0800);
	assert_int_equal(f->bytes, 60);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->src_port, 5353);
	assert_int_equal(f->dst_port, 53);
	assert_int_equal(f->ip_tos, 0xb8);
	assert_int_equal(f->ip_ttl, 250);
	assert_int_equal(f->src_mac, 0);
	assert_int_equal(f->dst_mac, 0);
	assert_identity(t);
}

static void w_hdr_ip6(struct nm_sb *b)
{
	nm_sb_init(&sf_pkt);
	struct nm_sb_ip6 h = {0};
	h.tclass = 0x2e;
	h.flow = 0xabcde;
	h.plen = 20;
	h.nh = 6;
	h.hlim = 33;
	memcpy(h.src, sf_v6a, 16);
	memcpy(h.dst, sf_v6b, 16);
	nm_sb_ip6(&sf_pkt, &h);
	nm_sb_tcp(&sf_pkt, 22, 50000, 0x12);
	sf_rec_header(b, 12, 1280, sf_pkt.buf, sf_pkt.len);
}

static void test_rec_header_ipv6(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_hdr_ip6), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	assert_int_equal(f->etype, 0x86dd);
	assert_int_equal(f->bytes, 1280);
	assert_addr(&f->src_addr, "2001:db8::a");
	assert_addr(&f->dst_addr, "2001:db8:1::b");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->src_port, 22);
	assert_int_equal(f->dst_port, 50000);
	assert_int_equal(f->tcp_flags, 0x12);
	assert_int_equal(f->ip_tos, 0x2e);
	assert_int_equal(f->ipv6_flow_label, 0xabcde);
	assert_int_equal(f->ip_ttl, 33);
	assert_identity(t);
}

/* Header protocol 2 (ISO 8802-4 token bus): not parsed, counted, record kept. */
static void w_hdr_tokenbus(struct nm_sb *b)
{
	struct nm_sb *p = sf_frame_eth();
	sf_rec_header(b, 2, 300, p->buf, p->len);
}

static void test_rec_header_unsupported(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_hdr_tokenbus), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_HDR_UNSUPPORTED), 1);
	assert_int_equal(t->recs[0].bytes, 300);
	assert_int_equal(t->recs[0].etype, 0);
	assert_true(nm_addr_is_zero(&t->recs[0].src_addr));
	assert_identity(t);
}

/* A header cut inside TCP (agents cut at 128 bytes): counted, ports kept. */
static void w_hdr_cut(struct nm_sb *b)
{
	struct nm_sb *p = sf_frame_eth();
	sf_rec_header(b, 1, SF_FRAME_LEN, p->buf, 18 + 20 + 10);
}

static void test_rec_header_truncated(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_hdr_cut), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_HDR_TRUNCATED), 1);
	assert_int_equal(t->recs[0].src_port, 40000);
	assert_int_equal(t->recs[0].dst_port, 443);
	assert_int_equal(t->recs[0].tcp_flags, 0);
	assert_identity(t);
}

/* ---- flow records 2, 3, 4 ---- */

static void w_eth(struct nm_sb *b)
{
	sf_rec_eth(b, 1514, SF_SRC_MAC, SF_DST_MAC, 0x86dd);
}

static void test_rec_ethernet(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_eth), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	assert_int_equal(f->src_mac, SF_SRC_MAC);
	assert_int_equal(f->dst_mac, SF_DST_MAC);
	assert_int_equal(f->etype, 0x86dd);
	assert_int_equal(f->bytes, 1514);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_RECORD_TRUNCATED), 0);
	assert_identity(t);
}

static void w_ip4(struct nm_sb *b)
{
	sf_rec_ip4(b, 1400, 17, sf_ip_src, sf_ip_dst, 123, 4567, 0, 0x10);
}

static void test_rec_ipv4(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_ip4), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	assert_int_equal(f->etype, 0x0800);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->src_port, 123);
	assert_int_equal(f->dst_port, 4567);
	assert_int_equal(f->ip_tos, 0x10);
	assert_int_equal(f->bytes, 1400);
	assert_identity(t);
}

static void w_ip6(struct nm_sb *b)
{
	nm_sb_begin(b, 4);
	nm_sb_u32(b, 900);  /* length */
	nm_sb_u32(b, 6);    /* protocol */
	nm_sb_bytes(b, sf_v6a, 16);
	nm_sb_bytes(b, sf_v6b, 16);
	nm_sb_u32(b, 443);
	nm_sb_u32(b, 61000);
	nm_sb_u32(b, 0x11); /* FIN|ACK */
	nm_sb_u32(b, 5);    /* priority */
	nm_sb_end(b);
}

static void test_rec_ipv6(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_ip6), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	sf_assert_base(f);
	assert_int_equal(f->etype, 0x86dd);
	assert_addr(&f->src_addr, "2001:db8::a");
	assert_addr(&f->dst_addr, "2001:db8:1::b");
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->src_port, 443);
	assert_int_equal(f->dst_port, 61000);
	assert_int_equal(f->tcp_flags, 0x11);
	assert_int_equal(f->ip_tos, 5);
	assert_int_equal(f->bytes, 900);
	assert_identity(t);
}

/* A sampled header wins over the IPv4 record describing the same packet. */
static void w_hdr_then_ip4(struct nm_sb *b)
{
	w_hdr_eth(b);
	w_ip4(b);
}

static void test_rec_header_then_ipv4(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 2, w_hdr_then_ip4), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	sf_assert_ip4_tcp(&t->recs[0]);
	assert_int_equal(t->recs[0].bytes, SF_FRAME_LEN);
	assert_identity(t);
}

/*
 * Agents that send no sampled header describe the packet with an Ethernet
 * frame record (2) and an IPv4 record (3): both must be used. The Ethernet
 * record's type (0x0800) must not make the IPv4 record look like it repeats
 * a sampled header.
 */
static void w_eth_then_ip4(struct nm_sb *b)
{
	sf_rec_eth(b, 1418, SF_SRC_MAC, SF_DST_MAC, 0x0800);
	w_ip4(b);
}

static void test_rec_ethernet_then_ipv4(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 2, w_eth_then_ip4), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->src_mac, SF_SRC_MAC);
	assert_int_equal(f->etype, 0x0800);
	assert_int_equal(f->bytes, 1418);
	assert_addr(&f->src_addr, "198.51.100.10");
	assert_addr(&f->dst_addr, "203.0.113.20");
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->src_port, 123);
	assert_int_equal(f->dst_port, 4567);
	assert_identity(t);
}

/* ---- flow records 1001, 1002 ---- */

static void w_switch(struct nm_sb *b)
{
	sf_rec_switch(b, 100, 3, 200, 5);
}

static void test_rec_switch(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_switch), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(t->recs[0].dst_vlan, 200);
	assert_int_equal(t->recs[0].vlan_id, 100);
	assert_identity(t);
}

/* The sampled header's 802.1Q tag stays VlanId; the switch record fills Src/DstVlan. */
static void w_hdr_then_switch(struct nm_sb *b)
{
	w_hdr_eth(b);
	sf_rec_switch(b, 100, 0, 200, 0);
}

static void test_rec_switch_after_header(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 2, w_hdr_then_switch), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].vlan_id, 42);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(t->recs[0].dst_vlan, 200);
	assert_identity(t);
}

static void w_router4(struct nm_sb *b)
{
	nm_sb_begin(b, 1002);
	nm_sb_addr4(b, 192, 0, 2, 254);
	nm_sb_u32(b, 24);
	nm_sb_u32(b, 16);
	nm_sb_end(b);
}

static void test_rec_router_v4(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_router4), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].next_hop, "192.0.2.254");
	assert_int_equal(t->recs[0].src_net, 24);
	assert_int_equal(t->recs[0].dst_net, 16);
	assert_identity(t);
}

static void w_router6(struct nm_sb *b)
{
	nm_sb_begin(b, 1002);
	nm_sb_addr6(b, sf_v6b);
	nm_sb_u32(b, 48);
	nm_sb_u32(b, 64);
	nm_sb_end(b);
}

static void test_rec_router_v6(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_router6), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].next_hop, "2001:db8:1::b");
	assert_int_equal(t->recs[0].src_net, 48);
	assert_int_equal(t->recs[0].dst_net, 64);
	assert_identity(t);
}

/* ---- flow record 1003: extended gateway ---- */

/* Gateway record: next hop, router AS 64500, source AS 64496, source peer
 * AS 64497, then segments, communities and local preference. */
static void sf_gw_begin(struct nm_sb *b)
{
	nm_sb_begin(b, 1003);
	nm_sb_addr4(b, 192, 0, 2, 77);
	nm_sb_u32(b, 64500);
	nm_sb_u32(b, 64496);
	nm_sb_u32(b, 64497);
}

static void sf_gw_segment(struct nm_sb *b, uint32_t type, uint32_t first, uint32_t n)
{
	nm_sb_u32(b, type);
	nm_sb_u32(b, n);
	for (uint32_t i = 0; i < n; i++)
		nm_sb_u32(b, first + i);
}

static void sf_gw_end(struct nm_sb *b, uint32_t first_community, uint32_t ncom, uint32_t pref)
{
	nm_sb_u32(b, ncom);
	for (uint32_t i = 0; i < ncom; i++)
		nm_sb_u32(b, first_community + i);
	nm_sb_u32(b, pref);
	nm_sb_end(b);
}

/* AS_SEQUENCE 65010 65011 65012, then AS_SET {65100, 65101}. */
static void w_gateway(struct nm_sb *b)
{
	sf_gw_begin(b);
	nm_sb_u32(b, 2); /* segments */
	sf_gw_segment(b, 2, 65010, 3);
	sf_gw_segment(b, 1, 65100, 2);
	sf_gw_end(b, 0xfde80001, 3, 250);
}

static void test_rec_gateway(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_gateway), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_addr(&f->bgp_next_hop, "192.0.2.77");
	assert_int_equal(f->src_as, 64496);
	assert_int_equal(f->next_hop_as, 65010);
	assert_int_equal(f->dst_as, 65101);
	assert_int_equal(f->as_path_len, 5);
	static const uint32_t path[5] = {65010, 65011, 65012, 65100, 65101};
	for (int i = 0; i < 5; i++)
		assert_int_equal(f->as_path[i], path[i]);
	assert_int_equal(f->communities_len, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(f->communities[i], 0xfde80001 + i);
	assert_int_equal(f->bgp_local_pref, 250);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_PATH_CUT), 0);
	assert_identity(t);
}

/* An empty AS path: the destination is in the router's own AS. */
static void w_gateway_empty(struct nm_sb *b)
{
	sf_gw_begin(b);
	nm_sb_u32(b, 0);
	sf_gw_end(b, 0, 0, 100);
}

static void test_rec_gateway_empty_path(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_gateway_empty), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->dst_as, 64500);
	assert_int_equal(f->next_hop_as, 0);
	assert_int_equal(f->as_path_len, 0);
	assert_int_equal(f->communities_len, 0);
	assert_int_equal(f->bgp_local_pref, 100);
	assert_identity(t);
}

static void w_gateway_v6(struct nm_sb *b)
{
	nm_sb_begin(b, 1003);
	nm_sb_addr6(b, sf_v6a);
	nm_sb_u32(b, 64500);
	nm_sb_u32(b, 64496);
	nm_sb_u32(b, 64497);
	nm_sb_u32(b, 1);
	sf_gw_segment(b, 2, 4200000000u, 1);
	sf_gw_end(b, 7, 1, 5);
}

static void test_rec_gateway_v6_next_hop(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_gateway_v6), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].bgp_next_hop, "2001:db8::a");
	assert_int_equal(t->recs[0].dst_as, 4200000000u);
	assert_int_equal(t->recs[0].next_hop_as, 4200000000u);
	assert_identity(t);
}

/* 7 + 6 ASes and 12 communities: the first 10 of each are kept, one event. */
static void w_gateway_long(struct nm_sb *b)
{
	sf_gw_begin(b);
	nm_sb_u32(b, 2);
	sf_gw_segment(b, 2, 65000, 7);
	sf_gw_segment(b, 2, 65007, 6);
	sf_gw_end(b, 0x10000, 12, 10);
}

static void test_rec_gateway_cut(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_gateway_long), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->as_path_len, NM_AS_PATH_MAX);
	for (uint32_t i = 0; i < NM_AS_PATH_MAX; i++)
		assert_int_equal(f->as_path[i], 65000 + i);
	/* DstAS is the origin AS, the real last one, not the last kept. */
	assert_int_equal(f->dst_as, 65012);
	assert_int_equal(f->next_hop_as, 65000);
	assert_int_equal(f->communities_len, NM_COMMUNITIES_MAX);
	for (uint32_t i = 0; i < NM_COMMUNITIES_MAX; i++)
		assert_int_equal(f->communities[i], 0x10000 + i);
	assert_int_equal(f->bgp_local_pref, 10);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_PATH_CUT), 1);
	assert_identity(t);
}

/* Exactly 10 ASes and 10 communities fit: no event. 11 communities alone: one. */
static void w_gateway_ten(struct nm_sb *b)
{
	sf_gw_begin(b);
	nm_sb_u32(b, 1);
	sf_gw_segment(b, 2, 65000, 10);
	sf_gw_end(b, 1, 10, 0);
}

static void w_gateway_com11(struct nm_sb *b)
{
	sf_gw_begin(b);
	nm_sb_u32(b, 1);
	sf_gw_segment(b, 2, 65000, 1);
	sf_gw_end(b, 1, 11, 0);
}

static void test_rec_gateway_cut_bounds(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_gateway_ten), NM_ERR_OK);
	assert_int_equal(t->recs[0].as_path_len, 10);
	assert_int_equal(t->recs[0].communities_len, 10);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_PATH_CUT), 0);
	assert_int_equal(sf_one_flow(t, 1, w_gateway_com11), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_int_equal(t->recs[1].as_path_len, 1);
	assert_int_equal(t->recs[1].communities_len, 10);
	assert_int_equal(t->recs[1].communities[9], 10);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_PATH_CUT), 1);
	assert_identity(t);
}

/* ---- flow records 1006, 1007 ---- */

static void w_mpls(struct nm_sb *b)
{
	nm_sb_begin(b, 1006);
	nm_sb_addr4(b, 192, 0, 2, 9);
	nm_sb_u32(b, 3); /* in stack */
	nm_sb_u32(b, 1000u << 12 | 64);
	nm_sb_u32(b, 2000u << 12 | 63);
	nm_sb_u32(b, 3000u << 12 | 0x100 | 62);
	nm_sb_u32(b, 1); /* out stack */
	nm_sb_u32(b, 4000u << 12 | 0x100 | 61);
	nm_sb_end(b);
}

static void test_rec_mpls(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_mpls), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_addr(&f->next_hop, "192.0.2.9");
	assert_int_equal(f->has_mpls, 1);
	assert_int_equal(f->mpls_count, 3);
	assert_int_equal(f->mpls1_label, 1000);
	assert_int_equal(f->mpls1_ttl, 64);
	assert_int_equal(f->mpls2_label, 2000);
	assert_int_equal(f->mpls2_ttl, 63);
	assert_int_equal(f->mpls3_label, 3000);
	assert_int_equal(f->mpls3_ttl, 62);
	assert_int_equal(f->mpls_last_label, 3000);
	assert_int_equal(f->mpls_last_ttl, 62);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_RECORD_TRUNCATED), 0);
	assert_identity(t);
}

/* The stack in the sampled header wins over the MPLS record's. */
static void w_hdr_mpls_then_mpls(struct nm_sb *b)
{
	nm_sb_init(&sf_pkt);
	nm_sb_eth(&sf_pkt, SF_DST_MAC, SF_SRC_MAC, 0x8847);
	nm_sb_mpls(&sf_pkt, 555, 0, true, 9);
	sf_ip4_tcp(&sf_pkt);
	sf_rec_header(b, 1, 200, sf_pkt.buf, sf_pkt.len);
	w_mpls(b);
}

static void test_rec_mpls_after_header(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 2, w_hdr_mpls_then_mpls), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->mpls_count, 1);
	assert_int_equal(f->mpls1_label, 555);
	assert_int_equal(f->mpls_last_label, 555);
	assert_int_equal(f->mpls_last_ttl, 9);
	sf_assert_ip4_tcp(f);
	assert_identity(t);
}

static void w_nat(struct nm_sb *b)
{
	nm_sb_begin(b, 1007);
	nm_sb_addr4(b, 100, 64, 0, 1);
	nm_sb_addr6(b, sf_v6b);
	nm_sb_end(b);
}

static void test_rec_nat(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 1, w_nat), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].post_nat_src_addr, "100.64.0.1");
	assert_addr(&t->recs[0].post_nat_dst_addr, "2001:db8:1::b");
	assert_identity(t);
}

/* ---- sample types ---- */

/* Several records and samples in one datagram: one flow record per sample. */
static void test_sample_flow_compact(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 3);
	w_hdr_eth(&t->sb);
	w_switch(&t->sb);
	w_gateway(&t->sb);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 2, 7, 1024, 7, 9, 1);
	w_router4(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	sf_assert_base(&t->recs[0]);
	sf_assert_ip4_tcp(&t->recs[0]);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(t->recs[0].dst_as, 65101);
	sf_assert_base(&t->recs[1]);
	assert_addr(&t->recs[1].next_hop, "192.0.2.254");
	/* Records of one sample do not leak into the next. */
	assert_true(nm_addr_is_zero(&t->recs[1].src_addr));
	assert_int_equal(t->recs[1].as_path_len, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 2);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_identity(t);
}

/* A compact source ID carries the type in its top 8 bits (sFlow v5 5.2);
 * SamplerId keeps type << 32 | index, the same for compact and expanded. */
static void test_sample_flow_source_type(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 2u << 24 | 17, 0, 3, 4, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_true(t->recs[0].sampler_id == (2ull << 32 | 17));
	assert_int_equal(t->recs[0].sampling_rate, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_RATE_UNKNOWN), 1);
	assert_identity(t);
}

static void test_sample_flow_expanded(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_xflow_begin(&t->sb, 1, 0, 7, 1024, 0, 7, 0, 9, 1);
	w_hdr_eth(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	sf_assert_base(&t->recs[0]);
	sf_assert_ip4_tcp(&t->recs[0]);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 1);
	assert_identity(t);
}

/* Expanded samples exist for indexes of 2^24 and above: they are kept whole. */
static void test_sample_flow_expanded_large_index(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_xflow_begin(&t->sb, 1, 0, 436207616u, 2048, 0, 436207616u, 0, 436211712u, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].in_if, 436207616u);
	assert_int_equal(t->recs[0].out_if, 436211712u);
	assert_int_equal(t->recs[0].sampling_rate, 2048);
	assert_int_equal(t->recs[0].sampler_id & 0xffffffffu, 436207616u);
	assert_identity(t);
}

static void sf_assert_ctr(const struct nm_ctr *c, uint32_t seq, uint32_t source_id)
{
	assert_addr(&c->agent, SF_AGENT_STR);
	assert_int_equal(c->sub_agent_id, SF_SUB);
	assert_int_equal(c->sequence_num, 1);
	assert_int_equal(c->sample_sequence_num, seq);
	assert_int_equal(c->source_id, source_id);
	assert_int_equal(c->time_received, NM_SFT_NOW_S);
	assert_int_equal(c->time_received_ns, NM_SFT_NOW_S * NM_SFT_NS + 250000000ull);
	assert_int_equal(c->has_generic, 1);
	assert_int_equal(c->has_ethernet, 1);
	assert_int_equal(c->if_index, 5);
	assert_int_equal(c->if_type, 6);
	assert_int_equal(c->if_speed, 10000000000ull);
	assert_int_equal(c->if_direction, 1);
	assert_int_equal(c->if_status, 3);
	assert_int_equal(c->in_octets, 0x123456789aull);
	assert_int_equal(c->in_ucast_pkts, 1001);
	assert_int_equal(c->in_multicast_pkts, 1002);
	assert_int_equal(c->in_broadcast_pkts, 1003);
	assert_int_equal(c->in_discards, 1004);
	assert_int_equal(c->in_errors, 1005);
	assert_int_equal(c->in_unknown_protos, 1006);
	assert_int_equal(c->out_octets, 0x0fedcba987ull);
	assert_int_equal(c->out_ucast_pkts, 2001);
	assert_int_equal(c->out_multicast_pkts, 2002);
	assert_int_equal(c->out_broadcast_pkts, 2003);
	assert_int_equal(c->out_discards, 2004);
	assert_int_equal(c->out_errors, 2005);
	assert_int_equal(c->promiscuous_mode, 1);
	for (uint32_t i = 0; i < 13; i++)
		assert_int_equal(c->dot3[i], 3001 + i);
}

static void test_sample_counters(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_ctr_begin(&t->sb, 77, 5, 2);
	sf_ctr_generic(&t->sb, 5);
	sf_ctr_ethernet(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 0);
	assert_int_equal(t->cb.n, 1);
	sf_assert_ctr(&t->ctrs[0], 77, 5);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 1);
	assert_int_equal(nm_decoder_stats(t->d)->records, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_COUNTER_SAMPLES), 1);
	assert_identity(t);
}

static void test_sample_counters_expanded(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_xctr_begin(&t->sb, 78, 0, 5, 2);
	sf_ctr_ethernet(&t->sb); /* order does not matter */
	sf_ctr_generic(&t->sb, 5);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->cb.n, 1);
	sf_assert_ctr(&t->ctrs[0], 78, 5);
	assert_identity(t);
}

/* Ethernet counters alone: IfIndex from the source ID. */
static void test_sample_counters_ethernet_only(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_ctr_begin(&t->sb, 1, 12, 1);
	sf_ctr_ethernet(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->cb.n, 1);
	assert_int_equal(t->ctrs[0].if_index, 12);
	assert_int_equal(t->ctrs[0].has_generic, 0);
	assert_int_equal(t->ctrs[0].has_ethernet, 1);
	assert_int_equal(t->ctrs[0].dot3[12], 3013);
	assert_int_equal(t->ctrs[0].in_octets, 0);
	assert_identity(t);
}

/* Host and processor counters only (hsflowd): no interface record. */
static void test_sample_counters_no_if(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_ctr_begin(&t->sb, 1, 2u << 24 | 1, 2);
	nm_sb_begin(&t->sb, 1001); /* processor */
	nm_sb_u32(&t->sb, 5);
	nm_sb_u32(&t->sb, 6);
	nm_sb_u32(&t->sb, 7);
	nm_sb_u64(&t->sb, 1ull << 34);
	nm_sb_u64(&t->sb, 1ull << 33);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 2003); /* host CPU */
	nm_sb_zeros(&t->sb, 80);
	nm_sb_end(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->cb.n, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_COUNTERS_NO_IF), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_COUNTER_SAMPLES), 1);
	assert_int_equal(nm_sft_err(t, NM_ERR_CTR_BATCH_FULL), 0);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 0);
	assert_identity(t);
}

/* Discarded packet: one record, DropReason, interfaces as sent, rate 1. */
static void test_sample_drop(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_drop_begin(&t->sb, 9, 0, 12, 5, 12, 0, 258 /* acl */, 1);
	w_hdr_eth(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->type, NM_FLOW_TYPE_SFLOW_5);
	assert_int_equal(f->drop_reason, 258);
	assert_int_equal(f->in_if, 12);
	assert_int_equal(f->out_if, 0);
	assert_int_equal(f->sampling_rate, 1);
	assert_int_equal(f->packets, 1);
	assert_int_equal(f->sampler_id, 12);
	assert_int_equal(f->bytes, SF_FRAME_LEN);
	sf_assert_ip4_tcp(f);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_DROP_SAMPLES), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_RATE_UNKNOWN), 0);
	assert_identity(t);
}

/*
 * A configured rate per agent (nm_decoder_set_static_rate, keyed by the agent
 * address, not the datagram's source) fills in where a flow sample says 0 and
 * with override replaces what it says; drop samples stay at 1. With one
 * exporter slot, the first sample's sequence entry takes the agent entry's
 * slot: the later samples of the datagram still get the agent's rate.
 */
static void test_sample_static_rate(void **state)
{
	(void)state;
	static const uint8_t other[4] = {10, 0, 0, 2};
	struct nm_decode_cfg cfg;
	nm_decode_cfg_default(&cfg);
	cfg.max_exporters = 1;
	cfg.max_templates = 4;
	struct nm_sft *t = nm_sft_new_cfg(&cfg);
	assert_non_null(t);
	struct nm_addr a1, a2;
	nm_addr_set_v4(&a1, sf_agent);
	nm_addr_set_v4(&a2, other);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a1, 1ull << 33, false), 0);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a2, 512, true), 0);

	sf_dgram(t, 1, 4);
	sf_flow_begin(&t->sb, 1, 7, 0, 7, 9, 1); /* says 0: filled in */
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 1, 8, 0, 8, 9, 1); /* after the agent entry went */
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 2, 7, 1024, 7, 9, 1); /* says 1024: kept */
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_drop_begin(&t->sb, 1, 0, 12, 5, 12, 0, 258, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 4);
	assert_true(t->recs[0].sampling_rate == 1ull << 33);
	assert_true(t->recs[1].sampling_rate == 1ull << 33);
	assert_int_equal(t->recs[2].sampling_rate, 1024);
	assert_int_equal(t->recs[3].sampling_rate, 1);
	assert_true(nm_sft_ev(t, NM_EV_EXPORTER_EVICTED) >= 2);

	nm_sb_init(&t->sb); /* override: replaces the stated 1024, and fills in */
	nm_sb_sflow_hdr4(&t->sb, other, SF_SUB, 1, SF_UPTIME, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 2, 7, 0, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 6);
	assert_int_equal(t->recs[4].sampling_rate, 512);
	assert_int_equal(t->recs[5].sampling_rate, 512);
	assert_int_equal(nm_sft_ev(t, NM_EV_RATE_UNKNOWN), 0);
	assert_identity(t);
	nm_sft_free(t);
}

/* ---- interface formats (compact: 2-bit format, 30-bit value) ---- */

static void test_if_discarded(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 100, 7, SF_IF_DISCARD(259), 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_xflow_begin(&t->sb, 2, 0, 7, 100, 0, 7, 1, 257, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_int_equal(t->recs[0].drop_reason, 259);
	assert_int_equal(t->recs[0].out_if, 0);
	assert_int_equal(t->recs[0].in_if, 7);
	assert_int_equal(t->recs[1].drop_reason, 257);
	assert_int_equal(t->recs[1].out_if, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_MULTI_OUTPUT), 0);
	assert_identity(t);
}

static void test_if_multiple(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 100, 7, SF_IF_MULTI(4), 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_xflow_begin(&t->sb, 2, 0, 7, 100, 0, 7, 2, 6, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(t->recs[i].out_if, 0);
		assert_int_equal(t->recs[i].drop_reason, 0);
		assert_int_equal(t->recs[i].in_if, 7);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_MULTI_OUTPUT), 2);
	assert_identity(t);
}

/* 0x3FFFFFFF: the packet went to the device itself; kept as OutIf. */
static void test_if_local(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 100, 7, SF_IF_LOCAL, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].out_if, SF_IF_LOCAL);
	assert_int_equal(t->recs[0].drop_reason, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_MULTI_OUTPUT), 0);
	assert_identity(t);
}

/* ---- datagram level ---- */

struct sf_find {
	uint8_t kind;
	uint32_t domain;
	uint32_t sub;
	bool any_domain;
	unsigned found;
	struct nm_exporter_info e;
};

static int sf_find_cb(const struct nm_exporter_info *e, void *ctx)
{
	struct sf_find *q = ctx;
	if (e->kind == q->kind && e->sub_agent == q->sub && (q->any_domain || e->domain == q->domain)) {
		q->found++;
		q->e = *e;
	}
	return 0;
}

/* The one exporter entry of (kind, sub-agent, source ID); fails if not exactly one. */
static struct nm_exporter_info sf_exporter(const struct nm_sft *t, uint8_t kind, uint32_t sub,
					   uint32_t domain)
{
	struct sf_find q;
	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.sub = sub;
	q.domain = domain;
	nm_decoder_exporter_foreach(t->d, sf_find_cb, &q);
	assert_int_equal(q.found, 1);
	return q.e;
}

static unsigned sf_exporters_of(const struct nm_sft *t, uint8_t kind)
{
	unsigned n = 0;
	for (uint32_t sub = 0; sub < 8; sub++) {
		struct sf_find q;
		memset(&q, 0, sizeof(q));
		q.kind = kind;
		q.sub = sub;
		q.any_domain = true;
		nm_decoder_exporter_foreach(t->d, sf_find_cb, &q);
		n += q.found;
	}
	return n;
}

static void test_agent_ipv6(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	nm_sb_init(&t->sb);
	nm_sb_sflow_hdr6(&t->sb, sf_v6a, SF_SUB, 1, SF_UPTIME, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_hdr_eth(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].sampler_address, "2001:db8::a");
	sf_assert_ip4_tcp(&t->recs[0]);
	struct nm_exporter_info e = sf_exporter(t, SF_KIND_DGRAM, SF_SUB, 0);
	assert_addr(&e.addr, "2001:db8::a");
	assert_int_equal(e.port, 0);
	assert_identity(t);
}

/* Bytes after the declared samples: accepted and counted. */
static void test_trailing_bytes(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	nm_sb_u32(&t->sb, 0xdeadbeef);
	nm_sb_u32(&t->sb, 0);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_TRAILING_BYTES), 1);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams_ok, 1);
	/* None after an exact datagram. */
	sf_dgram(t, 2, 0);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_TRAILING_BYTES), 1);
	assert_identity(t);
}

/* Unknown sample formats and enterprise samples are skipped by their length. */
static void test_unknown_samples_skipped(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 4);
	nm_sb_begin(&t->sb, 9); /* unknown standard format */
	nm_sb_zeros(&t->sb, 20);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 4300u << 12 | 1); /* enterprise 4300, format 1: looks like a flow sample */
	sf_flow_begin(&t->sb, 1, 7, 1, 1, 1, 0);
	nm_sb_end(&t->sb);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1u << 12 | 2); /* enterprise 1, format 2 */
	nm_sb_u32(&t->sb, 1);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->cb.n, 0);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_UNKNOWN_SAMPLES), 3);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_COUNTER_SAMPLES), 0);
	assert_identity(t);
}

/* Unknown record formats and enterprise records are skipped by their length. */
static void w_unknown_records(struct nm_sb *b)
{
	nm_sb_begin(b, 1999); /* unknown standard record */
	nm_sb_zeros(b, 12);
	nm_sb_end(b);
	nm_sb_begin(b, 8800u << 12 | 1001); /* enterprise record shaped like 1001 */
	nm_sb_u32(b, 999);
	nm_sb_u32(b, 0);
	nm_sb_u32(b, 999);
	nm_sb_u32(b, 0);
	nm_sb_end(b);
	nm_sb_begin(b, 1u << 12 | 1); /* enterprise 1, format 1 (not a sampled header) */
	nm_sb_u32(b, 1);
	nm_sb_end(b);
	w_switch(b);
	w_hdr_eth(b);
}

static void test_unknown_records_skipped(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	assert_int_equal(sf_one_flow(t, 5, w_unknown_records), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(t->recs[0].dst_vlan, 200);
	sf_assert_ip4_tcp(&t->recs[0]);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_UNKNOWN_RECORDS), 3);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_RECORD_LENGTH), 0);
	assert_identity(t);
}

/* Unknown counter records beside interface counters do not disturb them. */
static void test_unknown_counter_records_skipped(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_ctr_begin(&t->sb, 77, 5, 4);
	nm_sb_begin(&t->sb, 1005); /* unknown standard counter record */
	nm_sb_zeros(&t->sb, 8);
	nm_sb_end(&t->sb);
	sf_ctr_generic(&t->sb, 5);
	nm_sb_begin(&t->sb, 4413u << 12 | 1); /* enterprise record with format 1 */
	nm_sb_u32(&t->sb, 0xffffffff);
	nm_sb_end(&t->sb);
	sf_ctr_ethernet(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(t->cb.n, 1);
	sf_assert_ctr(&t->ctrs[0], 77, 5);
	assert_identity(t);
}

/* ---- one test per decode error ---- */

/* Asserts one fatal error: returned, counted once, no record, identity. */
static void sf_assert_fatal(struct nm_sft *t, enum nm_err got, enum nm_err want)
{
	assert_true(nm_err_is_fatal(want));
	assert_int_equal(got, want);
	assert_int_equal(nm_sft_err(t, want), 1);
	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->datagrams, 1);
	assert_int_equal(s->datagrams_ok, 0);
	assert_int_equal(s->datagrams, s->datagrams_ok + nm_sft_fatal(t->d));
	assert_identity(t);
}

/* Asserts a non-fatal error: the datagram decodes, the error is counted n times. */
static void sf_assert_nonfatal(struct nm_sft *t, enum nm_err got, enum nm_err want, uint64_t n)
{
	assert_false(nm_err_is_fatal(want));
	assert_int_equal(got, NM_ERR_OK);
	assert_int_equal(nm_sft_err(t, want), n);
	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->datagrams, s->datagrams_ok);
	assert_int_equal(nm_sft_fatal(t->d), 0);
	assert_identity(t);
}

static void test_err_short_header(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	nm_sb_init(&t->sb);
	nm_sb_u16(&t->sb, 0);
	nm_sb_u8(&t->sb, 5);
	sf_assert_fatal(t, sf_send(t), NM_ERR_SHORT_HEADER);
	/* Cut after the agent address: still short. */
	sf_dgram(t, 1, 0);
	t->sb.len = 4 + 4 + 4 + 4;
	assert_int_equal(sf_send(t), NM_ERR_SHORT_HEADER);
	/* Cut inside the IPv6 agent address. */
	nm_sb_init(&t->sb);
	nm_sb_sflow_hdr6(&t->sb, sf_v6a, 0, 1, 1, 0);
	t->sb.len = 8 + 10;
	assert_int_equal(sf_send(t), NM_ERR_SHORT_HEADER);
	assert_int_equal(nm_sft_err(t, NM_ERR_SHORT_HEADER), 3);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams, 3);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
	assert_identity(t);
}

static void test_err_bad_version(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 0);
	nm_sb_patch_u32(&t->sb, 0, 4); /* sFlow v4 */
	sf_assert_fatal(t, sf_send(t), NM_ERR_BAD_VERSION);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
}

static void test_err_bad_agent_type(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 0);
	nm_sb_patch_u32(&t->sb, 4, 3);
	sf_assert_fatal(t, sf_send(t), NM_ERR_SFLOW_BAD_AGENT_TYPE);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
}

static void test_err_sample_count(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1000);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_fatal(t, sf_send(t), NM_ERR_SFLOW_SAMPLE_COUNT);
	assert_int_equal(t->b.n, 0);
	/* A count that overflows 32 bits when multiplied must not pass either. */
	sf_dgram(t, 2, 0x20000001u);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 0);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_SFLOW_SAMPLE_COUNT);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_SAMPLE_COUNT), 2);
	assert_identity(t);
}

/* A sample length beyond the datagram: rejected, earlier samples' records stay. */
static void test_err_sample_length(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	size_t at = t->sb.len;
	sf_flow_begin(&t->sb, 2, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	nm_sb_patch_u32(&t->sb, at + 4, 1000);
	sf_assert_fatal(t, sf_send(t), NM_ERR_SFLOW_SAMPLE_LENGTH);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	/* A sample header itself cut short is the same error. */
	sf_dgram(t, 2, 2);
	sf_flow_begin(&t->sb, 3, 7, 1024, 7, 9, 0);
	nm_sb_end(&t->sb);
	nm_sb_u32(&t->sb, 1); /* format, no length */
	nm_sb_u32(&t->sb, 0);
	t->sb.len -= 4;
	assert_int_equal(sf_send(t), NM_ERR_SFLOW_SAMPLE_LENGTH);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_SAMPLE_LENGTH), 2);
	assert_identity(t);
}

/* Samples shorter than their fixed fields: each skipped, counted, no record. */
static void test_err_sample_truncated(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 5);
	nm_sb_begin(&t->sb, 1); /* compact flow: 20 of 28 fixed bytes */
	nm_sb_zeros(&t->sb, 20);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 3); /* expanded flow: 36 of 40 */
	nm_sb_zeros(&t->sb, 36);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 2); /* counters: seq and source, no record count */
	nm_sb_zeros(&t->sb, 8);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 5); /* discarded packet: 24 of 28 */
	nm_sb_zeros(&t->sb, 24);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1); /* a good one after them */
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_SAMPLE_TRUNCATED, 4);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(t->cb.n, 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_DROP_SAMPLES), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_COUNTER_SAMPLES), 0);
}

/*
 * The record count is part of every sample's fixed fields (XDR array
 * length): a flow or drop sample that ends before it is truncated like a
 * counter sample that does, not a record-count error, and yields no record.
 */
static void test_err_sample_truncated_no_count(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 3);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 0);
	t->sb.len -= 4; /* drop the record count */
	nm_sb_end(&t->sb);
	sf_xflow_begin(&t->sb, 1, 0, 7, 1024, 0, 7, 0, 9, 0);
	t->sb.len -= 4;
	nm_sb_end(&t->sb);
	sf_drop_begin(&t->sb, 1, 0, 7, 1, 7, 0, 258, 0);
	t->sb.len -= 4;
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_SAMPLE_TRUNCATED, 3);
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_RECORD_COUNT), 0);
	assert_int_equal(t->b.n, 0);
}

static void test_err_record_count(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 100);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_ctr_begin(&t->sb, 1, 5, 50);
	sf_ctr_ethernet(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_RECORD_COUNT, 2);
	/* None of the records of a sample with an impossible count is used. */
	assert_int_equal(t->cb.n, 0);
	for (uint32_t i = 0; i < t->b.n; i++)
		assert_int_equal(t->recs[i].src_vlan, 0);
}

/* A record length beyond its sample: that record and the rest are skipped. */
static void test_err_record_length(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 2);
	w_router4(&t->sb);
	size_t at = t->sb.len;
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	nm_sb_patch_u32(&t->sb, at + 4, 17);
	sf_ctr_begin(&t->sb, 1, 5, 2);
	sf_ctr_ethernet(&t->sb);
	at = t->sb.len;
	sf_ctr_generic(&t->sb, 5);
	nm_sb_end(&t->sb);
	nm_sb_patch_u32(&t->sb, at + 4, 92);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_RECORD_LENGTH, 2);
	/* The flow record keeps what came before the bad record. */
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].next_hop, "192.0.2.254");
	assert_int_equal(t->recs[0].src_vlan, 0);
	/* The counter record keeps the Ethernet counters. */
	assert_int_equal(t->cb.n, 1);
	assert_int_equal(t->ctrs[0].has_ethernet, 1);
	assert_int_equal(t->ctrs[0].has_generic, 0);
}

/* Records shorter than their fixed fields: skipped, counted, the next decoded. */
static void test_err_record_truncated(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 9);
	nm_sb_begin(&t->sb, 1001); /* 8 of 16 bytes */
	nm_sb_u32(&t->sb, 100);
	nm_sb_u32(&t->sb, 0);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1); /* sampled header: 12 of 16 fixed bytes */
	nm_sb_zeros(&t->sb, 12);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 2); /* Ethernet: 20 of 24 */
	nm_sb_zeros(&t->sb, 20);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 3); /* IPv4: 28 of 32 */
	nm_sb_zeros(&t->sb, 28);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 4); /* IPv6: 52 of 56 */
	nm_sb_zeros(&t->sb, 52);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1002); /* router: address only */
	nm_sb_addr4(&t->sb, 192, 0, 2, 1);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1003); /* gateway: cut inside the AS path */
	nm_sb_addr4(&t->sb, 192, 0, 2, 1);
	nm_sb_u32(&t->sb, 1);
	nm_sb_u32(&t->sb, 2);
	nm_sb_u32(&t->sb, 3);
	nm_sb_u32(&t->sb, 1); /* one segment */
	nm_sb_u32(&t->sb, 2);
	nm_sb_u32(&t->sb, 5); /* of 5 ASes, 1 present */
	nm_sb_u32(&t->sb, 65000);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1007); /* NAT: one address */
	nm_sb_addr4(&t->sb, 192, 0, 2, 1);
	nm_sb_end(&t->sb);
	w_router4(&t->sb);
	nm_sb_end(&t->sb);
	sf_ctr_begin(&t->sb, 1, 5, 2);
	nm_sb_begin(&t->sb, 1); /* generic: 40 of 88 */
	nm_sb_zeros(&t->sb, 40);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 2); /* Ethernet: 48 of 52 */
	nm_sb_zeros(&t->sb, 48);
	nm_sb_end(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_RECORD_TRUNCATED, 10);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].next_hop, "192.0.2.254");
	assert_int_equal(t->recs[0].src_vlan, 0);
	assert_int_equal(t->cb.n, 0);
}

/*
 * A truncated record is skipped (decode_err.h): it leaves nothing behind.
 * Records 2, 3, 4 and 1001 read all their fields before writing any; 1002,
 * 1003, 1007 and the generic counter record must behave the same, so a cut
 * generic record does not replace the IfIndex taken from the source ID.
 */
static void test_err_record_truncated_no_side_effects(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 2);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 3);
	nm_sb_begin(&t->sb, 1002); /* router: next hop, then cut */
	nm_sb_addr4(&t->sb, 192, 0, 2, 1);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1003); /* gateway: cut inside the AS path */
	nm_sb_addr4(&t->sb, 192, 0, 2, 1);
	nm_sb_u32(&t->sb, 64500);
	nm_sb_u32(&t->sb, 64496);
	nm_sb_u32(&t->sb, 64497);
	nm_sb_u32(&t->sb, 1);
	nm_sb_u32(&t->sb, 2);
	nm_sb_u32(&t->sb, 5);
	nm_sb_u32(&t->sb, 65000);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1007); /* NAT: source address only */
	nm_sb_addr4(&t->sb, 100, 64, 0, 1);
	nm_sb_end(&t->sb);
	nm_sb_end(&t->sb);
	sf_ctr_begin(&t->sb, 1, 5, 2);
	nm_sb_begin(&t->sb, 1); /* generic: ifIndex 99, type, speed, then cut at 40 of 88 */
	nm_sb_u32(&t->sb, 99);
	nm_sb_u32(&t->sb, 6);
	nm_sb_u64(&t->sb, 1000000000ull);
	nm_sb_u32(&t->sb, 1);
	nm_sb_u32(&t->sb, 3);
	nm_sb_u64(&t->sb, 12345);
	nm_sb_u32(&t->sb, 1);
	nm_sb_u32(&t->sb, 2);
	nm_sb_end(&t->sb);
	sf_ctr_ethernet(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_RECORD_TRUNCATED, 4);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_true(nm_addr_is_zero(&f->next_hop));
	assert_true(nm_addr_is_zero(&f->bgp_next_hop));
	assert_int_equal(f->src_as, 0);
	assert_true(nm_addr_is_zero(&f->post_nat_src_addr));
	assert_int_equal(t->cb.n, 1);
	const struct nm_ctr *c = &t->ctrs[0];
	assert_int_equal(c->has_generic, 0);
	assert_int_equal(c->has_ethernet, 1);
	assert_int_equal(c->if_index, 5);
	assert_int_equal(c->if_speed, 0);
	assert_int_equal(c->in_octets, 0);
}

/* header_length beyond the record: the header is not parsed. */
static void test_err_header_length(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 2);
	struct nm_sb *p = sf_frame_eth();
	nm_sb_begin(&t->sb, 1);
	nm_sb_u32(&t->sb, 1);
	nm_sb_u32(&t->sb, SF_FRAME_LEN);
	nm_sb_u32(&t->sb, 4);
	nm_sb_u32(&t->sb, 128); /* header_length: 128 claimed */
	nm_sb_bytes(&t->sb, p->buf, p->len); /* 58 present */
	nm_sb_end(&t->sb);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_HEADER_LENGTH, 1);
	assert_int_equal(t->b.n, 1);
	assert_true(nm_addr_is_zero(&t->recs[0].src_addr));
	assert_int_equal(t->recs[0].src_mac, 0);
	assert_int_equal(t->recs[0].src_vlan, 100); /* the next record is read */
}

static void test_err_bad_address_type(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 4);
	nm_sb_begin(&t->sb, 1002);
	nm_sb_u32(&t->sb, 7); /* address type 7 */
	nm_sb_zeros(&t->sb, 24);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1003);
	nm_sb_u32(&t->sb, 3);
	nm_sb_zeros(&t->sb, 32);
	nm_sb_end(&t->sb);
	nm_sb_begin(&t->sb, 1007); /* good source, bad destination */
	nm_sb_addr4(&t->sb, 100, 64, 0, 1);
	nm_sb_u32(&t->sb, 9);
	nm_sb_zeros(&t->sb, 16);
	nm_sb_end(&t->sb);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_SFLOW_BAD_ADDRESS_TYPE, 3);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_true(nm_addr_is_zero(&t->recs[0].next_hop));
	assert_int_equal(nm_sft_err(t, NM_ERR_SFLOW_RECORD_TRUNCATED), 0);
}

static void sf_two_counter_samples(struct nm_sft *t, uint32_t seq)
{
	sf_dgram(t, seq, 2);
	sf_ctr_begin(&t->sb, seq, 5, 1);
	sf_ctr_generic(&t->sb, 5);
	nm_sb_end(&t->sb);
	sf_ctr_begin(&t->sb, seq, 6, 1);
	sf_ctr_generic(&t->sb, 6);
	nm_sb_end(&t->sb);
}

static void test_err_ctr_batch_full(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	/* No counter batch set: every counter record is dropped and counted. */
	nm_decoder_set_ctr_batch(t->d, NULL);
	sf_two_counter_samples(t, 1);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_CTR_BATCH_FULL, 2);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 0);
	/* A batch of one without flush: the second is dropped. */
	t->cb.cap = 1;
	nm_decoder_set_ctr_batch(t->d, &t->cb);
	sf_two_counter_samples(t, 2);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_CTR_BATCH_FULL, 3);
	assert_int_equal(t->cb.n, 1);
	assert_int_equal(t->ctrs[0].if_index, 5);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 1);
}

static unsigned sf_flushes;

static void sf_ctr_flush(struct nm_ctr_batch *cb, void *ctx)
{
	(void)ctx;
	sf_flushes++;
	cb->n = 0;
}

/* With a flush callback a full counter batch is emptied, nothing dropped. */
static void test_ctr_batch_flush(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_flushes = 0;
	t->cb.cap = 1;
	t->cb.flush = sf_ctr_flush;
	sf_two_counter_samples(t, 1);
	assert_int_equal(sf_send(t), NM_ERR_OK);
	assert_int_equal(sf_flushes, 1);
	assert_int_equal(t->cb.n, 1);
	assert_int_equal(t->ctrs[0].if_index, 6);
	assert_int_equal(nm_sft_err(t, NM_ERR_CTR_BATCH_FULL), 0);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 2);
	assert_identity(t);
}

/* ---- sequence numbers ---- */

static void sf_send_empty(struct nm_sft *t, uint32_t sub, uint32_t seq)
{
	sf_dgram_sub(t, sub, seq, 0);
	assert_int_equal(sf_send(t), NM_ERR_OK);
}

static void test_seq_datagram_gap(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_send_empty(t, SF_SUB, 10);
	sf_send_empty(t, SF_SUB, 11);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	sf_send_empty(t, SF_SUB, 15); /* 12, 13, 14 lost */
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_LOST), 3);
	sf_send_empty(t, SF_SUB, 16);
	sf_send_empty(t, SF_SUB, 2); /* agent restart */
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_RESET), 1);
	struct nm_exporter_info e = sf_exporter(t, SF_KIND_DGRAM, SF_SUB, 0);
	assert_addr(&e.addr, SF_AGENT_STR);
	assert_int_equal(e.seq_gaps, 1);
	assert_int_equal(e.seq_lost, 3);
	assert_int_equal(e.seq_resets, 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_identity(t);
}

/* Sub-agents of one agent number their datagrams independently. */
static void test_seq_sub_agents(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t i = 0; i < 4; i++) {
		sf_send_empty(t, 1, 100 + i);
		sf_send_empty(t, 2, 5000 + i);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_RESET), 0);
	sf_send_empty(t, 2, 5006); /* 5004, 5005 lost on sub-agent 2 only */
	struct nm_exporter_info e1 = sf_exporter(t, SF_KIND_DGRAM, 1, 0);
	struct nm_exporter_info e2 = sf_exporter(t, SF_KIND_DGRAM, 2, 0);
	assert_int_equal(e1.seq_gaps, 0);
	assert_int_equal(e2.seq_gaps, 1);
	assert_int_equal(e2.seq_lost, 2);
	assert_int_equal(sf_exporters_of(t, SF_KIND_DGRAM), 2);
	assert_identity(t);
}

/* One datagram with one compact flow sample (source, sample seq) from sub-agent sub. */
static void sf_send_flow(struct nm_sft *t, uint32_t sub, uint32_t dseq, uint32_t source,
			 uint32_t sseq)
{
	sf_dgram_sub(t, sub, dseq, 1);
	sf_flow_begin(&t->sb, sseq, source, 256, source, 1, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(sf_send(t), NM_ERR_OK);
}

static void test_sample_seq_gap(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_send_flow(t, SF_SUB, 1, 3, 1);
	sf_send_flow(t, SF_SUB, 2, 3, 2);
	sf_send_flow(t, SF_SUB, 3, 3, 5); /* samples 3 and 4 lost */
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_LOST), 2);
	sf_send_flow(t, SF_SUB, 4, 3, 6);
	sf_send_flow(t, SF_SUB, 5, 3, 1); /* sampler restarted */
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 1);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 1);
	/* Datagram sequence numbers were consecutive. */
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	struct nm_exporter_info e = sf_exporter(t, SF_KIND_FLOWS, SF_SUB, 3);
	assert_int_equal(e.seq_gaps, 1);
	assert_int_equal(e.seq_lost, 2);
	assert_int_equal(e.seq_resets, 1);
	struct nm_exporter_info a = sf_exporter(t, SF_KIND_DGRAM, SF_SUB, 0);
	assert_int_equal(a.seq_gaps, 0);
	assert_identity(t);
}

/* Source IDs of one sub-agent are tracked separately. */
static void test_sample_seq_sources(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t i = 0; i < 5; i++) {
		sf_send_flow(t, SF_SUB, 2 * i + 1, 3, 10 + i);
		sf_send_flow(t, SF_SUB, 2 * i + 2, 4, 900 + i);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	sf_send_flow(t, SF_SUB, 11, 4, 910); /* 905..909 lost on source 4 */
	struct nm_exporter_info e3 = sf_exporter(t, SF_KIND_FLOWS, SF_SUB, 3);
	struct nm_exporter_info e4 = sf_exporter(t, SF_KIND_FLOWS, SF_SUB, 4);
	assert_int_equal(e3.seq_gaps, 0);
	assert_int_equal(e4.seq_gaps, 1);
	assert_int_equal(e4.seq_lost, 5);
	assert_int_equal(sf_exporters_of(t, SF_KIND_FLOWS), 2);
	assert_identity(t);
}

/* One source ID in two sub-agents: two sequences. */
static void test_sample_seq_sub_agents(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t i = 0; i < 5; i++) {
		sf_send_flow(t, 1, 1 + i, 3, 10 + i);
		sf_send_flow(t, 2, 1 + i, 3, 700 + i);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	sf_send_flow(t, 1, 6, 3, 16); /* 15 lost on sub-agent 1 */
	assert_int_equal(sf_exporter(t, SF_KIND_FLOWS, 1, 3).seq_lost, 1);
	assert_int_equal(sf_exporter(t, SF_KIND_FLOWS, 2, 3).seq_lost, 0);
	assert_identity(t);
}

/* Flow, counter and drop samples of one source number independently. */
static void test_sample_seq_kinds(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t i = 0; i < 3; i++) {
		sf_dgram(t, 1 + i, 3);
		sf_flow_begin(&t->sb, 10 + i, 5, 256, 5, 1, 0);
		nm_sb_end(&t->sb);
		sf_ctr_begin(&t->sb, 500 + i, 5, 1);
		sf_ctr_generic(&t->sb, 5);
		nm_sb_end(&t->sb);
		sf_drop_begin(&t->sb, 7000 + i, 0, 5, 1, 5, 0, 258, 0);
		nm_sb_end(&t->sb);
		assert_int_equal(sf_send(t), NM_ERR_OK);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	assert_int_equal(sf_exporters_of(t, SF_KIND_FLOWS), 1);
	assert_int_equal(sf_exporters_of(t, SF_KIND_CTRS), 1);
	assert_int_equal(sf_exporters_of(t, SF_KIND_DROPS), 1);
	assert_int_equal(t->cb.n, 3);
	assert_int_equal(t->ctrs[2].sample_sequence_num, 502);
	assert_identity(t);
}

/*
 * Expanded samples carry a 32-bit source index (sFlow v5 5.2: used when the
 * index does not fit in 24 bits). Sources 1 and 0x01000001 are different
 * interfaces: their sample sequences must not be mixed.
 */
static void test_sample_seq_expanded_index(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t i = 0; i < 3; i++) {
		sf_dgram(t, 1 + i, 2);
		sf_xflow_begin(&t->sb, 10 + i, 0, 1, 256, 0, 1, 0, 2, 0);
		nm_sb_end(&t->sb);
		sf_xflow_begin(&t->sb, 800 + i, 0, 0x01000001u, 256, 0, 1, 0, 2, 0);
		nm_sb_end(&t->sb);
		assert_int_equal(sf_send(t), NM_ERR_OK);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	assert_int_equal(sf_exporters_of(t, SF_KIND_FLOWS), 2);
	assert_true(t->recs[0].sampler_id != t->recs[1].sampler_id);
	assert_identity(t);
}

/* Many sources in one agent (more than the per-agent cache): no false gaps. */
static void test_sample_seq_many_sources(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t s = 0; s < 40; s++) {
			sf_dgram(t, round * 40 + s, 2);
			sf_flow_begin(&t->sb, round, s * 64, 256, 1, 2, 0);
			nm_sb_end(&t->sb);
			sf_ctr_begin(&t->sb, round, s * 64, 0);
			nm_sb_end(&t->sb);
			assert_int_equal(sf_send(t), NM_ERR_OK);
			t->b.n = 0;
		}
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	assert_int_equal(sf_exporters_of(t, SF_KIND_FLOWS), 40);
	assert_int_equal(sf_exporters_of(t, SF_KIND_CTRS), 40);
	assert_identity(t);
}

/*
 * An exporter table smaller than the sources of one datagram: per-source
 * entries evict each other and the agent's own entry in the middle of a
 * datagram. Decoding goes on, every sample gives its record, memory stays
 * sound (run under ASan), and the accounting holds.
 */
static void test_sample_seq_eviction(void **state)
{
	(void)state;
	struct nm_decode_cfg cfg;
	nm_decode_cfg_default(&cfg);
	cfg.max_exporters = 3;
	cfg.max_templates = 4;
	struct nm_sft *t = nm_sft_new_cfg(&cfg);
	assert_non_null(t);
	for (uint32_t round = 0; round < 6; round++) {
		sf_dgram(t, round, 12);
		for (uint32_t s = 0; s < 12; s++) {
			if (s % 3 == 2) {
				sf_ctr_begin(&t->sb, round, s, 1);
				sf_ctr_generic(&t->sb, s);
			} else {
				sf_flow_begin(&t->sb, round, s, 256, s, 1, 1);
				w_switch(&t->sb);
			}
			nm_sb_end(&t->sb);
		}
		assert_int_equal(sf_send(t), NM_ERR_OK);
		assert_int_equal(t->b.n, 8);
		assert_int_equal(t->cb.n, 4);
		t->b.n = 0;
		t->cb.n = 0;
	}
	assert_true(nm_sft_ev(t, NM_EV_EXPORTER_EVICTED) > 0);
	assert_true(nm_decoder_exporter_count(t->d) <= 3);
	assert_int_equal(nm_decoder_stats(t->d)->records, 48);
	assert_int_equal(nm_decoder_stats(t->d)->counter_records, 24);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_FLOW_SAMPLES), 48);
	assert_identity(t);
	nm_sft_free(t);
}

/* Two agents with the same sub-agent and source IDs: separate state. */
static void test_seq_agents(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	static const uint8_t other[4] = {10, 0, 0, 2};
	for (uint32_t i = 0; i < 3; i++) {
		sf_send_flow(t, SF_SUB, 1 + i, 3, 1 + i);
		nm_sb_init(&t->sb);
		nm_sb_sflow_hdr4(&t->sb, other, SF_SUB, 50 + i, 1, 1);
		sf_flow_begin(&t->sb, 90 + i, 3, 256, 3, 1, 0);
		nm_sb_end(&t->sb);
		assert_int_equal(sf_send(t), NM_ERR_OK);
	}
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SEQ_RESET), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_GAP), 0);
	assert_int_equal(nm_sft_ev(t, NM_EV_SFLOW_SAMPLE_SEQ_RESET), 0);
	assert_int_equal(sf_exporters_of(t, SF_KIND_DGRAM), 2);
	assert_addr(&t->recs[1].sampler_address, "10.0.0.2");
	assert_identity(t);
}

/* nm_decode_any() recognises sFlow by its 32-bit version. */
static void test_decode_any(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	sf_dgram(t, 1, 1);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_hdr_eth(&t->sb);
	nm_sb_end(&t->sb);
	assert_int_equal(nm_decode_sniff(t->sb.buf, t->sb.len), NM_FLOW_TYPE_SFLOW_5);
	assert_int_equal(nm_decode_any(t->d, &t->m, t->sb.buf, t->sb.len, &t->b), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	sf_assert_ip4_tcp(&t->recs[0]);
	assert_identity(t);
}

/* A full flow batch without flush: the record is dropped and counted. */
static void test_flow_batch_full(void **state)
{
	struct nm_sft *t = NM_SFT(state);
	t->b.cap = 1;
	sf_dgram(t, 1, 3);
	sf_flow_begin(&t->sb, 1, 7, 1024, 7, 9, 1);
	w_switch(&t->sb);
	nm_sb_end(&t->sb);
	sf_flow_begin(&t->sb, 2, 7, 1024, 7, 9, 1);
	w_hdr_eth(&t->sb);
	nm_sb_end(&t->sb);
	sf_drop_begin(&t->sb, 1, 0, 7, 1, 7, 0, 258, 0);
	nm_sb_end(&t->sb);
	sf_assert_nonfatal(t, sf_send(t), NM_ERR_BATCH_FULL, 2);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].src_vlan, 100);
	assert_int_equal(nm_decoder_stats(t->d)->records, 1);
}

#define SF_TEST(fn) cmocka_unit_test_setup_teardown(fn, nm_sft_setup, nm_sft_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* flow records */
		SF_TEST(test_rec_header_ethernet),
		SF_TEST(test_rec_header_ipv4),
		SF_TEST(test_rec_header_ipv6),
		SF_TEST(test_rec_header_unsupported),
		SF_TEST(test_rec_header_truncated),
		SF_TEST(test_rec_ethernet),
		SF_TEST(test_rec_ipv4),
		SF_TEST(test_rec_ipv6),
		SF_TEST(test_rec_header_then_ipv4),
		SF_TEST(test_rec_ethernet_then_ipv4),
		SF_TEST(test_rec_switch),
		SF_TEST(test_rec_switch_after_header),
		SF_TEST(test_rec_router_v4),
		SF_TEST(test_rec_router_v6),
		SF_TEST(test_rec_gateway),
		SF_TEST(test_rec_gateway_empty_path),
		SF_TEST(test_rec_gateway_v6_next_hop),
		SF_TEST(test_rec_gateway_cut),
		SF_TEST(test_rec_gateway_cut_bounds),
		SF_TEST(test_rec_mpls),
		SF_TEST(test_rec_mpls_after_header),
		SF_TEST(test_rec_nat),
		/* samples */
		SF_TEST(test_sample_flow_compact),
		SF_TEST(test_sample_flow_source_type),
		SF_TEST(test_sample_flow_expanded),
		SF_TEST(test_sample_flow_expanded_large_index),
		SF_TEST(test_sample_counters),
		SF_TEST(test_sample_counters_expanded),
		SF_TEST(test_sample_counters_ethernet_only),
		SF_TEST(test_sample_counters_no_if),
		SF_TEST(test_sample_drop),
		cmocka_unit_test(test_sample_static_rate),
		/* interface formats */
		SF_TEST(test_if_discarded),
		SF_TEST(test_if_multiple),
		SF_TEST(test_if_local),
		/* datagram */
		SF_TEST(test_agent_ipv6),
		SF_TEST(test_trailing_bytes),
		SF_TEST(test_unknown_samples_skipped),
		SF_TEST(test_unknown_records_skipped),
		SF_TEST(test_unknown_counter_records_skipped),
		SF_TEST(test_decode_any),
		SF_TEST(test_flow_batch_full),
		/* errors */
		SF_TEST(test_err_short_header),
		SF_TEST(test_err_bad_version),
		SF_TEST(test_err_bad_agent_type),
		SF_TEST(test_err_sample_count),
		SF_TEST(test_err_sample_length),
		SF_TEST(test_err_sample_truncated),
		SF_TEST(test_err_sample_truncated_no_count),
		SF_TEST(test_err_record_count),
		SF_TEST(test_err_record_length),
		SF_TEST(test_err_record_truncated),
		SF_TEST(test_err_record_truncated_no_side_effects),
		SF_TEST(test_err_header_length),
		SF_TEST(test_err_bad_address_type),
		SF_TEST(test_err_ctr_batch_full),
		SF_TEST(test_ctr_batch_flush),
		/* sequence numbers */
		SF_TEST(test_seq_datagram_gap),
		SF_TEST(test_seq_sub_agents),
		SF_TEST(test_seq_agents),
		SF_TEST(test_sample_seq_gap),
		SF_TEST(test_sample_seq_sources),
		SF_TEST(test_sample_seq_sub_agents),
		SF_TEST(test_sample_seq_kinds),
		SF_TEST(test_sample_seq_expanded_index),
		SF_TEST(test_sample_seq_many_sources),
		cmocka_unit_test(test_sample_seq_eviction),
	};
	return cmocka_run_group_tests_name("sflow", tests, NULL, NULL);
}
