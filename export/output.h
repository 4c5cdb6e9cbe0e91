/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct nm_output_ops: what every kind of output of the sink thread does,
 * said once. The sink (sink.c) calls these and never looks at a type:
 *
 *   open  -> (write | flush | poll)* -> close -> counters/status -> free
 *
 * all on the sink thread, except counters/status/free, which the caller
 * runs after the sink thread returned, and check (the preflight of
 * `netmeta --check`, also the first thing open does), which any thread may
 * call without an open output. Kafka (kafka.c), rotating files
 * (filesink.c), JSON lines and discard (sink.c) implement it.
 *
 * Counters come from an X-macro list per output (NM_KAFKA_COUNTERS,
 * NM_SPOOL_COUNTERS, NM_FILESINK_COUNTERS, ...) as X(name, "help"), and are
 * reported one by one through an nm_counter_fn, so printing them, testing
 * them and exporting them as metrics read the same list.
 */
#ifndef NM_OUTPUT_H
#define NM_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "sink_cfg.h"

/* The most counters one output reports through counters(), every optional
 * one present (Kafka with a spool: 82, asserted in kafka.c). The sink's
 * live table (sink.h) is sized from it, so no output's series can miss
 * from the metrics endpoint; each output asserts its own worst case. */
#define NM_OUTPUT_MAX_COUNTERS 96

/* 1 per entry of an X(name, help) list: (0 LIST(NM_OUTPUT_COUNT_ONE)). */
#define NM_OUTPUT_COUNT_ONE(name, help) +1

/* One counter: its name (without an output's "kafka0_" prefix), its help
 * text, its value. */
typedef void nm_counter_fn(void *ctx, const char *name, const char *help, uint64_t v);

struct nm_output_ops {
	/* Type name and counter prefix: "kafka" gives kafka0_delivered... */
	const char *name;
	/* Preflight: everything open would refuse in the configuration and
	 * the system (paths, properties), found without creating, binding or
	 * connecting anything. 0, or -1 with a message in err. open calls it
	 * first, so --check and start-up cannot disagree. */
	int (*check)(const struct nm_cfg_sink *cfg, char *err, size_t errlen);
	/* Opens the output. Returns its state, or NULL with a message in err
	 * (always set) after freeing whatever it had allocated. */
	void *(*open)(const struct nm_cfg_sink *cfg, char *err, size_t errlen);
	/* Takes every record of a batch (encoded or buffered; the batch itself
	 * goes back to its worker afterwards). Errors are counted. */
	void (*write)(void *o, const struct nm_batch *b);
	/* Pushes out what is buffered: partly filled messages or frames,
	 * stdio buffers. NULL: nothing is buffered. */
	void (*flush)(void *o);
	/* Housekeeping when the sink has a moment: delivery reports, spool
	 * replay, rotation by age. NULL: nothing to do. */
	void (*poll)(void *o);
	/* Last flush, then stops (Kafka waits for delivery, spools the rest);
	 * the counters stay readable. NULL: nothing to close. */
	void (*close)(void *o);
	void (*free)(void *o);
	/* Reports every counter of the output. */
	void (*counters)(const void *o, nm_counter_fn *fn, void *ctx);
	/* Lines that are not counters ("identity ok", a fatal error), each
	 * prefixed. NULL: none. */
	void (*status)(const void *o, const char *prefix, FILE *f);
	/* Records the destination acknowledged, for the periodic stats line.
	 * NULL: the output has no acknowledgement. */
	uint64_t (*delivered)(const void *o);
	/* Records the output lost, all reasons together (sink thread). NULL:
	 * it never loses one. */
	uint64_t (*dropped)(const void *o);
	/* Each reason of those losses as a counter (name, cause, records;
	 * reasons may overlap: spool_refused is also one failed_<REASON>),
	 * for the running stats and the first-drop message (sink thread).
	 * NULL: none. */
	void (*drop_reasons)(const void *o, nm_counter_fn *fn, void *ctx);
	/* Applies the keys of cfg that can change while running (a reload;
	 * cfg is this output's new configuration, same type, and every other
	 * key equal), on the sink thread. NULL: none can. */
	void (*reconfigure)(void *o, const struct nm_cfg_sink *cfg);
};

#endif
