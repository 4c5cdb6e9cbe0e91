/* SPDX-License-Identifier: BSD-3-Clause */
#include "metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dpdk.h"
#include "linux_in.h"
#include "sock.h"
#include "util.h"

/* Connections served at once, per client address, and how long an idle
 * or slow one is kept: a scraper needs one; a stuck one is dropped. */
#define NM_METRICS_CONNS 32
#define NM_METRICS_CONNS_PER_IP 8
#define NM_METRICS_TIMEOUT_S 5

struct nm_metrics {
	struct MHD_Daemon *d;
	int epfd;
	struct nm_metrics_src src;
};

/* ---- text building ---- */

struct nm_text {
	char *p;
	size_t n, cap;
	bool oom;
};

static void nm_text_printf(struct nm_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void nm_text_printf(struct nm_text *t, const char *fmt, ...)
{
	if (t->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
		va_end(ap);
		if (k < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)k < t->cap - t->n) {
			t->n += (size_t)k;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)k;
		char *p = realloc(t->p, cap);
		if (p == NULL) {
			t->oom = true;
			return;
		}
		t->p = p;
		t->cap = cap;
	}
}

static void nm_family(struct nm_text *t, const char *name, const char *type, const char *help)
{
	nm_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- families from the worker counters ---- */

static void nm_lower(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = 0;
}

/* Where a worker counter goes: family name, and a label (key="value") or
 * none. Packet outcomes share one family with an `outcome` label, record
 * drops one with a `reason` label (Prometheus: labels, not names). */
static void nm_wc_family(enum nm_wc c, char *fam, size_t fcap, char *lab, size_t lcap,
			 const char **help)
{
	char low[64];
	nm_lower(low, sizeof(low), nm_wc_name(c));
	lab[0] = 0;
	*help = NULL;
	if (c >= NM_WC_UDP_DATAGRAMS && c <= NM_WC_ICMP_REPLIED) {
		snprintf(fam, fcap, "netmeta_packets_total");
		snprintf(lab, lcap, "outcome=\"%s\"", low);
		*help = "received packets by outcome: each packet lands in exactly one "
			"(their sum is netmeta_rx_packets_total)";
	} else if (c == NM_WC_RECORDS_RING_FULL || c == NM_WC_RECORDS_NO_BATCH) {
		snprintf(fam, fcap, "netmeta_records_dropped_total");
		snprintf(lab, lcap, "reason=\"%s\"", c == NM_WC_RECORDS_RING_FULL ? "ring_full" : "no_batch");
		*help = "flow records a worker dropped, by reason";
	} else if (c == NM_WC_COUNTERS_DROPPED) {
		snprintf(fam, fcap, "netmeta_counter_records_dropped_total");
	} else if (c == NM_WC_COUNTERS_SENT) {
		snprintf(fam, fcap, "netmeta_counter_records_sent_total");
	} else if (c == NM_WC_KERNEL_DROPS) {
		snprintf(fam, fcap, "netmeta_kernel_dropped_datagrams_total");
	} else {
		snprintf(fam, fcap, "netmeta_%s_total", low);
	}
}

static const char *const nm_wc_help[] = {
#define NM_X_(name, msg) msg,
	NM_WORKER_COUNTERS(NM_X_)
#undef NM_X_
};

struct nm_wsnap {
	uint64_t ctr[NM_WC__COUNT];
	struct nm_decode_stats d;
	uint64_t held, cheld;
};

static void nm_render_workers(struct nm_text *t, const struct nm_metrics_src *src,
			      const struct nm_wsnap *ws)
{
	uint32_t n = src->nworkers;
	bool done[NM_WC__COUNT] = {false};
	for (int c = 0; c < NM_WC__COUNT; c++) {
		if (done[c])
			continue;
		char fam[96], lab[96];
		const char *help;
		nm_wc_family((enum nm_wc)c, fam, sizeof(fam), lab, sizeof(lab), &help);
		nm_family(t, fam, "counter", help ? help : nm_wc_help[c]);
		/* this family's counters, each per worker */
		for (int c2 = c; c2 < NM_WC__COUNT; c2++) {
			char fam2[96], lab2[96];
			const char *h2;
			nm_wc_family((enum nm_wc)c2, fam2, sizeof(fam2), lab2, sizeof(lab2), &h2);
			if (strcmp(fam, fam2) != 0)
				continue;
			done[c2] = true;
			for (uint32_t w = 0; w < n; w++)
				nm_text_printf(t, "%s{worker=\"%" PRIu32 "\"%s%s} %" PRIu64 "\n", fam2, w,
					       lab2[0] ? "," : "", lab2, ws[w].ctr[c2]);
		}
	}
	nm_family(t, "netmeta_records_held", "gauge",
		  "flow records decoded and still in the worker's batch (records = sent + dropped "
		  "+ held)");
	for (uint32_t w = 0; w < n; w++)
		nm_text_printf(t, "netmeta_records_held{worker=\"%" PRIu32 "\"} %" PRIu64 "\n", w,
			       ws[w].held);
	nm_family(t, "netmeta_counter_records_held", "gauge",
		  "interface counter records decoded and still in the worker's batch");
	for (uint32_t w = 0; w < n; w++)
		nm_text_printf(t, "netmeta_counter_records_held{worker=\"%" PRIu32 "\"} %" PRIu64 "\n",
			       w, ws[w].cheld);
}

static void nm_render_decode(struct nm_text *t, const struct nm_metrics_src *src,
			     const struct nm_wsnap *ws)
{
	uint32_t n = src->nworkers;
#define NM_X_(name, help)                                                                         \
	nm_family(t, "netmeta_decode_" #name "_total", "counter", help);                          \
	for (uint32_t w = 0; w < n; w++)                                                          \
		nm_text_printf(t, "netmeta_decode_" #name "_total{worker=\"%" PRIu32 "\"} %" PRIu64 \
				  "\n",                                                           \
			       w, ws[w].d.name);
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	nm_family(t, "netmeta_decode_errors_total", "counter",
		  "decode errors by name; fatal ones reject the datagram (datagrams = "
		  "datagrams_ok + the fatal ones)");
	for (int e = 1; e < NM_ERR__COUNT; e++)
		for (uint32_t w = 0; w < n; w++)
			nm_text_printf(t,
				       "netmeta_decode_errors_total{worker=\"%" PRIu32
				       "\",error=\"%s\",fatal=\"%s\"} %" PRIu64 "\n",
				       w, nm_err_name((enum nm_err)e),
				       nm_err_is_fatal((enum nm_err)e) ? "true" : "false", ws[w].d.err[e]);
	nm_family(t, "netmeta_decode_events_total", "counter", "decoder events by name");
	for (int e = 0; e < NM_EV__COUNT; e++)
		for (uint32_t w = 0; w < n; w++)
			nm_text_printf(t,
				       "netmeta_decode_events_total{worker=\"%" PRIu32
				       "\",event=\"%s\"} %" PRIu64 "\n",
				       w, nm_ev_name((enum nm_ev)e), ws[w].d.ev[e]);
}

/* ---- the sink's counters: sink_<name>, <type><index>_<name> ---- */

struct nm_sample {
	char fam[112];
	char lab[112];
	const char *help;
	bool gauge;
	uint64_t v;
};

struct nm_samples {
	struct nm_sample *s;
	uint32_t n, cap;
};

static void nm_sink_sample_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	struct nm_samples *ss = ctx;
	if (ss->n == ss->cap)
		return;
	struct nm_sample *s = &ss->s[ss->n++];
	s->help = help && help[0] ? help : "see the README, Running the collector";
	s->gauge = help && strstr(help, "(gauge)") != NULL;
	s->v = v;
	s->lab[0] = 0;
	const char *suffix = s->gauge ? "" : "_total";
	if (strncmp(name, "sink_", 5) == 0) {
		snprintf(s->fam, sizeof(s->fam), "netmeta_%s%s", name, suffix);
		return;
	}
	/* <type><index>_<name>: the output is a label */
	const char *us = strchr(name, '_');
	size_t olen = us ? (size_t)(us - name) : strlen(name);
	const char *rest = us ? us + 1 : "";
	if (strncmp(rest, "failed_", 7) == 0) {
		snprintf(s->fam, sizeof(s->fam), "netmeta_output_failed_by_reason_total");
		snprintf(s->lab, sizeof(s->lab), "output=\"%.*s\",reason=\"%s\"", (int)olen, name,
			 rest + 7);
		s->help = "records an output dropped, by librdkafka error";
		return;
	}
	if (strncmp(rest, "broker_rtt_us_", 14) == 0) {
		snprintf(s->fam, sizeof(s->fam), "netmeta_output_broker_rtt_microseconds");
		snprintf(s->lab, sizeof(s->lab), "output=\"%.*s\",broker=\"%s\"", (int)olen, name,
			 rest + 14);
		return;
	}
	snprintf(s->fam, sizeof(s->fam), "netmeta_output_%s%s", rest, suffix);
	snprintf(s->lab, sizeof(s->lab), "output=\"%.*s\"", (int)olen, name);
}

static void nm_render_sink(struct nm_text *t, const struct nm_metrics_src *src)
{
	static _Thread_local struct nm_sample buf[NM_SINK_MAX_LIVE];
	struct nm_samples ss = {buf, 0, NM_SINK_MAX_LIVE};
	nm_sink_live(src->sink, nm_sink_sample_fn, &ss);
	bool done[NM_SINK_MAX_LIVE] = {false};
	for (uint32_t i = 0; i < ss.n; i++) {
		if (done[i])
			continue;
		nm_family(t, buf[i].fam, buf[i].gauge ? "gauge" : "counter", buf[i].help);
		for (uint32_t k = i; k < ss.n; k++) {
			if (done[k] || strcmp(buf[k].fam, buf[i].fam) != 0)
				continue;
			done[k] = true;
			if (buf[k].lab[0])
				nm_text_printf(t, "%s{%s} %" PRIu64 "\n", buf[k].fam, buf[k].lab, buf[k].v);
			else
				nm_text_printf(t, "%s %" PRIu64 "\n", buf[k].fam, buf[k].v);
		}
	}
}

/* ---- per exporter ---- */

static void nm_addr_text(const struct nm_addr *a, char *out, size_t cap)
{
	if (nm_addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, out, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, a->b, out, (socklen_t)cap);
}

enum nm_exp_field { NM_EF_DGRAMS, NM_EF_RECORDS, NM_EF_LOST, NM_EF_TMPL, NM_EF_SEEN, NM_EF_RATE };

static const struct {
	const char *fam, *type, *help;
} nm_exp_fam[] = {
	{"netmeta_exporter_datagrams_total", "counter", "datagrams from the exporter"},
	{"netmeta_exporter_records_total", "counter", "flow records decoded from the exporter"},
	{"netmeta_exporter_sequence_lost_total", "counter",
	 "lost as the export's sequence numbers count (IPFIX, NetFlow v5: records; NetFlow v9, "
	 "sFlow: datagrams)"},
	{"netmeta_exporter_templates", "gauge", "templates the decoder holds for the exporter"},
	{"netmeta_exporter_last_seen_seconds", "gauge",
	 "receive time of the exporter's last datagram (Unix time)"},
	{"netmeta_exporter_sampling_rate", "gauge",
	 "sampling rate of the exporter's last record (0: unknown)"},
};

static void nm_render_exporters(struct nm_text *t, const struct nm_metrics_src *src)
{
	uint32_t n = src->nworkers;
	for (size_t f = 0; f < sizeof(nm_exp_fam) / sizeof(nm_exp_fam[0]); f++) {
		nm_family(t, nm_exp_fam[f].fam, nm_exp_fam[f].type, nm_exp_fam[f].help);
		for (uint32_t w = 0; w < n; w++) {
			const struct nm_exptab *et = src->workers[w].etab;
			if (et == NULL)
				continue;
			for (uint32_t i = 0; i <= et->mask; i++) {
				const struct nm_exptab_slot *s = &et->slot[i];
				/* acquire pairs with the release store that published the key */
				if (!atomic_load_explicit(&s->used, memory_order_acquire))
					continue;
				char a[64];
				nm_addr_text(&s->addr, a, sizeof(a));
				nm_text_printf(t,
					       "%s{worker=\"%" PRIu32 "\",exporter=\"%s\",domain=\"%" PRIu32
					       "\",protocol=\"%s\"} ",
					       nm_exp_fam[f].fam, w, a, s->domain,
					       nm_exptab_proto_name(s->proto));
				switch ((enum nm_exp_field)f) {
				case NM_EF_DGRAMS:
					nm_text_printf(t, "%" PRIu64 "\n", atomic_load_explicit(&s->datagrams, memory_order_relaxed));
					break;
				case NM_EF_RECORDS:
					nm_text_printf(t, "%" PRIu64 "\n", atomic_load_explicit(&s->records, memory_order_relaxed));
					break;
				case NM_EF_LOST:
					nm_text_printf(t, "%" PRIu64 "\n", atomic_load_explicit(&s->seq_lost, memory_order_relaxed));
					break;
				case NM_EF_TMPL:
					nm_text_printf(t, "%" PRIu64 "\n", atomic_load_explicit(&s->templates, memory_order_relaxed));
					break;
				case NM_EF_SEEN: {
					uint64_t ns = atomic_load_explicit(&s->last_ns, memory_order_relaxed);
					nm_text_printf(t, "%" PRIu64 ".%03" PRIu64 "\n", (uint64_t)(ns / 1000000000u),
						       (uint64_t)(ns / 1000000u % 1000));
					break;
				}
				case NM_EF_RATE:
					nm_text_printf(t, "%" PRIu64 "\n", atomic_load_explicit(&s->rate, memory_order_relaxed));
					break;
				}
			}
		}
	}
	nm_family(t, "netmeta_exporter_series", "gauge", "exporters with series, per worker");
	for (uint32_t w = 0; w < n; w++)
		if (src->workers[w].etab)
			nm_text_printf(t, "netmeta_exporter_series{worker=\"%" PRIu32 "\"} %" PRIu32 "\n", w,
				       atomic_load_explicit(&src->workers[w].etab->used_pub,
							    memory_order_relaxed));
	nm_family(t, "netmeta_exporter_series_limit", "gauge",
		  "most exporters with series per worker (metrics.max_exporters)");
	nm_text_printf(t, "netmeta_exporter_series_limit %" PRIu32 "\n", src->exporter_cap);
	nm_family(t, "netmeta_exporter_untracked_datagrams_total", "counter",
		  "datagrams of exporters beyond the series limit (the cap was hit)");
	for (uint32_t w = 0; w < n; w++)
		if (src->workers[w].etab)
			nm_text_printf(t,
				       "netmeta_exporter_untracked_datagrams_total{worker=\"%" PRIu32
				       "\"} %" PRIu64 "\n",
				       w,
				       atomic_load_explicit(&src->workers[w].etab->untracked,
							    memory_order_relaxed));
}

/* ---- ports: DPDK ports' ethdev statistics, the sockets' kernel drops ---- */

struct nm_ports {
	struct nm_port_stats p[NM_CFG_MAX_PORTS];
	uint32_t n;
};

static void nm_port_fn(void *ctx, const struct nm_port_stats *st)
{
	struct nm_ports *ps = ctx;
	if (ps->n < NM_CFG_MAX_PORTS)
		ps->p[ps->n++] = *st;
}

static const struct {
	const char *fam, *help;
	size_t off;
} nm_port_fam[] = {
	{"netmeta_port_packets_total", "packets the DPDK port received (ethdev ipackets)",
	 offsetof(struct nm_port_stats, packets)},
	{"netmeta_port_bytes_total", "bytes the DPDK port received (ethdev ibytes)",
	 offsetof(struct nm_port_stats, bytes)},
	{"netmeta_port_missed_total",
	 "packets the NIC dropped because its RX queues were full (ethdev imissed): the "
	 "workers did not keep up",
	 offsetof(struct nm_port_stats, missed)},
	{"netmeta_port_errors_total", "erroneous frames the port received (ethdev ierrors)",
	 offsetof(struct nm_port_stats, errors)},
	{"netmeta_port_nombuf_total",
	 "packets the port could not receive for want of an mbuf (ethdev rx_nombuf): raise mbufs",
	 offsetof(struct nm_port_stats, nombuf)},
};

/* The stats thread reads the ports' statistics here (rte_eth_stats_get is
 * safe from a control thread); workers never do. */
static void nm_render_ports(struct nm_text *t, const struct nm_config *cfg)
{
	if (cfg->backend == NM_BACKEND_DPDK) {
		static _Thread_local struct nm_ports ps;
		ps.n = 0;
		nm_dpdk_port_stats_each(nm_port_fn, &ps);
		for (size_t f = 0; ps.n && f < sizeof(nm_port_fam) / sizeof(nm_port_fam[0]); f++) {
			nm_family(t, nm_port_fam[f].fam, "counter", nm_port_fam[f].help);
			for (uint32_t i = 0; i < ps.n; i++) {
				uint64_t v;
				memcpy(&v, (const char *)&ps.p[i] + nm_port_fam[f].off, sizeof(v));
				nm_text_printf(t, "%s{port=\"%u\"} %" PRIu64 "\n", nm_port_fam[f].fam,
					       (unsigned)ps.p[i].port_id, v);
			}
		}
		return;
	}
	/* socket backend: one socket per worker and listen port */
	nm_family(t, "netmeta_port_kernel_dropped_datagrams_total", "counter",
		  "datagrams the kernel dropped at a worker's socket of a UDP port, its receive "
		  "buffer full (SO_RXQ_OVFL; the sum is netmeta_kernel_dropped_datagrams_total)");
	for (uint32_t k = 0; k < cfg->nlisten; k++)
		for (uint32_t w = 0; w < cfg->workers; w++)
			nm_text_printf(t,
				       "netmeta_port_kernel_dropped_datagrams_total{port=\"%u\",worker=\"%" PRIu32
				       "\"} %" PRIu64 "\n",
				       (unsigned)cfg->listen[k].port, w, nm_sock_kernel_drops(w, k));
}

/* ---- the Linux inputs' own counters (NM_LINUX_COUNTERS) ---- */

/* Family and label of each: what several inputs share (overruns) or what
 * differs only by kind (conntrack events) is one family with a label. */
static const struct {
	enum nm_lc c;
	const char *fam, *lab;
} nm_lc_fam[] = {
	{NM_LC_NFLOG_PACKETS, "netmeta_nflog_packets_total", ""},
	{NM_LC_NFLOG_NOT_IP, "netmeta_nflog_not_ip_packets_total", ""},
	{NM_LC_NFLOG_HDR_CUT, "netmeta_nflog_header_cut_records_total", ""},
	{NM_LC_NFLOG_OVERRUNS, "netmeta_linux_input_overruns_total", "input=\"nflog\""},
	{NM_LC_NFLOG_SEQ_LOST, "netmeta_nflog_sequence_lost_total", ""},
	{NM_LC_NFLOG_PREFIX_CUT, "netmeta_nflog_prefix_cut_records_total", ""},
	{NM_LC_CT_NEW, "netmeta_conntrack_events_total", "event=\"new\""},
	{NM_LC_CT_DESTROY, "netmeta_conntrack_events_total", "event=\"destroy\""},
	{NM_LC_CT_DUMPED, "netmeta_conntrack_dumped_connections_total", ""},
	{NM_LC_CT_REPLY_EMPTY, "netmeta_conntrack_reply_empty_total", ""},
	{NM_LC_CT_NO_COUNTERS, "netmeta_conntrack_no_accounting_total", ""},
	{NM_LC_CT_OVERRUNS, "netmeta_linux_input_overruns_total", "input=\"conntrack\""},
	{NM_LC_CT_EVENTS_DROPPED, "netmeta_conntrack_events_dropped_total", ""},
	{NM_LC_CT_RESYNC_DUMPS, "netmeta_conntrack_resync_dumps_total", ""},
	{NM_LC_CT_RESYNC_LIVE, "netmeta_conntrack_resync_connections_total", ""},
	{NM_LC_CT_DUMP_FAILED, "netmeta_conntrack_dumps_failed_total", ""},
};

#define NM_NLC_FAM (sizeof(nm_lc_fam) / sizeof(nm_lc_fam[0]))
_Static_assert(NM_NLC_FAM == NM_LC__COUNT, "every Linux input counter has a family");

static const char *const nm_lc_help[] = {
#define NM_X_(name, msg) msg,
	NM_LINUX_COUNTERS(NM_X_)
#undef NM_X_
};

static bool nm_lc_on(const struct nm_config *cfg, enum nm_lc c)
{
	return strncmp(nm_lc_name(c), "NFLOG_", 6) == 0 ? cfg->nflog.on : cfg->conntrack.on;
}

static void nm_render_linux(struct nm_text *t, const struct nm_config *cfg)
{
	if (!cfg->nflog.on && !cfg->conntrack.on)
		return;
	/* which worker each input is (its records, rings and drops are that
	 * worker's series): the backend's workers first, then nflog, conntrack */
	nm_family(t, "netmeta_linux_input_info", "gauge",
		  "the Linux inputs that run, and the worker label of each");
	uint32_t w = cfg->workers;
	if (cfg->nflog.on)
		nm_text_printf(t, "netmeta_linux_input_info{input=\"nflog\",worker=\"%" PRIu32 "\"} 1\n",
			       w++);
	if (cfg->conntrack.on)
		nm_text_printf(t,
			       "netmeta_linux_input_info{input=\"conntrack\",worker=\"%" PRIu32 "\"} 1\n",
			       w);
	bool done[NM_NLC_FAM] = {false};
	for (size_t i = 0; i < NM_NLC_FAM; i++) {
		if (done[i] || !nm_lc_on(cfg, nm_lc_fam[i].c))
			continue;
		const char *help = nm_lc_help[nm_lc_fam[i].c];
		if (strcmp(nm_lc_fam[i].fam, "netmeta_linux_input_overruns_total") == 0)
			help = "socket overruns (ENOBUFS) of a Linux input: the kernel dropped messages";
		else if (strcmp(nm_lc_fam[i].fam, "netmeta_conntrack_events_total") == 0)
			help = "conntrack events received, by kind";
		nm_family(t, nm_lc_fam[i].fam, "counter", help);
		for (size_t k = i; k < NM_NLC_FAM; k++) {
			if (done[k] || strcmp(nm_lc_fam[k].fam, nm_lc_fam[i].fam) != 0 ||
			    !nm_lc_on(cfg, nm_lc_fam[k].c))
				continue;
			done[k] = true;
			uint64_t v = nm_linux_counter(nm_lc_fam[k].c);
			if (nm_lc_fam[k].lab[0])
				nm_text_printf(t, "%s{%s} %" PRIu64 "\n", nm_lc_fam[k].fam,
					       nm_lc_fam[k].lab, v);
			else
				nm_text_printf(t, "%s %" PRIu64 "\n", nm_lc_fam[k].fam, v);
		}
	}
}

char *nm_metrics_render(const struct nm_metrics_src *src, size_t *len)
{
	struct nm_text t = {malloc(65536), 0, 65536, false};
	if (t.p == NULL)
		return NULL;
	struct nm_wsnap *ws = calloc(src->nworkers ? src->nworkers : 1, sizeof(*ws));
	if (ws == NULL) {
		free(t.p);
		return NULL;
	}
	for (uint32_t w = 0; w < src->nworkers; w++)
		nm_worker_snapshot(&src->workers[w], ws[w].ctr, &ws[w].d, &ws[w].held, &ws[w].cheld);
	nm_family(&t, "netmeta_build_info", "gauge", "the collector's version");
	nm_text_printf(&t, "netmeta_build_info{version=\"%s\"} 1\n", NM_VERSION);
	nm_family(&t, "netmeta_start_time_seconds", "gauge", "process start (Unix time)");
	nm_text_printf(&t, "netmeta_start_time_seconds %" PRIu64 "\n", (uint64_t)(src->start_ns / 1000000000u));
	nm_family(&t, "netmeta_workers", "gauge", "worker threads or lcores");
	nm_text_printf(&t, "netmeta_workers %" PRIu32 "\n", src->nworkers);
	if (src->reloads_ok) {
		nm_family(&t, "netmeta_reloads_total", "counter",
			  "configuration reloads (SIGHUP) by result");
		nm_text_printf(&t, "netmeta_reloads_total{result=\"ok\"} %" PRIu64 "\n",
			       atomic_load_explicit(src->reloads_ok, memory_order_relaxed));
		nm_text_printf(&t, "netmeta_reloads_total{result=\"failed\"} %" PRIu64 "\n",
			       atomic_load_explicit(src->reloads_failed, memory_order_relaxed));
		nm_family(&t, "netmeta_reload_restart_needed", "gauge",
			  "1: the file on disk changes keys a reload cannot apply (restart needed)");
		nm_text_printf(&t, "netmeta_reload_restart_needed %" PRIu64 "\n",
			       atomic_load_explicit(src->reload_restart_needed, memory_order_relaxed));
	}
	nm_render_workers(&t, src, ws);
	nm_render_decode(&t, src, ws);
	nm_render_sink(&t, src);
	nm_render_exporters(&t, src);
	const struct nm_config *cfg =
		src->cfg ? atomic_load_explicit(src->cfg, memory_order_acquire) : NULL;
	if (cfg) {
		nm_render_ports(&t, cfg);
		nm_render_linux(&t, cfg);
	}
	free(ws);
	if (t.oom) {
		free(t.p);
		return NULL;
	}
	*len = t.n;
	return t.p;
}

/* ---- HTTP ---- */

static enum MHD_Result nm_reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
				enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result nm_handle(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_len, void **req)
{
	(void)version;
	(void)upload;
	const struct nm_metrics *m = cls;
	static const char *const text = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return nm_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)(uintptr_t) "GET only\n", 9,
				MHD_RESPMEM_PERSISTENT, text);
	if (*req == NULL) { /* first call: headers only */
		static int seen;
		*req = &seen;
		return MHD_YES;
	}
	if (*upload_len) { /* a GET with a body: ignored */
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0) {
		size_t len;
		char *body = nm_metrics_render(&m->src, &len);
		if (body == NULL)
			return nm_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
					(char *)(uintptr_t) "out of memory\n", 14, MHD_RESPMEM_PERSISTENT,
					text);
		return nm_reply(c, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE,
				"text/plain; version=0.0.4; charset=utf-8");
	}
	if (strcmp(url, "/healthz") == 0)
		return nm_reply(c, MHD_HTTP_OK, (char *)(uintptr_t) "ok\n", 3, MHD_RESPMEM_PERSISTENT,
				text);
	if (strcmp(url, "/readyz") == 0) {
		bool ok = nm_sink_accepting(m->src.sink) &&
			  !atomic_load_explicit(m->src.stopping, memory_order_relaxed);
		for (uint32_t w = 0; ok && w < m->src.nworkers; w++)
			ok = atomic_load_explicit(&m->src.workers[w].alive_ns, memory_order_relaxed) != 0;
		return ok ? nm_reply(c, MHD_HTTP_OK, (char *)(uintptr_t) "ready\n", 6,
				     MHD_RESPMEM_PERSISTENT, text)
			  : nm_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				     (char *)(uintptr_t) "not ready\n", 10, MHD_RESPMEM_PERSISTENT,
				     text);
	}
	return nm_reply(c, MHD_HTTP_NOT_FOUND,
			(char *)(uintptr_t) "not found (/metrics, /healthz, /readyz)\n", 40,
			MHD_RESPMEM_PERSISTENT, text);
}

int nm_metrics_parse_listen(const char *s, void *ss_, unsigned *socklen)
{
	struct sockaddr_storage *ss = ss_;
	char host[80];
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s || strlen(s) >= sizeof(host))
		return -1;
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == 0 || port == 0 || port > 65535)
		return -1;
	size_t hl = (size_t)(colon - s);
	memcpy(host, s, hl);
	host[hl] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return -1;
		*socklen = sizeof(*a);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)(void *)ss;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return -1;
	*socklen = sizeof(*a);
	return 0;
}

static void nm_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap; /* a client's protocol errors are the client's: not logged */
}

struct nm_metrics *nm_metrics_start(const char *addr, const struct nm_metrics_src *src,
				    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned sl;
	if (nm_metrics_parse_listen(addr, &ss, &sl) != 0) {
		snprintf(err, errlen, "metrics.listen: '%s': expected host:port", addr);
		return NULL;
	}
	/* Our own socket, bound here so the error is ours (EADDRINUSE). */
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
		snprintf(err, errlen, "metrics.listen: %s: %s", addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	struct nm_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		close(fd);
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->src = *src;
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, nm_handle, m,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)NM_METRICS_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned)NM_METRICS_CONNS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)NM_METRICS_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)32768, MHD_OPTION_EXTERNAL_LOGGER, nm_mhd_log, NULL,
				MHD_OPTION_END);
	const union MHD_DaemonInfo *di =
		m->d ? MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
	if (di == NULL) {
		snprintf(err, errlen, "metrics: libmicrohttpd would not start on %s", addr);
		if (m->d)
			MHD_stop_daemon(m->d);
		close(fd);
		free(m);
		return NULL;
	}
	m->epfd = di->epoll_fd;
	return m;
}

void nm_metrics_poll(struct nm_metrics *m, unsigned timeout_ms)
{
	MHD_UNSIGNED_LONG_LONG to;
	if (MHD_get_timeout(m->d, &to) == MHD_YES && to < timeout_ms)
		timeout_ms = (unsigned)to;
	struct pollfd p = {m->epfd, POLLIN, 0};
	poll(&p, 1, (int)timeout_ms);
	MHD_run(m->d);
}

void nm_metrics_stop(struct nm_metrics *m)
{
	if (m == NULL)
		return;
	int fd = MHD_quiesce_daemon(m->d);
	MHD_stop_daemon(m->d);
	if (fd >= 0)
		close(fd);
	free(m);
}
