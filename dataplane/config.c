/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char *nm_proto_kind_name(enum nm_proto_kind k)
{
	static const char *const n[] = {"sflow", "netflow", "ipfix", "auto"};
	return (unsigned)k < 4 ? n[k] : "?";
}

static void nm_sink_default(struct nm_cfg_sink *s);
static void nm_linux_cfg_default(struct nm_config *c);
static void nm_linux_cfg_print(const struct nm_config *c, FILE *o);

void nm_config_default(struct nm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->backend = NM_BACKEND_SOCKET;
	c->workers = 1;
	c->listen[0] = (struct nm_cfg_listen){6343, NM_PROTO_SFLOW};
	c->listen[1] = (struct nm_cfg_listen){2055, NM_PROTO_NETFLOW};
	c->listen[2] = (struct nm_cfg_listen){4739, NM_PROTO_IPFIX};
	c->nlisten = 3;
	snprintf(c->bind, sizeof(c->bind), "::");
	c->rcvbuf = 32u << 20;
	nm_decode_cfg_default(&c->decode);
	nm_sink_default(&c->sinks[0]);
	c->nsinks = 1;
	nm_cfg_sampler_default(&c->sampler);
	c->stats_interval = 10;
	c->ring_size = 512;
	c->batch_records = 256;
	c->batches = 512;
	c->flush_ms = 100;
	c->mbufs = 16384;
	c->mbuf_size = 2048;
	c->rx_desc = 1024;
	nm_linux_cfg_default(c);
	c->metrics_max_exporters = 1024;
	c->log_level = 2; /* NM_LOG_INFO */
	c->state_max_age = 3600;
	c->state_interval = 60;
}

int nm_prefix_parse(const char *s, struct nm_prefix *p, bool allow_len)
{
	char buf[80];
	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	long len = -1;
	char *slash = strchr(buf, '/');
	if (slash) {
		if (!allow_len)
			return -1;
		*slash = 0;
		char *end;
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (errno || *end || slash[1] == 0 || len < 0)
			return -1;
	}
	uint8_t v4[4];
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, v4) == 1) {
		if (len > 32)
			return -1;
		nm_addr_set_v4(&p->addr, v4);
		p->len = (uint8_t)(96 + (len < 0 ? 32 : len));
	} else if (inet_pton(AF_INET6, buf, p->addr.b) == 1) {
		if (len > 128)
			return -1;
		p->len = (uint8_t)(len < 0 ? 128 : len);
	} else {
		return -1;
	}
	/* Clear host bits so matching is a plain compare. */
	for (int bit = p->len; bit < 128; bit++)
		p->addr.b[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

bool nm_config_allowed(const struct nm_config *c, const struct nm_addr *addr)
{
	if (c->nallow == 0)
		return true;
	for (uint32_t i = 0; i < c->nallow; i++) {
		const struct nm_prefix *p = &c->allow[i];
		unsigned full = p->len / 8, rest = p->len % 8;
		if (memcmp(addr->b, p->addr.b, full) != 0)
			continue;
		if (rest && ((addr->b[full] ^ p->addr.b[full]) & (uint8_t)(0xff00u >> rest)))
			continue;
		return true;
	}
	return false;
}

/* ---- YAML walking ---- */

struct nm_cfg_ctx {
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	int failed;
};

static int nm_fail(struct nm_cfg_ctx *x, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int nm_fail(struct nm_cfg_ctx *x, const char *path, const char *fmt, ...)
{
	if (x->failed)
		return -1;
	x->failed = 1;
	int n = snprintf(x->err, x->errlen, "%s: ", path);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < x->errlen)
		vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *nm_scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int nm_get_u64(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	const char *s = nm_scalar(n);
	if (s == NULL)
		return nm_fail(x, path, "expected a number");
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mult = 1;
	/* Sizes may say KiB, MiB, GiB, TiB. */
	if (end != s && strcmp(end, "KiB") == 0)
		mult = 1ull << 10;
	else if (end != s && strcmp(end, "MiB") == 0)
		mult = 1ull << 20;
	else if (end != s && strcmp(end, "GiB") == 0)
		mult = 1ull << 30;
	else if (end != s && strcmp(end, "TiB") == 0)
		mult = 1ull << 40;
	else if (*end)
		return nm_fail(x, path, "'%s' is not a number (sizes may end in KiB, MiB, GiB, TiB)", s);
	if (errno || s[0] == '-' || v > max / mult || v * mult < min)
		return nm_fail(x, path, "'%s' is out of range (%llu..%llu)", s, (unsigned long long)min,
			       (unsigned long long)max);
	*out = v * mult;
	return 0;
}

static int nm_get_u32(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, uint32_t min,
		      uint32_t max, uint32_t *out)
{
	uint64_t v;
	if (nm_get_u64(x, path, n, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int nm_get_bool(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, bool *out)
{
	const char *s = nm_scalar(n);
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0))
		*out = true;
	else if (s && (strcmp(s, "false") == 0 || strcmp(s, "no") == 0))
		*out = false;
	else
		return nm_fail(x, path, "expected true or false");
	return 0;
}

/*
 * One of a fixed list of words: *out = its index. The error lists them
 * ("expected socket or dpdk").
 */
static int nm_get_enum(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n,
		       const char *const *names, unsigned count, unsigned *out)
{
	const char *s = nm_scalar(n);
	for (unsigned i = 0; s && i < count; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	char list[160] = "";
	for (unsigned i = 0; i < count; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i == 0 ? "" : i + 1 == count ? " or " : ", ", names[i]);
	return nm_fail(x, path, "'%s': expected %s", s ? s : "", list);
}

static int nm_get_str(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, char *out,
		      size_t cap)
{
	const char *s = nm_scalar(n);
	if (s == NULL)
		return nm_fail(x, path, "expected a string");
	if (strlen(s) >= cap)
		return nm_fail(x, path, "longer than %zu characters", cap - 1);
	snprintf(out, cap, "%s", s);
	return 0;
}

/* Calls fn for each item of a sequence node (a scalar counts as one item). */
typedef int (*nm_item_fn)(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg);

static int nm_each(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, nm_item_fn fn,
		   void *arg)
{
	char p[160];
	if (n->type == YAML_SCALAR_NODE)
		return fn(x, path, n, arg);
	if (n->type != YAML_SEQUENCE_NODE)
		return nm_fail(x, path, "expected a list");
	int i = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++, i++) {
		snprintf(p, sizeof(p), "%.140s[%d]", path, i);
		if (fn(x, p, yaml_document_get_node(x->doc, *it), arg))
			return -1;
	}
	return 0;
}

struct nm_listen_arg {
	struct nm_config *c;
	enum nm_proto_kind kind;
};

static int nm_listen_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_listen_arg *a = arg;
	uint32_t port;
	if (nm_get_u32(x, path, n, 1, 65535, &port))
		return -1;
	for (uint32_t i = 0; i < a->c->nlisten; i++)
		if (a->c->listen[i].port == port)
			return nm_fail(x, path, "port %" PRIu32 " is listed twice", port);
	if (a->c->nlisten >= NM_CFG_MAX_LISTEN)
		return nm_fail(x, path, "at most %d listen ports", NM_CFG_MAX_LISTEN);
	a->c->listen[a->c->nlisten++] = (struct nm_cfg_listen){(uint16_t)port, a->kind};
	return 0;
}

static int nm_allow_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_config *c = arg;
	const char *s = nm_scalar(n);
	if (s == NULL)
		return nm_fail(x, path, "expected an address prefix like 192.0.2.0/24");
	if (c->nallow >= NM_CFG_MAX_ALLOW)
		return nm_fail(x, path, "at most %d prefixes", NM_CFG_MAX_ALLOW);
	if (nm_prefix_parse(s, &c->allow[c->nallow], true))
		return nm_fail(x, path, "'%s' is not an IPv4 or IPv6 prefix", s);
	c->nallow++;
	return 0;
}

static int nm_addr_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_cfg_port *p = arg;
	const char *s = nm_scalar(n);
	struct nm_prefix pf;
	if (s == NULL || nm_prefix_parse(s, &pf, false))
		return nm_fail(x, path, "expected an IPv4 or IPv6 address");
	if (p->naddrs >= NM_CFG_MAX_ADDRS)
		return nm_fail(x, path, "at most %d addresses per port", NM_CFG_MAX_ADDRS);
	p->addrs[p->naddrs++] = pf.addr;
	return 0;
}

/* Iterates a mapping: for each key, calls fn(key, value); unknown keys fail. */
typedef int (*nm_pair_fn)(struct nm_cfg_ctx *x, const char *path, const char *key,
			  yaml_node_t *v, void *arg);

static int nm_map(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, nm_pair_fn fn,
		  void *arg)
{
	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return nm_fail(x, path[0] ? path : "config", "expected a mapping of keys to values");
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		const char *key = nm_scalar(yaml_document_get_node(x->doc, pr->key));
		char p[160];
		if (key == NULL)
			return nm_fail(x, path[0] ? path : "config", "keys must be plain strings");
		snprintf(p, sizeof(p), "%.90s%s%.60s", path, path[0] ? "." : "", key);
		/* The last of two would win silently: a key given twice is an error. */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr; q++) {
			const char *k2 = nm_scalar(yaml_document_get_node(x->doc, q->key));
			if (k2 && strcmp(k2, key) == 0)
				return nm_fail(x, p, "given twice");
		}
		if (fn(x, p, key, yaml_document_get_node(x->doc, pr->value), arg))
			return -1;
	}
	return 0;
}

static int nm_sampler_port_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
				yaml_node_t *v, struct nm_cfg_port *p);
static int nm_sampler_block(struct nm_cfg_ctx *x, const char *path, yaml_node_t *v,
			    struct nm_config *c);

static int nm_port_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			void *arg)
{
	struct nm_cfg_port *p = arg;
	if (nm_sampler_port_pair(x, path, key, v, p) >= 0) /* role, sampling_rate, if_index */
		return x->failed ? -1 : 0;
	if (strcmp(key, "device") == 0)
		return nm_get_str(x, path, v, p->device, sizeof(p->device));
	if (strcmp(key, "addresses") == 0)
		return nm_each(x, path, v, nm_addr_item, p);
	if (strcmp(key, "accept_any_destination") == 0)
		return nm_get_bool(x, path, v, &p->accept_any_destination);
	return nm_fail(x, path,
		       "unknown key (expected device, addresses, accept_any_destination, role, "
		       "sampling_rate, if_index)");
}

static int nm_port_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_config *c = arg;
	if (c->nports >= NM_CFG_MAX_PORTS)
		return nm_fail(x, path, "at most %d ports", NM_CFG_MAX_PORTS);
	struct nm_cfg_port *p = &c->ports[c->nports];
	memset(p, 0, sizeof(*p));
	p->sampling_rate = 1000;
	p->if_index = c->nports + 1;
	if (nm_map(x, path, n, nm_port_pair, p))
		return -1;
	if (p->device[0] == 0)
		return nm_fail(x, path, "device is missing (a PCI address or a vdev string)");
	c->nports++;
	return 0;
}

static int nm_listen_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			  void *arg)
{
	struct nm_listen_arg a = {arg, NM_PROTO_AUTO};
	if (strcmp(key, "sflow") == 0)
		a.kind = NM_PROTO_SFLOW;
	else if (strcmp(key, "netflow") == 0)
		a.kind = NM_PROTO_NETFLOW;
	else if (strcmp(key, "ipfix") == 0)
		a.kind = NM_PROTO_IPFIX;
	else if (strcmp(key, "auto") != 0)
		return nm_fail(x, path, "unknown protocol (expected sflow, netflow, ipfix or auto)");
	return nm_each(x, path, v, nm_listen_item, &a);
}

static int nm_rate_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			void *arg)
{
	struct nm_cfg_rate *r = arg;
	if (strcmp(key, "exporter") == 0) {
		struct nm_prefix pf;
		const char *a = nm_scalar(v);
		if (a == NULL || nm_prefix_parse(a, &pf, false))
			return nm_fail(x, path, "expected an IPv4 or IPv6 address");
		r->exporter = pf.addr;
		return 0;
	}
	if (strcmp(key, "rate") == 0)
		return nm_get_u32(x, path, v, 1, UINT32_MAX, &r->rate);
	if (strcmp(key, "override") == 0)
		return nm_get_bool(x, path, v, &r->override);
	return nm_fail(x, path, "unknown key (expected exporter, rate, override)");
}

static int nm_rate_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_config *c = arg;
	if (c->nrates >= NM_STATIC_RATES_MAX)
		return nm_fail(x, path, "at most %d static sampling rates", NM_STATIC_RATES_MAX);
	struct nm_cfg_rate *r = &c->rates[c->nrates];
	memset(r, 0, sizeof(*r));
	if (nm_map(x, path, n, nm_rate_pair, r))
		return -1;
	if (r->rate == 0 || nm_addr_is_zero(&r->exporter))
		return nm_fail(x, path, "needs exporter and rate");
	c->nrates++;
	return 0;
}

static int nm_state_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			 void *arg)
{
	struct nm_config *c = arg;
	if (strcmp(key, "path") == 0)
		return nm_get_str(x, path, v, c->state_path, sizeof(c->state_path) - 16);
	if (strcmp(key, "max_age") == 0)
		return nm_get_u32(x, path, v, 0, 86400 * 365, &c->state_max_age);
	if (strcmp(key, "interval") == 0)
		return nm_get_u32(x, path, v, 0, 86400, &c->state_interval);
	return nm_fail(x, path, "unknown key (expected path, max_age, interval)");
}

static int nm_tmpl_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			void *arg)
{
	struct nm_decode_cfg *d = arg;
	if (strcmp(key, "max_exporters") == 0)
		return nm_get_u32(x, path, v, 1, 1u << 22, &d->max_exporters);
	if (strcmp(key, "max_templates") == 0)
		return nm_get_u32(x, path, v, 1, 1u << 24, &d->max_templates);
	if (strcmp(key, "max_templates_per_exporter") == 0)
		return nm_get_u32(x, path, v, 1, 65536, &d->max_templates_per_exporter);
	if (strcmp(key, "max_fields") == 0)
		return nm_get_u32(x, path, v, 1, NM_TMPL_FIELDS_MAX, &d->max_fields_per_template);
	if (strcmp(key, "lifetime") == 0)
		return nm_get_u32(x, path, v, 0, 86400 * 365, &d->template_lifetime_s);
	/* admission of new exporters and templates (DESIGN-NOTES.md, "Template floods") */
	if (strcmp(key, "admit_source_rate") == 0)
		return nm_get_u32(x, path, v, 0, 1000000, &d->admit_source_rate);
	if (strcmp(key, "admit_source_burst") == 0)
		return nm_get_u32(x, path, v, 1, 1u << 24, &d->admit_source_burst);
	if (strcmp(key, "admit_global_rate") == 0)
		return nm_get_u32(x, path, v, 0, 1000000, &d->admit_global_rate);
	if (strcmp(key, "admit_global_burst") == 0)
		return nm_get_u32(x, path, v, 1, 1u << 24, &d->admit_global_burst);
	return nm_fail(x, path,
		       "unknown key (expected max_exporters, max_templates, "
		       "max_templates_per_exporter, max_fields, lifetime, admit_source_rate, "
		       "admit_source_burst, admit_global_rate, admit_global_burst)");
}

static int nm_prop_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			void *arg)
{
	struct nm_cfg_sink *s = arg;
	if (s->nprops >= NM_CFG_MAX_PROPS)
		return nm_fail(x, path, "at most %d properties", NM_CFG_MAX_PROPS);
	if (strlen(key) >= sizeof(s->props[0][0]))
		return nm_fail(x, path, "property name too long");
	snprintf(s->props[s->nprops][0], sizeof(s->props[0][0]), "%s", key);
	if (nm_get_str(x, path, v, s->props[s->nprops][1], sizeof(s->props[0][1])))
		return -1;
	s->nprops++;
	return 0;
}

static int nm_spool_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			 void *arg)
{
	struct nm_cfg_sink *s = arg;
	if (strcmp(key, "dir") == 0)
		return nm_get_str(x, path, v, s->spool_dir, sizeof(s->spool_dir));
	if (strcmp(key, "quota") == 0)
		return nm_get_u64(x, path, v, 1 << 20, UINT64_MAX, &s->spool_quota);
	if (strcmp(key, "write_ahead") == 0)
		return nm_get_bool(x, path, v, &s->spool_write_ahead);
	if (strcmp(key, "sync_ms") == 0)
		return nm_get_u32(x, path, v, 0, 3600000, &s->spool_sync_ms);
	return nm_fail(x, path, "unknown key (expected dir, quota, write_ahead, sync_ms)");
}

/*
 * A broker list: host:port entries separated by commas, none empty; host a
 * name or an IPv4 address, or an IPv6 address in brackets ([2001:db8::1]:9092);
 * port 1-65535. librdkafka would take nearly anything and retry it forever.
 */
static int nm_brokers_check(struct nm_cfg_ctx *x, const char *path, const char *list)
{
	const char *e = list;
	for (int i = 0;; i++) {
		const char *end = strchr(e, ',');
		size_t len = end ? (size_t)(end - e) : strlen(e);
		char b[512];
		snprintf(b, sizeof(b), "%.*s", (int)len, e);
		if (len == 0)
			return nm_fail(x, path, "entry %d is empty (expected host:port,host:port)", i + 1);
		char *colon = strrchr(b, ':');
		const char *host = b;
		bool ok = colon != NULL && colon != b;
		if (ok) {
			*colon = 0;
			char *pend;
			errno = 0;
			long port = strtol(colon + 1, &pend, 10);
			ok = colon[1] >= '0' && colon[1] <= '9' && *pend == 0 && errno == 0 && port >= 1 &&
			     port <= 65535;
		}
		if (ok && b[0] == '[') {
			/* IPv6 in brackets */
			size_t hl = strlen(b);
			ok = hl > 2 && b[hl - 1] == ']';
			if (ok) {
				unsigned char a6[16];
				b[hl - 1] = 0;
				ok = inet_pton(AF_INET6, b + 1, a6) == 1;
			}
		} else if (ok) {
			for (const char *c = host; ok && *c; c++)
				ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
				     (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
		}
		if (!ok)
			return nm_fail(x, path,
				       "entry %d '%.*s' is not host:port (port 1-65535, IPv6 in "
				       "brackets: [2001:db8::1]:9092)",
				       i + 1, (int)(len > 200 ? 200 : len), e);
		if (end == NULL)
			return 0;
		e = end + 1;
	}
}

static int nm_sink_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			void *arg)
{
	struct nm_cfg_sink *s = arg;
	unsigned e = 0;
	if (strcmp(key, "type") == 0) {
		/* in enum nm_sink_type order */
		static const char *const names[] = {"json", "discard", "kafka", "file"};
		if (nm_get_enum(x, path, v, names, 4, &e))
			return -1;
		s->type = (enum nm_sink_type)e;
		return 0;
	}
	if (strcmp(key, "path") == 0)
		return nm_get_str(x, path, v, s->path, sizeof(s->path));
	if (strcmp(key, "brokers") == 0) {
		if (nm_get_str(x, path, v, s->brokers, sizeof(s->brokers)))
			return -1;
		return nm_brokers_check(x, path, s->brokers);
	}
	if (strcmp(key, "topic") == 0) {
		if (nm_get_str(x, path, v, s->topic, sizeof(s->topic)))
			return -1;
		if (s->topic[0] == 0)
			return nm_fail(x, path, "empty (a topic needs a name)");
		return 0;
	}
	if (strcmp(key, "counters_topic") == 0)
		return nm_get_str(x, path, v, s->counters_topic, sizeof(s->counters_topic));
	if (strcmp(key, "compression") == 0) {
		static const char *const names[] = {"zstd", "lz4", "snappy", "gzip", "none"};
		if (nm_get_enum(x, path, v, names, 5, &e))
			return -1;
		snprintf(s->compression, sizeof(s->compression), "%s", names[e]);
		return 0;
	}
	if (strcmp(key, "linger_ms") == 0)
		return nm_get_u32(x, path, v, 0, 60000, &s->linger_ms);
	if (strcmp(key, "acks") == 0) {
		static const char *const names[] = {"all", "1", "0"};
		if (nm_get_enum(x, path, v, names, 3, &e))
			return -1;
		s->acks = e == 0 ? -1 : e == 1 ? 1 : 0;
		return 0;
	}
	if (strcmp(key, "idempotence") == 0)
		return nm_get_bool(x, path, v, &s->idempotence);
	if (strcmp(key, "format") == 0) {
		static const char *const names[] = {"protobuf", "json"};
		if (nm_get_enum(x, path, v, names, 2, &e))
			return -1;
		s->json = e == 1;
		return 0;
	}
	if (strcmp(key, "key") == 0) {
		static const char *const names[] = {"none", "exporter"}; /* enum nm_kafka_key */
		if (nm_get_enum(x, path, v, names, 2, &e))
			return -1;
		s->key = (enum nm_kafka_key)e;
		return 0;
	}
	if (strcmp(key, "max_message_bytes") == 0)
		return nm_get_u32(x, path, v, 4096, 1u << 30, &s->max_message_bytes);
	if (strcmp(key, "max_message_records") == 0)
		return nm_get_u32(x, path, v, 1, 1u << 24, &s->max_message_records);
	if (strcmp(key, "flush_timeout_ms") == 0)
		return nm_get_u32(x, path, v, 0, 3600000, &s->flush_timeout_ms);
	if (strcmp(key, "properties") == 0)
		return nm_map(x, path, v, nm_prop_pair, s);
	if (strcmp(key, "spool") == 0)
		return nm_map(x, path, v, nm_spool_pair, s);
	if (strcmp(key, "rotate_bytes") == 0)
		return nm_get_u64(x, path, v, 4096, UINT64_MAX, &s->rotate_bytes);
	if (strcmp(key, "rotate_seconds") == 0)
		return nm_get_u32(x, path, v, 1, 86400 * 7, &s->rotate_seconds);
	return nm_fail(x, path,
		       "unknown key (expected type, path, brokers, topic, counters_topic, format, compression, "
		       "linger_ms, acks, idempotence, key, max_message_bytes, max_message_records, "
		       "flush_timeout_ms, properties, spool, rotate_bytes, rotate_seconds)");
}

/* Defaults of a sink entry, before its keys are read. */
static void nm_sink_default(struct nm_cfg_sink *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "-");
	snprintf(s->topic, sizeof(s->topic), "flows");
	snprintf(s->compression, sizeof(s->compression), "zstd");
	s->linger_ms = 20;
	s->acks = -1;
	s->idempotence = true;
	s->key = NM_KEY_NONE;
	s->max_message_bytes = 900000; /* under Kafka's 1,000,000 default message.max.bytes */
	s->max_message_records = 50000;
	s->flush_timeout_ms = 10000;
	s->spool_quota = 1ull << 30;
	s->spool_sync_ms = 1000;
	s->rotate_bytes = 256ull << 20;
	s->rotate_seconds = 300;
}

static int nm_sink_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_config *c = arg;
	if (c->nsinks >= NM_CFG_MAX_SINKS)
		return nm_fail(x, path, "at most %d sinks", NM_CFG_MAX_SINKS);
	struct nm_cfg_sink *s = &c->sinks[c->nsinks];
	nm_sink_default(s);
	if (nm_map(x, path, n, nm_sink_pair, s))
		return -1;
	if (s->type == NM_SINK_KAFKA && s->brokers[0] == 0)
		return nm_fail(x, path, "a kafka sink needs brokers (host:port,...)");
	if (s->type == NM_SINK_FILE && strcmp(s->path, "-") == 0)
		return nm_fail(x, path, "a file sink needs path: a directory for the files");
	c->nsinks++;
	return 0;
}

/* ==== Linux inputs: nflog and conntrack (dataplane/linux_in.h) ====
 * Their own block: each key is parsed here, defaults in nm_linux_cfg_default,
 * the summary lines in nm_linux_cfg_print. */

static void nm_linux_cfg_default(struct nm_config *c)
{
	c->nflog.copy_range = 128;
	c->nflog.qthreshold = 32;
	c->nflog.flush_ms = 100;
	c->nflog.nlbufsiz = 65536;
	c->nflog.rcvbuf = 8u << 20;
	c->conntrack.events_new = true;
	c->conntrack.reliable = true;
	c->conntrack.set_sysctls = true;
	c->conntrack.resync_interval = 10;
	c->conntrack.rcvbuf = 8u << 20;
}

static int nm_nflog_group_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
			       yaml_node_t *v, void *arg)
{
	struct nm_cfg_nflog_group *g = arg;
	uint32_t n;
	if (strcmp(key, "group") == 0) {
		if (nm_get_u32(x, path, v, 0, 65535, &n))
			return -1;
		g->group = (uint16_t)n;
		return 0;
	}
	if (strcmp(key, "sampling_rate") == 0)
		return nm_get_u64(x, path, v, 1, UINT32_MAX, &g->sampling_rate);
	return nm_fail(x, path, "unknown key (expected group, sampling_rate)");
}

/* A group: a number (every packet logged: rate 1) or {group, sampling_rate}. */
static int nm_nflog_group_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_cfg_nflog *l = arg;
	if (l->ngroups >= NM_CFG_MAX_NFLOG_GROUPS)
		return nm_fail(x, path, "at most %d groups", NM_CFG_MAX_NFLOG_GROUPS);
	struct nm_cfg_nflog_group g = {0, 1};
	if (n->type == YAML_MAPPING_NODE) {
		g.group = UINT16_MAX;
		uint32_t seen = 0;
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top; pr++) {
			const char *k = nm_scalar(yaml_document_get_node(x->doc, pr->key));
			seen |= k && strcmp(k, "group") == 0;
		}
		if (nm_map(x, path, n, nm_nflog_group_pair, &g))
			return -1;
		if (!seen)
			return nm_fail(x, path, "group is missing (0..65535, as in nft 'log group N')");
	} else {
		uint32_t v;
		if (nm_get_u32(x, path, n, 0, 65535, &v))
			return -1;
		g.group = (uint16_t)v;
	}
	for (uint32_t i = 0; i < l->ngroups; i++)
		if (l->groups[i].group == g.group)
			return nm_fail(x, path, "group %u is listed twice", g.group);
	l->groups[l->ngroups++] = g;
	return 0;
}

static int nm_nflog_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
			 void *arg)
{
	struct nm_cfg_nflog *l = arg;
	if (strcmp(key, "groups") == 0) {
		l->ngroups = 0;
		return nm_each(x, path, v, nm_nflog_group_item, l);
	}
	if (strcmp(key, "copy_range") == 0)
		return nm_get_u32(x, path, v, 20, 65535, &l->copy_range);
	if (strcmp(key, "queue_threshold") == 0)
		return nm_get_u32(x, path, v, 1, 65535, &l->qthreshold);
	if (strcmp(key, "flush_timeout_ms") == 0)
		return nm_get_u32(x, path, v, 10, 60000, &l->flush_ms);
	if (strcmp(key, "nlbufsiz") == 0)
		return nm_get_u32(x, path, v, 4096, 131072, &l->nlbufsiz);
	if (strcmp(key, "rcvbuf") == 0)
		return nm_get_u32(x, path, v, 65536, 1u << 30, &l->rcvbuf);
	return nm_fail(x, path,
		       "unknown key (expected groups, copy_range, queue_threshold, flush_timeout_ms, "
		       "nlbufsiz, rcvbuf)");
}

static int nm_ct_event_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	unsigned *mask = arg, e = 0;
	static const char *const names[] = {"new", "destroy"};
	if (nm_get_enum(x, path, n, names, 2, &e))
		return -1;
	*mask |= 1u << e;
	return 0;
}

static int nm_conntrack_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
			     yaml_node_t *v, void *arg)
{
	struct nm_cfg_conntrack *t = arg;
	if (strcmp(key, "events") == 0) {
		unsigned mask = 0;
		if (nm_each(x, path, v, nm_ct_event_item, &mask))
			return -1;
		if (!(mask & 2))
			return nm_fail(x, path, "destroy is needed (records are made from it)");
		t->events_new = mask & 1;
		return 0;
	}
	if (strcmp(key, "dump_interval") == 0)
		return nm_get_u32(x, path, v, 0, 86400, &t->dump_interval);
	if (strcmp(key, "resync_interval") == 0)
		return nm_get_u32(x, path, v, 0, 86400, &t->resync_interval);
	if (strcmp(key, "rcvbuf") == 0)
		return nm_get_u32(x, path, v, 65536, 1u << 30, &t->rcvbuf);
	if (strcmp(key, "reliable") == 0)
		return nm_get_bool(x, path, v, &t->reliable);
	if (strcmp(key, "set_sysctls") == 0)
		return nm_get_bool(x, path, v, &t->set_sysctls);
	return nm_fail(x, path,
		       "unknown key (expected events, dump_interval, resync_interval, rcvbuf, "
		       "reliable, set_sysctls)");
}

/* The top-level keys of this block: 1 when key is not one of them. */
static int nm_linux_top_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
			     yaml_node_t *v, struct nm_config *c)
{
	if (strcmp(key, "nflog") == 0) {
		c->nflog.on = true;
		if (nm_map(x, path, v, nm_nflog_pair, &c->nflog))
			return -1;
		if (c->nflog.ngroups == 0)
			return nm_fail(x, path, "groups: at least one log group (nft 'log group N')");
		return 0;
	}
	if (strcmp(key, "conntrack") == 0) {
		c->conntrack.on = true;
		/* "conntrack: {}" (or an empty value) takes every default */
		if (nm_scalar(v) && nm_scalar(v)[0] == 0)
			return 0;
		return nm_map(x, path, v, nm_conntrack_pair, &c->conntrack);
	}
	return 1;
}

static void nm_linux_cfg_print(const struct nm_config *c, FILE *o)
{
	if (c->nflog.on) {
		fprintf(o, "netmeta: nflog: groups");
		for (uint32_t i = 0; i < c->nflog.ngroups; i++)
			fprintf(o, " %u (sampling rate %" PRIu64 ")", c->nflog.groups[i].group,
				c->nflog.groups[i].sampling_rate);
		fprintf(o,
			", copy range %" PRIu32 " bytes, queue threshold %" PRIu32
			", flush %" PRIu32 " ms, socket buffer %" PRIu32 " bytes\n",
			c->nflog.copy_range, c->nflog.qthreshold, c->nflog.flush_ms,
			c->nflog.rcvbuf);
	}
	if (c->conntrack.on) {
		fprintf(o, "netmeta: conntrack: events %s, %s delivery, ",
			c->conntrack.events_new ? "new+destroy" : "destroy",
			c->conntrack.reliable ? "reliable" : "best-effort");
		if (c->conntrack.dump_interval)
			fprintf(o, "dump every %" PRIu32 " s (counters zeroed), ",
				c->conntrack.dump_interval);
		else
			fprintf(o, "no periodic dump, ");
		if (c->conntrack.resync_interval)
			fprintf(o, "after overruns a resync dump at most every %" PRIu32 " s, ",
				c->conntrack.resync_interval);
		else
			fprintf(o, "no resync dump, ");
		fprintf(o, "socket buffer %" PRIu32 " bytes%s\n", c->conntrack.rcvbuf,
			c->conntrack.set_sysctls ? ", turns on nf_conntrack_acct/_timestamp" : "");
	}
}
/* ==== end of the Linux inputs block ==== */
static int nm_metrics_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
			   yaml_node_t *v, void *arg)
{
	struct nm_config *c = arg;
	if (strcmp(key, "listen") == 0) {
		if (nm_get_str(x, path, v, c->metrics_listen, sizeof(c->metrics_listen)))
			return -1;
		if (strcmp(c->metrics_listen, "off") == 0) {
			c->metrics_listen[0] = 0;
			return 0;
		}
		const char *colon = strrchr(c->metrics_listen, ':');
		char *end;
		unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
		if (colon == NULL || colon == c->metrics_listen || colon[1] == 0 || *end ||
		    port == 0 || port > 65535)
			return nm_fail(x, path, "'%s': expected host:port (IPv6 in brackets) or off",
				       c->metrics_listen);
		return 0;
	}
	if (strcmp(key, "max_exporters") == 0)
		return nm_get_u32(x, path, v, 1, 65536, &c->metrics_max_exporters);
	return nm_fail(x, path, "unknown key (expected listen, max_exporters)");
}

static int nm_log_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
		       void *arg)
{
	struct nm_config *c = arg;
	if (strcmp(key, "level") == 0) {
		static const char *const names[] = {"error", "warning", "info", "debug"};
		unsigned e = 0;
		if (nm_get_enum(x, path, v, names, 4, &e))
			return -1;
		c->log_level = e;
		return 0;
	}
	if (strcmp(key, "format") == 0) {
		static const char *const names[] = {"bare", "plain", "json"}; /* enum nm_log_format */
		unsigned e = 0;
		if (nm_get_enum(x, path, v, names, 3, &e))
			return -1;
		c->log_format = e;
		return 0;
	}
	return nm_fail(x, path, "unknown key (expected level, format)");
}

static int nm_top_pair(struct nm_cfg_ctx *x, const char *path, const char *key, yaml_node_t *v,
		       void *arg)
{
	struct nm_config *c = arg;
	if (strcmp(key, "metrics") == 0) {
		snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s",
			 NM_METRICS_DEFAULT_LISTEN);
		if (v->type == YAML_SCALAR_NODE && nm_scalar(v)[0] == 0)
			return 0; /* "metrics:" alone: on, the defaults */
		return nm_map(x, path, v, nm_metrics_pair, c);
	}
	if (strcmp(key, "log") == 0)
		return nm_map(x, path, v, nm_log_pair, c);
	if (strcmp(key, "share_ports") == 0)
		return nm_get_bool(x, path, v, &c->share_ports);
	if (strcmp(key, "backend") == 0) {
		static const char *const names[] = {"socket", "dpdk"}; /* enum nm_backend */
		unsigned e = 0;
		if (nm_get_enum(x, path, v, names, 2, &e))
			return -1;
		c->backend = (enum nm_backend)e;
		return 0;
	}
	if (strcmp(key, "workers") == 0)
		return nm_get_u32(x, path, v, 1, NM_CFG_MAX_WORKERS, &c->workers);
	if (strcmp(key, "ports") == 0) {
		c->nports = 0;
		return nm_each(x, path, v, nm_port_item, c);
	}
	if (strcmp(key, "listen") == 0) {
		c->nlisten = 0;
		if (nm_map(x, path, v, nm_listen_pair, c))
			return -1;
		if (c->nlisten == 0)
			return nm_fail(x, path, "no port to listen on");
		return 0;
	}
	if (strcmp(key, "bind") == 0) {
		struct nm_prefix pf;
		if (nm_get_str(x, path, v, c->bind, sizeof(c->bind)))
			return -1;
		if (nm_prefix_parse(c->bind, &pf, false))
			return nm_fail(x, path, "'%s' is not an IPv4 or IPv6 address", c->bind);
		return 0;
	}
	if (strcmp(key, "rcvbuf") == 0)
		return nm_get_u32(x, path, v, 4096, 1u << 30, &c->rcvbuf);
	if (strcmp(key, "allow") == 0) {
		c->nallow = 0;
		return nm_each(x, path, v, nm_allow_item, c);
	}
	if (strcmp(key, "templates") == 0)
		return nm_map(x, path, v, nm_tmpl_pair, &c->decode);
	if (strcmp(key, "state") == 0)
		return nm_map(x, path, v, nm_state_pair, c);
	if (strcmp(key, "sampling_rates") == 0) {
		c->nrates = 0;
		return nm_each(x, path, v, nm_rate_item, c);
	}
	if (strcmp(key, "sinks") == 0) {
		c->nsinks = 0;
		if (nm_each(x, path, v, nm_sink_item, c))
			return -1;
		if (c->nsinks == 0)
			return nm_fail(x, path, "at least one sink is needed");
		return 0;
	}
	if (strcmp(key, "stats_interval") == 0)
		return nm_get_u32(x, path, v, 0, 86400, &c->stats_interval);
	if (strcmp(key, "ring_size") == 0) {
		if (nm_get_u32(x, path, v, 2, 1u << 20, &c->ring_size))
			return -1;
		if (c->ring_size & (c->ring_size - 1))
			return nm_fail(x, path, "must be a power of two");
		return 0;
	}
	if (strcmp(key, "batch_records") == 0)
		return nm_get_u32(x, path, v, 1, 65536, &c->batch_records);
	if (strcmp(key, "batches") == 0)
		return nm_get_u32(x, path, v, 2, 1u << 20, &c->batches);
	if (strcmp(key, "flush_ms") == 0)
		return nm_get_u32(x, path, v, 1, 60000, &c->flush_ms);
	if (strcmp(key, "mbufs") == 0)
		return nm_get_u32(x, path, v, 512, 1u << 24, &c->mbufs);
	if (strcmp(key, "mbuf_size") == 0)
		return nm_get_u32(x, path, v, 1024, 65535 - 128, &c->mbuf_size);
	if (strcmp(key, "rx_desc") == 0)
		return nm_get_u32(x, path, v, 64, 32768, &c->rx_desc);
	if (strcmp(key, "sampler") == 0)
		return nm_sampler_block(x, path, v, c);
	int lx = nm_linux_top_pair(x, path, key, v, c);
	if (lx <= 0)
		return lx;
	return nm_fail(x, path,
		       "unknown key (expected backend, workers, ports, listen, bind, rcvbuf, allow, "
		       "templates, sampling_rates, sinks, stats_interval, ring_size, batch_records, batches, "
		       "flush_ms, mbufs, mbuf_size, rx_desc, sampler, nflog, conntrack, metrics, log, "
		       "share_ports, state)");
}

int nm_config_parse(struct nm_config *c, const char *yaml, size_t len, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "config: cannot initialise the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "config: line %zu column %zu: %s", parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return -1;
	}
	struct nm_cfg_ctx x = {&doc, err, errlen, 0};
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	int rc = root == NULL ? 0 : nm_map(&x, "", root, nm_top_pair, c);
	if (rc == 0 && c->backend == NM_BACKEND_DPDK && c->nports == 0)
		rc = nm_fail(&x, "ports", "the dpdk backend needs at least one port");
	if (rc == 0 && c->batches < 2 * c->workers)
		rc = nm_fail(&x, "batches", "fewer than two batches per worker");
	if (rc == 0)
		rc = nm_config_sampler_check(c, err, errlen);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int nm_config_load(struct nm_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "config: %s: %s", path, strerror(errno));
		return -1;
	}
	char *buf = malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	int bad = ferror(f) || buf == NULL || n == (1 << 20) - 1;
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "config: %s: unreadable or larger than 1 MiB", path);
		free(buf);
		return -1;
	}
	int rc = nm_config_parse(c, buf, n, err, errlen);
	free(buf);
	return rc;
}

void nm_config_print(const struct nm_config *c, void *file)
{
	FILE *o = file;
	char a[64];
	fprintf(o, "netmeta: backend %s, %" PRIu32 " worker%s\n",
		c->backend == NM_BACKEND_DPDK ? "dpdk" : "socket", c->workers,
		c->workers == 1 ? "" : "s");
	for (uint32_t i = 0; i < c->nports; i++) {
		fprintf(o, "netmeta: port %" PRIu32 ": %s%s", i, c->ports[i].device,
			c->ports[i].accept_any_destination ? " (any destination)" : "");
		if (c->ports[i].mirror)
			fprintf(o, " mirror: 1-in-%" PRIu32 " sampling, ifIndex %" PRIu32,
				c->ports[i].sampling_rate, c->ports[i].if_index);
		for (uint32_t k = 0; k < c->ports[i].naddrs; k++)
			fprintf(o, " %s", nm_addr_format(&c->ports[i].addrs[k], a, sizeof(a)));
		fprintf(o, "\n");
	}
	if (c->backend == NM_BACKEND_SOCKET)
		fprintf(o, "netmeta: bind %s, SO_RCVBUF %" PRIu32 " bytes\n", c->bind, c->rcvbuf);
	fprintf(o, "netmeta: listen");
	for (uint32_t i = 0; i < c->nlisten; i++)
		fprintf(o, " %u/%s", c->listen[i].port, nm_proto_kind_name(c->listen[i].kind));
	fprintf(o, "\nnetmeta: exporters allowed:");
	if (c->nallow == 0)
		fprintf(o, " all");
	for (uint32_t i = 0; i < c->nallow; i++) {
		const struct nm_prefix *p = &c->allow[i];
		bool v4 = nm_addr_is_v4(&p->addr) && p->len >= 96;
		fprintf(o, " %s/%u", nm_addr_format(&p->addr, a, sizeof(a)),
			v4 ? p->len - 96u : p->len);
	}
	fprintf(o,
		"\nnetmeta: templates: %" PRIu32 " exporters, %" PRIu32 " templates (%" PRIu32
		" per exporter, %" PRIu32 " fields), lifetime %" PRIu32 " s\n",
		c->decode.max_exporters, c->decode.max_templates,
		c->decode.max_templates_per_exporter, c->decode.max_fields_per_template,
		c->decode.template_lifetime_s);
	fprintf(o,
		"netmeta: new exporters and templates of exporters without decoded data: %" PRIu32
		"/s per source address (burst %" PRIu32 "), %" PRIu32 "/s per worker (burst %" PRIu32
		"); 0/s = unlimited\n",
		c->decode.admit_source_rate, c->decode.admit_source_burst,
		c->decode.admit_global_rate, c->decode.admit_global_burst);
	if (c->state_path[0])
		fprintf(o, "netmeta: decoder state: %s.<worker>, loaded if at most %" PRIu32
			   " s old, saved at shutdown and every %" PRIu32 " s (0: only then)\n",
			c->state_path, c->state_max_age, c->state_interval);
	for (uint32_t i = 0; i < c->nrates; i++)
		fprintf(o, "netmeta: sampling rate of %s: %" PRIu32 " (%s)\n",
			nm_addr_format(&c->rates[i].exporter, a, sizeof(a)), c->rates[i].rate,
			c->rates[i].override ? "overrides the export" : "where the export states none");
	for (uint32_t i = 0; i < c->nsinks; i++) {
		const struct nm_cfg_sink *s = &c->sinks[i];
		if (s->type == NM_SINK_DISCARD)
			fprintf(o, "netmeta: sink %" PRIu32 ": discard (count only)\n", i);
		else if (s->type == NM_SINK_KAFKA)
			fprintf(o,
				"netmeta: sink %" PRIu32 ": kafka %s topic %s%s%s, %s %s, acks %s, linger %" PRIu32
				" ms, key %s, messages up to %" PRIu32 " bytes / %" PRIu32
				" records, spool %s\n",
				i, s->brokers, s->topic, s->counters_topic[0] ? " counters " : "",
				s->counters_topic, s->json ? "json" : "protobuf", s->compression,
				s->acks < 0 ? "all" : s->acks ? "1" : "0",
				s->linger_ms, s->key == NM_KEY_EXPORTER ? "exporter" : "none",
				s->max_message_bytes, s->max_message_records,
				s->spool_dir[0] ? s->spool_dir : "off");
		else if (s->type == NM_SINK_FILE)
			fprintf(o,
				"netmeta: sink %" PRIu32 ": files in %s (zstd, length-delimited protobuf), "
				"rotate at %" PRIu64 " bytes or %" PRIu32 " s\n",
				i, s->path, s->rotate_bytes, s->rotate_seconds);
		else
			fprintf(o, "netmeta: sink %" PRIu32 ": json lines to %s\n", i,
				strcmp(s->path, "-") == 0 ? "stdout" : s->path);
	}
	fprintf(o,
		"netmeta: batches of %" PRIu32 " records, %" PRIu32 " in all, ring %" PRIu32
		", flush after %" PRIu32 " ms, stats every %" PRIu32 " s\n",
		c->batch_records, c->batches, c->ring_size, c->flush_ms, c->stats_interval);
	nm_linux_cfg_print(c, o);
	if (c->metrics_listen[0])
		fprintf(o, "netmeta: metrics on http://%s/metrics, %" PRIu32 " exporter series per worker\n",
			c->metrics_listen, c->metrics_max_exporters);
	if (c->share_ports)
		fprintf(o, "netmeta: share_ports: joins other processes on the listen ports\n");
}

/* ---- packet sampler (issue 14): the port keys and the `sampler:` block ----
 *
 *   ports:
 *     - device: net_af_packet0,iface=span0
 *       role: mirror          # collector (default): flow exports; mirror: traffic to sample
 *       sampling_rate: 1000   # 1-in-N (1..2^24), mirror ports only
 *       if_index: 3           # InIf of the records, sFlow source ID (default: 1 + index)
 *   sampler:
 *     agent_address: 192.0.2.1    # SamplerAddress, sFlow agent address (needed with mirror ports)
 *     header_bytes: 128           # sFlow raw header record length (14..256)
 *     records: true               # sampled packets become flow records
 *     sflow_collectors: ["198.51.100.7:6343"]   # send sFlow v5 too (optional)
 *     counter_interval: 20        # seconds between counter samples (1..3600)
 *     seed: 0                     # 0: from the clock; fixed: reproducible skips (tests)
 *
 * Returns -1 when the key is not one of the port's sampler keys (the caller
 * goes on), 0 when handled (x->failed tells whether it was valid).
 */
static int nm_sampler_port_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
				yaml_node_t *v, struct nm_cfg_port *p)
{
	if (strcmp(key, "role") == 0) {
		static const char *const names[] = {"collector", "mirror"};
		unsigned e = 0;
		if (nm_get_enum(x, path, v, names, 2, &e) == 0)
			p->mirror = e == 1;
		return 0;
	}
	if (strcmp(key, "sampling_rate") == 0) {
		nm_get_u32(x, path, v, 1, NM_SAMPLER_RATE_MAX, &p->sampling_rate);
		return 0;
	}
	if (strcmp(key, "if_index") == 0) {
		nm_get_u32(x, path, v, 1, UINT32_MAX, &p->if_index);
		return 0;
	}
	return -1;
}

static int nm_sampler_coll_item(struct nm_cfg_ctx *x, const char *path, yaml_node_t *n, void *arg)
{
	struct nm_cfg_sampler *s = arg;
	if (s->ncollectors >= NM_SAMPLER_MAX_COLLECTORS)
		return nm_fail(x, path, "at most %d sFlow collectors", NM_SAMPLER_MAX_COLLECTORS);
	char *dst = s->collectors[s->ncollectors];
	if (nm_get_str(x, path, n, dst, sizeof(s->collectors[0])))
		return -1;
	struct sockaddr_in6 sa;
	uint32_t salen;
	if (nm_sampler_parse_hostport(dst, &sa, &salen))
		return nm_fail(x, path, "'%s' is not host:port (IPv6 in brackets)", dst);
	s->ncollectors++;
	return 0;
}

static int nm_sampler_pair(struct nm_cfg_ctx *x, const char *path, const char *key,
			   yaml_node_t *v, void *arg)
{
	struct nm_cfg_sampler *s = arg;
	if (strcmp(key, "agent_address") == 0) {
		char buf[64];
		struct nm_prefix pf;
		if (nm_get_str(x, path, v, buf, sizeof(buf)))
			return -1;
		if (nm_prefix_parse(buf, &pf, false))
			return nm_fail(x, path, "'%s' is not an IPv4 or IPv6 address", buf);
		s->agent = pf.addr;
		s->agent_set = true;
		return 0;
	}
	if (strcmp(key, "header_bytes") == 0)
		return nm_get_u32(x, path, v, 14, NM_SAMPLER_HEADER_MAX, &s->header_bytes);
	if (strcmp(key, "records") == 0)
		return nm_get_bool(x, path, v, &s->records);
	if (strcmp(key, "counter_interval") == 0)
		return nm_get_u32(x, path, v, 1, 3600, &s->counter_interval);
	if (strcmp(key, "seed") == 0)
		return nm_get_u64(x, path, v, 0, UINT64_MAX, &s->seed);
	if (strcmp(key, "sflow_collectors") == 0) {
		s->ncollectors = 0;
		return nm_each(x, path, v, nm_sampler_coll_item, s);
	}
	return nm_fail(x, path,
		       "unknown key (expected agent_address, header_bytes, records, sflow_collectors, "
		       "counter_interval, seed)");
}

static int nm_sampler_block(struct nm_cfg_ctx *x, const char *path, yaml_node_t *v,
			    struct nm_config *c)
{
	return nm_map(x, path, v, nm_sampler_pair, &c->sampler);
}

/* Checks that need the whole config: 0, or -1 with the message in err. */
int nm_config_sampler_check(const struct nm_config *c, char *err, size_t errlen)
{
	bool mirror = false;
	for (uint32_t i = 0; i < c->nports; i++)
		mirror |= c->ports[i].mirror;
	if (!mirror)
		return 0;
	if (c->backend != NM_BACKEND_DPDK) {
		snprintf(err, errlen, "ports: role mirror needs backend dpdk");
		return -1;
	}
	if (!c->sampler.agent_set) {
		snprintf(err, errlen,
			 "sampler.agent_address: needed with a mirror port (SamplerAddress, sFlow agent)");
		return -1;
	}
	return 0;
}

bool nm_config_sinks_reloadable(const struct nm_config *run, const struct nm_config *next)
{
	if (run->nsinks != next->nsinks)
		return false;
	for (uint32_t i = 0; i < run->nsinks; i++) {
		/* byte copies: equal settings are equal bytes, padding too */
		static _Thread_local struct nm_cfg_sink a, b;
		memcpy(&a, &run->sinks[i], sizeof(a));
		memcpy(&b, &next->sinks[i], sizeof(b));
		if (a.type == NM_SINK_FILE && b.type == NM_SINK_FILE) {
			b.rotate_bytes = a.rotate_bytes;
			b.rotate_seconds = a.rotate_seconds;
		}
		if (memcmp(&a, &b, sizeof(a)) != 0)
			return false;
	}
	return true;
}

int nm_config_restart_keys(const struct nm_config *run, const struct nm_config *next, char *out,
			   size_t cap)
{
	/* Both come from nm_config_default (zeroed) and the same parser: equal
	 * settings are equal bytes. */
#define NM_DIFF_(field, name)                                                                      \
	if (memcmp(&run->field, &next->field, sizeof(run->field)) != 0) {                          \
		size_t l_ = strlen(out);                                                           \
		snprintf(out + l_, cap - l_, "%s%s", n ? ", " : "", name);                         \
		n++;                                                                               \
	}
	int n = 0;
	if (cap)
		out[0] = 0;
	NM_DIFF_(backend, "backend")
	NM_DIFF_(workers, "workers")
	if (run->nports != next->nports ||
	    memcmp(run->ports, next->ports, run->nports * sizeof(run->ports[0])) != 0) {
		size_t l_ = strlen(out);
		snprintf(out + l_, cap - l_, "%sports", n ? ", " : "");
		n++;
	}
	if (run->nlisten != next->nlisten ||
	    memcmp(run->listen, next->listen, run->nlisten * sizeof(run->listen[0])) != 0) {
		size_t l_ = strlen(out);
		snprintf(out + l_, cap - l_, "%slisten", n ? ", " : "");
		n++;
	}
	NM_DIFF_(bind, "bind")
	NM_DIFF_(rcvbuf, "rcvbuf")
	NM_DIFF_(decode, "templates")
	if (!nm_config_sinks_reloadable(run, next)) {
		size_t l_ = strlen(out);
		snprintf(out + l_, cap - l_, "%ssinks", n ? ", " : "");
		n++;
	}
	NM_DIFF_(ring_size, "ring_size")
	NM_DIFF_(batch_records, "batch_records")
	NM_DIFF_(batches, "batches")
	NM_DIFF_(flush_ms, "flush_ms")
	NM_DIFF_(mbufs, "mbufs")
	NM_DIFF_(mbuf_size, "mbuf_size")
	NM_DIFF_(rx_desc, "rx_desc")
	NM_DIFF_(metrics_listen, "metrics.listen")
	NM_DIFF_(metrics_max_exporters, "metrics.max_exporters")
	NM_DIFF_(share_ports, "share_ports")
	NM_DIFF_(log_format, "log.format")
	NM_DIFF_(sampler, "sampler")
	NM_DIFF_(nflog, "nflog")
	NM_DIFF_(conntrack, "conntrack")
	NM_DIFF_(state_path, "state.path")
	NM_DIFF_(state_max_age, "state.max_age")
	NM_DIFF_(state_interval, "state.interval")
#undef NM_DIFF_
	return n;
}
