/* SPDX-License-Identifier: BSD-3-Clause */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define NM_SPOOL_MAGIC 0x50534d4eu /* "NMSP" little-endian */
#define NM_SPOOL_HDR 24
#define NM_SPOOL_MAX_MSG (64u << 20)

uint32_t nm_crc32(const void *p, size_t n)
{
	static uint32_t table[256];
	static int ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		ready = 1;
	}
	const uint8_t *b = p;
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ b[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

static void nm_le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t nm_le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void nm_seg_path(const struct nm_spool *sp, uint64_t seq, char *out, size_t cap)
{
	snprintf(out, cap, "%s/spool-%016" PRIx64 ".nms", sp->dir, seq);
}

static int nm_buf(struct nm_spool *sp, size_t need)
{
	if (need <= sp->bufcap)
		return 0;
	uint8_t *b = realloc(sp->buf, need);
	if (b == NULL)
		return -1;
	sp->buf = b;
	sp->bufcap = need;
	return 0;
}

/* Segment numbers on disk, ascending. */
static int nm_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static size_t nm_list_segments(const struct nm_spool *sp, uint64_t *out, size_t cap, uint64_t *bytes)
{
	DIR *d = opendir(sp->dir);
	size_t n = 0;
	*bytes = 0;
	if (d == NULL)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		uint64_t seq;
		char tail[8];
		if (sscanf(de->d_name, "spool-%16" SCNx64 ".%3s", &seq, tail) == 2 &&
		    strcmp(tail, "nms") == 0 && n < cap) {
			char path[600];
			struct stat st;
			nm_seg_path(sp, seq, path, sizeof(path));
			if (stat(path, &st) == 0)
				*bytes += (uint64_t)st.st_size;
			out[n++] = seq;
		}
	}
	closedir(d);
	qsort(out, n, sizeof(*out), nm_cmp_u64);
	return n;
}

int nm_spool_open(struct nm_spool *sp, const char *dir, uint64_t quota, char *err, size_t errlen)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->quota = quota;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool.dir: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (access(dir, W_OK | R_OK | X_OK) != 0) {
		snprintf(err, errlen, "spool.dir: %s: %s", dir, strerror(errno));
		return -1;
	}
	uint64_t segs[4096];
	size_t n = nm_list_segments(sp, segs, 4096, &sp->used);
	sp->next_seq = n ? segs[n - 1] + 1 : 1;
	sp->zc = ZSTD_createCCtx();
	sp->zd = ZSTD_createDCtx();
	if (sp->zc == NULL || sp->zd == NULL) {
		snprintf(err, errlen, "spool: out of memory");
		return -1;
	}
	return 0;
}

static int nm_seg_find(struct nm_spool *sp, uint64_t seq)
{
	for (uint32_t i = 0; i < sp->nsegs; i++)
		if (sp->segs[i].seq == seq)
			return (int)i;
	return -1;
}

/* Removes a fully replayed and delivered segment. */
static void nm_seg_maybe_remove(struct nm_spool *sp, int i)
{
	if (i < 0 || !sp->segs[i].read_done || sp->segs[i].outstanding)
		return;
	char path[600];
	nm_seg_path(sp, sp->segs[i].seq, path, sizeof(path));
	if (unlink(path) == 0) {
		sp->segments_removed++;
		sp->used -= sp->segs[i].bytes < sp->used ? sp->segs[i].bytes : sp->used;
	}
	sp->segs[i] = sp->segs[--sp->nsegs];
}

int nm_spool_put(struct nm_spool *sp, const void *msg, size_t len, uint32_t records)
{
	size_t bound = ZSTD_compressBound(len);
	if (len > NM_SPOOL_MAX_MSG || nm_buf(sp, bound + NM_SPOOL_HDR)) {
		sp->io_errors++;
		return -1;
	}
	size_t z = ZSTD_compressCCtx(sp->zc, sp->buf + NM_SPOOL_HDR, bound, msg, len, 1);
	if (ZSTD_isError(z)) {
		sp->io_errors++;
		return -1;
	}
	if (sp->used + z + NM_SPOOL_HDR > sp->quota) {
		sp->quota_msgs++;
		sp->quota_records += records;
		return -1;
	}
	if (sp->w == NULL || sp->wbytes >= NM_SPOOL_SEGMENT_BYTES) {
		if (sp->w)
			fclose(sp->w);
		char path[600];
		sp->wseq = sp->next_seq++;
		nm_seg_path(sp, sp->wseq, path, sizeof(path));
		sp->w = fopen(path, "ab");
		sp->wbytes = 0;
		if (sp->w == NULL) {
			sp->io_errors++;
			return -1;
		}
	}
	uint8_t *h = sp->buf;
	nm_le32_put(h, NM_SPOOL_MAGIC);
	nm_le32_put(h + 4, 1);
	nm_le32_put(h + 8, records);
	nm_le32_put(h + 12, (uint32_t)len);
	nm_le32_put(h + 16, (uint32_t)z);
	nm_le32_put(h + 20, nm_crc32(h + NM_SPOOL_HDR, z));
	if (fwrite(h, 1, NM_SPOOL_HDR + z, sp->w) != NM_SPOOL_HDR + z || fflush(sp->w) != 0) {
		/* A full disk: what was written of it is a truncated entry the
		 * reader will report and skip. */
		sp->io_errors++;
		return -1;
	}
	sp->wbytes += NM_SPOOL_HDR + z;
	sp->used += NM_SPOOL_HDR + z;
	sp->put_msgs++;
	sp->put_records += records;
	sp->put_bytes += len;
	return 0;
}

/* Opens the oldest segment not yet replayed; the one being written is
 * closed first so it can be read. */
static int nm_spool_open_next(struct nm_spool *sp)
{
	uint64_t segs[4096], bytes;
	size_t n = nm_list_segments(sp, segs, 4096, &bytes);
	for (size_t i = 0; i < n; i++) {
		if (segs[i] <= sp->rseq || nm_seg_find(sp, segs[i]) >= 0)
			continue;
		if (sp->nsegs >= 64)
			return 0; /* too many segments in flight: wait for deliveries */
		if (sp->w && segs[i] == sp->wseq) {
			fclose(sp->w);
			sp->w = NULL;
		}
		char path[600];
		nm_seg_path(sp, segs[i], path, sizeof(path));
		sp->r = fopen(path, "rb");
		if (sp->r == NULL) {
			sp->io_errors++;
			continue;
		}
		struct stat st;
		sp->segs[sp->nsegs].seq = segs[i];
		sp->segs[sp->nsegs].outstanding = 0;
		sp->segs[sp->nsegs].read_done = 0;
		sp->segs[sp->nsegs].bytes = fstat(fileno(sp->r), &st) == 0 ? (uint64_t)st.st_size : 0;
		sp->nsegs++;
		sp->rseq = segs[i];
		return 1;
	}
	return 0;
}

int nm_spool_next(struct nm_spool *sp, void **msg, size_t *len, uint32_t *records,
		  uint64_t *token)
{
	for (;;) {
		if (sp->r == NULL && !nm_spool_open_next(sp))
			return 0;
		int si = nm_seg_find(sp, sp->rseq);
		uint8_t h[NM_SPOOL_HDR];
		size_t got = fread(h, 1, NM_SPOOL_HDR, sp->r);
		int bad = 0;
		if (got == 0 && feof(sp->r)) {
			/* end of segment */
		} else if (got != NM_SPOOL_HDR || nm_le32_get(h) != NM_SPOOL_MAGIC ||
			   nm_le32_get(h + 4) != 1 || nm_le32_get(h + 12) > NM_SPOOL_MAX_MSG ||
			   nm_le32_get(h + 16) > ZSTD_compressBound(NM_SPOOL_MAX_MSG)) {
			bad = 1;
		} else {
			uint32_t raw = nm_le32_get(h + 12), z = nm_le32_get(h + 16);
			uint8_t *out = malloc(raw ? raw : 1);
			if (out == NULL || nm_buf(sp, z) || fread(sp->buf, 1, z, sp->r) != z ||
			    nm_crc32(sp->buf, z) != nm_le32_get(h + 20) ||
			    ZSTD_decompressDCtx(sp->zd, out, raw, sp->buf, z) != raw) {
				free(out);
				bad = 1;
			} else {
				*msg = out;
				*len = raw;
				*records = nm_le32_get(h + 8);
				*token = sp->rseq;
				sp->segs[si].outstanding++;
				sp->replay_msgs++;
				sp->replay_records += *records;
				return 1;
			}
		}
		if (bad)
			sp->corrupt_entries++; /* the rest of the segment is skipped */
		fclose(sp->r);
		sp->r = NULL;
		sp->segs[si].read_done = 1;
		nm_seg_maybe_remove(sp, si);
	}
}

void nm_spool_done(struct nm_spool *sp, uint64_t token)
{
	int i = nm_seg_find(sp, token);
	if (i < 0)
		return;
	if (sp->segs[i].outstanding)
		sp->segs[i].outstanding--;
	nm_seg_maybe_remove(sp, i);
}

int nm_spool_pending(const struct nm_spool *sp)
{
	/* Bytes on disk beyond what is being replayed and fully read. */
	if (sp->r)
		return 1;
	uint64_t in_flight = 0;
	for (uint32_t i = 0; i < sp->nsegs; i++)
		in_flight += sp->segs[i].bytes;
	return sp->used > in_flight;
}

void nm_spool_close(struct nm_spool *sp)
{
	if (sp->w)
		fclose(sp->w);
	if (sp->r)
		fclose(sp->r);
	ZSTD_freeCCtx(sp->zc);
	ZSTD_freeDCtx(sp->zd);
	free(sp->buf);
	memset(sp, 0, sizeof(*sp));
}
