/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder state across a restart (decoders/state.c): what one decoder saves
 * another loads, and the next datagrams decode as they would have without
 * the restart (templates, sampling rates from options data, sequence
 * numbers); every refusal has its reason and leaves the decoder empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nf_state.h"
#include "nm_test.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define BUF (256u * 1024u)

static uint8_t st_buf[BUF];

/* IPFIX from 192.0.2.1:4739, domain 7, sequence seq: an options template
 * (300: scope observationDomainId, samplingInterval) and its data (rate
 * 1000), data templates 256 (fixed) and 257 (with a variable-length field),
 * and data. Records: 2 of 256, 1 of 257. */
static void st_ipfix_setup(struct nm_t *t, uint32_t seq)
{
	const struct nm_pb_field opt[] = {{149, 4, 0}, {34, 4, 0}};
	const struct nm_pb_field f256[] = {{8, 4, 0}, {12, 4, 0}, {2, 8, 0}, {1, 8, 0}};
	const struct nm_pb_field f257[] = {{8, 4, 0}, {82, 0xffff, 0}, {2, 4, 0}};
	nm_t_from(t, 192, 0, 2, 1, 4739);
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, seq, 7);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_OPT_SET);
	nm_pb_ipfix_opt_tmpl(&t->pb, 300, 1, opt, NELEM(opt));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 300);
	nm_pb_u32(&t->pb, 7);
	nm_pb_u32(&t->pb, 1000);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	nm_pb_tmpl(&t->pb, 256, f256, NELEM(f256));
	nm_pb_tmpl(&t->pb, 257, f257, NELEM(f257));
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
}

/* IPFIX data only: 2 records of 256 and 1 of 257 (interface name "ge-0"). */
static void st_ipfix_data(struct nm_t *t, uint32_t seq)
{
	nm_t_from(t, 192, 0, 2, 1, 4739);
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, seq, 7);
	nm_pb_set_begin(&t->pb, 256);
	for (uint8_t i = 1; i <= 2; i++) {
		nm_pb_ip4(&t->pb, 10, 0, 0, i);
		nm_pb_ip4(&t->pb, 10, 0, 1, i);
		nm_pb_u64(&t->pb, 100u * i);
		nm_pb_u64(&t->pb, 10000u * i);
	}
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 257);
	nm_pb_ip4(&t->pb, 10, 0, 0, 9);
	nm_pb_varlen(&t->pb, "ge-0", 4);
	nm_pb_u32(&t->pb, 77);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
}

/* NetFlow v9 from 192.0.2.2:2055, source ID 3: template 256 (with_tmpl) and
 * one record. */
static void st_v9(struct nm_t *t, uint32_t seq, bool with_tmpl)
{
	const struct nm_pb_field f[] = {{8, 4, 0}, {12, 4, 0}, {1, 4, 0}};
	nm_t_from(t, 192, 0, 2, 2, 2055);
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 2, 5000, NM_T_NOW_S, seq, 3);
	if (with_tmpl) {
		nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
		nm_pb_tmpl(&t->pb, 256, f, NELEM(f));
		nm_pb_set_end(&t->pb);
	}
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_ip4(&t->pb, 172, 16, 0, 1);
	nm_pb_ip4(&t->pb, 172, 16, 0, 2);
	nm_pb_u32(&t->pb, 1500);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
}

/* A decoder with state: two exporters, four templates, a learned rate. */
static struct nm_t *st_source(void **state)
{
	struct nm_t *t = NM_T(state);
	st_ipfix_setup(t, 0);
	st_ipfix_data(t, 1); /* the options record counted: 1 */
	st_v9(t, 10, true);
	assert_int_equal(nm_decoder_exporter_count(t->d), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 4);
	assert_int_equal(t->b.n, 4);
	assert_int_equal(t->recs[0].sampling_rate, 1000);
	return t;
}

/* A fresh decoder like the fixture's, with another hash seed (a restart). */
static struct nm_t *st_fresh(void)
{
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.hash_seed ^= 0x1234567;
	struct nm_t *u = nm_t_new(&c);
	assert_non_null(u);
	return u;
}

static size_t st_save(struct nm_t *t)
{
	size_t n = nm_decoder_state_size(t->d);
	assert_true(n >= 48 && n <= BUF);
	assert_int_equal(nm_decoder_state_save(t->d, t->m.time_ns, st_buf, n - 1), 0);
	assert_int_equal(nm_decoder_state_save(t->d, t->m.time_ns, st_buf, BUF), n);
	return n;
}

static void test_state_roundtrip(void **state)
{
	struct nm_t *t = st_source(state);
	size_t n = st_save(t);
	struct nm_t *u = st_fresh();
	struct nm_state_info info;
	assert_int_equal(nm_decoder_state_load(u->d, st_buf, n, t->m.time_ns + NM_T_NS,
					       60 * NM_T_NS, &info),
			 NM_STATE_OK);
	assert_int_equal(info.saved_ns, t->m.time_ns);
	assert_int_equal(info.exporters, 2);
	assert_int_equal(info.templates, 4);
	assert_int_equal(info.exporters_skipped + info.templates_skipped, 0);
	assert_int_equal(nm_decoder_exporter_count(u->d), 2);
	assert_int_equal(nm_decoder_template_count(u->d), 4);
	/* Loading is not traffic. */
	const struct nm_decode_stats *s = nm_decoder_stats(u->d);
	assert_int_equal(s->datagrams, 0);
	assert_int_equal(s->ev[NM_EV_EXPORTER_ADDED], 0);

	/* The same next datagrams into both: the same records, no template
	 * missing, the rate known, no sequence gap. */
	nm_t_clear(t);
	st_ipfix_data(t, 4);
	st_v9(t, 11, false);
	st_ipfix_data(u, 4);
	st_v9(u, 11, false);
	assert_int_equal(u->b.n, 4);
	assert_int_equal(t->b.n, 4);
	for (unsigned i = 0; i < 4; i++) {
		const struct nm_flow *a = &t->recs[i], *b = &u->recs[i];
		assert_int_equal(a->type, b->type);
		assert_memory_equal(&a->src_addr, &b->src_addr, sizeof(a->src_addr));
		assert_memory_equal(&a->dst_addr, &b->dst_addr, sizeof(a->dst_addr));
		assert_int_equal(a->bytes, b->bytes);
		assert_int_equal(a->packets, b->packets);
		assert_int_equal(a->sampling_rate, b->sampling_rate);
		assert_int_equal(a->etype, b->etype);
		assert_int_equal(a->sequence_num, b->sequence_num);
	}
	assert_int_equal(u->recs[0].sampling_rate, 1000);
	assert_int_equal(u->recs[1].bytes, 20000);
	assert_int_equal(u->recs[2].packets, 77); /* the variable-length template */
	assert_int_equal(u->recs[3].bytes, 1500);
	assert_int_equal(u->recs[3].etype, 0x0800);
	assert_int_equal(nm_t_err_total(u), 0);
	assert_int_equal(nm_t_ev(u, NM_EV_SEQ_GAP) + nm_t_ev(u, NM_EV_SEQ_RESET), 0);
	/* the v9 exporter never stated a rate; the IPFIX records have theirs */
	assert_int_equal(nm_t_ev(u, NM_EV_RATE_UNKNOWN), 1);
	assert_int_equal(u->recs[2].sampling_rate, 1000);
	/* A template re-sent after the restart replaces nothing it should not:
	 * the same fields, so the records stay the same. */
	st_v9(u, 12, true);
	assert_int_equal(u->recs[4].bytes, 1500);
	/* Datagrams lost while the collector was down show as loss. */
	st_v9(u, 20, false);
	assert_int_equal(nm_t_ev(u, NM_EV_SEQ_GAP), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_SEQ_LOST), 7);
	assert_identity(u);
	nm_t_free(u);
}

/* Proven and used flags come back: a loaded exporter that decoded data is
 * not the first to go when a flood of new ones fills the table. */
static void test_state_keeps_eviction_order(void **state)
{
	struct nm_t *t = st_source(state);
	/* an exporter that only sent a template: unproven */
	nm_t_from(t, 192, 0, 2, 3, 2055);
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 1, 5000, NM_T_NOW_S, 1, 1);
	const struct nm_pb_field f[] = {{8, 4, 0}};
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	nm_pb_tmpl(&t->pb, 400, f, NELEM(f));
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	size_t n = st_save(t);

	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.max_exporters = 3;
	struct nm_t *u = nm_t_new(&c);
	assert_non_null(u);
	assert_int_equal(nm_decoder_state_load(u->d, st_buf, n, t->m.time_ns, 0, NULL), NM_STATE_OK);
	assert_int_equal(nm_decoder_exporter_count(u->d), 3);
	/* A new v5 exporter takes the unproven one's place, not a proven one's. */
	nm_t_from(u, 198, 51, 100, 1, 2055);
	nm_pb_init(&u->pb);
	nm_pb_v5_header(&u->pb, 1, 1000, NM_T_NOW_S, 0, 0, 0, 0, 0);
	struct nm_pb_v5_rec r;
	memset(&r, 0, sizeof(r));
	nm_pb_v5_record(&u->pb, &r);
	assert_int_equal(nm_t_v5(u), NM_ERR_OK);
	assert_int_equal(nm_t_ev(u, NM_EV_EXPORTER_EVICTED), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_EXPORTER_EVICTED_ACTIVE), 0);
	st_ipfix_data(u, 4);
	st_v9(u, 11, false);
	assert_int_equal(nm_t_err(u, NM_ERR_DATA_NO_TEMPLATE), 0);
	nm_t_free(u);
}

/* Caps smaller than the file: what fits is loaded, the rest counted. */
static void test_state_smaller_caps(void **state)
{
	struct nm_t *t = st_source(state);
	size_t n = st_save(t);
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.max_exporters = 1;
	c.max_templates = 2;
	struct nm_t *u = nm_t_new(&c);
	assert_non_null(u);
	struct nm_state_info info;
	assert_int_equal(nm_decoder_state_load(u->d, st_buf, n, t->m.time_ns, 0, &info), NM_STATE_OK);
	assert_int_equal(info.exporters, 1);
	assert_int_equal(info.exporters_skipped, 1);
	assert_int_equal(info.templates, 2);
	assert_int_equal(info.templates_skipped, 2);
	assert_int_equal(nm_decoder_exporter_count(u->d), 1);
	assert_int_equal(nm_decoder_template_count(u->d), 2);
	nm_t_free(u);
}

/* Loads buf into a fresh decoder: the result, and the decoder must be empty
 * when refused. */
static enum nm_state_err st_try(const uint8_t *buf, size_t n, uint64_t now, uint64_t max_age)
{
	struct nm_decode_cfg c;
	nm_t_cfg(&c);
	c.max_exporters = 8; /* small: thousands of these per test */
	c.max_templates = 16;
	struct nm_t *u = nm_t_new(&c);
	assert_non_null(u);
	enum nm_state_err e = nm_decoder_state_load(u->d, buf, n, now, max_age, NULL);
	if (e != NM_STATE_OK) {
		assert_int_equal(nm_decoder_exporter_count(u->d), 0);
		assert_int_equal(nm_decoder_template_count(u->d), 0);
	} else {
		/* whatever loaded runs on real traffic (sanitizers watch) */
		st_ipfix_data(u, 4);
		st_v9(u, 11, false);
		assert_identity(u);
	}
	nm_t_free(u);
	return e;
}

static void st_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Recomputes the body hash after a deliberate change (a file that is
 * consistent by its checksum but not in its content). */
static void st_rehash(uint8_t *buf, size_t n)
{
	st_put64(buf + 40, nm_hash64(0x4e4d4453u, buf + 48, n - 48));
}

static void test_state_refusals(void **state)
{
	struct nm_t *t = st_source(state);
	size_t n = st_save(t);
	uint64_t now = t->m.time_ns;
	static uint8_t b[BUF];
	assert_int_equal(st_try(st_buf, n, now, 0), NM_STATE_OK);

	/* short */
	assert_int_equal(st_try(st_buf, 47, now, 0), NM_STATE_SHORT);
	assert_int_equal(st_try(st_buf, n - 1, now, 0), NM_STATE_SHORT);
	assert_int_equal(st_try(NULL, n, now, 0), NM_STATE_SHORT);
	/* not ours, another format, another build's template layout */
	memcpy(b, st_buf, n);
	b[0] ^= 0xff;
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_MAGIC);
	memcpy(b, st_buf, n);
	b[5] = 2;
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_VERSION);
	memcpy(b, st_buf, n);
	b[8] ^= 1;
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_VERSION);
	/* damaged: every single byte of the body flipped in turn */
	for (size_t i = 48; i < n; i++) {
		memcpy(b, st_buf, n);
		b[i] ^= 0x10;
		assert_int_equal(st_try(b, n, now, 0), NM_STATE_CHECKSUM);
	}
	/* age: the limit itself loads, one nanosecond more does not */
	assert_int_equal(st_try(st_buf, n, now + 30 * NM_T_NS, 30 * NM_T_NS), NM_STATE_OK);
	assert_int_equal(st_try(st_buf, n, now + 30 * NM_T_NS + 1, 30 * NM_T_NS), NM_STATE_TOO_OLD);
	/* saved in the future: a minute of slack */
	assert_int_equal(st_try(st_buf, n, now - 60 * NM_T_NS, 0), NM_STATE_OK);
	assert_int_equal(st_try(st_buf, n, now - 61 * NM_T_NS, 0), NM_STATE_FUTURE);

	/* consistent checksum, inconsistent content */
	memcpy(b, st_buf, n);
	b[27] ^= 1; /* exporter count */
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_CORRUPT);
	memcpy(b, st_buf, n);
	b[31] += 1; /* template count */
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_CORRUPT);
	/* the first exporter's version (offset 48 + 26) */
	memcpy(b, st_buf, n);
	b[48 + 26] = 7;
	st_rehash(b, n);
	assert_int_equal(st_try(b, n, now, 0), NM_STATE_CORRUPT);
	/* Any op changed in any byte is refused or still one the compiler can
	 * produce; nothing beyond a record is ever accepted. Ops start after
	 * the exporter's 86 + 16 x samplers bytes and each template's 34. */
	size_t refused = 0, tried = 0;
	for (size_t i = 48; i < n; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(b, st_buf, n);
			b[i] ^= (uint8_t)(1u << bit);
			st_rehash(b, n);
			enum nm_state_err e = st_try(b, n, now, 0);
			assert_true(e == NM_STATE_OK || e == NM_STATE_CORRUPT);
			tried++;
			refused += e == NM_STATE_CORRUPT;
		}
	}
	print_message("%zu of %zu single-bit changes with a good checksum refused\n", refused, tried);
	assert_true(refused > tried / 4);

	/* only into a fresh decoder */
	struct nm_t *u = st_fresh();
	st_v9(u, 1, true);
	assert_int_equal(nm_decoder_state_load(u->d, st_buf, n, now, 0, NULL), NM_STATE_NOT_EMPTY);
	nm_t_free(u);

	assert_string_equal(nm_state_err_message(NM_STATE_OK), "state loaded");
	assert_string_equal(nm_state_err_message(NM_STATE__COUNT), "?");
	for (int e = 0; e < NM_STATE__COUNT; e++)
		assert_true(strlen(nm_state_err_message((enum nm_state_err)e)) > 10);
}

/* An empty decoder saves a header only, and loads back empty. */
static void test_state_empty(void **state)
{
	struct nm_t *t = NM_T(state);
	size_t n = st_save(t);
	assert_int_equal(n, 48);
	struct nm_t *u = st_fresh();
	assert_int_equal(nm_decoder_state_load(u->d, st_buf, n, t->m.time_ns, 0, NULL), NM_STATE_OK);
	assert_int_equal(nm_decoder_exporter_count(u->d), 0);
	nm_t_free(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_roundtrip, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_state_keeps_eviction_order, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_state_smaller_caps, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_state_refusals, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_state_empty, nm_t_setup, nm_t_teardown),
	};
	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
