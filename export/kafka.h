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
 * configured, otherwise QUEUE_FULL is backpressure (the sink waits in
 * rd_kafka_poll, workers' rings fill, their drops are counted) and failures
 * are counted by reason.
 *
 * The spool keeps the order the sink made messages in (per partition key):
 * from the first failure (or a spool found non-empty at start) until the
 * spool is empty again, new messages go to its tail, not to the producer;
 * messages the producer still held fail into late lanes that replay
 * before that tail (its queue is purged at once: they never reached a
 * broker); a replayed message that fails stays where it is and the replay
 * starts again from the oldest live entry once every replay in flight has
 * reported. With write_ahead, every message takes the spool's path: on
 * disk before it is produced, so a crash loses nothing that was handed.
 */
#ifndef NM_KAFKA_H
#define NM_KAFKA_H

#include "output.h"

/* Records through the producer; the first six make the identity above. */
#define NM_KAFKA_COUNTERS(X)                                                                  \
	X(handed, "records handed to the producer (live traffic)")                           \
	X(replayed, "records produced again from the spool")                                 \
	X(delivered, "records the brokers acknowledged")                                     \
	X(spooled, "records written to the spool (not deliverable for now)")                 \
	X(failed, "records dropped, by reason in failed_<REASON>")                            \
	X(in_flight, "records produced and not yet reported (gauge)")                        \
	X(messages, "messages produced")                                                     \
	X(bytes, "message bytes produced")                                                   \
	X(queue_full_waits, "waits in rd_kafka_poll: the producer queue was full")          \
	X(counters_not_sent, "interface counter records not sent (no counters_topic)")      \
	X(spool_refused, "records the spool refused (quota, I/O), counted in failed")        \
	X(spool_mode, "times new messages started going to the spool, not the producer")     \
	X(spool_direct, "records written to the spool's tail while it held older ones")       \
	X(syncs, "write_ahead: fdatasync calls on the spool")                                 \
	X(maybe_duplicated, "records failed that a broker may have written: duplicates, at most") \
	X(disconnects, "broker connections lost (transport errors, every broker down)")     \
	X(overtook, "records delivered ahead of an older message that failed (now in the spool)") \
	X(overtaken, "records that failed after a younger message was delivered (they follow it)")

/*
 * The Kafka output (see output.h). open creates the producer from the sink
 * thread (librdkafka's threads inherit its CPU affinity) and opens the
 * spool; counters gives NM_KAFKA_COUNTERS, failed_<REASON> per librdkafka
 * error, and NM_SPOOL_COUNTERS as spool_<name> when a spool is configured;
 * status prints "identity ok" (or BROKEN) and a fatal producer error.
 */
extern const struct nm_output_ops nm_kafka_ops;

#endif
