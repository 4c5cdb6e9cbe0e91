/* SPDX-License-Identifier: BSD-3-Clause */
#include "sink.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "filesink.h"
#include "flow_json.h"
#include "kafka.h"

void nm_sink_init(struct nm_sink *s, const struct nm_config *cfg, struct nm_worker *workers,
		  uint32_t nworkers)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->workers = workers;
	s->nworkers = nworkers;
	atomic_init(&s->stop, false);
	atomic_init(&s->ready, false);
}

static int nm_sink_open(struct nm_sink *s)
{
	const struct nm_config *cfg = s->cfg;
	for (uint32_t i = 0; i < cfg->nsinks; i++) {
		const struct nm_cfg_sink *c = &cfg->sinks[i];
		struct nm_output *o = &s->out[s->nout];
		memset(o, 0, sizeof(*o));
		o->type = c->type;
		char err[1024];
		err[0] = 0;
		switch (c->type) {
		case NM_SINK_JSON:
			o->json = strcmp(c->path, "-") == 0 ? stdout : fopen(c->path, "w");
			if (o->json == NULL)
				snprintf(err, sizeof(err), "%s: %s", c->path, strerror(errno));
			else
				setvbuf(o->json, NULL, _IOFBF, 1 << 20);
			break;
		case NM_SINK_KAFKA:
			o->kafka = nm_kafka_open(c, err, sizeof(err));
			break;
		case NM_SINK_FILE:
			o->file = nm_filesink_open(c, err, sizeof(err));
			break;
		case NM_SINK_DISCARD:
			break;
		}
		if (err[0]) {
			snprintf(s->open_err, sizeof(s->open_err), "sinks[%u]: %s", i, err);
			return -1;
		}
		s->nout++;
	}
	return 0;
}

static void nm_json_write(struct nm_sink *s, FILE *f, const struct nm_batch *b)
{
	char buf[NM_FLOW_JSON_MAX + 1];
	for (uint32_t i = 0; i < b->n; i++) {
		size_t n = b->kind == NM_BATCH_FLOWS
				   ? nm_flow_json(&((const struct nm_flow *)b->recs)[i], buf, sizeof(buf))
				   : nm_ctr_json(&((const struct nm_ctr *)b->recs)[i], buf, sizeof(buf));
		buf[n++] = '\n';
		if (fwrite(buf, 1, n, f) != n)
			atomic_fetch_add_explicit(&s->write_errors, 1, memory_order_relaxed);
	}
}

static void nm_sink_write(struct nm_sink *s, const struct nm_batch *b)
{
	for (uint32_t k = 0; k < s->nout; k++) {
		struct nm_output *o = &s->out[k];
		switch (o->type) {
		case NM_SINK_JSON:
			nm_json_write(s, o->json, b);
			break;
		case NM_SINK_KAFKA:
			nm_kafka_write(o->kafka, b);
			break;
		case NM_SINK_FILE:
			nm_filesink_write(o->file, b);
			break;
		case NM_SINK_DISCARD:
			break;
		}
	}
	atomic_fetch_add_explicit(b->kind == NM_BATCH_FLOWS ? &s->records_written
							     : &s->counters_written,
				  b->n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->batches, 1, memory_order_relaxed);
}

/* Kafka deliveries, published for the stats thread. */
static void nm_sink_publish(struct nm_sink *s)
{
	uint64_t delivered = 0;
	for (uint32_t k = 0; k < s->nout; k++)
		if (s->out[k].type == NM_SINK_KAFKA)
			delivered += nm_kafka_delivered(s->out[k].kafka);
	atomic_store_explicit(&s->kafka_delivered, delivered, memory_order_relaxed);
}

static void nm_sink_idle(struct nm_sink *s)
{
	for (uint32_t k = 0; k < s->nout; k++) {
		struct nm_output *o = &s->out[k];
		if (o->type == NM_SINK_JSON)
			fflush(o->json);
		else if (o->type == NM_SINK_KAFKA)
			nm_kafka_idle(o->kafka);
		else if (o->type == NM_SINK_FILE)
			nm_filesink_idle(o->file);
	}
	nm_sink_publish(s);
}

/* One pass over every worker's ring; returns the batches handled. */
static uint32_t nm_sink_pass(struct nm_sink *s)
{
	uint32_t done = 0;
	for (uint32_t i = 0; i < s->nworkers; i++) {
		struct nm_worker *w = &s->workers[i];
		struct nm_batch *b;
		while ((b = nm_ring_pop(w->full)) != NULL) {
			nm_sink_write(s, b);
			b->n = 0;
			/* The free ring holds the whole pool: this cannot fail. */
			nm_ring_push(w->free, b);
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
	for (uint64_t busy = 0;;) {
		/* acquire pairs with the release store of stop in main */
		bool stopping = atomic_load_explicit(&s->stop, memory_order_acquire);
		if (nm_sink_pass(s)) {
			/* Under constant load there is no idle moment: serve the
			 * outputs (delivery reports, partial messages) now and then. */
			if (++busy % 64 == 0)
				nm_sink_idle(s);
			continue;
		}
		if (stopping) {
			/* Workers have finished (main sets stop after joining
			 * them): one last pass takes what they pushed. */
			nm_sink_pass(s);
			break;
		}
		nm_sink_idle(s);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (uint32_t k = 0; k < s->nout; k++) {
		struct nm_output *o = &s->out[k];
		if (o->type == NM_SINK_JSON) {
			fflush(o->json);
			if (o->json != stdout)
				fclose(o->json);
		} else if (o->type == NM_SINK_KAFKA) {
			nm_kafka_close(o->kafka);
		} else if (o->type == NM_SINK_FILE) {
			nm_filesink_close(o->file);
		}
	}
	return NULL;
}

int nm_sink_wait_ready(struct nm_sink *s, char *err, size_t errlen)
{
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

void nm_sink_print(const struct nm_sink *s, FILE *o)
{
	fprintf(o,
		"sink_records_written %" PRIu64 "\nsink_counters_written %" PRIu64
		"\nsink_write_errors %" PRIu64 "\n",
		atomic_load(&s->records_written), atomic_load(&s->counters_written),
		atomic_load(&s->write_errors));
	for (uint32_t k = 0; k < s->nout; k++) {
		char pre[32];
		if (s->out[k].type == NM_SINK_KAFKA) {
			snprintf(pre, sizeof(pre), "kafka%u_", k);
			nm_kafka_print(s->out[k].kafka, pre, o);
		} else if (s->out[k].type == NM_SINK_FILE) {
			snprintf(pre, sizeof(pre), "file%u_", k);
			nm_filesink_print(s->out[k].file, pre, o);
		}
	}
}

void nm_sink_free(struct nm_sink *s)
{
	for (uint32_t k = 0; k < s->nout; k++) {
		if (s->out[k].type == NM_SINK_KAFKA)
			nm_kafka_free(s->out[k].kafka);
		else if (s->out[k].type == NM_SINK_FILE)
			nm_filesink_free(s->out[k].file);
	}
	s->nout = 0;
}
