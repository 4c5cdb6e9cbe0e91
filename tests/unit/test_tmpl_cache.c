/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Template cache and exporter table: memory stays bounded by the
 * configuration whatever exporters send, every eviction is counted, and the
 * cache still works after a flood.
 *
 * Configuration used by the floods: 1024 template slots, 256 exporter slots,
 * 64 templates per exporter. Exact eviction counts are derived in each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "nm_test.h"

#define C_TMPL 1024u
#define C_EXP 256u
#define C_PER_EXP 64u
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static struct nm_t *cache_new(void **state)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	c.max_templates = C_TMPL;
	c.max_exporters = C_EXP;
	c.max_templates_per_exporter = C_PER_EXP;
	c.max_fields_per_template = 16;
	/* The mechanics of the tables alone: no admission rate (the policy
	 * has tests of its own below). */
	c.admit_source_rate = 0;
	c.admit_global_rate = 0;
	struct nm_t *t = nm_t_reset(state, &c);
	assert_non_null(t);
	return t;
}

/* Exporter number i (0 .. 2^24) as IPv4 address 10.x.y.z, IPFIX port 4739. */
static void cache_from(struct nm_t *t, uint32_t i)
{
	nm_t_from(t, 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 4739);
}

/*
 * One IPFIX message from the current exporter defining n templates with
 * IDs first..first+n-1, each one field: packetDeltaCount (IE 2), 4 bytes.
 */
static void cache_define(struct nm_t *t, uint32_t first, unsigned n)
{
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	for (unsigned i = 0; i < n; i++) {
		nm_pb_tmpl_begin(&t->pb, (uint16_t)(first + i), 1);
		nm_pb_u16(&t->pb, 2);
		nm_pb_u16(&t->pb, 4);
	}
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_false(t->pb.overflow);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
}

/* Sends one data record (packets = v) for template id; returns records produced. */
static uint32_t cache_data(struct nm_t *t, uint16_t id, uint32_t v)
{
	uint32_t before = t->b.n;
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, id);
	nm_pb_u32(&t->pb, v);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	return t->b.n - before;
}

static void cache_withdraw_all(struct nm_t *t)
{
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	nm_pb_tmpl_withdraw(&t->pb, 2);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
}

static void cache_assert_caps(const struct nm_t *t)
{
	assert_true(nm_decoder_template_count(t->d) <= C_TMPL);
	assert_true(nm_decoder_exporter_count(t->d) <= C_EXP);
}

/* A new exporter defines a multi-field template and its data decodes exactly. */
static void cache_check_fresh(struct nm_t *t, uint32_t exporter)
{
	const struct nm_pb_field f[] = {{8, 4, 0}, {1, 8, 0}, {7, 2, 0}, {2, 4, 0}};
	cache_from(t, exporter);
	t->m.time_ns += NM_T_NS;
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	nm_pb_tmpl(&t->pb, 999, f, NELEM(f));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 999);
	nm_pb_ip4(&t->pb, 203, 0, 113, 5);
	nm_pb_u64(&t->pb, 123456789);
	nm_pb_u16(&t->pb, 443);
	nm_pb_u32(&t->pb, 321);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	nm_t_clear(t);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 1);
	assert_addr(&t->recs[0].src_addr, "203.0.113.5");
	assert_int_equal(t->recs[0].bytes, 123456789);
	assert_int_equal(t->recs[0].src_port, 443);
	assert_int_equal(t->recs[0].packets, 321);
	cache_assert_caps(t);
}

struct cache_sum {
	uint64_t templates;
	uint32_t exporters;
	uint32_t max_per_exporter;
};

static int cache_sum_cb(const struct nm_exporter_info *x, void *ctx)
{
	struct cache_sum *s = ctx;
	s->templates += x->templates;
	s->exporters++;
	if (x->templates > s->max_per_exporter)
		s->max_per_exporter = x->templates;
	return 0;
}

/* The per-exporter view adds up to the global counts and respects the cap. */
static void cache_assert_consistent(const struct nm_t *t)
{
	struct cache_sum s = {0, 0, 0};
	nm_decoder_exporter_foreach(t->d, cache_sum_cb, &s);
	assert_int_equal(s.templates, nm_decoder_template_count(t->d));
	assert_int_equal(s.exporters, nm_decoder_exporter_count(t->d));
	assert_true(s.max_per_exporter <= C_PER_EXP);
}

/* ---- configuration ---- */

static void test_cache_config_bounds(void **state)
{
	(void)state;
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	assert_int_equal(c.max_exporters, 4096);
	assert_int_equal(c.max_templates, 16384);
	assert_int_equal(c.max_templates_per_exporter, 1024);
	assert_int_equal(c.max_fields_per_template, 128);
	assert_int_equal(c.template_lifetime_s, 0);
	size_t def = nm_decoder_mem_size(&c);
	assert_true(def > 0);

	struct nm_decode_cfg b = c;
	b.max_exporters = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_templates = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_templates_per_exporter = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_fields_per_template = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_fields_per_template = NM_TMPL_FIELDS_MAX + 1;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_fields_per_template = NM_TMPL_FIELDS_MAX;
	assert_true(nm_decoder_mem_size(&b) > def);
	b = c;
	b.max_exporters = (1u << 22) + 1;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.max_templates = (1u << 24) + 1;
	assert_int_equal(nm_decoder_mem_size(&b), 0);

	/* Memory grows with each cap. */
	b = c;
	b.max_templates *= 2;
	assert_true(nm_decoder_mem_size(&b) > def);
	b = c;
	b.max_exporters *= 2;
	assert_true(nm_decoder_mem_size(&b) > def);

	/* init refuses short blocks, NULL and bad configurations. */
	b = c;
	b.max_templates = 64;
	b.max_exporters = 8;
	static _Alignas(64) uint8_t mem[1 << 18];
	size_t n = nm_decoder_mem_size(&b);
	assert_true(n <= sizeof(mem));
	assert_null(nm_decoder_init(mem, n - 1, &b));
	assert_null(nm_decoder_init(NULL, n, &b));
	struct nm_decode_cfg bad = b;
	bad.max_templates = 0;
	assert_null(nm_decoder_init(mem, n, &bad));
	struct nm_decoder *d = nm_decoder_init(mem, n, &b);
	assert_ptr_equal(d, (void *)mem);
	assert_int_equal(nm_decoder_template_count(d), 0);
	assert_int_equal(nm_decoder_exporter_count(d), 0);
	assert_int_equal(nm_decoder_stats(d)->datagrams, 0);
}

/* ---- exact eviction counts ---- */

/*
 * One exporter, 1000 new IDs, one per datagram, each a millisecond later:
 * the cap holds 64, the 936 others are evicted oldest first (LRU), and a
 * template re-sent (refreshed) counts as recently used.
 */
static void test_cache_per_exporter_cap(void **state)
{
	struct nm_t *t = cache_new(state);
	const unsigned n = 1000;
	for (unsigned i = 0; i < n; i++) {
		t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS + i * NM_T_MS;
		cache_define(t, 256 + i, 1);
		assert_true(nm_decoder_template_count(t->d) <= C_PER_EXP);
	}
	assert_int_equal(nm_decoder_template_count(t->d), C_PER_EXP);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), n);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), n - C_PER_EXP);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 0);
	/* The 64 most recent survive; the 65th most recent is gone. */
	assert_int_equal(cache_data(t, (uint16_t)(256 + n - 1), 1), 1);
	assert_int_equal(cache_data(t, (uint16_t)(256 + n - C_PER_EXP), 2), 1);
	assert_int_equal(cache_data(t, (uint16_t)(256 + n - C_PER_EXP - 1), 3), 0);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);

	/* Refresh the oldest survivor, add one new: the next oldest goes instead. */
	uint16_t oldest = (uint16_t)(256 + n - C_PER_EXP);
	t->m.time_ns += NM_T_MS;
	cache_define(t, oldest, 1);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_REFRESHED), 1);
	t->m.time_ns += NM_T_MS;
	cache_define(t, 256 + n, 1);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), n - C_PER_EXP + 1);
	assert_int_equal(cache_data(t, oldest, 4), 1);
	assert_int_equal(cache_data(t, (uint16_t)(oldest + 1), 5), 0);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 2);
	cache_assert_consistent(t);
	assert_identity(t);
}

/*
 * 16 exporters x 64 templates fill the 1024-slot pool exactly. A 17th
 * exporter then defines 100 new IDs: the first 64 each take a slot from the
 * pool (64 pool evictions, all of older exporters' templates), the other 36
 * each replace one of its own (per-exporter cap).
 */
static void test_cache_pool_eviction_exact(void **state)
{
	struct nm_t *t = cache_new(state);
	for (uint32_t e = 0; e < 16; e++) {
		cache_from(t, e);
		t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS + e * NM_T_NS;
		cache_define(t, 256, C_PER_EXP);
	}
	assert_int_equal(nm_decoder_template_count(t->d), C_TMPL);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), 0);

	cache_from(t, 16);
	t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS + 100 * NM_T_NS;
	cache_define(t, 256, 100);
	assert_int_equal(nm_decoder_template_count(t->d), C_TMPL);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 16 * C_PER_EXP + 100);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 64);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), 36);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED), 0);
	cache_assert_consistent(t);

	/* The newest exporter holds exactly its cap, and its last ID decodes. */
	struct cache_sum s = {0, 0, 0};
	nm_decoder_exporter_foreach(t->d, cache_sum_cb, &s);
	assert_int_equal(s.max_per_exporter, C_PER_EXP);
	assert_int_equal(cache_data(t, 256 + 99, 77), 1);
	assert_int_equal(t->recs[t->b.n - 1].packets, 77);
	assert_identity(t);
}

/* 1000 exporters, 2 templates each, into 256 slots: 744 evicted, with their templates. */
static void test_cache_exporter_eviction_exact(void **state)
{
	struct nm_t *t = cache_new(state);
	for (uint32_t e = 0; e < 1000; e++) {
		cache_from(t, e);
		t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS + e * NM_T_MS;
		cache_define(t, 256, 2);
		cache_assert_caps(t);
	}
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_ADDED), 1000);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED), 1000 - C_EXP);
	assert_int_equal(nm_decoder_exporter_count(t->d), C_EXP);
	assert_int_equal(nm_decoder_template_count(t->d), 2 * C_EXP);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), 0);
	cache_assert_consistent(t);

	/* The last exporter is live with both templates. */
	assert_int_equal(cache_data(t, 257, 5), 1);
	/* The first was evicted: coming back, it is a new exporter without templates. */
	cache_from(t, 0);
	t->m.time_ns += NM_T_NS;
	assert_int_equal(cache_data(t, 256, 6), 0);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_ADDED), 1001);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED), 1001 - C_EXP);
	assert_identity(t);
}

/*
 * 200 exporters all use template ID 256 (one index bucket chain); withdrawing
 * every other one must leave the rest findable (index deletion).
 */
static void test_cache_same_id_many_exporters(void **state)
{
	struct nm_t *t = cache_new(state);
	const uint32_t n = 200;
	for (uint32_t e = 0; e < n; e++) {
		cache_from(t, e);
		cache_define(t, 256, 1);
	}
	assert_int_equal(nm_decoder_template_count(t->d), n);
	for (uint32_t e = 0; e < n; e += 2) {
		cache_from(t, e);
		cache_withdraw_all(t);
	}
	assert_int_equal(nm_decoder_template_count(t->d), n / 2);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_WITHDRAWN), n / 2);
	for (uint32_t e = 0; e < n; e++) {
		cache_from(t, e);
		assert_int_equal(cache_data(t, 256, e), e % 2);
		if (e % 2)
			assert_int_equal(t->recs[t->b.n - 1].packets, e);
	}
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), n / 2);
	/* Freed slots are reused without evicting anything. */
	for (uint32_t e = 0; e < n; e += 2) {
		cache_from(t, e);
		cache_define(t, 300, 4);
	}
	assert_int_equal(nm_decoder_template_count(t->d), n / 2 + 4 * (n / 2));
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 0);
	cache_assert_consistent(t);
	assert_identity(t);
}

/* ---- floods ---- */

/*
 * The flood, with exact counts:
 *  A) 10 exporters each define all 65,280 template IDs (256..65535) in
 *     datagrams of 64, then withdraw them all: 652,800 definitions of
 *     distinct (exporter, ID) keys; each exporter keeps at most 64, so
 *     65,280 - 64 per-exporter evictions each and no pool eviction.
 *  B) 100,000 new exporters define 4 templates each (400,000 more distinct
 *     keys): at most 256 exporters x 4 = 1024 templates are ever live, so
 *     no pool eviction; 100,010 - 256 exporters are evicted.
 * Caps hold after every datagram; afterwards a new template decodes.
 */
static void test_cache_flood_exact(void **state)
{
	struct nm_t *t = cache_new(state);
	uint64_t now = (uint64_t)NM_T_NOW_S * NM_T_NS;
	uint64_t defs = 0;
	const uint32_t ids = 65536 - 256;

	for (uint32_t e = 0; e < 10; e++) {
		cache_from(t, 0xff0000 + e);
		for (uint32_t id = 256; id < 65536; id += 64) {
			t->m.time_ns = (now += NM_T_MS);
			cache_define(t, id, 64);
			defs += 64;
			assert_true(nm_decoder_template_count(t->d) <= 10 * C_PER_EXP);
			assert_true(nm_decoder_exporter_count(t->d) <= C_EXP);
		}
		cache_withdraw_all(t);
		assert_int_equal(nm_decoder_template_count(t->d), 0);
	}
	assert_int_equal(defs, 10 * ids);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 10 * ids);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_EXPORTER), 10 * (ids - C_PER_EXP));
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_WITHDRAWN), 10);

	for (uint32_t e = 0; e < 100000; e++) {
		cache_from(t, e);
		t->m.time_ns = (now += NM_T_MS);
		cache_define(t, 256 + (e % 1000) * 4, 4);
		defs += 4;
		cache_assert_caps(t);
	}
	assert_true(defs >= 1000000);
	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	assert_int_equal(s->ev[NM_EV_TMPL_ADDED], defs);
	assert_int_equal(s->ev[NM_EV_TMPL_EVICTED_POOL], 0);
	assert_int_equal(s->ev[NM_EV_TMPL_EVICTED_EXPORTER], 10 * (ids - C_PER_EXP));
	assert_int_equal(s->ev[NM_EV_EXPORTER_ADDED], 100010);
	assert_int_equal(s->ev[NM_EV_EXPORTER_EVICTED], 100010 - C_EXP);
	assert_int_equal(nm_decoder_exporter_count(t->d), C_EXP);
	assert_int_equal(nm_decoder_template_count(t->d), C_TMPL);
	assert_int_equal(nm_t_err_total(t), 0);
	cache_assert_consistent(t);

	/* The last exporter's templates decode; a brand-new one works too. */
	assert_int_equal(cache_data(t, (uint16_t)(256 + (99999 % 1000) * 4 + 3), 42), 1);
	assert_int_equal(t->recs[t->b.n - 1].packets, 42);
	cache_check_fresh(t, 0xfe0000);
	assert_identity(t);
}

/*
 * Pool pressure: 100,000 exporters x 10 templates (1,000,000 definitions)
 * while only 1024 fit. Exporter evictions are exact (100,000 - 256); no
 * exporter reaches its own cap. Each datagram's template delta gives the
 * templates dropped with the evicted exporter (r), so the pool evictions
 * must equal 1,000,000 - live - sum(r).
 */
static void test_cache_flood_pool_pressure(void **state)
{
	struct nm_t *t = cache_new(state);
	const struct nm_decode_stats *s = nm_decoder_stats(t->d);
	uint64_t now = (uint64_t)NM_T_NOW_S * NM_T_NS;
	uint64_t dropped_with_exporters = 0;
	const uint32_t n = 100000, k = 10;
	for (uint32_t e = 0; e < n; e++) {
		uint64_t t0 = nm_decoder_template_count(t->d);
		uint64_t p0 = s->ev[NM_EV_TMPL_EVICTED_POOL];
		uint64_t x0 = s->ev[NM_EV_EXPORTER_EVICTED];
		cache_from(t, e);
		t->m.time_ns = (now += NM_T_MS);
		cache_define(t, 256 + (e % 4096) * k, k);
		cache_assert_caps(t);
		uint64_t t1 = nm_decoder_template_count(t->d);
		uint64_t p = s->ev[NM_EV_TMPL_EVICTED_POOL] - p0;
		uint64_t r = t0 + k - p - t1;
		assert_true(r <= k);
		if (s->ev[NM_EV_EXPORTER_EVICTED] == x0)
			assert_int_equal(r, 0);
		dropped_with_exporters += r;
		if ((uint64_t)e * k >= C_TMPL)
			assert_int_equal(t1, C_TMPL); /* the pool stays full */
	}
	assert_int_equal(s->ev[NM_EV_TMPL_ADDED], (uint64_t)n * k);
	assert_int_equal(s->ev[NM_EV_EXPORTER_EVICTED], n - C_EXP);
	assert_int_equal(s->ev[NM_EV_TMPL_EVICTED_EXPORTER], 0);
	assert_true(s->ev[NM_EV_TMPL_EVICTED_POOL] > 0);
	assert_int_equal(s->ev[NM_EV_TMPL_EVICTED_POOL],
			 (uint64_t)n * k - C_TMPL - dropped_with_exporters);
	assert_int_equal(nm_decoder_template_count(t->d), C_TMPL);
	assert_int_equal(nm_decoder_exporter_count(t->d), C_EXP);
	assert_int_equal(nm_t_err_total(t), 0);
	cache_assert_consistent(t);

	/* The newest exporter's templates were never the pool's victims. */
	uint16_t last_first = (uint16_t)(256 + ((n - 1) % 4096) * k);
	for (unsigned i = 0; i < k; i++)
		assert_int_equal(cache_data(t, (uint16_t)(last_first + i), i), 1);
	cache_check_fresh(t, 0xfe0001);
	assert_identity(t);
}

/* A v9 exporter and the same address over IPFIX share the pool but not templates. */
static void test_cache_versions_share_pool(void **state)
{
	struct nm_t *t = cache_new(state);
	cache_from(t, 1);
	cache_define(t, 256, 4);
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 0, 1000, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_V9_TMPL_SET);
	for (uint16_t id = 256; id < 260; id++) {
		nm_pb_tmpl_begin(&t->pb, id, 1);
		nm_pb_u16(&t->pb, 1);
		nm_pb_u16(&t->pb, 8);
	}
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 256);
	nm_pb_u64(&t->pb, 5000);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_decoder_template_count(t->d), 8);
	assert_int_equal(nm_decoder_exporter_count(t->d), 2);
	assert_int_equal(t->b.n, 1);
	assert_int_equal(t->recs[0].bytes, 5000);
	assert_int_equal(cache_data(t, 256, 9), 1);
	assert_int_equal(t->recs[1].packets, 9);
	assert_int_equal(t->recs[1].bytes, 0);
	cache_assert_consistent(t);
}

/* ---- admission and eviction order (DESIGN-NOTES.md, "Template floods") ---- */

/* A decoder with the given admission rates (0 = unlimited). */
static struct nm_t *adm_new(void **state, uint32_t src_rate, uint32_t src_burst,
			    uint32_t glob_rate, uint32_t glob_burst)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	c.max_templates = C_TMPL;
	c.max_exporters = C_EXP;
	c.max_templates_per_exporter = C_PER_EXP;
	c.max_fields_per_template = 16;
	c.admit_source_rate = src_rate;
	c.admit_source_burst = src_burst;
	c.admit_global_rate = glob_rate;
	c.admit_global_burst = glob_burst;
	struct nm_t *t = nm_t_reset(state, &c);
	assert_non_null(t);
	t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS;
	return t;
}

/* IPFIX message of observation domain dom defining n one-field templates
 * (packetDeltaCount, 4 bytes) from ID first, then (nrec > 0) a data set of
 * nrec records for template data_id. Returns the records produced. */
static uint32_t adm_msg(struct nm_t *t, uint32_t dom, uint32_t first, unsigned n, uint16_t data_id,
			unsigned nrec)
{
	if (t->b.n > NM_T_RECS / 2)
		nm_t_clear(t); /* room for the next records */
	uint32_t before = t->b.n;
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, dom);
	if (n) {
		nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
		for (unsigned i = 0; i < n; i++) {
			nm_pb_tmpl_begin(&t->pb, (uint16_t)(first + i), 1);
			nm_pb_u16(&t->pb, 2);
			nm_pb_u16(&t->pb, 4);
		}
		nm_pb_set_end(&t->pb);
	}
	if (nrec) {
		nm_pb_set_begin(&t->pb, data_id);
		for (unsigned i = 0; i < nrec; i++)
			nm_pb_u32(&t->pb, 1000 + i);
		nm_pb_set_end(&t->pb);
	}
	nm_pb_ipfix_end(&t->pb);
	assert_false(t->pb.overflow);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	return t->b.n - before;
}

/*
 * Source rate 10/s, burst 5, two buckets per address: one address opening
 * 14 observation domains at once gets 10; a tenth of a second later one
 * more per bucket; another address has buckets of its own. Refused
 * datagrams learn nothing and their data is counted as lost records.
 */
static void test_admit_exporter_source(void **state)
{
	struct nm_t *t = adm_new(state, 10, 5, 0, 1);
	cache_from(t, 1);
	for (uint32_t dom = 0; dom < 14; dom++)
		adm_msg(t, dom, 0, 0, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 10);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 4);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_GLOBAL), 0);
	/* A refused exporter's data: one set, 3 records of 4 bytes lost; no
	 * template of its own is known, none decoded data yet: 1 record. */
	assert_int_equal(adm_msg(t, 99, 256, 0, 256, 3), 0);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 5);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 1);
	/* 100 ms: one token in each bucket. */
	t->m.time_ns += 100 * NM_T_MS;
	adm_msg(t, 50, 0, 0, 0, 0);
	adm_msg(t, 51, 0, 0, 0, 0);
	adm_msg(t, 52, 0, 0, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 12);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 6);
	/* Another address, the same instant: buckets of its own. */
	cache_from(t, 2);
	adm_msg(t, 0, 256, 1, 256, 2);
	assert_int_equal(nm_decoder_exporter_count(t->d), 13);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_PROVEN), 1);
	/* Known exporters are never refused, whatever their buckets hold. */
	cache_from(t, 1);
	adm_msg(t, 0, 0, 0, 0, 0);
	adm_msg(t, 50, 0, 0, 0, 0);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 6);
	assert_int_equal(nm_decoder_exporter_count(t->d), 13);
	cache_assert_consistent(t);
	assert_identity(t);
}

/*
 * Global rate 10/s, burst 4; source 1/s, burst 1 (two buckets: 2 at once
 * per address). A refusal by the source takes nothing from the global
 * bucket: address 0's third domain is refused by its source, and the two
 * tokens left go to addresses 1 and 2.
 */
static void test_admit_exporter_global(void **state)
{
	struct nm_t *t = adm_new(state, 1, 1, 10, 4);
	cache_from(t, 0);
	for (uint32_t dom = 1; dom <= 3; dom++)
		adm_msg(t, dom, 0, 0, 0, 0);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 1);
	for (uint32_t a = 1; a <= 4; a++) {
		cache_from(t, a);
		adm_msg(t, 7, 0, 0, 0, 0);
	}
	assert_int_equal(nm_decoder_exporter_count(t->d), 4);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_GLOBAL), 2);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 1);
	/* 100 ms later: one global token. Address 0 (source buckets still
	 * empty) is refused by its source; the token goes to address 5. */
	t->m.time_ns += 100 * NM_T_MS;
	cache_from(t, 0);
	adm_msg(t, 3, 0, 0, 0, 0);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_SOURCE), 2);
	cache_from(t, 5);
	adm_msg(t, 7, 0, 0, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 5);
	cache_from(t, 6);
	adm_msg(t, 7, 0, 0, 0, 0);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_GLOBAL), 3);
	assert_identity(t);
}

/*
 * New templates of an exporter that has decoded nothing take tokens too
 * (source burst 5 in each of two buckets: the entry took 1, so 9 of 15
 * templates get in); a re-sent template costs nothing; once its data
 * decodes the exporter is proven and its new templates are no longer
 * rate-limited.
 */
static void test_admit_templates(void **state)
{
	struct nm_t *t = adm_new(state, 10, 5, 0, 1);
	cache_from(t, 1);
	adm_msg(t, 1, 256, 15, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 9);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_SOURCE), 6);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_ADDED), 9);
	/* Re-sent: 9 refreshes (free), 6 refused again. */
	adm_msg(t, 1, 256, 15, 0, 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_REFRESHED), 9);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_SOURCE), 12);
	/* Data for a refused template (265..270): 3 records of the exporter's
	 * smallest record (4 bytes) lost. */
	assert_int_equal(adm_msg(t, 1, 0, 0, 266, 3), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 3);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_PROVEN), 0);
	/* Data for an admitted one: proven, and then 15 templates at once. */
	assert_int_equal(adm_msg(t, 1, 0, 0, 257, 2), 2);
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_PROVEN), 1);
	adm_msg(t, 1, 256, 15, 270, 1);
	assert_int_equal(nm_decoder_template_count(t->d), 15);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_SOURCE), 12);
	assert_int_equal(t->b.n, 3);
	struct cache_sum s = {0, 0, 0};
	nm_decoder_exporter_foreach(t->d, cache_sum_cb, &s);
	assert_int_equal(s.templates, 15);
	assert_identity(t);
}

/* The global bucket refuses templates of unproven exporters too. */
static void test_admit_templates_global(void **state)
{
	struct nm_t *t = adm_new(state, 0, 1, 100, 3);
	cache_from(t, 1);
	adm_msg(t, 1, 256, 5, 0, 0); /* entry 1 token, templates 2 */
	assert_int_equal(nm_decoder_template_count(t->d), 2);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_GLOBAL), 3);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_SOURCE), 0);
	/* 20 ms at 100/s: 2 tokens. */
	t->m.time_ns += 20 * NM_T_MS;
	adm_msg(t, 1, 256, 5, 0, 0);
	assert_int_equal(nm_decoder_template_count(t->d), 4);
	assert_int_equal(nm_t_err(t, NM_ERR_TMPL_REFUSED_GLOBAL), 4);
	assert_identity(t);
}

/* A receive clock that goes back (a replayed capture) starts the buckets
 * afresh instead of refusing until it catches up. */
static void test_admit_clock_back(void **state)
{
	struct nm_t *t = adm_new(state, 1, 2, 1, 2);
	cache_from(t, 1);
	adm_msg(t, 1, 256, 1, 0, 0); /* entry + template: the global bucket is empty */
	adm_msg(t, 2, 256, 1, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 1);
	assert_int_equal(nm_decoder_template_count(t->d), 1);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_GLOBAL), 1);
	t->m.time_ns -= 3600 * NM_T_NS;
	adm_msg(t, 3, 256, 1, 0, 0);
	assert_int_equal(nm_decoder_exporter_count(t->d), 2);
	assert_int_equal(nm_decoder_template_count(t->d), 2);
	assert_int_equal(nm_t_err(t, NM_ERR_EXPORTER_REFUSED_GLOBAL), 1);
	assert_identity(t);
}

/*
 * Templates that decoded data are the last to go. Exporter A defines 8
 * templates and sends data on 4 of them; then 400 exporters define 4 each
 * (1,600 templates into the 1,024-slot pool, all never used). The pool
 * evicts only never-used templates, oldest first: A's 4 unused ones first,
 * and A's 4 used ones still decode. Then, when every template in the pool
 * has decoded data, the least recently used one goes (TMPL_EVICTED_POOL_USED).
 */
static void test_evict_used_last(void **state)
{
	struct nm_t *t = adm_new(state, 0, 1, 0, 1);
	cache_from(t, 0xa);
	adm_msg(t, 1, 256, 8, 0, 0);
	for (uint16_t id = 260; id < 264; id++)
		assert_int_equal(adm_msg(t, 1, 0, 0, id, 1), 1);
	for (uint32_t e = 0; e < 400; e++) {
		cache_from(t, 0x100 + e);
		t->m.time_ns += NM_T_MS;
		adm_msg(t, 1, 256, 4, 0, 0);
		cache_assert_caps(t);
	}
	/* The table holds A + 255 others (the oldest unproven go, with their
	 * templates): at most 8 + 255 x 4 = 1,028 templates live, so 4 pool
	 * evictions: A's 4 unused templates, the oldest never used. */
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED), 400 - (C_EXP - 1));
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED_ACTIVE), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL), 4);
	assert_int_equal(nm_t_ev(t, NM_EV_TMPL_EVICTED_POOL_USED), 0);
	cache_from(t, 0xa);
	for (uint16_t id = 260; id < 264; id++)
		assert_int_equal(adm_msg(t, 1, 0, 0, id, 1), 1);
	uint64_t miss = nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE);
	for (uint16_t id = 256; id < 260; id++)
		assert_int_equal(adm_msg(t, 1, 0, 0, id, 1), 0);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), miss + 4);
	cache_assert_consistent(t);

	/* Now a pool where everything has decoded data: 256 proven exporters
	 * x 4 used templates = 1,024. */
	struct nm_t *u = adm_new(state, 0, 1, 0, 1);
	for (uint32_t e = 0; e < 256; e++) {
		cache_from(u, e);
		u->m.time_ns += NM_T_MS;
		adm_msg(u, 1, 256, 4, 0, 0);
		for (uint16_t id = 256; id < 260; id++)
			assert_int_equal(adm_msg(u, 1, 0, 0, id, 1), 1);
	}
	assert_int_equal(nm_decoder_template_count(u->d), C_TMPL);
	/* Exporter 255 used its templates last; exporter 0's are the least
	 * recently used. A new template of exporter 255 needs a slot. */
	u->m.time_ns += NM_T_MS;
	cache_from(u, 255);
	assert_int_equal(adm_msg(u, 1, 300, 1, 300, 1), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_TMPL_EVICTED_POOL), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_TMPL_EVICTED_POOL_USED), 1);
	/* The most recently used templates are never the victim. */
	for (uint16_t id = 256; id < 260; id++)
		assert_int_equal(adm_msg(u, 1, 0, 0, id, 1), 1);
	assert_int_equal(nm_t_err(u, NM_ERR_DATA_NO_TEMPLATE), 0);
	cache_assert_consistent(u);
	assert_identity(u);
}

/*
 * Exporters that decoded data are the last to go: a proven exporter
 * survives 1,000 unproven ones in a 256-slot table (1,000 - 255 evictions,
 * none of them active); with a table of proven exporters only, a new one
 * evicts one of them (EXPORTER_EVICTED_ACTIVE).
 */
static void test_evict_proven_last(void **state)
{
	struct nm_t *t = adm_new(state, 0, 1, 0, 1);
	cache_from(t, 0xa);
	assert_int_equal(adm_msg(t, 1, 256, 1, 256, 1), 1);
	for (uint32_t e = 0; e < 1000; e++) {
		cache_from(t, 0x100 + e);
		adm_msg(t, 1, 256, 2, 0, 0);
	}
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED), 1000 - (C_EXP - 1));
	assert_int_equal(nm_t_ev(t, NM_EV_EXPORTER_EVICTED_ACTIVE), 0);
	cache_from(t, 0xa);
	assert_int_equal(adm_msg(t, 1, 0, 0, 256, 1), 1);
	cache_assert_consistent(t);

	struct nm_t *u = adm_new(state, 0, 1, 0, 1);
	for (uint32_t e = 0; e < C_EXP; e++) {
		cache_from(u, e);
		u->m.time_ns += NM_T_MS;
		assert_int_equal(adm_msg(u, 1, 256, 1, 256, 1), 1);
	}
	assert_int_equal(nm_t_ev(u, NM_EV_EXPORTER_PROVEN), C_EXP);
	cache_from(u, 0x1000);
	adm_msg(u, 1, 256, 1, 0, 0);
	assert_int_equal(nm_t_ev(u, NM_EV_EXPORTER_EVICTED), 1);
	assert_int_equal(nm_t_ev(u, NM_EV_EXPORTER_EVICTED_ACTIVE), 1);
	assert_int_equal(nm_decoder_exporter_count(u->d), C_EXP);
	cache_assert_consistent(u);
	assert_identity(u);
}

/*
 * Records lost for want of a template, estimated: the set's length divided
 * by the exporter's smallest record (even after its templates are gone);
 * for an exporter that never defined one, by the smallest record of a
 * template that decoded data anywhere; with neither, one record per set.
 * Expired templates count the same way. Per set, DATA_NO_TEMPLATE as before.
 */
static void test_records_lost_estimate(void **state)
{
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	c.template_lifetime_s = 60;
	struct nm_t *t = nm_t_reset(state, &c);
	t->m.time_ns = (uint64_t)NM_T_NOW_S * NM_T_NS;
	/* No template anywhere: one record for a 40-byte set. */
	cache_from(t, 1);
	assert_int_equal(adm_msg(t, 1, 0, 0, 400, 10), 0);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 1);
	/* Exporter 2 defines 12- and 20-byte templates: a 120-byte set of an
	 * unknown ID is 10 records (of the smallest, 12 bytes). */
	cache_from(t, 2);
	const struct nm_pb_field f12[] = {{8, 4, 0}, {12, 4, 0}, {2, 4, 0}};
	const struct nm_pb_field f20[] = {{8, 4, 0}, {12, 4, 0}, {1, 8, 0}, {2, 4, 0}};
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, NM_PB_IPFIX_TMPL_SET);
	nm_pb_tmpl(&t->pb, 300, f20, NELEM(f20));
	nm_pb_tmpl(&t->pb, 301, f12, NELEM(f12));
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 999);
	nm_pb_zeros(&t->pb, 120);
	nm_pb_set_end(&t->pb);
	nm_pb_set_begin(&t->pb, 300); /* 2 records decode: the 20-byte template is used */
	nm_pb_zeros(&t->pb, 40);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	nm_t_clear(t);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	assert_int_equal(t->b.n, 2);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 1 + 10);
	/* Exporter 1 (no template of its own): the smallest record that decoded
	 * data is 20 bytes: a 100-byte set is 5 records. */
	cache_from(t, 1);
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, 400);
	nm_pb_zeros(&t->pb, 100);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 11 + 5);
	/* Exporter 2's templates expire: 60 bytes of template 301 are 5 records. */
	t->m.time_ns += 61 * NM_T_NS;
	cache_from(t, 2);
	nm_pb_init(&t->pb);
	nm_pb_ipfix_header(&t->pb, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, 301);
	nm_pb_zeros(&t->pb, 60);
	nm_pb_set_end(&t->pb);
	nm_pb_ipfix_end(&t->pb);
	assert_int_equal(nm_t_ipfix(t), NM_ERR_OK);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_TMPL_EXPIRED), 1);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 16 + 5);
	assert_int_equal(nm_t_err(t, NM_ERR_DATA_NO_TEMPLATE), 3);
	/* NetFlow v9 the same way: a 48-byte flowset, no template of this
	 * exporter, smallest used record 20 bytes: 2 records. */
	cache_from(t, 3);
	nm_pb_init(&t->pb);
	nm_pb_v9_header(&t->pb, 1, 1000, NM_T_NOW_S, 0, 1);
	nm_pb_set_begin(&t->pb, 500);
	nm_pb_zeros(&t->pb, 48);
	nm_pb_set_end(&t->pb);
	assert_int_equal(nm_t_v9(t), NM_ERR_OK);
	assert_int_equal(nm_t_ev(t, NM_EV_RECORDS_NO_TEMPLATE), 21 + 2);
	assert_identity(t);
}

/* The defaults the documentation states, and out-of-range rates refused. */
static void test_admit_config(void **state)
{
	(void)state;
	struct nm_decode_cfg c;
	nm_decode_cfg_default(&c);
	assert_int_equal(c.admit_source_rate, 16);
	assert_int_equal(c.admit_source_burst, 64);
	assert_int_equal(c.admit_global_rate, 2048);
	assert_int_equal(c.admit_global_burst, 4096);
	struct nm_decode_cfg b = c;
	b.admit_source_burst = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.admit_global_burst = 0;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.admit_global_rate = 1000000001u;
	assert_int_equal(nm_decoder_mem_size(&b), 0);
	b = c;
	b.admit_source_rate = 0;
	b.admit_source_burst = 0; /* unlimited: the burst does not matter */
	assert_true(nm_decoder_mem_size(&b) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_config_bounds),
		cmocka_unit_test_setup_teardown(test_cache_per_exporter_cap, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_pool_eviction_exact, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_exporter_eviction_exact, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_same_id_many_exporters, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_flood_exact, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_flood_pool_pressure, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_cache_versions_share_pool, nm_t_setup, nm_t_teardown),
		cmocka_unit_test(test_admit_config),
		cmocka_unit_test_setup_teardown(test_admit_exporter_source, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_admit_exporter_global, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_admit_templates, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_admit_templates_global, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_admit_clock_back, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_evict_used_last, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_evict_proven_last, nm_t_setup, nm_t_teardown),
		cmocka_unit_test_setup_teardown(test_records_lost_estimate, nm_t_setup, nm_t_teardown),
	};
	return cmocka_run_group_tests_name("tmpl_cache", tests, NULL, NULL);
}
