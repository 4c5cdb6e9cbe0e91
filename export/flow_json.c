/* SPDX-License-Identifier: BSD-3-Clause */
#include "flow_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "flow.pb-c.h"

/*
 * JSON writers, one per field kind of NM_FLOW_FIELDS / NM_CTR_FIELDS. Each
 * appends `"Name":value,` at buf + *o; the caller guarantees the room
 * (NM_FLOW_JSON_MAX covers the longest record).
 */
static void nm_j_key(char *buf, size_t *o, size_t cap, const char *name)
{
	*o += (size_t)snprintf(buf + *o, cap - *o, "\"%s\":", name);
}

static void nm_j_u64(char *buf, size_t *o, size_t cap, const char *name, uint64_t v)
{
	nm_j_key(buf, o, cap, name);
	*o += (size_t)snprintf(buf + *o, cap - *o, "%" PRIu64 ",", v);
}

static void nm_j_str(char *buf, size_t *o, size_t cap, const char *name, const char *v)
{
	nm_j_key(buf, o, cap, name);
	*o += (size_t)snprintf(buf + *o, cap - *o, "\"%s\",", v);
}

static void nm_j_bool(char *buf, size_t *o, size_t cap, const char *name, int v)
{
	nm_j_key(buf, o, cap, name);
	*o += (size_t)snprintf(buf + *o, cap - *o, "%s,", v ? "true" : "false");
}

static void nm_j_addr(char *buf, size_t *o, size_t cap, const char *name, const struct nm_addr *a)
{
	char t[64];
	nm_j_str(buf, o, cap, name, nm_addr_format(a, t, sizeof(t)));
}

static void nm_j_mac(char *buf, size_t *o, size_t cap, const char *name, uint64_t m)
{
	char t[24];
	snprintf(t, sizeof(t), "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(m >> 40 & 0xff),
		 (unsigned)(m >> 32 & 0xff), (unsigned)(m >> 24 & 0xff), (unsigned)(m >> 16 & 0xff),
		 (unsigned)(m >> 8 & 0xff), (unsigned)(m & 0xff));
	nm_j_str(buf, o, cap, name, t);
}

static void nm_j_list(char *buf, size_t *o, size_t cap, const char *name, const uint32_t *v,
		      unsigned n)
{
	nm_j_key(buf, o, cap, name);
	buf[(*o)++] = '[';
	for (unsigned i = 0; i < n; i++)
		*o += (size_t)snprintf(buf + *o, cap - *o, "%s%" PRIu32, i ? "," : "", v[i]);
	*o += (size_t)snprintf(buf + *o, cap - *o, "],");
}

size_t nm_json_escape(char *out, size_t cap, const char *in, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
	return o;
}

/* A JSON string (6 bytes per input byte at most: 64 bytes of text stay
 * within NM_FLOW_JSON_MAX). */
static void nm_j_text(char *buf, size_t *o, size_t cap, const char *name, const char *v, size_t n)
{
	nm_j_key(buf, o, cap, name);
	buf[(*o)++] = '"';
	*o += nm_json_escape(buf + *o, cap - *o, v, n);
	buf[(*o)++] = '"';
	buf[(*o)++] = ',';
}

#define NM_J_ENUM(name, m) nm_j_str(buf, &o, cap, #name, nm_flow_type_name((enum nm_flow_type)f->m));
#define NM_J_U32(name, m) nm_j_u64(buf, &o, cap, #name, f->m);
#define NM_J_U64(name, m) nm_j_u64(buf, &o, cap, #name, f->m);
#define NM_J_BOOL(name, m) nm_j_bool(buf, &o, cap, #name, f->m);
#define NM_J_ADDR(name, m) nm_j_addr(buf, &o, cap, #name, &f->m);
#define NM_J_MAC(name, m) nm_j_mac(buf, &o, cap, #name, f->m);
#define NM_J_U32LIST(name, m) nm_j_list(buf, &o, cap, #name, f->m, f->m##_len);
#define NM_J_STR(name, m) nm_j_text(buf, &o, cap, #name, f->m, NM_FLOW_STR_LEN(f, m));
#define NM_X_(num, name, kind, m, pb) NM_J_##kind(name, m)

size_t nm_flow_json(const struct nm_flow *f, char *buf, size_t cap)
{
	if (cap < NM_FLOW_JSON_MAX)
		return 0;
	size_t o = 0;
	buf[o++] = '{';
	NM_FLOW_FIELDS(NM_X_)
	buf[o - 1] = '}';
	buf[o] = 0;
	return o;
}

size_t nm_ctr_json(const struct nm_ctr *f, char *buf, size_t cap)
{
	if (cap < NM_FLOW_JSON_MAX)
		return 0;
	size_t o = 0;
	buf[o++] = '{';
	nm_j_str(buf, &o, cap, "Type", "SFLOW_5_COUNTERS");
	NM_CTR_FIELDS(NM_X_)
	buf[o - 1] = '}';
	buf[o] = 0;
	return o;
}
#undef NM_X_

/* Prefixes a packed message of n bytes with its varint length. */
static size_t nm_pb_frame(size_t n, unsigned char *buf, size_t cap, unsigned char *hdr_out,
			  size_t *hdr_len)
{
	size_t h = 0;
	for (size_t x = n;; x >>= 7) {
		hdr_out[h++] = (unsigned char)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
		if (x < 0x80)
			break;
	}
	*hdr_len = h;
	if (h + n > cap)
		return 0;
	memcpy(buf, hdr_out, h);
	return h + n;
}

#define NM_P_ENUM(m, pb) msg.pb = (Netmeta__FlowMessage__FlowType)f->m;
#define NM_P_U32(m, pb) msg.pb = f->m;
#define NM_P_U64(m, pb) msg.pb = f->m;
#define NM_P_BOOL(m, pb) msg.pb = f->m != 0;
#define NM_P_MAC(m, pb) msg.pb = f->m;
/* Address fields are 16 bytes on the wire (IPv4-mapped); :: is left out. */
#define NM_P_ADDR(m, pb)                             \
	msg.pb.data = (uint8_t *)(uintptr_t)f->m.b; \
	msg.pb.len = nm_addr_is_zero(&f->m) ? 0 : 16;
#define NM_P_U32LIST(m, pb)                          \
	msg.n_##pb = f->m##_len;                     \
	msg.pb = (uint32_t *)(uintptr_t)f->m;
/* protobuf-c takes a NUL-terminated string; "" is left out (proto3). */
#define NM_P_STR(m, pb)                                        \
	char m##_s_[sizeof(f->m) + 1];                         \
	memcpy(m##_s_, f->m, NM_FLOW_STR_LEN(f, m));           \
	m##_s_[NM_FLOW_STR_LEN(f, m)] = 0;                     \
	msg.pb = m##_s_;
#define NM_X_(num, name, kind, m, pb) NM_P_##kind(m, pb)

size_t nm_flow_pb_delimited(const struct nm_flow *f, unsigned char *buf, size_t cap)
{
	Netmeta__FlowMessage msg;
	netmeta__flow_message__init(&msg); /* the INIT macro casts away const (string field) */
	NM_FLOW_FIELDS(NM_X_)
	unsigned char v[10];
	size_t h, n = netmeta__flow_message__get_packed_size(&msg);
	size_t total = nm_pb_frame(n, buf, cap, v, &h);
	if (total)
		netmeta__flow_message__pack(&msg, buf + h);
	return total;
}

size_t nm_ctr_pb_delimited(const struct nm_ctr *f, unsigned char *buf, size_t cap)
{
	Netmeta__InterfaceCounters msg = NETMETA__INTERFACE_COUNTERS__INIT;
	NM_CTR_FIELDS(NM_X_)
	unsigned char v[10];
	size_t h, n = netmeta__interface_counters__get_packed_size(&msg);
	size_t total = nm_pb_frame(n, buf, cap, v, &h);
	if (total)
		netmeta__interface_counters__pack(&msg, buf + h);
	return total;
}

static void nm_addr_from_pb(struct nm_addr *a, const ProtobufCBinaryData *d)
{
	memset(a, 0, sizeof(*a));
	if (d->len == 16)
		memcpy(a->b, d->data, 16);
	else if (d->len == 4)
		nm_addr_set_v4(a, d->data);
}

#undef NM_X_
#define NM_U_ENUM(m, pb) f->m = (uint32_t)msg->pb;
#define NM_U_U32(m, pb) f->m = msg->pb;
#define NM_U_U64(m, pb) f->m = msg->pb;
#define NM_U_MAC(m, pb) f->m = msg->pb;
#define NM_U_BOOL(m, pb) f->m = msg->pb != 0;
#define NM_U_ADDR(m, pb) nm_addr_from_pb(&f->m, &msg->pb);
#define NM_U_U32LIST(m, pb)                                                      \
	for (size_t i = 0; i < msg->n_##pb && i < sizeof(f->m) / sizeof(f->m[0]); i++) \
		f->m[i] = msg->pb[i];                                            \
	f->m##_len = (uint8_t)(msg->n_##pb < sizeof(f->m) / sizeof(f->m[0])      \
				       ? msg->n_##pb                             \
				       : sizeof(f->m) / sizeof(f->m[0]));
/* Kept only when no sFlow list holds the bytes it shares (flow.h);
 * another producer's text is cleaned like the NFLOG input's. */
#define NM_U_STR(m, pb)                                                           \
	if (msg->pb && f->as_path_len == 0 && f->communities_len == 0) {         \
		bool cut_;                                                        \
		f->m##_len = (uint8_t)nm_flow_text_copy(f->m, sizeof(f->m),       \
							(const uint8_t *)msg->pb, \
							strlen(msg->pb), &cut_);  \
	}
#define NM_X_(num, name, kind, m, pb) NM_U_##kind(m, pb)

int nm_flow_from_pb(struct nm_flow *f, const uint8_t *p, size_t len)
{
	Netmeta__FlowMessage *msg = netmeta__flow_message__unpack(NULL, len, p);
	if (msg == NULL)
		return -1;
	memset(f, 0, sizeof(*f));
	NM_FLOW_FIELDS(NM_X_)
	netmeta__flow_message__free_unpacked(msg, NULL);
	return 0;
}

int nm_ctr_from_pb(struct nm_ctr *f, const uint8_t *p, size_t len)
{
	Netmeta__InterfaceCounters *msg = netmeta__interface_counters__unpack(NULL, len, p);
	if (msg == NULL)
		return -1;
	memset(f, 0, sizeof(*f));
	NM_CTR_FIELDS(NM_X_)
	netmeta__interface_counters__free_unpacked(msg, NULL);
	return 0;
}
#undef NM_X_
