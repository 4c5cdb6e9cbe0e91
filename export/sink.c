/* SPDX-License-Identifier: BSD-3-Clause */
#include "sink.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filesink.h"
#include "flow.h"
#include "flow_json.h"
#include "kafka.h"
#include "spool.h"
#include "util.h"

/* ---- JSON lines: a file, or stdout for path "-" ---- */

#define NM_JSON_COUNTERS(X)                                                                   \
	X(lines, "records written as JSON lines (counted once flushed)")                                            \
	X(write_errors, "lines, flushes or the close that failed")                           \
	X(lines_lost, "lines lost: their write or the flush that should have written them failed")

struct nm_jsonsink {
	FILE *f;
	uint64_t pending; /* lines buffered since the last flush */
#define NM_X_(name, help) uint64_t name;
	NM_JSON_COUNTERS(NM_X_)
#undef NM_X_
};

static int nm_json_check(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	return strcmp(cfg->path, "-") == 0 ? 0 : nm_file_check(cfg->path, "json path", err, errlen);
}

static void *nm_json_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	if (nm_json_check(cfg, err, errlen))
		return NULL;
	struct nm_jsonsink *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		snprintf(err, errlen, "json: out of memory");
		return NULL;
	}
	j->f = strcmp(cfg->path, "-") == 0 ? stdout : fopen(cfg->path, "w");
	if (j->f == NULL) {
		snprintf(err, errlen, "json path %s: %s", cfg->path, strerror(errno));
		free(j);
		return NULL;
	}
	setvbuf(j->f, NULL, _IOFBF, 1 << 20);
	return j;
}

static void nm_json_write(void *o, const struct nm_batch *b)
{
	struct nm_jsonsink *j = o;
	char buf[NM_FLOW_JSON_MAX + 1];
	for (uint32_t i = 0; i < b->n; i++) {
		size_t n = b->kind == NM_BATCH_FLOWS
				   ? nm_flow_json(&((const struct nm_flow *)b->recs)[i], buf, sizeof(buf))
				   : nm_ctr_json(&((const struct nm_ctr *)b->recs)[i], buf, sizeof(buf));
		buf[n++] = '\n';
		if (fwrite(buf, 1, n, j->f) != n) {
			/* the buffer's flush failed: stdio dropped what it held */
			j->write_errors++;
			j->lines_lost += j->pending + 1;
			j->pending = 0;
			clearerr(j->f);
		} else {
			j->pending++;
		}
	}
}

static void nm_json_flush(void *o)
{
	struct nm_jsonsink *j = o;
	if (fflush(j->f) != 0) {
		/* stdio dropped what it held: those lines are lost */
		j->write_errors++;
		j->lines_lost += j->pending;
		clearerr(j->f);
	} else {
		j->lines += j->pending;
	}
	j->pending = 0;
}

static void nm_json_close(void *o)
{
	struct nm_jsonsink *j = o;
	nm_json_flush(j);
	if (j->f != stdout && fclose(j->f) != 0)
		j->write_errors++;
	j->f = NULL;
}

static void nm_json_free(void *o)
{
	struct nm_jsonsink *j = o;
	if (j && j->f && j->f != stdout)
		fclose(j->f);
	free(j);
}

_Static_assert((0 NM_JSON_COUNTERS(NM_OUTPUT_COUNT_ONE)) <= NM_OUTPUT_MAX_COUNTERS,
	       "the JSON output reports more counters than NM_OUTPUT_MAX_COUNTERS");

static void nm_json_counters(const void *o, nm_counter_fn *fn, void *ctx)
{
	const struct nm_jsonsink *j = o;
#define NM_X_(name, help) fn(ctx, #name, help, j->name);
	NM_JSON_COUNTERS(NM_X_)
#undef NM_X_
}

static uint64_t nm_json_dropped(const void *o)
{
	return ((const struct nm_jsonsink *)o)->lines_lost;
}

static void nm_json_drop_reasons(const void *o, nm_counter_fn *fn, void *ctx)
{
	const struct nm_jsonsink *j = o;
	fn(ctx, "lines_lost", "a write or flush failed (disk full? I/O error?)", j->lines_lost);
}

static const struct nm_output_ops nm_json_ops = {
	.name = "json",
	.check = nm_json_check,
	.open = nm_json_open,
	.write = nm_json_write,
	.flush = nm_json_flush,
	.close = nm_json_close,
	.free = nm_json_free,
	.counters = nm_json_counters,
	.dropped = nm_json_dropped,
	.drop_reasons = nm_json_drop_reasons,
};

/* ---- discard: counts and drops (benchmarks of the data path) ---- */

struct nm_discard {
	uint64_t records;
};

static int nm_discard_check(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	(void)cfg;
	(void)err;
	(void)errlen;
	return 0;
}

static void *nm_discard_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	(void)cfg;
	struct nm_discard *d = calloc(1, sizeof(*d));
	if (d == NULL)
		snprintf(err, errlen, "discard: out of memory");
	return d;
}

static void nm_discard_write(void *o, const struct nm_batch *b)
{
	((struct nm_discard *)o)->records += b->n;
}

static void nm_discard_counters(const void *o, nm_counter_fn *fn, void *ctx)
{
	fn(ctx, "records", "records dropped on purpose", ((const struct nm_discard *)o)->records);
}

static const struct nm_output_ops nm_discard_ops = {
	.name = "discard",
	.check = nm_discard_check,
	.open = nm_discard_open,
	.write = nm_discard_write,
	.free = free,
	.counters = nm_discard_counters,
};

/* ---- the sink thread ---- */

/* The operations of each sink type, by enum nm_sink_type. */
static const struct nm_output_ops *const nm_output_types[] = {
	[NM_SINK_JSON] = &nm_json_ops,
	[NM_SINK_DISCARD] = &nm_discard_ops,
	[NM_SINK_KAFKA] = &nm_kafka_ops,
	[NM_SINK_FILE] = &nm_filesink_ops,
};

#define NM_NTYPES (sizeof(nm_output_types) / sizeof(nm_output_types[0]))

int nm_sink_check(const struct nm_cfg_sink *cfg, uint32_t ncfg, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < ncfg; i++) {
		const struct nm_output_ops *ops =
			(unsigned)cfg[i].type < NM_NTYPES ? nm_output_types[cfg[i].type] : NULL;
		char e[1024] = "";
		if (ops == NULL || ops->check(&cfg[i], e, sizeof(e)) != 0) {
			snprintf(err, errlen, "sinks[%" PRIu32 "]: %s", i,
				 ops == NULL ? "unknown sink type" : e[0] ? e : "refused");
			return -1;
		}
	}
	return 0;
}

void nm_sink_init(struct nm_sink *s, const struct nm_cfg_sink *cfg, uint32_t ncfg,
		  const struct nm_sink_producer *prod, uint32_t nprod)
{
	assert(ncfg <= NM_CFG_MAX_SINKS);
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->ncfg = ncfg;
	s->prod = prod;
	s->nprod = nprod;
	atomic_init(&s->stop, false);
	atomic_init(&s->ready, false);
	for (int c = 0; c < NM_SINK_CTR__COUNT; c++)
		atomic_init(&s->ctr[c], 0);
	atomic_init(&s->delivered, 0);
	atomic_init(&s->reconf_req, 0);
	atomic_init(&s->reconf_done, 0);
	s->live_cap = NM_SINK_MAX_LIVE - 1; /* the last one: sink_live_unpublished */
	atomic_init(&s->live_unpublished, 0);
	for (uint32_t k = 0; k < NM_CFG_MAX_SINKS; k++) {
		atomic_init(&s->pub[k].dropped, 0);
		atomic_init(&s->pub[k].nreasons, 0);
		for (uint32_t r = 0; r < NM_SINK_MAX_REASONS; r++)
			atomic_init(&s->pub[k].r[r].v, 0);
	}
}

/* Closes and frees every open output (start-up failure and shutdown). */
static void nm_sink_close_all(struct nm_sink *s)
{
	for (uint32_t k = 0; k < s->nout; k++)
		if (s->out[k].ops->close)
			s->out[k].ops->close(s->out[k].o);
}

/* Opens every output; on the first failure closes and frees the ones
 * already open. 0, or -1 with open_err set. */
static int nm_sink_open(struct nm_sink *s)
{
	for (uint32_t i = 0; i < s->ncfg; i++) {
		const struct nm_cfg_sink *c = &s->cfg[i];
		const struct nm_output_ops *ops =
			(unsigned)c->type < NM_NTYPES ? nm_output_types[c->type] : NULL;
		char err[1024] = "";
		void *o = ops ? ops->open(c, err, sizeof(err)) : NULL;
		if (o == NULL) {
			snprintf(s->open_err, sizeof(s->open_err), "sinks[%" PRIu32 "]: %s", i,
				 ops == NULL ? "unknown sink type"
				 : err[0]    ? err
					     : "cannot be opened");
			nm_sink_close_all(s);
			nm_sink_free(s);
			return -1;
		}
		s->out[s->nout++] = (struct nm_output){ops, o};
	}
	return 0;
}

static void nm_sink_add(struct nm_sink *s, enum nm_sink_ctr c, uint64_t v)
{
	/* single writer (this thread): relaxed, read by the stats thread */
	atomic_store_explicit(&s->ctr[c], atomic_load_explicit(&s->ctr[c], memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static void nm_sink_write(struct nm_sink *s, const struct nm_batch *b)
{
	assert(b->n <= b->cap);
	assert(b->kind == NM_BATCH_FLOWS || b->kind == NM_BATCH_COUNTERS);
	for (uint32_t k = 0; k < s->nout; k++)
		s->out[k].ops->write(s->out[k].o, b);
	nm_sink_add(s, b->kind == NM_BATCH_FLOWS ? NM_SINK_CTR_records_written
						 : NM_SINK_CTR_counters_written,
		    b->n);
	nm_sink_add(s, NM_SINK_CTR_batches, 1);
}

/* Where an output's drop reasons are published (nm_reason_fn's ctx). */
struct nm_reason_pub {
	struct nm_output_pub *pub;
	const char *prefix; /* "kafka0_" */
};

/* Publishes one drop reason; the first record of a new reason is said once
 * on stderr, with its cause. Sink thread only (the only writer). */
static void nm_reason_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	const struct nm_reason_pub *rp = ctx;
	struct nm_output_pub *p = rp->pub;
	char full[96];
	snprintf(full, sizeof(full), "%s%s", rp->prefix, name);
	uint32_t n = atomic_load_explicit(&p->nreasons, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(p->r[i].name, full) == 0) {
			atomic_store_explicit(&p->r[i].v, v, memory_order_relaxed);
			return;
		}
	if (v == 0 || n == NM_SINK_MAX_REASONS)
		return; /* a full table: the reason still counts in dropped */
	snprintf(p->r[n].name, sizeof(p->r[n].name), "%s", full);
	atomic_store_explicit(&p->r[n].v, v, memory_order_relaxed);
	/* release: the name is complete before a reader counts the slot */
	atomic_store_explicit(&p->nreasons, n + 1, memory_order_release);
	fprintf(stderr, "netmeta: %.*s: first record dropped: %s (%s)\n",
		(int)strlen(rp->prefix) - 1, rp->prefix, help, name);
}

/* One counter into the live table (sink thread, the only writer). */
static void nm_live_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	struct nm_sink *s = ctx;
	uint32_t n = atomic_load_explicit(&s->nlive, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(s->live[i].name, name) == 0) {
			atomic_store_explicit(&s->live[i].v, v, memory_order_relaxed);
			return;
		}
	if (n >= s->live_cap) {
		s->live_missing++; /* still in the final counters; counted */
		return;
	}
	snprintf(s->live[n].name, sizeof(s->live[n].name), "%s", name);
	s->live[n].help = help;
	atomic_store_explicit(&s->live[n].v, v, memory_order_relaxed);
	/* release: name and help are complete before a reader counts the slot */
	atomic_store_explicit(&s->nlive, n + 1, memory_order_release);
}

static void nm_sink_publish_live(struct nm_sink *s, bool force)
{
	uint64_t now = nm_clock_ns(CLOCK_MONOTONIC);
	if (!force && now - s->live_last_ns < NM_SINK_LIVE_NS)
		return;
	s->live_last_ns = now;
	uint32_t seq = atomic_load_explicit(&s->live_seq, memory_order_relaxed);
	atomic_store_explicit(&s->live_seq, seq + 1, memory_order_relaxed);
	/* release fence: the values below come after the odd count (pairs
	 * with the acquire fence in nm_sink_live) */
	atomic_thread_fence(memory_order_release);
	s->live_missing = 0;
	nm_sink_counters(s, nm_live_fn, s);
	atomic_store_explicit(&s->live_unpublished, s->live_missing, memory_order_relaxed);
	/* release pairs with the acquire load in nm_sink_live */
	atomic_store_explicit(&s->live_seq, seq + 2, memory_order_release);
}

void nm_sink_live(const struct nm_sink *s, nm_counter_fn *fn, void *ctx)
{
	static _Thread_local uint64_t v[NM_SINK_MAX_LIVE];
	uint32_t n;
	for (;;) {
		/* acquire pairs with the release store of the even count */
		uint32_t s1 = atomic_load_explicit(&s->live_seq, memory_order_acquire);
		if (s1 & 1) {
			struct timespec ts = {0, 10000};
			nanosleep(&ts, NULL);
			continue;
		}
		/* acquire pairs with the release store in nm_live_fn */
		n = atomic_load_explicit(&s->nlive, memory_order_acquire);
		for (uint32_t i = 0; i < n; i++)
			v[i] = atomic_load_explicit(&s->live[i].v, memory_order_relaxed);
		/* the loads above happen before the re-read (pairs with the
		 * writer's release fence) */
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&s->live_seq, memory_order_relaxed) == s1)
			break;
	}
	for (uint32_t i = 0; i < n; i++)
		fn(ctx, s->live[i].name, s->live[i].help, v[i]);
	fn(ctx, "sink_live_unpublished",
	   "counters of the sink's outputs the live table had no room for (only in the final "
	   "counters) (gauge)",
	   atomic_load_explicit(&s->live_unpublished, memory_order_relaxed));
}

bool nm_sink_accepting(const struct nm_sink *s)
{
	/* acquire pairs with the release store in nm_sink_run */
	return atomic_load_explicit(&s->ready, memory_order_acquire) && !s->open_failed &&
	       !atomic_load_explicit(&s->stop, memory_order_relaxed);
}

/* Acknowledged deliveries and losses, published for the stats thread. */
static void nm_sink_publish(struct nm_sink *s)
{
	uint64_t delivered = 0;
	for (uint32_t k = 0; k < s->nout; k++) {
		const struct nm_output *o = &s->out[k];
		if (o->ops->delivered)
			delivered += o->ops->delivered(o->o);
		uint64_t dropped = o->ops->dropped ? o->ops->dropped(o->o) : 0;
		atomic_store_explicit(&s->pub[k].dropped, dropped, memory_order_relaxed);
		/* Every reason counts in dropped: walk them (names, strcmp) only
		 * when it moved, not after every batch. */
		if (o->ops->drop_reasons && dropped != s->pub[k].reasons_at) {
			s->pub[k].reasons_at = dropped;
			char pre[32];
			snprintf(pre, sizeof(pre), "%s%" PRIu32 "_", o->ops->name, k);
			struct nm_reason_pub rp = {&s->pub[k], pre};
			o->ops->drop_reasons(o->o, nm_reason_fn, &rp);
		}
	}
	atomic_store_explicit(&s->delivered, delivered, memory_order_relaxed);
	nm_sink_publish_live(s, false);
}

int nm_sink_reconfigure(struct nm_sink *s, const struct nm_cfg_sink *cfg, uint32_t ncfg)
{
	uint32_t req = atomic_load_explicit(&s->reconf_req, memory_order_relaxed);
	/* acquire pairs with the sink thread's release of reconf_done: it has
	 * finished reading the previous settings */
	if (atomic_load_explicit(&s->reconf_done, memory_order_acquire) != req || ncfg != s->ncfg)
		return -1;
	memcpy(s->reconf, cfg, ncfg * sizeof(cfg[0]));
	/* release pairs with the acquire load in nm_sink_apply */
	atomic_store_explicit(&s->reconf_req, req + 1, memory_order_release);
	return 0;
}

/* A reload's settings, taken between batches. */
static void nm_sink_apply(struct nm_sink *s)
{
	uint32_t req = atomic_load_explicit(&s->reconf_req, memory_order_acquire);
	if (req == atomic_load_explicit(&s->reconf_done, memory_order_relaxed))
		return;
	for (uint32_t k = 0; k < s->nout; k++)
		if (s->out[k].ops->reconfigure)
			s->out[k].ops->reconfigure(s->out[k].o, &s->reconf[k]);
	atomic_store_explicit(&s->reconf_done, req, memory_order_release);
}

/* Outputs' periodic work: poll (delivery reports, the spool's replay) and,
 * with flush, partly filled messages leave too. */
static void nm_sink_idle(struct nm_sink *s, bool flush)
{
	nm_sink_apply(s);
	for (uint32_t k = 0; k < s->nout; k++) {
		const struct nm_output *o = &s->out[k];
		if (flush && o->ops->flush)
			o->ops->flush(o->o);
		if (o->ops->poll)
			o->ops->poll(o->o);
	}
	nm_sink_publish(s);
}

/* Batches taken from one producer per pass: a ring that never empties
 * (a saturated worker) must not keep the outputs' poll from running. */
#define NM_SINK_PASS_MAX 64

/* One pass over every producer's ring; returns the batches handled. */
static uint32_t nm_sink_pass(struct nm_sink *s)
{
	uint32_t done = 0;
	for (uint32_t i = 0; i < s->nprod; i++) {
		const struct nm_sink_producer *p = &s->prod[i];
		struct nm_batch *b;
		for (uint32_t n = 0; n < NM_SINK_PASS_MAX && (b = nm_ring_pop(p->full)) != NULL; n++) {
			nm_sink_write(s, b);
			b->n = 0;
			/* The free ring holds the producer's whole pool. */
			nm_ring_push_room(p->free, b);
			done++;
			nm_sink_publish(s);
		}
	}
	return done;
}

void *nm_sink_run(void *arg)
{
	struct nm_sink *s = arg;
	s->open_failed = nm_sink_open(s) != 0;
	/* release pairs with the acquire load in nm_sink_wait_ready */
	atomic_store_explicit(&s->ready, true, memory_order_release);
	if (s->open_failed)
		return NULL;
	for (uint64_t busy = 0, batches = 0;;) {
		/* acquire pairs with the release store in nm_sink_stop */
		bool stopping = atomic_load_explicit(&s->stop, memory_order_acquire);
		uint32_t n = nm_sink_pass(s);
		if (n) {
			/* Under constant load there is no idle moment: serve the
			 * outputs (delivery reports, the spool's replay) every 64
			 * batches, and let partial messages leave every 64 passes. */
			batches += n;
			if (++busy % 64 == 0) {
				nm_sink_idle(s, true);
				batches = 0;
			} else if (batches >= 64) {
				nm_sink_idle(s, false);
				batches = 0;
			}
			continue;
		}
		if (stopping) {
			/* Every producer had pushed its last batch before stop
			 * was set: these passes take whatever is left. */
			while (nm_sink_pass(s))
				;
			break;
		}
		nm_sink_idle(s, true);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	nm_sink_close_all(s);
	nm_sink_publish(s);
	nm_sink_publish_live(s, true);
	return NULL;
}

int nm_sink_wait_ready(struct nm_sink *s, char *err, size_t errlen)
{
	/* acquire pairs with the release store in nm_sink_run */
	while (!atomic_load_explicit(&s->ready, memory_order_acquire)) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	if (s->open_failed) {
		snprintf(err, errlen, "%s", s->open_err);
		return -1;
	}
	return 0;
}

void nm_sink_stop(struct nm_sink *s)
{
	/* release pairs with the acquire load at the top of nm_sink_run's loop */
	atomic_store_explicit(&s->stop, true, memory_order_release);
}

uint64_t nm_sink_get(const struct nm_sink *s, enum nm_sink_ctr c)
{
	return atomic_load_explicit(&s->ctr[c], memory_order_relaxed);
}

uint64_t nm_sink_delivered(const struct nm_sink *s)
{
	return atomic_load_explicit(&s->delivered, memory_order_relaxed);
}

uint64_t nm_sink_dropped(const struct nm_sink *s)
{
	uint64_t v = 0;
	for (uint32_t k = 0; k < NM_CFG_MAX_SINKS; k++)
		v += atomic_load_explicit(&s->pub[k].dropped, memory_order_relaxed);
	return v;
}

void nm_sink_drops(const struct nm_sink *s, nm_counter_fn *fn, void *ctx)
{
	for (uint32_t k = 0; k < NM_CFG_MAX_SINKS; k++) {
		const struct nm_output_pub *p = &s->pub[k];
		/* acquire pairs with the release store in nm_reason_fn */
		uint32_t n = atomic_load_explicit(&p->nreasons, memory_order_acquire);
		for (uint32_t i = 0; i < n; i++)
			fn(ctx, p->r[i].name, "", atomic_load_explicit(&p->r[i].v, memory_order_relaxed));
	}
}

/* Puts an output's prefix in front of each of its counters' names. */
struct nm_prefixed {
	const char *prefix;
	nm_counter_fn *fn;
	void *ctx;
};

static void nm_prefixed_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	const struct nm_prefixed *p = ctx;
	char full[160];
	snprintf(full, sizeof(full), "%s%s", p->prefix, name);
	p->fn(p->ctx, full, help, v);
}

void nm_sink_counters(const struct nm_sink *s, nm_counter_fn *fn, void *ctx)
{
#define NM_X_(name, help) fn(ctx, "sink_" #name, help, nm_sink_get(s, NM_SINK_CTR_##name));
	NM_SINK_COUNTERS(NM_X_)
#undef NM_X_
	for (uint32_t k = 0; k < s->nout; k++) {
		char pre[32];
		snprintf(pre, sizeof(pre), "%s%" PRIu32 "_", s->out[k].ops->name, k);
		struct nm_prefixed p = {pre, fn, ctx};
		s->out[k].ops->counters(s->out[k].o, nm_prefixed_fn, &p);
	}
}

static void nm_print_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	(void)help;
	fprintf(ctx, "%s %" PRIu64 "\n", name, v);
}

void nm_sink_print(const struct nm_sink *s, FILE *o)
{
	nm_sink_counters(s, nm_print_fn, o);
	for (uint32_t k = 0; k < s->nout; k++) {
		if (s->out[k].ops->status == NULL)
			continue;
		char pre[32];
		snprintf(pre, sizeof(pre), "%s%" PRIu32 "_", s->out[k].ops->name, k);
		s->out[k].ops->status(s->out[k].o, pre, o);
	}
}

void nm_sink_free(struct nm_sink *s)
{
	for (uint32_t k = 0; k < s->nout; k++)
		s->out[k].ops->free(s->out[k].o);
	s->nout = 0;
}
