/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kafka sink: records packed many per message (length-delimited FlowMessage,
 * as ClickHouse's Protobuf format reads them), produced with librdkafka from
 * the sink thread (never a worker core), zstd by default, acks=all and
 * idempotence by default. Delivery reports drive the accounting:
 *
 *   handed + replayed = delivered + spooled + failed + in_flight
 *
 * QUEUE_FULL and failed deliveries go to the disk spool when one is
 * configured (replayed in order once deliveries succeed again), otherwise
 * QUEUE_FULL is backpressure (the sink waits in rd_kafka_poll, workers'
 * rings fill, their drops are counted) and failures are counted by reason.
 */
#ifndef NM_KAFKA_H
#define NM_KAFKA_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "worker.h"

struct nm_kafka;

/* Creates the producer (and opens the spool). NULL with a message in err. */
struct nm_kafka *nm_kafka_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen);

/* Encodes and queues a batch of records (flows or interface counters). */
void nm_kafka_write(struct nm_kafka *k, const struct nm_batch *b);

/* Nothing else to do: send partly filled messages, serve delivery reports,
 * replay the spool when the brokers take messages again. */
void nm_kafka_idle(struct nm_kafka *k);

/* Shutdown: sends what is left, waits up to flush_timeout_ms for delivery,
 * spools what is still undelivered, and stops the producer. The counters
 * stay readable until nm_kafka_free(). */
void nm_kafka_close(struct nm_kafka *k);
void nm_kafka_free(struct nm_kafka *k);

/* Counters by name, one per line, prefixed (e.g. "kafka0_"). */
void nm_kafka_print(const struct nm_kafka *k, const char *prefix, FILE *o);

/* Records handed to Kafka (live), delivered, and whether the accounting
 * identity holds (for tests and stats). */
uint64_t nm_kafka_delivered(const struct nm_kafka *k);

#endif
