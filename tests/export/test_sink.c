/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink thread and its table of outputs (export/sink.c, output.h), on
 * their own: no daemon, only rings, batches and a struct nm_cfg_sink per
 * output.
 *
 * - Every output type opens, takes batches, closes, and reports its
 *   counters by name with the values written.
 * - An output that cannot open is refused with a message (a file sink path
 *   that is a regular file, or under a missing directory; a JSON file in a
 *   missing directory; a spool directory that is a file; a bad Kafka
 *   property), and the outputs opened before it are closed and freed (the
 *   sanitizer build's leak check sees whatever is not).
 * - The sink drains every producer's ring, gives each batch back emptied,
 *   and counts what it wrote.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "filesink.h"
#include "flow.h"
#include "kafka.h"
#include "sink.h"

static char nm_dir[256];

static int nm_setup(void **state)
{
	(void)state;
	snprintf(nm_dir, sizeof(nm_dir), "/tmp/nm-test-sink-XXXXXX");
	return mkdtemp(nm_dir) ? 0 : -1;
}

/* Removes the scratch directory, two levels deep. */
static void nm_rm_tree(const char *d)
{
	DIR *dp = opendir(d);
	if (dp == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char p[600];
		snprintf(p, sizeof(p), "%s/%s", d, e->d_name);
		if (unlink(p) != 0)
			nm_rm_tree(p);
	}
	closedir(dp);
	rmdir(d);
}

static int nm_teardown(void **state)
{
	(void)state;
	nm_rm_tree(nm_dir);
	return 0;
}

/* The config parser's defaults (dataplane/config.c), for the keys used. */
static void nm_cfg(struct nm_cfg_sink *c, enum nm_sink_type type, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	snprintf(c->path, sizeof(c->path), "%s/%s", nm_dir, name);
	snprintf(c->brokers, sizeof(c->brokers), "127.0.0.1:1");
	snprintf(c->topic, sizeof(c->topic), "flows");
	snprintf(c->compression, sizeof(c->compression), "zstd");
	c->linger_ms = 20;
	c->acks = -1;
	c->idempotence = true;
	c->max_message_bytes = 900000;
	c->max_message_records = 50000;
	c->flush_timeout_ms = 100;
	c->spool_quota = 1ull << 30;
	c->rotate_bytes = 256ull << 20;
	c->rotate_seconds = 300;
}

static void nm_touch(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", nm_dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/* Counters by full name, as nm_sink_counters reports them. */
struct nm_seen {
	char name[64][64];
	uint64_t v[64];
	int n;
};

static void nm_seen_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	struct nm_seen *s = ctx;
	assert_non_null(help);
	assert_true(help[0] != 0);
	assert_true(s->n < 64);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	s->v[s->n++] = v;
}

static uint64_t nm_seen_get(const struct nm_seen *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->v[i];
	fail_msg("counter %s was not reported", name);
	return 0;
}

static struct nm_flow nm_flows[8];
static struct nm_ctr nm_ctrs[8];

static void nm_fill(void)
{
	for (int i = 0; i < 8; i++) {
		memset(&nm_flows[i], 0, sizeof(nm_flows[i]));
		nm_flows[i].type = NM_FLOW_TYPE_IPFIX;
		nm_flows[i].bytes = 1000u + (uint64_t)i;
		nm_flows[i].packets = 1;
		nm_flows[i].sampler_address.b[15] = (uint8_t)i;
		memset(&nm_ctrs[i], 0, sizeof(nm_ctrs[i]));
		nm_ctrs[i].if_index = (uint32_t)i;
	}
}

/* An output type opened on its own: open, write, close, counters. */
static void nm_one(const struct nm_output_ops *ops, const struct nm_cfg_sink *c,
		   struct nm_seen *seen)
{
	char err[1024] = "";
	void *o = ops->open(c, err, sizeof(err));
	assert_non_null(o);
	assert_string_equal(err, "");
	nm_fill();
	struct nm_batch f = {NM_BATCH_FLOWS, 5, 8, 0, nm_flows};
	struct nm_batch k = {NM_BATCH_COUNTERS, 2, 8, 0, nm_ctrs};
	ops->write(o, &f);
	ops->write(o, &k);
	if (ops->flush)
		ops->flush(o);
	if (ops->poll)
		ops->poll(o);
	if (ops->close)
		ops->close(o);
	memset(seen, 0, sizeof(*seen));
	ops->counters(o, nm_seen_fn, seen);
	ops->free(o);
}

static void test_file_output(void **state)
{
	(void)state;
	struct nm_cfg_sink c;
	nm_cfg(&c, NM_SINK_FILE, "files");
	struct nm_seen s;
	nm_one(&nm_filesink_ops, &c, &s);
	assert_int_equal(nm_seen_get(&s, "records"), 7);
	assert_int_equal(nm_seen_get(&s, "frames"), 2);
	assert_int_equal(nm_seen_get(&s, "files"), 2); /* flows-* and counters-* */
	assert_int_equal(nm_seen_get(&s, "write_errors"), 0);
	assert_int_equal(nm_seen_get(&s, "records_lost"), 0);
	/* both files renamed to their final names */
	DIR *d = opendir(c.path);
	assert_non_null(d);
	int pbzst = 0, tmp = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t n = strlen(e->d_name);
		pbzst += n > 7 && strcmp(e->d_name + n - 7, ".pb.zst") == 0;
		tmp += n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0;
	}
	closedir(d);
	assert_int_equal(pbzst, 2);
	assert_int_equal(tmp, 0);
}

/* Lines of a text file. */
static int nm_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	int n = 0;
	for (int ch; (ch = fgetc(f)) != EOF;)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Two producers, three outputs: every batch written once to each output,
 * given back emptied, counted. */
static void test_sink_drains_and_gives_back(void **state)
{
	(void)state;
	struct nm_cfg_sink c[3];
	nm_cfg(&c[0], NM_SINK_DISCARD, "");
	nm_cfg(&c[1], NM_SINK_JSON, "all.json");
	nm_cfg(&c[2], NM_SINK_FILE, "drain");
	nm_fill();
	struct nm_batch b[4] = {
		{NM_BATCH_FLOWS, 5, 8, 0, nm_flows},
		{NM_BATCH_COUNTERS, 2, 8, 0, nm_ctrs},
		{NM_BATCH_FLOWS, 8, 8, 1, nm_flows},
		{NM_BATCH_FLOWS, 1, 8, 1, nm_flows},
	};
	struct nm_sink_producer p[2];
	for (int i = 0; i < 2; i++) {
		p[i].full = nm_ring_create(4);
		p[i].free = nm_ring_create(4);
		assert_non_null(p[i].full);
		assert_non_null(p[i].free);
	}
	assert_true(nm_ring_push(p[0].full, &b[0]));
	assert_true(nm_ring_push(p[0].full, &b[1]));
	assert_true(nm_ring_push(p[1].full, &b[2]));
	assert_true(nm_ring_push(p[1].full, &b[3]));
	static struct nm_sink sk;
	nm_sink_init(&sk, c, 3, p, 2);
	/* stop before the run: the producers are done, one pass takes all */
	nm_sink_stop(&sk);
	nm_sink_run(&sk);
	char err[256];
	assert_int_equal(nm_sink_wait_ready(&sk, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(nm_ring_count(p[i].full), 0);
		assert_int_equal(nm_ring_count(p[i].free), 2);
		struct nm_batch *x;
		while ((x = nm_ring_pop(p[i].free)) != NULL)
			assert_int_equal(x->n, 0);
	}
	assert_int_equal(nm_sink_get(&sk, NM_SINK_CTR_records_written), 14);
	assert_int_equal(nm_sink_get(&sk, NM_SINK_CTR_counters_written), 2);
	assert_int_equal(nm_sink_get(&sk, NM_SINK_CTR_batches), 4);
	assert_int_equal(nm_sink_delivered(&sk), 0); /* no Kafka output */
	struct nm_seen s;
	memset(&s, 0, sizeof(s));
	nm_sink_counters(&sk, nm_seen_fn, &s);
	assert_int_equal(nm_seen_get(&s, "sink_records_written"), 14);
	assert_int_equal(nm_seen_get(&s, "sink_counters_written"), 2);
	assert_int_equal(nm_seen_get(&s, "discard0_records"), 16);
	assert_int_equal(nm_seen_get(&s, "json1_lines"), 16);
	assert_int_equal(nm_seen_get(&s, "file2_records"), 16);
	assert_int_equal(nm_seen_get(&s, "file2_files"), 2);
	nm_sink_free(&sk);
	assert_int_equal(nm_lines(c[1].path), 16);
	for (int i = 0; i < 2; i++) {
		free(p[i].full);
		free(p[i].free);
	}
}

/* The live table (what /metrics shows) holds every counter of the sink's
 * outputs, and names it had no room for are counted, not lost silently:
 * NM_CFG_MAX_SINKS outputs in full, then the same with the table cut to 5
 * slots. */
static void nm_live_run(struct nm_sink *sk, struct nm_cfg_sink *c, uint32_t cap,
			struct nm_seen *all, struct nm_seen *live)
{
	struct nm_sink_producer none = {NULL, NULL};
	nm_sink_init(sk, c, NM_CFG_MAX_SINKS, &none, 0);
	if (cap)
		sk->live_cap = cap;
	nm_sink_stop(sk);
	nm_sink_run(sk);
	char err[256];
	assert_int_equal(nm_sink_wait_ready(sk, err, sizeof(err)), 0);
	memset(all, 0, sizeof(*all));
	memset(live, 0, sizeof(*live));
	nm_sink_counters(sk, nm_seen_fn, all);
	nm_sink_live(sk, nm_seen_fn, live);
	nm_sink_free(sk);
}

static void test_sink_live_table(void **state)
{
	(void)state;
	_Static_assert(NM_CFG_MAX_SINKS == 4, "four outputs below");
	struct nm_cfg_sink c[NM_CFG_MAX_SINKS];
	nm_cfg(&c[0], NM_SINK_DISCARD, "");
	nm_cfg(&c[1], NM_SINK_JSON, "live.json");
	nm_cfg(&c[2], NM_SINK_FILE, "live");
	nm_cfg(&c[3], NM_SINK_FILE, "live2");
	static struct nm_sink sk;
	struct nm_seen all, live;
	nm_live_run(&sk, c, 0, &all, &live);
	assert_true(all.n > 5);
	assert_int_equal(live.n, all.n + 1); /* + sink_live_unpublished */
	for (int i = 0; i < all.n; i++)
		assert_int_equal(nm_seen_get(&live, all.name[i]), all.v[i]);
	assert_int_equal(nm_seen_get(&live, "sink_live_unpublished"), 0);
	/* a table too small: 5 shown, the rest counted */
	nm_live_run(&sk, c, 5, &all, &live);
	assert_int_equal(live.n, 5 + 1);
	assert_int_equal(nm_seen_get(&live, "sink_live_unpublished"), (uint64_t)all.n - 5);
	/* the worst case of every output fits */
	assert_true(NM_SINK_MAX_LIVE >= NM_SINK_CTR__COUNT + NM_CFG_MAX_SINKS * 82 + 1);
}

/* One output's open must fail with a message containing want. */
static void nm_open_fails(const struct nm_output_ops *ops, const struct nm_cfg_sink *c,
			  const char *want)
{
	char err[1024] = "";
	void *o = ops->open(c, err, sizeof(err));
	if (o != NULL)
		ops->free(o);
	assert_null(o);
	if (strstr(err, want) == NULL)
		fail_msg("open error '%s' does not say '%s'", err, want);
}

static void test_open_failures(void **state)
{
	(void)state;
	struct nm_cfg_sink c;
	char p[512];

	/* A file sink path that exists as a regular file: mkdir says EEXIST,
	 * but no file could ever be written there. */
	nm_cfg(&c, NM_SINK_FILE, "");
	nm_touch("plain", p, sizeof(p));
	snprintf(c.path, sizeof(c.path), "%s", p);
	nm_open_fails(&nm_filesink_ops, &c, "not a directory");
	/* ... or under a directory that does not exist */
	nm_cfg(&c, NM_SINK_FILE, "missing/files");
	nm_open_fails(&nm_filesink_ops, &c, "No such file or directory");

	/* Kafka: a property librdkafka refuses; message.max.bytes below our
	 * messages; a spool directory that is a file (the producer, topics
	 * and message buffers exist by then: freed, or the leak check fails) */
	nm_cfg(&c, NM_SINK_KAFKA, "");
	snprintf(c.props[0][0], sizeof(c.props[0][0]), "no.such.property");
	snprintf(c.props[0][1], sizeof(c.props[0][1]), "1");
	c.nprops = 1;
	nm_open_fails(&nm_kafka_ops, &c, "no.such.property");
	nm_cfg(&c, NM_SINK_KAFKA, "");
	snprintf(c.props[0][0], sizeof(c.props[0][0]), "message.max.bytes");
	snprintf(c.props[0][1], sizeof(c.props[0][1]), "100000");
	c.nprops = 1;
	nm_open_fails(&nm_kafka_ops, &c, "below max_message_bytes");
	nm_cfg(&c, NM_SINK_KAFKA, "");
	snprintf(c.counters_topic, sizeof(c.counters_topic), "counters");
	snprintf(c.spool_dir, sizeof(c.spool_dir), "%s", p);
	nm_open_fails(&nm_kafka_ops, &c, "spool.dir");
}

/* The second output fails: the sink says which and why, and the first
 * output (opened, then closed and freed) leaves nothing behind. */
static void test_sink_open_failure(void **state)
{
	(void)state;
	struct nm_cfg_sink c[3];
	nm_cfg(&c[0], NM_SINK_JSON, "first.json");
	nm_cfg(&c[1], NM_SINK_KAFKA, "");
	/* quiet: the broker is never reached */
	snprintf(c[1].props[0][0], sizeof(c[1].props[0][0]), "log_level");
	snprintf(c[1].props[0][1], sizeof(c[1].props[0][1]), "0");
	c[1].nprops = 1;
	nm_cfg(&c[2], NM_SINK_JSON, "no/such/dir.json");
	struct nm_sink_producer none = {NULL, NULL};
	static struct nm_sink sk;
	nm_sink_init(&sk, c, 3, &none, 0);
	nm_sink_run(&sk);
	char err[1300];
	assert_int_equal(nm_sink_wait_ready(&sk, err, sizeof(err)), -1);
	if (strncmp(err, "sinks[2]: ", 10) != 0 || strstr(err, "No such file") == NULL)
		fail_msg("sink open error: '%s'", err);
	assert_int_equal(sk.nout, 0);
	struct nm_seen s;
	memset(&s, 0, sizeof(s));
	nm_sink_counters(&sk, nm_seen_fn, &s);
	assert_int_equal(s.n, 3); /* the sink's own counters only */
	nm_sink_free(&sk);
	/* the first output was opened, and closed */
	struct stat st;
	assert_int_equal(stat(c[0].path, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_output),
		cmocka_unit_test(test_sink_drains_and_gives_back),
		cmocka_unit_test(test_sink_live_table),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_sink_open_failure),
	};
	return cmocka_run_group_tests(tests, nm_setup, nm_teardown);
}
