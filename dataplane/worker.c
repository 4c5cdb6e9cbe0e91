/* SPDX-License-Identifier: BSD-3-Clause */
#include "worker.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const nm_wc_names[] = {
#define NM_X_(name, msg) #name,
	NM_WORKER_COUNTERS(NM_X_)
#undef NM_X_
};

const char *nm_wc_name(enum nm_wc c)
{
	return (unsigned)c < NM_WC__COUNT ? nm_wc_names[c] : "?";
}

uint8_t *nm_port_table(const struct nm_config *cfg)
{
	uint8_t *t = calloc(65536, 1);
	if (t == NULL)
		return NULL;
	for (uint32_t i = 0; i < cfg->nlisten; i++)
		t[cfg->listen[i].port] = (uint8_t)(cfg->listen[i].kind + 1);
	return t;
}

/*
 * The flow records of the batch being filled left it (fb.n is about to be
 * 0): sent, or lost. Lost: the sampler's records among them are charged to
 * their ports (a batch may mix ports, and collector records, which are not
 * samples). Either way the per-port counts start again.
 */
static void nm_worker_samples_settle(struct nm_worker *w, bool lost)
{
	if (w->fb_samples_n == 0)
		return;
	for (uint32_t i = 0; i < NM_CFG_MAX_PORTS; i++) {
		if (w->fb_samples[i] && lost && w->samples_lost)
			w->samples_lost(w->samples_lost_ctx, i, w->fb_samples[i]);
		w->fb_samples[i] = 0;
	}
	w->fb_samples_n = 0;
}

/* Sends the batch being filled and takes an empty one. Returns false when
 * its records were lost (the ring was full). */
static bool nm_worker_send(struct nm_worker *w, struct nm_batch **slot)
{
	struct nm_batch *b = *slot;
	/* Read before the push: once in the ring the batch is the sink's. */
	uint32_t n = b->n, kind = b->kind;
	bool flows = kind == NM_BATCH_FLOWS, sent = true;
	assert(n <= b->cap);
	if (n == 0)
		return true;
	struct nm_batch *next = NULL;
	if (nm_ring_push(w->full, b)) {
		nm_wc_add(w, flows ? NM_WC_RECORDS_SENT : NM_WC_COUNTERS_SENT, n);
		nm_wc_add(w, NM_WC_BATCHES_SENT, 1);
		next = nm_ring_pop(w->free);
		if (next == NULL) {
			/* The sink holds every batch: the caller writes into the
			 * spill buffer until one comes back (never a stall). */
			*slot = NULL;
			return true;
		}
	} else {
		nm_wc_add(w, flows ? NM_WC_RECORDS_RING_FULL : NM_WC_COUNTERS_DROPPED, n);
		next = b; /* reuse: its records are lost, counted above */
		sent = false;
	}
	next->n = 0;
	next->kind = kind;
	next->worker = w->id;
	*slot = next;
	return sent;
}

/* Makes sure w->cur / w->ccur hold a batch; false when none is free. */
static bool nm_worker_have(struct nm_worker *w, struct nm_batch **slot, uint32_t kind)
{
	if (*slot)
		return true;
	struct nm_batch *b = nm_ring_pop(w->free);
	if (b == NULL)
		return false;
	b->n = 0;
	b->kind = kind;
	b->worker = w->id;
	*slot = b;
	return true;
}

/*
 * Points the decoder's batch at w->cur (or the spill buffer when no batch is
 * free). Records already in the spill buffer move into the new batch.
 */
static void nm_worker_attach_flows(struct nm_worker *w)
{
	uint32_t cap = w->cfg->batch_records;
	if (!nm_worker_have(w, &w->cur, NM_BATCH_FLOWS)) {
		w->fb.recs = w->spill;
		w->fb.cap = cap;
		return;
	}
	if (w->fb.recs == w->spill && w->fb.n)
		memcpy(w->cur->recs, w->spill, w->fb.n * sizeof(struct nm_flow));
	else
		w->fb.n = 0;
	w->fb.recs = w->cur->recs;
	w->fb.cap = w->cur->cap;
}

static void nm_worker_attach_ctrs(struct nm_worker *w)
{
	uint32_t cap = w->cfg->batch_records;
	if (!nm_worker_have(w, &w->ccur, NM_BATCH_COUNTERS)) {
		w->cb.recs = w->cspill;
		w->cb.cap = cap;
		return;
	}
	if (w->cb.recs == w->cspill && w->cb.n)
		memcpy(w->ccur->recs, w->cspill, w->cb.n * sizeof(struct nm_ctr));
	else
		w->cb.n = 0;
	w->cb.recs = w->ccur->recs;
	w->cb.cap = w->ccur->cap;
}

/* Decoder callbacks: the batch is full (or a tick sends it early). */
static void nm_worker_flow_flush(struct nm_flow_batch *fb, void *ctx)
{
	struct nm_worker *w = ctx;
	assert(fb->n <= fb->cap);
	bool sent = false;
	if (w->cur) {
		w->cur->n = fb->n;
		sent = nm_worker_send(w, &w->cur);
	} else {
		nm_wc_add(w, NM_WC_RECORDS_NO_BATCH, fb->n); /* the spill buffer filled up */
	}
	nm_worker_samples_settle(w, !sent);
	fb->n = 0;
	nm_worker_attach_flows(w);
}

static void nm_worker_ctr_flush(struct nm_ctr_batch *cb, void *ctx)
{
	struct nm_worker *w = ctx;
	assert(cb->n <= cb->cap);
	if (w->ccur) {
		w->ccur->n = cb->n;
		nm_worker_send(w, &w->ccur);
	} else {
		nm_wc_add(w, NM_WC_COUNTERS_DROPPED, cb->n);
	}
	cb->n = 0;
	nm_worker_attach_ctrs(w);
}

#ifndef NDEBUG
/* Every batch of the pool is in one of the two rings or held for filling:
 * true once the sink has stopped (it gives back each batch it pops). Only
 * asserted: without asserts it would be an unused function. */
static bool nm_worker_pool_whole(struct nm_worker *w)
{
	if (w->free == NULL)
		return true; /* never initialised, or already freed */
	return nm_ring_count(w->free) + nm_ring_count(w->full) + (w->cur != NULL) +
		       (w->ccur != NULL) ==
	       w->nbatches;
}
#endif

/* Frees whatever nm_worker_init allocated (all of it, or part). */
static void nm_worker_release(struct nm_worker *w)
{
	free(w->dec_mem);
	free(w->batches);
	free(w->batch_mem);
	free(w->spill);
	free(w->cspill);
	free(w->full);
	free(w->free);
	free(w->state_buf);
	memset(w, 0, sizeof(*w));
}

uint64_t nm_worker_mem_bytes(const struct nm_config *cfg)
{
	size_t msz = nm_decoder_mem_size(&cfg->decode);
	if (msz == 0)
		return UINT64_MAX;
	uint64_t rec = sizeof(struct nm_flow) > sizeof(struct nm_ctr) ? sizeof(struct nm_flow)
								      : sizeof(struct nm_ctr);
	uint64_t nb = cfg->batches / cfg->workers < 4 ? 4 : cfg->batches / cfg->workers;
	/* as nm_worker_init: decoder, pool, batch headers, spills, two rings
	 * (every factor is capped by the config: no overflow) */
	return msz + nb * cfg->batch_records * rec + nb * sizeof(struct nm_batch) +
	       (uint64_t)cfg->batch_records * (sizeof(struct nm_flow) + sizeof(struct nm_ctr)) +
	       (nm_pow2_ceil(cfg->ring_size) + nm_pow2_ceil(nb + 1)) * sizeof(void *);
}

int nm_worker_init(struct nm_worker *w, uint32_t id, const struct nm_config *cfg,
		   const uint8_t *port_kind)
{
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cfg = cfg;
	w->port_kind = port_kind;
	struct nm_decode_cfg dc = cfg->decode;
	dc.hash_seed ^= (uint64_t)nm_now_ns() * 0x9e3779b97f4a7c15ull; /* per-run seed */
	size_t msz = nm_decoder_mem_size(&dc);
	if (msz == 0)
		return -1; /* limits out of the decoder's range */
	w->dec_mem = aligned_alloc(64, (msz + 63) & ~(size_t)63);
	w->state_next_ns = nm_now_ns() + (uint64_t)cfg->state_interval * 1000000000ull;
	if (w->dec_mem == NULL || (w->dec = nm_decoder_init(w->dec_mem, msz, &dc)) == NULL) {
		nm_worker_release(w);
		return -1;
	}
	for (uint32_t i = 0; i < cfg->nrates; i++)
		nm_decoder_set_static_rate(w->dec, &cfg->rates[i].exporter, cfg->rates[i].rate,
					   cfg->rates[i].override);
	/* Counter batches share the pool: one slot holds either kind. */
	uint32_t cap = cfg->batch_records;
	size_t rec = sizeof(struct nm_flow) > sizeof(struct nm_ctr) ? sizeof(struct nm_flow)
								    : sizeof(struct nm_ctr);
	w->nbatches = cfg->batches / cfg->workers;
	if (w->nbatches < 4)
		w->nbatches = 4;
	w->batches = calloc(w->nbatches, sizeof(*w->batches));
	w->batch_mem = aligned_alloc(64, ((size_t)w->nbatches * cap * rec + 63) & ~(size_t)63);
	w->spill = calloc(cap, sizeof(struct nm_flow));
	w->cspill = calloc(cap, sizeof(struct nm_ctr));
	/* ring_size and batches are capped at 2^20 by the config */
	w->full = nm_ring_create((uint32_t)nm_pow2_ceil(cfg->ring_size));
	/* Room for the whole pool: giving a batch back can never fail. */
	w->free = nm_ring_create((uint32_t)nm_pow2_ceil(w->nbatches + 1ull));
	if (w->batches == NULL || w->batch_mem == NULL || w->full == NULL || w->free == NULL ||
	    w->spill == NULL || w->cspill == NULL) {
		nm_worker_release(w);
		return -1;
	}
	/* Touch the pool now: a page fault on the hot path costs more than a
	 * batch of records. */
	memset(w->batch_mem, 0, (size_t)w->nbatches * cap * rec);
	for (uint32_t i = 0; i < w->nbatches; i++) {
		struct nm_batch *b = &w->batches[i];
		b->cap = cap;
		b->worker = id;
		b->recs = (uint8_t *)w->batch_mem + (size_t)i * cap * rec;
		nm_ring_push_room(w->free, b);
	}
	w->fb = (struct nm_flow_batch){w->spill, 0, cap, nm_worker_flow_flush, w};
	w->cb = (struct nm_ctr_batch){w->cspill, 0, cap, nm_worker_ctr_flush, w};
	nm_worker_attach_flows(w);
	nm_worker_attach_ctrs(w);
	nm_decoder_set_ctr_batch(w->dec, &w->cb);
	atomic_store_explicit(&w->cfg_ack, cfg, memory_order_relaxed);
	return 0;
}

void nm_worker_free(struct nm_worker *w)
{
	/* Freed while the sink still held a batch, the sink would write into
	 * freed memory: the caller stops the sink first. */
	assert(nm_worker_pool_whole(w));
	nm_worker_release(w);
}

void nm_worker_datagram(struct nm_worker *w, const struct nm_addr *src, uint16_t sport,
			uint16_t dport, const uint8_t *p, size_t len, uint64_t now_ns)
{
	uint8_t kind = w->port_kind[dport];
	if (kind == 0) {
		nm_wc_add(w, NM_WC_PORT_UNKNOWN, 1);
		return;
	}
	if (!nm_config_allowed(w->cfg, src)) {
		nm_wc_add(w, NM_WC_EXPORTER_DENIED, 1);
		return;
	}
	nm_wc_add(w, NM_WC_UDP_DATAGRAMS, 1);
	if (w->fb.n == 0 && w->cb.n == 0)
		w->cur_since_ns = now_ns;
	struct nm_pkt_meta m = {*src, sport, now_ns};
	uint64_t r0 = nm_decoder_stats(w->dec)->records;
	switch ((enum nm_proto_kind)(kind - 1)) {
	case NM_PROTO_SFLOW:
		nm_decode_sflow(w->dec, &m, p, len, &w->fb);
		break;
	case NM_PROTO_IPFIX:
		nm_decode_ipfix(w->dec, &m, p, len, &w->fb);
		break;
	default:
		nm_decode_any(w->dec, &m, p, len, &w->fb);
		break;
	}
	if (w->etab) {
		/* the datagram's last record is the batch's last: a flush only
		 * happens before a record is written */
		uint64_t nr = nm_decoder_stats(w->dec)->records - r0;
		uint64_t rate = nr && w->fb.n ? w->fb.recs[w->fb.n - 1].sampling_rate : 0;
		nm_exptab_note(w->etab, src, p, len, nr, rate, now_ns);
	}
}

struct nm_flow *nm_worker_flow_slot(struct nm_worker *w, uint64_t now_ns, uint32_t port)
{
	assert(port < NM_CFG_MAX_PORTS);
	if (w->fb.n == 0 && w->cb.n == 0)
		w->cur_since_ns = now_ns;
	if (w->fb.n == w->fb.cap)
		nm_worker_flow_flush(&w->fb, w);
	nm_wc_add(w, NM_WC_SAMPLE_RECORDS, 1);
	w->fb_samples[port]++;
	w->fb_samples_n++;
	return &w->fb.recs[w->fb.n++];
}

struct nm_flow *nm_worker_record(struct nm_worker *w, uint64_t now_ns)
{
	if (w->fb.n >= w->fb.cap)
		w->fb.flush(&w->fb, w->fb.flush_ctx);
	if (w->fb.n == 0 && w->cb.n == 0)
		w->cur_since_ns = now_ns;
	struct nm_flow *f = &w->fb.recs[w->fb.n];
	memset(f, 0, sizeof(*f));
	return f;
}

void nm_worker_record_done(struct nm_worker *w)
{
	w->fb.n++;
	nm_wc_add(w, NM_WC_RECORDS_MADE, 1);
}

static void nm_worker_publish(struct nm_worker *w)
{
	const struct nm_decode_stats *s = nm_decoder_stats(w->dec);
	struct nm_dec_pub *p = &w->dec_pub;
	/* Sequence count: odd while writing. The release fence keeps the
	 * stores below after the odd count (pairs with the reader's acquire
	 * fence in nm_worker_snapshot). */
	uint32_t seq = atomic_load_explicit(&w->snap_seq, memory_order_relaxed);
	atomic_store_explicit(&w->snap_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
#define NM_X_(name, help) atomic_store_explicit(&p->name, s->name, memory_order_relaxed);
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	for (unsigned i = 0; i < NM_ERR__COUNT; i++)
		atomic_store_explicit(&p->err[i], s->err[i], memory_order_relaxed);
	for (unsigned i = 0; i < NM_EV__COUNT; i++)
		atomic_store_explicit(&p->ev[i], s->ev[i], memory_order_relaxed);
	for (unsigned i = 0; i < NM_WC__COUNT; i++)
		atomic_store_explicit(&w->snap[i], nm_wc_get(w, (enum nm_wc)i), memory_order_relaxed);
	atomic_store_explicit(&w->snap_held, w->fb.n, memory_order_relaxed);
	atomic_store_explicit(&w->snap_cheld, w->cb.n, memory_order_relaxed);
	/* release: the snapshot is complete before the even count (pairs with
	 * the reader's acquire load of snap_seq) */
	atomic_store_explicit(&w->snap_seq, seq + 2, memory_order_release);
	if (w->etab)
		nm_exptab_sync(w->etab, w->dec);
}

void nm_worker_snapshot(struct nm_worker *w, uint64_t *ctr, struct nm_decode_stats *d,
			uint64_t *held, uint64_t *cheld)
{
	for (;;) {
		/* acquire pairs with the release store of the even count */
		uint32_t s1 = atomic_load_explicit(&w->snap_seq, memory_order_acquire);
		if (s1 & 1) {
			struct timespec ts = {0, 10000};
			nanosleep(&ts, NULL);
			continue;
		}
		nm_worker_dec_stats(w, d);
		for (unsigned i = 0; i < NM_WC__COUNT; i++)
			ctr[i] = atomic_load_explicit(&w->snap[i], memory_order_relaxed);
		*held = atomic_load_explicit(&w->snap_held, memory_order_relaxed);
		*cheld = atomic_load_explicit(&w->snap_cheld, memory_order_relaxed);
		/* acquire fence: the loads above happen before the re-read
		 * (pairs with the writer's release fence after the odd count) */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&w->snap_seq, memory_order_relaxed) == s1)
			return;
	}
}

/* A reload published another configuration: run with it from now on. The
 * decoder's static sampling rates are replaced, for known exporters too. */
static void nm_worker_cfg_switch(struct nm_worker *w, const struct nm_config *c)
{
	w->cfg = c;
	nm_decoder_clear_static_rates(w->dec);
	for (uint32_t i = 0; i < c->nrates; i++)
		nm_decoder_set_static_rate(w->dec, &c->rates[i].exporter, c->rates[i].rate,
					   c->rates[i].override);
	nm_decoder_refresh_static_rates(w->dec);
	/* release pairs with the reloader's acquire load: the old config is
	 * no longer read once it sees this */
	atomic_store_explicit(&w->cfg_ack, c, memory_order_release);
}

void nm_worker_dec_stats(struct nm_worker *w, struct nm_decode_stats *out)
{
	nm_workers_dec_stats(w, 1, out);
}

void nm_workers_dec_stats(struct nm_worker *w, uint32_t n, struct nm_decode_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (uint32_t k = 0; k < n; k++) {
		struct nm_dec_pub *p = &w[k].dec_pub;
#define NM_X_(name, help) sum->name += atomic_load_explicit(&p->name, memory_order_relaxed);
		NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
		for (unsigned i = 0; i < NM_ERR__COUNT; i++)
			sum->err[i] += atomic_load_explicit(&p->err[i], memory_order_relaxed);
		for (unsigned i = 0; i < NM_EV__COUNT; i++)
			sum->ev[i] += atomic_load_explicit(&p->ev[i], memory_order_relaxed);
	}
}

void nm_worker_tick(struct nm_worker *w, uint64_t now_ns)
{
	if (w->live) {
		/* acquire pairs with the reloader's release store */
		const struct nm_config *c = atomic_load_explicit(&w->live->cur, memory_order_acquire);
		if (c != w->cfg)
			nm_worker_cfg_switch(w, c);
	}
	atomic_store_explicit(&w->alive_ns, now_ns, memory_order_relaxed);
	/* A batch came back while writing into the spill buffer: move there. */
	if (w->cur == NULL)
		nm_worker_attach_flows(w);
	if (w->ccur == NULL)
		nm_worker_attach_ctrs(w);
	if ((w->fb.n || w->cb.n) && now_ns - w->cur_since_ns >= (uint64_t)w->cfg->flush_ms * 1000000ull) {
		if (w->fb.n)
			nm_worker_flow_flush(&w->fb, w);
		if (w->cb.n)
			nm_worker_ctr_flush(&w->cb, w);
		w->cur_since_ns = now_ns;
	}
	if (now_ns - w->last_publish_ns >= 200000000ull) {
		nm_worker_publish(w);
		w->last_publish_ns = now_ns;
	}
	/* the backend's workers only: the Linux inputs' decoders hold no exporter */
	if (w->cfg->state_path[0] && w->cfg->state_interval && w->id < w->cfg->workers &&
	    now_ns >= w->state_next_ns)
		nm_worker_state_snapshot(w, now_ns);
}

void nm_worker_state_snapshot(struct nm_worker *w, uint64_t now_ns)
{
	w->state_next_ns = now_ns + (uint64_t)w->cfg->state_interval * 1000000000ull;
	/* Acquire: pairs with the release store of 0 by the thread that wrote
	 * the previous snapshot out; until then the buffer is its. */
	if (atomic_load_explicit(&w->state_len, memory_order_acquire) != 0)
		return;
	size_t n = nm_decoder_state_size(w->dec);
	if (n > w->state_cap) {
		/* a few times at most: the state grows to its caps and stays */
		uint8_t *grown = realloc(w->state_buf, n + n / 4);
		if (grown == NULL)
			return;
		w->state_buf = grown;
		w->state_cap = n + n / 4;
	}
	if (nm_decoder_state_save(w->dec, now_ns, w->state_buf, w->state_cap) == n)
		/* Release: the bytes are written before the length says so. */
		atomic_store_explicit(&w->state_len, n, memory_order_release);
}

/* Pushes a batch at shutdown, waiting (bounded) for the sink to make room;
 * a batch the ring would not take goes back to the pool, its records
 * counted lost (returns false). */
static bool nm_worker_drain(struct nm_worker *w, struct nm_batch *b)
{
	/* Read before the push: once in the ring the batch is the sink's. */
	uint32_t n = b->n;
	bool flows = b->kind == NM_BATCH_FLOWS;
	assert(n <= b->cap);
	for (int tries = 0; tries < 5000; tries++) {
		if (nm_ring_push(w->full, b)) {
			nm_wc_add(w, flows ? NM_WC_RECORDS_SENT : NM_WC_COUNTERS_SENT, n);
			nm_wc_add(w, NM_WC_BATCHES_SENT, 1);
			return true;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	nm_wc_add(w, flows ? NM_WC_RECORDS_RING_FULL : NM_WC_COUNTERS_DROPPED, n);
	b->n = 0;
	nm_ring_push_room(w->free, b);
	return false;
}

void nm_worker_finish(struct nm_worker *w)
{
	if (w->cur == NULL)
		nm_worker_attach_flows(w);
	if (w->ccur == NULL)
		nm_worker_attach_ctrs(w);
	/* Still no batch: what the spill buffers hold is lost, counted. */
	if (w->cur == NULL) {
		nm_wc_add(w, NM_WC_RECORDS_NO_BATCH, w->fb.n);
		nm_worker_samples_settle(w, true);
		w->fb.n = 0;
	}
	if (w->ccur == NULL) {
		nm_wc_add(w, NM_WC_COUNTERS_DROPPED, w->cb.n);
		w->cb.n = 0;
	}
	if (w->cur && w->fb.n) {
		w->cur->n = w->fb.n;
		nm_worker_samples_settle(w, !nm_worker_drain(w, w->cur));
		w->cur = NULL;
		w->fb.n = 0;
	}
	if (w->ccur && w->cb.n) {
		w->ccur->n = w->cb.n;
		nm_worker_drain(w, w->ccur);
		w->ccur = NULL;
		w->cb.n = 0;
	}
	nm_worker_publish(w);
	/* Every record the decoder produced was sent or counted lost. */
	const struct nm_decode_stats *s = nm_decoder_stats(w->dec);
	assert(s->records + nm_wc_get(w, NM_WC_SAMPLE_RECORDS) + nm_wc_get(w, NM_WC_RECORDS_MADE) ==
	       nm_wc_get(w, NM_WC_RECORDS_SENT) +
				     nm_wc_get(w, NM_WC_RECORDS_RING_FULL) +
				     nm_wc_get(w, NM_WC_RECORDS_NO_BATCH));
	assert(s->counter_records ==
	       nm_wc_get(w, NM_WC_COUNTERS_SENT) + nm_wc_get(w, NM_WC_COUNTERS_DROPPED));
	(void)s;
}
