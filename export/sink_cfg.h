/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What one output of the sink thread is configured with. The daemon's
 * config parser (dataplane/config.c) fills these from the YAML `sinks:`
 * list; export/ only reads them.
 */
#ifndef NM_SINK_CFG_H
#define NM_SINK_CFG_H

#include <stdbool.h>
#include <stdint.h>

#define NM_CFG_MAX_SINKS 4
#define NM_CFG_MAX_PROPS 16

/* NM_SINK_DISCARD counts and drops (benchmarks of the data path). The
 * order is the config's (type: json | discard | kafka | file). */
enum nm_sink_type { NM_SINK_JSON, NM_SINK_DISCARD, NM_SINK_KAFKA, NM_SINK_FILE };

enum nm_kafka_key { NM_KEY_NONE, NM_KEY_EXPORTER };

struct nm_cfg_sink {
	enum nm_sink_type type;
	char path[512];          /* json: file or "-"; file: directory */
	/* kafka */
	char brokers[512];
	char topic[256];
	char counters_topic[256]; /* "" = interface counters are not sent (counted) */
	char compression[16];     /* zstd (default), lz4, snappy, gzip, none */
	uint32_t linger_ms;
	int32_t acks;             /* -1 = all */
	bool idempotence;
	enum nm_kafka_key key;
	bool json;                /* format: json (JSONEachRow, for old ClickHouse) instead of protobuf */
	uint32_t max_message_bytes;   /* per Kafka message (many records) */
	uint32_t max_message_records;
	uint32_t flush_timeout_ms;    /* at shutdown: Kafka first, then the spool */
	char props[NM_CFG_MAX_PROPS][2][256]; /* passed to librdkafka as is */
	uint32_t nprops;
	char spool_dir[512];      /* "" = no spool: undeliverable records are dropped, counted */
	uint64_t spool_quota;     /* bytes */
	bool spool_write_ahead;   /* every message on disk before it is produced */
	uint32_t spool_sync_ms;   /* write_ahead: fdatasync at most this long after a write (0: each) */
	/* file */
	uint64_t rotate_bytes;
	uint32_t rotate_seconds;
};

#endif
