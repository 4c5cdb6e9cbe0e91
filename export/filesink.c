/* SPDX-License-Identifier: BSD-3-Clause */
#include "filesink.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "msgbuf.h"
#include "spool.h"
#include "util.h"

struct nm_fstream {
	const char *kind; /* "flows" or "counters" */
	struct nm_msgbuf mb;
	FILE *f;
	char tmp[600];
	uint64_t bytes;
	uint64_t opened_ns;
};

struct nm_filesink {
	struct nm_cfg_sink cfg;
	struct nm_fstream flows, ctrs;
	ZSTD_CCtx *zc;
	uint8_t *zbuf;
	size_t zcap;
	uint64_t seq;
#define NM_X_(name, help) uint64_t name;
	NM_FILESINK_COUNTERS(NM_X_)
#undef NM_X_
};

/* Wall clock: it names the files, and a file's age is measured on it. */
static uint64_t nm_ns(void)
{
	return nm_clock_ns(CLOCK_REALTIME);
}

static void nm_filesink_free(void *o)
{
	struct nm_filesink *s = o;
	if (s == NULL)
		return;
	ZSTD_freeCCtx(s->zc);
	free(s->zbuf);
	nm_msgbuf_free(&s->flows.mb);
	nm_msgbuf_free(&s->ctrs.mb);
	free(s);
}

/* Preflight: a directory that exists or can be made, and takes files. */
static int nm_filesink_check(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	return nm_dir_check(cfg->path, "file sink path", err, errlen);
}

/* NULL with a message in err; every early return frees what it took. */
static void *nm_filesink_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	/* nm_dir_prepare runs nm_filesink_check's nm_dir_check first. A path that is no directory, or one we may not write in, would lose
	 * every record later, one counted write error at a time: refuse it. */
	if (nm_dir_prepare(cfg->path, "file sink path", err, errlen))
		return NULL;
	struct nm_filesink *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "file sink: out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->flows.kind = "flows";
	s->ctrs.kind = "counters";
	s->zc = ZSTD_createCCtx();
	s->zcap = ZSTD_compressBound(cfg->max_message_bytes + NM_PB_RECORD_MAX);
	s->zbuf = malloc(s->zcap);
	if (s->zc == NULL || s->zbuf == NULL ||
	    nm_msgbuf_init(&s->flows.mb, cfg->max_message_bytes, cfg->max_message_records) ||
	    nm_msgbuf_init(&s->ctrs.mb, cfg->max_message_bytes, cfg->max_message_records)) {
		snprintf(err, errlen, "file sink: out of memory");
		nm_filesink_free(s);
		return NULL;
	}
	return s;
}

/* Closes the current file of a stream and gives it its final name. */
static void nm_fstream_rotate(struct nm_filesink *s, struct nm_fstream *st)
{
	if (st->f == NULL)
		return;
	if (fclose(st->f) != 0)
		s->write_errors++;
	st->f = NULL;
	char final[600];
	size_t n = strlen(st->tmp);
	snprintf(final, sizeof(final), "%.*s", (int)(n - 4), st->tmp); /* drop ".tmp" */
	if (rename(st->tmp, final) != 0)
		s->write_errors++;
	else
		s->files++;
}

static void nm_fstream_frame(struct nm_filesink *s, struct nm_fstream *st)
{
	if (st->mb.records == 0)
		return;
	uint64_t now = nm_ns();
	if (st->f && (st->bytes >= s->cfg.rotate_bytes ||
		      now - st->opened_ns >= (uint64_t)s->cfg.rotate_seconds * 1000000000ull))
		nm_fstream_rotate(s, st);
	if (st->f == NULL) {
		time_t t = (time_t)(now / 1000000000ull);
		struct tm tm;
		gmtime_r(&t, &tm);
		char ts[32];
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
		/* microseconds and the process ID keep names unique across
		 * restarts within one second */
		snprintf(st->tmp, sizeof(st->tmp), "%s/%s-%s.%06uZ-%d-%06" PRIu64 ".pb.zst.tmp",
			 s->cfg.path, st->kind, ts, (unsigned)(now / 1000 % 1000000), (int)getpid(),
			 s->seq++);
		st->f = fopen(st->tmp, "wb");
		st->bytes = 0;
		st->opened_ns = now;
	}
	size_t len;
	uint32_t records;
	uint8_t *p = nm_msgbuf_take(&st->mb, &len, &records);
	size_t z = ZSTD_compressCCtx(s->zc, s->zbuf, s->zcap, p, len, 3);
	free(p);
	if (st->f == NULL || ZSTD_isError(z) || fwrite(s->zbuf, 1, z, st->f) != z) {
		s->write_errors++;
		s->records_lost += records;
		return;
	}
	st->bytes += z;
	s->frames++;
	s->records += records;
}

static void nm_filesink_write(void *o, const struct nm_batch *b)
{
	struct nm_filesink *s = o;
	bool flows = b->kind == NM_BATCH_FLOWS;
	struct nm_fstream *st = flows ? &s->flows : &s->ctrs;
	for (uint32_t i = 0; i < b->n; i++) {
		if (nm_msgbuf_full(&st->mb))
			nm_fstream_frame(s, st);
		if (st->mb.buf == NULL && (st->mb.buf = malloc(st->mb.cap)) == NULL) {
			s->records_lost++;
			continue;
		}
		st->mb.len += flows ? nm_pb_flow_delimited(&((const struct nm_flow *)b->recs)[i],
							   st->mb.buf + st->mb.len)
				    : nm_pb_ctr_delimited(&((const struct nm_ctr *)b->recs)[i],
							  st->mb.buf + st->mb.len);
		st->mb.records++;
	}
}

/* A file past its age is finished even when no new frame comes. */
static void nm_fstream_age(struct nm_filesink *s, struct nm_fstream *st)
{
	if (st->f && nm_ns() - st->opened_ns >= (uint64_t)s->cfg.rotate_seconds * 1000000000ull)
		nm_fstream_rotate(s, st);
}

/* Partly filled frames are written and the files flushed. */
static void nm_filesink_flush(void *o)
{
	struct nm_filesink *s = o;
	nm_fstream_frame(s, &s->flows);
	nm_fstream_frame(s, &s->ctrs);
	if (s->flows.f)
		fflush(s->flows.f);
	if (s->ctrs.f)
		fflush(s->ctrs.f);
}

static void nm_filesink_poll(void *o)
{
	struct nm_filesink *s = o;
	nm_fstream_age(s, &s->flows);
	nm_fstream_age(s, &s->ctrs);
}

/* The last frames, then both files get their final names. */
static void nm_filesink_close(void *o)
{
	struct nm_filesink *s = o;
	nm_filesink_flush(s);
	nm_fstream_rotate(s, &s->flows);
	nm_fstream_rotate(s, &s->ctrs);
}

_Static_assert((0 NM_FILESINK_COUNTERS(NM_OUTPUT_COUNT_ONE)) <= NM_OUTPUT_MAX_COUNTERS,
	       "the file output reports more counters than NM_OUTPUT_MAX_COUNTERS");

static void nm_filesink_counters(const void *o, nm_counter_fn *fn, void *ctx)
{
	const struct nm_filesink *s = o;
#define NM_X_(name, help) fn(ctx, #name, help, s->name);
	NM_FILESINK_COUNTERS(NM_X_)
#undef NM_X_
}

static uint64_t nm_filesink_dropped(const void *o)
{
	return ((const struct nm_filesink *)o)->records_lost;
}

static void nm_filesink_drop_reasons(const void *o, nm_counter_fn *fn, void *ctx)
{
	fn(ctx, "records_lost", "a file could not be created or written (disk full? directory gone?)",
	   ((const struct nm_filesink *)o)->records_lost);
}

/* A reload: the rotation limits take effect at the next frame or poll (a
 * file already past the new limits is finished then). */
static void nm_filesink_reconfigure(void *o, const struct nm_cfg_sink *cfg)
{
	struct nm_filesink *s = o;
	s->cfg.rotate_bytes = cfg->rotate_bytes;
	s->cfg.rotate_seconds = cfg->rotate_seconds;
}

const struct nm_output_ops nm_filesink_ops = {
	.name = "file",
	.check = nm_filesink_check,
	.open = nm_filesink_open,
	.write = nm_filesink_write,
	.flush = nm_filesink_flush,
	.poll = nm_filesink_poll,
	.close = nm_filesink_close,
	.free = nm_filesink_free,
	.counters = nm_filesink_counters,
	.dropped = nm_filesink_dropped,
	.drop_reasons = nm_filesink_drop_reasons,
	.reconfigure = nm_filesink_reconfigure,
};
