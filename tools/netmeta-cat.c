/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-cat: prints what the collector exported, as JSON lines (the same
 * format as netmeta-decode --json).
 *
 *   netmeta-cat [--counters] FILE...       file-sink files (.pb.zst: zstd
 *                                          frames), spool segments (.nms),
 *                                          or raw length-delimited streams
 *   netmeta-cat [--counters] --kafka BROKERS --topic T
 *                                          a topic from the beginning to its
 *                                          current end
 *
 * --counters reads InterfaceCounters instead of FlowMessage (files named
 * counters-* are read as counters anyway). Counts go to stderr; exit 0 when
 * everything read cleanly, 1 when some input was damaged (reported), 2 when
 * an input could not be read at all.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <librdkafka/rdkafka.h>

#include "flow_json.h"
#include "spool.h"

struct nm_cat {
	int counters;
	uint64_t records, messages, bad;
};

/* Prints every length-delimited record of one message value. */
static void nm_cat_value(struct nm_cat *c, const uint8_t *p, size_t len)
{
	static char buf[NM_FLOW_JSON_MAX];
	size_t off = 0;
	c->messages++;
	while (off < len) {
		uint64_t n = 0;
		int shift = 0;
		while (off < len && shift < 35) {
			uint8_t b = p[off++];
			n |= (uint64_t)(b & 0x7f) << shift;
			shift += 7;
			if (!(b & 0x80))
				break;
		}
		if (n > len - off) {
			fprintf(stderr, "netmeta-cat: record length %" PRIu64 " runs past its message\n", n);
			c->bad++;
			return;
		}
		size_t jn = 0;
		if (c->counters) {
			struct nm_ctr r;
			if (nm_ctr_from_pb(&r, p + off, n) == 0)
				jn = nm_ctr_json(&r, buf, sizeof(buf));
		} else {
			struct nm_flow r;
			if (nm_flow_from_pb(&r, p + off, n) == 0)
				jn = nm_flow_json(&r, buf, sizeof(buf));
		}
		if (jn == 0) {
			fprintf(stderr, "netmeta-cat: a record does not unpack\n");
			c->bad++;
		} else {
			buf[jn++] = '\n';
			fwrite(buf, 1, jn, stdout);
			c->records++;
		}
		off += n;
	}
}

static void nm_cat_spool_entry(void *ctx, const void *msg, size_t len, uint32_t records)
{
	(void)records;
	nm_cat_value(ctx, msg, len);
}

static uint8_t *nm_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 1 << 20, n = 0;
	uint8_t *b = malloc(cap);
	for (;;) {
		if (b == NULL)
			break;
		n += fread(b + n, 1, cap - n, f);
		if (n < cap)
			break;
		cap *= 2;
		uint8_t *nb = realloc(b, cap);
		if (nb == NULL) {
			free(b);
			b = NULL;
			break;
		}
		b = nb;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b);
		return NULL;
	}
	*len = n;
	return b;
}

static int nm_cat_file(struct nm_cat *c, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int was = c->counters;
	if (strncmp(base, "counters-", 9) == 0)
		c->counters = 1;
	size_t len;
	uint8_t *b = nm_read_all(path, &len);
	if (b == NULL) {
		fprintf(stderr, "netmeta-cat: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (len >= 4 && (memcmp(b, "NMSP", 4) == 0 || memcmp(b, "NMSD", 4) == 0)) {
		/* A spool segment: read as it is, never changed. */
		free(b);
		uint64_t corrupt = 0;
		if (nm_spool_scan(path, nm_cat_spool_entry, c, &corrupt) != 0) {
			fprintf(stderr, "netmeta-cat: %s: %s\n", path, strerror(errno));
			return 2;
		}
		if (corrupt) {
			fprintf(stderr, "netmeta-cat: %s: a corrupt entry (rest of the segment skipped)\n",
				path);
			c->bad += corrupt;
		}
		c->counters = was;
		return 0;
	}
	if (len >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
		/* zstd frames, each one message value */
		size_t off = 0;
		while (off < len) {
			size_t fz = ZSTD_findFrameCompressedSize(b + off, len - off);
			unsigned long long rs = ZSTD_getFrameContentSize(b + off, len - off);
			if (ZSTD_isError(fz) || rs == ZSTD_CONTENTSIZE_ERROR || rs == ZSTD_CONTENTSIZE_UNKNOWN ||
			    rs > (1ull << 30)) {
				fprintf(stderr, "netmeta-cat: %s: damaged zstd frame at byte %zu\n", path, off);
				c->bad++;
				break;
			}
			uint8_t *out = malloc(rs ? rs : 1);
			size_t got = out ? ZSTD_decompress(out, rs, b + off, fz) : 0;
			if (out == NULL || ZSTD_isError(got)) {
				fprintf(stderr, "netmeta-cat: %s: frame at byte %zu does not decompress\n", path, off);
				c->bad++;
				free(out);
				break;
			}
			nm_cat_value(c, out, got);
			free(out);
			off += fz;
		}
	} else {
		nm_cat_value(c, b, len);
	}
	free(b);
	c->counters = was;
	return 0;
}

static int nm_cat_kafka(struct nm_cat *c, const char *brokers, const char *topic)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "group.id", "netmeta-cat", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		fprintf(stderr, "netmeta-cat: %s\n", err);
		return 2;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "netmeta-cat: %s\n", err);
		return 2;
	}
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	if (rd_kafka_metadata(rk, 0, t, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "netmeta-cat: %s: topic %s not found\n", brokers, topic);
		return 2;
	}
	int np = md->topics[0].partition_cnt;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int i = 0; i < np; i++)
		rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	int eof = 0, idle = 0;
	while (eof < np && idle < 100) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (m == NULL) {
			idle++;
			continue;
		}
		idle = 0;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eof++;
		else if (m->err)
			fprintf(stderr, "netmeta-cat: %s\n", rd_kafka_message_errstr(m));
		else
			nm_cat_value(c, m->payload, m->len);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return eof < np ? 2 : 0;
}

static void nm_cat_usage(FILE *o)
{
	fprintf(o, "usage: netmeta-cat [--counters] FILE...\n"
		   "       netmeta-cat [--counters] --kafka BROKERS --topic TOPIC\n"
		   "       netmeta-cat -h | --help | -V | --version\n"
		   "Prints file-sink files (.pb.zst), spool segments (.nms), raw length-delimited\n"
		   "streams or a Kafka topic as JSON lines; --counters reads InterfaceCounters.\n"
		   "Exit 0: read cleanly, 1: some input damaged, 2: an input unreadable.\n");
}

int main(int argc, char **argv)
{
	struct nm_cat c = {0, 0, 0, 0};
	const char *brokers = NULL, *topic = NULL;
	int rc = 0;
	static const struct option opts[] = {
		{"counters", no_argument, NULL, 'c'},
		{"kafka", required_argument, NULL, 'k'},
		{"topic", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.counters = 1;
			break;
		case 'k':
			brokers = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'h':
			nm_cat_usage(stdout);
			return 0;
		case 'V':
			printf("netmeta-cat %s\n", NM_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "netmeta-cat: %s needs a value\n", argv[optind - 1]);
			nm_cat_usage(stderr);
			return 1;
		default:
			fprintf(stderr, "netmeta-cat: unknown option %s\n", argv[optind - 1]);
			nm_cat_usage(stderr);
			return 1;
		}
	}
	int first = optind;
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	if (brokers) {
		if (topic == NULL) {
			fprintf(stderr, "netmeta-cat: --kafka needs --topic\n");
			return 1;
		}
		rc = nm_cat_kafka(&c, brokers, topic);
	}
	for (int i = first; i < argc; i++) {
		int r = nm_cat_file(&c, argv[i]);
		if (r > rc)
			rc = r;
	}
	fflush(stdout);
	fprintf(stderr, "messages %" PRIu64 "\nrecords %" PRIu64 "\ndamaged %" PRIu64 "\n", c.messages,
		c.records, c.bad);
	if (rc == 0 && c.bad)
		rc = 1;
	return rc;
}
