/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The structure-aware mutator (nm_fuzz_mut.c) keeps templates and data in
 * step: after each operation on a template, the decoder still finds every
 * record of the data that uses it, with the values of the fields that were
 * kept. And random chains of its operations (and its crossover) give
 * inputs the v9 and IPFIX harness runs without a broken invariant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nm_fuzz.h"
#include "nm_fuzz_mut.h"

#define MAXIN 65536

struct in {
	uint8_t b[MAXIN];
	size_t n;
};

static void put16(struct in *x, uint16_t v)
{
	x->b[x->n++] = (uint8_t)(v >> 8);
	x->b[x->n++] = (uint8_t)v;
}

static void put32(struct in *x, uint32_t v)
{
	put16(x, (uint16_t)(v >> 16));
	put16(x, (uint16_t)v);
}

static void patch16(struct in *x, size_t at, uint16_t v)
{
	x->b[at] = (uint8_t)(v >> 8);
	x->b[at + 1] = (uint8_t)v;
}

/* Message header of version 9 or 10; returns its offset. */
static size_t msg_begin(struct in *x, int version)
{
	size_t at = x->n;
	put16(x, (uint16_t)version);
	put16(x, 1);
	if (version == 9)
		put32(x, 5000);
	put32(x, 1700000000u);
	put32(x, 0);
	put32(x, 1);
	return at;
}

static void msg_end(struct in *x, size_t at, int version)
{
	if (version == 10)
		patch16(x, at + 2, (uint16_t)(x->n - at));
}

/* Data records: octetDeltaCount (4), packetDeltaCount (4), sourceIPv4Address. */
static void recs(struct in *x, uint32_t first, uint32_t n)
{
	for (uint32_t i = first; i < first + n; i++) {
		put32(x, 1000 * i);
		put32(x, 10 * i);
		put32(x, 0x0a000000u | i);
	}
}

/*
 * Input: datagram 1 = template 300 {1/4, 2/4, 8/4} and records 1, 2;
 * datagram 2 = record 3; datagram 3 (another exporter) = data for 300 that
 * is not the template's: it must stay as it is.
 */
static void build(struct in *x, int version)
{
	x->n = 0;
	x->b[x->n++] = 0x00; /* defaults: no lifetime, no flush, 64 records */
	x->b[x->n++] = 0x00;
	for (int dg = 0; dg < 2; dg++) {
		x->b[x->n++] = 0x00; /* exporter 192.0.2.1 */
		x->b[x->n++] = 1;
		size_t lat = x->n;
		put16(x, 0);
		size_t m = msg_begin(x, version);
		if (dg == 0) {
			size_t s = x->n;
			put16(x, version == 9 ? 0 : 2);
			put16(x, 0);
			put16(x, 300);
			put16(x, 3);
			put16(x, 1), put16(x, 4);
			put16(x, 2), put16(x, 4);
			put16(x, 8), put16(x, 4);
			patch16(x, s + 2, (uint16_t)(x->n - s));
		}
		size_t s = x->n;
		put16(x, 300);
		put16(x, 0);
		recs(x, dg == 0 ? 1 : 3, dg == 0 ? 2 : 1);
		patch16(x, s + 2, (uint16_t)(x->n - s));
		msg_end(x, m, version);
		patch16(x, lat, (uint16_t)(x->n - lat - 2));
	}
}

static _Alignas(64) uint8_t dmem[1u << 20];
static struct nm_flow out[64];

/* Decodes every datagram of x with one fresh decoder; returns records. */
static uint32_t decode(const struct in *x, int version)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	c.max_exporters = 8;
	c.max_templates = 64;
	size_t need = nm_decoder_mem_size(&c);
	assert_true(need <= sizeof(dmem));
	struct nm_decoder *d = nm_decoder_init(dmem, need, &c);
	assert_non_null(d);
	struct nm_flow_batch b = {out, 0, 64, NULL, NULL};
	size_t off = 2;
	while (x->n - off >= 4) {
		size_t len = (size_t)x->b[off + 2] << 8 | x->b[off + 3];
		off += 4;
		assert_true(len <= x->n - off);
		struct nm_pkt_meta m;
		const uint8_t v4[4] = {192, 0, 2, 1};
		nm_addr_set_v4(&m.exporter, v4);
		m.src_port = 2055;
		m.time_ns = 1700000000ull * 1000000000ull;
		enum nm_err rc = version == 9 ? nm_decode_netflow_v9(d, &m, x->b + off, len, &b)
					      : nm_decode_ipfix(d, &m, x->b + off, len, &b);
		assert_int_equal(rc, NM_ERR_OK);
		off += len;
	}
	assert_int_equal(off, x->n);
	return b.n;
}

static void mutate(struct in *x, int version, int op, int field, int field2, int32_t len,
		   int32_t type, int32_t tid)
{
	struct nm_fuzz_mut_req q = {op, 0, field, field2, len, type, tid};
	size_t n = nm_fuzz_mut(x->b, x->n, sizeof(x->b), 1, version, &q);
	assert_true(n > 0);
	x->n = n;
}

static void assert_values(int bytes, int packets, int src)
{
	for (uint32_t i = 0; i < 3; i++) {
		if (bytes)
			assert_int_equal(out[i].bytes, 1000 * (i + 1));
		if (packets)
			assert_int_equal(out[i].packets, 10 * (i + 1));
		if (src)
			assert_int_equal(out[i].src_addr.b[15], i + 1);
	}
}

static void check_ops(int v)
{
	static struct in x;
	build(&x, v);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);

	/* bytes 4 -> 8 bytes, packets 4 -> 2 bytes */
	mutate(&x, v, NM_FUZZ_MUT_LEN, 0, -1, 8, -1, -1);
	mutate(&x, v, NM_FUZZ_MUT_LEN, 1, -1, 2, -1, -1);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);

	/* a source port inserted between bytes and packets */
	mutate(&x, v, NM_FUZZ_MUT_INS, 1, -1, 2, 7, -1);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);

	/* bytes and source address exchanged (fields 0 and 3) */
	mutate(&x, v, NM_FUZZ_MUT_SWAP, 0, 3, -1, -1, -1);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);

	/* new template ID: the data sets follow */
	mutate(&x, v, NM_FUZZ_MUT_TID, -1, -1, -1, -1, 4321);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);

	/* fields now: source address, port, packets, bytes; the port removed
	 * again, then packets removed */
	mutate(&x, v, NM_FUZZ_MUT_DEL, 1, -1, -1, -1, -1);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 1, 1);
	mutate(&x, v, NM_FUZZ_MUT_DEL, 1, -1, -1, -1, -1);
	assert_int_equal(decode(&x, v), 3);
	assert_values(1, 0, 1);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(out[i].packets, 0);

	/* a fresh data datagram for the template: more records */
	mutate(&x, v, NM_FUZZ_MUT_DATA, -1, -1, -1, -1, -1);
	assert_true(decode(&x, v) >= 4);
}

static void test_mut_v9_keeps_data_in_step(void **state)
{
	(void)state;
	check_ops(9);
}

static void test_mut_ipfix_keeps_data_in_step(void **state)
{
	(void)state;
	check_ops(10);
	/* IPFIX only: an unknown variable-length field inserted first */
	static struct in x;
	build(&x, 10);
	mutate(&x, 10, NM_FUZZ_MUT_INS, 0, -1, 0xffff, 999, -1);
	assert_int_equal(decode(&x, 10), 3);
	assert_values(1, 1, 1);
	/* the source address made variable-length: the decoder skips it */
	mutate(&x, 10, NM_FUZZ_MUT_LEN, 3, -1, 0xffff, -1, -1);
	assert_int_equal(decode(&x, 10), 3);
	assert_values(1, 1, 0);
}

/* Chains of random operations and crossovers through the harness. */
static void chains(int v)
{
	static struct in x, y;
	static uint8_t cross[MAXIN];
	nm_fuzz_decode_fn fn = v == 9 ? nm_decode_netflow_v9 : nm_decode_ipfix;
	enum nm_flow_type type = v == 9 ? NM_FLOW_TYPE_NETFLOW_V9 : NM_FLOW_TYPE_IPFIX;
	unsigned structured = 0, total = 0;
	for (unsigned chain = 0; chain < 40; chain++) {
		build(&x, v);
		build(&y, v);
		for (unsigned step = 0; step < 50; step++) {
			uint32_t seed = chain * 1000 + step;
			size_t n = nm_fuzz_mut(x.b, x.n, 16384, seed, v, NULL);
			total++;
			if (n) {
				structured++;
				x.n = n;
			}
			nm_fuzz_nf_run(x.b, x.n, fn, type);
			if (step % 10 == 9) {
				n = nm_fuzz_mut_cross(x.b, x.n, y.b, y.n, cross, sizeof(cross), seed);
				assert_true(n >= 2 && n <= sizeof(cross));
				nm_fuzz_nf_run(cross, n, fn, type);
				memcpy(y.b, x.b, x.n);
				y.n = x.n;
			}
		}
	}
	/* most operations apply (the rest: no options template for SCOPE,
	 * results too big, ...) */
	assert_true(structured * 10 > total * 7);
}

static void test_mut_chains_v9(void **state)
{
	(void)state;
	chains(9);
}

static void test_mut_chains_ipfix(void **state)
{
	(void)state;
	chains(10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mut_v9_keeps_data_in_step),
		cmocka_unit_test(test_mut_ipfix_keeps_data_in_step),
		cmocka_unit_test(test_mut_chains_v9),
		cmocka_unit_test(test_mut_chains_ipfix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
