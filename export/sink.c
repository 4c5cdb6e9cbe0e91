/* SPDX-License-Identifier: BSD-3-Clause */
#include "sink.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "flow_json.h"

int nm_sink_open(struct nm_sink *s, const struct nm_config *cfg, struct nm_worker *workers,
		 uint32_t nworkers, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->workers = workers;
	s->nworkers = nworkers;
	atomic_init(&s->stop, false);
	for (uint32_t i = 0; i < cfg->nsinks; i++) {
		if (cfg->sinks[i].type == NM_SINK_DISCARD)
			continue;
		const char *path = cfg->sinks[i].path;
		FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
		if (f == NULL) {
			snprintf(err, errlen, "sinks[%u].path: %s: %s", i, path, strerror(errno));
			return -1;
		}
		setvbuf(f, NULL, _IOFBF, 1 << 20);
		s->out[s->nout++] = f;
	}
	return 0;
}

static void nm_sink_write(struct nm_sink *s, const struct nm_batch *b)
{
	char buf[NM_FLOW_JSON_MAX + 1];
	for (uint32_t i = 0; s->nout && i < b->n; i++) {
		size_t n = b->kind == NM_BATCH_FLOWS
				   ? nm_flow_json(&((const struct nm_flow *)b->recs)[i], buf, sizeof(buf))
				   : nm_ctr_json(&((const struct nm_ctr *)b->recs)[i], buf, sizeof(buf));
		buf[n++] = '\n';
		for (uint32_t k = 0; k < s->nout; k++)
			if (fwrite(buf, 1, n, s->out[k]) != n)
				atomic_fetch_add_explicit(&s->write_errors, 1, memory_order_relaxed);
	}
	atomic_fetch_add_explicit(b->kind == NM_BATCH_FLOWS ? &s->records_written
							     : &s->counters_written,
				  b->n, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->batches, 1, memory_order_relaxed);
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
		}
	}
	return done;
}

void *nm_sink_run(void *arg)
{
	struct nm_sink *s = arg;
	for (;;) {
		/* acquire pairs with the release store of stop in main */
		bool stopping = atomic_load_explicit(&s->stop, memory_order_acquire);
		if (nm_sink_pass(s))
			continue;
		if (stopping) {
			/* Workers have finished (main sets stop after joining
			 * them): one last pass takes what they pushed. */
			nm_sink_pass(s);
			break;
		}
		for (uint32_t k = 0; k < s->nout; k++)
			fflush(s->out[k]);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	for (uint32_t k = 0; k < s->nout; k++)
		fflush(s->out[k]);
	return NULL;
}

void nm_sink_close(struct nm_sink *s)
{
	for (uint32_t k = 0; k < s->nout; k++)
		if (s->out[k] != stdout)
			fclose(s->out[k]);
	s->nout = 0;
}
