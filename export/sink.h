/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink thread: drains every worker's ring of full batches, writes the
 * records to the configured sinks (JSON lines for now), and hands the empty
 * batches back. It never runs on a worker core.
 */
#ifndef NM_SINK_H
#define NM_SINK_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "worker.h"

struct nm_sink {
	const struct nm_config *cfg;
	struct nm_worker *workers;
	uint32_t nworkers;
	FILE *out[NM_CFG_MAX_SINKS];
	uint32_t nout;
	atomic_bool stop; /* set by main after the workers finished */
	_Atomic uint64_t records_written;
	_Atomic uint64_t counters_written;
	_Atomic uint64_t batches;
	_Atomic uint64_t write_errors;
};

/* Opens the sinks' files. Returns 0 or -1 with a message in err. */
int nm_sink_open(struct nm_sink *s, const struct nm_config *cfg, struct nm_worker *workers,
		 uint32_t nworkers, char *err, size_t errlen);

/* Thread body (pthread signature): runs until stop is set and every
 * finished worker's ring is empty. */
void *nm_sink_run(void *arg);

void nm_sink_close(struct nm_sink *s);

#endif
