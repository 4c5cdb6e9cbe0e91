/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>

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
