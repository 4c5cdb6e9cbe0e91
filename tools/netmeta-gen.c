/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-gen: writes flow exports (sFlow v5, NetFlow v5, v9, IPFIX) that real
 * decoders accept into a pcap file, or sends them over UDP at a target rate,
 * for demos, tests and benchmarks.
 *
 *   netmeta-gen [--proto sflow|v5|v9|ipfix|all] [--datagrams N | --seconds S]
 *               [--records N] [--exporters N] [--rate N] [--seed N]
 *               [--cardinality N] [--v6-percent P] [--header-size N]
 *               [--template-every N]
 *               [--flood v9|ipfix|both [--flood-addresses N] [--flood-sockets N]
 *                [--flood-domains N] [--flood-templates N] [--flood-first-address N]]
 *               (-o FILE.pcap | --udp HOST [--port N | --port-offset N] [--pps N]
 *                [--cpu N] [--burst N] [--pool N] | --dpdk DEVICE [--eal "ARGS"] [--pps N])
 *
 * --rate is the sampling rate announced (v5 header, v9/IPFIX options data,
 * sFlow samples); --template-every re-sends v9/IPFIX templates and options
 * (sFlow: a counter sample) every N datagrams of an exporter; --cardinality
 * is the number of distinct hosts per side (AS numbers follow the hosts);
 * --v6-percent the share of IPv6 flows (v9, IPFIX, sFlow); --header-size the
 * sFlow sampled header length.
 *
 * UDP: each exporter has a socket of its own (bound to 127.0.x.y when sending
 * to loopback, as distinct routers would); every generator sends exactly what
 * it writes with -o, in order; the exporters take turns in bursts of --burst
 * datagrams per protocol with sendmmsg, paced to --pps datagrams/s (0: as fast
 * as possible), from a core given by --cpu. Up to --pool datagrams are built
 * before sending starts (so that building does not limit the rate); beyond
 * that the pool is sent again with fresh header sequence numbers (and, for
 * NetFlow v5/v9, an export time a minute later per pass).
 *
 * Prints on stderr how many datagrams and flow records it wrote, per
 * protocol, so a test can check a collector's totals against it, then (UDP)
 * "netmeta-gen: sent N datagrams in S s (R/s)".
 *
 * --flood (with --udp to loopback, --pps and --seconds or --datagrams) sends
 * a template flood instead (issue 17): template-only v9 and/or IPFIX
 * datagrams, --flood-templates templates each (default 8) with IDs cycling
 * through 256..65535, from --flood-sockets sockets (default 256) bound to
 * --flood-addresses addresses (default 16: 127.0.0.F.. with F =
 * --flood-first-address, default 101), each socket cycling through
 * --flood-domains observation domains (default 4096). Prints
 * "netmeta-gen: flood sent N datagrams (T templates) in S s (R/s)".
 *
 * DPDK: --dpdk sends the frames of the capture (same order, Ethernet/IPv4/
 * UDP to 192.0.2.254) out of one DPDK port: a PCI address or a vdev string
 * (net_af_packet0,iface=X; net_pcap0,tx_pcap=F), paced to --pps. EAL runs
 * without hugepages (--no-huge -m 256, a file prefix of its own); --eal adds
 * arguments (e.g. "-l 2"). Prints frames sent and refused.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgen.h"
#include "gen_dpdk.h"

#define NM_GEN_MAX_DGRAM 65000

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

static void nm_usage(FILE *o)
{
	fprintf(o,
		"usage: netmeta-gen [--proto sflow|v5|v9|ipfix|all] [--datagrams N | --seconds S]\n"
		"                   [--records N] [--exporters N] [--rate N] [--seed N]\n"
		"                   [--cardinality N] [--v6-percent P] [--header-size N]\n"
		"                   [--template-every N]\n"
		"                   [--flood v9|ipfix|both [--flood-addresses N] [--flood-sockets N]\n"
		"                    [--flood-domains N] [--flood-templates N] [--flood-first-address N]]\n"
		"                   (-o FILE.pcap | --udp HOST [--port N | --port-offset N] [--pps N]\n"
		"                    [--cpu N] [--burst N] [--pool N] [--source A.B.C.D]\n"
		"                    | --dpdk DEVICE [--eal \"EAL ARGS\"] [--pps N])\n"
		"       netmeta-gen -h | --help | -V | --version\n"
		"Generates sFlow v5, NetFlow v5/v9 and IPFIX exports into a pcap, as paced\n"
		"UDP, or out of a DPDK port (see netmeta-gen(1)).\n");
}

static double nm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Header sequence number: offset in the datagram and per-datagram width. */
static size_t nm_seq_off(enum nm_flow_type t)
{
	switch (t) {
	case NM_FLOW_TYPE_NETFLOW_V5: return 16;
	case NM_FLOW_TYPE_NETFLOW_V9: return 12;
	case NM_FLOW_TYPE_IPFIX: return 8;
	default: return 16; /* sFlow v5 (IPv4 agent) */
	}
}

static uint32_t nm_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void nm_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

struct nm_pool_ent {
	size_t off;
	uint32_t len;
	uint32_t gen;  /* generator index */
	uint32_t seq0; /* header sequence number as built */
	uint32_t secs0; /* NetFlow v5/v9 header export time as built */
	uint32_t recs;  /* flow records in it */
};

struct nm_flood_opt {
	const char *kind; /* v9, ipfix, both; NULL: no flood */
	uint32_t addrs, socks, domains, tmpls, first;
};

static double nm_now(void);

/* The template flood (--flood): see the comment at the top. */
static int nm_flood_run(const struct nm_flood_opt *o, const struct sockaddr_in6 *to,
			uint32_t port, uint32_t port_off, uint32_t pps, uint32_t dgrams)
{
	bool v9 = strcmp(o->kind, "ipfix") != 0, ipfix = strcmp(o->kind, "v9") != 0;
	if (strcmp(o->kind, "v9") && strcmp(o->kind, "ipfix") && strcmp(o->kind, "both")) {
		fprintf(stderr, "netmeta-gen: --flood: v9, ipfix or both\n");
		return 1;
	}
	if (to->sin6_addr.s6_addr[10] != 0xff || to->sin6_addr.s6_addr[12] != 127 || pps == 0 ||
	    o->first + o->addrs > 255) {
		fprintf(stderr, "netmeta-gen: --flood needs --udp 127.x.y.z, --pps, and "
				"--flood-first-address + --flood-addresses <= 255\n");
		return 1;
	}
	int *socks = calloc(o->socks, sizeof(int));
	if (socks == NULL)
		return 2;
	for (uint32_t i = 0; i < o->socks; i++) {
		socks[i] = socket(AF_INET6, SOCK_DGRAM, 0);
		int zero = 0;
		struct sockaddr_in6 from = {0};
		from.sin6_family = AF_INET6;
		from.sin6_addr.s6_addr[10] = from.sin6_addr.s6_addr[11] = 0xff;
		from.sin6_addr.s6_addr[12] = 127;
		from.sin6_addr.s6_addr[15] = (uint8_t)(o->first + i % o->addrs);
		if (socks[i] < 0 ||
		    setsockopt(socks[i], IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
		    bind(socks[i], (struct sockaddr *)&from, sizeof(from))) {
			fprintf(stderr, "netmeta-gen: flood socket %u: %s\n", i, strerror(errno));
			return 2;
		}
	}
	struct nm_flood fl = {o->tmpls, 1767225600u, 256, 0, 0};
	uint8_t buf[NM_GEN_MAX_DGRAM];
	uint64_t per[2] = {0, 0}, enobufs = 0;
	double start = nm_now();
	for (uint32_t k = 0; k < dgrams; k++) {
		bool ip = v9 && ipfix ? (k & 1) : ipfix;
		uint32_t idx = v9 && ipfix ? k >> 1 : k;
		uint32_t sock = idx % o->socks;
		uint32_t domain = 1 + (idx / o->socks) % o->domains;
		size_t n = nm_gen_flood_datagram(&fl, ip, domain, buf, sizeof(buf));
		if (n == 0) {
			fprintf(stderr, "netmeta-gen: flood datagram too large\n");
			return 2;
		}
		double due = (double)k / pps, el = nm_now() - start;
		if (due - el > 200e-6) {
			double w = due - el - 100e-6;
			struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
			nanosleep(&ts, NULL);
		}
		struct sockaddr_in6 dst = *to;
		dst.sin6_port = htons(port ? (uint16_t)port : (uint16_t)((ip ? 4739 : 2055) + port_off));
		while (sendto(socks[sock], buf, n, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				enobufs++;
				sched_yield();
				continue;
			}
			if (errno == EINTR)
				continue;
			fprintf(stderr, "netmeta-gen: flood send: %s\n", strerror(errno));
			return 2;
		}
		per[ip]++;
	}
	double el = nm_now() - start;
	for (uint32_t i = 0; i < o->socks; i++)
		close(socks[i]);
	free(socks);
	fprintf(stderr, "netmeta-gen: flood v9 datagrams %" PRIu64 " ipfix datagrams %" PRIu64
			"\n", per[0], per[1]);
	fprintf(stderr, "netmeta-gen: flood sent %" PRIu32 " datagrams (%" PRIu64
			" templates) in %.3f s (%.0f/s), %" PRIu64 " ENOBUFS retries\n",
		fl.dgrams, fl.templates, el, el > 0 ? (double)fl.dgrams / el : 0.0, enobufs);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *proto = "all", *udp = NULL, *dpdk = NULL, *eal = NULL;
	const char *source = NULL;
	uint32_t dgrams = 100, recs = 0, exporters = 1, rate = 1000, seed = 1, port_off = 0, pps = 0;
	uint32_t card = 0, v6pct = 101, hsize = 0, tmpl_every = UINT32_MAX, port = 0, burst = 16;
	uint32_t pool_max = 16384, cpu = UINT32_MAX;
	double seconds = 0;
	struct nm_flood_opt flood = {NULL, 16, 256, 4096, 8, 101};
	/* Every option but --help and --version takes a value. */
	static const struct option opts[] = {
		{"udp", required_argument, NULL, 0}, {"dpdk", required_argument, NULL, 0},
		{"eal", required_argument, NULL, 0}, {"port-offset", required_argument, NULL, 0},
		{"port", required_argument, NULL, 0}, {"pps", required_argument, NULL, 0},
		{"proto", required_argument, NULL, 0}, {"datagrams", required_argument, NULL, 0},
		{"seconds", required_argument, NULL, 0}, {"records", required_argument, NULL, 0},
		{"exporters", required_argument, NULL, 0}, {"rate", required_argument, NULL, 0},
		{"seed", required_argument, NULL, 0}, {"cardinality", required_argument, NULL, 0},
		{"v6-percent", required_argument, NULL, 0}, {"header-size", required_argument, NULL, 0},
		{"template-every", required_argument, NULL, 0}, {"cpu", required_argument, NULL, 0},
		{"burst", required_argument, NULL, 0}, {"pool", required_argument, NULL, 0},
		{"source", required_argument, NULL, 0},
		{"flood", required_argument, NULL, 0}, {"flood-addresses", required_argument, NULL, 0},
		{"flood-sockets", required_argument, NULL, 0},
		{"flood-domains", required_argument, NULL, 0},
		{"flood-templates", required_argument, NULL, 0},
		{"flood-first-address", required_argument, NULL, 0},
		{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int opt, li = 0;
	while ((opt = getopt_long(argc, argv, ":o:hV", opts, &li)) != -1) {
		char aname[40];
		const char *a = aname, *v = optarg;
		int rc = 0;
		if (opt == 'h') {
			nm_usage(stdout);
			return 0;
		}
		if (opt == 'V') {
			printf("netmeta-gen %s\n", NM_VERSION);
			return 0;
		}
		if (opt == ':') {
			fprintf(stderr, "netmeta-gen: %s needs a value\n", argv[optind - 1]);
			return 1;
		}
		if (opt == '?') {
			fprintf(stderr, "netmeta-gen: unknown option %s\n", argv[optind - 1]);
			nm_usage(stderr);
			return 1;
		}
		if (opt == 'o')
			snprintf(aname, sizeof(aname), "-o");
		else
			snprintf(aname, sizeof(aname), "--%s", opts[li].name);
		if (strcmp(a, "-o") == 0)
			out = v;
		else if (strcmp(a, "--udp") == 0)
			udp = v;
		else if (strcmp(a, "--dpdk") == 0)
			dpdk = v;
		else if (strcmp(a, "--eal") == 0)
			eal = v;
		else if (strcmp(a, "--source") == 0)
			source = v;
		else if (strcmp(a, "--port-offset") == 0)
			rc = nm_num(a, v, 60000, &port_off);
		else if (strcmp(a, "--port") == 0)
			rc = nm_num(a, v, 65535, &port);
		else if (strcmp(a, "--pps") == 0)
			rc = nm_num(a, v, 100000000, &pps);
		else if (strcmp(a, "--proto") == 0)
			proto = v;
		else if (strcmp(a, "--datagrams") == 0)
			rc = nm_num(a, v, 2000000000, &dgrams);
		else if (strcmp(a, "--seconds") == 0) {
			char *end;
			seconds = strtod(v, &end);
			if (*end || !(seconds > 0) || seconds > 86400) {
				fprintf(stderr, "netmeta-gen: --seconds: expected 0 < S <= 86400, got '%s'\n", v);
				rc = -1;
			}
		} else if (strcmp(a, "--records") == 0)
			rc = nm_num(a, v, 600, &recs);
		else if (strcmp(a, "--exporters") == 0)
			rc = nm_num(a, v, 65535, &exporters);
		else if (strcmp(a, "--rate") == 0)
			rc = nm_num(a, v, 1u << 30, &rate);
		else if (strcmp(a, "--seed") == 0)
			rc = nm_num(a, v, UINT32_MAX, &seed);
		else if (strcmp(a, "--cardinality") == 0)
			rc = nm_num(a, v, 1u << 24, &card);
		else if (strcmp(a, "--v6-percent") == 0)
			rc = nm_num(a, v, 100, &v6pct);
		else if (strcmp(a, "--header-size") == 0) {
			rc = nm_num(a, v, 1024, &hsize);
			if (rc == 0 && (hsize < 64 || hsize % 4)) {
				fprintf(stderr, "netmeta-gen: --header-size: a multiple of 4, 64..1024\n");
				rc = -1;
			}
		} else if (strcmp(a, "--flood") == 0)
			flood.kind = v;
		else if (strcmp(a, "--flood-addresses") == 0)
			rc = nm_num(a, v, 254, &flood.addrs);
		else if (strcmp(a, "--flood-sockets") == 0)
			rc = nm_num(a, v, 4096, &flood.socks);
		else if (strcmp(a, "--flood-domains") == 0)
			rc = nm_num(a, v, 1u << 24, &flood.domains);
		else if (strcmp(a, "--flood-templates") == 0)
			rc = nm_num(a, v, 64, &flood.tmpls);
		else if (strcmp(a, "--flood-first-address") == 0)
			rc = nm_num(a, v, 254, &flood.first);
		else if (strcmp(a, "--template-every") == 0)
			rc = nm_num(a, v, UINT32_MAX - 1, &tmpl_every);
		else if (strcmp(a, "--cpu") == 0)
			rc = nm_num(a, v, 4095, &cpu);
		else if (strcmp(a, "--burst") == 0) {
			rc = nm_num(a, v, 1024, &burst);
			if (rc == 0 && burst == 0)
				burst = 1;
		} else if (strcmp(a, "--pool") == 0) {
			rc = nm_num(a, v, 1u << 22, &pool_max);
			if (rc == 0 && pool_max == 0)
				pool_max = 1;
		} else {
			fprintf(stderr, "netmeta-gen: unknown option %s\n", a);
			nm_usage(stderr);
			return 1;
		}
		if (rc)
			return 1;
	}
	if (optind < argc) {
		fprintf(stderr, "netmeta-gen: unknown argument %s\n", argv[optind]);
		nm_usage(stderr);
		return 1;
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
	if (ntypes == 0 || (out != NULL) + (udp != NULL) + (dpdk != NULL) != 1 || exporters == 0) {
		fprintf(stderr, "netmeta-gen: need one of -o FILE, --udp HOST, --dpdk DEVICE, and "
				"--proto sflow|v5|v9|ipfix|all\n");
		return 1;
	}
	if (seconds > 0) {
		if (pps == 0 || out) {
			fprintf(stderr, "netmeta-gen: --seconds needs --udp and --pps\n");
			return 1;
		}
		double n = seconds * pps;
		dgrams = n > 2e9 ? 2000000000u : (uint32_t)(n + 0.5);
	}
	if (cpu != UINT32_MAX) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "netmeta-gen: cannot pin to cpu %u: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	if (flood.kind) {
		struct sockaddr_in6 fto = {0};
		uint8_t v4[4];
		fto.sin6_family = AF_INET6;
		if (udp == NULL || inet_pton(AF_INET, udp, v4) != 1 || flood.addrs == 0 ||
		    flood.socks == 0 || flood.domains == 0 || flood.tmpls == 0) {
			fprintf(stderr, "netmeta-gen: --flood needs --udp with an IPv4 loopback "
					"address and non-zero --flood-* counts\n");
			return 1;
		}
		fto.sin6_addr.s6_addr[10] = fto.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&fto.sin6_addr.s6_addr[12], v4, 4);
		return nm_flood_run(&flood, &fto, port, port_off, pps, dgrams);
	}
	FILE *f = NULL;
	struct sockaddr_in6 to;
	memset(&to, 0, sizeof(to));
	int *socks = NULL;
	if (dpdk) {
		char err[512];
		if (!nm_gen_dpdk_available() || nm_gen_dpdk_open(dpdk, eal, err, sizeof(err)) != 0) {
			fprintf(stderr, "netmeta-gen: --dpdk %s: %s\n", dpdk,
				nm_gen_dpdk_available() ? err : "built without DPDK");
			return 2;
		}
		burst = 1; /* like a capture: the exporters interleave */
	} else if (out) {
		f = fopen(out, "wb");
		if (f == NULL || nm_pcap_write_header(f)) {
			fprintf(stderr, "netmeta-gen: %s: %s\n", out, strerror(errno));
			return 2;
		}
		burst = 1; /* a capture interleaves the exporters datagram by datagram */
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
			if (socks[i] < 0) {
				fprintf(stderr, "netmeta-gen: socket: %s\n", strerror(errno));
				return 2;
			}
			int zero = 0, sndbuf = 4 << 20;
			setsockopt(socks[i], IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			setsockopt(socks[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
			/* To loopback, each exporter sends from an address of its own
			 * (127.0.x.y, or --source + i), as distinct routers would. */
			uint8_t base[4];
			if (source && inet_pton(AF_INET, source, base) == 1) {
				uint32_t a = ((uint32_t)base[0] << 24 | (uint32_t)base[1] << 16 |
					      (uint32_t)base[2] << 8 | base[3]) + i;
				struct sockaddr_in6 from = {0};
				from.sin6_family = AF_INET6;
				from.sin6_addr.s6_addr[10] = from.sin6_addr.s6_addr[11] = 0xff;
				nm_wr32(&from.sin6_addr.s6_addr[12], a);
				if (bind(socks[i], (struct sockaddr *)&from, sizeof(from)) != 0) {
					fprintf(stderr, "netmeta-gen: --source: bind exporter %u: %s\n", i,
						strerror(errno));
					return 2;
				}
			} else if (source) {
				fprintf(stderr, "netmeta-gen: --source: '%s' is not an IPv4 address\n", source);
				return 1;
			} else if (to.sin6_addr.s6_addr[10] == 0xff && to.sin6_addr.s6_addr[12] == 127) {
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
		if (socks == NULL)
			return 2;
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
		if (card)
			c.cardinality = card;
		if (v6pct <= 100)
			c.v6_percent = v6pct;
		if (hsize)
			c.header_size = hsize;
		if (tmpl_every != UINT32_MAX)
			c.tmpl_every = tmpl_every;
		nm_gen_init(&gens[i], &c);
	}
	static const uint16_t ports[5] = {0, 6343, 2055, 2055, 4739};
	uint8_t *buf = malloc(NM_GEN_MAX_DGRAM);
	if (buf == NULL)
		return 2;
	uint64_t t0 = 1767225600ull * 1000000000ull, dg[5] = {0};
	/* Datagram k comes from generator (k / burst) % ngen. */
	if (f || dpdk) {
		double t_start = nm_now();
		for (uint32_t k = 0; k < dgrams; k++) {
			struct nm_gen *g = &gens[k % ngen];
			uint32_t exp = (k % ngen) / (uint32_t)ntypes;
			size_t n = nm_gen_datagram(g, buf, NM_GEN_MAX_DGRAM);
			uint8_t src[4] = {192, 0, 2, (uint8_t)(1 + exp % 250)};
			uint8_t dst[4] = {192, 0, 2, 254};
			src[2] = (uint8_t)(2 + exp / 250);
			uint16_t sport = (uint16_t)(40000 + exp % 20000);
			if (n == 0) {
				fprintf(stderr, "netmeta-gen: datagram too large (fewer --records)\n");
				return 2;
			}
			if (dpdk) {
				/* Paced like the UDP output: ahead of schedule, wait. */
				if (pps && k % 32 == 0)
					while (nm_now() - t_start < (double)k / pps)
						;
				uint8_t h[NM_UDP_HDRS];
				nm_udp_headers(h, src, dst, sport, ports[g->cfg.type], n);
				nm_gen_dpdk_send(h, buf, n);
			} else if (nm_pcap_write_udp(f, t0 + (uint64_t)k * 1000000ull, src, dst, sport,
						     ports[g->cfg.type], buf, n)) {
				fprintf(stderr, "netmeta-gen: %s: write failed\n", out);
				return 2;
			}
			dg[g->cfg.type]++;
		}
		if (dpdk) {
			uint64_t sent, dropped;
			nm_gen_dpdk_close(&sent, &dropped);
			fprintf(stderr, "netmeta-gen: dpdk: %" PRIu64 " frames sent, %" PRIu64
					" refused by the port\n", sent, dropped);
		} else if (fclose(f)) {
			fprintf(stderr, "netmeta-gen: %s: %s\n", out, strerror(errno));
			return 2;
		}
	} else {
		/* Build the pool. */
		uint32_t npool = dgrams < pool_max ? dgrams : pool_max;
		struct nm_pool_ent *pe = calloc(npool ? npool : 1, sizeof(*pe));
		size_t pcap_ = 1 << 20, plen = 0;
		uint8_t *pool = malloc(pcap_);
		if (pe == NULL || pool == NULL)
			return 2;
		/* Built in the capture's order (datagram k from generator k % ngen),
		 * so that every generator sends what it would write with -o. */
		for (uint32_t k = 0; k < npool; k++) {
			uint32_t gi = k % ngen;
			struct nm_gen *g = &gens[gi];
			uint64_t r0 = g->records;
			size_t n = nm_gen_datagram(g, buf, NM_GEN_MAX_DGRAM);
			if (n == 0) {
				fprintf(stderr, "netmeta-gen: datagram too large (fewer --records)\n");
				return 2;
			}
			while (plen + n > pcap_) {
				pcap_ *= 2;
				uint8_t *grown = realloc(pool, pcap_);
				if (grown == NULL) {
					fprintf(stderr, "netmeta-gen: out of memory for the datagram pool\n");
					free(pool);
					return 2;
				}
				pool = grown;
			}
			memcpy(pool + plen, buf, n);
			pe[k] = (struct nm_pool_ent){plen, (uint32_t)n, gi,
						     nm_rd32(buf + nm_seq_off(g->cfg.type)), nm_rd32(buf + 8),
						     (uint32_t)(g->records - r0)};
			plen += n;
		}
		/* Sending order: in each window of burst datagrams per generator,
		 * an exporter's datagrams go together (one sendmmsg), each
		 * generator's in their order. */
		uint32_t *order = malloc((npool ? npool : 1) * sizeof(uint32_t));
		if (order == NULL)
			return 2;
		uint64_t win = (uint64_t)burst * ngen;
		for (uint64_t w0 = 0, o = 0; w0 < npool; w0 += win) {
			uint64_t w1 = w0 + win < npool ? w0 + win : npool;
			for (uint32_t e = 0; e < exporters; e++)
				for (uint64_t q = w0; q < w1; q++)
					if (pe[q].gen / (uint32_t)ntypes == e)
						order[o++] = (uint32_t)q;
		}
		uint32_t maxb = burst * (uint32_t)ntypes;
		/* Sequence advance of each generator per pass over the pool. */
		uint32_t *seq_step = calloc(ngen, sizeof(uint32_t));
		if (seq_step == NULL)
			return 2;
		for (uint32_t i = 0; i < ngen; i++)
			seq_step[i] = gens[i].seq;
		struct mmsghdr *mm = calloc(maxb, sizeof(*mm));
		struct iovec *iov = calloc(maxb, sizeof(*iov));
		struct sockaddr_in6 *dst = calloc(maxb, sizeof(*dst));
		uint64_t rec[5] = {0};
		if (mm == NULL || iov == NULL || dst == NULL)
			return 2;
		double start = nm_now();
		uint64_t sent = 0, enobufs = 0;
		uint32_t k = 0;
		while (k < dgrams) {
			/* One burst: consecutive datagrams of one exporter. */
			uint32_t pk = k % npool, cycle = k / npool;
			uint32_t exp = pe[order[pk]].gen / (uint32_t)ntypes;
			uint32_t nb = 0;
			while (nb < maxb && k + nb < dgrams && pk + nb < npool) {
				const struct nm_pool_ent *e = &pe[order[pk + nb]];
				if (e->gen / (uint32_t)ntypes != exp)
					break;
				struct nm_gen *g = &gens[e->gen];
				uint8_t *d = pool + e->off;
				if (cycle) {
					/* Later passes: fresh header sequence numbers, and
					 * NetFlow's export time a minute on per pass, so
					 * that the flows' absolute times differ. */
					nm_wr32(d + nm_seq_off(g->cfg.type),
						e->seq0 + cycle * seq_step[e->gen]);
					if (g->cfg.type == NM_FLOW_TYPE_NETFLOW_V5 ||
					    g->cfg.type == NM_FLOW_TYPE_NETFLOW_V9)
						nm_wr32(d + 8, e->secs0 + cycle * 60);
				}
				iov[nb].iov_base = d;
				iov[nb].iov_len = e->len;
				dst[nb] = to;
				dst[nb].sin6_port = htons(port ? (uint16_t)port
							       : (uint16_t)(ports[g->cfg.type] + port_off));
				memset(&mm[nb], 0, sizeof(mm[nb]));
				mm[nb].msg_hdr.msg_name = &dst[nb];
				mm[nb].msg_hdr.msg_namelen = sizeof(dst[nb]);
				mm[nb].msg_hdr.msg_iov = &iov[nb];
				mm[nb].msg_hdr.msg_iovlen = 1;
				dg[g->cfg.type]++;
				rec[g->cfg.type] += e->recs;
				nb++;
			}
			if (pps) {
				double due = (double)k / pps, el = nm_now() - start;
				if (due - el > 200e-6) {
					double w = due - el - 100e-6;
					struct timespec ts = {(time_t)w, (long)((w - (double)(time_t)w) * 1e9)};
					nanosleep(&ts, NULL);
				}
				while ((double)k / pps > nm_now() - start)
					;
			}
			uint32_t done = 0;
			while (done < nb) {
				int r = sendmmsg(socks[exp], mm + done, nb - done, 0);
				if (r < 0) {
					if (errno == ENOBUFS || errno == EAGAIN) {
						enobufs++;
						sched_yield();
						continue;
					}
					if (errno == EINTR)
						continue;
					fprintf(stderr, "netmeta-gen: send: %s\n", strerror(errno));
					return 2;
				}
				done += (uint32_t)r;
			}
			sent += nb;
			k += nb;
		}
		double el = nm_now() - start;
		for (uint32_t i = 0; i < exporters; i++)
			close(socks[i]);
		free(socks);
		free(pe);
		free(pool);
		free(seq_step);
		free(order);
		free(mm);
		free(iov);
		free(dst);
		for (int t = 1; t <= 4; t++)
			if (dg[t])
				fprintf(stderr, "generated %s datagrams %" PRIu64 " records %" PRIu64 "\n",
					nm_flow_type_name((enum nm_flow_type)t), dg[t], rec[t]);
		fprintf(stderr, "netmeta-gen: sent %" PRIu64 " datagrams in %.3f s (%.0f/s), %" PRIu64
			" ENOBUFS retries\n", sent, el, el > 0 ? (double)sent / el : 0.0, enobufs);
		free(gens);
		free(buf);
		return 0;
	}
	uint64_t rec[5] = {0};
	for (uint32_t i = 0; i < ngen; i++)
		rec[gens[i].cfg.type] += gens[i].records;
	for (int t = 1; t <= 4; t++)
		if (dg[t])
			fprintf(stderr, "generated %s datagrams %" PRIu64 " records %" PRIu64 "\n",
				nm_flow_type_name((enum nm_flow_type)t), dg[t], rec[t]);
	free(gens);
	free(buf);
	return 0;
}
