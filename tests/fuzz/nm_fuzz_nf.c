/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Driver shared by the NetFlow v5, v9, IPFIX and sFlow fuzz targets: a
 * decoder per input, fresh or reset (nm_decoder_reset()), several datagrams per input (so v9/IPFIX templates
 * learned early are used, refreshed, withdrawn, expired and evicted later in
 * the same input), invariants checked after every datagram.
 *
 * The input format is described in nm_fuzz.h.
 */
#include <string.h>

#include "nf_state.h"
#include "nm_fuzz.h"

#define NM_FUZZ_BATCH_MAX 64

/* Largest configuration the input can ask for: the arena is sized for it. */
#define NM_FUZZ_TMPL_MAX 64
#define NM_FUZZ_EXP_MAX 8
#define NM_FUZZ_ARENA (512u * 1024u)

/*
 * One decoder per table layout (tight caps x max fields: 8 layouts), kept
 * across inputs. An input whose configuration matches the decoder's gets it
 * back through nm_decoder_reset() (cost: the slots the previous input used);
 * another template lifetime re-runs nm_decoder_init() on the same memory
 * (cost: header, exporter slots and indexes). Each arena is filled with
 * 0xa5 once, before its first init; from then on it holds what earlier
 * inputs left there, which a reset decoder must not read either.
 * Filling and re-initialising every input cost most of each execution
 * (RESULTS.md, "Cheaper executions").
 */
struct nm_fuzz_slot {
	_Alignas(64) uint8_t mem[NM_FUZZ_ARENA];
	struct nm_decoder *d; /* NULL until first used */
	struct nm_decode_cfg cfg;
};
static struct nm_fuzz_slot nm_fuzz_slots[8];

/*
 * Records live at the end of a global array, so an append past the batch
 * capacity runs into the array's redzone and ASan reports it.
 */
static struct nm_flow nm_fuzz_recs[NM_FUZZ_BATCH_MAX];

struct nm_fuzz_sink {
	uint64_t flushed; /* records taken out by the flush callback */
	int drain;
};

static void nm_fuzz_check_recs(const struct nm_flow *f, uint32_t n, uint32_t type)
{
	for (uint32_t i = 0; i < n; i++)
		NM_FUZZ_CHECK(f[i].type == type);
}

static void nm_fuzz_flush(struct nm_flow_batch *b, void *ctx)
{
	struct nm_fuzz_sink *s = ctx;
	NM_FUZZ_CHECK(b->n <= b->cap);
	for (uint32_t i = 0; i < b->n; i++)
		NM_FUZZ_CHECK(b->recs[i].type >= NM_FLOW_TYPE_SFLOW_5 &&
			      b->recs[i].type <= NM_FLOW_TYPE_IPFIX);
	if (s->drain) {
		s->flushed += b->n;
		b->n = 0;
	}
}

/*
 * White-box check of the decoder's tables (nf_state.h): live exporters and
 * templates match the counters, every per-exporter template chain is
 * acyclic, owned by its exporter and within the per-exporter cap; the
 * eviction-order lists (never-used templates, unproven exporters) hold
 * exactly the live entries of their kind, linked both ways.
 */
static void nm_fuzz_check_state(const struct nm_decoder *d)
{
	const struct nm_decode_cfg *c = &d->cfg;
	uint32_t nexp = 0, ntmpl = 0, nunused = 0, nunproven = 0;
	NM_FUZZ_CHECK(d->exp_fresh <= c->max_exporters);
	NM_FUZZ_CHECK(d->tmpl_fresh <= c->max_templates);
	for (uint32_t ei = 0; ei < d->exp_fresh; ei++) {
		const struct nm_exporter *e = &d->exp[ei];
		if (!e->in_use)
			continue;
		nexp++;
		nunproven += !e->proven;
		uint32_t k = 0;
		for (uint32_t ti = e->tmpl_head; ti != NM_NIL; k++) {
			NM_FUZZ_CHECK(ti < d->tmpl_fresh);
			NM_FUZZ_CHECK(k < c->max_templates);
			const struct nm_tmpl *t = (const struct nm_tmpl *)(const void *)(
				d->tmpl_mem + (size_t)ti * d->tmpl_stride);
			NM_FUZZ_CHECK(t->in_use);
			NM_FUZZ_CHECK(t->exp == ei);
			NM_FUZZ_CHECK(t->nops <= c->max_fields_per_template);
			NM_FUZZ_CHECK(t->min_len > 0);
			nunused += !t->used;
			ti = t->next;
		}
		NM_FUZZ_CHECK(k == e->ntmpl);
		NM_FUZZ_CHECK(e->ntmpl <= c->max_templates_per_exporter);
		NM_FUZZ_CHECK(e->nsamplers <= NM_SAMPLERS_MAX);
		ntmpl += k;
	}
	NM_FUZZ_CHECK(nexp == d->nexp);
	NM_FUZZ_CHECK(ntmpl == d->ntmpl);
	uint32_t k = 0, prev = NM_NIL;
	for (uint32_t ti = d->unused_head; ti != NM_NIL; k++) {
		NM_FUZZ_CHECK(ti < d->tmpl_fresh && k < ntmpl);
		const struct nm_tmpl *t = (const struct nm_tmpl *)(const void *)(
			d->tmpl_mem + (size_t)ti * d->tmpl_stride);
		NM_FUZZ_CHECK(t->in_use && !t->used && t->uprev == prev);
		prev = ti;
		ti = t->unext;
	}
	NM_FUZZ_CHECK(k == nunused && d->unused_tail == prev);
	k = 0;
	prev = NM_NIL;
	for (uint32_t ei = d->unproven_head; ei != NM_NIL; k++) {
		NM_FUZZ_CHECK(ei < d->exp_fresh && k < nexp);
		const struct nm_exporter *e = &d->exp[ei];
		NM_FUZZ_CHECK(e->in_use && !e->proven && e->pprev == prev);
		prev = ei;
		ei = e->pnext;
	}
	NM_FUZZ_CHECK(k == nunproven && d->unproven_tail == prev);
}

/* Σ fatal err[]: nm_decode_stats_rejected() of the harness's own, so the
 * check after every datagram costs no coverage callbacks. */
static uint64_t nm_fuzz_rejected(const struct nm_decode_stats *st)
{
	static uint8_t fatal[NM_ERR__COUNT];
	static int known;
	if (!known) {
		for (unsigned e = 0; e < NM_ERR__COUNT; e++)
			fatal[e] = nm_err_is_fatal((enum nm_err)e) != 0;
		known = 1;
	}
	uint64_t n = 0;
	for (unsigned e = 0; e < NM_ERR__COUNT; e++)
		n += fatal[e] ? st->err[e] : 0;
	return n;
}

/* A decoder fresh from init or reset: no exporter, no template, every
 * index bucket empty (white-box; the indexes are small in these layouts). */
static void nm_fuzz_check_empty(const struct nm_decoder *d)
{
	static unsigned k;
	NM_FUZZ_CHECK(d->nexp == 0 && d->ntmpl == 0 && d->exp_fresh == 0 && d->tmpl_fresh == 0);
	NM_FUZZ_CHECK(d->tmpl_freelist == NM_NIL);
	/* the bucket scan costs as much as the reset: every 16th input */
	if (k++ % 16)
		return;
	for (uint32_t i = 0; i <= d->exp_idx.mask; i++)
		NM_FUZZ_CHECK(d->exp_idx.b[i].slot1 == 0);
	for (uint32_t i = 0; i <= d->tmpl_idx.mask; i++)
		NM_FUZZ_CHECK(d->tmpl_idx.b[i].slot1 == 0);
}

/* NM_FUZZ_VERBOSE=1 in the environment: a summary per input on stderr, to
 * see what the seeds reach. */
static void nm_fuzz_summary(const struct nm_decoder *d)
{
	static int verbose = -1;
	if (verbose < 0)
		verbose = getenv("NM_FUZZ_VERBOSE") != NULL;
	if (!verbose)
		return;
	const struct nm_decode_stats *st = nm_decoder_stats(d);
	fprintf(stderr, "  datagrams %llu ok %llu records %llu exporters %u templates %u\n",
		(unsigned long long)st->datagrams, (unsigned long long)st->datagrams_ok,
		(unsigned long long)st->records, nm_decoder_exporter_count(d),
		nm_decoder_template_count(d));
	for (unsigned e = 1; e < NM_ERR__COUNT; e++)
		if (st->err[e])
			fprintf(stderr, "  err %s %llu\n", nm_err_name((enum nm_err)e),
				(unsigned long long)st->err[e]);
	for (unsigned e = 0; e < NM_EV__COUNT; e++)
		if (st->ev[e])
			fprintf(stderr, "  ev %s %llu\n", nm_ev_name((enum nm_ev)e),
				(unsigned long long)st->ev[e]);
}

static void nm_fuzz_exporter_addr(struct nm_addr *a, uint8_t ctl)
{
	if (ctl & 0x20) {
		memset(a->b, 0, 16);
		a->b[0] = 0x20;
		a->b[1] = 0x01;
		a->b[2] = 0x0d;
		a->b[3] = 0xb8;
		a->b[15] = (uint8_t)(ctl & 0x0f);
	} else {
		const uint8_t v4[4] = {192, 0, 2, (uint8_t)(1 + (ctl & 0x0f))};
		nm_addr_set_v4(a, v4);
	}
}

static void nm_fuzz_ctr_flush(struct nm_ctr_batch *cb, void *ctx)
{
	struct nm_fuzz_sink *s = ctx;
	NM_FUZZ_CHECK(cb->n <= cb->cap);
	for (uint32_t i = 0; i < cb->n; i++)
		NM_FUZZ_CHECK(cb->recs[i].has_generic || cb->recs[i].has_ethernet);
	if (s->drain)
		cb->n = 0;
}

void nm_fuzz_nf_run(const uint8_t *data, size_t size, nm_fuzz_decode_fn fn,
		    enum nm_flow_type expected_type)
{
	if (size < NM_FUZZ_NF_HDR)
		return;
	uint8_t flags = data[0];
	static const uint32_t fields[4] = {128, NM_TMPL_FIELDS_MAX, 32, 8};
	static const uint32_t caps[4] = {NM_FUZZ_BATCH_MAX, 16, 4, 1};

	struct nm_decode_cfg cfg;
	nm_decode_cfg_default(&cfg);
	int tight = (flags & 0x08) != 0;
	cfg.max_templates = tight ? 16 : NM_FUZZ_TMPL_MAX;
	cfg.max_exporters = tight ? 2 : NM_FUZZ_EXP_MAX;
	cfg.max_templates_per_exporter = tight ? 4 : 16;
	cfg.max_fields_per_template = fields[(flags >> 4) & 3];
	cfg.template_lifetime_s = (flags & 0x01) ? (data[1] ? data[1] : 1u) : 0;
	if (tight) {
		/* Admission refuses within a few datagrams (the clock moves by
		 * whole seconds): both refusal paths run. */
		cfg.admit_source_rate = 1;
		cfg.admit_source_burst = 2;
		cfg.admit_global_rate = 2;
		cfg.admit_global_burst = 3;
	}

	struct nm_fuzz_slot *sl = &nm_fuzz_slots[(tight << 2) | ((flags >> 4) & 3)];
	struct nm_decoder *d = sl->d;
	if (d != NULL && sl->cfg.template_lifetime_s == cfg.template_lifetime_s) {
		nm_decoder_reset(d);
	} else {
		size_t need = nm_decoder_mem_size(&cfg);
		NM_FUZZ_CHECK(need > 0 && need <= sizeof(sl->mem));
		if (d == NULL) {
			/* The decoder must not depend on the memory it is given
			 * being zero. */
			memset(sl->mem, 0xa5, need);
			NM_FUZZ_CHECK(nm_decoder_init(sl->mem, need - 1, &cfg) == NULL);
		}
		d = nm_decoder_init(sl->mem, need, &cfg);
		NM_FUZZ_CHECK(d != NULL);
		sl->d = d;
		sl->cfg = cfg;
	}
	nm_fuzz_check_empty(d);

	struct nm_fuzz_sink sink = {0, (flags & 0x04) != 0};
	struct nm_flow_batch b;
	b.cap = caps[flags >> 6];
	b.recs = nm_fuzz_recs + (NM_FUZZ_BATCH_MAX - b.cap);
	b.n = 0;
	b.flush = (flags & 0x02) ? nm_fuzz_flush : NULL;
	b.flush_ctx = &sink;

	/* sFlow counter samples: a small batch, drained like the flow one when
	 * flag bit 2 says so, so the full-batch path runs too. */
	static struct nm_ctr ctrs[4];
	struct nm_ctr_batch cb = {ctrs, 0, (flags & 0x08) ? 1 : 4,
				  (flags & 0x02) ? nm_fuzz_ctr_flush : NULL, &sink};
	nm_decoder_set_ctr_batch(d, &cb);

	const struct nm_decode_stats *st = nm_decoder_stats(d);
	NM_FUZZ_CHECK(st->datagrams == 0 && st->records == 0);
	NM_FUZZ_CHECK(nm_decoder_exporter_count(d) == 0 && nm_decoder_template_count(d) == 0);

	uint64_t now = NM_FUZZ_T0_S * 1000000000ull;
	const uint8_t *p = data + NM_FUZZ_NF_HDR;
	size_t left = size - NM_FUZZ_NF_HDR;
	while (left >= NM_FUZZ_DGRAM_HDR) {
		uint8_t ctl = p[0];
		uint64_t dt = (uint64_t)p[1] * 1000000000ull;
		size_t len = (size_t)p[2] << 8 | p[3];
		p += NM_FUZZ_DGRAM_HDR;
		left -= NM_FUZZ_DGRAM_HDR;
		if (len > left)
			len = left;
		now = (ctl & 0x80) ? now - dt : now + dt;

		struct nm_pkt_meta m;
		nm_fuzz_exporter_addr(&m.exporter, ctl);
		m.src_port = (ctl & 0x10) ? 4739 : 2055;
		m.time_ns = now;

		/* Exactly len bytes on the heap (malloc(0) may return NULL). */
		uint8_t *dg = malloc(len ? len : 1);
		NM_FUZZ_CHECK(dg != NULL);
		memcpy(dg, p, len);
		p += len;
		left -= len;

		uint64_t before_dg = st->datagrams, before_ok = st->datagrams_ok;
		uint64_t before_flushed = sink.flushed;
		uint32_t before_n = b.n;
		enum nm_err rc;
		enum nm_flow_type type = expected_type;
		if (ctl & 0x40) {
			type = nm_decode_sniff(dg, len);
			rc = nm_decode_any(d, &m, dg, len, &b);
		} else {
			rc = fn(d, &m, dg, len, &b);
		}
		free(dg);

		/* The decoder reports OK or the fatal reason it counted. */
		NM_FUZZ_CHECK((unsigned)rc < NM_ERR__COUNT);
		NM_FUZZ_CHECK(rc == NM_ERR_OK || nm_err_is_fatal(rc));
		NM_FUZZ_CHECK(st->datagrams == before_dg + 1);
		NM_FUZZ_CHECK(st->datagrams_ok == before_ok + (rc == NM_ERR_OK));

		NM_FUZZ_CHECK(st->datagrams == st->datagrams_ok + nm_fuzz_rejected(st));

		NM_FUZZ_CHECK(b.n <= b.cap);
		NM_FUZZ_CHECK(st->records == sink.flushed + b.n);
		if (sink.flushed == before_flushed && b.n >= before_n)
			nm_fuzz_check_recs(b.recs + before_n, b.n - before_n, type);
		NM_FUZZ_CHECK(nm_decoder_template_count(d) <= cfg.max_templates);
		NM_FUZZ_CHECK(nm_decoder_exporter_count(d) <= cfg.max_exporters);
		nm_fuzz_check_state(d);
	}
	/* The product's own sum agrees (once per input). */
	NM_FUZZ_CHECK(nm_decode_stats_rejected(st) == nm_fuzz_rejected(st));
	nm_fuzz_summary(d);
}
