/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink thread (the export thread): drains every producer's ring of full
 * batches, hands each batch to every configured output (JSON lines, Kafka,
 * protobuf files, discard: one struct nm_output_ops each, output.h), and
 * gives the empty batches back on the producer's free ring. It never runs on
 * a worker core; librdkafka's threads are created from it.
 *
 * The sink knows rings, batches and its own outputs' configuration, nothing
 * of the daemon: the daemon (dataplane/main.c) passes one struct
 * nm_sink_producer per worker.
 */
#ifndef NM_SINK_H
#define NM_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "output.h"
#include "ring.h"
#include "sink_cfg.h"

/* Counters of the sink thread itself (sink_<name>). */
#define NM_SINK_COUNTERS(X)                                                                   \
	X(records_written, "flow records handed to every output")                            \
	X(counters_written, "interface counter records handed to every output")              \
	X(batches, "batches taken from the producers' rings")

enum nm_sink_ctr {
#define NM_X_(name, help) NM_SINK_CTR_##name,
	NM_SINK_COUNTERS(NM_X_)
#undef NM_X_
	NM_SINK_CTR__COUNT
};

/* One producer (worker): the sink pops full batches from `full` and, once
 * every output has taken them, pushes them back emptied on `free` (sized
 * by the producer for its whole pool, so that push cannot fail). */
struct nm_sink_producer {
	struct nm_ring *full;
	struct nm_ring *free;
};

struct nm_output {
	const struct nm_output_ops *ops;
	void *o; /* the output's state, from ops->open */
};

/* Up to this many drop reasons per output are published while it runs. */
#define NM_SINK_MAX_REASONS 24

/* One drop reason of an output as the sink thread last published it. The
 * name is written once, before nreasons counts it (release), and never
 * changes; the value is updated with relaxed stores. */
struct nm_drop_slot {
	char name[96]; /* kafka0_failed_MSG_TIMED_OUT */
	_Atomic uint64_t v;
};

/* An output's losses, readable by the stats thread while the sink runs. */
struct nm_output_pub {
	_Atomic uint64_t dropped; /* ops->dropped */
	_Atomic uint32_t nreasons;
	struct nm_drop_slot r[NM_SINK_MAX_REASONS];
	uint64_t reasons_at; /* sink thread only: dropped when the reasons were last walked */
};

/* Every counter of the sink and its outputs (nm_sink_counters), published
 * by the sink thread at most every NM_SINK_LIVE_NS and when it stops, for
 * the metrics endpoint. A slot's name and help are written once, before
 * nlive counts it (release); values under live_seq (odd while written).
 * Sized for every output at its most (NM_OUTPUT_MAX_COUNTERS), plus the
 * sink's own counters and sink_live_unpublished, which counts the names a
 * publication found no slot for (0 unless an output breaks its bound). */
#define NM_SINK_MAX_LIVE (NM_SINK_CTR__COUNT + NM_CFG_MAX_SINKS * NM_OUTPUT_MAX_COUNTERS + 1)
#define NM_SINK_LIVE_NS 50000000ull

struct nm_live_slot {
	char name[96]; /* kafka0_delivered */
	const char *help;
	_Atomic uint64_t v;
};

struct nm_sink {
	const struct nm_cfg_sink *cfg;
	uint32_t ncfg;
	const struct nm_sink_producer *prod;
	uint32_t nprod;
	struct nm_output out[NM_CFG_MAX_SINKS];
	uint32_t nout;
	atomic_bool stop;  /* set once every producer pushed its last batch */
	atomic_bool ready; /* outputs opened (on the sink thread) */
	int open_failed;
	char open_err[1200];
	_Atomic uint64_t ctr[NM_SINK_CTR__COUNT]; /* written by the sink thread */
	_Atomic uint64_t delivered; /* Σ ops->delivered, published for the stats thread */
	struct nm_output_pub pub[NM_CFG_MAX_SINKS]; /* by output, for the stats thread */
	_Atomic uint32_t live_seq;
	_Atomic uint32_t nlive;
	uint64_t live_last_ns; /* sink thread only */
	/* A reload's new output settings (nm_sink_reconfigure): written by
	 * the reloading thread while reconf_req == reconf_done, applied by
	 * the sink thread, which then sets reconf_done = reconf_req. */
	struct nm_cfg_sink reconf[NM_CFG_MAX_SINKS];
	_Atomic uint32_t reconf_req, reconf_done;
	uint32_t live_cap;     /* slots used at most: NM_SINK_MAX_LIVE - 1 (tests lower it) */
	uint32_t live_missing; /* sink thread only: names without a slot, this publication */
	_Atomic uint64_t live_unpublished; /* the last publication's live_missing */
	struct nm_live_slot live[NM_SINK_MAX_LIVE];
};

/*
 * Hands the outputs their reloaded settings (cfg[i] for output i, the same
 * ncfg and types as at start): the sink thread applies what each output can
 * change while running (file rotation), between batches. 0, or -1 while
 * the previous reload is not applied yet (nothing taken).
 */
int nm_sink_reconfigure(struct nm_sink *s, const struct nm_cfg_sink *cfg, uint32_t ncfg);

/*
 * Preflight of the outputs (`netmeta --check`): each output type's check,
 * which its open also runs first. Creates, binds and connects nothing.
 * 0, or -1 with "sinks[i]: reason" in err.
 */
int nm_sink_check(const struct nm_cfg_sink *cfg, uint32_t ncfg, char *err, size_t errlen);

/*
 * Prepares the sink: cfg[0..ncfg-1] are its outputs (ncfg <= NM_CFG_MAX_SINKS),
 * prod[0..nprod-1] its producers. Both arrays must outlive the sink. The
 * outputs are opened by the sink thread itself (so that librdkafka's
 * threads inherit its CPU affinity).
 */
void nm_sink_init(struct nm_sink *s, const struct nm_cfg_sink *cfg, uint32_t ncfg,
		  const struct nm_sink_producer *prod, uint32_t nprod);

/*
 * Thread body (pthread signature): opens the outputs (when one fails, closes
 * and frees those already open, and returns), then runs until stop is set
 * and every ring is empty, then closes the outputs (Kafka is flushed, the
 * rest spooled).
 */
void *nm_sink_run(void *arg);

/* Waits until the sink thread opened its outputs. 0, or -1 with the error
 * ("sinks[i]: reason"). */
int nm_sink_wait_ready(struct nm_sink *s, char *err, size_t errlen);

/* Sets stop. The caller promises every producer has pushed its last batch
 * (release: pairs with the sink's acquire load before its last pass). */
void nm_sink_stop(struct nm_sink *s);

/* A counter of the sink itself, from any thread. */
uint64_t nm_sink_get(const struct nm_sink *s, enum nm_sink_ctr c);

/* Records acknowledged by outputs that have acknowledgements (Kafka), as
 * last published by the sink thread; from any thread. */
uint64_t nm_sink_delivered(const struct nm_sink *s);

/* Records the outputs lost so far (all reasons), as last published by the
 * sink thread; from any thread. */
uint64_t nm_sink_dropped(const struct nm_sink *s);

/* Each published drop reason with records (kafka0_failed_MSG_TIMED_OUT,
 * json0_lines_lost), as last published; from any thread. help is "". */
void nm_sink_drops(const struct nm_sink *s, nm_counter_fn *fn, void *ctx);

/*
 * Every counter by full name: sink_<name>, then each output's as
 * <type><index>_<name> (kafka0_delivered, file1_records). The outputs'
 * counters are the sink thread's: call this after nm_sink_run returned.
 */
void nm_sink_counters(const struct nm_sink *s, nm_counter_fn *fn, void *ctx);

/* The counters as "name value" lines, then each output's status lines
 * (kafka0_identity ok). After nm_sink_run returned. */
void nm_sink_print(const struct nm_sink *s, FILE *o);

/* Every counter nm_sink_counters gives, as the sink thread last published
 * them (at most NM_SINK_LIVE_NS old while it runs, final once it stopped):
 * one consistent snapshot, so identities between them hold. Any thread. */
void nm_sink_live(const struct nm_sink *s, nm_counter_fn *fn, void *ctx);

/* The outputs are open and the sink takes batches (not stopping). */
bool nm_sink_accepting(const struct nm_sink *s);

/* Frees the outputs (closed by nm_sink_run). */
void nm_sink_free(struct nm_sink *s);

#endif
