/* SPDX-License-Identifier: BSD-3-Clause */
#include "kafka.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "flow_json.h"
#include "msgbuf.h"
#include "spool.h"
#include "util.h"

#define NM_KAFKA_REASONS 16
/* Receive-to-delivery latency buckets: [2^(i-1), 2^i) ms, the last open. */
#define NM_LAT_BUCKETS 18
#define NM_KAFKA_RTT_MAX 16 /* brokers whose round-trip time is kept */
/* nm_kafka_counters at its most: the list, failed_<REASON> per reason,
 * queue_messages, an RTT per broker, every latency bucket, the spool's. */
_Static_assert((0 NM_KAFKA_COUNTERS(NM_OUTPUT_COUNT_ONE)) + NM_KAFKA_REASONS + 1 +
			       NM_KAFKA_RTT_MAX + NM_LAT_BUCKETS +
			       (0 NM_SPOOL_COUNTERS(NM_OUTPUT_COUNT_ONE)) <=
		       NM_OUTPUT_MAX_COUNTERS,
	       "the Kafka output can report more counters than NM_OUTPUT_MAX_COUNTERS");
#define NM_REPLAY_PER_IDLE 32
#define NM_REPLAY_MAX_OUTQ 200

/* What a produced message carries back in its delivery report. */
struct nm_kmsg {
	uint32_t records;
	uint8_t from_spool; /* a replay (token names its entry), else a direct message */
	uint64_t token;     /* direct: its number, in the order messages were made */
	uint64_t recv_ns;   /* direct: receive time of its first record (0: unknown) */
	uint64_t disc0;     /* nm_kafka.disconnects when it was produced */
};

struct nm_kafka {
	struct nm_cfg_sink cfg;
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic, *ctopic;
	struct nm_msgbuf flows, ctrs;
	struct nm_spool spool;
	int has_spool;
	/* Spooling mode (see kafka.h): new flow messages go to the spool's
	 * tail. direct_out: direct messages not yet reported (late lanes are
	 * open while any is); replay_out: replays not yet reported;
	 * replay_failed: one failed, rewind once replay_out is 0;
	 * purge_queue: the producer's queue is to be purged (not from within
	 * a delivery report). */
	int spooling, replay_failed, purge_queue;
	uint64_t direct_out, replay_out;
	/* direct messages made (their numbers), the oldest that failed while
	 * spooling (0: none), the youngest delivered */
	uint64_t direct_seq, failed_seq, ok_seq;
	/* write_ahead: spool writes not yet on stable storage, last sync */
	int unsynced;
	uint64_t sync_ns;
	uint64_t last_ok_ns, last_fail_ns;
	/* payload bytes in librdkafka's queue (produced, not yet reported) and
	 * its bound (queue.buffering.max.kbytes): the replay stops short of it,
	 * a replay refused with QUEUE_FULL would rewind the spool */
	uint64_t outq_bytes, outq_max;
	/* accounting (sink thread only): NM_KAFKA_COUNTERS */
#define NM_X_(name, help) uint64_t name;
	NM_KAFKA_COUNTERS(NM_X_)
#undef NM_X_
	struct { rd_kafka_resp_err_t err; uint64_t records; } reasons[NM_KAFKA_REASONS];
	uint64_t flows_recv_ns; /* receive time of the first record of the flows message */
	uint64_t lat[NM_LAT_BUCKETS]; /* records delivered, by receive-to-delivery latency */
	/* brokers' request round-trip time, average over librdkafka's last
	 * statistics window (µs; written by the sink thread, read by the
	 * metrics thread: relaxed atomics) */
	struct { int32_t node; uint64_t avg_us; } rtt[NM_KAFKA_RTT_MAX];
	uint32_t nrtt;
	char fatal[512];
};

/* Deadlines and "since the last failure": a clock that never jumps. */
static uint64_t nm_ns(void)
{
	return nm_clock_ns(CLOCK_MONOTONIC);
}

static void nm_kafka_fail(struct nm_kafka *k, rd_kafka_resp_err_t err, uint32_t records)
{
	k->failed += records;
	for (int i = 0; i < NM_KAFKA_REASONS; i++) {
		if (k->reasons[i].records == 0 || k->reasons[i].err == err) {
			/* the first of its kind is said once by the sink thread
			 * (nm_kafka_drop_reasons) */
			k->reasons[i].err = err;
			k->reasons[i].records += records;
			return;
		}
	}
	k->reasons[NM_KAFKA_REASONS - 1].records += records; /* table full: the last slot */
}

/* Errors a later replay cannot fix: the message itself is refused. */
static int nm_permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
		return 1;
	default:
		return 0;
	}
}

/*
 * New flow messages go to the spool from now on. Direct messages the
 * producer still holds are older: if they fail they go to the late lanes,
 * which replay first; those still in its queue never reached a broker and
 * are purged at once (lane 2), so that they wait on disk, not in memory.
 */
static void nm_kafka_spool_mode(struct nm_kafka *k, int purge, const char *why)
{
	if (k->spooling || !k->has_spool)
		return;
	k->spooling = 1;
	k->spool_mode++;
	fprintf(stderr, "netmeta: kafka: %s: new messages go to the spool%s\n", why,
		k->cfg.spool_write_ahead ? " first" : " until it is empty");
	if (k->direct_out) {
		nm_spool_lanes_open(&k->spool);
		k->purge_queue = purge;
	}
}

/* Spools an undeliverable message (lane: see nm_spool_put_lane), or counts
 * it failed. The spool holds flow messages only: interface counters are
 * not worth replaying late. */
static void nm_kafka_spool_or_fail(struct nm_kafka *k, const void *p, size_t len,
				   uint32_t records, rd_kafka_resp_err_t err, int counters,
				   const void *key, int lane)
{
	if (k->has_spool && !counters && !nm_permanent(err)) {
		if (nm_spool_put_lane(&k->spool, lane, p, len, records, key) == 0) {
			k->spooled += records;
			return;
		}
		k->spool_refused += records;
	}
	nm_kafka_fail(k, err, records);
}

/*
 * A replayed message that was not delivered: a retriable error leaves it in
 * the spool, in its place (the replay starts again from it once every
 * replay in flight has reported); a permanent one drops it, counted.
 */
static void nm_kafka_replay_failed(struct nm_kafka *k, rd_kafka_resp_err_t err, uint64_t token,
				   uint32_t records)
{
	if (nm_permanent(err)) {
		nm_kafka_fail(k, err, records);
		nm_spool_done(&k->spool, token);
		return;
	}
	k->spooled += records;
	k->replay_failed = 1;
	nm_spool_failed(&k->spool, token, records);
}

/* A delivered message: its records' time from receive (the first record's
 * TimeReceivedNs, wall clock as the records carry it) to the report. */
static void nm_kafka_latency(struct nm_kafka *k, uint64_t recv_ns, uint32_t records)
{
	uint64_t now = nm_clock_ns(CLOCK_REALTIME);
	uint64_t ms = now > recv_ns ? (now - recv_ns) / 1000000u : 0;
	int i = 0;
	while (ms && i < NM_LAT_BUCKETS - 1) {
		ms >>= 1;
		i++;
	}
	k->lat[i] += records;
}

static void nm_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	struct nm_kafka *k = opaque;
	struct nm_kmsg *km = m->_private;
	int counters = k->ctopic && m->rkt == k->ctopic;
	k->in_flight -= km->records;
	k->outq_bytes -= m->len;
	if (km->from_spool)
		k->replay_out--;
	else if (!counters)
		k->direct_out--;
	/* A failure a replay may duplicate: librdkafka's POSSIBLY_PERSISTED
	 * (sent, no answer), or a retriable one while a broker connection was
	 * lost. librdkafka's NOT_PERSISTED is the broker's word, and a broker
	 * in controlled shutdown appends a batch, then answers
	 * NOT_LEADER_OR_FOLLOWER once its leadership is gone (acks=all): the
	 * batch stays in its log (one replica), librdkafka retries it within
	 * the producer id (the broker would drop the copy), but the retry meets
	 * no broker, the message fails as purged or timed out, and the spool
	 * replays it under a new producer id. Every such failure comes after
	 * that broker's disconnect, so counting failures that a disconnect
	 * overlapped makes maybe_duplicated an upper bound (it also counts
	 * messages that were only queued then). */
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    (rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED ||
	     (km->disc0 != k->disconnects && !nm_permanent(m->err))))
		k->maybe_duplicated += km->records;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->delivered += km->records;
		k->last_ok_ns = nm_ns();
		if (km->recv_ns)
			nm_kafka_latency(k, km->recv_ns, km->records);
		if (km->from_spool)
			nm_spool_done(&k->spool, km->token);
		else if (k->failed_seq && km->token > k->failed_seq)
			k->overtook += km->records; /* ahead of an older one, now spooled */
		if (!km->from_spool && !counters && km->token > k->ok_seq)
			k->ok_seq = km->token;
	} else if (km->from_spool) {
		if (!nm_permanent(m->err))
			k->last_fail_ns = nm_ns();
		nm_kafka_replay_failed(k, m->err, km->token, km->records);
	} else {
		k->last_fail_ns = nm_ns();
		if (!counters && !nm_permanent(m->err)) {
			nm_kafka_spool_mode(k, 1, rd_kafka_err2name(m->err));
			if (k->failed_seq == 0 || km->token < k->failed_seq)
				k->failed_seq = km->token;
			if (km->token < k->ok_seq)
				k->overtaken += km->records; /* a younger one is in the topic */
		}
		/* lane 2: purged from the queue, newer than every message that
		 * was in flight (lane 1) */
		nm_kafka_spool_or_fail(k, m->payload, m->len, km->records, m->err, counters,
				       m->key_len == 16 ? m->key : NULL,
				       m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ? NM_LANE_PURGED
										: NM_LANE_LATE);
	}
	if (k->spool.lanes_open && k->direct_out == 0)
		nm_spool_lanes_close(&k->spool);
	free(km);
}

/* Delivery reports; then the purge a report asked for, whose own reports
 * (in the order the queue held them) come before anything else is made. */
static void nm_kafka_serve(struct nm_kafka *k, int timeout_ms)
{
	rd_kafka_poll(k->rk, timeout_ms);
	if (k->purge_queue) {
		k->purge_queue = 0;
		rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE);
		rd_kafka_poll(k->rk, 0);
	}
}

/* The first `"key":` integer in [p, end): its value in *v, returns the
 * byte after it; NULL if there is none. */
static const char *nm_json_int(const char *p, const char *end, const char *key, int64_t *v)
{
	size_t kl = strlen(key);
	while (p < end) {
		p = memchr(p, '"', (size_t)(end - p));
		if (!p || (size_t)(end - p) < kl + 3)
			return NULL;
		if (memcmp(p + 1, key, kl) != 0 || p[kl + 1] != '"' || p[kl + 2] != ':') {
			p++;
			continue;
		}
		const char *q = p + kl + 3;
		int neg = q < end && *q == '-';
		q += neg;
		if (q >= end || *q < '0' || *q > '9')
			return NULL;
		int64_t x = 0;
		while (q < end && *q >= '0' && *q <= '9' && x < INT64_MAX / 10)
			x = x * 10 + (*q++ - '0');
		*v = neg ? -x : x;
		return q;
	}
	return NULL;
}

/*
 * librdkafka's statistics (JSON, every statistics.interval.ms): per broker
 * with a node id, the average request round-trip time of the window. Only
 * the "brokers" object is read, in librdkafka's field order (nodeid, then
 * that broker's "rtt" object); bootstrap entries (node id -1) are skipped.
 */
static int nm_stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	(void)rk;
	struct nm_kafka *k = opaque;
	const char *end = json + len;
	const char *p = strstr(json, "\"brokers\":");
	if (!p)
		return 0;
	const char *stop = strstr(p, "\"topics\":");
	if (stop)
		end = stop;
	uint32_t n = 0;
	while (n < NM_KAFKA_RTT_MAX) {
		int64_t node, avg;
		const char *q = nm_json_int(p, end, "nodeid", &node);
		if (!q)
			break;
		const char *r = strstr(q, "\"rtt\":");
		if (!r || r >= end)
			break;
		p = nm_json_int(r, end, "avg", &avg);
		if (!p)
			break;
		if (node < 0 || avg < 0)
			continue;
		__atomic_store_n(&k->rtt[n].node, (int32_t)node, __ATOMIC_RELAXED);
		__atomic_store_n(&k->rtt[n].avg_us, (uint64_t)avg, __ATOMIC_RELAXED);
		n++;
	}
	__atomic_store_n(&k->nrtt, n, __ATOMIC_RELAXED);
	return 0; /* librdkafka frees json */
}

static void nm_err_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct nm_kafka *k = opaque;
	if (err == RD_KAFKA_RESP_ERR__TRANSPORT || err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		k->disconnects++;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		/* Served by rd_kafka_poll on the sink thread: the brokers are
		 * known down, new messages wait on disk, not in memory, and
		 * the replay probes every 5 s. */
		k->last_fail_ns = nm_ns();
		nm_kafka_spool_mode(k, 1, "every broker is down");
	}
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[256];
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		snprintf(k->fatal, sizeof(k->fatal), "%s", buf);
		fprintf(stderr, "netmeta: kafka: fatal producer error: %s\n", buf);
	} else if (err != RD_KAFKA_RESP_ERR__TRANSPORT && err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		fprintf(stderr, "netmeta: kafka: %s: %s\n", rd_kafka_err2name(err), reason);
	}
}

static int nm_set(rd_kafka_conf_t *c, const char *k, const char *v, char *err, size_t errlen)
{
	char e[256];
	if (rd_kafka_conf_set(c, k, v, e, sizeof(e)) != RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "kafka property %s=%s: %s", k, v, e);
		return -1;
	}
	return 0;
}

/* Frees what nm_kafka_open got so far, or all of a closed producer. */
static void nm_kafka_free(void *o)
{
	struct nm_kafka *k = o;
	if (k == NULL)
		return;
	if (k->topic)
		rd_kafka_topic_destroy(k->topic);
	if (k->ctopic)
		rd_kafka_topic_destroy(k->ctopic);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	nm_msgbuf_free(&k->flows);
	nm_msgbuf_free(&k->ctrs);
	if (k->has_spool)
		nm_spool_close(&k->spool);
	free(k);
}

/* The producer's configuration; 0, or -1 with a message in err. */
static int nm_kafka_conf(rd_kafka_conf_t *c, const struct nm_cfg_sink *cfg, char *err,
			 size_t errlen)
{
	char v[64];
	int bad = nm_set(c, "bootstrap.servers", cfg->brokers, err, errlen) ||
		  nm_set(c, "compression.codec", cfg->compression, err, errlen);
	/* zstd at level 1, not the library's 3: into a real broker 1.27-2.6x the
	 * delivered records/s (librdkafka's CPU 0.71x) for 4 % more bytes in the
	 * topic (bench/results/2026-12-02-e2e-real-kafka.md). properties'
	 * compression.level overrides it. */
	if (strcmp(cfg->compression, "zstd") == 0)
		bad = bad || nm_set(c, "compression.level", "1", err, errlen);
	snprintf(v, sizeof(v), "%u", cfg->linger_ms);
	bad = bad || nm_set(c, "linger.ms", v, err, errlen);
	snprintf(v, sizeof(v), "%d", cfg->acks);
	bad = bad || nm_set(c, "acks", v, err, errlen);
	bad = bad || nm_set(c, "enable.idempotence", cfg->idempotence ? "true" : "false", err, errlen);
	snprintf(v, sizeof(v), "%u", cfg->max_message_bytes + 65536);
	bad = bad || nm_set(c, "message.max.bytes", v, err, errlen);
	/* A down broker: messages time out into the spool rather than pile up
	 * in memory for librdkafka's default five minutes. */
	bad = bad || nm_set(c, "message.timeout.ms", "15000", err, errlen);
	/* A topic the brokers do not know fails its messages as unknown after
	 * 5 s, not librdkafka's default 30 s: longer than message.timeout.ms,
	 * so they would all fail as "timed out", naming no cause. */
	bad = bad || nm_set(c, "topic.metadata.propagation.max.ms", "5000", err, errlen);
	/* What librdkafka may hold in memory. With a spool, 32 MiB: a broker
	 * that hangs (never reported down) fills it in seconds, then QUEUE_FULL
	 * turns the sink to the spool (after 1 s of backpressure, or 200 ms
	 * without a delivery report: nm_kafka_produce), so an outage
	 * goes to disk instead of memory (the soak's +208 MiB at 256 MiB), and
	 * a crash in that window loses at most this much. Without a spool the
	 * queue is all the buffer there is: 256 MiB. queue.buffering.max.
	 * messages stays librdkafka's 100,000: our messages are up to 900 kB,
	 * the byte bound binds first. */
	bad = bad || nm_set(c, "queue.buffering.max.kbytes", cfg->spool_dir[0] ? "32768" : "262144",
			    err, errlen);
	/* the brokers' round-trip time for the metrics (a property overrides) */
	bad = bad || nm_set(c, "statistics.interval.ms", "5000", err, errlen);
	for (uint32_t i = 0; !bad && i < cfg->nprops; i++)
		bad = nm_set(c, cfg->props[i][0], cfg->props[i][1], err, errlen);
	if (bad)
		return -1;
	/* A message.max.bytes property below our messages would fail nearly
	 * every one of them: refuse it now. */
	char mmb[32];
	size_t mlen = sizeof(mmb);
	if (rd_kafka_conf_get(c, "message.max.bytes", mmb, &mlen) == RD_KAFKA_CONF_OK &&
	    strtoull(mmb, NULL, 10) < cfg->max_message_bytes + 1024ull) {
		snprintf(err, errlen,
			 "kafka property message.max.bytes=%s is below max_message_bytes "
			 "(%u) plus overhead: lower max_message_bytes",
			 mmb, cfg->max_message_bytes);
		return -1;
	}
	return 0;
}

/* Preflight: a topic name, every property known to librdkafka with a value
 * it takes (on a configuration object only: no producer, no connection),
 * and a spool directory that can be used. */
static int nm_kafka_check(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	if (cfg->topic[0] == 0) {
		snprintf(err, errlen, "kafka: topic: empty");
		return -1;
	}
	if (cfg->spool_write_ahead && cfg->spool_dir[0] == 0) {
		snprintf(err, errlen, "kafka: spool.write_ahead needs spool.dir");
		return -1;
	}
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (c == NULL) {
		snprintf(err, errlen, "kafka: out of memory");
		return -1;
	}
	int bad = nm_kafka_conf(c, cfg, err, errlen);
	rd_kafka_conf_destroy(c);
	if (bad)
		return -1;
	return cfg->spool_dir[0] ? nm_dir_check(cfg->spool_dir, "spool.dir", err, errlen) : 0;
}

/* Creates the producer (and opens the spool). NULL with a message in err;
 * every early return frees what was taken before it. */
static void *nm_kafka_open(const struct nm_cfg_sink *cfg, char *err, size_t errlen)
{
	if (nm_kafka_check(cfg, err, errlen))
		return NULL;
	struct nm_kafka *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		snprintf(err, errlen, "kafka: out of memory");
		return NULL;
	}
	k->cfg = *cfg;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	if (c == NULL || nm_kafka_conf(c, cfg, err, errlen)) {
		if (c == NULL)
			snprintf(err, errlen, "kafka: out of memory");
		else
			rd_kafka_conf_destroy(c);
		free(k);
		return NULL;
	}
	char qv[32];
	size_t ql = sizeof(qv);
	k->outq_max = rd_kafka_conf_get(c, "queue.buffering.max.kbytes", qv, &ql) == RD_KAFKA_CONF_OK
			      ? strtoull(qv, NULL, 10) * 1024u
			      : 0;
	rd_kafka_conf_set_opaque(c, k);
	rd_kafka_conf_set_dr_msg_cb(c, nm_dr_cb);
	rd_kafka_conf_set_error_cb(c, nm_err_cb);
	rd_kafka_conf_set_stats_cb(c, nm_stats_cb);
	char e[512];
	/* Created on the sink thread: librdkafka's own threads inherit its
	 * CPU affinity (the control CPUs, not the worker cores). The
	 * configuration is the producer's once it exists, still ours if not. */
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof(e));
	if (k->rk == NULL) {
		snprintf(err, errlen, "kafka: %s", e);
		rd_kafka_conf_destroy(c);
		free(k);
		return NULL;
	}
	k->topic = rd_kafka_topic_new(k->rk, cfg->topic, NULL);
	if (k->topic == NULL ||
	    (cfg->counters_topic[0] &&
	     (k->ctopic = rd_kafka_topic_new(k->rk, cfg->counters_topic, NULL)) == NULL)) {
		snprintf(err, errlen, "kafka: topic %s: %s",
			 k->topic == NULL ? cfg->topic : cfg->counters_topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		nm_kafka_free(k);
		return NULL;
	}
	if (nm_msgbuf_init(&k->flows, cfg->max_message_bytes, cfg->max_message_records) ||
	    nm_msgbuf_init(&k->ctrs, cfg->max_message_bytes, cfg->max_message_records)) {
		snprintf(err, errlen, "kafka: out of memory");
		nm_kafka_free(k);
		return NULL;
	}
	if (cfg->spool_dir[0]) {
		if (nm_spool_open(&k->spool, cfg->spool_dir, cfg->spool_quota, err, errlen)) {
			nm_kafka_free(k);
			return NULL;
		}
		k->has_spool = 1;
		/* what the spool holds is older than anything made now; with
		 * write_ahead every message takes the spool's path */
		if (cfg->spool_write_ahead)
			nm_kafka_spool_mode(k, 0, "spool.write_ahead");
		else if (nm_spool_pending(&k->spool))
			nm_kafka_spool_mode(k, 0, "the spool holds messages from before");
		k->sync_ns = nm_ns();
	}
	return k;
}

/*
 * Produces one message (ownership of p passes on). QUEUE_FULL: spool it, or
 * wait in rd_kafka_poll (backpressure, not a spin) until there is room.
 */
static void nm_kafka_produce(struct nm_kafka *k, rd_kafka_topic_t *t, uint8_t *p, size_t len,
			     uint32_t records, const struct nm_addr *key, int from_spool,
			     uint64_t token, uint64_t recv_ns)
{
	struct nm_kmsg *km = malloc(sizeof(*km));
	if (km == NULL) {
		nm_kafka_fail(k, RD_KAFKA_RESP_ERR__FAIL, records);
		free(p);
		return;
	}
	km->records = records;
	km->from_spool = (uint8_t)from_spool;
	km->token = token;
	km->recv_ns = recv_ns;
	km->disc0 = k->disconnects;
	uint64_t wait0 = 0; /* when QUEUE_FULL began for this message */
	for (int tries = 0;; tries++) {
		if (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_FREE, p, len, key,
				     key ? 16 : 0, km) == 0) {
			k->in_flight += records;
			k->outq_bytes += len;
			k->messages++;
			k->bytes += len;
			if (from_spool)
				k->replay_out++;
			else if (t != k->ctopic)
				k->direct_out++;
			return;
		}
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		/* A full queue is backpressure first (the brokers are slower
		 * than the traffic: waiting costs nothing, the disk path costs
		 * a second compression); with a spool, after 1 s of it, or
		 * 200 ms without a single delivery report (a broker that hangs
		 * is never reported down: waiting longer only fills the
		 * workers' rings), the brokers count as stuck and new messages
		 * go to the spool. A report served meanwhile may have started
		 * spooling already. */
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !from_spool &&
		    !(k->spooling && t == k->topic)) {
			uint64_t now = nm_ns();
			if (wait0 == 0)
				wait0 = now;
			uint64_t quiet = now - (k->last_ok_ns > wait0 ? k->last_ok_ns : wait0);
			if (!k->has_spool ? tries < 600
					  : now - wait0 < 1000000000ull && quiet < 200000000ull) {
				k->queue_full_waits++;
				rd_kafka_poll(k->rk, k->has_spool ? 20 : 100);
				continue;
			}
		}
		if (from_spool) {
			nm_kafka_replay_failed(k, err, token, records);
		} else {
			/* the newest message: the tail, behind what the producer
			 * holds (no purge: a full queue is slow brokers, not down) */
			if (t != k->ctopic && !nm_permanent(err))
				nm_kafka_spool_mode(k, 0, rd_kafka_err2name(err));
			nm_kafka_spool_or_fail(k, p, len, records, err, t == k->ctopic, key,
					       NM_LANE_TAIL);
		}
		free(p);
		free(km);
		return;
	}
}

/* write_ahead: what the spool took is made durable (fdatasync). */
static void nm_kafka_sync(struct nm_kafka *k)
{
	if (k->unsynced && k->cfg.spool_write_ahead) {
		nm_spool_sync(&k->spool);
		k->syncs++;
	}
	k->unsynced = 0;
	k->sync_ns = nm_ns();
}

static void nm_kafka_send(struct nm_kafka *k, struct nm_msgbuf *m, rd_kafka_topic_t *t)
{
	if (m->records == 0)
		return;
	size_t len;
	uint32_t records;
	struct nm_addr key = m->key;
	uint8_t *p = nm_msgbuf_take(m, &len, &records);
	k->handed += records;
	const struct nm_addr *kp = k->cfg.key == NM_KEY_EXPORTER ? &key : NULL;
	/* Behind what the spool holds: it replays in order. Refused (quota,
	 * I/O): the producer may still deliver it, out of order. */
	if (k->spooling && t == k->topic &&
	    nm_spool_put_lane(&k->spool, NM_LANE_TAIL_TRY, p, len, records, kp ? kp->b : NULL) == 0) {
		k->spooled += records;
		k->spool_direct += records;
		k->unsynced = 1;
		if (k->cfg.spool_write_ahead && k->cfg.spool_sync_ms == 0)
			nm_kafka_sync(k);
		free(p);
		return;
	}
	nm_kafka_produce(k, t, p, len, records, kp, 0, ++k->direct_seq,
			 t == k->topic ? k->flows_recv_ns : 0);
}

static void nm_kafka_write(void *o, const struct nm_batch *b)
{
	struct nm_kafka *k = o;
	bool flows = b->kind == NM_BATCH_FLOWS;
	struct nm_msgbuf *m = flows ? &k->flows : &k->ctrs;
	rd_kafka_topic_t *t = flows ? k->topic : k->ctopic;
	if (t == NULL) {
		k->counters_not_sent += b->n;
		return;
	}
	for (uint32_t i = 0; i < b->n; i++) {
		const struct nm_addr *exp = flows ? &((const struct nm_flow *)b->recs)[i].sampler_address
						  : &((const struct nm_ctr *)b->recs)[i].agent;
		/* key: exporter keeps one exporter per message (and partition) */
		if (m->records && k->cfg.key == NM_KEY_EXPORTER && memcmp(&m->key, exp, 16) != 0)
			nm_kafka_send(k, m, t);
		if (nm_msgbuf_full(m))
			nm_kafka_send(k, m, t);
		if (m->buf == NULL && (m->buf = malloc(m->cap)) == NULL) {
			k->handed++;
			nm_kafka_fail(k, RD_KAFKA_RESP_ERR__FAIL, 1);
			continue;
		}
		if (m->records == 0) {
			m->key = *exp;
			if (flows)
				k->flows_recv_ns =
					((const struct nm_flow *)b->recs)[i].time_received_ns;
		}
		if (k->cfg.json) {
			/* JSONEachRow: one object per line (old ClickHouse) */
			size_t n = flows ? nm_flow_json(&((const struct nm_flow *)b->recs)[i],
							(char *)m->buf + m->len, NM_FLOW_JSON_MAX)
					 : nm_ctr_json(&((const struct nm_ctr *)b->recs)[i],
						       (char *)m->buf + m->len, NM_FLOW_JSON_MAX);
			m->buf[m->len + n] = '\n';
			m->len += n + 1;
		} else {
			m->len += flows ? nm_pb_flow_delimited(&((const struct nm_flow *)b->recs)[i],
							       m->buf + m->len)
					: nm_pb_ctr_delimited(&((const struct nm_ctr *)b->recs)[i],
							      m->buf + m->len);
		}
		m->records++;
	}
	nm_kafka_serve(k, 0);
}

/* Partly filled messages leave now (the sink has nothing else to do). */
static void nm_kafka_flush(void *o)
{
	struct nm_kafka *k = o;
	nm_kafka_send(k, &k->flows, k->topic);
	if (k->ctopic)
		nm_kafka_send(k, &k->ctrs, k->ctopic);
}

/*
 * How many messages the replay may produce now: all it can when nothing
 * failed since start (a restart replays at once) or the brokers took a
 * message since the last failure; otherwise one probe, 5 s after the last
 * failure and only once every replay has reported, to find out whether
 * they are back without flooding them with messages that would fail.
 */
static int nm_kafka_replay_budget(const struct nm_kafka *k)
{
	if (k->last_fail_ns == 0 || k->last_ok_ns > k->last_fail_ns)
		return rd_kafka_outq_len(k->rk) > NM_REPLAY_MAX_OUTQ ? 0 : NM_REPLAY_PER_IDLE;
	return k->replay_out == 0 && nm_ns() - k->last_fail_ns > 5000000000ull;
}

/* Delivery reports, the spool's replay once the brokers take messages,
 * and the way back to producing directly once the spool is empty. */
static void nm_kafka_poll(void *o)
{
	struct nm_kafka *k = o;
	nm_kafka_serve(k, 0);
	if (!k->has_spool)
		return;
	if (k->unsynced && nm_ns() - k->sync_ns >= (uint64_t)k->cfg.spool_sync_ms * 1000000ull)
		nm_kafka_sync(k);
	if (k->spool.lanes_open)
		return;
	if (k->replay_failed) {
		if (k->replay_out)
			return; /* every replay in flight reports first */
		k->replay_failed = 0;
		nm_spool_rewind(&k->spool);
	}
	int budget = nm_kafka_replay_budget(k);
	for (int i = 0; i < budget; i++) {
		/* room for the largest message (or an empty queue), else the
		 * replay waits for reports */
		if (k->outq_max && k->outq_bytes &&
		    k->outq_bytes + k->cfg.max_message_bytes + 65536u > k->outq_max)
			break;
		void *msg;
		size_t len;
		uint32_t records;
		uint64_t token;
		uint8_t keyb[16];
		int has_key;
		if (!nm_spool_next(&k->spool, &msg, &len, &records, &token, keyb, &has_key))
			break;
		k->replayed += records;
		nm_kafka_produce(k, k->topic, msg, len, records,
				 has_key ? (const struct nm_addr *)(const void *)keyb : NULL, 1, token, 0);
		if (k->replay_failed)
			break;
	}
	/* back to the brokers once the spool is empty and they took a
	 * message since the last failure */
	if (k->spooling && !k->cfg.spool_write_ahead && k->replay_out == 0 && !k->replay_failed &&
	    !nm_spool_pending(&k->spool) && (k->last_fail_ns == 0 || k->last_ok_ns > k->last_fail_ns)) {
		k->spooling = 0; /* all older messages delivered: produce directly again */
		k->failed_seq = 0;
		fprintf(stderr, "netmeta: kafka: the spool is empty: messages go to the brokers again\n");
	}
}

/*
 * Shutdown: sends what is left, waits up to flush_timeout_ms for delivery
 * (replaying the spool while the brokers take it), spools what is still
 * undelivered, and stops the producer. The spool stays open for its
 * counters until free.
 */
static void nm_kafka_close(void *o)
{
	struct nm_kafka *k = o;
	nm_kafka_flush(k);
	uint64_t deadline = nm_ns() + (uint64_t)k->cfg.flush_timeout_ms * 1000000ull;
	/* Kafka first: deliver, and drain the spool while the brokers take it. */
	while (nm_ns() < deadline) {
		nm_kafka_serve(k, 50);
		if (k->has_spool && nm_spool_pending(&k->spool) &&
		    (k->last_fail_ns == 0 || k->last_ok_ns > k->last_fail_ns)) {
			nm_kafka_flush(k);
			nm_kafka_poll(k);
		} else if (rd_kafka_outq_len(k->rk) == 0) {
			break;
		}
	}
	/* Then the spool: what is still queued or in flight comes back through
	 * the delivery reports as purged, and is spooled. */
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(k->rk, 0);
	rd_kafka_flush(k->rk, 1000);
	if (k->topic)
		rd_kafka_topic_destroy(k->topic);
	if (k->ctopic)
		rd_kafka_topic_destroy(k->ctopic);
	rd_kafka_destroy(k->rk);
	k->topic = k->ctopic = NULL;
	k->rk = NULL;
	nm_msgbuf_free(&k->flows);
	nm_msgbuf_free(&k->ctrs);
	if (k->in_flight)
		fprintf(stderr, "netmeta: kafka: %" PRIu64 " records still in flight at exit\n",
			k->in_flight);
}

static uint64_t nm_kafka_delivered(const void *o)
{
	const struct nm_kafka *k = o;
	return k->delivered;
}

static uint64_t nm_kafka_dropped(const void *o)
{
	return ((const struct nm_kafka *)o)->failed;
}

/* failed by librdkafka error; spool_refused (also in one of those) by the
 * spool's own reason. */
static void nm_kafka_drop_reasons(const void *o, nm_counter_fn *fn, void *ctx)
{
	const struct nm_kafka *k = o;
	for (int i = 0; i < NM_KAFKA_REASONS && k->reasons[i].records; i++) {
		char name[96];
		snprintf(name, sizeof(name), "failed_%s", rd_kafka_err2name(k->reasons[i].err));
		fn(ctx, name, rd_kafka_err2str(k->reasons[i].err), k->reasons[i].records);
	}
	if (k->has_spool) {
		fn(ctx, "spool_quota_records", "spool quota reached", k->spool.quota_records);
		fn(ctx, "spool_refused", "the spool refused it (quota reached, or a write failed)",
		   k->spool_refused);
	}
}

static void nm_kafka_counters(const void *o, nm_counter_fn *fn, void *ctx)
{
	const struct nm_kafka *k = o;
#define NM_X_(name, help) fn(ctx, #name, help, k->name);
	NM_KAFKA_COUNTERS(NM_X_)
#undef NM_X_
	for (int i = 0; i < NM_KAFKA_REASONS && k->reasons[i].records; i++) {
		char name[96];
		snprintf(name, sizeof(name), "failed_%s", rd_kafka_err2name(k->reasons[i].err));
		fn(ctx, name, "records dropped for this librdkafka error", k->reasons[i].records);
	}
	/* rd_kafka_outq_len is safe from any thread; gone after close */
	fn(ctx, "queue_messages", "messages in librdkafka's queue or in flight (gauge)",
	   k->rk ? (uint64_t)rd_kafka_outq_len(k->rk) : 0);
	uint32_t nrtt = __atomic_load_n(&k->nrtt, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < nrtt && i < NM_KAFKA_RTT_MAX; i++) {
		char name[48];
		snprintf(name, sizeof(name), "broker_rtt_us_%d",
			 (int)__atomic_load_n(&k->rtt[i].node, __ATOMIC_RELAXED));
		fn(ctx, name, "the broker's request round-trip time, average of librdkafka's last "
			   "statistics window (gauge)",
		   __atomic_load_n(&k->rtt[i].avg_us, __ATOMIC_RELAXED));
	}
	for (int i = 0; i < NM_LAT_BUCKETS; i++) {
		char name[48];
		if (k->lat[i] == 0)
			continue;
		if (i == NM_LAT_BUCKETS - 1)
			snprintf(name, sizeof(name), "latency_over_%ums", 1u << (i - 1));
		else
			snprintf(name, sizeof(name), "latency_under_%ums", 1u << i);
		fn(ctx, name, "records delivered this long after they were received (from the "
			   "previous bucket's bound)", k->lat[i]);
	}
	if (k->has_spool) {
#define NM_X_(name, help) fn(ctx, "spool_" #name, help, k->spool.name);
		NM_SPOOL_COUNTERS(NM_X_)
#undef NM_X_
	}
}

static void nm_kafka_status(const void *o, const char *pre, FILE *f)
{
	const struct nm_kafka *k = o;
	/* handed + replayed = delivered + spooled + failed + in_flight */
	fprintf(f, "%sidentity %s\n", pre,
		k->handed + k->replayed == k->delivered + k->spooled + k->failed + k->in_flight
			? "ok"
			: "BROKEN");
	if (k->fatal[0])
		fprintf(f, "%sfatal %s\n", pre, k->fatal);
}

const struct nm_output_ops nm_kafka_ops = {
	.name = "kafka",
	.check = nm_kafka_check,
	.open = nm_kafka_open,
	.write = nm_kafka_write,
	.flush = nm_kafka_flush,
	.poll = nm_kafka_poll,
	.close = nm_kafka_close,
	.free = nm_kafka_free,
	.counters = nm_kafka_counters,
	.status = nm_kafka_status,
	.delivered = nm_kafka_delivered,
	.dropped = nm_kafka_dropped,
	.drop_reasons = nm_kafka_drop_reasons,
};
