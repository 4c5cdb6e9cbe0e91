/* SPDX-License-Identifier: BSD-3-Clause */
#include "dpdk.h"

#include "util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "dpdk_pkt.h"

#define NM_FRAG_BUCKETS 4096  /* per worker at most: 4096 x 4 = 16 k datagrams in flight */
#define NM_FRAG_ENTRIES 4
#define NM_FRAG_TTL_MS 2000

static struct nm_dport nm_dports[NM_CFG_MAX_PORTS];
static uint32_t nm_ndports;
static struct rte_mempool *nm_pools[RTE_MAX_NUMA_NODES];
static uint64_t nm_sampler_boot_ns; /* sFlow agent uptime origin */

bool nm_dpdk_available(void)
{
	return true;
}

/* "net_pcap0,rx_pcap=x" -> "net_pcap0" (the ethdev name of a vdev). */
static void nm_dev_name(const char *devargs, char *name, size_t cap)
{
	size_t n = strcspn(devargs, ",");
	if (n >= cap)
		n = cap - 1;
	memcpy(name, devargs, n);
	name[n] = 0;
}

static int nm_port_setup(struct nm_dport *dp, uint32_t nworkers, const struct nm_config *cfg,
			 char *err, size_t errlen)
{
	uint16_t pid = dp->port_id;
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0) {
		snprintf(err, errlen, "%s: device info: %s", dp->cfg->device, rte_strerror(-rc));
		return -1;
	}
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	/* A mirror port's packets are traffic: RSS by 5-tuple spreads flows,
	 * not exporters, over the workers (issue 14). */
	uint64_t rss = info.flow_type_rss_offloads &
		       (dp->mirror ? RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP
				   : RTE_ETH_RSS_IP);
	/* RSS on IP addresses only: every packet of an exporter, fragments
	 * included, lands on one queue. Without RSS, one queue. */
	if (nworkers > 1 && rss && info.max_rx_queues >= nworkers) {
		dp->nrxq = (uint16_t)nworkers;
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss;
	} else {
		dp->nrxq = 1;
	}
	dp->ntxq = (uint16_t)(nworkers < info.max_tx_queues ? nworkers : info.max_tx_queues);
	if (dp->ntxq == 0)
		dp->ntxq = 1;
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
	rc = rte_eth_dev_configure(pid, dp->nrxq, dp->ntxq, &conf);
	if (rc != 0) {
		snprintf(err, errlen, "%s: configure (%u rx, %u tx queues): %s", dp->cfg->device,
			 dp->nrxq, dp->ntxq, rte_strerror(-rc));
		return -1;
	}
	uint16_t nrx = (uint16_t)cfg->rx_desc, ntx = 512;
	rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nrx, &ntx);
	int socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = 0;
	if (nm_pools[socket] == NULL) {
		char name[32];
		snprintf(name, sizeof(name), "nm_mbufs_%d", socket);
		nm_pools[socket] = rte_pktmbuf_pool_create(
			name, cfg->mbufs, 256, 0, (uint16_t)(cfg->mbuf_size + RTE_PKTMBUF_HEADROOM),
			socket);
		if (nm_pools[socket] == NULL) {
			snprintf(err, errlen, "mbufs: pool of %u on socket %d: %s", cfg->mbufs, socket,
				 rte_strerror(rte_errno));
			return -1;
		}
	}
	for (uint16_t q = 0; q < dp->nrxq; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nrx, (unsigned)socket, NULL, nm_pools[socket]);
		if (rc != 0) {
			snprintf(err, errlen,
				 "%s: rx queue %u: %s (mbufs: %u; a pcap replayed with infinite_rx "
				 "needs one mbuf per packet)",
				 dp->cfg->device, q, rte_strerror(-rc), cfg->mbufs);
			return -1;
		}
	}
	for (uint16_t q = 0; q < dp->ntxq; q++) {
		rc = rte_eth_tx_queue_setup(pid, q, ntx, (unsigned)socket, NULL);
		if (rc != 0) {
			snprintf(err, errlen, "%s: tx queue %u: %s", dp->cfg->device, q,
				 rte_strerror(-rc));
			return -1;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc != 0) {
		snprintf(err, errlen, "%s: start: %s", dp->cfg->device, rte_strerror(-rc));
		return -1;
	}
	rte_eth_macaddr_get(pid, &dp->mac);
	rte_eth_allmulticast_enable(pid); /* neighbour solicitations */
	if (dp->cfg->accept_any_destination || dp->mirror)
		rte_eth_promiscuous_enable(pid);
	return 0;
}

int nm_dpdk_init(int argc, char **argv, struct nm_config *cfg, char *err, size_t errlen)
{
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, errlen, "EAL init failed: %s", rte_strerror(rte_errno));
		return -1;
	}
	unsigned nl = rte_lcore_count();
	if (nl < 2) {
		snprintf(err, errlen,
			 "EAL gave %u lcore; the main lcore runs control, workers need more "
			 "(e.g. -l 0-%u for %u workers)",
			 nl, cfg->workers, cfg->workers);
		return -1;
	}
	if (nl - 1 < cfg->workers) {
		snprintf(err, errlen,
			 "workers: %u configured, but EAL has %u worker lcore%s (-l / --lcores)",
			 cfg->workers, nl - 1, nl - 1 == 1 ? "" : "s");
		return -1;
	}
	for (uint32_t i = 0; i < cfg->nports; i++) {
		struct nm_dport *dp = &nm_dports[nm_ndports];
		char name[RTE_ETH_NAME_MAX_LEN];
		nm_dev_name(cfg->ports[i].device, name, sizeof(name));
		uint16_t pid;
		if (rte_eth_dev_get_port_by_name(name, &pid) != 0) {
			int rc = rte_dev_probe(cfg->ports[i].device);
			if (rc != 0 || rte_eth_dev_get_port_by_name(name, &pid) != 0) {
				snprintf(err, errlen, "ports[%u].device: %s: %s", i, cfg->ports[i].device,
					 rc ? rte_strerror(-rc) : "no such ethdev after probing");
				return -1;
			}
		}
		dp->port_id = pid;
		dp->cfg = &cfg->ports[i];
		dp->idx = i;
		dp->mirror = cfg->ports[i].mirror;
		nm_dport_us_init(dp);
		if (nm_port_setup(dp, cfg->workers, cfg, err, errlen))
			return -1;
		nm_ndports++;
		char mac[RTE_ETHER_ADDR_FMT_SIZE];
		rte_ether_format_addr(mac, sizeof(mac), &dp->mac);
		fprintf(stderr, "netmeta: port %u (%s): %s, %u rx queue%s%s%s\n", pid, name, mac,
			dp->nrxq, dp->nrxq == 1 ? "" : "s",
			dp->nrxq == 1 && cfg->workers > 1 ? " (no RSS: worker 0 polls it)" : "",
			dp->mirror ? ", mirror" : "");
	}
	return 0;
}

/* ---- worker lcore ---- */

/* The packet path (dpdk_pkt.c) reaches the port and rte_ip_frag through
 * these three. */
bool nm_dpkt_env_tx(struct nm_dworker *x, const struct nm_dport *dp, struct rte_mbuf *m)
{
	return x->id < dp->ntxq && rte_eth_tx_burst(dp->port_id, (uint16_t)x->id, &m, 1) == 1;
}

struct rte_mbuf *nm_dpkt_env_reassemble(struct nm_dworker *x, struct rte_mbuf *m, bool v6,
					uint64_t tsc, bool *dropped)
{
	uint32_t dead = x->dr.cnt;
	struct rte_mbuf *r;
	if (v6) {
		struct rte_ipv6_hdr *ip6 =
			rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, m->l2_len);
		r = rte_ipv6_frag_reassemble_packet(x->frag, &x->dr, m, tsc, ip6,
						    rte_ipv6_frag_get_ipv6_fragment_header(ip6));
	} else {
		struct rte_ipv4_hdr *ip =
			rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
		r = rte_ipv4_frag_reassemble_packet(x->frag, &x->dr, m, tsc, ip);
	}
	/* NULL both when kept and when refused: a refused one goes to the
	 * death row. */
	*dropped = r == NULL && x->dr.cnt > dead;
	return r;
}

void nm_dpkt_env_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

/* ---- packet sampler (issue 14): the sFlow agent's periodic work ---- */

/* Generic interface counters of a port from its ethdev statistics. */
static void nm_sampler_port_ifctr(const struct nm_dport *dp, struct nm_sampler_ifctr *c)
{
	memset(c, 0, sizeof(*c));
	struct rte_eth_stats st;
	if (rte_eth_stats_get(dp->port_id, &st) == 0) {
		c->in_octets = st.ibytes;
		c->out_octets = st.obytes;
		/* ethdev does not split unicast/multicast/broadcast: all in ucast */
		c->in_ucast = (uint32_t)st.ipackets;
		c->out_ucast = (uint32_t)st.opackets;
		c->in_discards = (uint32_t)(st.imissed + st.rx_nombuf);
		c->in_errors = (uint32_t)st.ierrors;
		c->out_errors = (uint32_t)st.oerrors;
	}
	struct rte_eth_link link;
	if (rte_eth_link_get_nowait(dp->port_id, &link) == 0) {
		c->speed = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
				   ? 0
				   : (uint64_t)link.link_speed * 1000000ull;
		c->direction = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? 1 : 2;
		c->status = 1u | (link.link_status ? 2u : 0u);
	}
	c->promisc = rte_eth_promiscuous_get(dp->port_id) == 1;
}

/*
 * Sends the agent's datagram once its oldest sample is flush_ms old, and
 * (worker 0, every counter_interval s, and at the end) a counter sample of
 * every mirror port. last: shutdown, send everything now.
 */
static void nm_sampler_tick(struct nm_dworker *x, uint64_t now_ns, bool last)
{
	const struct nm_cfg_sampler *sc = &x->cfg->sampler;
	struct nm_sflow_agent *a = x->agent;
	if (x->id == 0 &&
	    (last || now_ns - x->last_ctr_ns >= (uint64_t)sc->counter_interval * 1000000000ull)) {
		for (uint32_t i = 0; i < nm_ndports; i++) {
			const struct nm_dport *dp = &nm_dports[i];
			if (!dp->mirror)
				continue;
			struct nm_sampler_ifctr c;
			nm_sampler_port_ifctr(dp, &c);
			nm_sflow_agent_counters(a, &x->sp[dp->idx], &c, now_ns);
			nm_wc_add(x->w, NM_WC_SFLOW_COUNTER_SAMPLES, 1);
		}
		x->last_ctr_ns = now_ns;
	}
	if (a->nsamples &&
	    (last || now_ns - a->first_ns >= (uint64_t)x->cfg->flush_ms * 1000000ull))
		nm_sflow_agent_flush(a, now_ns);
	/* also the datagrams sent from the packet path when one filled up */
	nm_wc_add(x->w, NM_WC_SFLOW_DATAGRAMS, a->datagrams - x->pub_dgrams);
	nm_wc_add(x->w, NM_WC_SFLOW_SEND_FAILED, a->send_failed - x->pub_failed);
	x->pub_dgrams = a->datagrams;
	x->pub_failed = a->send_failed;
}

static int nm_worker_main(void *arg)
{
	struct nm_dworker *x = arg;
	struct nm_worker *w = x->w;
	struct rte_mbuf *pkts[NM_BURST], *done[NM_BURST];
	uint64_t hz = rte_get_tsc_hz(), last_tick = 0;
	uint32_t busy = 0; /* loops with packets since the TSC was read */
	bool polls = false;
	for (uint32_t i = 0; i < nm_ndports; i++)
		polls |= x->id < nm_dports[i].nrxq;
	while (!atomic_load_explicit(x->stop, memory_order_acquire)) {
		uint32_t got = 0;
		for (uint32_t i = 0; i < nm_ndports; i++) {
			const struct nm_dport *dp = &nm_dports[i];
			if (x->id >= dp->nrxq)
				continue;
			uint16_t n = rte_eth_rx_burst(dp->port_id, (uint16_t)x->id, pkts, NM_BURST);
			if (n == 0)
				continue;
			got += n;
			if (dp->mirror) {
				nm_dpkt_mirror_burst(x, dp, pkts, n);
				rte_pktmbuf_free_bulk(pkts, n);
				continue;
			}
			uint16_t nd = nm_dpkt_burst(x, dp, pkts, n, nm_now_ns(), rte_rdtsc(), done);
			rte_pktmbuf_free_bulk(done, nd);
		}
		/* Busy, the TSC is read every NM_TICK_LOOPS loops: one rdtsc per
		 * burst cost 1.6 cycles per packet (sampler-bench, "tick"). */
		if (got == 0 || ++busy >= NM_TICK_LOOPS) {
			busy = 0;
			uint64_t t = rte_rdtsc();
			if (got == 0 || t - last_tick > hz / 1000) {
				/* Fragments that never complete must not keep their mbufs:
				 * a flood of them would otherwise drain the pool for good. */
				rte_ip_frag_table_del_expired_entries(x->frag, &x->dr, t);
				uint64_t now = nm_dworker_clock_sync(x, t, hz);
				nm_worker_tick(w, now);
				if (x->agent)
					nm_sampler_tick(x, now, false);
				last_tick = t;
			}
		}
		rte_ip_frag_free_death_row(&x->dr, NM_BURST);
		if (!polls) {
			/* No queue for this worker (a port without RSS): do not
			 * burn the CPU the sink and control threads share. */
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	if (x->agent)
		nm_sampler_tick(x, nm_now_ns(), true);
	nm_worker_finish(w);
	return 0;
}

/* DPDK telemetry: /netmeta/workers gives every worker counter summed,
 * /netmeta/decode the decoders' datagram and record counters
 * (dpdk-telemetry.py, or the telemetry socket). */
static struct nm_worker *nm_tel_workers;
static uint32_t nm_tel_nworkers;

static int nm_tel_workers_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (int c = 0; c < NM_WC__COUNT; c++) {
		uint64_t v = 0;
		for (uint32_t i = 0; i < nm_tel_nworkers; i++)
			v += nm_wc_get(&nm_tel_workers[i], (enum nm_wc)c);
		rte_tel_data_add_dict_u64(d, nm_wc_name((enum nm_wc)c), v);
	}
	return 0;
}

static int nm_tel_decode_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	struct nm_decode_stats s;
	nm_workers_dec_stats(nm_tel_workers, nm_tel_nworkers, &s);
	rte_tel_data_start_dict(d);
#define NM_X_(name, help) rte_tel_data_add_dict_u64(d, #name, s.name);
	NM_DECODE_TOTALS(NM_X_)
#undef NM_X_
	return 0;
}

/* Packet sampler state of a worker: the generator seeded per worker, one
 * sampler per mirror port, the sFlow agent and its socket when configured. */
static int nm_sampler_worker_init(struct nm_dworker *x, const struct nm_config *cfg, uint32_t id,
				  char *err, size_t errlen)
{
	const struct nm_cfg_sampler *sc = &cfg->sampler;
	uint64_t seed = sc->seed ? sc->seed : rte_rdtsc() ^ nm_now_ns();
	nm_rng_seed(&x->rng, seed, id);
	bool mirror = false;
	for (uint32_t i = 0; i < nm_ndports; i++) {
		const struct nm_dport *dp = &nm_dports[i];
		if (!dp->mirror)
			continue;
		mirror = true;
		nm_sampler_port_init(&x->sp[dp->idx], dp->cfg->sampling_rate, dp->cfg->if_index,
				     &x->rng);
	}
	if (!mirror || sc->ncollectors == 0)
		return 0;
	struct nm_sflow_out *o = nm_sflow_out_open(sc, err, errlen);
	if (o == NULL)
		return -1;
	x->agent = rte_zmalloc("nm_sflow_agent", sizeof(*x->agent), 64);
	if (x->agent == NULL) {
		nm_sflow_out_close(o);
		snprintf(err, errlen, "worker %u: out of memory for the sFlow agent", id);
		return -1;
	}
	nm_sflow_agent_init(x->agent, sc, id, nm_sampler_boot_ns, nm_sflow_out_send, o);
	return 0;
}

/* Prints each mirror port's sampler per worker, frees the agents. */
static void nm_sampler_workers_end(struct nm_dworker *xs, uint32_t n, bool ran)
{
	for (uint32_t i = 0; i < n; i++) {
		struct nm_dworker *x = &xs[i];
		for (uint32_t k = 0; ran && k < nm_ndports; k++) {
			const struct nm_dport *dp = &nm_dports[k];
			const struct nm_sampler_port *sp = &x->sp[dp->idx];
			if (dp->mirror && x->id < dp->nrxq)
				fprintf(stderr,
					"netmeta: sampler port%u worker%u rate %" PRIu32
					" pool %" PRIu64 " samples %" PRIu64 " drops %" PRIu64 "\n",
					dp->port_id, x->id, sp->rate, sp->pool, sp->samples,
					sp->drops);
		}
		if (x->agent) {
			nm_sflow_out_close(x->agent->send_ctx);
			rte_free(x->agent);
			x->agent = NULL;
		}
	}
}

int nm_dpdk_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen)
{
	nm_tel_workers = workers;
	nm_tel_nworkers = cfg->workers;
	rte_telemetry_register_cmd("/netmeta/workers", nm_tel_workers_cb,
				   "Worker counters of the collector, summed. No parameters");
	rte_telemetry_register_cmd("/netmeta/decode", nm_tel_decode_cb,
				   "Decoder datagram and record counters, summed. No parameters");
	struct nm_dworker *xs = rte_zmalloc("nm_dworkers", cfg->workers * sizeof(*xs), 64);
	if (xs == NULL) {
		snprintf(err, errlen, "out of memory for workers");
		return -1;
	}
	uint64_t hz = rte_get_tsc_hz();
	nm_sampler_boot_ns = nm_now_ns();
	unsigned lcores[RTE_MAX_LCORE];
	uint32_t nmade = 0, nlaunched = 0;
	int rc = 0;
	/* Every fragment table first: a start-up error must find no lcore
	 * running (the caller frees the workers right after). */
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	for (uint32_t i = 0; i < cfg->workers; i++, lcore = rte_get_next_lcore(lcore, 1, 0)) {
		struct nm_dworker *x = &xs[i];
		lcores[i] = lcore;
		x->w = &workers[i];
		x->cfg = cfg;
		x->stop = stop;
		x->id = i;
		/* Each entry holds up to RTE_LIBRTE_IP_FRAG_MAX_FRAG mbufs: keep the
		 * table to a quarter of the pool between all workers, so held
		 * fragments can never starve reception. */
		uint32_t entries = cfg->mbufs / 4 / RTE_LIBRTE_IP_FRAG_MAX_FRAG / cfg->workers;
		if (entries > NM_FRAG_BUCKETS * NM_FRAG_ENTRIES)
			entries = NM_FRAG_BUCKETS * NM_FRAG_ENTRIES;
		if (entries < 64)
			entries = 64;
		uint32_t buckets = nm_pow2_ceil((entries + NM_FRAG_ENTRIES - 1) / NM_FRAG_ENTRIES);
		x->frag = rte_ip_frag_table_create(buckets, NM_FRAG_ENTRIES, entries,
						   hz / 1000 * NM_FRAG_TTL_MS,
						   (int)rte_lcore_to_socket_id(lcore));
		if (x->frag == NULL) {
			snprintf(err, errlen, "worker %u: fragment table: %s", i, rte_strerror(rte_errno));
			rc = -1;
			goto out;
		}
		nmade++;
		if (nm_sampler_worker_init(x, cfg, i, err, errlen)) {
			rc = -1;
			goto out;
		}
	}
	for (uint32_t i = 0; i < cfg->workers; i++) {
		int lr = rte_eal_remote_launch(nm_worker_main, &xs[i], lcores[i]);
		if (lr != 0) {
			snprintf(err, errlen, "worker %u: lcore %u: launch: %s", i, lcores[i],
				 rte_strerror(-lr));
			/* stop the ones already running before anything is freed */
			atomic_store_explicit(stop, true, memory_order_release);
			rc = -1;
			break;
		}
		nlaunched++;
	}
	/* The main lcore's CPU also runs the sink and stats threads: sleep,
	 * do not spin in rte_eal_mp_wait_lcore() while the workers run. */
	while (!atomic_load_explicit(stop, memory_order_acquire)) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	if (nlaunched)
		rte_eal_mp_wait_lcore();
out:
	for (uint32_t i = 0; i < nmade; i++) {
		rte_ip_frag_free_death_row(&xs[i].dr, 0);
		rte_ip_frag_table_destroy(xs[i].frag);
	}
	nm_sampler_workers_end(xs, nmade, nlaunched > 0);
	rte_free(xs);
	return rc;
}

int nm_dpdk_thread_create(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	/* A control thread: DPDK pins it to the CPUs that no lcore uses (the
	 * main lcore's when every CPU runs one), never to a worker's. */
	return rte_ctrl_thread_create(t, name, NULL, fn, arg);
}

static void nm_port_stats_print(void *file, const struct nm_port_stats *st)
{
	fprintf(file,
		"port%u ipackets %" PRIu64 "\nport%u imissed %" PRIu64 "\nport%u ierrors %" PRIu64
		"\nport%u rx_nombuf %" PRIu64 "\n",
		st->port_id, st->packets, st->port_id, st->missed, st->port_id, st->errors,
		st->port_id, st->nombuf);
}

void nm_dpdk_port_stats(void *file)
{
	nm_dpdk_port_stats_each(nm_port_stats_print, file);
}

void nm_dpdk_port_stats_each(nm_port_stats_fn *fn, void *ctx)
{
	/* the ports nm_dpdk_init() set up (nm_ndports is fixed once it returned) */
	for (uint32_t i = 0; i < nm_ndports; i++) {
		struct rte_eth_stats st;
		if (rte_eth_stats_get(nm_dports[i].port_id, &st) != 0)
			continue;
		struct nm_port_stats ps = {.port_id = nm_dports[i].port_id,
					   .packets = st.ipackets,
					   .bytes = st.ibytes,
					   .missed = st.imissed,
					   .errors = st.ierrors,
					   .nombuf = st.rx_nombuf};
		fn(ctx, &ps);
	}
}

void nm_dpdk_cleanup(void)
{
	for (uint32_t i = 0; i < nm_ndports; i++) {
		rte_eth_dev_stop(nm_dports[i].port_id);
		rte_eth_dev_close(nm_dports[i].port_id);
	}
	rte_eal_cleanup();
}
