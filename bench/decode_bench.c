/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * decode-bench: decode-only throughput, records/s on one pinned core.
 *
 *   decode-bench [--seconds S] [--cpu N] [--only TYPE] [--records N] [PCAP...]
 *
 * For each protocol (NetFlow v5, v9, IPFIX) it generates a large input with
 * flowgen (4096 datagrams, varied values, 10 % IPv6, template refresh every
 * 64 datagrams, sampler options), loads it in memory and decodes it in a
 * loop for S seconds into a batch that is recycled (no output cost). Then
 * the same for the UDP payloads of each pcap given. Prints one line per
 * input: records, datagrams, seconds, records/s, ns/record. --only runs one
 * generated protocol (NETFLOW_V5, NETFLOW_V9, IPFIX or SFLOW_5; for profiles).
 * --records N sets the records (sFlow: samples) per generated datagram, as
 * netmeta-gen's --records does for the peers' runs (default: flowgen's).
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "flowgen.h"
#include "pcap_link.h"
#include "pkt.h"

struct nm_input {
	uint8_t *data;   /* concatenated payloads */
	size_t *off;     /* start of each payload */
	size_t *len;
	struct nm_addr *src;
	uint16_t *sport;
	size_t n, cap, bytes, bcap;
};

static void nm_input_add(struct nm_input *in, const uint8_t *p, size_t len,
			 const struct nm_addr *src, uint16_t sport)
{
	if (in->n == in->cap) {
		in->cap = in->cap ? in->cap * 2 : 1024;
		in->off = realloc(in->off, in->cap * sizeof(*in->off));
		in->len = realloc(in->len, in->cap * sizeof(*in->len));
		in->src = realloc(in->src, in->cap * sizeof(*in->src));
		in->sport = realloc(in->sport, in->cap * sizeof(*in->sport));
	}
	while (in->bytes + len > in->bcap) {
		in->bcap = in->bcap ? in->bcap * 2 : 1 << 20;
		in->data = realloc(in->data, in->bcap);
	}
	if (!in->off || !in->len || !in->src || !in->sport || !in->data) {
		fprintf(stderr, "decode-bench: out of memory\n");
		exit(2);
	}
	memcpy(in->data + in->bytes, p, len);
	in->off[in->n] = in->bytes;
	in->len[in->n] = len;
	in->src[in->n] = *src;
	in->sport[in->n] = sport;
	in->bytes += len;
	in->n++;
}

static void nm_input_free(struct nm_input *in)
{
	free(in->data);
	free(in->off);
	free(in->len);
	free(in->src);
	free(in->sport);
	memset(in, 0, sizeof(*in));
}

static double nm_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: on a shared machine the wall clock also counts
 * the time other jobs held the core; this does not. */
static double nm_cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void nm_drop(struct nm_flow_batch *b, void *ctx)
{
	(void)ctx;
	b->n = 0;
}

static void nm_run(const char *name, const struct nm_input *in, double seconds)
{
	struct nm_decode_cfg cfg;
	nm_decode_cfg_default(&cfg);
	size_t msz = nm_decoder_mem_size(&cfg);
	void *mem = aligned_alloc(64, (msz + 63) & ~(size_t)63);
	struct nm_flow *recs = aligned_alloc(64, 256 * sizeof(struct nm_flow));
	if (mem == NULL || recs == NULL || in->n == 0) {
		fprintf(stderr, "decode-bench: %s: nothing to run\n", name);
		free(mem);
		free(recs);
		return;
	}
	struct nm_decoder *d = nm_decoder_init(mem, msz, &cfg);
	struct nm_flow_batch b = {recs, 0, 256, nm_drop, NULL};
	struct nm_pkt_meta m;
	memset(&m, 0, sizeof(m));
	m.time_ns = 1767225600ull * 1000000000ull;
	/* Warm-up pass: learns templates, touches memory. */
	for (size_t i = 0; i < in->n; i++) {
		m.exporter = in->src[i];
		m.src_port = in->sport[i];
		nm_decode_any(d, &m, in->data + in->off[i], in->len[i], &b);
	}
	uint64_t rec0 = nm_decoder_stats(d)->records, dg0 = nm_decoder_stats(d)->datagrams;
	double t0 = nm_now(), t1, c0 = nm_cpu_now();
	do {
		for (int rep = 0; rep < 16; rep++) {
			for (size_t i = 0; i < in->n; i++) {
				m.exporter = in->src[i];
				m.src_port = in->sport[i];
				nm_decode_any(d, &m, in->data + in->off[i], in->len[i], &b);
			}
		}
		t1 = nm_now();
	} while (t1 - t0 < seconds);
	double cpu = nm_cpu_now() - c0;
	const struct nm_decode_stats *s = nm_decoder_stats(d);
	uint64_t rec = s->records - rec0, dg = s->datagrams - dg0;
	double el = t1 - t0;
	/* Baseline, same run, same input: read every byte of every datagram
	 * (a checksum). Decode time over this time normalises machine noise. */
	volatile uint64_t sink = 0;
	uint64_t passes = 0;
	double b0 = nm_now(), b1;
	do {
		for (size_t i = 0; i < in->n; i++) {
			const uint8_t *q = in->data + in->off[i];
			uint64_t acc = 0;
			for (size_t k = 0; k < in->len[i]; k++)
				acc += q[k];
			sink += acc;
		}
		passes++;
		b1 = nm_now();
	} while (b1 - b0 < seconds / 4);
	(void)sink; /* written so that the sum cannot be optimised away, never read */
	double base_per_dgram = (b1 - b0) / ((double)passes * (double)in->n);
	double dec_per_dgram = el / (double)dg;
	printf("%-40s %12" PRIu64 " rec %9" PRIu64 " dgr %5.2f s %8.2f Mrec/s %6.1f ns/rec  x%.2f of byte-sum"
	       "  cpu %.2f s %.2f Mrec/s\n",
	       name, rec, dg, el, (double)rec / el / 1e6, rec ? el * 1e9 / (double)rec : 0.0,
	       dec_per_dgram / base_per_dgram, cpu, cpu > 0 ? (double)rec / cpu / 1e6 : 0.0);
	fflush(stdout);
	free(mem);
	free(recs);
}

static void nm_gen_input(struct nm_input *in, enum nm_flow_type t, uint32_t recs)
{
	struct nm_gen_cfg c;
	nm_gen_cfg_default(&c, t);
	if (recs && (t != NM_FLOW_TYPE_NETFLOW_V5 || recs <= 30))
		c.recs_per_dgram = recs;
	struct nm_gen g;
	nm_gen_init(&g, &c);
	uint8_t buf[9000];
	struct nm_addr src;
	const uint8_t a[4] = {192, 0, 2, 1};
	nm_addr_set_v4(&src, a);
	for (int i = 0; i < 4096; i++) {
		size_t n = nm_gen_datagram(&g, buf, sizeof(buf));
		nm_input_add(in, buf, n, &src, 40000);
	}
}

static int nm_pcap_input(struct nm_input *in, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "decode-bench: %s: %s\n", path, errbuf);
		return -1;
	}
	static struct nm_reasm ra;
	nm_reasm_init(&ra);
	int link = nm_linktype_of_dlt(pcap_datalink(pc));
	struct pcap_pkthdr *h;
	const u_char *data;
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct nm_udp_view u;
		if (nm_pkt_parse(&ra, link, data, h->caplen, &u) == NM_PKT_UDP)
			nm_input_add(in, u.payload, u.len, &u.src, u.sport);
	}
	pcap_close(pc);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = 3;
	int cpu = -1, first = argc;
	const char *only = NULL;
	uint32_t recs = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
			cpu = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
			recs = (uint32_t)atoi(argv[++i]);
		} else {
			first = i;
			break;
		}
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			fprintf(stderr, "decode-bench: cannot pin to cpu %d: %s\n", cpu, strerror(errno));
	}
	static const enum nm_flow_type types[4] = {NM_FLOW_TYPE_NETFLOW_V5, NM_FLOW_TYPE_NETFLOW_V9,
						   NM_FLOW_TYPE_IPFIX, NM_FLOW_TYPE_SFLOW_5};
	for (int t = 0; t < 4; t++) {
		if (only && strcmp(only, nm_flow_type_name(types[t])) != 0)
			continue;
		struct nm_input in;
		memset(&in, 0, sizeof(in));
		nm_gen_input(&in, types[t], recs);
		char name[64];
		if (recs)
			snprintf(name, sizeof(name), "generated %s x%u", nm_flow_type_name(types[t]),
				 (unsigned)recs);
		else
			snprintf(name, sizeof(name), "generated %s", nm_flow_type_name(types[t]));
		nm_run(name, &in, seconds);
		nm_input_free(&in);
	}
	for (int i = first; i < argc; i++) {
		struct nm_input in;
		memset(&in, 0, sizeof(in));
		if (nm_pcap_input(&in, argv[i]) == 0 && in.n) {
			const char *base = strrchr(argv[i], '/');
			nm_run(base ? base + 1 : argv[i], &in, seconds / 3);
		}
		nm_input_free(&in);
	}
	return 0;
}
