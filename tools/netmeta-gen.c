/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-gen: writes flow exports (sFlow v5, NetFlow v5, v9, IPFIX) that real
 * decoders accept into a pcap file, for demos, tests and benchmarks.
 *
 *   netmeta-gen [--proto sflow|v5|v9|ipfix|all] [--datagrams N] [--records N]
 *               [--exporters N] [--rate N] [--seed N] -o FILE.pcap
 *
 * Prints on stderr how many datagrams and flow records it wrote, per
 * protocol, so a test can check a collector's totals against it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen.h"

static int nm_num(const char *opt, const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || s[0] == 0 || v > max) {
		fprintf(stderr, "netmeta-gen: %s: expected a number up to %" PRIu32 ", got '%s'\n", opt,
			max, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static void nm_usage(void)
{
	fprintf(stderr,
		"usage: netmeta-gen [--proto sflow|v5|v9|ipfix|all] [--datagrams N] [--records N]\n"
		"                   [--exporters N] [--rate N] [--seed N]\n"
		"                   (-o FILE.pcap | --udp HOST [--port-offset N] [--pps N])\n");
}

int main(int argc, char **argv)
{
	const char *out = NULL, *proto = "all", *udp = NULL;
	uint32_t dgrams = 100, recs = 0, exporters = 1, rate = 1000, seed = 1, port_off = 0, pps = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc = 0;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			nm_usage();
			return 0;
		}
		if (v == NULL) {
			fprintf(stderr, "netmeta-gen: %s needs a value\n", a);
			return 1;
		}
		if (strcmp(a, "-o") == 0)
			out = v;
		else if (strcmp(a, "--udp") == 0)
			udp = v;
		else if (strcmp(a, "--port-offset") == 0)
			rc = nm_num(a, v, 60000, &port_off);
		else if (strcmp(a, "--pps") == 0)
			rc = nm_num(a, v, 100000000, &pps);
		else if (strcmp(a, "--proto") == 0)
			proto = v;
		else if (strcmp(a, "--datagrams") == 0)
			rc = nm_num(a, v, 100000000, &dgrams);
		else if (strcmp(a, "--records") == 0)
			rc = nm_num(a, v, 60, &recs);
		else if (strcmp(a, "--exporters") == 0)
			rc = nm_num(a, v, 65535, &exporters);
		else if (strcmp(a, "--rate") == 0)
			rc = nm_num(a, v, 1u << 30, &rate);
		else if (strcmp(a, "--seed") == 0)
			rc = nm_num(a, v, UINT32_MAX, &seed);
		else {
			fprintf(stderr, "netmeta-gen: unknown option %s\n", a);
			nm_usage();
			return 1;
		}
		if (rc)
			return 1;
		i++;
	}
	enum nm_flow_type types[4];
	int ntypes = 0;
	if (strcmp(proto, "sflow") == 0 || strcmp(proto, "all") == 0)
		types[ntypes++] = NM_FLOW_TYPE_SFLOW_5;
	if (strcmp(proto, "v5") == 0 || strcmp(proto, "all") == 0)
		types[ntypes++] = NM_FLOW_TYPE_NETFLOW_V5;
	if (strcmp(proto, "v9") == 0 || strcmp(proto, "all") == 0)
		types[ntypes++] = NM_FLOW_TYPE_NETFLOW_V9;
	if (strcmp(proto, "ipfix") == 0 || strcmp(proto, "all") == 0)
		types[ntypes++] = NM_FLOW_TYPE_IPFIX;
	if (ntypes == 0 || (out == NULL) == (udp == NULL) || exporters == 0) {
		fprintf(stderr, "netmeta-gen: need -o FILE or --udp HOST, and --proto sflow|v5|v9|ipfix|all\n");
		return 1;
	}
	FILE *f = NULL;
	struct sockaddr_in6 to;
	memset(&to, 0, sizeof(to));
	int *socks = NULL;
	if (out) {
		f = fopen(out, "wb");
		if (f == NULL || nm_pcap_write_header(f)) {
			fprintf(stderr, "netmeta-gen: %s: %s\n", out, strerror(errno));
			return 2;
		}
	} else {
		uint8_t v4[4];
		to.sin6_family = AF_INET6;
		if (inet_pton(AF_INET, udp, v4) == 1) {
			to.sin6_addr.s6_addr[10] = to.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&to.sin6_addr.s6_addr[12], v4, 4);
		} else if (inet_pton(AF_INET6, udp, &to.sin6_addr) != 1) {
			fprintf(stderr, "netmeta-gen: --udp: '%s' is not an IPv4 or IPv6 address\n", udp);
			return 1;
		}
		socks = calloc(exporters, sizeof(int));
		for (uint32_t i = 0; socks && i < exporters; i++) {
			socks[i] = socket(AF_INET6, SOCK_DGRAM, 0);
			int zero = 0;
			setsockopt(socks[i], IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			if (socks[i] < 0) {
				fprintf(stderr, "netmeta-gen: socket: %s\n", strerror(errno));
				return 2;
			}
			/* To loopback, each exporter sends from an address of its own
			 * (127.0.x.y), as distinct routers would. */
			if (to.sin6_addr.s6_addr[10] == 0xff && to.sin6_addr.s6_addr[12] == 127) {
				struct sockaddr_in6 from = {0};
				from.sin6_family = AF_INET6;
				from.sin6_addr.s6_addr[10] = from.sin6_addr.s6_addr[11] = 0xff;
				from.sin6_addr.s6_addr[12] = 127;
				from.sin6_addr.s6_addr[14] = (uint8_t)((i + 1) >> 8);
				from.sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
				if (bind(socks[i], (struct sockaddr *)&from, sizeof(from)) != 0) {
					fprintf(stderr, "netmeta-gen: bind 127.0.%u.%u: %s\n",
						(i + 1) >> 8, (i + 1) & 0xff, strerror(errno));
					return 2;
				}
			}
		}
	}
	uint32_t ngen = (uint32_t)ntypes * exporters;
	struct nm_gen *gens = calloc(ngen, sizeof(*gens));
	if (gens == NULL)
		return 2;
	for (uint32_t i = 0; i < ngen; i++) {
		struct nm_gen_cfg c;
		nm_gen_cfg_default(&c, types[i % (uint32_t)ntypes]);
		if (recs)
			c.recs_per_dgram = recs;
		c.sampling_rate = rate;
		c.domain = 1 + i / (uint32_t)ntypes; /* sFlow agent 192.0.2.N / v9 source ID */
		c.seed = (uint64_t)seed * 1000003u + i;
		nm_gen_init(&gens[i], &c);
	}
	static const uint16_t ports[5] = {0, 6343, 2055, 2055, 4739};
	uint8_t buf[9000];
	uint64_t t0 = 1767225600ull * 1000000000ull, dg[5] = {0};
	for (uint32_t k = 0; k < dgrams; k++) {
		struct nm_gen *g = &gens[k % ngen];
		uint32_t exp = (k % ngen) / (uint32_t)ntypes;
		size_t n = nm_gen_datagram(g, buf, sizeof(buf));
		uint8_t src[4] = {192, 0, 2, (uint8_t)(1 + exp % 250)};
		uint8_t dst[4] = {192, 0, 2, 254};
		src[2] = (uint8_t)(2 + exp / 250);
		if (socks) {
			if (pps && k % 16 == 0) {
				/* Pace in steps of 16 datagrams. */
				static struct timespec t_start;
				if (k == 0)
					clock_gettime(CLOCK_MONOTONIC, &t_start);
				struct timespec now;
				clock_gettime(CLOCK_MONOTONIC, &now);
				double el = (double)(now.tv_sec - t_start.tv_sec) +
					    (double)(now.tv_nsec - t_start.tv_nsec) * 1e-9;
				double due = (double)k / pps;
				if (due > el) {
					struct timespec ts = {(time_t)(due - el),
							      (long)((due - el - (double)(time_t)(due - el)) * 1e9)};
					nanosleep(&ts, NULL);
				}
			}
			to.sin6_port = htons((uint16_t)(ports[g->cfg.type] + port_off));
			if (sendto(socks[exp], buf, n, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
				fprintf(stderr, "netmeta-gen: send: %s\n", strerror(errno));
				return 2;
			}
		} else if (n == 0 || nm_pcap_write_udp(f, t0 + (uint64_t)k * 1000000ull, src, dst,
						       (uint16_t)(40000 + exp % 20000),
						       ports[g->cfg.type], buf, n)) {
			fprintf(stderr, "netmeta-gen: %s: write failed\n", out);
			return 2;
		}
		dg[g->cfg.type]++;
	}
	if (f && fclose(f)) {
		fprintf(stderr, "netmeta-gen: %s: %s\n", out, strerror(errno));
		return 2;
	}
	for (uint32_t i = 0; socks && i < exporters; i++)
		close(socks[i]);
	free(socks);
	uint64_t rec[5] = {0};
	for (uint32_t i = 0; i < ngen; i++)
		rec[gens[i].cfg.type] += gens[i].records;
	for (int t = 1; t <= 4; t++)
		if (dg[t])
			fprintf(stderr, "generated %s datagrams %" PRIu64 " records %" PRIu64 "\n",
				nm_flow_type_name((enum nm_flow_type)t), dg[t], rec[t]);
	free(gens);
	return 0;
}
