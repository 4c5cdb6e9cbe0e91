/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta-decode: the offline decoder. Reads pcap/pcapng files, finds the
 * flow exports in them (by payload, whatever the UDP port), keeps template
 * state across the whole input and prints one record per line.
 *
 *   netmeta-decode [--json | --pb] [--template-lifetime S] FILE...
 *
 * Link types: Ethernet (with 802.1Q/802.1ad/QinQ tags), Linux cooked v1 and
 * v2, BSD loopback (NULL and LOOP), raw IP (RAW, IPV4, IPV6).
 *
 * Exit status: 0 when every file was read (malformed datagrams are counted,
 * not fatal), 1 on bad usage, 2 when a file could not be read, 3 when a
 * capture holds packets of a link type it cannot decode (nothing was read
 * from it).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "flow_json.h"
#include "pcap_link.h"
#include "pkt.h"

enum nm_out { NM_OUT_JSON, NM_OUT_PB };

struct nm_tool {
	enum nm_out out;
	int counters_pb; /* --pb --counters: InterfaceCounters messages in the stream too */
	struct nm_flow_batch *flows; /* flushed first, so output keeps datagram order */
	uint64_t pkt_res[NM_PKT__COUNT];
	uint64_t proto_seen[5];
	uint64_t pcap_packets;
};

static void nm_tool_flush(struct nm_flow_batch *b, void *ctx)
{
	struct nm_tool *t = ctx;
	static char buf[NM_FLOW_JSON_MAX];
	static unsigned char pb[2048];
	for (uint32_t i = 0; i < b->n; i++) {
		if (t->out == NM_OUT_JSON) {
			size_t n = nm_flow_json(&b->recs[i], buf, sizeof(buf));
			buf[n++] = '\n';
			fwrite(buf, 1, n, stdout);
		} else {
			size_t n = nm_flow_pb_delimited(&b->recs[i], pb, sizeof(pb));
			fwrite(pb, 1, n, stdout);
		}
	}
	b->n = 0;
}

static void nm_tool_flush_ctr(struct nm_ctr_batch *b, void *ctx)
{
	struct nm_tool *t = ctx;
	static char buf[NM_FLOW_JSON_MAX];
	static unsigned char pb[2048];
	nm_tool_flush(t->flows, t); /* records before these counters come first */
	for (uint32_t i = 0; i < b->n; i++) {
		if (t->out == NM_OUT_JSON) {
			size_t n = nm_ctr_json(&b->recs[i], buf, sizeof(buf));
			buf[n++] = '\n';
			fwrite(buf, 1, n, stdout);
		} else if (t->counters_pb) {
			size_t n = nm_ctr_pb_delimited(&b->recs[i], pb, sizeof(pb));
			fwrite(pb, 1, n, stdout);
		}
	}
	b->n = 0;
}

/* Returns 0, -1 when the file could not be read, -2 when its packets are of a
 * link type nm_pkt_parse() does not know (none could be read). */
static int nm_read_file(const char *path, struct nm_tool *t, struct nm_decoder *d,
			struct nm_reasm *ra, struct nm_flow_batch *b)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (pc == NULL) {
		fprintf(stderr, "netmeta-decode: %s: %s\n", path, errbuf);
		return -1;
	}
	int dlt = pcap_datalink(pc);
	int link = nm_linktype_of_dlt(dlt);
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	uint64_t packets = 0, unknown = 0;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		t->pcap_packets++;
		packets++;
		struct nm_udp_view u;
		enum nm_pkt_res res = nm_pkt_parse(ra, link, data, h->caplen, &u);
		t->pkt_res[res]++;
		unknown += res == NM_PKT_LINK_UNKNOWN;
		if (res != NM_PKT_UDP)
			continue;
		struct nm_pkt_meta m;
		m.exporter = u.src;
		m.src_port = u.sport;
		m.time_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		t->proto_seen[nm_decode_sniff(u.payload, u.len)]++;
		nm_decode_any(d, &m, u.payload, u.len, b);
	}
	if (rc == -1)
		fprintf(stderr, "netmeta-decode: %s: %s (records before it were decoded)\n", path,
			pcap_geterr(pc));
	pcap_close(pc);
	if (packets && unknown == packets) {
		const char *name = pcap_datalink_val_to_name(dlt);
		fprintf(stderr,
			"netmeta-decode: %s: link type %s%sDLT %d%s not supported: none of "
			"its %" PRIu64 " packets decoded (supported: Ethernet, Linux cooked "
			"v1/v2, BSD loopback, raw IP)\n",
			path, name ? name : "", name ? " (" : "", dlt, name ? ")" : "", packets);
		return -2;
	}
	return 0;
}

static void nm_print_stats(const struct nm_tool *t, const struct nm_decoder *d)
{
	const struct nm_decode_stats *s = nm_decoder_stats(d);
	FILE *o = stderr;
	fprintf(o, "pcap_packets %" PRIu64 "\n", t->pcap_packets);
	for (int i = 0; i < NM_PKT__COUNT; i++)
		if (t->pkt_res[i])
			fprintf(o, "pkt_%s %" PRIu64 "\n", nm_pkt_res_name((enum nm_pkt_res)i),
				t->pkt_res[i]);
	for (int i = 1; i < 5; i++)
		if (t->proto_seen[i])
			fprintf(o, "datagrams_%s %" PRIu64 "\n", nm_flow_type_name((enum nm_flow_type)i),
				t->proto_seen[i]);
	fprintf(o, "datagrams %" PRIu64 "\n", s->datagrams);
	fprintf(o, "datagrams_ok %" PRIu64 "\n", s->datagrams_ok);
	fprintf(o, "records %" PRIu64 "\n", s->records);
	fprintf(o, "counter_records %" PRIu64 "\n", s->counter_records);
	for (int i = 1; i < NM_ERR__COUNT; i++)
		if (s->err[i])
			fprintf(o, "err_%s %" PRIu64 "\n", nm_err_name((enum nm_err)i), s->err[i]);
	for (int i = 0; i < NM_EV__COUNT; i++)
		if (s->ev[i])
			fprintf(o, "ev_%s %" PRIu64 "\n", nm_ev_name((enum nm_ev)i), s->ev[i]);
	fprintf(o, "exporters %" PRIu32 "\ntemplates %" PRIu32 "\n", nm_decoder_exporter_count(d),
		nm_decoder_template_count(d));
}

static void nm_usage(FILE *o)
{
	fprintf(o,
		"usage: netmeta-decode [--json | --pb [--counters]] [--template-lifetime SECONDS] FILE...\n"
		"  Decodes sFlow v5, NetFlow v5/v9 and IPFIX exports found in pcap/pcapng files.\n"
		"  --json      one JSON object per flow record (default); sFlow interface\n"
		"              counters as objects with \"Type\": \"SFLOW_5_COUNTERS\"\n"
		"  --pb        length-delimited protobuf FlowMessage stream (proto/flow.proto)\n"
		"  --counters  with --pb: InterfaceCounters messages in the stream too\n"
		"  Link types: Ethernet (802.1Q/QinQ), Linux cooked v1/v2, BSD loopback, raw IP.\n"
		"  Counters go to stderr. Exit 0 = read, 2 = a file could not be read,\n"
		"  3 = a capture's link type is not supported (nothing decoded from it).\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n");
}

int main(int argc, char **argv)
{
	struct nm_tool t;
	memset(&t, 0, sizeof(t));
	struct nm_decode_cfg cfg;
	nm_decode_cfg_default(&cfg);
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"pb", no_argument, NULL, 'p'},
		{"counters", no_argument, NULL, 'c'},
		{"template-lifetime", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, ":hV", opts, NULL)) != -1) {
		switch (o) {
		case 'j':
			t.out = NM_OUT_JSON;
			break;
		case 'p':
			t.out = NM_OUT_PB;
			break;
		case 'c':
			t.counters_pb = 1;
			break;
		case 't': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == 0 || v > UINT32_MAX) {
				fprintf(stderr, "netmeta-decode: --template-lifetime: not a number of seconds: %s\n",
					optarg);
				return 1;
			}
			cfg.template_lifetime_s = (uint32_t)v;
			break;
		}
		case 'h':
			nm_usage(stdout);
			return 0;
		case 'V':
			printf("netmeta-decode %s\n", NM_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "netmeta-decode: %s needs a value\n", argv[optind - 1]);
			nm_usage(stderr);
			return 1;
		default:
			fprintf(stderr, "netmeta-decode: unknown option %s\n", argv[optind - 1]);
			nm_usage(stderr);
			return 1;
		}
	}
	int first = optind;
	if (first >= argc) {
		nm_usage(stderr);
		return 1;
	}
	size_t msz = nm_decoder_mem_size(&cfg);
	void *mem = aligned_alloc(64, (msz + 63) & ~(size_t)63);
	struct nm_reasm *ra = malloc(sizeof(*ra));
	struct nm_flow_batch b = {calloc(1024, sizeof(struct nm_flow)), 0, 1024, nm_tool_flush, &t};
	if (mem == NULL || ra == NULL || b.recs == NULL) {
		fprintf(stderr, "netmeta-decode: out of memory\n");
		return 2;
	}
	struct nm_decoder *d = nm_decoder_init(mem, msz, &cfg);
	if (d == NULL) {
		fprintf(stderr, "netmeta-decode: decoder configuration rejected\n");
		return 2;
	}
	struct nm_ctr_batch cb = {calloc(256, sizeof(struct nm_ctr)), 0, 256, nm_tool_flush_ctr, &t};
	if (cb.recs == NULL) {
		fprintf(stderr, "netmeta-decode: out of memory\n");
		return 2;
	}
	nm_decoder_set_ctr_batch(d, &cb);
	t.flows = &b;
	nm_reasm_init(ra);
	static char obuf[1 << 16];
	setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
	int status = 0;
	for (int i = first; i < argc; i++) {
		int rc = nm_read_file(argv[i], &t, d, ra, &b);
		if (rc == -1)
			status = 2;
		else if (rc == -2 && status == 0)
			status = 3;
	}
	nm_tool_flush(&b, &t);
	nm_tool_flush_ctr(&cb, &t);
	fflush(stdout);
	nm_print_stats(&t, d);
	free(b.recs);
	free(cb.recs);
	free(ra);
	free(mem);
	return status;
}
