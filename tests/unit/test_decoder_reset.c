/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nm_decoder_reset(): a reset decoder behaves exactly like a fresh one
 * (same records, same statistics for the same traffic), forgets what it
 * learned but keeps what the caller configured, and touches only the slots
 * it used, not the configured capacity (the fuzz targets reset once per
 * input, see tests/fuzz/nm_fuzz_nf.c).
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

/* Small tables, so the scenario evicts templates and exporters. */
static void rst_cfg(struct nm_decode_cfg *c)
{
	nm_decode_cfg_default(c);
	c->max_exporters = 4;
	c->max_templates = 8;
	c->max_templates_per_exporter = 3;
	c->max_fields_per_template = 16;
	c->template_lifetime_s = 60;
}

static void rst_v9_tmpl_data(struct nm_t *t, uint16_t id, uint32_t seq, uint32_t bytes)
{
	const struct nm_pb_field f[] = {{8, 4, 0}, {12, 4, 0}, {1, 4, 0}, {2, 4, 0}, {4, 1, 0}};
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 2, 1000, NM_T_NOW_S, seq, 7);
	nm_pb_set_begin(&t->pb, 0);
	nm_pb_tmpl(&t->pb, id, f, NELEM(f));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, id);
	nm_pb_ip4(&t->pb, 198, 51, 100, (uint8_t)seq);
	nm_pb_ip4(&t->pb, 203, 0, 113, 9);
	nm_pb_u32(&t->pb, bytes);
	nm_pb_u32(&t->pb, 3);
	nm_pb_u8(&t->pb, 6);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_false(t->pb.overflow);
}

/* One v9 data record (17 zero bytes) for template id of source ID 7. */
static void rst_v9_data(struct nm_t *t, uint16_t id, uint32_t seq)
{
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 1, 1000, NM_T_NOW_S, seq, 7);
	nm_pb_set_begin(&t->pb, id);
	nm_pb_zeros(&t->pb, 17);
	nm_pb_set_end_pad(&t->pb, 4);
	assert_false(t->pb.overflow);
}

static void rst_ipfix_data(struct nm_t *t, uint16_t id, uint32_t v)
{
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, v, 1);
	nm_pb_set_begin(&t->pb, id);
	nm_pb_u32(&t->pb, v);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
}

static void rst_ipfix_tmpl(struct nm_t *t, uint16_t id)
{
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	nm_pb_tmpl_begin(&t->pb, id, 1);
	nm_pb_u16(&t->pb, 2);
	nm_pb_u16(&t->pb, 4);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
}

/*
 * Traffic that fills every table: v9 and IPFIX templates and data from 6
 * exporters (4 slots: 2 evicted), 5 IPFIX templates from one exporter (cap
 * 3), the pool of 8 overflowing, a v5 datagram, data for an evicted
 * template, and time moving past the template lifetime.
 */
static void rst_scenario(struct nm_t *t)
{
	for (uint8_t e = 1; e <= 6; e++) {
		nm_t_from(t, 192, 0, 2, e, 2055);
		nm_t_at(t, NM_T_NOW_S + e);
		rst_v9_tmpl_data(t, (uint16_t)(256 + e), e, 1000u * e);
		assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	}
	nm_t_from(t, 192, 0, 2, 9, 4739);
	for (uint16_t id = 300; id < 305; id++) {
		rst_ipfix_tmpl(t, id);
		assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
		rst_ipfix_data(t, id, id);
		assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	}
	rst_ipfix_data(t, 300, 1); /* evicted by the per-exporter cap */
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);

	struct nm_pb_v5_rec r = {.src = 0x0a000001, .dst = 0x0a000002, .packets = 5, .bytes = 500,
				 .proto = 17};
	nm_pb_init(&t->pb);
	nm_pb_v5_header(&t->pb, 1, 1000, NM_T_NOW_S, 0, 1, 0, 0, 0);
	nm_pb_v5_record(&t->pb, &r);
	assert_int_equal(nm_t_v5(t), NM_ERR_OK);

	nm_t_from(t, 192, 0, 2, 6, 2055);
	nm_t_at(t, NM_T_NOW_S + 200); /* past the 60 s lifetime */
	rst_v9_data(t, 262, 77); /* its template expired */
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	rst_v9_tmpl_data(t, 999, 78, 1);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
}

struct rst_run {
	struct nm_decode_stats st;
	uint32_t n, nexp, ntmpl;
	struct nm_flow recs[64];
};

static void rst_capture(struct nm_t *t, struct rst_run *r)
{
	memcpy(&r->st, nm_decoder_stats(t->d), sizeof(r->st));
	assert_true(t->b.n <= NELEM(r->recs));
	r->n = t->b.n;
	memcpy(r->recs, t->recs, t->b.n * sizeof(t->recs[0]));
	r->nexp = nm_decoder_exporter_count(t->d);
	r->ntmpl = nm_decoder_template_count(t->d);
}

static void rst_assert_empty_indexes(const struct nm_decoder *d)
{
	for (uint32_t i = 0; i <= d->exp_idx.mask; i++)
		assert_int_equal(d->exp_idx.b[i].slot1, 0);
	for (uint32_t i = 0; i <= d->tmpl_idx.mask; i++)
		assert_int_equal(d->tmpl_idx.b[i].slot1, 0);
}

/* The same traffic gives the same records and statistics after a reset as
 * on a fresh decoder, twice over. */
static void test_reset_like_fresh(void **state)
{
	struct nm_decode_cfg c;
	rst_cfg(&c);
	struct nm_t *t = nm_t_reset(state, &c);
	assert_non_null(t);
	static struct rst_run fresh, again;

	rst_scenario(t);
	rst_capture(t, &fresh);
	/* The scenario reached the paths it is meant to. */
	assert_true(fresh.n >= 12);
	assert_true(fresh.st.ev[NM_EV_EXPORTER_EVICTED] >= 2);
	assert_true(fresh.st.ev[NM_EV_TMPL_EVICTED_EXPORTER] >= 2);
	assert_true(fresh.st.err[NM_ERR_DATA_NO_TEMPLATE] >= 1);
	assert_true(fresh.st.ev[NM_EV_TMPL_EXPIRED] >= 1);
	assert_int_equal(fresh.nexp, c.max_exporters);

	for (int round = 0; round < 2; round++) {
		nm_decoder_reset(t->d);
		const struct nm_decode_stats *st = nm_decoder_stats(t->d);
		static const struct nm_decode_stats zero;
		assert_memory_equal(st, &zero, sizeof(zero));
		assert_int_equal(nm_decoder_exporter_count(t->d), 0);
		assert_int_equal(nm_decoder_template_count(t->d), 0);
		rst_assert_empty_indexes(t->d);

		nm_t_clear(t);
		rst_scenario(t);
		rst_capture(t, &again);
		assert_memory_equal(&again.st, &fresh.st, sizeof(fresh.st));
		assert_int_equal(again.n, fresh.n);
		assert_memory_equal(again.recs, fresh.recs, fresh.n * sizeof(fresh.recs[0]));
		assert_int_equal(again.nexp, fresh.nexp);
		assert_int_equal(again.ntmpl, fresh.ntmpl);
	}
	assert_identity(t);
}

/* Templates and learned state are gone; static rates and the counter batch stay. */
static void test_reset_forgets_learned_keeps_configured(void **state)
{
	struct nm_t *t = NM_T(state);
	struct nm_addr a;
	const uint8_t v4[4] = {192, 0, 2, 1};
	nm_addr_set_v4(&a, v4);
	assert_int_equal(nm_decoder_set_static_rate(t->d, &a, 512, false), 0);
	struct nm_ctr ctrs[2];
	struct nm_ctr_batch cb = {ctrs, 0, 2, NULL, NULL};
	nm_decoder_set_ctr_batch(t->d, &cb);

	rst_v9_tmpl_data(t, 400, 1, 1234);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 1234);
	assert_int_equal(t->recs[0].sampling_rate, 512);

	nm_decoder_reset(t->d);
	assert_ptr_equal(t->d->ctr_batch, &cb);
	nm_t_clear(t);
	/* Data alone: the template is forgotten. */
	rst_v9_data(t, 400, 2);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 0);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
	assert_int_equal(nm_decoder_stats(t->d)->datagrams, 1);

	/* Learned again, and the static rate still fills in. */
	rst_v9_tmpl_data(t, 400, 3, 99);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 99);
	assert_int_equal(t->recs[0].sampling_rate, 512);
	assert_int_equal(nm_decoder_exporter_count(t->d), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 1);
}

/*
 * With the default (large) tables and a little traffic, the reset leaves
 * every exporter slot from exp_fresh on and every template slot from
 * tmpl_fresh on as it was: its work follows what was used, not capacity.
 */
static void test_reset_touches_only_used_slots(void **state)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	struct nm_t *t = nm_t_reset(state, &c);
	assert_non_null(t);
	for (uint8_t e = 1; e <= 3; e++) {
		nm_t_from(t, 192, 0, 2, e, 2055);
		rst_v9_tmpl_data(t, 256, e, e);
		assert_int_equal(nm_t_v9(t), NM_ERR_OK);
		rst_v9_tmpl_data(t, 257, e, e);
		assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	}
	struct nm_decoder *d = t->d;
	uint32_t ef = d->exp_fresh, tf = d->tmpl_fresh;
	assert_int_equal(ef, 3);
	assert_int_equal(tf, 6);
	uint8_t *exp_rest = (uint8_t *)&d->exp[ef];
	size_t exp_n = (size_t)(c.max_exporters - ef) * sizeof(struct nm_exporter);
	uint8_t *tmpl_rest = d->tmpl_mem + (size_t)tf * d->tmpl_stride;
	size_t tmpl_n = (size_t)(c.max_templates - tf) * d->tmpl_stride;
	memset(exp_rest, 0x5a, exp_n);
	memset(tmpl_rest, 0x5a, tmpl_n);

	nm_decoder_reset(d);
	rst_assert_empty_indexes(d);
	assert_int_equal(d->exp_fresh, 0);
	assert_int_equal(d->tmpl_fresh, 0);
	assert_int_equal(d->tmpl_freelist, NM_NIL);
	for (size_t i = 0; i < exp_n; i++)
		if (exp_rest[i] != 0x5a)
			fail_msg("exporter slot byte %zu changed by the reset", i);
	for (size_t i = 0; i < tmpl_n; i++)
		if (tmpl_rest[i] != 0x5a)
			fail_msg("template slot byte %zu changed by the reset", i);

	/* And it works: an exporter defines and uses a template. */
	nm_t_clear(t);
	nm_t_from(t, 192, 0, 2, 1, 2055);
	rst_v9_tmpl_data(t, 256, 9, 4321);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 4321);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_like_fresh, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_reset_forgets_learned_keeps_configured,
						nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_reset_touches_only_used_slots, nm_t_setup,
						nm_t_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
