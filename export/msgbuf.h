/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_msgbuf: one Kafka message value (or one file-sink frame) being
 * filled with length-delimited records, bounded by bytes and records: what
 * ClickHouse's Protobuf input format reads, many rows per message.
 */
#ifndef NM_MSGBUF_H
#define NM_MSGBUF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbenc.h"

/* Room kept for one more record: protobuf, or a JSON line (4 KiB max). */
#define NM_MSGBUF_RECORD_MAX 4200

struct nm_msgbuf {
	uint8_t *buf;
	size_t len, cap;
	uint32_t records, max_records;
	uint64_t since_ns; /* when the first record went in */
	struct nm_addr key; /* exporter of the records (key: exporter) */
};

/* cap: message byte bound (>= NM_PB_RECORD_MAX). 0 or -1 (no memory). */
static inline int nm_msgbuf_init(struct nm_msgbuf *m, size_t cap, uint32_t max_records)
{
	memset(m, 0, sizeof(*m));
	m->cap = cap < 2 * NM_MSGBUF_RECORD_MAX ? 2 * NM_MSGBUF_RECORD_MAX : cap;
	m->max_records = max_records;
	m->buf = malloc(m->cap);
	return m->buf ? 0 : -1;
}

/* Would one more record not fit? */
static inline bool nm_msgbuf_full(const struct nm_msgbuf *m)
{
	return m->records >= m->max_records || m->len + NM_MSGBUF_RECORD_MAX > m->cap;
}

/* Hands the buffer over (the caller frees it) and starts a new one. */
static inline uint8_t *nm_msgbuf_take(struct nm_msgbuf *m, size_t *len, uint32_t *records)
{
	uint8_t *b = m->buf;
	*len = m->len;
	*records = m->records;
	m->buf = malloc(m->cap);
	m->len = 0;
	m->records = 0;
	return b;
}

static inline void nm_msgbuf_free(struct nm_msgbuf *m)
{
	free(m->buf);
	m->buf = NULL;
}

#endif
