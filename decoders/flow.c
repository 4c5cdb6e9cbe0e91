/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "flow.h"

const char *nm_flow_type_name(enum nm_flow_type t)
{
	switch (t) {
	case NM_FLOW_TYPE_SFLOW_5:
		return "SFLOW_5";
	case NM_FLOW_TYPE_NETFLOW_V5:
		return "NETFLOW_V5";
	case NM_FLOW_TYPE_NETFLOW_V9:
		return "NETFLOW_V9";
	case NM_FLOW_TYPE_IPFIX:
		return "IPFIX";
	case NM_FLOW_TYPE_SAMPLER:
		return "SAMPLER";
	case NM_FLOW_TYPE_NFLOG:
		return "NFLOG";
	case NM_FLOW_TYPE_CONNTRACK:
		return "CONNTRACK";
	default:
		return "FLOWUNKNOWN";
	}
}

char *nm_addr_format(const struct nm_addr *a, char *buf, size_t len)
{
	if (nm_addr_is_v4(a)) {
		snprintf(buf, len, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
		return buf;
	}
	/* RFC 5952: lower case, longest run (>= 2) of zero groups as "::". */
	unsigned g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a->b[2 * i] << 8 | a->b[2 * i + 1];
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len && j - i >= 2) {
			best = i;
			best_len = j - i;
		}
		i = j == i ? i + 1 : j;
	}
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < 8 && o < len; i++) {
		if (i == best) {
			o += (size_t)snprintf(buf + o, len - o, "::");
			i += best_len - 1;
			continue;
		}
		if (i > 0 && i != best + best_len)
			o += (size_t)snprintf(buf + o, len - o, ":");
		o += (size_t)snprintf(buf + o, len - o, "%x", g[i]);
	}
	return buf;
}

/* Length of the valid UTF-8 character at s (n bytes left), 0 when invalid. */
static size_t nm_utf8_char(const uint8_t *s, size_t n)
{
	uint8_t c = s[0];
	size_t k;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < k || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < k; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return k;
}

size_t nm_flow_text_copy(char *dst, size_t cap, const uint8_t *src, size_t len, bool *cut)
{
	size_t o = 0, i = 0;
	*cut = false;
	while (i < len && src[i] != 0) {
		size_t k = nm_utf8_char(src + i, len - i);
		if (k == 1 && (src[i] < 0x20 || src[i] == 0x7f))
			k = 0;
		size_t w = k ? k : 1; /* bytes written: the character or one '?' */
		if (o + w > cap) {
			*cut = true;
			break;
		}
		if (k) {
			memcpy(dst + o, src + i, k);
			i += k;
		} else {
			dst[o] = '?';
			i++;
		}
		o += w;
	}
	return o;
}
