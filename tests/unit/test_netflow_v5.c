/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NetFlow v5 decoder tests (Cisco fixed format: 24-byte header, 48-byte
 * records), plus nm_decode_any() / nm_decode_sniff() dispatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "nm_test.h"

#define V5_UPTIME 3600000u /* 1 h */
#define V5_SECS 1700000000u

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static struct nm_pb_v5_rec v5_tcp_rec(void)
{
	struct nm_pb_v5_rec r = {
		.src = IP4(10, 0, 0, 1),
		.dst = IP4(10, 0, 0, 2),
		.nexthop = IP4(10, 0, 0, 254),
		.in_if = 3,
		.out_if = 4,
		.packets = 10,
		.bytes = 1500,
		.first = V5_UPTIME - 10000,
		.last = V5_UPTIME - 1000,
		.src_port = 1234,
		.dst_port = 80,
		.tcp_flags = 0x1b,
		.proto = 6,
		.tos = 0x10,
		.src_as = 64512,
		.dst_as = 65000,
		.src_mask = 24,
		.dst_mask = 16,
	};
	return r;
}

/* A v5 datagram of n copies of r with the given header sampling field. */
static void v5_build(struct nm_pb *pb, unsigned n, uint32_t seq, uint16_t sampling,
		     const struct nm_pb_v5_rec *r)
{
	nm_pb_init(pb);
	nm_pb_v5_header(pb, (uint16_t)n, V5_UPTIME, V5_SECS, 0, seq, 1, 2, sampling);
	for (unsigned i = 0; i < n; i++)
		nm_pb_v5_record(pb, r);
}

static void test_v5_fields(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	struct nm_pb_v5_rec icmp = v5_tcp_rec();
	icmp.proto = 1;
	icmp.src_port = 0;
	icmp.dst_port = 3 << 8 | 4; /* type 3 (unreachable), code 4 */

	nm_pb_init(&t->pb);
	nm_pb_v5_header(&t->pb, 2, V5_UPTIME, V5_SECS, 0, 1000, 1, 2, 0);
	nm_pb_v5_record(&t->pb, &r);
	nm_pb_v5_record(&t->pb, &icmp);
	assert_false(t->pb.overflow);
	assert_int_equal(t->pb.len, 24 + 2 * 48);
	nm_t_at(t, V5_SECS + 1);

	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	const struct nm_flow *f = &t->recs[0];
	assert_int_equal(f->type, NM_FLOW_TYPE_NETFLOW_V5);
	assert_addr(&f->src_addr, "10.0.0.1");
	assert_addr(&f->dst_addr, "10.0.0.2");
	assert_addr(&f->next_hop, "10.0.0.254");
	assert_addr(&f->sampler_address, "192.0.2.1");
	assert_true(nm_addr_is_v4(&f->src_addr));
	assert_int_equal(f->exporter_port, 2055);
	assert_int_equal(f->in_if, 3);
	assert_int_equal(f->out_if, 4);
	assert_int_equal(f->packets, 10);
	assert_int_equal(f->bytes, 1500);
	assert_int_equal(f->src_port, 1234);
	assert_int_equal(f->dst_port, 80);
	assert_int_equal(f->tcp_flags, 0x1b);
	assert_int_equal(f->proto, 6);
	assert_int_equal(f->ip_tos, 0x10);
	assert_int_equal(f->src_as, 64512);
	assert_int_equal(f->dst_as, 65000);
	assert_int_equal(f->src_net, 24);
	assert_int_equal(f->dst_net, 16);
	assert_int_equal(f->etype, 0x0800);
	assert_int_equal(f->sequence_num, 1000);
	assert_int_equal(f->observation_domain_id, 1 << 8 | 2);
	assert_int_equal(f->time_received_ns, (uint64_t)(V5_SECS + 1) * NM_T_NS);
	assert_int_equal(f->time_received, V5_SECS + 1);
	assert_int_equal(f->icmp_type, 0);
	assert_int_equal(f->icmp_code, 0);
	assert_int_equal(f->sampling_rate, 0);
	assert_false(f->has_mpls);

	f = &t->recs[1];
	assert_int_equal(f->proto, 1);
	assert_int_equal(f->icmp_type, 3);
	assert_int_equal(f->icmp_code, 4);

	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->datagrams, 1);
	assert_int_equal(s->datagrams_ok, 1);
	assert_int_equal(s->records, 2);
	assert_int_equal(nm_t_err_total(t), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_ADDED), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 2);
	assert_int_equal(nm_decoder_exporter_count(t->d), 1);
	assert_identity(t);
}

/* First/Last are sysUptime ms; absolute = export time - (sysUptime - First). */
static void test_v5_time_conversion(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	r.first = V5_UPTIME - 10000; /* 10 s before export */
	r.last = V5_UPTIME - 1500;   /* 1.5 s before export */

	nm_pb_init(&t->pb);
	nm_pb_v5_header(&t->pb, 1, V5_UPTIME, V5_SECS, 250000000, 1, 0, 0, 0);
	nm_pb_v5_record(&t->pb, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	const struct nm_flow *f = &t->recs[0];
	uint64_t export_ns = (uint64_t)V5_SECS * NM_T_NS + 250000000ull;
	assert_int_equal(f->time_flow_start_ns, export_ns - 10000 * NM_T_MS);
	assert_int_equal(f->time_flow_end_ns, export_ns - 1500 * NM_T_MS);
	assert_int_equal(f->time_flow_start, V5_SECS - 10);  /* ...990.25 s */
	assert_int_equal(f->time_flow_end, V5_SECS - 2);     /* ...998.75 s */

	/* sysUptime wrapped (49.7 days) between First and export. */
	nm_t_clear(t);
	r.first = 0xfffff000u; /* 4096 ms before the wrap */
	r.last = 1000;
	nm_pb_init(&t->pb);
	nm_pb_v5_header(&t->pb, 1, 5000, V5_SECS, 0, 2, 0, 0, 0);
	nm_pb_v5_record(&t->pb, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	f = &t->recs[0];
	assert_int_equal(f->time_flow_start_ns, ((uint64_t)V5_SECS * 1000 - 9096) * NM_T_MS);
	assert_int_equal(f->time_flow_end_ns, ((uint64_t)V5_SECS * 1000 - 4000) * NM_T_MS);
	assert_true(f->time_flow_start_ns < f->time_flow_end_ns);
}

/* Header sampling_interval: 2 bits mode, 14 bits interval. */
static void test_v5_sampling_interval(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();

	v5_build(&t->pb, 2, 0, 0x4000 | 100, &r); /* mode 1 (deterministic), 1 in 100 */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 100);
	assert_int_equal(t->recs[1].sampling_rate, 100);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 0);

	nm_t_clear(t);
	v5_build(&t->pb, 1, 2, 0x8000 | 0x3fff, &r); /* mode 2 (random), largest interval */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 16383);

	nm_t_clear(t);
	v5_build(&t->pb, 3, 3, 0, &r); /* not stated */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(t->recs[i].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 3);
}

/*
 * A static per-exporter rate (nm_decoder_set_static_rate) fills in where the
 * header states none, and replaces the stated one with override.
 */
static void test_v5_static_rate(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	struct nm_addr a1, a7;
	const uint8_t v1[4] = {192, 0, 2, 1}, v7[4] = {192, 0, 2, 7};
	nm_addr_set_v4(&a1, v1);
	nm_addr_set_v4(&a7, v7);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a1, 1000, false), 0);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a7, 512, true), 0);

	v5_build(&t->pb, 1, 0, 0, &r); /* 192.0.2.1, not stated: filled in */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 1000);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 0);

	nm_t_clear(t);
	v5_build(&t->pb, 1, 1, 0x4000 | 100, &r); /* stated: kept */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 100);

	nm_t_clear(t);
	nm_t_from(t, 192, 0, 2, 7, 2055); /* override: replaces the stated 100 */
	v5_build(&t->pb, 1, 0, 0x4000 | 100, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 512);

	nm_t_clear(t);
	nm_t_from(t, 192, 0, 2, 9, 2055); /* no static rate: unknown stays 0 */
	v5_build(&t->pb, 1, 0, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].sampling_rate, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RATE_UNKNOWN), 1);

	/* the table is bounded */
	for (unsigned i = 2; i < NM_STATIC_RATES_MAX; i++)
		assert_int_equal(nm_decoder_set_static_rate(t->d, &a1, 1, false), 0);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a1, 1, false), -1);
	assert_identity(t);
}

/* flow_sequence counts flows: the next datagram's is this one's + count. */
static void test_v5_sequence(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();

	v5_build(&t->pb, 2, 100, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	v5_build(&t->pb, 3, 102, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_LOST), 0);

	v5_build(&t->pb, 1, 112, 0, &r); /* expected 105: 7 flows lost */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_LOST), 7);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 0);

	v5_build(&t->pb, 1, 50, 0, &r); /* went back: exporter restarted */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);

	v5_build(&t->pb, 1, 51, 0, &r); /* counting restarted from 50 */
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_LOST), 7);
	assert_int_equal(t->recs[t->b.n - 1].sequence_num, 51);
}

/* Engine type/ID scope the exporter: two engines have their own sequences. */
static void test_v5_engine_scope(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();

	for (unsigned i = 0; i < 3; i++) {
		nm_pb_init(&t->pb);
		nm_pb_v5_header(&t->pb, 1, V5_UPTIME, V5_SECS, 0, 10 + i, 0, 1, 0);
		nm_pb_v5_record(&t->pb, &r);
		assert_int_equal(nm_t_v5(t), NM_ERR_OK);
		nm_pb_init(&t->pb);
		nm_pb_v5_header(&t->pb, 1, V5_UPTIME, V5_SECS, 0, 5000 + i, 0, 2, 0);
		nm_pb_v5_record(&t->pb, &r);
		assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	}
	assert_int_equal(nm_decoder_exporter_count(t->d), 2);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_GAP), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_SEQ_RESET), 0);
	assert_int_equal(t->recs[0].observation_domain_id, 1);
	assert_int_equal(t->recs[1].observation_domain_id, 2);
}

static void test_v5_trailing_padding(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	v5_build(&t->pb, 1, 0, 0, &r);
	nm_pb_zeros(&t->pb, 4);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(nm_t_ev(t, NM_EV_PADDING), 1);
}

/* ---- one test per decode error the v5 decoder can raise ---- */

static void test_v5_err_short_header(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	v5_build(&t->pb, 1, 0, 0, &r);
	t->pb.len = 23;
	assert_int_equal(nm_t_v5(t), NM_ERR_SHORT_HEADER);
	assert_int_equal(nm_t_err(t, NM_ERR_SHORT_HEADER), 1);
	t->pb.len = 0;
	assert_int_equal(nm_t_v5(t), NM_ERR_SHORT_HEADER);
	assert_int_equal(nm_t_err(t, NM_ERR_SHORT_HEADER), 2);
	assert_int_equal(t->b.n, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 0);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams_ok, 0);
	assert_identity(t);
}

static void test_v5_err_bad_version(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	v5_build(&t->pb, 1, 0, 0, &r);
	nm_pb_patch_u16(&t->pb, 0, 7);
	assert_int_equal(nm_t_v5(t), NM_ERR_BAD_VERSION);
	assert_int_equal(nm_t_err(t, NM_ERR_BAD_VERSION), 1);
	assert_int_equal(nm_t_err_total(t), 1);
	assert_int_equal(t->b.n, 0);
	assert_identity(t);
}

static void test_v5_err_bad_count(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	v5_build(&t->pb, 1, 0, 0, &r);
	nm_pb_patch_u16(&t->pb, 2, 0);
	assert_int_equal(nm_t_v5(t), NM_ERR_V5_BAD_COUNT);
	assert_int_equal(nm_t_err(t, NM_ERR_V5_BAD_COUNT), 1);

	/* 31 records, all present: still above the format's 30. */
	v5_build(&t->pb, 31, 0, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_V5_BAD_COUNT);
	assert_int_equal(nm_t_err(t, NM_ERR_V5_BAD_COUNT), 2);

	/* 30 is fine. */
	v5_build(&t->pb, 30, 0, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 30);
	assert_int_equal(nm_t_err_total(t), 2);
	assert_identity(t);
}

static void test_v5_err_truncated(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	v5_build(&t->pb, 2, 0, 0, &r);
	t->pb.len -= 1; /* second record one byte short */
	assert_int_equal(nm_t_v5(t), NM_ERR_V5_TRUNCATED);
	assert_int_equal(nm_t_err(t, NM_ERR_V5_TRUNCATED), 1);
	assert_int_equal(t->b.n, 0);
	assert_int_equal(nm_decoder_stats(t->d)->records, 0);
	assert_identity(t);
}

static void test_v5_err_batch_full(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	t->b.cap = 2;
	v5_build(&t->pb, 5, 0, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK); /* not fatal */
	assert_int_equal(t->b.n, 2);
	assert_int_equal(nm_t_err(t, NM_ERR_BATCH_FULL), 3);
	assert_int_equal(nm_decoder_stats(t->d)->records, 2);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams_ok, 1);
	assert_identity(t);
}

struct v5_sink {
	unsigned calls;
	uint64_t bytes;
};

static void v5_flush(struct nm_flow_batch *b, void *ctx)
{
	struct v5_sink *s = ctx;
	s->calls++;
	for (uint32_t i = 0; i < b->n; i++)
		s->bytes += b->recs[i].bytes;
	b->n = 0;
}

static void test_v5_batch_flush(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();
	struct v5_sink sink = {0, 0};
	t->b.cap = 2;
	t->b.flush = v5_flush;
	t->b.flush_ctx = &sink;
	v5_build(&t->pb, 5, 0, 0, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);
	assert_int_equal(sink.calls, 2);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(sink.bytes + t->recs[0].bytes, 5 * 1500);
	assert_int_equal(nm_t_err(t, NM_ERR_BATCH_FULL), 0);
	assert_int_equal(nm_decoder_stats(t->d)->records, 5);
}

/* ---- dispatch ---- */

static void test_decode_any_dispatch(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_pb_v5_rec r = v5_tcp_rec();

	v5_build(&t->pb, 1, 0, 0, &r);
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_NETFLOW_V5);
	assert_int_equal(nm_t_any(t), NM_ERR_OK);
	assert_int_equal(t->recs[0].type, NM_FLOW_TYPE_NETFLOW_V5);

	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, 1000, V5_SECS, 0, 7);
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_NETFLOW_V9);
	assert_int_equal(nm_t_any(t), NM_ERR_OK);

	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, V5_SECS, 0, 7);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_IPFIX);
	assert_int_equal(nm_t_any(t), NM_ERR_OK);
	assert_int_equal(nm_decoder_exporter_count(t->d), 3); /* one per version */
	assert_int_equal(t->b.n, 1);

	/* sFlow v5 (32-bit version): agent 192.0.2.99, no samples. */
	nm_pb_init(&t->pb);
	nm_pb_u32(&t->pb, 5);
	nm_pb_u32(&t->pb, 1);
	nm_pb_ip4(&t->pb, 192, 0, 2, 99);
	nm_pb_u32(&t->pb, 0); /* sub-agent */
	nm_pb_u32(&t->pb, 1); /* sequence */
	nm_pb_u32(&t->pb, 1000);
	nm_pb_u32(&t->pb, 0); /* samples */
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_SFLOW_5);
	assert_int_equal(nm_t_any(t), NM_ERR_OK);

	nm_pb_init(&t->pb);
	nm_pb_u16(&t->pb, 8);
	nm_pb_zeros(&t->pb, 30);
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_UNKNOWN);
	assert_int_equal(nm_t_any(t), NM_ERR_BAD_VERSION);

	t->pb.len = 3;
	assert_int_equal(nm_decode_sniff(t->pb.buf, t->pb.len), NM_FLOW_TYPE_UNKNOWN);
	assert_int_equal(nm_t_any(t), NM_ERR_SHORT_HEADER);

	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->datagrams, 6);
	assert_int_equal(s->datagrams_ok, 4);
	assert_int_equal(nm_t_err(t, NM_ERR_BAD_VERSION), 1);
	assert_int_equal(nm_t_err(t, NM_ERR_SHORT_HEADER), 1);
	assert_identity(t);
}

/* The X-macro list: names, messages, and the fatal flag of every error the
 * NetFlow/IPFIX decoders raise (decode_err.h). */
static void test_err_table(void **state)
{
	(void)state;
	static const struct {
		enum nm_err e;
		const char *name;
		int fatal;
	} tab[] = {
		{NM_ERR_OK, "OK", 0},
		{NM_ERR_SHORT_HEADER, "SHORT_HEADER", 1},
		{NM_ERR_BAD_VERSION, "BAD_VERSION", 1},
		{NM_ERR_V5_BAD_COUNT, "V5_BAD_COUNT", 1},
		{NM_ERR_V5_TRUNCATED, "V5_TRUNCATED", 1},
		{NM_ERR_IPFIX_BAD_LENGTH, "IPFIX_BAD_LENGTH", 1},
		{NM_ERR_SET_HEADER_TRUNCATED, "SET_HEADER_TRUNCATED", 1},
		{NM_ERR_SET_LENGTH, "SET_LENGTH", 1},
		{NM_ERR_SET_RESERVED_ID, "SET_RESERVED_ID", 0},
		{NM_ERR_TMPL_TRUNCATED, "TMPL_TRUNCATED", 0},
		{NM_ERR_TMPL_TOO_MANY_FIELDS, "TMPL_TOO_MANY_FIELDS", 0},
		{NM_ERR_TMPL_ZERO_LENGTH, "TMPL_ZERO_LENGTH", 0},
		{NM_ERR_TMPL_BAD_ID, "TMPL_BAD_ID", 0},
		{NM_ERR_TMPL_BAD_SCOPE, "TMPL_BAD_SCOPE", 0},
		{NM_ERR_TMPL_WITHDRAW_UNKNOWN, "TMPL_WITHDRAW_UNKNOWN", 0},
		{NM_ERR_DATA_NO_TEMPLATE, "DATA_NO_TEMPLATE", 0},
		{NM_ERR_DATA_TMPL_EXPIRED, "DATA_TMPL_EXPIRED", 0},
		{NM_ERR_RECORD_TRUNCATED, "RECORD_TRUNCATED", 0},
		{NM_ERR_BATCH_FULL, "BATCH_FULL", 0},
	};
	for (unsigned i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		assert_string_equal(nm_err_name(tab[i].e), tab[i].name);
		assert_int_equal(nm_err_is_fatal(tab[i].e), tab[i].fatal);
		assert_true(nm_err_message(tab[i].e)[0] != '\0');
	}
	assert_string_equal(nm_err_message(NM_ERR_V5_BAD_COUNT),
			    "NetFlow v5 record count is zero or above 30");
	assert_string_equal(nm_err_name(NM_ERR__COUNT), "?");
	assert_int_equal(nm_err_is_fatal(NM_ERR__COUNT), 0);
	assert_string_equal(nm_ev_name(NM_EV_SEQ_GAP), "SEQ_GAP");
	assert_string_equal(nm_ev_name(NM_EV__COUNT), "?");
	assert_true(nm_ev_message(NM_EV_TMPL_ADDED)[0] != '\0');
	for (int e = 0; e < NM_ERR__COUNT; e++)
		assert_non_null(nm_err_name((enum nm_err)e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v5_fields, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_time_conversion, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_sampling_interval, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_static_rate, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_sequence, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_engine_scope, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_trailing_padding, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_err_short_header, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_err_bad_version, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_err_bad_count, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_err_truncated, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_err_batch_full, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_v5_batch_flush, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_decode_any_dispatch, nm_t_setup, nm_t_teardown),
		cmocka_unit_test(test_err_table),
	};
	return cmocka_run_group_tests_name("netflow_v5", tests, NULL, NULL);
}
