/* SPDX-License-Identifier: BSD-3-Clause */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#define NM_SPOOL_MAGIC 0x50534d4eu /* "NMSP" little-endian */
#define NM_SPOOL_DONE 0x44534d4eu  /* "NMSD": delivered, skip */
#define NM_SPOOL_VERSION 2
#define NM_SPOOL_HDR 44
#define NM_SPOOL_MAX_MSG (64u << 20)

static uint32_t nm_crc32_update(uint32_t c, const void *p, size_t n)
{
	static uint32_t table[256];
	static int ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = 1;
	}
	const uint8_t *b = p;
	c ^= 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ b[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

uint32_t nm_crc32(const void *p, size_t n)
{
	return nm_crc32_update(0, p, n);
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

/* Magic numbers of statfs' f_type (linux/magic.h) */
#define NM_PROC_MAGIC 0x9fa0
#define NM_SYSFS_MAGIC 0x62656572

/* Files can be created in the existing directory d (what, shown, for the
 * message): a directory, searchable and writable, on a file system that
 * takes files. */
static int nm_dir_takes_files(const char *d, const char *what, const char *shown, char *err,
			      size_t errlen)
{
	struct stat st;
	struct statfs sf;
	struct statvfs sv;
	if (stat(d, &st) != 0) {
		snprintf(err, errlen, "%s: %s: %s", what, shown, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s: not a directory", what, shown);
		return -1;
	}
	if (access(d, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "%s: %s: %s", what, shown, strerror(errno));
		return -1;
	}
	if (statvfs(d, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
		snprintf(err, errlen, "%s: %s: %s", what, shown, strerror(EROFS));
		return -1;
	}
	if (statfs(d, &sf) == 0 && (sf.f_type == NM_PROC_MAGIC || sf.f_type == NM_SYSFS_MAGIC)) {
		snprintf(err, errlen, "%s: %s: on %s, where no file can be created", what, shown,
			 sf.f_type == NM_PROC_MAGIC ? "/proc" : "/sys");
		return -1;
	}
	return 0;
}

/* The directory part of path ("." when none) in out. */
static void nm_parent(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	char *slash = strrchr(out, '/');
	if (slash == NULL)
		snprintf(out, cap, ".");
	else if (slash == out)
		out[1] = 0;
	else
		*slash = 0;
}

int nm_dir_check(const char *dir, const char *what, char *err, size_t errlen)
{
	struct stat st;
	if (dir[0] == 0) {
		snprintf(err, errlen, "%s: empty path", what);
		return -1;
	}
	if (stat(dir, &st) == 0) {
		if (nm_dir_takes_files(dir, what, dir, err, errlen))
			return -1;
		if (access(dir, R_OK) != 0) {
			snprintf(err, errlen, "%s: %s: %s", what, dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s: %s", what, dir, strerror(errno));
		return -1;
	}
	/* mkdir will create it: its parent must take it */
	char parent[1024];
	nm_parent(dir, parent, sizeof(parent));
	return nm_dir_takes_files(parent, what, dir, err, errlen);
}

int nm_file_check(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	if (path[0] == 0) {
		snprintf(err, errlen, "%s: empty path", what);
		return -1;
	}
	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s: %s: %s", what, path, strerror(EISDIR));
			return -1;
		}
		if (access(path, W_OK) != 0) {
			snprintf(err, errlen, "%s: %s: %s", what, path, strerror(errno));
			return -1;
		}
		return 0; /* opened and truncated in place: nothing is created */
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s: %s", what, path, strerror(errno));
		return -1;
	}
	char parent[1024];
	nm_parent(path, parent, sizeof(parent));
	return nm_dir_takes_files(parent, what, path, err, errlen);
}

int nm_dir_prepare(const char *dir, const char *what, char *err, size_t errlen)
{
	struct stat st;
	if (nm_dir_check(dir, what, err, errlen))
		return -1;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s: %s", what, dir, strerror(errno));
		return -1;
	}
	/* An existing file of the same name is not EEXIST's "already there" */
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s: not a directory", what, dir);
		return -1;
	}
	if (access(dir, W_OK | R_OK | X_OK) != 0) {
		snprintf(err, errlen, "%s: %s: %s", what, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int nm_spool_open(struct nm_spool *sp, const char *dir, uint64_t quota, char *err, size_t errlen)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	sp->quota = quota;
	if (nm_dir_prepare(dir, "spool.dir", err, errlen))
		return -1;
	uint64_t segs[4096];
	size_t n = nm_list_segments(sp, segs, 4096, &sp->bytes);
	sp->next_seq = n ? segs[n - 1] + 1 : 1;
	sp->zc = ZSTD_createCCtx();
	sp->zd = ZSTD_createDCtx();
	if (sp->zc == NULL || sp->zd == NULL) {
		snprintf(err, errlen, "spool: out of memory");
		nm_spool_close(sp);
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

static void nm_seg_close_mark(struct nm_spool *sp, int i)
{
	if (sp->segs[i].mfd)
		close(sp->segs[i].mfd - 1);
	sp->segs[i].mfd = 0;
}

/* Removes a fully replayed and delivered segment. */
static void nm_seg_maybe_remove(struct nm_spool *sp, int i)
{
	if (i < 0 || !sp->segs[i].read_done || sp->segs[i].outstanding || sp->segs[i].failed)
		return;
	char path[600];
	nm_seg_path(sp, sp->segs[i].seq, path, sizeof(path));
	nm_seg_close_mark(sp, i);
	if (unlink(path) == 0) {
		sp->segments_removed++;
		sp->bytes -= sp->segs[i].bytes < sp->bytes ? sp->segs[i].bytes : sp->bytes;
	}
	sp->segs[i] = sp->segs[--sp->nsegs];
}

/* The entry's CRC: header fields after the CRC, then the compressed bytes. */
static uint32_t nm_entry_crc(const uint8_t *h, const uint8_t *z, size_t zlen)
{
	uint32_t c = nm_crc32_update(0, h + 8, 12);        /* records, raw, zstd length */
	c = nm_crc32_update(c, h + 24, NM_SPOOL_HDR - 24); /* flags, key */
	return nm_crc32_update(c, z, zlen);
}

/* Compresses one entry into sp->buf (header first). Its total length,
 * or 0 when refused (counted). */
static size_t nm_entry_make(struct nm_spool *sp, const void *msg, size_t len, uint32_t records,
			    const uint8_t *key, int count_quota)
{
	size_t bound = ZSTD_compressBound(len);
	if (len > NM_SPOOL_MAX_MSG || nm_buf(sp, bound + NM_SPOOL_HDR)) {
		sp->io_errors++;
		return 0;
	}
	size_t z = ZSTD_compressCCtx(sp->zc, sp->buf + NM_SPOOL_HDR, bound, msg, len, 1);
	if (ZSTD_isError(z)) {
		sp->io_errors++;
		return 0;
	}
	if (sp->bytes + z + NM_SPOOL_HDR > sp->quota) {
		if (count_quota) {
			sp->quota_msgs++;
			sp->quota_records += records;
		}
		return 0;
	}
	uint8_t *h = sp->buf;
	memset(h, 0, NM_SPOOL_HDR);
	nm_le32_put(h, NM_SPOOL_MAGIC);
	nm_le32_put(h + 4, NM_SPOOL_VERSION);
	nm_le32_put(h + 8, records);
	nm_le32_put(h + 12, (uint32_t)len);
	nm_le32_put(h + 16, (uint32_t)z);
	if (key) {
		nm_le32_put(h + 24, 1);
		memcpy(h + 28, key, 16);
	}
	nm_le32_put(h + 20, nm_entry_crc(h, h + NM_SPOOL_HDR, z));
	return NM_SPOOL_HDR + z;
}

/* Appends the entry in sp->buf to *f (segment seq, opened on first use). */
static int nm_entry_append(struct nm_spool *sp, FILE **f, uint64_t seq, uint64_t *fbytes,
			   size_t n, size_t len, uint32_t records)
{
	if (*f == NULL) {
		char path[600];
		nm_seg_path(sp, seq, path, sizeof(path));
		*f = fopen(path, "ab");
		if (*f == NULL) {
			sp->io_errors++;
			return -1;
		}
	}
	if (fwrite(sp->buf, 1, n, *f) != n || fflush(*f) != 0) {
		/* A full disk: what was written of it is a truncated entry the
		 * reader will report and skip. */
		sp->io_errors++;
		return -1;
	}
	*fbytes += n;
	sp->bytes += n;
	sp->put_msgs++;
	sp->put_records += records;
	sp->put_bytes += len;
	return 0;
}

/* The tail (count_quota 0: a full quota is not counted). */
static int nm_spool_tail(struct nm_spool *sp, const void *msg, size_t len, uint32_t records,
			 const uint8_t *key, int count_quota)
{
	size_t n = nm_entry_make(sp, msg, len, records, key, count_quota);
	if (n == 0)
		return -1;
	if (sp->w && sp->wbytes >= NM_SPOOL_SEGMENT_BYTES) {
		fclose(sp->w);
		sp->w = NULL;
	}
	if (sp->w == NULL) {
		sp->wseq = sp->next_seq++;
		sp->wbytes = 0;
	}
	return nm_entry_append(sp, &sp->w, sp->wseq, &sp->wbytes, n, len, records);
}

int nm_spool_put(struct nm_spool *sp, const void *msg, size_t len, uint32_t records,
		 const uint8_t *key)
{
	return nm_spool_tail(sp, msg, len, records, key, 1);
}

void nm_spool_lanes_open(struct nm_spool *sp)
{
	if (sp->lanes_open)
		return;
	/* what comes next on the tail starts a segment after the lanes */
	if (sp->w) {
		fclose(sp->w);
		sp->w = NULL;
	}
	for (int i = 0; i < 2; i++) {
		sp->lane[i].f = NULL;
		sp->lane[i].seq = sp->next_seq++;
		sp->lane[i].bytes = 0;
	}
	sp->lanes_open = 1;
}

int nm_spool_put_lane(struct nm_spool *sp, int lane, const void *msg, size_t len,
		      uint32_t records, const uint8_t *key)
{
	if (lane == NM_LANE_TAIL_TRY)
		return nm_spool_tail(sp, msg, len, records, key, 0);
	if (lane == NM_LANE_TAIL || !sp->lanes_open)
		return nm_spool_put(sp, msg, len, records, key);
	size_t n = nm_entry_make(sp, msg, len, records, key, 1);
	if (n == 0)
		return -1;
	int l = lane == NM_LANE_LATE ? 0 : 1;
	if (nm_entry_append(sp, &sp->lane[l].f, sp->lane[l].seq, &sp->lane[l].bytes, n, len,
			    records))
		return -1;
	sp->lane_msgs++;
	return 0;
}

void nm_spool_lanes_close(struct nm_spool *sp)
{
	for (int i = 0; sp->lanes_open && i < 2; i++)
		if (sp->lane[i].f) {
			fclose(sp->lane[i].f);
			sp->lane[i].f = NULL;
		}
	sp->lanes_open = 0;
}

/*
 * Reads the entry at f's position. 1: *out (malloc'd), lengths and key
 * filled; 2: a delivered entry, skipped; 0: end of file; -1: damaged.
 */
static int nm_entry_read(FILE *f, ZSTD_DCtx *zd, uint8_t **zbuf, size_t *zcap, uint8_t **out,
			 size_t *len, uint32_t *records, uint8_t key[16], int *has_key)
{
	uint8_t h[NM_SPOOL_HDR];
	size_t got = fread(h, 1, NM_SPOOL_HDR, f);
	if (got == 0 && feof(f))
		return 0;
	uint32_t magic = got == NM_SPOOL_HDR ? nm_le32_get(h) : 0;
	uint32_t raw = nm_le32_get(h + 12), z = nm_le32_get(h + 16), recs = nm_le32_get(h + 8);
	if ((magic != NM_SPOOL_MAGIC && magic != NM_SPOOL_DONE) ||
	    nm_le32_get(h + 4) != NM_SPOOL_VERSION || raw > NM_SPOOL_MAX_MSG ||
	    z > ZSTD_compressBound(NM_SPOOL_MAX_MSG) || recs > raw)
		return -1;
	if (z > *zcap) {
		uint8_t *b = realloc(*zbuf, z);
		if (b == NULL)
			return -1;
		*zbuf = b;
		*zcap = z;
	}
	if (fread(*zbuf, 1, z, f) != z || nm_entry_crc(h, *zbuf, z) != nm_le32_get(h + 20))
		return -1;
	if (magic == NM_SPOOL_DONE)
		return 2;
	uint8_t *o = malloc(raw ? raw : 1);
	if (o == NULL || ZSTD_decompressDCtx(zd, o, raw, *zbuf, z) != raw) {
		free(o);
		return -1;
	}
	*out = o;
	*len = raw;
	*records = recs;
	*has_key = nm_le32_get(h + 24) & 1;
	memcpy(key, h + 28, 16);
	return 1;
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
		if (sp->lanes_open && segs[i] >= sp->lane[0].seq)
			return 0; /* the lanes come first: wait until they are closed */
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
		sp->segs[sp->nsegs].failed = 0;
		sp->segs[sp->nsegs].read_done = 0;
		sp->segs[sp->nsegs].mfd = 0;
		sp->segs[sp->nsegs].bytes = fstat(fileno(sp->r), &st) == 0 ? (uint64_t)st.st_size : 0;
		sp->nsegs++;
		sp->rseq = segs[i];
		return 1;
	}
	return 0;
}

int nm_spool_next(struct nm_spool *sp, void **msg, size_t *len, uint32_t *records,
		  uint64_t *token, uint8_t key[16], int *has_key)
{
	for (;;) {
		if (sp->r == NULL && !nm_spool_open_next(sp))
			return 0;
		int si = nm_seg_find(sp, sp->rseq);
		long at = ftell(sp->r);
		uint8_t *out = NULL;
		int rc = nm_entry_read(sp->r, sp->zd, &sp->buf, &sp->bufcap, &out, len, records, key,
				       has_key);
		if (rc == 2)
			continue; /* delivered before a restart */
		if (rc == 1) {
			*msg = out;
			/* token: segment number and the entry's offset in it */
			*token = sp->rseq << 32 | (uint64_t)(uint32_t)at;
			sp->segs[si].outstanding++;
			sp->replay_msgs++;
			sp->replay_records += *records;
			return 1;
		}
		if (rc < 0)
			sp->corrupt_entries++; /* the rest of the segment is skipped */
		fclose(sp->r);
		sp->r = NULL;
		sp->segs[si].read_done = 1;
		nm_seg_maybe_remove(sp, si);
	}
}

void nm_spool_done(struct nm_spool *sp, uint64_t token)
{
	uint64_t seq = token >> 32;
	int i = nm_seg_find(sp, seq);
	if (i < 0)
		return;
	/* Mark the entry delivered in place: a restart skips it. The segment's
	 * descriptor stays open until the segment goes: a replay settles
	 * hundreds of entries per segment, one open each cost ~20 ns a record. */
	if (sp->segs[i].mfd == 0) {
		char path[600];
		nm_seg_path(sp, seq, path, sizeof(path));
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		sp->segs[i].mfd = fd >= 0 ? fd + 1 : 0;
	}
	uint8_t m[4];
	nm_le32_put(m, NM_SPOOL_DONE);
	if (sp->segs[i].mfd == 0 ||
	    pwrite(sp->segs[i].mfd - 1, m, 4, (off_t)(uint32_t)token) != 4)
		sp->io_errors++;
	if (sp->segs[i].outstanding)
		sp->segs[i].outstanding--;
	nm_seg_maybe_remove(sp, i);
}

void nm_spool_failed(struct nm_spool *sp, uint64_t token, uint32_t records)
{
	sp->replay_failed_records += records;
	int i = nm_seg_find(sp, token >> 32);
	if (i < 0)
		return;
	if (sp->segs[i].outstanding)
		sp->segs[i].outstanding--;
	sp->segs[i].failed++;
}

void nm_spool_rewind(struct nm_spool *sp)
{
	if (sp->r) {
		fclose(sp->r);
		sp->r = NULL;
	}
	/* No replay is outstanding: forget what was read; segments whose
	 * entries are all settled were removed already. */
	for (uint32_t i = 0; i < sp->nsegs; i++)
		nm_seg_close_mark(sp, (int)i);
	sp->nsegs = 0;
	sp->rseq = 0;
	sp->rewinds++;
}

int nm_spool_pending(const struct nm_spool *sp)
{
	/* Bytes on disk beyond what is being replayed and fully read. */
	if (sp->r)
		return 1;
	uint64_t in_flight = 0;
	for (uint32_t i = 0; i < sp->nsegs; i++)
		in_flight += sp->segs[i].bytes;
	return sp->bytes > in_flight;
}

void nm_spool_sync(struct nm_spool *sp)
{
	FILE *f[3] = {sp->w, sp->lane[0].f, sp->lane[1].f};
	for (int i = 0; i < 3; i++)
		if (f[i] && fdatasync(fileno(f[i])) != 0)
			sp->io_errors++;
}

void nm_spool_close(struct nm_spool *sp)
{
	nm_spool_lanes_close(sp);
	for (uint32_t i = 0; i < sp->nsegs; i++)
		nm_seg_close_mark(sp, (int)i);
	if (sp->w)
		fclose(sp->w);
	if (sp->r)
		fclose(sp->r);
	ZSTD_freeCCtx(sp->zc);
	ZSTD_freeDCtx(sp->zd);
	free(sp->buf);
	memset(sp, 0, sizeof(*sp));
}

int nm_spool_scan(const char *path, void (*fn)(void *ctx, const void *msg, size_t len,
					       uint32_t records),
		  void *ctx, uint64_t *corrupt)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	ZSTD_DCtx *zd = ZSTD_createDCtx();
	uint8_t *zbuf = NULL, *out, key[16];
	size_t zcap = 0, len;
	uint32_t records;
	int has_key, rc;
	while (zd && (rc = nm_entry_read(f, zd, &zbuf, &zcap, &out, &len, &records, key,
					 &has_key)) != 0) {
		if (rc < 0) {
			(*corrupt)++;
			break;
		}
		if (rc == 1) {
			fn(ctx, out, len, records);
			free(out);
		}
	}
	free(zbuf);
	ZSTD_freeDCtx(zd);
	fclose(f);
	return 0;
}
