/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink thread (the export thread): drains every worker's ring of full
 * batches, hands each batch to every configured sink (JSON lines, Kafka,
 * protobuf files, discard), and gives the empty batches back. It never runs
 * on a worker core; librdkafka's threads are created from it.
 */
#ifndef NM_SINK_H
#define NM_SINK_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "worker.h"

struct nm_kafka;
struct nm_filesink;

struct nm_output {
	enum nm_sink_type type;
	FILE *json;              /* NM_SINK_JSON */
	struct nm_kafka *kafka;  /* NM_SINK_KAFKA */
	struct nm_filesink *file; /* NM_SINK_FILE */
};

struct nm_sink {
	const struct nm_config *cfg;
	struct nm_worker *workers;
	uint32_t nworkers;
	struct nm_output out[NM_CFG_MAX_SINKS];
	uint32_t nout;
	atomic_bool stop;  /* set by main after the workers finished */
	atomic_bool ready; /* outputs opened (on the sink thread) */
	int open_failed;
	char open_err[1200];
	_Atomic uint64_t records_written;
	_Atomic uint64_t counters_written;
	_Atomic uint64_t batches;
	_Atomic uint64_t write_errors;
	_Atomic uint64_t kafka_delivered; /* published by the sink thread */
};

/* Prepares the sink; outputs are opened by the sink thread itself (so that
 * librdkafka's threads inherit its CPU affinity). */
void nm_sink_init(struct nm_sink *s, const struct nm_config *cfg, struct nm_worker *workers,
		  uint32_t nworkers);

/* Thread body (pthread signature): opens the outputs, then runs until stop
 * is set and every finished worker's ring is empty, then closes the outputs
 * (Kafka is flushed, the rest spooled). */
void *nm_sink_run(void *arg);

/* Waits until the sink thread opened its outputs. 0, or -1 with the error. */
int nm_sink_wait_ready(struct nm_sink *s, char *err, size_t errlen);

/* Counters of every output, by name. */
void nm_sink_print(const struct nm_sink *s, FILE *o);

void nm_sink_free(struct nm_sink *s);

#endif
