/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NFLOG input: packets an nftables/iptables rule logs to a netfilter log
 * group ("log group N", "-j NFLOG --nflog-group N"), read through
 * libnetfilter_log. Each logged IPv4/IPv6 packet becomes one record: its
 * header through the sampled-header parser (decoders/hdr.c) from its L3
 * header (NFLOG carries L3 packets), Bytes from the IP header's length (the
 * copy is cut at copy_range), SamplingRate from the config (the rule's
 * "numgen random mod N" or "-m statistic --probability 1/N": the kernel does
 * not send it), the group as ObservationDomainId, the group's sequence
 * number as SequenceNum (gaps counted), in/out ifindex, mark, socket UID,
 * the rule's log prefix (NflogPrefix, first 64 bytes).
 *
 * Overruns (ENOBUFS: the socket buffer was full and the kernel dropped
 * messages) are counted, not fatal; the sequence numbers say how many
 * packets went (NFLOG_SEQ_LOST).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <libnetfilter_log/libnetfilter_log.h>

#include "hdr.h"
#include "linux_in.h"
#include "reader.h"

/* Bytes of one recv: the kernel's batches are at most nlbufsiz (<= 128 KiB). */
#define NM_NFLOG_BUF (256u * 1024u)

struct nm_nflog_group {
	struct nm_nflog *n;
	struct nflog_g_handle *gh;
	uint16_t group;
	uint64_t rate;
	uint32_t next_seq;
	bool seen;
};

struct nm_nflog {
	struct nflog_handle *h;
	struct nm_nflog_group g[NM_CFG_MAX_NFLOG_GROUPS];
	uint32_t ng;
	struct nm_worker *w;
	struct nm_linux_ctr *ctr;
	uint64_t now_ns;
	uint8_t *buf;
};

bool nm_nflog_fill(struct nm_flow *f, const struct nm_nflog_pkt *pk, bool *cut, bool *prefix_cut)
{
	*cut = false;
	*prefix_cut = false;
	const uint8_t *p = pk->payload;
	size_t len = pk->len;
	uint16_t et = pk->hw_protocol;
	/* Some hooks (netdev, bridge) may leave the protocol out: the IP version
	 * says it. */
	if (et == 0 && len >= 1)
		et = (p[0] >> 4) == 4 ? NM_ETH_IPV4 : (p[0] >> 4) == 6 ? NM_ETH_IPV6 : 0;
	if (et != NM_ETH_IPV4 && et != NM_ETH_IPV6)
		return false;
	f->type = NM_FLOW_TYPE_NFLOG;
	f->time_received_ns = pk->now_ns;
	f->time_received = pk->now_ns / 1000000000u;
	uint64_t t = pk->ts_ns ? pk->ts_ns : pk->now_ns;
	f->time_flow_start_ns = f->time_flow_end_ns = t;
	f->time_flow_start = f->time_flow_end = t / 1000000000u;
	f->sampling_rate = pk->sampling_rate;
	f->observation_domain_id = pk->group;
	f->sequence_num = pk->seq;
	f->packets = 1;
	f->in_if = pk->indev;
	f->out_if = pk->outdev;
	f->flow_direction = pk->outdev ? 1 : 0; /* output/postrouting/forward: egress */
	f->mark = pk->mark;
	f->socket_uid = pk->uid;
	f->has_socket_uid = pk->has_uid;
	/* The prefix shares its bytes with the sFlow lists, which an NFLOG
	 * record never has (decoders/flow.h). */
	if (pk->prefix)
		f->nflog_prefix_len = (uint8_t)nm_flow_text_copy(
			f->nflog_prefix, sizeof(f->nflog_prefix), (const uint8_t *)pk->prefix,
			pk->prefix_len, prefix_cut);
	/* MACs of a received Ethernet frame (input path). */
	if (pk->hw_type == ARPHRD_ETHER && pk->hw_hdr && pk->hw_hdr_len >= 14) {
		f->dst_mac = (uint64_t)nm_load_be16(pk->hw_hdr) << 32 | nm_load_be32(pk->hw_hdr + 2);
		f->src_mac = (uint64_t)nm_load_be16(pk->hw_hdr + 6) << 32 |
			     nm_load_be32(pk->hw_hdr + 8);
	}
	enum nm_hdr_res r =
		nm_hdr_parse(p, len, et == NM_ETH_IPV4 ? NM_HDR_IPV4 : NM_HDR_IPV6, f);
	*cut = r == NM_HDR_TRUNCATED;
	/* The packet's length is the IP header's, not the copy's. */
	uint64_t ip_len = 0;
	if (et == NM_ETH_IPV4 && len >= 4)
		ip_len = nm_load_be16(p + 2);
	else if (et == NM_ETH_IPV6 && len >= 6 && nm_load_be16(p + 4) != 0)
		ip_len = 40u + nm_load_be16(p + 4);
	f->bytes = ip_len ? ip_len : len; /* 0: segmentation offload or jumbogram */
	return true;
}

static int nm_nflog_cb(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfd,
		       void *data)
{
	(void)gh;
	(void)nfmsg;
	struct nm_nflog_group *g = data;
	struct nm_nflog *n = g->n;
	struct nm_nflog_pkt pk;
	memset(&pk, 0, sizeof(pk));
	char *payload = NULL;
	int plen = nflog_get_payload(nfd, &payload);
	pk.payload = (const uint8_t *)payload;
	pk.len = plen > 0 ? (size_t)plen : 0;
	struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfd);
	pk.hw_protocol = ph ? ntohs(ph->hw_protocol) : 0;
	pk.hw_type = nflog_get_hwtype(nfd);
	pk.hw_hdr = (const uint8_t *)nflog_get_msg_packet_hwhdr(nfd);
	pk.hw_hdr_len = pk.hw_hdr ? nflog_get_msg_packet_hwhdrlen(nfd) : 0;
	pk.group = g->group;
	pk.sampling_rate = g->rate;
	pk.indev = nflog_get_indev(nfd);
	pk.outdev = nflog_get_outdev(nfd);
	pk.mark = nflog_get_nfmark(nfd);
	pk.has_uid = nflog_get_uid(nfd, &pk.uid) == 0;
	if (!pk.has_uid)
		pk.uid = 0;
	struct timeval tv;
	if (nflog_get_timestamp(nfd, &tv) == 0 && tv.tv_sec > 0)
		pk.ts_ns = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
	pk.now_ns = n->now_ns;
	/* NFULA_PREFIX: the kernel sends the prefix with its NUL, at most
	 * NF_LOG_PREFIXLEN (128) bytes; an empty one is not sent. */
	pk.prefix = nflog_get_prefix(nfd);
	pk.prefix_len = pk.prefix ? strnlen(pk.prefix, 128) : 0;
	if (nflog_get_seq(nfd, &pk.seq) == 0) {
		/* The group's own counter (NFULNL_CFG_F_SEQ), +1 per packet. */
		if (g->seen && pk.seq != g->next_seq && pk.seq - g->next_seq < (1u << 30))
			nm_lc_add(n->ctr, NM_LC_NFLOG_SEQ_LOST, pk.seq - g->next_seq);
		g->next_seq = pk.seq + 1;
		g->seen = true;
	}
	nm_lc_add(n->ctr, NM_LC_NFLOG_PACKETS, 1);
	nm_wc_add(n->w, NM_WC_RX_PACKETS, 1);
	nm_wc_add(n->w, NM_WC_RX_BYTES, pk.len);
	struct nm_flow *f = nm_worker_record(n->w, n->now_ns);
	bool cut, prefix_cut;
	if (!nm_nflog_fill(f, &pk, &cut, &prefix_cut)) {
		nm_lc_add(n->ctr, NM_LC_NFLOG_NOT_IP, 1);
		return 0;
	}
	if (cut)
		nm_lc_add(n->ctr, NM_LC_NFLOG_HDR_CUT, 1);
	if (prefix_cut)
		nm_lc_add(n->ctr, NM_LC_NFLOG_PREFIX_CUT, 1);
	nm_worker_record_done(n->w);
	return 0;
}

/* Is group bound by some listener? (/proc/net/netfilter/nfnetlink_log lists
 * "group portid queued copy-mode copy-range timeout qthreshold seq global"
 * per bound group.) */
static bool nm_nflog_group_bound(uint16_t group)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_log", "r");
	if (f == NULL)
		return false;
	unsigned g;
	char line[256];
	bool bound = false;
	while (!bound && fgets(line, sizeof(line), f))
		bound = sscanf(line, "%u", &g) == 1 && g == group;
	fclose(f);
	return bound;
}

/* Why binding a group failed, in words an operator can act on. The kernel
 * answers EPERM both without CAP_NET_ADMIN and for a group another socket
 * holds: the list of bound groups tells them apart. */
static void nm_nflog_bind_err(uint16_t group, int e, char *err, size_t errlen)
{
	if ((e == EPERM && nm_nflog_group_bound(group)) || e == EBUSY)
		snprintf(err, errlen,
			 "nflog: group %u is already bound by another listener (ulogd2, "
			 "another netmeta? see /proc/net/netfilter/nfnetlink_log)",
			 group);
	else if (e == EPERM || e == EACCES)
		snprintf(err, errlen,
			 "nflog: group %u: permission denied: binding a log group needs "
			 "CAP_NET_ADMIN in this network namespace",
			 group);
	/* nfnetlink answers EINVAL for a subsystem it has not and could not
	 * load (request_module failed or modules are off). */
	else if (e == ENOENT || e == EOPNOTSUPP || e == EPROTONOSUPPORT ||
		 (e == EINVAL && access("/proc/net/netfilter/nfnetlink_log", F_OK) != 0))
		snprintf(err, errlen,
			 "nflog: group %u: the kernel has no nfnetlink_log and could not load it "
			 "(%s): modprobe nfnetlink_log (CONFIG_NETFILTER_NETLINK_LOG)",
			 group, strerror(e));
	else
		snprintf(err, errlen, "nflog: group %u: cannot bind: %s", group, strerror(e));
}

struct nm_nflog *nm_nflog_open(const struct nm_cfg_nflog *c, struct nm_worker *w,
			       struct nm_linux_ctr *ctr, char *err, size_t errlen)
{
	struct nm_nflog *n = calloc(1, sizeof(*n));
	if (n == NULL || (n->buf = malloc(NM_NFLOG_BUF)) == NULL) {
		free(n);
		snprintf(err, errlen, "nflog: out of memory");
		return NULL;
	}
	n->w = w;
	n->ctr = ctr;
	n->h = nflog_open();
	if (n->h == NULL) {
		int e = errno;
		snprintf(err, errlen, "nflog: cannot open a netfilter netlink socket: %s%s",
			 strerror(e),
			 e == EPROTONOSUPPORT ? " (the kernel has no nfnetlink: CONFIG_NETFILTER_NETLINK)"
					      : "");
		nm_nflog_close(n);
		return NULL;
	}
	/* Kernels before 3.17 want the protocol families bound first; newer
	 * ones ignore it. An error here says no more than the bind below. */
	nflog_bind_pf(n->h, AF_INET);
	nflog_bind_pf(n->h, AF_INET6);
	for (uint32_t i = 0; i < c->ngroups; i++) {
		struct nm_nflog_group *g = &n->g[i];
		g->n = n;
		g->group = c->groups[i].group;
		g->rate = c->groups[i].sampling_rate;
		errno = 0;
		g->gh = nflog_bind_group(n->h, g->group);
		if (g->gh == NULL) {
			nm_nflog_bind_err(g->group, errno ? errno : EINVAL, err, errlen);
			nm_nflog_close(n);
			return NULL;
		}
		n->ng = i + 1;
		if (nflog_set_mode(g->gh, NFULNL_COPY_PACKET, c->copy_range) < 0 ||
		    nflog_set_qthresh(g->gh, c->qthreshold) < 0 ||
		    nflog_set_timeout(g->gh, c->flush_ms / 10) < 0 ||
		    nflog_set_nlbufsiz(g->gh, c->nlbufsiz) < 0 ||
		    nflog_set_flags(g->gh, NFULNL_CFG_F_SEQ) < 0) {
			snprintf(err, errlen, "nflog: group %u: the kernel refused its settings: %s",
				 g->group, strerror(errno));
			nm_nflog_close(n);
			return NULL;
		}
		nflog_callback_register(g->gh, nm_nflog_cb, g);
	}
	int fd = nflog_fd(n->h);
	int want = (int)c->rcvbuf, got = 0;
	socklen_t gl = sizeof(got);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	if (got / 2 < want)
		fprintf(stderr, "netmeta: warning: nflog: socket buffer is %d bytes, %d asked for\n",
			got / 2, want);
	return n;
}

/* Reads what is waiting; returns the messages read. */
static int nm_nflog_drain(struct nm_nflog *n, int fd)
{
	int msgs = 0;
	for (int round = 0; round < 64; round++) {
		ssize_t r = recv(fd, n->buf, NM_NFLOG_BUF, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == ENOBUFS) {
				/* the kernel dropped messages: counted, go on */
				nm_lc_add(n->ctr, NM_LC_NFLOG_OVERRUNS, 1);
				continue;
			}
			break; /* EAGAIN: nothing more; EINTR: next poll */
		}
		n->now_ns = nm_now_ns();
		nflog_handle_packet(n->h, (char *)n->buf, (int)r);
		msgs++;
	}
	return msgs;
}

void nm_nflog_run(struct nm_nflog *n, atomic_bool *stop)
{
	int fd = nflog_fd(n->h);
	struct pollfd pfd = {fd, POLLIN, 0};
	while (!atomic_load_explicit(stop, memory_order_acquire)) {
		if (poll(&pfd, 1, 50) > 0)
			nm_nflog_drain(n, fd);
		nm_worker_tick(n->w, nm_now_ns());
	}
	nm_nflog_drain(n, fd); /* what the kernel already sent */
	nm_worker_finish(n->w);
}

void nm_nflog_close(struct nm_nflog *n)
{
	if (n == NULL)
		return;
	for (uint32_t i = 0; i < n->ng; i++)
		nflog_unbind_group(n->g[i].gh);
	if (n->h)
		nflog_close(n->h);
	free(n->buf);
	free(n);
}
