/* SPDX-License-Identifier: BSD-3-Clause */
#include "sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

#define NM_SOCK_BATCH 64
#define NM_SOCK_BUF 65536

struct nm_sock_thread {
	const struct nm_config *cfg;
	struct nm_worker *w;
	int fds[NM_CFG_MAX_LISTEN];
	uint16_t ports[NM_CFG_MAX_LISTEN];
	uint32_t nfds;
	uint32_t last_ovfl[NM_CFG_MAX_LISTEN];
	atomic_bool *stop;
	pthread_t tid;
};

/* Each socket's kernel drops (SO_RXQ_OVFL deltas, in 64 bits), by worker
 * and listen index: written by its worker thread only (relaxed), read by
 * the metrics endpoint. Static so a scrape after the backend returned
 * still reads it. */
static _Atomic uint64_t nm_sock_ovfl[NM_CFG_MAX_WORKERS][NM_CFG_MAX_LISTEN];

uint64_t nm_sock_kernel_drops(uint32_t w, uint32_t k)
{
	if (w >= NM_CFG_MAX_WORKERS || k >= NM_CFG_MAX_LISTEN)
		return 0;
	return atomic_load_explicit(&nm_sock_ovfl[w][k], memory_order_relaxed);
}

/*
 * Reuseport program: the socket index (= worker, sockets join each port's
 * group in worker order) is the exporter address modulo the worker count:
 * IPv4 source (network header + 12), or the low 32 bits of the IPv6 source
 * (network header + 20). Runs with the UDP header at offset 0, so the
 * network header is reached through SKF_NET_OFF.
 */
static int nm_sock_attach_bpf(int fd, uint32_t nworkers)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 20),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, nworkers),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = {sizeof(code) / sizeof(code[0]), code};
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog));
}

/* bind()'s address for a listen port on cfg->bind (IPv4, or IPv6 with
 * IPV6_V6ONLY off, so that IPv4 comes too); its length. */
static socklen_t nm_sock_bind_addr(const struct nm_config *cfg, uint16_t port,
				   struct sockaddr_storage *ss)
{
	struct nm_prefix bind_to;
	memset(&bind_to, 0, sizeof(bind_to)); /* the loader refused a bind that does not parse */
	nm_prefix_parse(cfg->bind, &bind_to, false);
	memset(ss, 0, sizeof(*ss));
	if (nm_addr_is_v4(&bind_to.addr)) {
		struct sockaddr_in *a = (struct sockaddr_in *)(void *)ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		memcpy(&a->sin_addr, bind_to.addr.b + 12, 4);
		return sizeof(*a);
	}
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	memcpy(&a->sin6_addr, bind_to.addr.b, 16);
	return sizeof(*a);
}

static int nm_sock_open(const struct nm_config *cfg, uint16_t port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = nm_sock_bind_addr(cfg, port, &ss);
	bool v4 = ss.ss_family == AF_INET;
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	if (!v4)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)); /* IPv4 too */
	int want = (int)cfg->rcvbuf, got = 0;
	socklen_t gl = sizeof(got);
	/* SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
	if (got / 2 < want) /* the kernel reports twice what it grants */
		fprintf(stderr,
			"netmeta: warning: port %u: SO_RCVBUF is %d bytes, %d asked for; raise "
			"net.core.rmem_max or run with CAP_NET_ADMIN\n",
			port, got / 2, want);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		snprintf(err, errlen, "listen: port %u on %s: %s", port, cfg->bind, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A probe: a socket bound to a listen port as nm_sock_open() binds it
 * (with SO_REUSEPORT when reuseport), closed at once. 0 or the errno.
 */
static int nm_sock_probe(const struct nm_config *cfg, uint16_t port, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t sl = nm_sock_bind_addr(cfg, port, &ss);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	int one = 1, zero = 0;
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	int e = bind(fd, (struct sockaddr *)&ss, sl) == 0 ? 0 : errno;
	close(fd);
	return e;
}

/*
 * Probes every listen port. One instance per port: without share_ports a
 * probe bound without SO_REUSEPORT fails with EADDRINUSE when any other
 * socket holds the port, SO_REUSEPORT or not (another netmeta would
 * otherwise join the group silently and take half the exporters). With
 * share_ports the probe binds as the real sockets do. every_error: any
 * other failure (an address that is not local, a port below 1024 without
 * the capability) is reported too, else left to the real open. 0, or -1
 * with the reason in err.
 */
static int nm_sock_ports_probe(const struct nm_config *cfg, bool every_error, char *err,
			       size_t errlen)
{
	for (uint32_t k = 0; k < cfg->nlisten; k++) {
		uint16_t port = cfg->listen[k].port;
		int e = nm_sock_probe(cfg, port, cfg->share_ports);
		if (e == EADDRINUSE && !cfg->share_ports) {
			snprintf(err, errlen,
				 "listen: port %u on %s is in use by another process (another "
				 "netmeta?): refused; set share_ports: true to join it on purpose",
				 port, cfg->bind);
			return -1;
		}
		if (e != 0 && every_error) {
			snprintf(err, errlen, "listen: port %u on %s: %s", port, cfg->bind, strerror(e));
			return -1;
		}
	}
	return 0;
}

int nm_sock_ports_free(const struct nm_config *cfg, char *err, size_t errlen)
{
	return cfg->share_ports ? 0 : nm_sock_ports_probe(cfg, false, err, errlen);
}

int nm_sock_ports_bindable(const struct nm_config *cfg, char *err, size_t errlen)
{
	return nm_sock_ports_probe(cfg, true, err, errlen);
}

static void nm_sock_addr(const struct sockaddr_storage *ss, struct nm_addr *a, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)ss;
		nm_addr_set_v4(a, (const uint8_t *)&s4->sin_addr);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)ss;
		memcpy(a->b, &s6->sin6_addr, 16); /* v4-mapped stays v4-mapped */
		*port = ntohs(s6->sin6_port);
	}
}

/* Buffers of one worker thread's recvmmsg() calls. */
struct nm_sock_bufs {
	uint8_t data[NM_SOCK_BATCH][NM_SOCK_BUF];
	struct mmsghdr msgs[NM_SOCK_BATCH];
	struct iovec iov[NM_SOCK_BATCH];
	struct sockaddr_storage from[NM_SOCK_BATCH];
	char cbuf[NM_SOCK_BATCH][CMSG_SPACE(sizeof(uint32_t))];
};

/*
 * One recvmmsg() on socket i, every datagram handed to the worker. Returns
 * the datagrams read (0 when none was waiting).
 */
static int nm_sock_recv(struct nm_sock_thread *t, struct nm_sock_bufs *b, uint32_t i)
{
	for (int k = 0; k < NM_SOCK_BATCH; k++) {
		b->iov[k] = (struct iovec){b->data[k], NM_SOCK_BUF};
		b->msgs[k].msg_hdr = (struct msghdr){&b->from[k], sizeof(b->from[k]), &b->iov[k], 1,
						     b->cbuf[k], sizeof(b->cbuf[k]), 0};
	}
	int n = recvmmsg(t->fds[i], b->msgs, NM_SOCK_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	uint64_t now = nm_now_ns();
	for (int k = 0; k < n; k++) {
		struct nm_addr src;
		uint16_t sport;
		nm_sock_addr(&b->from[k], &src, &sport);
		nm_wc_add(t->w, NM_WC_RX_PACKETS, 1);
		nm_wc_add(t->w, NM_WC_RX_BYTES, b->msgs[k].msg_len);
		nm_worker_datagram(t->w, &src, sport, t->ports[i], b->data[k], b->msgs[k].msg_len, now);
	}
	/* SO_RXQ_OVFL: the socket's drop count so far. */
	struct msghdr *mh = &b->msgs[n - 1].msg_hdr;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			uint32_t d = v - t->last_ovfl[i];
			nm_wc_add(t->w, NM_WC_KERNEL_DROPS, d);
			t->last_ovfl[i] = v;
			/* single writer: this thread; the metrics endpoint loads it */
			_Atomic uint64_t *o = &nm_sock_ovfl[t->w->id][i];
			atomic_store_explicit(o, atomic_load_explicit(o, memory_order_relaxed) + d,
					      memory_order_relaxed);
		}
	}
	return n;
}

static void *nm_sock_thread_run(void *arg)
{
	struct nm_sock_thread *t = arg;
	struct nm_sock_bufs *b = malloc(sizeof(*b));
	if (b == NULL) {
		fprintf(stderr, "netmeta: worker %u: out of memory\n", t->w->id);
		nm_worker_finish(t->w);
		return NULL;
	}
	struct pollfd pfd[NM_CFG_MAX_LISTEN];
	for (uint32_t i = 0; i < t->nfds; i++)
		pfd[i] = (struct pollfd){t->fds[i], POLLIN, 0};
	while (!atomic_load_explicit(t->stop, memory_order_acquire)) {
		int ready = poll(pfd, t->nfds, 50);
		for (uint32_t i = 0; ready > 0 && i < t->nfds; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (int round = 0; round < 16; round++)
				if (nm_sock_recv(t, b, i) < NM_SOCK_BATCH)
					break;
		}
		nm_worker_tick(t->w, nm_now_ns());
	}
	/* Stopping: what already sits in the socket buffers is taken too. */
	for (uint32_t i = 0; i < t->nfds; i++)
		for (int round = 0; round < 64; round++)
			if (nm_sock_recv(t, b, i) == 0)
				break;
	free(b);
	nm_worker_finish(t->w);
	return NULL;
}

int nm_sock_run(const struct nm_config *cfg, struct nm_worker *workers, atomic_bool *stop,
		char *err, size_t errlen)
{
	uint32_t n = cfg->workers;
	struct nm_sock_thread *t = calloc(n, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = nm_sock_ports_free(cfg, err, errlen);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		t[i].cfg = cfg;
		t[i].w = &workers[i];
		t[i].stop = stop;
		for (uint32_t k = 0; k < cfg->nlisten; k++) {
			int fd = nm_sock_open(cfg, cfg->listen[k].port, err, errlen);
			if (fd < 0) {
				rc = -1;
				break;
			}
			t[i].fds[t[i].nfds] = fd;
			t[i].ports[t[i].nfds++] = cfg->listen[k].port;
			/* The group's program, attached once all sockets joined. */
			if (i == n - 1 && n > 1 && nm_sock_attach_bpf(fd, n) != 0)
				fprintf(stderr,
					"netmeta: warning: port %u: reuseport steering program refused "
					"(%s): exporters may move between workers\n",
					cfg->listen[k].port, strerror(errno));
		}
	}
	for (uint32_t i = 0; i < n && rc == 0; i++)
		if (pthread_create(&t[i].tid, NULL, nm_sock_thread_run, &t[i]) != 0) {
			snprintf(err, errlen, "cannot start worker thread %u", i);
			rc = -1;
			n = i;
		}
	if (rc == 0 || n > 0)
		for (uint32_t i = 0; i < n; i++)
			if (t[i].tid)
				pthread_join(t[i].tid, NULL);
	for (uint32_t i = 0; i < cfg->workers; i++)
		for (uint32_t k = 0; k < t[i].nfds; k++)
			close(t[i].fds[k]);
	free(t);
	return rc;
}
