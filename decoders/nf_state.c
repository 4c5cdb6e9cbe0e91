/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoder state: exporter table, template pool, samplers, sequence numbers.
 *
 * Everything is preallocated in the caller's block and capped by the
 * configuration. When a table is full, entries that never decoded data go
 * first, oldest first (an intrusive list, O(1)); only when none is left does
 * the least recently used of a few candidates go (an O(1) approximation of
 * LRU). New v9/IPFIX exporters, and new templates of exporters that have not
 * decoded data yet, are admitted under a per-source and a global rate
 * (GCRA). So a flood of spoofed exporters or template IDs costs constant
 * work per datagram, churns only what never decoded data, and every refusal
 * and eviction is counted by reason (DESIGN-NOTES.md, "Template floods").
 */
#include "nf_state.h"

#include <assert.h>
#include <string.h>

#include "util.h"

#define NM_EVICT_CANDIDATES 8

static const char *const nm_err_names[] = {
#define NM_X_(name, fatal, msg) #name,
	NM_DECODE_ERRORS(NM_X_)
#undef NM_X_
};
static const char *const nm_err_msgs[] = {
#define NM_X_(name, fatal, msg) msg,
	NM_DECODE_ERRORS(NM_X_)
#undef NM_X_
};
static const unsigned char nm_err_fatal[] = {
#define NM_X_(name, fatal, msg) fatal,
	NM_DECODE_ERRORS(NM_X_)
#undef NM_X_
};
static const char *const nm_ev_names[] = {
#define NM_X_(name, msg) #name,
	NM_DECODE_EVENTS(NM_X_)
#undef NM_X_
};
static const char *const nm_ev_msgs[] = {
#define NM_X_(name, msg) msg,
	NM_DECODE_EVENTS(NM_X_)
#undef NM_X_
};

uint64_t nm_decode_stats_rejected(const struct nm_decode_stats *s)
{
	uint64_t n = 0;
	for (unsigned e = 0; e < NM_ERR__COUNT; e++)
		if (nm_err_fatal[e])
			n += s->err[e];
	return n;
}

const char *nm_err_name(enum nm_err e)
{
	return (unsigned)e < NM_ERR__COUNT ? nm_err_names[e] : "?";
}
const char *nm_err_message(enum nm_err e)
{
	return (unsigned)e < NM_ERR__COUNT ? nm_err_msgs[e] : "?";
}
int nm_err_is_fatal(enum nm_err e)
{
	return (unsigned)e < NM_ERR__COUNT ? nm_err_fatal[e] : 0;
}
const char *nm_ev_name(enum nm_ev e)
{
	return (unsigned)e < NM_EV__COUNT ? nm_ev_names[e] : "?";
}
const char *nm_ev_message(enum nm_ev e)
{
	return (unsigned)e < NM_EV__COUNT ? nm_ev_msgs[e] : "?";
}

uint64_t nm_hash64(uint64_t seed, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
	while (n >= 8) {
		uint64_t k;
		memcpy(&k, s, 8);
		h = (h ^ k) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	uint64_t k = 0;
	memcpy(&k, s, n);
	h = (h ^ k) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return h;
}

void nm_decode_cfg_default(struct nm_decode_cfg *c)
{
	c->max_exporters = 4096;
	c->max_templates = 16384;
	c->max_templates_per_exporter = 1024;
	c->max_fields_per_template = 128;
	c->template_lifetime_s = 0;
	c->hash_seed = 0x6e65746d657461ull;
	c->admit_source_rate = 16;
	c->admit_source_burst = 64;
	c->admit_global_rate = 2048;
	c->admit_global_burst = 4096;
}

struct nm_layout {
	size_t exp_off, expb_off, tmplb_off, admit_off, tmpl_off, stride, total;
	uint32_t expb, tmplb;
};

static int nm_layout_of(const struct nm_decode_cfg *c, struct nm_layout *l)
{
	if (c->max_exporters < 1 || c->max_exporters > (1u << 22) || c->max_templates < 1 ||
	    c->max_templates > (1u << 24) || c->max_templates_per_exporter < 1 ||
	    c->max_fields_per_template < 1 || c->max_fields_per_template > NM_TMPL_FIELDS_MAX ||
	    c->admit_source_rate > 1000000000u || c->admit_global_rate > 1000000000u ||
	    (c->admit_source_rate && c->admit_source_burst < 1) ||
	    (c->admit_global_rate && c->admit_global_burst < 1))
		return -1;
	/* at most 2^23 and 2^25 buckets: the caps above keep them in 32 bits */
	l->expb = (uint32_t)nm_pow2_ceil(2ull * c->max_exporters);
	l->tmplb = (uint32_t)nm_pow2_ceil(2ull * c->max_templates);
	l->stride = sizeof(struct nm_tmpl) + (c->max_fields_per_template + 1u) * sizeof(struct nm_tmpl_op);
	l->stride = (l->stride + 7) & ~(size_t)7;
	size_t off = (sizeof(struct nm_decoder) + 63) & ~(size_t)63;
	l->exp_off = off;
	off += (size_t)c->max_exporters * sizeof(struct nm_exporter);
	l->expb_off = off;
	off += (size_t)l->expb * sizeof(struct nm_htab_bucket);
	l->tmplb_off = off;
	off += (size_t)l->tmplb * sizeof(struct nm_htab_bucket);
	l->admit_off = off;
	off += NM_ADMIT_SOURCES * sizeof(uint64_t);
	l->tmpl_off = off;
	off += (size_t)c->max_templates * l->stride;
	l->total = off;
	return 0;
}

/* Points the header at its tables (laid out by l) after the header is zeroed. */
static void nm_decoder_place(struct nm_decoder *d, const struct nm_layout *l)
{
	uint8_t *m = (uint8_t *)d;
	d->exp = (struct nm_exporter *)(void *)(m + l->exp_off);
	d->exp_idx.b = (struct nm_htab_bucket *)(void *)(m + l->expb_off);
	d->exp_idx.mask = l->expb - 1;
	d->tmpl_idx.b = (struct nm_htab_bucket *)(void *)(m + l->tmplb_off);
	d->tmpl_idx.mask = l->tmplb - 1;
	d->tmpl_mem = m + l->tmpl_off;
	d->tmpl_stride = l->stride;
	d->admit_src = (uint64_t *)(void *)(m + l->admit_off);
	d->tmpl_freelist = NM_NIL;
	d->unused_head = d->unused_tail = NM_NIL;
	d->unproven_head = d->unproven_tail = NM_NIL;
}

size_t nm_decoder_mem_size(const struct nm_decode_cfg *cfg)
{
	struct nm_layout l;
	return nm_layout_of(cfg, &l) ? 0 : l.total;
}

struct nm_decoder *nm_decoder_init(void *mem, size_t len, const struct nm_decode_cfg *cfg)
{
	struct nm_layout l;
	if (mem == NULL || nm_layout_of(cfg, &l) || len < l.total)
		return NULL;
	uint8_t *m = mem;
	/* Only the header, the exporter array and the indexes need zeroing;
	 * template slots are initialised when taken. */
	memset(m, 0, l.tmpl_off);
	struct nm_decoder *d = mem;
	d->cfg = *cfg;
	nm_decoder_place(d, &l);
	return d;
}

void nm_decoder_reset(struct nm_decoder *d)
{
	/* Only slots below exp_fresh were ever taken, so only they can hold
	 * index entries: remove those, leaving the indexes as init made them
	 * (all buckets empty) without touching the rest of them. */
	for (uint32_t ei = 0; ei < d->exp_fresh; ei++) {
		struct nm_exporter *e = &d->exp[ei];
		if (!e->in_use)
			continue;
		for (uint32_t ti = e->tmpl_head; ti != NM_NIL;) {
			struct nm_tmpl *t = nm_tmpl_at(d, ti);
			nm_htab_remove(&d->tmpl_idx, t->hash, ti);
			t->in_use = 0;
			ti = t->next;
		}
		nm_htab_remove(&d->exp_idx, e->hash, ei);
		e->in_use = 0;
	}
	/* Exporter and template slots are initialised when taken (memset in
	 * nm_exporter_get() and nm_tmpl_slot()), and taken again only from
	 * exp_fresh/tmpl_fresh = 0 after this: their old contents are never
	 * read. The header goes back to init's state, keeping what the caller
	 * configured. */
	struct nm_decode_cfg cfg = d->cfg;
	struct nm_ctr_batch *cb = d->ctr_batch;
	struct nm_static_rate rates[NM_STATIC_RATES_MAX];
	uint32_t nstatic = d->nstatic;
	memcpy(rates, d->static_rates, sizeof(rates));
	struct nm_layout l;
	int rc = nm_layout_of(&cfg, &l);
	assert(rc == 0);
	(void)rc;
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	nm_decoder_place(d, &l);
	/* the admission buckets (32 KiB): a fresh decoder admits anew */
	memset(d->admit_src, 0, NM_ADMIT_SOURCES * sizeof(uint64_t));
	d->ctr_batch = cb;
	memcpy(d->static_rates, rates, sizeof(rates));
	d->nstatic = nstatic;
}

const struct nm_decode_stats *nm_decoder_stats(const struct nm_decoder *d)
{
	return &d->stats;
}

uint32_t nm_decoder_exporter_count(const struct nm_decoder *d)
{
	return d->nexp;
}

int nm_decoder_set_static_rate(struct nm_decoder *d, const struct nm_addr *addr, uint64_t rate,
			       bool override)
{
	if (d->nstatic >= NM_STATIC_RATES_MAX)
		return -1;
	d->static_rates[d->nstatic].addr = *addr;
	d->static_rates[d->nstatic].rule.rate = rate;
	d->static_rates[d->nstatic].rule.override = override;
	d->nstatic++;
	return 0;
}

void nm_decoder_clear_static_rates(struct nm_decoder *d)
{
	d->nstatic = 0;
	for (uint32_t i = 0; i < d->exp_fresh; i++)
		d->exp[i].static_rate = (struct nm_rate_rule){0, false};
}

void nm_decoder_refresh_static_rates(struct nm_decoder *d)
{
	for (uint32_t i = 0; i < d->exp_fresh; i++) {
		struct nm_exporter *e = &d->exp[i];
		if (!e->in_use)
			continue;
		e->static_rate = (struct nm_rate_rule){0, false};
		for (uint32_t k = 0; k < d->nstatic; k++)
			if (memcmp(d->static_rates[k].addr.b, e->addr.b, 16) == 0) {
				e->static_rate = d->static_rates[k].rule;
				break;
			}
	}
}

void nm_decoder_set_ctr_batch(struct nm_decoder *d, struct nm_ctr_batch *cb)
{
	d->ctr_batch = cb;
}

void nm_decoder_exporter_foreach(const struct nm_decoder *d,
				 int (*fn)(const struct nm_exporter_info *e, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < d->exp_fresh; i++) {
		const struct nm_exporter *e = &d->exp[i];
		if (!e->in_use)
			continue;
		struct nm_exporter_info x = {e->addr,       e->domain,   e->sub,
					     e->port,       e->version,  e->ntmpl,
					     e->proven != 0, e->seq_gaps, e->seq_lost,
					     e->seq_resets};
		if (fn(&x, ctx))
			return;
	}
}

uint32_t nm_decoder_template_count(const struct nm_decoder *d)
{
	return d->ntmpl;
}

/* ---- admission ---- */

/*
 * Generic cell rate algorithm: *tat is the theoretical arrival time of the
 * next admission; one is admitted when it is due no more than burst - 1
 * intervals ahead. Returns whether it would be (take: and takes it).
 * A tat further ahead than a full bucket allows means the clock went back
 * (a replayed capture): the bucket starts afresh instead of refusing until
 * the clock catches up.
 */
static bool nm_gcra(uint64_t *tat, uint64_t now, uint32_t rate, uint32_t burst, bool take)
{
	if (rate == 0)
		return true;
	uint64_t iv = 1000000000ull / rate;
	uint64_t span = (uint64_t)burst * iv;
	uint64_t t = *tat;
	if (t < now || t - now > span)
		t = now;
	if (t - now + iv > span)
		return false;
	if (take)
		*tat = t + iv;
	return true;
}

/* One admission for source addr: true (a token taken from both buckets),
 * or false with the refusing bucket's reason counted (source checked first). */
static bool nm_admit(struct nm_decoder *d, const struct nm_addr *addr, uint64_t now,
		     enum nm_err src_err, enum nm_err glob_err)
{
	const struct nm_decode_cfg *c = &d->cfg;
	/* Two buckets per address (two seeded hashes), the fuller one used: an
	 * address that shares a bucket with a flooding one still has the
	 * other, unless both are shared (for 16 flooding addresses among 4096
	 * buckets, 1 chance in ~16,000). */
	uint64_t h = nm_hash64(d->cfg.hash_seed ^ 0xad, addr->b, 16);
	uint32_t i1 = (uint32_t)h & (NM_ADMIT_SOURCES - 1);
	uint32_t i2 = (uint32_t)(h >> 32) & (NM_ADMIT_SOURCES - 1);
	if (i2 == i1)
		i2 ^= 1;
	uint64_t *src = &d->admit_src[d->admit_src[i2] < d->admit_src[i1] ? i2 : i1];
	if (!nm_gcra(src, now, c->admit_source_rate, c->admit_source_burst, false)) {
		nm_err_inc(d, src_err);
		return false;
	}
	if (!nm_gcra(&d->admit_tat, now, c->admit_global_rate, c->admit_global_burst, true)) {
		nm_err_inc(d, glob_err);
		return false;
	}
	nm_gcra(src, now, c->admit_source_rate, c->admit_source_burst, true);
	return true;
}

/* ---- eviction-order lists ---- */

static void nm_unused_link(struct nm_decoder *d, uint32_t ti)
{
	struct nm_tmpl *t = nm_tmpl_at(d, ti);
	t->unext = NM_NIL;
	t->uprev = d->unused_tail;
	if (d->unused_tail != NM_NIL)
		nm_tmpl_at(d, d->unused_tail)->unext = ti;
	else
		d->unused_head = ti;
	d->unused_tail = ti;
}

void nm_unused_unlink(struct nm_decoder *d, uint32_t ti)
{
	struct nm_tmpl *t = nm_tmpl_at(d, ti);
	if (t->uprev != NM_NIL)
		nm_tmpl_at(d, t->uprev)->unext = t->unext;
	else
		d->unused_head = t->unext;
	if (t->unext != NM_NIL)
		nm_tmpl_at(d, t->unext)->uprev = t->uprev;
	else
		d->unused_tail = t->uprev;
	t->uprev = t->unext = NM_NIL;
}

void nm_unproven_link(struct nm_decoder *d, uint32_t ei)
{
	struct nm_exporter *e = &d->exp[ei];
	e->pnext = NM_NIL;
	e->pprev = d->unproven_tail;
	if (d->unproven_tail != NM_NIL)
		d->exp[d->unproven_tail].pnext = ei;
	else
		d->unproven_head = ei;
	d->unproven_tail = ei;
}

static void nm_unproven_unlink(struct nm_decoder *d, uint32_t ei)
{
	struct nm_exporter *e = &d->exp[ei];
	if (e->pprev != NM_NIL)
		d->exp[e->pprev].pnext = e->pnext;
	else
		d->unproven_head = e->pnext;
	if (e->pnext != NM_NIL)
		d->exp[e->pnext].pprev = e->pprev;
	else
		d->unproven_tail = e->pprev;
	e->pprev = e->pnext = NM_NIL;
}

/* ---- templates ---- */

static uint32_t nm_tmpl_hash(const struct nm_decoder *d, uint32_t exp, uint16_t id)
{
	uint64_t k = (uint64_t)exp << 16 | id;
	return (uint32_t)nm_hash64(d->cfg.hash_seed, &k, sizeof(k));
}

static uint32_t nm_tmpl_index(struct nm_decoder *d, const struct nm_tmpl *t)
{
	return (uint32_t)(((const uint8_t *)t - d->tmpl_mem) / d->tmpl_stride);
}

void nm_tmpl_remove(struct nm_decoder *d, struct nm_exporter *e, struct nm_tmpl *t)
{
	uint32_t ti = nm_tmpl_index(d, t);
	uint32_t *link = &e->tmpl_head;
	while (*link != NM_NIL && *link != ti)
		link = &nm_tmpl_at(d, *link)->next;
	if (*link == ti)
		*link = t->next;
	nm_htab_remove(&d->tmpl_idx, t->hash, ti);
	if (!t->used)
		nm_unused_unlink(d, ti);
	t->in_use = 0;
	t->next = d->tmpl_freelist;
	d->tmpl_freelist = ti;
	e->ntmpl--;
	d->ntmpl--;
}

void nm_tmpl_remove_all(struct nm_decoder *d, struct nm_exporter *e, int options)
{
	uint32_t ti = e->tmpl_head;
	while (ti != NM_NIL) {
		struct nm_tmpl *t = nm_tmpl_at(d, ti);
		ti = t->next;
		if (options < 0 || t->options == (uint8_t)options)
			nm_tmpl_remove(d, e, t);
	}
}

struct nm_tmpl *nm_tmpl_find(struct nm_decoder *d, struct nm_exporter *e, uint16_t id,
			     uint64_t now_ns, bool *expired)
{
	uint32_t ei = (uint32_t)(e - d->exp);
	*expired = false;
	struct nm_tmpl *t = NULL;
	/* Most data sets use the template the previous one used. A slot can be
	 * reused by another exporter, so the owner and ID are checked. */
	if (e->last_tmpl != NM_NIL) {
		struct nm_tmpl *c = nm_tmpl_at(d, e->last_tmpl);
		if (c->in_use && c->exp == ei && c->id == id)
			t = c;
	}
	if (t == NULL) {
		uint32_t h = nm_tmpl_hash(d, ei, id);
		uint32_t pos = h & d->tmpl_idx.mask;
		uint32_t s;
		while ((s = nm_htab_next(&d->tmpl_idx, h, &pos)) != UINT32_MAX) {
			struct nm_tmpl *c = nm_tmpl_at(d, s);
			if (c->exp == ei && c->id == id) {
				t = c;
				e->last_tmpl = s;
				break;
			}
		}
		if (t == NULL)
			return NULL;
	}
	if (d->cfg.template_lifetime_s &&
	    now_ns > t->last_ns + (uint64_t)d->cfg.template_lifetime_s * 1000000000ull) {
		nm_tmpl_remove(d, e, t);
		nm_ev_inc(d, NM_EV_TMPL_EXPIRED);
		*expired = true;
		return NULL;
	}
	return t;
}

/* The pool's victim: the oldest template that never decoded data, else the
 * least recently used among a few candidates from a rotating cursor (then
 * every template in the pool has decoded data). */
static struct nm_tmpl *nm_tmpl_victim(struct nm_decoder *d)
{
	if (d->unused_head != NM_NIL)
		return nm_tmpl_at(d, d->unused_head);
	struct nm_tmpl *best = NULL;
	uint32_t n = d->cfg.max_templates;
	for (uint32_t k = 0, seen = 0; k < n && seen < NM_EVICT_CANDIDATES; k++) {
		struct nm_tmpl *t = nm_tmpl_at(d, d->tmpl_cursor);
		d->tmpl_cursor = (d->tmpl_cursor + 1) % n;
		if (!t->in_use)
			continue;
		seen++;
		if (best == NULL || t->used_ns < best->used_ns)
			best = t;
	}
	return best;
}

/* Whether a goes before b when an exporter is at its own cap: never used
 * before used, then the older (defined or re-sent; last data for used). */
static bool nm_tmpl_older(const struct nm_tmpl *a, const struct nm_tmpl *b)
{
	if (a->used != b->used)
		return !a->used;
	return (a->used ? a->used_ns : a->last_ns) <= (b->used ? b->used_ns : b->last_ns);
}

struct nm_tmpl *nm_tmpl_slot(struct nm_decoder *d, struct nm_exporter *e, uint16_t id,
			     bool *existed)
{
	bool expired;
	struct nm_tmpl *t = nm_tmpl_find(d, e, id, e->last_ns, &expired);
	*existed = t != NULL;
	if (t)
		return t;
	/* An exporter that has not decoded data earns new templates only at
	 * the admission rates: a flood of IDs cannot churn the pool faster. */
	if (!e->proven && !nm_admit(d, &e->addr, e->last_ns, NM_ERR_TMPL_REFUSED_SOURCE,
				    NM_ERR_TMPL_REFUSED_GLOBAL))
		return NULL;
	return nm_tmpl_take(d, e, id);
}

struct nm_tmpl *nm_tmpl_take(struct nm_decoder *d, struct nm_exporter *e, uint16_t id)
{
	struct nm_tmpl *t;
	if (e->ntmpl >= d->cfg.max_templates_per_exporter) {
		/* Evict this exporter's least recently defined template. */
		struct nm_tmpl *old = NULL;
		for (uint32_t ti = e->tmpl_head; ti != NM_NIL;) {
			struct nm_tmpl *c = nm_tmpl_at(d, ti);
			/* The chain runs newest first: on a tie keep looking, so
			 * the earliest defined of equally old templates goes. */
			if (old == NULL || nm_tmpl_older(c, old))
				old = c;
			ti = c->next;
		}
		/* ntmpl >= the cap >= 1: the chain is not empty. */
		assert(old != NULL);
		nm_tmpl_remove(d, e, old);
		nm_ev_inc(d, NM_EV_TMPL_EVICTED_EXPORTER);
	}
	uint32_t ti;
	if (d->tmpl_freelist != NM_NIL) {
		ti = d->tmpl_freelist;
		d->tmpl_freelist = nm_tmpl_at(d, ti)->next;
	} else if (d->tmpl_fresh < d->cfg.max_templates) {
		ti = d->tmpl_fresh++;
	} else {
		struct nm_tmpl *v = nm_tmpl_victim(d);
		/* The pool is full, so a victim always exists. */
		if (v->used)
			nm_ev_inc(d, NM_EV_TMPL_EVICTED_POOL_USED);
		nm_tmpl_remove(d, &d->exp[v->exp], v);
		nm_ev_inc(d, NM_EV_TMPL_EVICTED_POOL);
		ti = d->tmpl_freelist;
		d->tmpl_freelist = nm_tmpl_at(d, ti)->next;
	}
	uint32_t ei = (uint32_t)(e - d->exp);
	t = nm_tmpl_at(d, ti);
	memset(t, 0, sizeof(*t));
	t->exp = ei;
	t->id = id;
	t->in_use = 1;
	t->hash = nm_tmpl_hash(d, ei, id);
	t->next = e->tmpl_head;
	t->uprev = t->unext = NM_NIL;
	e->tmpl_head = ti;
	e->ntmpl++;
	d->ntmpl++;
	nm_htab_insert(&d->tmpl_idx, t->hash, ti);
	nm_unused_link(d, ti);
	return t;
}

void nm_tmpl_used(struct nm_decoder *d, struct nm_exporter *e, uint32_t ti, uint64_t now_ns)
{
	struct nm_tmpl *t = nm_tmpl_at(d, ti);
	assert(t->in_use && t->exp == (uint32_t)(e - d->exp));
	t->used_ns = now_ns;
	if (t->used)
		return;
	t->used = 1;
	nm_unused_unlink(d, ti);
	if (!t->options && (d->rec_min_used == 0 || t->min_len < d->rec_min_used))
		d->rec_min_used = t->min_len;
	if (!e->proven) {
		e->proven = 1;
		nm_unproven_unlink(d, (uint32_t)(e - d->exp));
		nm_ev_inc(d, NM_EV_EXPORTER_PROVEN);
	}
}

void nm_records_unknown(struct nm_decoder *d, const struct nm_exporter *e, size_t len)
{
	uint32_t m = e && e->rec_min ? e->rec_min : d->rec_min_used;
	uint64_t n = m ? len / m : (len > 0 ? 1u : 0u);
	d->stats.ev[NM_EV_RECORDS_NO_TEMPLATE] += n;
}

/* ---- exporters ---- */

struct nm_exp_key {
	uint8_t addr[16];
	uint32_t domain;
	uint32_t sub;
	uint16_t port;
	uint8_t version;
	uint8_t zero;
};

static void nm_exporter_evict(struct nm_decoder *d, struct nm_exporter *e)
{
	nm_tmpl_remove_all(d, e, -1);
	nm_htab_remove(&d->exp_idx, e->hash, (uint32_t)(e - d->exp));
	if (e->proven)
		nm_ev_inc(d, NM_EV_EXPORTER_EVICTED_ACTIVE);
	else
		nm_unproven_unlink(d, (uint32_t)(e - d->exp));
	e->in_use = 0;
	d->nexp--;
	nm_ev_inc(d, NM_EV_EXPORTER_EVICTED);
}

/* Finds (admit: or admits) the exporter; NULL only when admission refuses. */
struct nm_exporter *nm_exporter_lookup(struct nm_decoder *d, const struct nm_addr *addr,
					      uint16_t port, uint8_t version, uint32_t domain,
					      uint32_t sub, uint64_t now_ns, bool admit)
{
	struct nm_exp_key k;
	memset(&k, 0, sizeof(k));
	memcpy(k.addr, addr->b, 16);
	k.domain = domain;
	k.sub = sub;
	k.port = port;
	k.version = version;
	uint32_t h = (uint32_t)nm_hash64(d->cfg.hash_seed, &k, sizeof(k));
	uint32_t pos = h & d->exp_idx.mask;
	uint32_t s;
	while ((s = nm_htab_next(&d->exp_idx, h, &pos)) != UINT32_MAX) {
		struct nm_exporter *e = &d->exp[s];
		if (e->port == port && e->version == version && e->domain == domain && e->sub == sub &&
		    memcmp(e->addr.b, addr->b, 16) == 0) {
			e->last_ns = now_ns;
			return e;
		}
	}
	if (admit && !nm_admit(d, addr, now_ns, NM_ERR_EXPORTER_REFUSED_SOURCE,
			       NM_ERR_EXPORTER_REFUSED_GLOBAL))
		return NULL;
	struct nm_exporter *e = NULL;
	if (d->exp_fresh < d->cfg.max_exporters) {
		e = &d->exp[d->exp_fresh++];
	} else if (d->unproven_head != NM_NIL) {
		/* The oldest exporter that never decoded data goes first. */
		e = &d->exp[d->unproven_head];
		nm_exporter_evict(d, e);
	} else {
		/* A free slot, or the least recently seen of a few: max_exporters
		 * >= 1 (nm_layout_of), so the first candidate already yields one
		 * and a new exporter is never refused. */
		uint32_t n = d->cfg.max_exporters;
		for (uint32_t k2 = 0, seen = 0; k2 < n && seen < NM_EVICT_CANDIDATES; k2++) {
			struct nm_exporter *c = &d->exp[d->exp_cursor];
			d->exp_cursor = (d->exp_cursor + 1) % n;
			if (!c->in_use) {
				e = c;
				break;
			}
			seen++;
			if (e == NULL || c->last_ns < e->last_ns)
				e = c;
		}
		assert(e != NULL);
		if (e->in_use)
			nm_exporter_evict(d, e);
	}
	memset(e, 0, sizeof(*e));
	e->addr = *addr;
	e->port = port;
	e->version = version;
	e->domain = domain;
	e->sub = sub;
	e->hash = h;
	e->in_use = 1;
	e->tmpl_head = NM_NIL;
	e->last_tmpl = NM_NIL;
	e->pprev = e->pnext = NM_NIL;
	/* v9/IPFIX entries prove themselves with data (nm_tmpl_used); v5 and
	 * sFlow datagrams are data themselves. */
	e->proven = !admit;
	/* Once per new exporter: its static sampling rate, if configured. */
	for (uint32_t i = 0; i < d->nstatic; i++)
		if (memcmp(d->static_rates[i].addr.b, addr->b, 16) == 0) {
			e->static_rate = d->static_rates[i].rule;
			break;
		}
	for (unsigned i = 0; i < NM_SUB_CACHE; i++)
		e->sub_cache[i] = NM_NIL;
	e->last_ns = now_ns;
	d->nexp++;
	nm_htab_insert(&d->exp_idx, h, (uint32_t)(e - d->exp));
	if (!e->proven)
		nm_unproven_link(d, (uint32_t)(e - d->exp));
	nm_ev_inc(d, NM_EV_EXPORTER_ADDED);
	return e;
}

struct nm_exporter *nm_exporter_get(struct nm_decoder *d, const struct nm_addr *addr,
				    uint16_t port, uint8_t version, uint32_t domain, uint32_t sub,
				    uint64_t now_ns)
{
	struct nm_exporter *e = nm_exporter_lookup(d, addr, port, version, domain, sub, now_ns, false);
	assert(e != NULL);
	return e;
}

struct nm_exporter *nm_exporter_admit(struct nm_decoder *d, const struct nm_addr *addr,
				      uint16_t port, uint8_t version, uint32_t domain,
				      uint64_t now_ns)
{
	return nm_exporter_lookup(d, addr, port, version, domain, 0, now_ns, true);
}

/* ---- samplers ---- */

void nm_sampler_learn(struct nm_decoder *d, struct nm_exporter *e, bool has_id, uint64_t id,
		      uint64_t rate)
{
	if (!has_id) {
		if (e->default_rate != rate)
			nm_ev_inc(d, NM_EV_SAMPLER_LEARNED);
		e->default_rate = rate;
		return;
	}
	for (unsigned i = 0; i < e->nsamplers; i++) {
		if (e->samplers[i].id == id) {
			if (e->samplers[i].rate != rate)
				nm_ev_inc(d, NM_EV_SAMPLER_LEARNED);
			e->samplers[i].rate = rate;
			return;
		}
	}
	unsigned i;
	if (e->nsamplers < NM_SAMPLERS_MAX) {
		i = e->nsamplers++;
	} else {
		i = e->sampler_rr++ % NM_SAMPLERS_MAX;
		nm_ev_inc(d, NM_EV_SAMPLER_EVICTED);
	}
	e->samplers[i].id = id;
	e->samplers[i].rate = rate;
	nm_ev_inc(d, NM_EV_SAMPLER_LEARNED);
}

uint64_t nm_sampler_rate(const struct nm_exporter *e, bool has_id, uint64_t id)
{
	if (has_id) {
		for (unsigned i = 0; i < e->nsamplers; i++)
			if (e->samplers[i].id == id)
				return e->samplers[i].rate;
		return e->default_rate;
	}
	if (e->default_rate)
		return e->default_rate;
	if (e->nsamplers == 1)
		return e->samplers[0].rate;
	return 0;
}

/* ---- sequence numbers ---- */

/* A forward jump beyond this is taken as an exporter restart, not loss. */
#define NM_SEQ_MAX_GAP (1u << 20)

void nm_seq_track_ev(struct nm_decoder *d, struct nm_exporter *e, uint32_t seq, uint32_t advance,
		     enum nm_ev gap_ev)
{
	if (e->seq_valid && seq != e->seq_next) {
		uint32_t diff = seq - e->seq_next; /* modulo 2^32 */
		if (diff < NM_SEQ_MAX_GAP) {
			d->stats.ev[gap_ev]++;
			d->stats.ev[gap_ev + 1] += diff;
			e->seq_gaps++;
			e->seq_lost += diff;
		} else {
			d->stats.ev[gap_ev + 2]++;
			e->seq_resets++;
		}
	}
	e->seq_valid = 1;
	e->seq_next = seq + advance;
}

void nm_seq_track(struct nm_decoder *d, struct nm_exporter *e, uint32_t seq, uint32_t advance)
{
	nm_seq_track_ev(d, e, seq, advance, NM_EV_SEQ_GAP);
}
