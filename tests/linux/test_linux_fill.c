/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Linux inputs' record mapping without a kernel: nm_nflog_fill() on
 * hand-built IPv4/IPv6 packets (cut by copy_range, not IP) and nm_ct_fill()
 * on a DNAT'd connection, both directions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "linux_in.h"

static const uint8_t nm_v4_tcp[] = {
	0x45, 0x00, 0x05, 0xdc, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, /* len 1500 */
	10, 99, 0, 1, 10, 99, 0, 2,                                           /* addrs */
	0xc3, 0x50, 0x13, 0x89, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, /* 50000 -> 5001, PSH|ACK */
	0, 0, 0, 0,
};

static void test_nflog_v4(void **state)
{
	(void)state;
	struct nm_nflog_pkt pk = {0};
	pk.payload = nm_v4_tcp;
	pk.len = sizeof(nm_v4_tcp); /* copy_range cut the 1500-byte packet */
	pk.hw_protocol = 0x0800;
	pk.group = 7;
	pk.sampling_rate = 400;
	pk.outdev = 3;
	pk.mark = 0x42;
	pk.uid = 1000;
	pk.has_uid = true;
	pk.seq = 9;
	pk.now_ns = 5000000000ull;
	struct nm_flow f = {0};
	bool cut, pcut;
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_false(cut);
	assert_int_equal(f.type, NM_FLOW_TYPE_NFLOG);
	assert_int_equal(f.bytes, 1500); /* the IP header's length, not the copy's */
	assert_int_equal(f.packets, 1);
	assert_int_equal(f.sampling_rate, 400);
	assert_int_equal(f.observation_domain_id, 7);
	assert_int_equal(f.sequence_num, 9);
	assert_int_equal(f.proto, 6);
	assert_int_equal(f.src_port, 50000);
	assert_int_equal(f.dst_port, 5001);
	assert_int_equal(f.tcp_flags, 0x18);
	assert_int_equal(f.ip_ttl, 64);
	assert_int_equal(f.fragment_id, 0x1234);
	assert_int_equal(f.out_if, 3);
	assert_int_equal(f.flow_direction, 1);
	assert_int_equal(f.mark, 0x42);
	assert_int_equal(f.socket_uid, 1000);
	assert_int_equal(f.has_socket_uid, 1);
	assert_int_equal(f.time_flow_start_ns, 5000000000ull);
	assert_int_equal(f.src_addr.b[15], 1);
	assert_int_equal(f.dst_addr.b[15], 2);
	assert_int_equal(f.nflog_prefix_len, 0); /* the kernel sent none */
	assert_false(pcut);
	/* the prefix: cleaned, at most 64 bytes, counted when cut */
	static const char pre[] = "nm in \x01\xff:";
	pk.prefix = pre;
	pk.prefix_len = sizeof(pre) - 1;
	memset(&f, 0, sizeof(f));
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_int_equal(f.nflog_prefix_len, 9);
	assert_memory_equal(f.nflog_prefix, "nm in ??:", 9);
	assert_int_equal(f.as_path_len + f.communities_len, 0);
	assert_false(pcut);
	char longp[127];
	memset(longp, 'p', sizeof(longp)); /* nftables takes up to 127 */
	pk.prefix = longp;
	pk.prefix_len = sizeof(longp);
	memset(&f, 0, sizeof(f));
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_int_equal(f.nflog_prefix_len, NM_NFLOG_PREFIX_MAX);
	assert_true(pcut);
	pk.prefix = NULL;
	pk.prefix_len = 0;
	/* cut inside the TCP header: ports kept, flags unset, counted as cut */
	memset(&f, 0, sizeof(f));
	pk.len = 24;
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_true(cut);
	assert_int_equal(f.src_port, 50000);
	assert_int_equal(f.tcp_flags, 0);
	assert_int_equal(f.bytes, 1500);
	/* no protocol from the kernel: the version nibble says IPv4 */
	pk.hw_protocol = 0;
	memset(&f, 0, sizeof(f));
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_int_equal(f.etype, 0x0800);
	/* ARP (bridge family): no record */
	pk.hw_protocol = 0x0806;
	memset(&f, 0, sizeof(f));
	assert_false(nm_nflog_fill(&f, &pk, &cut, &pcut));
	/* nothing at all: no read, no record */
	pk.hw_protocol = 0;
	pk.len = 0;
	assert_false(nm_nflog_fill(&f, &pk, &cut, &pcut));
}

static void test_nflog_v6(void **state)
{
	(void)state;
	uint8_t p[48] = {0x60, 0, 0, 0, 0x00, 0x40, 58, 255};
	p[8] = 0xfd;
	p[23] = 1;
	p[24] = 0xfd;
	p[39] = 2;
	p[40] = 128; /* echo request */
	struct nm_nflog_pkt pk = {0};
	pk.payload = p;
	pk.len = sizeof(p);
	pk.hw_protocol = 0x86dd;
	pk.sampling_rate = 1;
	pk.indev = 2;
	uint8_t eth[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd};
	pk.hw_type = 1; /* ARPHRD_ETHER */
	pk.hw_hdr = eth;
	pk.hw_hdr_len = sizeof(eth);
	struct nm_flow f = {0};
	bool cut, pcut;
	assert_true(nm_nflog_fill(&f, &pk, &cut, &pcut));
	assert_int_equal(f.bytes, 40 + 64);
	assert_int_equal(f.proto, 58);
	assert_int_equal(f.icmp_type, 128);
	assert_int_equal(f.ip_ttl, 255);
	assert_int_equal(f.in_if, 2);
	assert_int_equal(f.flow_direction, 0);
	assert_int_equal(f.dst_mac, 0x020000000001ull);
	assert_int_equal(f.src_mac, 0x020000000002ull);
}

static void nm_v4(struct nm_addr *a, uint8_t x, uint8_t y, uint8_t z, uint8_t w)
{
	const uint8_t b[4] = {x, y, z, w};
	nm_addr_set_v4(a, b);
}

static void test_ct_dnat(void **state)
{
	(void)state;
	struct nm_ct_entry e = {0};
	e.l3 = 4;
	e.proto = 6;
	nm_v4(&e.orig.src, 10, 99, 0, 1);
	nm_v4(&e.orig.dst, 10, 99, 0, 100);
	e.orig.sport = 40000;
	e.orig.dport = 80;
	nm_v4(&e.reply.src, 10, 99, 0, 2);
	nm_v4(&e.reply.dst, 10, 99, 0, 1);
	e.reply.sport = 5001;
	e.reply.dport = 40000;
	e.has_counters = true;
	e.bytes[0] = 304064;
	e.packets[0] = 78;
	e.bytes[1] = 3960;
	e.packets[1] = 76;
	e.start_ns = 1000;
	e.stop_ns = 2000;
	e.zone = 3;
	e.mark = 9;
	e.id = 77;
	e.status = 0x20 | 0x4;
	struct nm_flow o = {0}, r = {0};
	nm_ct_fill(&o, &e, 0, 3, 5000);
	nm_ct_fill(&r, &e, 1, 3, 5000);
	assert_int_equal(o.type, NM_FLOW_TYPE_CONNTRACK);
	assert_int_equal(o.bi_flow_direction, 1);
	assert_int_equal(r.bi_flow_direction, 2);
	assert_int_equal(o.bytes, 304064);
	assert_int_equal(o.packets, 78);
	assert_int_equal(r.bytes, 3960);
	assert_int_equal(r.packets, 76);
	assert_int_equal(o.dst_addr.b[15], 100);
	assert_int_equal(o.dst_port, 80);
	assert_int_equal(o.post_nat_dst_addr.b[15], 2); /* the server behind the DNAT */
	assert_int_equal(o.post_nat_dst_port, 5001);
	assert_int_equal(o.post_nat_src_addr.b[15], 1);
	assert_int_equal(o.post_nat_src_port, 40000);
	assert_int_equal(r.src_addr.b[15], 2);
	assert_int_equal(r.src_port, 5001);
	assert_int_equal(r.post_nat_src_addr.b[15], 100); /* what the client saw */
	assert_int_equal(r.post_nat_src_port, 80);
	assert_int_equal(o.time_flow_start_ns, 1000);
	assert_int_equal(o.time_flow_end_ns, 2000);
	assert_int_equal(o.flow_end_reason, 3);
	assert_int_equal(o.sampling_rate, 1);
	assert_int_equal(o.conntrack_zone, 3);
	assert_int_equal(o.mark, 9);
	assert_int_equal(r.conntrack_id, 77);
	assert_int_equal(o.conntrack_status, 0x24);
	assert_int_equal(o.etype, 0x0800);
	/* no timestamps (nf_conntrack_timestamp off): the event's time */
	e.start_ns = e.stop_ns = 0;
	memset(&o, 0, sizeof(o));
	nm_ct_fill(&o, &e, 0, 2, 5000);
	assert_int_equal(o.time_flow_start_ns, 5000);
	assert_int_equal(o.time_flow_end_ns, 5000);
	assert_int_equal(o.flow_end_reason, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nflog_v4),
		cmocka_unit_test(test_nflog_v6),
		cmocka_unit_test(test_ct_dnat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
