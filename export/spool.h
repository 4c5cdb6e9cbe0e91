/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The disk spool: Kafka messages (many length-delimited records each) that
 * could not be delivered wait here and are replayed in order when the
 * brokers are back.
 *
 * A spool is a directory of append-only segments "spool-SEQ.nms". Each
 * entry: a 44-byte header
 *     magic "NMSP" | version 2 | records | raw length | zstd length | crc32
 *     | flags (bit 0: has key) | key (16 bytes)
 * (little-endian u32s; the crc32 (IEEE) covers every header field after it
 * and the compressed bytes), then the zstd-compressed message. Once an
 * entry is delivered (or moved to a newer segment) its magic becomes "NMSD"
 * in place, so a restart never replays it again; a segment is removed once
 * every entry read from it is settled. The total size is capped by a
 * quota: beyond it, messages are refused and the caller counts them.
 *
 * A corrupted or truncated entry is reported (counted) and the rest of its
 * segment skipped: nothing after a bad header can be trusted.
 */
#ifndef NM_SPOOL_H
#define NM_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define NM_SPOOL_SEGMENT_BYTES (64u << 20)

/* Counters of a spool (single writer: the sink thread). */
#define NM_SPOOL_COUNTERS(X)                                                                  \
	X(bytes, "bytes of every segment on disk, at most the quota (gauge)")              \
	X(put_msgs, "messages written to the spool")                                         \
	X(put_records, "records written to the spool")                                       \
	X(put_bytes, "message bytes written to the spool, before compression")              \
	X(quota_msgs, "messages refused: the spool was at its quota")                        \
	X(quota_records, "records refused: the spool was at its quota")                      \
	X(io_errors, "segment reads, writes or removals that failed")                        \
	X(replay_msgs, "messages read back for replay")                                      \
	X(replay_records, "records read back for replay")                                    \
	X(replay_failed_records, "replayed records that failed and stay for another try")     \
	X(rewinds, "replays started again from the oldest live entry after a failure")        \
	X(lane_msgs, "messages written to a late lane (older than the tail's)")               \
	X(corrupt_entries, "damaged entries (magic, crc, length): rest of segment skipped")  \
	X(segments_removed, "segments removed once every entry in them was settled")

struct nm_spool_seg; /* outstanding deliveries per segment */

struct nm_spool {
	char dir[512];
	uint64_t quota;
	FILE *w;                  /* segment being written */
	uint64_t wseq;            /* its sequence number */
	uint64_t wbytes;
	FILE *r;                  /* segment being replayed */
	uint64_t rseq;
	uint64_t next_seq;        /* next segment number to create */
	void *zc, *zd;            /* zstd contexts */
	uint8_t *buf;             /* compression / decompression buffer */
	size_t bufcap;
	/* outstanding messages per segment (replayed, not yet settled);
	 * failed: replays that failed and stay live (the segment stays) */
	struct {
		uint64_t seq;
		uint32_t outstanding, failed;
		int read_done;
		int mfd; /* fd + 1 that marks its entries delivered, 0 = none */
		uint64_t bytes;
	} segs[64];
	uint32_t nsegs;
	/* Late lanes (nm_spool_lanes_open): two reserved segment numbers that
	 * replay before every segment created after them. */
	struct { FILE *f; uint64_t seq, bytes; } lane[2];
	int lanes_open;
	/* NM_SPOOL_COUNTERS (bytes: of all segments on disk) */
#define NM_X_(name, help) uint64_t name;
	NM_SPOOL_COUNTERS(NM_X_)
#undef NM_X_
};

/*
 * Creates the directory dir when missing (not its parents), then checks it
 * is a directory this process may write in. 0, or -1 with "what: dir:
 * reason" in err. (The spool's and the file sink's directories.)
 */
int nm_dir_prepare(const char *dir, const char *what, char *err, size_t errlen);

/*
 * What nm_dir_prepare would refuse, found without creating anything: dir is
 * a directory we may read, write and search, or is missing with such a
 * parent; not on a read-only file system, nor on /proc or /sys (where
 * access() says yes to root and every file creation fails). 0, or -1 with
 * "what: dir: reason" in err. nm_dir_prepare calls it first.
 */
int nm_dir_check(const char *dir, const char *what, char *err, size_t errlen);

/* The same for a file to be created or truncated (a JSON sink's path): its
 * directory must exist and take new files; an existing path must be no
 * directory and writable. */
int nm_file_check(const char *path, const char *what, char *err, size_t errlen);

/* Opens (creating) the spool directory; existing segments will be replayed.
 * Returns 0 or -1 with a message in err. */
int nm_spool_open(struct nm_spool *sp, const char *dir, uint64_t quota, char *err, size_t errlen);

/* Appends one message (key: 16 bytes or NULL). 0, or -1 when refused
 * (quota or I/O: counted). */
int nm_spool_put(struct nm_spool *sp, const void *msg, size_t len, uint32_t records,
		 const uint8_t *key);

/*
 * The next message to replay, oldest first, in a buffer the caller then
 * owns (free()). Returns 1 with *msg, *len, *records and *token (pass it
 * to nm_spool_done once delivered or re-spooled), 0 when nothing is left.
 */
int nm_spool_next(struct nm_spool *sp, void **msg, size_t *len, uint32_t *records,
		  uint64_t *token, uint8_t key[16], int *has_key);

/* A replayed message is settled (delivered, or refused for good): its
 * entry is marked done on disk. */
void nm_spool_done(struct nm_spool *sp, uint64_t token);

/*
 * A replayed message failed and stays in the spool: its entry stays live,
 * its segment stays on disk. Once no replay is outstanding, the caller
 * rewinds (nm_spool_rewind) so the spool is read again from its oldest
 * live entry: a failed message is retried in its place, never behind
 * newer ones.
 */
void nm_spool_failed(struct nm_spool *sp, uint64_t token, uint32_t records);

/* Reads the spool again from its oldest segment (entries marked done are
 * skipped). Only with no replay outstanding; the counters go on. */
void nm_spool_rewind(struct nm_spool *sp);

/*
 * Late lanes. When a sink starts spooling new messages while older ones
 * are still with the producer, those older ones must replay first if they
 * fail. nm_spool_lanes_open reserves two segment numbers below every
 * segment written after it: lane 1 (messages that failed or were in
 * flight) and lane 2 (messages purged from the producer's queue, all newer
 * than lane 1's). nm_spool_put_lane writes to one (lane 0: the tail, as
 * nm_spool_put). Replay stops before the first lane until
 * nm_spool_lanes_close, once the producer has settled every older message.
 */
enum {
	NM_LANE_TAIL = 0,     /* nm_spool_put */
	NM_LANE_LATE = 1,     /* failed or in flight when the lanes opened */
	NM_LANE_PURGED = 2,   /* purged from the producer's queue */
	NM_LANE_TAIL_TRY = 3, /* the tail; a full quota is not counted: the caller
			       * sends the message another way */
};
void nm_spool_lanes_open(struct nm_spool *sp);
int nm_spool_put_lane(struct nm_spool *sp, int lane, const void *msg, size_t len,
		      uint32_t records, const uint8_t *key);
void nm_spool_lanes_close(struct nm_spool *sp);

/* Is anything waiting to be replayed? */
int nm_spool_pending(const struct nm_spool *sp);

/* fdatasync of every segment being written (write-ahead durability). */
void nm_spool_sync(struct nm_spool *sp);

void nm_spool_close(struct nm_spool *sp);

/*
 * Reads one segment file without changing it (netmeta-cat): calls fn for
 * every entry not yet delivered. Returns 0, or -1 when the file cannot be
 * opened; *corrupt counts damaged entries (the rest of the file skipped).
 */
int nm_spool_scan(const char *path, void (*fn)(void *ctx, const void *msg, size_t len,
					       uint32_t records),
		  void *ctx, uint64_t *corrupt);

/* CRC-32 (IEEE 802.3), for the entries. */
uint32_t nm_crc32(const void *p, size_t n);

#endif
