/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The metrics endpoint: Prometheus text exposition (version 0.0.4, which
 * OpenMetrics scrapers read too) of every counter the collector has, live,
 * on /metrics; /healthz (the process answers) and /readyz (the sinks take
 * records). libmicrohttpd runs without a thread of its own: the stats
 * thread calls nm_metrics_poll() in its loop, so no worker ever serves a
 * request, and a slow or garbage client costs the stats thread one
 * non-blocking step at a time (connection timeout, connection limits).
 *
 * Everything is read the way the stats line reads it: per-worker
 * snapshots under a sequence count, the sink's published table, relaxed
 * loads of the per-exporter tables. Workers never take a lock for it.
 */
#ifndef NM_METRICS_H
#define NM_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "worker.h"

/* What the endpoint reads. Every pointer outlives the endpoint. */
struct nm_metrics_src {
	struct nm_worker *workers;
	uint32_t nworkers;
	struct nm_sink *sink;
	uint32_t exporter_cap;        /* per worker (metrics.max_exporters) */
	const atomic_bool *stopping;  /* shutdown begun: /readyz says 503 */
	uint64_t start_ns;            /* process start, ns since the epoch */
	const _Atomic uint64_t *reloads_ok, *reloads_failed, *reload_restart_needed;
	const _Atomic(const struct nm_config *) *cfg; /* the running configuration */
};

struct nm_metrics;

/*
 * Binds listen ("host:port", IPv6 in brackets) and prepares the daemon.
 * Returns the endpoint, or NULL with the reason in err.
 */
struct nm_metrics *nm_metrics_start(const char *listen, const struct nm_metrics_src *src,
				    char *err, size_t errlen);

/* Waits up to timeout_ms for HTTP activity and serves what is ready.
 * Stats thread only. */
void nm_metrics_poll(struct nm_metrics *m, unsigned timeout_ms);

void nm_metrics_stop(struct nm_metrics *m);

/* The /metrics body (malloc'd, NUL-terminated; *len its length), or NULL
 * when out of memory. */
char *nm_metrics_render(const struct nm_metrics_src *src, size_t *len);

/* Parses "host:port" / "[v6]:port" into a socket address. 0 or -1. */
int nm_metrics_parse_listen(const char *s, void *sockaddr_storage, unsigned *socklen);

#endif
