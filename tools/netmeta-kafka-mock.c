/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-kafka-mock: a development Kafka broker. It runs librdkafka's mock
 * cluster (the real Kafka protocol over TCP) in a process of its own, prints
 * its bootstrap address, and takes commands on stdin; it runs until "quit" or
 * a signal (after EOF on stdin it keeps running, so it can run in the
 * background without a terminal):
 *
 *   down N      take broker N down (1-based; "down all" for every broker)
 *   up N        bring it back ("up all")
 *   reject N E  make the next N produce requests fail with Kafka error code E
 *               (e.g. 10 = MESSAGE_TOO_LARGE, 87 = INVALID_RECORD)
 *   quit
 *
 *   netmeta-kafka-mock [--brokers N] [--partitions N] [--topic T]... [--port-file F]
 *
 * Each mock partition keeps about 5 MiB (librdkafka prunes older data).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t nm_quit;

static void nm_on_signal(int sig)
{
	(void)sig;
	nm_quit = 1;
}

static int nm_set_brokers(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *which, int up)
{
	int lo = 1, hi = nbrokers;
	if (strcmp(which, "all") != 0) {
		char *end;
		long v = strtol(which, &end, 10);
		if (*end || v < 1 || v > nbrokers)
			return -1;
		lo = hi = (int)v;
	}
	for (int b = lo; b <= hi; b++) {
		rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(mc, b)
					   : rd_kafka_mock_broker_set_down(mc, b);
		if (e)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nbrokers = 1, partitions = 4;
	const char *topics[16];
	int ntopics = 0;
	const char *port_file = NULL;
	static const struct option opts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"partitions", required_argument, NULL, 'p'},
		{"topic", required_argument, NULL, 't'},
		{"port-file", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static const char usage[] =
		"usage: netmeta-kafka-mock [--brokers N] [--partitions N] [--topic T]... [--port-file F]\n"
		"       netmeta-kafka-mock -h | --help | -V | --version\n"
		"librdkafka's mock Kafka cluster as a process: prints \"bootstrap HOST:PORT\",\n"
		"then takes commands on stdin: down N|all, up N|all, reject COUNT CODE, quit.\n";
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			nbrokers = atoi(optarg);
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 't':
			if (ntopics == 16) {
				fprintf(stderr, "netmeta-kafka-mock: at most 16 topics\n");
				return 1;
			}
			topics[ntopics++] = optarg;
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("netmeta-kafka-mock %s\n", NM_VERSION);
			return 0;
		default:
			fprintf(stderr, "netmeta-kafka-mock: %s: %s\n", argv[optind - 1],
				o == ':' ? "needs a value" : "unknown option");
			fputs(usage, stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netmeta-kafka-mock: unknown argument %s\n%s", argv[optind], usage);
		return 1;
	}
	if (nbrokers < 1 || nbrokers > 16 || partitions < 1 || partitions > 256) {
		fprintf(stderr, "netmeta-kafka-mock: --brokers 1..16, --partitions 1..256\n");
		return 1;
	}
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)); /* bookkeeping client: quiet */
	/* The cluster needs a client instance for its bookkeeping. */
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "netmeta-kafka-mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
	if (mc == NULL) {
		fprintf(stderr, "netmeta-kafka-mock: cannot create the mock cluster\n");
		return 1;
	}
	for (int t = 0; t < ntopics; t++)
		rd_kafka_mock_topic_create(mc, topics[t], partitions, nbrokers < 3 ? nbrokers : 3);
	const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
	printf("bootstrap %s\n", bs);
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		if (f == NULL || fprintf(f, "%s\n", bs) < 0 || fclose(f) != 0) {
			fprintf(stderr, "netmeta-kafka-mock: %s: %s\n", port_file, strerror(errno));
			return 1;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nm_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	char line[256];
	int stdin_open = 1;
	while (!nm_quit) {
		if (!stdin_open) {
			sleep(1);
			continue;
		}
		fd_set rf;
		FD_ZERO(&rf);
		FD_SET(0, &rf);
		struct timeval tv = {0, 200000};
		int r = select(1, &rf, NULL, NULL, &tv);
		if (r <= 0)
			continue;
		if (fgets(line, sizeof(line), stdin) == NULL) {
			stdin_open = 0; /* no more commands: run until signalled */
			continue;
		}
		char cmd[32] = "", a1[32] = "", a2[32] = "";
		int n = sscanf(line, "%31s %31s %31s", cmd, a1, a2);
		int ok = 0;
		if (n >= 1 && strcmp(cmd, "quit") == 0)
			break;
		if (n == 2 && strcmp(cmd, "down") == 0)
			ok = nm_set_brokers(mc, nbrokers, a1, 0) == 0;
		else if (n == 2 && strcmp(cmd, "up") == 0)
			ok = nm_set_brokers(mc, nbrokers, a1, 1) == 0;
		else if (n == 3 && strcmp(cmd, "reject") == 0) {
			int cnt = atoi(a1), code = atoi(a2);
			for (int k = 0; k < cnt; k++)
				rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 1,
								  (rd_kafka_resp_err_t)code);
			ok = cnt > 0;
		}
		printf("%s %s", ok ? "ok" : "error: expected down N|all, up N|all, reject COUNT CODE, quit:",
		       line);
		fflush(stdout);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
