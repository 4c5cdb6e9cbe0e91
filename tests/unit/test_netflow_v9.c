/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v9 decoder tests (RFC 3954): templates, options templates and
 * sampling, field mapping, times relative to the header's sysUpTime,
 * template scope, sequence numbers (datagrams), template lifetime, and the
 * decode errors a v9 datagram can raise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "nm_test.h"

#define V9_UPTIME 100000u /* sysUpTime in the header: 100 s */
#define V9_SECS NM_T_NOW_S
#define V9_SRC 7u          /* source ID */
#define NF(ie, len) {(ie), (len), 0}
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Starts a v9 datagram in t->pb. */
static void v9_begin(struct nm_t *t, uint32_t seq, uint32_t source_id)
{
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, V9_UPTIME, V9_SECS, seq, source_id);
}

/* One template flowset holding one template. */
static void v9_tmpl_set(struct nm_t *t, uint16_t id, const struct nm_pb_field *f, size_t n)
{
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, id, f, n);
	nm_pb_set_end(&t->pb);
}

/* A datagram with just one template: decodes it and checks it was learned. */
static void v9_define(struct nm_t *t, uint32_t seq, uint16_t id, const struct nm_pb_field *f,
		      size_t n)
{
	uint64_t added = nm_t_ev(t, NM_EV_TMPL_ADDED) + nm_t_ev(t, NM_EV_TMPL_REPLACED) +
			 nm_t_ev(t, NM_EV_TMPL_REFRESHED);
	v9_begin(t, seq, V9_SRC);
	v9_tmpl_set(t, id, f, n);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED) + nm_t_ev(t, NM_EV_TMPL_REPLACED) +
				 nm_t_ev(t, NM_EV_TMPL_REFRESHED),
			 added + 1);
}

/* ---- templates and data ---- */

static const struct nm_pb_field v9_basic[] = {
	NF(8, 4), NF(12, 4), NF(7, 2), NF(11, 2), NF(4, 1), NF(1, 4), NF(2, 4),
	NF(22, 4), NF(21, 4), NF(10, 2), NF(14, 2),
};
#define V9_BASIC_LEN 33

static void v9_basic_rec(struct nm_pb *pb, uint8_t last_octet, uint32_t bytes)
{
	nm_pb_ip4(pb, 10, 1, 1, last_octet);
	nm_pb_ip4(pb, 10, 2, 2, 2);
	nm_pb_u16(pb, 40000);
	nm_pb_u16(pb, 443);
	nm_pb_u8(pb, 6);
	nm_pb_u32(pb, bytes);
	nm_pb_u32(pb, 7);
	nm_pb_u32(pb, V9_UPTIME - 60000); /* FIRST_SWITCHED: 60 s before export */
	nm_pb_u32(pb, V9_UPTIME - 1000);  /* LAST_SWITCHED: 1 s before export */
	nm_pb_u16(pb, 5);
	nm_pb_u16(pb, 6);
}

static void test_v9_template_and_data(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 1, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 1000);
	v9_basic_rec(&t->pb, 2, 2000);
	nm_pb_set_end_pad(&t->pb, 4); /* 4 + 66 -> 2 bytes of padding */
	assert_int_equal(t->pb.len - 20 - 4 - 4 * NELEM(v9_basic) - 4, 72);
	nm_t_at(t, V9_SECS + 1);

	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->type, NM_FLOW_TYPE_NETFLOW_V9);
	assert_addr(&f->src_addr, "10.1.1.1");
	assert_addr(&f->dst_addr, "10.2.2.2");
	assert_addr(&f->sampler_address, "192.0.2.1");
	assert_int_equal(f->src_port, 40000);
	assert_int_equal(f->dst_port, 443);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->bytes, 1000);
	assert_int_equal(f->packets, 7);
	assert_int_equal(f->in_if, 5);
	assert_int_equal(f->out_if, 6);
	assert_int_equal(f->etype, 0x0800); /* implied by the IPv4 address fields */
	assert_int_equal(f->observation_domain_id, V9_SRC);
	assert_int_equal(f->exporter_port, 2055);
	assert_int_equal(f->sequence_num, 1);
	assert_int_equal(f->time_received_ns, (uint64_t)(V9_SECS + 1) * NM_T_NS);
	uint64_t export_ms = (uint64_t)V9_SECS * 1000;
	assert_int_equal(f->time_flow_start_ns, (export_ms - 60000) * NM_T_MS);
	assert_int_equal(f->time_flow_end_ns, (export_ms - 1000) * NM_T_MS);
	assert_int_equal(f->time_flow_start, V9_SECS - 60);
	assert_int_equal(f->time_flow_end, V9_SECS - 1);
	assert_addr(&t->recs[1].src_addr, "10.1.1.2");
	assert_int_equal(t->recs[1].bytes, 2000);

	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->records, 2);
	assert_int_equal(s->datagrams_ok, 1);
	assert_int_equal(nm_t_err_total(t), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 1);
}

/* Data before its template is counted and skipped; after it, decoded. */
static void test_v9_data_before_template(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 1000);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
	assert_int_equal(t->b.n, 0);

	v9_define(t, 2, 256, v9_basic, NELEM(v9_basic));
	v9_begin(t, 3, V9_SRC);
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 1000);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 1000);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
}

/* Several templates in one flowset, several data flowsets in one datagram. */
static void test_v9_multiple_templates(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field a[] = {NF(8, 4), NF(2, 4)};
	const struct nm_pb_field b[] = {NF(12, 4), NF(1, 8), NF(7, 2)};
	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, 300, a, NELEM(a));
	nm_pb_tmpl(&t->pb, 301, b, NELEM(b));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 301);
	nm_pb_ip4(&t->pb, 1, 2, 3, 4);
	nm_pb_u64(&t->pb, 0x100000000ull);
	nm_pb_u16(&t->pb, 53);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 300);
	nm_pb_ip4(&t->pb, 5, 6, 7, 8);
	nm_pb_u32(&t->pb, 99);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_decoder_template_count(t->d), 2);
	assert_int_equal(t->b.n, 2);
	assert_addr(&t->recs[0].dst_addr, "1.2.3.4");
	assert_int_equal(t->recs[0].bytes, 0x100000000ull);
	assert_int_equal(t->recs[0].src_port, 53);
	assert_addr(&t->recs[1].src_addr, "5.6.7.8");
	assert_int_equal(t->recs[1].packets, 99);
	assert_int_equal(t->recs[1].bytes, 0);
}

/* Most mapped IEs in one IPv4 template (v9 field types = IPFIX IE numbers). */
static const struct nm_pb_field v9_big[] = {
	NF(1, 8), NF(2, 8), NF(4, 1), NF(5, 1), NF(6, 1), NF(7, 2), NF(8, 4), NF(9, 1),
	NF(10, 4), NF(11, 2), NF(12, 4), NF(13, 1), NF(14, 4), NF(15, 4), NF(16, 4),
	NF(17, 4), NF(18, 4), NF(21, 4), NF(22, 4), NF(32, 2), NF(54, 4), NF(57, 6),
	NF(56, 6), NF(58, 2), NF(254, 2), NF(59, 2), NF(61, 1), NF(80, 6), NF(81, 6),
	NF(88, 2), NF(89, 1), NF(60, 1), NF(128, 4), NF(136, 1), NF(192, 1), NF(234, 4),
	NF(235, 4), NF(239, 1), NF(243, 2),
};

static void test_v9_field_map(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_define(t, 1, 400, v9_big, NELEM(v9_big));
	v9_begin(t, 2, V9_SRC);
	nm_pb_set_begin(&t->pb, 400);
	nm_pb_u64(&t->pb, 123456789012ull); /* 1 bytes */
	nm_pb_u64(&t->pb, 4242);            /* 2 packets */
	nm_pb_u8(&t->pb, 17);               /* 4 proto */
	nm_pb_u8(&t->pb, 0xb8);             /* 5 tos */
	nm_pb_u8(&t->pb, 0x12);             /* 6 tcp flags */
	nm_pb_u16(&t->pb, 5353);            /* 7 */
	nm_pb_ip4(&t->pb, 172, 16, 0, 1);   /* 8 */
	nm_pb_u8(&t->pb, 12);               /* 9 src mask */
	nm_pb_u32(&t->pb, 1001);            /* 10 */
	nm_pb_u16(&t->pb, 53);              /* 11 */
	nm_pb_ip4(&t->pb, 172, 17, 0, 2);   /* 12 */
	nm_pb_u8(&t->pb, 20);               /* 13 dst mask */
	nm_pb_u32(&t->pb, 1002);            /* 14 */
	nm_pb_ip4(&t->pb, 172, 16, 0, 254); /* 15 next hop */
	nm_pb_u32(&t->pb, 4200000000u);     /* 16 src AS (4-byte AS) */
	nm_pb_u32(&t->pb, 13335);           /* 17 dst AS */
	nm_pb_ip4(&t->pb, 198, 51, 100, 7); /* 18 BGP next hop */
	nm_pb_u32(&t->pb, V9_UPTIME - 500); /* 21 last */
	nm_pb_u32(&t->pb, V9_UPTIME - 2500); /* 22 first */
	nm_pb_u16(&t->pb, 0x0b00);          /* 32 ICMP type 11 code 0 */
	nm_pb_u32(&t->pb, 54321);           /* 54 fragment id */
	nm_pb_mac(&t->pb, 0x0a0b0c0d0e0full); /* 57 post dst MAC: 80 wins */
	nm_pb_mac(&t->pb, 0x001122334455ull); /* 56 src MAC */
	nm_pb_u16(&t->pb, 10);              /* 58 src VLAN */
	nm_pb_u16(&t->pb, 30);              /* 254 post dot1q: 59 wins */
	nm_pb_u16(&t->pb, 20);              /* 59 post VLAN */
	nm_pb_u8(&t->pb, 1);                /* 61 direction: egress */
	nm_pb_mac(&t->pb, 0x66778899aabbull); /* 80 dst MAC */
	nm_pb_mac(&t->pb, 0x0c0c0c0c0c0cull); /* 81 post src MAC: 56 wins */
	nm_pb_u16(&t->pb, 185);             /* 88 fragment offset */
	nm_pb_u8(&t->pb, 0x40);             /* 89 forwarding status: forwarded */
	nm_pb_u8(&t->pb, 4);                /* 60 IP version */
	nm_pb_u32(&t->pb, 64496);           /* 128 next-hop AS */
	nm_pb_u8(&t->pb, 3);                /* 136 end reason: end of flow */
	nm_pb_u8(&t->pb, 61);               /* 192 TTL */
	nm_pb_u32(&t->pb, 11);              /* 234 ingress VRF */
	nm_pb_u32(&t->pb, 12);              /* 235 egress VRF */
	nm_pb_u8(&t->pb, 2);                /* 239 biflow direction */
	nm_pb_u16(&t->pb, 100);             /* 243 dot1q VLAN */
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(nm_t_err_total(t), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_FIELD_BAD_LENGTH), 0);

	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->bytes, 123456789012ull);
	assert_int_equal(f->packets, 4242);
	assert_int_equal(f->proto, 17);
	assert_int_equal(f->ip_tos, 0xb8);
	assert_int_equal(f->tcp_flags, 0x12);
	assert_int_equal(f->src_port, 5353);
	assert_addr(&f->src_addr, "172.16.0.1");
	assert_int_equal(f->src_net, 12);
	assert_int_equal(f->in_if, 1001);
	assert_int_equal(f->dst_port, 53);
	assert_addr(&f->dst_addr, "172.17.0.2");
	assert_int_equal(f->dst_net, 20);
	assert_int_equal(f->out_if, 1002);
	assert_addr(&f->next_hop, "172.16.0.254");
	assert_int_equal(f->src_as, 4200000000u);
	assert_int_equal(f->dst_as, 13335);
	assert_addr(&f->bgp_next_hop, "198.51.100.7");
	uint64_t export_ms = (uint64_t)V9_SECS * 1000;
	assert_int_equal(f->time_flow_start_ns, (export_ms - 2500) * NM_T_MS);
	assert_int_equal(f->time_flow_end_ns, (export_ms - 500) * NM_T_MS);
	assert_int_equal(f->icmp_type, 11);
	assert_int_equal(f->icmp_code, 0);
	assert_int_equal(f->fragment_id, 54321);
	assert_int_equal(f->src_mac, 0x001122334455ull);
	assert_int_equal(f->dst_mac, 0x66778899aabbull);
	assert_int_equal(f->src_vlan, 10);
	assert_int_equal(f->dst_vlan, 20);
	assert_int_equal(f->vlan_id, 100);
	assert_int_equal(f->flow_direction, 1);
	assert_int_equal(f->fragment_offset, 185);
	assert_int_equal(f->forwarding_status, 0x40);
	assert_int_equal(f->etype, 0x0800);
	assert_int_equal(f->next_hop_as, 64496);
	assert_int_equal(f->flow_end_reason, 3);
	assert_int_equal(f->ip_ttl, 61);
	assert_int_equal(f->ingress_vrf_id, 11);
	assert_int_equal(f->egress_vrf_id, 12);
	assert_int_equal(f->bi_flow_direction, 2);
}

/* IPv6 fields; flow label in v9's 3-byte form. */
static void test_v9_ipv6_fields(void **state)
{
	struct nm_t *t = NM_T(state);
	static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
	static const uint8_t nh6[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	static const uint8_t bgp6[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0,
					 0, 0, 0, 0, 0, 0, 0, 0x10};
	const struct nm_pb_field tf[] = {
		NF(27, 16), NF(28, 16), NF(29, 1), NF(30, 1), NF(31, 3), NF(62, 16), NF(63, 16),
		NF(139, 2), NF(4, 1),
	};
	v9_define(t, 1, 260, tf, NELEM(tf));
	v9_begin(t, 2, V9_SRC);
	nm_pb_set_begin(&t->pb, 260);
	nm_pb_bytes(&t->pb, src6, 16);
	nm_pb_bytes(&t->pb, dst6, 16);
	nm_pb_u8(&t->pb, 48);
	nm_pb_u8(&t->pb, 64);
	nm_pb_uint(&t->pb, 0xabcde, 3);
	nm_pb_bytes(&t->pb, nh6, 16);
	nm_pb_bytes(&t->pb, bgp6, 16);
	nm_pb_u16(&t->pb, 128 << 8); /* echo request, code 0 */
	nm_pb_u8(&t->pb, 58);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	assert_addr(&f->src_addr, "2001:db8::1");
	assert_addr(&f->dst_addr, "2001:db8:1::2");
	assert_false(nm_addr_is_v4(&f->src_addr));
	assert_int_equal(f->src_net, 48);
	assert_int_equal(f->dst_net, 64);
	assert_int_equal(f->ipv6_flow_label, 0xabcde);
	assert_addr(&f->next_hop, "fe80::9");
	assert_addr(&f->bgp_next_hop, "2001:db8:ffff::10");
	assert_int_equal(f->icmp_type, 128);
	assert_int_equal(f->icmp_code, 0);
	assert_int_equal(f->proto, 58);
	assert_int_equal(f->etype, 0x86dd);
}

/* MPLS_LABEL_1..10: label = top 20 bits of 3 bytes; bottom-of-stack ends it. */
static void test_v9_mpls(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field tf[] = {
		NF(2, 4), NF(70, 3), NF(71, 3), NF(72, 3), NF(73, 3),
	};
	v9_define(t, 1, 270, tf, NELEM(tf));
	v9_begin(t, 2, V9_SRC);
	nm_pb_set_begin(&t->pb, 270);
	/* record 1: 100 (exp 5), 200, 300 (bottom), then a stray 400 */
	nm_pb_u32(&t->pb, 1);
	nm_pb_uint(&t->pb, 100u << 4 | 5u << 1, 3);
	nm_pb_uint(&t->pb, 200u << 4, 3);
	nm_pb_uint(&t->pb, 300u << 4 | 1u, 3);
	nm_pb_uint(&t->pb, 400u << 4 | 1u, 3);
	/* record 2: one label, bottom of stack, largest label value */
	nm_pb_u32(&t->pb, 2);
	nm_pb_uint(&t->pb, 0xfffffu << 4 | 1u, 3);
	nm_pb_zeros(&t->pb, 9);
	/* record 3: no labels */
	nm_pb_u32(&t->pb, 3);
	nm_pb_zeros(&t->pb, 12);
	/* record 4: four labels, none marked bottom */
	nm_pb_u32(&t->pb, 4);
	nm_pb_uint(&t->pb, 16u << 4, 3);
	nm_pb_uint(&t->pb, 17u << 4, 3);
	nm_pb_uint(&t->pb, 18u << 4, 3);
	nm_pb_uint(&t->pb, 19u << 4, 3);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 4);

	const struct nm_flow *f = &t->recs[0];
	assert_true(f->has_mpls);
	assert_int_equal(f->mpls_count, 3);
	assert_int_equal(f->mpls1_label, 100);
	assert_int_equal(f->mpls2_label, 200);
	assert_int_equal(f->mpls3_label, 300);
	assert_int_equal(f->mpls_last_label, 300);

	f = &t->recs[1];
	assert_true(f->has_mpls);
	assert_int_equal(f->mpls_count, 1);
	assert_int_equal(f->mpls1_label, 0xfffff);
	assert_int_equal(f->mpls2_label, 0);
	assert_int_equal(f->mpls_last_label, 0xfffff);

	f = &t->recs[2];
	assert_false(f->has_mpls);
	assert_int_equal(f->mpls_count, 0);
	assert_int_equal(f->mpls1_label, 0);

	f = &t->recs[3];
	assert_int_equal(f->mpls_count, 4);
	assert_int_equal(f->mpls1_label, 16);
	assert_int_equal(f->mpls3_label, 18);
	assert_int_equal(f->mpls_last_label, 19);
}

/* ---- sampling from options data ---- */

static const struct nm_pb_field v9_scope_system[] = {NF(1, 4)}; /* scope "System" */

/* Options: FLOW_SAMPLER_ID(48) + FLOW_SAMPLER_MODE(49) + FLOW_SAMPLER_RANDOM_INTERVAL(50). */
static void test_v9_sampler_options(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field opt[] = {NF(48, 1), NF(49, 1), NF(50, 4)};
	const struct nm_pb_field data[] = {NF(48, 1), NF(8, 4), NF(1, 4)};

	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 257, v9_scope_system, 1, opt, NELEM(opt));
	nm_pb_set_end_pad(&t->pb, 4);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, 256, data, NELEM(data));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 257); /* options data */
	nm_pb_u32(&t->pb, 0);
	nm_pb_u8(&t->pb, 1);
	nm_pb_u8(&t->pb, 2);
	nm_pb_u32(&t->pb, 100);
	nm_pb_u32(&t->pb, 0);
	nm_pb_u8(&t->pb, 2);
	nm_pb_u8(&t->pb, 2);
	nm_pb_u32(&t->pb, 1000);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 0); /* options records are not flows */
	assert_int_equal(nm_t_ev(t, NM_EV_OPTIONS_RECORDS), 2);
	assert_int_equal(nm_t_ev(t, NM_EV_SAMPLER_LEARNED), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 2);

	v9_begin(t, 2, V9_SRC);
	nm_pb_set_begin(&t->pb, 256);
	for (uint8_t id = 1; id <= 3; id++) {
		nm_pb_u8(&t->pb, id);
		nm_pb_ip4(&t->pb, 10, 0, 0, id);
		nm_pb_u32(&t->pb, 100u * id);
	}
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 3);
	assert_int_equal(t->recs[0].sampler_id, 1);
	assert_int_equal(t->recs[0].sampling_rate, 100);
	assert_int_equal(t->recs[1].sampler_id, 2);
	assert_int_equal(t->recs[1].sampling_rate, 1000);
	assert_int_equal(t->recs[2].sampler_id, 3); /* no such sampler */
	assert_int_equal(t->recs[2].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 1);

	/* The exporter changes sampler 1's rate: later records follow. */
	v9_begin(t, 3, V9_SRC);
	nm_pb_set_begin(&t->pb, 257);
	nm_pb_u32(&t->pb, 0);
	nm_pb_u8(&t->pb, 1);
	nm_pb_u8(&t->pb, 2);
	nm_pb_u32(&t->pb, 50);
	nm_pb_set_end_pad(&t->pb, 4);
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_u8(&t->pb, 1);
	nm_pb_ip4(&t->pb, 10, 0, 0, 1);
	nm_pb_u32(&t->pb, 1);
	nm_pb_set_end(&t->pb);
	nm_t_clear(t);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].sampling_rate, 50);
	assert_int_equal(nm_t_ev(t, NM_EV_SAMPLER_LEARNED), 3);
}

/*
 * A scope field's type is a scope (RFC 3954 6.1: 1 System, 2 Interface, ...),
 * never an IE, whatever its number and length: scope 34 is not a sampling
 * interval, scope 1 of 16 bytes is not a bad-length octetDeltaCount.
 */
static void test_v9_scope_fields_not_ies(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field scope[] = {NF(34, 4), NF(1, 16)};
	const struct nm_pb_field opt[] = {NF(48, 1), NF(160, 8)};

	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 259, scope, NELEM(scope), opt, NELEM(opt));
	nm_pb_set_end_pad(&t->pb, 4);
	nm_pb_set_begin(&t->pb, 259);
	nm_pb_u32(&t->pb, 999);
	for (int i = 0; i < 4; i++)
		nm_pb_u32(&t->pb, 0xffffffffu);
	nm_pb_u8(&t->pb, 1);
	nm_pb_u64(&t->pb, 1234);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_OPTIONS_RECORDS), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SAMPLER_LEARNED), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_FIELD_BAD_LENGTH), 0);
	assert_identity(t);
}

/* Options with SAMPLING_INTERVAL(34) and no sampler ID: exporter-wide rate. */
static void test_v9_sampling_interval_exporter_wide(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field opt[] = {NF(34, 4), NF(35, 1)};
	const struct nm_pb_field data[] = {NF(8, 4), NF(1, 4)};

	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 258, v9_scope_system, 1, opt, NELEM(opt));
	nm_pb_set_end_pad(&t->pb, 4);
	nm_pb_set_begin(&t->pb, 258);
	nm_pb_u32(&t->pb, 0);   /* scope: system */
	nm_pb_u32(&t->pb, 512); /* 1 in 512 */
	nm_pb_u8(&t->pb, 2);    /* random */
	nm_pb_set_end_pad(&t->pb, 4);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_SAMPLER_LEARNED), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_OPTIONS_RECORDS), 1);

	v9_define(t, 2, 256, data, NELEM(data));
	v9_begin(t, 3, V9_SRC);
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_ip4(&t->pb, 10, 0, 0, 1);
	nm_pb_u32(&t->pb, 10);
	nm_pb_ip4(&t->pb, 10, 0, 0, 2);
	nm_pb_u32(&t->pb, 20);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_int_equal(t->recs[0].sampling_rate, 512);
	assert_int_equal(t->recs[1].sampling_rate, 512);
	assert_int_equal(t->recs[0].sampler_id, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 0);

	/* The rate is per exporter: another source ID does not inherit it. */
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, V9_UPTIME, V9_SECS, 1, V9_SRC + 1);
	v9_tmpl_set(t, 256, data, NELEM(data));
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_ip4(&t->pb, 10, 0, 0, 3);
	nm_pb_u32(&t->pb, 30);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 3);
	assert_int_equal(t->recs[2].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 1);
}

/* A data record carrying SAMPLING_INTERVAL itself uses it directly. */
static void test_v9_rate_in_data_record(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field data[] = {NF(34, 2), NF(1, 4)};
	v9_define(t, 1, 256, data, NELEM(data));
	v9_begin(t, 2, V9_SRC);
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_u16(&t->pb, 64);
	nm_pb_u32(&t->pb, 1);
	nm_pb_u16(&t->pb, 0); /* 0 = not stated: rate unknown */
	nm_pb_u32(&t->pb, 2);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_int_equal(t->recs[0].sampling_rate, 64);
	assert_int_equal(t->recs[1].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 1);
}

static void test_v9_rate_unknown(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 1, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&t->pb, 256);
	for (uint8_t i = 0; i < 5; i++)
		v9_basic_rec(&t->pb, i, 100);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(t->recs[i].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 5);
}

/* Options template records are padded as a flowset, not per record. */
static void test_v9_options_template_padding(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field opt_a[] = {NF(48, 1), NF(50, 4)};
	const struct nm_pb_field opt_b[] = {NF(34, 4)};
	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 300, v9_scope_system, 1, opt_a, NELEM(opt_a)); /* 18 bytes */
	nm_pb_v9_opt_tmpl(&t->pb, 301, v9_scope_system, 1, opt_b, NELEM(opt_b)); /* 14 bytes */
	nm_pb_set_end_pad(&t->pb, 4); /* 4 + 32 = 36: none; make it need 2 */
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 302, v9_scope_system, 1, opt_b, NELEM(opt_b)); /* 4 + 14 */
	nm_pb_set_end_pad(&t->pb, 4); /* + 2 */
	assert_int_equal(t->pb.len, 20 + 36 + 20);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err_total(t), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 3);
	assert_int_equal(nm_decoder_template_count(t->d), 3);
}

/* ---- template scope (RFC 7011 8.4; RFC 3954 5.1 Source ID) ---- */

/* Defines template 256 as "IPv4 src + 4-byte bytes" or "8-byte bytes + IPv4 src". */
static void v9_scope_define(struct nm_t *t, uint32_t src, bool swapped)
{
	const struct nm_pb_field a[] = {NF(8, 4), NF(1, 4)};
	const struct nm_pb_field b[] = {NF(1, 8), NF(8, 4)};
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, V9_UPTIME, V9_SECS, 0, src);
	v9_tmpl_set(t, 256, swapped ? b : a, 2);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
}

static void v9_scope_data(struct nm_t *t, uint32_t src, bool swapped, uint8_t last, uint32_t v)
{
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, V9_UPTIME, V9_SECS, 1, src);
	nm_pb_set_begin(&t->pb, 256);
	if (swapped) {
		nm_pb_u64(&t->pb, v);
		nm_pb_ip4(&t->pb, 10, 9, 9, last);
	} else {
		nm_pb_ip4(&t->pb, 10, 9, 9, last);
		nm_pb_u32(&t->pb, v);
	}
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
}

static void v9_scope_check(struct nm_t *t, uint32_t i, uint8_t last, uint32_t v)
{
	char want[32];
	snprintf(want, sizeof(want), "10.9.9.%u", last);
	assert_true(i < t->b.n);
	assert_addr(&t->recs[i].src_addr, want);
	assert_int_equal(t->recs[i].bytes, v);
}

static void test_v9_template_scope(void **state)
{
	struct nm_t *t = NM_T(state);
	/* Same template ID, different layouts: by source ID, address, port. */
	nm_t_from(t, 192, 0, 2, 1, 2055);
	v9_scope_define(t, 1, false);
	v9_scope_define(t, 2, true);
	nm_t_from(t, 192, 0, 2, 2, 2055);
	v9_scope_define(t, 1, true);
	nm_t_from(t, 192, 0, 2, 1, 9996);
	v9_scope_define(t, 1, true);
	assert_int_equal(nm_decoder_template_count(t->d), 4);
	assert_int_equal(nm_decoder_exporter_count(t->d), 4);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_REPLACED), 0);

	nm_t_from(t, 192, 0, 2, 1, 2055);
	v9_scope_data(t, 1, false, 1, 111);
	v9_scope_data(t, 2, true, 2, 222);
	nm_t_from(t, 192, 0, 2, 2, 2055);
	v9_scope_data(t, 1, true, 3, 333);
	nm_t_from(t, 192, 0, 2, 1, 9996);
	v9_scope_data(t, 1, true, 4, 444);
	assert_int_equal(t->b.n, 4);
	v9_scope_check(t, 0, 1, 111);
	v9_scope_check(t, 1, 2, 222);
	v9_scope_check(t, 2, 3, 333);
	v9_scope_check(t, 3, 4, 444);
	assert_int_equal(t->recs[1].observation_domain_id, 2);
	assert_addr(&t->recs[2].sampler_address, "192.0.2.2");
	assert_int_equal(t->recs[3].exporter_port, 9996);

	/* A source ID that never sent the template has none. */
	nm_t_from(t, 192, 0, 2, 1, 2055);
	v9_scope_data(t, 3, false, 5, 555);
	assert_int_equal(t->b.n, 4);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
}

/* Re-sent unchanged = refresh; different fields = replace, decoded the new way. */
static void test_v9_template_refresh_replace(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_scope_define(t, V9_SRC, false);
	v9_scope_define(t, V9_SRC, false);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_REFRESHED), 1);
	v9_scope_data(t, V9_SRC, false, 1, 10);
	v9_scope_define(t, V9_SRC, true);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_REPLACED), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 1);
	v9_scope_data(t, V9_SRC, true, 2, 20);
	v9_scope_check(t, 0, 1, 10);
	v9_scope_check(t, 1, 2, 20);
}

/* ---- sequence numbers: v9 counts datagrams (RFC 3954 5.1) ---- */

struct v9_loss {
	uint32_t domain;
	unsigned found;
	uint64_t gaps, lost, resets;
};

static int v9_loss_cb(const struct nm_exporter_info *x, void *ctx)
{
	struct v9_loss *l = ctx;
	if (x->kind != 9 || x->domain != l->domain)
		return 0;
	l->found++;
	l->gaps = x->seq_gaps;
	l->lost = x->seq_lost;
	l->resets = x->seq_resets;
	return 0;
}

static void v9_empty(struct nm_t *t, uint32_t seq)
{
	v9_begin(t, seq, V9_SRC);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
}

static void test_v9_sequence(void **state)
{
	struct nm_t *t = NM_T(state);
	/* Datagram 10 carries several records: the next is still 11. */
	v9_begin(t, 10, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 1);
	v9_basic_rec(&t->pb, 2, 2);
	v9_basic_rec(&t->pb, 3, 3);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	v9_empty(t, 11);
	v9_empty(t, 12);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 0);
	v9_empty(t, 15); /* 13 and 14 lost */
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_LOST), 2);
	v9_empty(t, 16);
	v9_empty(t, 3); /* back: restart */
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 1);
	v9_empty(t, 4);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_LOST), 2);
	/* Wrap-around is not a reset. */
	v9_empty(t, 0xffffffffu);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 2);
	v9_empty(t, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 2);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	/* Each source ID has its own sequence. */
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, V9_UPTIME, V9_SECS, 5000, V9_SRC + 1);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	v9_empty(t, 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 2);

	/* The same counts per exporter. */
	struct v9_loss l = {V9_SRC, 0, 0, 0, 0};
	nm_decoder_exporter_foreach(t->d, v9_loss_cb, &l);
	assert_int_equal(l.found, 1);
	assert_int_equal(l.gaps, 1);
	assert_int_equal(l.lost, 2);
	assert_int_equal(l.resets, 2);
	struct v9_loss l2 = {V9_SRC + 1, 0, 0, 0, 0};
	nm_decoder_exporter_foreach(t->d, v9_loss_cb, &l2);
	assert_int_equal(l2.found, 1);
	assert_int_equal(l2.gaps + l2.lost + l2.resets, 0);
}

/* ---- template lifetime ---- */

static void test_v9_template_lifetime(void **state)
{
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.template_lifetime_s = 60;
	struct nm_t *u = nm_t_reset(state, &c);
	assert_non_null(u);

	/* Defined at T, used at T+30 (fine), refreshed at T+50, used at T+100
	 * (fine: 50 s after the refresh), used at T+200 (expired). Clocks of
	 * exporter and collector agree. */
	const uint32_t T = NM_T_NOW_S;
	const uint32_t when[] = {T + 30, T + 100, T + 200};
	nm_t_at(u, T);
	nm_pb_init(&u->pb);
	nm_pb_v9_header(&u->pb, 0, V9_UPTIME, T, 0, V9_SRC);
	v9_tmpl_set(u, 256, v9_basic, NELEM(v9_basic));
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	for (unsigned i = 0; i < 3; i++) {
		if (i == 1) {
			nm_t_at(u, T + 50);
			nm_pb_init(&u->pb);
			nm_pb_v9_header(&u->pb, 0, V9_UPTIME, T + 50, 1, V9_SRC);
			v9_tmpl_set(u, 256, v9_basic, NELEM(v9_basic));
			assert_int_equal(nm_t_v9(u), NM_ERR_OK);
			assert_int_equal(nm_t_ev(u, NM_EV_TMPL_REFRESHED), 1);
		}
		nm_t_at(u, when[i]);
		nm_pb_init(&u->pb);
		nm_pb_v9_header(&u->pb, 0, V9_UPTIME, when[i], 2 + i, V9_SRC);
		nm_pb_set_begin(&u->pb, 256);
		v9_basic_rec(&u->pb, (uint8_t)i, 1);
		nm_pb_set_end(&u->pb);
		assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	}
	assert_int_equal(u->b.n, 2);
	assert_int_equal(nm_t_err(u, NM_ERR_DATA_TMPL_EXPIRED), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_TMPL_EXPIRED), 1);
	assert_int_equal(nm_decoder_template_count(u->d), 0);
	assert_identity(u);
}

/*
 * The lifetime is measured on the collector's clock (RFC 7011 8.4: the
 * Collecting Process associates a lifetime with each Template received; the
 * exporter's clock plays no part). An exporter whose clock runs an hour
 * ahead must still have its data decoded by a template it sent in the
 * same datagram.
 */
static void test_v9_template_lifetime_exporter_clock(void **state)
{
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.template_lifetime_s = 60;
	struct nm_t *u = nm_t_reset(state, &c);
	assert_non_null(u);

	nm_t_at(u, NM_T_NOW_S);
	nm_pb_init(&u->pb);
	nm_pb_v9_header(&u->pb, 0, V9_UPTIME, NM_T_NOW_S + 3600, 0, V9_SRC);
	v9_tmpl_set(u, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&u->pb, 256);
	v9_basic_rec(&u->pb, 1, 1);
	nm_pb_set_end(&u->pb);
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	assert_int_equal(nm_t_err(u, NM_ERR_DATA_TMPL_EXPIRED), 0);
	assert_int_equal(u->b.n, 1);

	/* Exporter clock stuck at 0 (never set): the template still expires
	 * when the collector has not seen it refreshed for the lifetime. */
	nm_t_at(u, NM_T_NOW_S);
	nm_pb_init(&u->pb);
	nm_pb_v9_header(&u->pb, 0, V9_UPTIME, 0, 0, V9_SRC + 1);
	v9_tmpl_set(u, 256, v9_basic, NELEM(v9_basic));
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	nm_t_at(u, NM_T_NOW_S + 3600);
	nm_pb_init(&u->pb);
	nm_pb_v9_header(&u->pb, 0, V9_UPTIME, 0, 1, V9_SRC + 1);
	nm_pb_set_begin(&u->pb, 256);
	v9_basic_rec(&u->pb, 2, 2);
	nm_pb_set_end(&u->pb);
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	assert_int_equal(nm_t_err(u, NM_ERR_DATA_TMPL_EXPIRED), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_TMPL_EXPIRED), 1);
}

/* ---- decode errors ---- */

static void test_v9_err_short_header(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	t->pb.len = 19;
	assert_int_equal(nm_t_v9(t), NM_ERR_SHORT_HEADER);
	assert_int_equal(nm_t_err(t, NM_ERR_SHORT_HEADER), 1);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
	assert_identity(t);
}

static void test_v9_err_bad_version(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	nm_pb_patch_u16(&t->pb, 0, 10);
	assert_int_equal(nm_t_v9(t), NM_ERR_BAD_VERSION);
	assert_int_equal(nm_t_err(t, NM_ERR_BAD_VERSION), 1);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
	assert_identity(t);
}

/* 1-3 bytes after the last flowset: zeros are padding, anything else fatal. */
static void test_v9_err_set_header_truncated(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_zeros(&t->pb, 3);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_PADDING), 1);

	v9_begin(t, 1, V9_SRC);
	v9_tmpl_set(t, 257, v9_basic, NELEM(v9_basic));
	nm_pb_u8(&t->pb, 1);
	nm_pb_u8(&t->pb, 0);
	assert_int_equal(nm_t_v9(t), NM_ERR_SET_HEADER_TRUNCATED);
	assert_int_equal(nm_t_err(t, NM_ERR_SET_HEADER_TRUNCATED), 1);
	/* The template before the bad bytes was learned. */
	assert_int_equal(nm_decoder_template_count(t->d), 2);
	assert_identity(t);
}

static void test_v9_err_set_length(void **state)
{
	struct nm_t *t = NM_T(state);
	/* Length below 4 (not all-zero padding). */
	v9_begin(t, 0, V9_SRC);
	nm_pb_u16(&t->pb, 256);
	nm_pb_u16(&t->pb, 3);
	nm_pb_u32(&t->pb, 0);
	assert_int_equal(nm_t_v9(t), NM_ERR_SET_LENGTH);
	assert_int_equal(nm_t_err(t, NM_ERR_SET_LENGTH), 1);

	/* Length beyond the datagram; records of the earlier flowset stay. */
	v9_begin(t, 1, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 77);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 2, 88);
	nm_pb_set_end(&t->pb);
	t->pb.len -= 1;
	assert_int_equal(nm_t_v9(t), NM_ERR_SET_LENGTH);
	assert_int_equal(nm_t_err(t, NM_ERR_SET_LENGTH), 2);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 77);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams_ok, 0);

	/* A zero-filled tail of any length is padding. */
	v9_begin(t, 2, V9_SRC);
	nm_pb_zeros(&t->pb, 40);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_SET_LENGTH), 2);
	assert_identity(t);
}

/* Flowset IDs 2..255 are reserved (RFC 3954 5.3): skipped, not fatal. */
static void test_v9_err_set_reserved_id(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	nm_pb_set_begin(&t->pb, 2); /* an IPFIX template set ID: not v9 */
	nm_pb_tmpl(&t->pb, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 255);
	nm_pb_u32(&t->pb, 0xdeadbeef);
	nm_pb_set_end(&t->pb);
	v9_tmpl_set(t, 257, v9_basic, NELEM(v9_basic));
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_SET_RESERVED_ID), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 1); /* only 257 */
	assert_identity(t);
}

static void test_v9_err_tmpl_truncated(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl_begin(&t->pb, 256, 10); /* says 10 fields, has 2 */
	nm_pb_u16(&t->pb, 8);
	nm_pb_u16(&t->pb, 4);
	nm_pb_u16(&t->pb, 1);
	nm_pb_u16(&t->pb, 4);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_TRUNCATED), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 0);

	/* Options template whose fields run past its flowset. */
	const struct nm_pb_field opt[] = {NF(34, 4), NF(35, 1)};
	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 300, v9_scope_system, 1, opt, NELEM(opt));
	t->pb.len -= 4;
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_TRUNCATED), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 0);
	assert_identity(t);
}

static void test_v9_err_tmpl_too_many_fields(void **state)
{
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.max_fields_per_template = 4;
	struct nm_t *u = nm_t_reset(state, &c);
	assert_non_null(u);
	const struct nm_pb_field f5[] = {NF(8, 4), NF(12, 4), NF(7, 2), NF(11, 2), NF(4, 1)};
	v9_begin(u, 0, V9_SRC);
	v9_tmpl_set(u, 256, f5, 5);
	v9_tmpl_set(u, 257, f5, 4); /* at the cap: fine */
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	assert_int_equal(nm_t_err(u, NM_ERR_TMPL_TOO_MANY_FIELDS), 1);
	assert_int_equal(nm_decoder_template_count(u->d), 1);

	const struct nm_pb_field opt[] = {NF(34, 4), NF(35, 1), NF(48, 1), NF(50, 4)};
	v9_begin(u, 1, V9_SRC);
	nm_pb_set_begin(&u->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&u->pb, 300, v9_scope_system, 1, opt, NELEM(opt)); /* 5 fields */
	nm_pb_set_end_pad(&u->pb, 4);
	assert_int_equal(nm_t_v9(u), NM_ERR_OK);
	assert_int_equal(nm_t_err(u, NM_ERR_TMPL_TOO_MANY_FIELDS), 2);
	assert_int_equal(nm_decoder_template_count(u->d), 1);
	assert_identity(u);
}

static void test_v9_err_tmpl_zero_length(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field zero[] = {NF(8, 0), NF(1, 0)};
	v9_define(t, 0, 256, v9_basic, NELEM(v9_basic));
	v9_begin(t, 1, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, 256, zero, 2); /* re-defines 256 with empty records */
	nm_pb_tmpl(&t->pb, 257, zero, 0); /* no fields at all */
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_zeros(&t->pb, 8);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_ZERO_LENGTH), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 0); /* old 256 dropped too */
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
	assert_int_equal(t->b.n, 0);
	assert_identity(t);
}

static void test_v9_err_tmpl_bad_id(void **state)
{
	struct nm_t *t = NM_T(state);
	const struct nm_pb_field opt[] = {NF(34, 4)};
	v9_begin(t, 0, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, 255, v9_basic, NELEM(v9_basic));
	nm_pb_tmpl(&t->pb, 256, v9_basic, NELEM(v9_basic)); /* still read after it */
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_v9_opt_tmpl(&t->pb, 1, v9_scope_system, 1, opt, 1);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_BAD_ID), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 1);
	assert_identity(t);
}

/* Options template scope/option lengths must be whole field specifiers. */
static void test_v9_err_tmpl_bad_scope(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	nm_pb_set_begin(&t->pb, NM_PB_V9_OPT_SET);
	nm_pb_u16(&t->pb, 300);
	nm_pb_u16(&t->pb, 3); /* scope length 3 */
	nm_pb_u16(&t->pb, 4);
	nm_pb_u16(&t->pb, 1);
	nm_pb_u16(&t->pb, 4);
	nm_pb_u16(&t->pb, 34);
	nm_pb_u16(&t->pb, 4);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_BAD_SCOPE), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 0);
	assert_identity(t);
}

static void test_v9_err_data_no_template(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_begin(t, 0, V9_SRC);
	nm_pb_set_begin(&t->pb, 1000);
	nm_pb_zeros(&t->pb, 40);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 1001);
	nm_pb_zeros(&t->pb, 40);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 2);
	assert_int_equal(t->b.n, 0);
	assert_identity(t);
}

static void test_v9_err_batch_full(void **state)
{
	struct nm_t *t = NM_T(state);
	t->b.cap = 1;
	v9_begin(t, 0, V9_SRC);
	v9_tmpl_set(t, 256, v9_basic, NELEM(v9_basic));
	nm_pb_set_begin(&t->pb, 256);
	v9_basic_rec(&t->pb, 1, 1);
	v9_basic_rec(&t->pb, 2, 2);
	v9_basic_rec(&t->pb, 3, 3);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 1);
	assert_int_equal(nm_t_err(t, NM_ERR_BATCH_FULL), 2);
	assert_int_equal(nm_decoder_stats(t->d)->records, 1);
	assert_identity(t);
}

/*
 * A template whose fields each go to their own record field runs the fast
 * record loops (ops grouped by kind); the same fields plus IE 60 (ipVersion,
 * whose effect depends on order) run the ordered loop. Both must give
 * byte-identical records. A next hop of 0.0.0.0 is none (::).
 */
static const struct nm_pb_field v9_fast[] = {
	NF(1, 8), NF(2, 4), NF(4, 1), NF(7, 2), NF(10, 4), NF(8, 4), NF(12, 4), NF(15, 4),
	NF(63, 16), NF(56, 6), NF(80, 6), NF(22, 4), NF(21, 4), NF(48, 1), NF(16, 4), NF(17, 4),
	NF(58, 2),
};
static const struct nm_pb_field v9_ordered[] = {
	NF(1, 8), NF(2, 4), NF(4, 1), NF(7, 2), NF(10, 4), NF(8, 4), NF(12, 4), NF(15, 4),
	NF(63, 16), NF(56, 6), NF(80, 6), NF(22, 4), NF(21, 4), NF(48, 1), NF(16, 4), NF(17, 4),
	NF(58, 2), NF(60, 1),
};

static void v9_fast_rec(struct nm_pb *pb, uint8_t i, bool ipver)
{
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
	nm_pb_u64(pb, 0x0102030405060708ull + i);
	nm_pb_u32(pb, 0x0a0b0c0du + i);
	nm_pb_u8(pb, (uint8_t)(6 + i));
	nm_pb_u16(pb, (uint16_t)(0xc350 + i));
	nm_pb_u32(pb, 0x80000001u + i);
	nm_pb_ip4(pb, 10, 1, 1, i);
	nm_pb_ip4(pb, 10, 2, 2, (uint8_t)(i + 100));
	if (i == 1)
		nm_pb_ip4(pb, 192, 0, 2, 254);
	else
		nm_pb_ip4(pb, 0, 0, 0, 0);
	nm_pb_bytes(pb, v6, 16);
	nm_pb_mac(pb, 0x0000a1a2a3a4a5a6ull + i);
	nm_pb_mac(pb, 0x0000b1b2b3b4b5b6ull);
	nm_pb_u32(pb, V9_UPTIME - 60000);
	nm_pb_u32(pb, V9_UPTIME - 1000);
	nm_pb_u8(pb, 1);
	nm_pb_u32(pb, 64500u + i);
	nm_pb_u32(pb, 4200000000u);
	nm_pb_u16(pb, (uint16_t)(100 + i)); /* vlanId: VlanId too, read back */
	if (ipver)
		nm_pb_u8(pb, 4);
}

static void test_v9_fast_paths_agree(void **state)
{
	struct nm_t *t = NM_T(state);
	v9_define(t, 1, 300, v9_fast, NELEM(v9_fast));
	v9_define(t, 2, 301, v9_ordered, NELEM(v9_ordered));
	v9_begin(t, 3, V9_SRC);
	nm_pb_set_begin(&t->pb, 300);
	v9_fast_rec(&t->pb, 1, false);
	v9_fast_rec(&t->pb, 2, false);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 301);
	v9_fast_rec(&t->pb, 1, true);
	v9_fast_rec(&t->pb, 2, true);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 4);
	for (int i = 0; i < 2; i++)
		assert_memory_equal(&t->recs[i], &t->recs[2 + i], sizeof(struct nm_flow));
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->bytes, 0x0102030405060709ull);
	assert_int_equal(f->packets, 0x0a0b0c0eu);
	assert_int_equal(f->proto, 7);
	assert_int_equal(f->src_port, 0xc351);
	assert_int_equal(f->in_if, 0x80000002u);
	assert_addr(&f->src_addr, "10.1.1.1");
	assert_addr(&f->dst_addr, "10.2.2.101");
	assert_addr(&f->next_hop, "192.0.2.254");
	assert_addr(&f->bgp_next_hop, "2001:db8::9");
	assert_int_equal(f->src_mac, 0xa1a2a3a4a5a7ull);
	assert_int_equal(f->dst_mac, 0xb1b2b3b4b5b6ull);
	assert_int_equal(f->sampler_id, 1);
	assert_int_equal(f->src_as, 64501);
	assert_int_equal(f->dst_as, 4200000000u);
	assert_int_equal(f->etype, 0x0800);
	assert_int_equal(f->src_vlan, 101);
	assert_int_equal(f->vlan_id, 101);
	assert_int_equal(f->time_flow_start_ns, ((uint64_t)V9_SECS * 1000 - 60000) * NM_T_MS);
	assert_true(nm_addr_is_zero(&t->recs[1].next_hop)); /* 0.0.0.0: none */
	assert_addr(&t->recs[1].src_addr, "10.1.1.2");
	assert_int_equal(nm_t_err_total(t), 0);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, nm_t_setup, nm_t_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_v9_template_and_data),
		TEST(test_v9_fast_paths_agree),
		TEST(test_v9_data_before_template),
		TEST(test_v9_multiple_templates),
		TEST(test_v9_field_map),
		TEST(test_v9_ipv6_fields),
		TEST(test_v9_mpls),
		TEST(test_v9_sampler_options),
		TEST(test_v9_scope_fields_not_ies),
		TEST(test_v9_sampling_interval_exporter_wide),
		TEST(test_v9_rate_in_data_record),
		TEST(test_v9_rate_unknown),
		TEST(test_v9_options_template_padding),
		TEST(test_v9_template_scope),
		TEST(test_v9_template_refresh_replace),
		TEST(test_v9_sequence),
		TEST(test_v9_template_lifetime),
		TEST(test_v9_template_lifetime_exporter_clock),
		TEST(test_v9_err_short_header),
		TEST(test_v9_err_bad_version),
		TEST(test_v9_err_set_header_truncated),
		TEST(test_v9_err_set_length),
		TEST(test_v9_err_set_reserved_id),
		TEST(test_v9_err_tmpl_truncated),
		TEST(test_v9_err_tmpl_too_many_fields),
		TEST(test_v9_err_tmpl_zero_length),
		TEST(test_v9_err_tmpl_bad_id),
		TEST(test_v9_err_tmpl_bad_scope),
		TEST(test_v9_err_data_no_template),
		TEST(test_v9_err_batch_full),
	};
	return cmocka_run_group_tests_name("netflow_v9", tests, NULL, NULL);
}
