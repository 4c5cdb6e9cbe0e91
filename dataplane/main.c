/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * netmeta: the collector daemon.
 *
 *   netmeta [--config FILE] [--check] [--exit-idle S]            socket backend
 *   netmeta EAL-ARGS -- --config FILE [--check] [--exit-idle S]  DPDK backend
 *
 * Reads one YAML config (defaults without one: socket backend, ports 6343
 * sFlow / 2055 NetFlow / 4739 IPFIX, JSON lines on stdout), prints what it
 * will do, checks everything start-up would refuse (--check stops there),
 * runs until SIGINT/SIGTERM, then delivers every batch in flight to
 * the sinks and prints its counters by name on stderr.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NM_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "config.h"
#include "dpdk.h"
#include "linux_in.h"
#include "log.h"
#include "metrics.h"
#include "preflight.h"
#include "sink.h"
#include "sock.h"
#include "state_file.h"
#include "worker.h"

static atomic_bool nm_stop;
static atomic_bool nm_reload; /* SIGHUP: the stats thread re-reads the config */
static atomic_bool nm_drained; /* the sink thread has stopped: main sets it after joining it */

/* systemd's notification socket (Type=notify): READY, RELOADING, STOPPING,
 * WATCHDOG, STATUS. Nothing without libsystemd or outside systemd. */
static void nm_notify(const char *state)
{
#ifdef NM_HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

/* --exit-idle with no packet at all: seconds added to S before stopping. */
#define NM_EXIT_IDLE_GRACE_S 10u

static void nm_on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_store(&nm_reload, true);
	else
		atomic_store(&nm_stop, true);
}

/* The previous stats line's totals, for its rates. */
struct nm_rates {
	uint64_t ns, rx, records, written, delivered, dropped;
};

struct nm_stats_ctx {
	struct nm_rates prev; /* stats thread only */
	uint32_t exit_idle_s; /* --exit-idle: stop after this long without packets */
	const struct nm_config *cfg; /* the start-up config (restart-only keys) */
	struct nm_worker *workers;
	struct nm_sink *sink;
	uint32_t nw; /* workers: the backend's, then one per Linux input */
	const char *path;            /* config file (reload), NULL: defaults */
	struct nm_cfg_live *live;    /* what the workers run with */
	struct nm_metrics *metrics;  /* NULL: off */
	bool nic_said;               /* the first NIC drop was said (stats thread) */
	_Atomic uint64_t reloads_ok, reloads_failed, restart_needed;
};

static uint64_t nm_sum(struct nm_worker *w, uint32_t n, enum nm_wc c)
{
	uint64_t v = 0;
	for (uint32_t i = 0; i < n; i++)
		v += nm_wc_get(&w[i], c);
	return v;
}

/* Appends " name value" for each published drop reason with records. */
struct nm_drops_text {
	char *buf;
	size_t cap;
};

static void nm_drops_fn(void *ctx, const char *name, const char *help, uint64_t v)
{
	(void)help;
	struct nm_drops_text *t = ctx;
	size_t n = strlen(t->buf);
	if (v && n + 1 < t->cap)
		snprintf(t->buf + n, t->cap - n, "%s%s %" PRIu64, n ? ", " : "", name, v);
}

/* The workers' drop reasons: each is said once on stderr when its first
 * record goes (the outputs' are said by the sink thread). */
static const struct {
	enum nm_wc c;
	const char *cause;
} nm_worker_drops[] = {
	{NM_WC_RECORDS_RING_FULL, "the sink's ring was full (the sink is too slow)"},
	{NM_WC_RECORDS_NO_BATCH, "no free batch (every batch waits for the sink)"},
	{NM_WC_KERNEL_DROPS, "the socket's receive buffer overflowed (kernel drops)"},
	{NM_WC_COUNTERS_DROPPED, "an interface counter record found the sink's ring full or no "
				 "free batch"},
};

#define NM_NWORKER_DROPS (sizeof(nm_worker_drops) / sizeof(nm_worker_drops[0]))

static void nm_worker_drops_first(const struct nm_stats_ctx *x, bool *said)
{
	for (size_t i = 0; i < NM_NWORKER_DROPS; i++)
		if (!said[i] && nm_sum(x->workers, x->nw, nm_worker_drops[i].c) != 0) {
			said[i] = true;
			fprintf(stderr, "netmeta: workers: first record dropped: %s (%s)\n",
				nm_worker_drops[i].cause, nm_wc_name(nm_worker_drops[i].c));
		}
}

/* The DPDK ports' drops while running: imissed (the NIC's RX queues were
 * full) and rx_nombuf (no mbuf), read here on the stats thread. */
struct nm_nic_drops {
	uint64_t sum;
	char text[256]; /* "port0_imissed N, port1_rx_nombuf M": those not 0 */
};

static void nm_nic_drops_fn(void *ctx, const struct nm_port_stats *st)
{
	struct nm_nic_drops *d = ctx;
	d->sum += st->missed + st->nombuf;
	const uint64_t v[2] = {st->missed, st->nombuf};
	static const char *const name[2] = {"imissed", "rx_nombuf"};
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(d->text);
		if (v[i] && n + 2 < sizeof(d->text))
			snprintf(d->text + n, sizeof(d->text) - n, "%sport%u_%s %" PRIu64,
				 n ? ", " : "", (unsigned)st->port_id, name[i], v[i]);
	}
}

static void nm_nic_drops(const struct nm_stats_ctx *x, struct nm_nic_drops *d)
{
	d->sum = 0;
	d->text[0] = 0;
	if (x->cfg->backend == NM_BACKEND_DPDK)
		nm_dpdk_port_stats_each(nm_nic_drops_fn, d);
}

static void nm_stats_line(struct nm_stats_ctx *x)
{
	struct nm_worker *w = x->workers;
	uint32_t n = x->nw;
	struct nm_decode_stats d;
	nm_workers_dec_stats(w, n, &d);
	/* the outputs' losses by reason, as the sink thread published them */
	char reasons[1024] = "";
	struct nm_drops_text t = {reasons, sizeof(reasons)};
	nm_sink_drops(x->sink, nm_drops_fn, &t);
	struct nm_nic_drops nic;
	nm_nic_drops(x, &nic);
	fprintf(stderr,
		"netmeta: rx %" PRIu64 " pkts, datagrams %" PRIu64 " (rejected %" PRIu64
		"), records %" PRIu64 " (sent %" PRIu64 ", dropped %" PRIu64 "), counters %" PRIu64
		" (dropped %" PRIu64 "), written %" PRIu64 ", kafka delivered %" PRIu64
		", kernel drops %" PRIu64 ", nic drops %" PRIu64 "%s%s%s, output drops %" PRIu64
		"%s%s%s\n",
		nm_sum(w, n, NM_WC_RX_PACKETS), d.datagrams, d.datagrams - d.datagrams_ok, d.records,
		nm_sum(w, n, NM_WC_RECORDS_SENT),
		nm_sum(w, n, NM_WC_RECORDS_RING_FULL) + nm_sum(w, n, NM_WC_RECORDS_NO_BATCH),
		d.counter_records, nm_sum(w, n, NM_WC_COUNTERS_DROPPED),
		nm_sink_get(x->sink, NM_SINK_CTR_records_written), nm_sink_delivered(x->sink),
		nm_sum(w, n, NM_WC_KERNEL_DROPS), nic.sum, nic.text[0] ? " (" : "", nic.text,
		nic.text[0] ? ")" : "", nm_sink_dropped(x->sink), reasons[0] ? " (" : "", reasons,
		reasons[0] ? ")" : "");
	/* Rates since the previous line, on a line of their own (tools read
	 * the line above as it is). */
	struct nm_rates r = {nm_now_ns(), nm_sum(w, n, NM_WC_RX_PACKETS), d.records,
			     nm_sink_get(x->sink, NM_SINK_CTR_records_written),
			     nm_sink_delivered(x->sink),
			     nm_sum(w, n, NM_WC_RECORDS_RING_FULL) + nm_sum(w, n, NM_WC_RECORDS_NO_BATCH) +
				     nm_sum(w, n, NM_WC_KERNEL_DROPS) + nic.sum + nm_sink_dropped(x->sink)};
	if (x->prev.ns && r.ns > x->prev.ns) {
		double s = (double)(r.ns - x->prev.ns) / 1e9;
#define NM_RATE_(f) ((double)(r.f >= x->prev.f ? r.f - x->prev.f : 0) / s)
		fprintf(stderr,
			"netmeta: rates over %.1f s: rx %.0f pkts/s, records %.0f/s, written %.0f/s, "
			"kafka delivered %.0f/s, drops %.0f/s\n",
			s, NM_RATE_(rx), NM_RATE_(records), NM_RATE_(written), NM_RATE_(delivered),
			NM_RATE_(dropped));
#undef NM_RATE_
	}
	x->prev = r;
}

/* Every counter by name, summed over the workers; per worker for the
 * packet and record counters. */
static void nm_stats_final(const struct nm_stats_ctx *x)
{
	struct nm_worker *w = x->workers;
	uint32_t n = x->nw;
	FILE *o = stderr;
	for (int c = 0; c < NM_WC__COUNT; c++)
		fprintf(o, "%s %" PRIu64 "\n", nm_wc_name((enum nm_wc)c), nm_sum(w, n, (enum nm_wc)c));
	struct nm_decode_stats d;
	nm_workers_dec_stats(w, n, &d);
#define NM_X_(name, help) fprintf(o, "decode_" #name " %" PRIu64 "\n", d.name);
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	for (int e = 1; e < NM_ERR__COUNT; e++)
		if (d.err[e])
			fprintf(o, "err_%s %" PRIu64 "\n", nm_err_name((enum nm_err)e), d.err[e]);
	for (int e = 0; e < NM_EV__COUNT; e++)
		if (d.ev[e])
			fprintf(o, "ev_%s %" PRIu64 "\n", nm_ev_name((enum nm_ev)e), d.ev[e]);
	if (n > 1)
		for (uint32_t i = 0; i < n; i++) {
			struct nm_decode_stats wd;
			nm_worker_dec_stats(&w[i], &wd);
			fprintf(o, "worker%" PRIu32 " rx %" PRIu64 " datagrams %" PRIu64
				   " records %" PRIu64 " exporters %" PRIu32 " templates %" PRIu32 "\n",
				i, nm_wc_get(&w[i], NM_WC_RX_PACKETS),
				nm_wc_get(&w[i], NM_WC_UDP_DATAGRAMS), wd.records,
				nm_decoder_exporter_count(w[i].dec),
				nm_decoder_template_count(w[i].dec));
		}
	nm_sink_print(x->sink, o);
}

/* Every worker ticked at least once (max_age_ns 0), or within the last
 * max_age_ns. */
static bool nm_workers_alive(const struct nm_stats_ctx *x, uint64_t max_age_ns)
{
	uint64_t now = nm_now_ns();
	for (uint32_t i = 0; i < x->nw; i++) {
		uint64_t t = atomic_load_explicit(&x->workers[i].alive_ns, memory_order_relaxed);
		if (t == 0 || (max_age_ns && now > t && now - t > max_age_ns))
			return false;
	}
	return true;
}

/* Waits (bounded) until every worker runs with c. true when they all do. */
static bool nm_workers_on(const struct nm_stats_ctx *x, const struct nm_config *c)
{
	for (int tries = 0; tries < 10000; tries++) {
		bool all = true;
		for (uint32_t i = 0; all && i < x->nw; i++)
			/* a worker without a live config never reads a reloaded one;
			 * acquire pairs with the release store in nm_worker_cfg_switch */
			all = x->workers[i].live == NULL ||
			      atomic_load_explicit(&x->workers[i].cfg_ack, memory_order_acquire) == c;
		if (all)
			return true;
		if (atomic_load(&nm_stop))
			return false;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return false;
}

/*
 * SIGHUP: reads the config file again. What can change under traffic
 * (allowlist, sampling rates, stats interval, log level) is published to
 * the workers as one new config, which each takes at its next tick: a
 * datagram sees the old settings or the new ones, never a mix, and
 * nothing is dropped. Keys a reload cannot apply keep their running
 * values and are reported. A file that does not load changes nothing.
 */
static void nm_stats_reload(struct nm_stats_ctx *x)
{
	if (x->path == NULL) {
		fprintf(stderr, "netmeta: reload: no --config file: nothing to read, nothing changed\n");
		atomic_fetch_add(&x->reloads_failed, 1);
		return;
	}
	struct nm_config *next = malloc(sizeof(*next));
	char err[1400];
	if (next == NULL) {
		fprintf(stderr, "netmeta: reload: out of memory; the running config stays\n");
		atomic_fetch_add(&x->reloads_failed, 1);
		return;
	}
	nm_config_default(next);
	if (nm_config_load(next, x->path, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: reload: %s: %s; the running config stays\n", x->path, err);
		atomic_fetch_add(&x->reloads_failed, 1);
		free(next);
		return;
	}
	const struct nm_config *run = atomic_load_explicit(&x->live->cur, memory_order_relaxed);
	char keys[512];
	int nk = nm_config_restart_keys(x->cfg, next, keys, sizeof(keys));
	if (nk)
		fprintf(stderr,
			"netmeta: reload: %s changed: needs a restart (kept the running value%s)\n",
			keys, nk == 1 ? "" : "s");
	atomic_store(&x->restart_needed, nk ? 1 : 0);
	/* The running config with the reloadable keys of the file. */
	struct nm_config *merged = malloc(sizeof(*merged));
	if (merged == NULL) {
		fprintf(stderr, "netmeta: reload: out of memory; the running config stays\n");
		atomic_fetch_add(&x->reloads_failed, 1);
		free(next);
		return;
	}
	*merged = *run;
	memcpy(merged->allow, next->allow, sizeof(merged->allow));
	merged->nallow = next->nallow;
	memcpy(merged->rates, next->rates, sizeof(merged->rates));
	merged->nrates = next->nrates;
	merged->stats_interval = next->stats_interval;
	merged->log_level = next->log_level;
	/* Outputs' live keys (file rotation): the sink thread takes them
	 * between batches; other output changes were reported above. */
	const char *rot = "";
	if (nm_config_sinks_reloadable(run, next) && memcmp(run->sinks, next->sinks,
							     sizeof(run->sinks)) != 0) {
		if (nm_sink_reconfigure(x->sink, next->sinks, next->nsinks) == 0) {
			memcpy(merged->sinks, next->sinks, sizeof(merged->sinks));
			rot = ", file rotation changed";
		} else {
			rot = ", file rotation unchanged (the outputs have not taken the previous "
			      "reload yet: send SIGHUP again)";
		}
	}
	free(next);
	nm_log_set_level((enum nm_log_level)merged->log_level);
	/* release pairs with the workers' acquire load in nm_worker_tick */
	atomic_store_explicit(&x->live->cur, merged, memory_order_release);
	fprintf(stderr,
		"netmeta: reload: %s: applied (allowlist %" PRIu32 " prefix%s, %" PRIu32
		" sampling rate%s, stats every %" PRIu32 " s%s)\n",
		x->path, merged->nallow, merged->nallow == 1 ? "" : "es", merged->nrates,
		merged->nrates == 1 ? "" : "s", merged->stats_interval, rot);
	atomic_fetch_add(&x->reloads_ok, 1);
	/* The previous one is freed once no worker reads it (the first is
	 * main's and never freed). A worker that does not answer keeps it. */
	if (run != x->cfg) {
		if (nm_workers_on(x, merged))
			free((void *)(uintptr_t)run);
		else
			fprintf(stderr, "netmeta: reload: a worker has not moved to the new config yet; "
					"the old one stays allocated\n");
	}
}

static void *nm_stats_run(void *arg)
{
	struct nm_stats_ctx *x = arg;
	uint64_t last = nm_now_ns(), rx_seen = 0, rx_since = last;
	bool said[NM_NWORKER_DROPS] = {false};
	bool ready = false;
	uint64_t wd_ns = 0, wd_last = 0; /* systemd watchdog: ping every half period */
#ifdef NM_HAVE_SYSTEMD
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0)
		wd_ns = usec * 1000ull / 2;
#endif
	while (!atomic_load(&nm_stop)) {
		if (!ready && nm_workers_alive(x, 0)) {
			/* every worker ticked once: its sockets or queues are up */
			ready = true;
			fprintf(stderr, "netmeta: ready\n");
			nm_notify("READY=1\nSTATUS=collecting");
		}
		if (wd_ns) {
			uint64_t t = nm_now_ns();
			/* Pinged only while every worker ticks: a stuck worker gets
			 * the service restarted. */
			if (t - wd_last >= wd_ns && nm_workers_alive(x, 2 * wd_ns)) {
				nm_notify("WATCHDOG=1");
				wd_last = t;
			}
		}
		if (x->metrics) {
			nm_metrics_poll(x->metrics, 100);
		} else {
			struct timespec ts = {0, 100000000};
			nanosleep(&ts, NULL);
		}
		if (atomic_exchange(&nm_reload, false)) {
			nm_notify("RELOADING=1");
			nm_stats_reload(x);
			nm_notify("READY=1");
		}
		const struct nm_config *lc = atomic_load_explicit(&x->live->cur, memory_order_relaxed);
		uint64_t now = nm_now_ns();
		nm_worker_drops_first(x, said);
		if (!x->nic_said && x->cfg->backend == NM_BACKEND_DPDK) {
			struct nm_nic_drops nic;
			nm_nic_drops(x, &nic);
			if (nic.sum) {
				x->nic_said = true;
				fprintf(stderr,
					"netmeta: ports: first packet dropped by the NIC (%s): imissed: its "
					"RX queues were full (the workers did not keep up); rx_nombuf: no "
					"free mbuf (raise mbufs)\n",
					nic.text);
			}
		}
		uint64_t rx = nm_sum(x->workers, x->nw, NM_WC_RX_PACKETS);
		if (rx != rx_seen) {
			rx_seen = rx;
			rx_since = now;
		} else if (x->exit_idle_s && rx &&
			   now - rx_since >= (uint64_t)x->exit_idle_s * 1000000000ull) {
			fprintf(stderr, "netmeta: no packet for %u s (--exit-idle): stopping\n",
				x->exit_idle_s);
			atomic_store(&nm_stop, true);
		} else if (x->exit_idle_s && rx == 0 &&
			   now - rx_since >= ((uint64_t)x->exit_idle_s + NM_EXIT_IDLE_GRACE_S) *
						  1000000000ull) {
			/* A capture with no packet at all: the start-up grace keeps
			 * a slow start on a loaded machine from ending a real replay
			 * before its first packet. */
			fprintf(stderr,
				"netmeta: no packet at all in %u s (--exit-idle %u + %u s grace): "
				"stopping\n",
				x->exit_idle_s + NM_EXIT_IDLE_GRACE_S, x->exit_idle_s,
				NM_EXIT_IDLE_GRACE_S);
			atomic_store(&nm_stop, true);
		}
		/* decoder state snapshots the workers made (state.interval) */
		for (uint32_t i = 0; x->cfg->state_path[0] && i < x->cfg->workers; i++)
			nm_state_file_flush(&x->workers[i], x->cfg);
		if (lc->stats_interval && now - last >= (uint64_t)lc->stats_interval * 1000000000ull) {
			nm_stats_line(x);
			last = now;
		}
	}
	/* Stopping: the sink drains (Kafka is flushed for up to
	 * flush_timeout_ms). The endpoint keeps answering meanwhile, /readyz
	 * with 503 (nm_stop is its "stopping"), rather than leaving probes
	 * hanging on an accepted connection. */
	while (x->metrics && !atomic_load(&nm_drained))
		nm_metrics_poll(x->metrics, 100);
	return NULL;
}

/* Sink and stats threads: with DPDK, control threads off the worker lcores
 * (their CPUs are the workers' alone); with sockets, plain threads. */
static int nm_thread_start(const struct nm_config *cfg, pthread_t *t, const char *name,
			   void *(*fn)(void *), void *arg)
{
	if (cfg->backend == NM_BACKEND_DPDK)
		return nm_dpdk_thread_create(t, name, fn, arg);
	int rc = pthread_create(t, NULL, fn, arg);
	if (rc == 0)
		pthread_setname_np(*t, name);
	return rc;
}

/*
 * Everything start-up would refuse, found without starting anything (no
 * socket, no EAL, no Kafka connection, nothing written): the memory of the
 * workers' batches and rings, and each output's preflight (the check its
 * open runs first). 0, or -1 with the reason in err.
 */
static int nm_preflight(const struct nm_config *cfg, char *err, size_t errlen)
{
	uint64_t per = nm_worker_mem_bytes(cfg);
	if (per == UINT64_MAX) {
		snprintf(err, errlen, "templates: limits out of the decoder's range");
		return -1;
	}
	uint64_t total = per * (cfg->workers + nm_linux_count(cfg)); /* per < 2^60, workers <= 64 */
	if (cfg->backend == NM_BACKEND_DPDK) /* mbuf pools: data room + headroom + header */
		total += (uint64_t)cfg->nports * cfg->mbufs * (cfg->mbuf_size + 256u);
	char what[700]; /* physical memory, RLIMIT_AS or the cgroup's limit */
	uint64_t limit = nm_preflight_mem_limit(what, sizeof(what));
	if (limit && total > limit) {
		snprintf(err, errlen,
			 "memory: %" PRIu64 " bytes needed (%" PRIu32 " worker%s x %" PRIu64
			 " bytes: batches x batch_records x %zu-byte records, decoder, rings%s), "
			 "more than the %" PRIu64 " bytes of %s: lower batches, "
			 "batch_records or ring_size",
			 total, cfg->workers, cfg->workers == 1 ? "" : "s", per,
			 sizeof(struct nm_flow) > sizeof(struct nm_ctr) ? sizeof(struct nm_flow)
									: sizeof(struct nm_ctr),
			 cfg->backend == NM_BACKEND_DPDK ? "; plus the mbuf pools" : "", limit, what);
		return -1;
	}
	if (nm_linux_check(cfg, err, errlen) != 0)
		return -1;
	if (nm_state_file_check(cfg, err, errlen) != 0)
		return -1;
	return nm_sink_check(cfg->sinks, cfg->nsinks, err, errlen);
}

static void nm_usage(FILE *o)
{
	fprintf(o, "usage: netmeta [OPTIONS]\n"
		   "       netmeta EAL-ARGS -- [OPTIONS]      (dpdk backend)\n"
		   "\n"
		   "The NetMeta flow collector: sFlow v5, NetFlow v5/v9 and IPFIX in, flow\n"
		   "records out to Kafka, files or JSON lines.\n"
		   "\n"
		   "  -c, --config FILE  YAML configuration (see netmeta(8) and\n"
		   "                     netmeta.example.yaml); defaults without it\n"
		   "      --check        validate the configuration and preflight it (memory,\n"
		   "                     paths, Kafka properties, ports bound and closed at\n"
		   "                     once; starts nothing), print the summary, exit 0 when\n"
		   "                     start-up would accept it (DPDK devices: only at start)\n"
		   "      --log-format F bare (default: lines as they are), plain (timestamped,\n"
		   "                     levelled) or json; overrides log.format\n"
		   "      --exit-idle S  stop once packets came and then none for S seconds\n"
		   "                     (replaying a capture through a net_pcap vdev); with no\n"
		   "                     packet at all, stop after S + 10 seconds\n"
		   "  -h, --help         this text\n"
		   "  -V, --version      the version\n"
		   "\n"
		   "Signals: SIGTERM/SIGINT stop (every batch in flight is delivered, then the\n"
		   "counters print on stderr); SIGHUP re-reads the configuration.\n");
}

/* Options after "--" with DPDK, all of argv otherwise. -1: exit 1; 0: go
 * on; 1: exit 0 (help, version). */
static int nm_options(int argc, char **argv, const char **config, int *check,
		      unsigned long *exit_idle, int *log_format)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"exit-idle", required_argument, NULL, 'e'},
		{"log-format", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*config = optarg;
			break;
		case 'k':
			*check = 1;
			break;
		case 'e': {
			char *end;
			*exit_idle = strtoul(optarg, &end, 10);
			if (*end || *exit_idle == 0 || *exit_idle > 86400) {
				fprintf(stderr, "netmeta: --exit-idle: expected seconds (1..86400)\n");
				return -1;
			}
			break;
		}
		case 'l':
			*log_format = nm_log_format_parse(optarg);
			if (*log_format < 0) {
				fprintf(stderr, "netmeta: --log-format: expected bare, plain or json\n");
				return -1;
			}
			break;
		case 'h':
			nm_usage(stdout);
			return 1;
		case 'V':
			printf("netmeta %s\n", NM_VERSION);
			return 1;
		case ':':
			fprintf(stderr, "netmeta: %s needs a value\n", argv[optind - 1]);
			nm_usage(stderr);
			return -1;
		default:
			fprintf(stderr, "netmeta: unknown argument '%s'\n", argv[optind - 1]);
			nm_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "netmeta: unknown argument '%s'\n", argv[optind]);
		nm_usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = nm_now_ns();
	int dd = -1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	const char *config = NULL;
	int check = 0;
	unsigned long exit_idle = 0;
	/* With EAL arguments, ours follow "--" (which stands in for argv[0]).
	 * Without, --help and --version work anywhere. */
	int log_format = -1;
	int orc = dd < 0 ? nm_options(argc, argv, &config, &check, &exit_idle, &log_format)
			 : nm_options(argc - dd, argv + dd, &config, &check, &exit_idle, &log_format);
	if (orc != 0)
		return orc < 0 ? 1 : 0;
	static struct nm_config cfg;
	char err[1400];
	nm_config_default(&cfg);
	if (config && nm_config_load(&cfg, config, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: %s: %s\n", config, err);
		return 1;
	}
	if (log_format >= 0)
		cfg.log_format = (uint32_t)log_format;
	nm_log_set_level((enum nm_log_level)cfg.log_level);
	/* Every line from here on, whoever writes it (librdkafka included),
	 * through the relay; atexit lets it write the last ones. */
	if (nm_log_start((enum nm_log_format)cfg.log_format) == 0)
		atexit(nm_log_stop);
	else
		fprintf(stderr, "netmeta: warning: log.format: no pipe for the log relay: lines stay bare\n");
	if (cfg.backend == NM_BACKEND_SOCKET && dd >= 0) {
		fprintf(stderr, "netmeta: EAL arguments given but the config says backend: socket\n");
		return 1;
	}
	if (cfg.backend == NM_BACKEND_DPDK && !nm_dpdk_available()) {
		fprintf(stderr, "netmeta: backend dpdk: this build has no DPDK (libdpdk-dev missing)\n");
		return 1;
	}
	nm_config_print(&cfg, stderr);
	if (nm_preflight(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: %s\n", err);
		return 1;
	}
	/* Last, so that a port in use (a running instance's) means every other
	 * check passed; start-up meets these when it binds. */
	if (check && nm_preflight_ports(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: %s\n", err);
		return 1;
	}
	if (check) {
		fprintf(stderr, "netmeta: --check: configuration ok\n");
		return 0;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = nm_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int eal_argc = dd < 0 ? 0 : dd;
	if (cfg.backend == NM_BACKEND_DPDK && nm_dpdk_init(eal_argc, argv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "netmeta: dpdk: %s\n", err);
		return 1;
	}
	uint8_t *ports = nm_port_table(&cfg);
	uint32_t nw = cfg.workers + nm_linux_count(&cfg); /* Linux inputs after the backend's */
	struct nm_worker *workers = calloc(nw, sizeof(*workers));
	struct nm_sink_producer *prod = calloc(nw, sizeof(*prod));
	struct nm_linux *lx = NULL;
	struct nm_exptab *etabs = cfg.metrics_listen[0] ? calloc(nw, sizeof(*etabs)) : NULL;
	static struct nm_sink sink;
	static struct nm_cfg_live live;
	atomic_store_explicit(&live.cur, &cfg, memory_order_relaxed);
	pthread_t sink_tid, stats_tid;
	int rc = 1;
	if (ports == NULL || workers == NULL || prod == NULL || (cfg.metrics_listen[0] && !etabs)) {
		fprintf(stderr, "netmeta: out of memory\n");
		goto out;
	}
	for (uint32_t i = 0; i < nw; i++) {
		if (nm_worker_init(&workers[i], i, &cfg, ports) != 0 ||
		    (etabs && nm_exptab_init(&etabs[i], cfg.metrics_max_exporters,
					     nm_now_ns() * 0x9e3779b97f4a7c15ull + i) != 0)) {
			fprintf(stderr,
				"netmeta: worker %" PRIu32
				": out of memory for its decoder, batches or rings\n",
				i);
			goto out;
		}
		workers[i].live = &live;
		workers[i].etab = etabs ? &etabs[i] : NULL;
		prod[i] = (struct nm_sink_producer){workers[i].full, workers[i].free};
		if (cfg.state_path[0] && i < cfg.workers) /* the backend's workers decode exports */
			nm_state_file_load(&workers[i], &cfg);
	}
	/* The sink sees rings and its own outputs' configuration, nothing else. */
	nm_sink_init(&sink, cfg.sinks, cfg.nsinks, prod, nw);
	static struct nm_stats_ctx sx;
	sx.exit_idle_s = (uint32_t)exit_idle;
	sx.cfg = &cfg;
	sx.workers = workers;
	sx.sink = &sink;
	sx.nw = nw;
	sx.path = config;
	sx.live = &live;
	/* A second instance is refused for its listen ports, before the
	 * metrics endpoint binds: with the same metrics.listen it would
	 * otherwise die on that port's "Address already in use" instead. */
	if (cfg.backend == NM_BACKEND_SOCKET && nm_sock_ports_free(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: %s\n", err);
		goto out;
	}
	if (cfg.metrics_listen[0]) {
		struct nm_metrics_src ms = {
			workers, nw, &sink, cfg.metrics_max_exporters, &nm_stop, start_ns,
			&sx.reloads_ok, &sx.reloads_failed, &sx.restart_needed, &live.cur};
		sx.metrics = nm_metrics_start(cfg.metrics_listen, &ms, err, sizeof(err));
		if (sx.metrics == NULL) {
			fprintf(stderr, "netmeta: %s\n", err);
			goto out;
		}
	}
	if (nm_thread_start(&cfg, &sink_tid, "nm-sink", nm_sink_run, &sink) != 0) {
		fprintf(stderr, "netmeta: cannot start the sink thread\n");
		goto out;
	}
	if (nm_sink_wait_ready(&sink, err, sizeof(err)) != 0) {
		fprintf(stderr, "netmeta: %s\n", err);
		pthread_join(sink_tid, NULL);
		goto out;
	}
	if (nm_thread_start(&cfg, &stats_tid, "nm-stats", nm_stats_run, &sx) != 0) {
		fprintf(stderr, "netmeta: cannot start the stats thread\n");
		nm_sink_stop(&sink);
		pthread_join(sink_tid, NULL);
		nm_sink_free(&sink);
		goto out;
	}

	if (nw > cfg.workers &&
	    (lx = nm_linux_start(&cfg, workers + cfg.workers, &nm_stop, err, sizeof(err))) == NULL) {
		rc = -1;
		atomic_store(&nm_stop, true);
	} else {
		rc = cfg.backend == NM_BACKEND_DPDK
			     ? nm_dpdk_run(&cfg, workers, &nm_stop, err, sizeof(err))
			     : nm_sock_run(&cfg, workers, &nm_stop, err, sizeof(err));
	}
	if (rc != 0)
		fprintf(stderr, "netmeta: %s\n", err);
	atomic_store(&nm_stop, true);
	nm_linux_join(lx); /* its workers finished: their last batches are in the rings */
	nm_notify("STOPPING=1");
	/* The backends return once their workers have finished and pushed
	 * their last batches: the sink drains them and stops. */
	nm_sink_stop(&sink);
	pthread_join(sink_tid, NULL);
	atomic_store(&nm_drained, true);
	pthread_join(stats_tid, NULL);
	/* Every record a worker sent reached the outputs. */
	assert(nm_sink_get(&sink, NM_SINK_CTR_records_written) ==
	       nm_sum(workers, nw, NM_WC_RECORDS_SENT));
	assert(nm_sink_get(&sink, NM_SINK_CTR_counters_written) ==
	       nm_sum(workers, nw, NM_WC_COUNTERS_SENT));
	nm_stats_final(&sx);
	nm_linux_print(lx, stderr);
	/* The workers have stopped: their decoders can be read. Only a worker
	 * that ran (ticked at least once) saves: a start that was refused
	 * (ports in use by another netmeta) or failed before the workers ran
	 * must not write over the file of the instance that owns it. */
	for (uint32_t i = 0; cfg.state_path[0] && i < cfg.workers; i++)
		if (atomic_load_explicit(&workers[i].alive_ns, memory_order_relaxed) != 0)
			nm_state_file_save(&workers[i], &cfg);
	nm_sink_free(&sink);
	if (cfg.backend == NM_BACKEND_DPDK)
		nm_dpdk_port_stats(stderr);
	rc = rc == 0 ? 0 : 1;
out:
	nm_metrics_stop(sx.metrics);
	if (cfg.backend == NM_BACKEND_DPDK)
		nm_dpdk_cleanup();
	nm_linux_free(lx);
	{
		/* the last reloaded config (the first is static) */
		const struct nm_config *lc = atomic_load(&live.cur);
		if (lc != &cfg)
			free((void *)(uintptr_t)lc);
	}
	for (uint32_t i = 0; workers && i < nw; i++)
		nm_worker_free(&workers[i]);
	for (uint32_t i = 0; etabs && i < nw; i++)
		nm_exptab_free(&etabs[i]);
	free(etabs);
	free(workers);
	free(prod);
	free(ports);
	return rc;
}
