# SPDX-License-Identifier: BSD-3-Clause
"""
What ClickHouse must answer, computed from netmeta-decode's records alone:
per-protocol totals, rollup measures, and the expected result of every
operator query in clickhouse/queries/ (one function per file; a query file
without one fails the suite, so a new query comes with its expectation).
"""

import collections
import os

from chlib import addr_key, addr_text, scaled, traffic

QUERIES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'clickhouse', 'queries')

PROTO_NAMES = {1: 'icmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 58: 'icmpv6', 132: 'sctp'}
ETYPE_NAMES = {2048: 'ipv4', 34525: 'ipv6', 2054: 'arp', 34887: 'mpls'}


# ClickHouse multiplies and sums UInt64 modulo 2^64. A product that large
# (18 EB in one record) only comes from a broken exporter or from templates
# confused between exporters; the expectations wrap the same way.
U64 = 1 << 64


def wrap(d):
    """A dict of sums as ClickHouse holds them (modulo 2^64)."""
    return {k: v % U64 if isinstance(v, int) else v for k, v in d.items()}


def name(table, v):
    return table.get(v, str(v))


def rate0(r):
    return r['SamplingRate'] == 0


# ---------------------------------------------------------------------------
# totals and rollups
# ---------------------------------------------------------------------------

def per_proto(flows):
    """Proto -> (records, sum Bytes*SamplingRate, sum Packets*SamplingRate)."""
    out = collections.defaultdict(lambda: [0, 0, 0])
    for r in flows:
        t = out[r['Proto']]
        t[0] += 1
        t[1] += scaled(r, 'Bytes')
        t[2] += scaled(r, 'Packets')
    return {k: tuple(x % U64 for x in v) for k, v in out.items()}


MEASURES = ('Records', 'ScaledBytes', 'ScaledPackets', 'UnknownRateRecords', 'UnknownRateBytes',
            'UnknownRatePackets', 'DroppedPackets')


def measures(recs):
    """The rollup measures over a set of records."""
    fwd = traffic(recs)
    return wrap({'Records': len(recs),
            'ScaledBytes': sum(scaled(r, 'Bytes') for r in fwd),
            'ScaledPackets': sum(scaled(r, 'Packets') for r in fwd),
            'UnknownRateRecords': sum(1 for r in fwd if rate0(r)),
            'UnknownRateBytes': sum(r['Bytes'] for r in fwd if rate0(r)),
            'UnknownRatePackets': sum(r['Packets'] for r in fwd if rate0(r)),
            'DroppedPackets': sum(scaled(r, 'Packets') for r in recs if r.get('DropReason', 0))})


# ---------------------------------------------------------------------------
# operator queries: file -> (expected rows without LIMIT, key columns,
# address key columns, the ORDER BY value of a row, LIMIT)
# ---------------------------------------------------------------------------

def _top_addr(flows, field, col):
    g = collections.defaultdict(lambda: {'bytes': 0, 'packets': 0, 'unknown_rate_records': 0,
                                         'unknown_rate_bytes': 0})
    for r in traffic(flows):
        t = g[addr_text(r[field])]
        t['bytes'] += scaled(r, 'Bytes')
        t['packets'] += scaled(r, 'Packets')
        t['unknown_rate_records'] += rate0(r)
        t['unknown_rate_bytes'] += r['Bytes'] if rate0(r) else 0
    rows = [dict(wrap(v), **{col: k}) for k, v in g.items()]
    return rows, [col], [col], lambda x: x['bytes'], 20


def q_top_dst_addr(flows):
    return _top_addr(flows, 'DstAddr', 'dst_addr')


def q_top_src_addr(flows):
    return _top_addr(flows, 'SrcAddr', 'src_addr')


def q_top_dst_ports(flows):
    g = collections.defaultdict(lambda: {'bytes': 0, 'packets': 0, 'unknown_rate_records': 0,
                                         'unknown_rate_bytes': 0})
    for r in traffic(flows):
        if r['Proto'] not in (6, 17, 132):
            continue
        t = g[(name({6: 'tcp', 17: 'udp', 132: 'sctp'}, r['Proto']), r['DstPort'])]
        t['bytes'] += scaled(r, 'Bytes')
        t['packets'] += scaled(r, 'Packets')
        t['unknown_rate_records'] += rate0(r)
        t['unknown_rate_bytes'] += r['Bytes'] if rate0(r) else 0
    rows = [dict(wrap(v), protocol=k[0], dst_port=k[1]) for k, v in g.items()]
    return rows, ['protocol', 'dst_port'], [], lambda x: x['bytes'], 20


def q_traffic_by_protocol(flows):
    g = collections.defaultdict(list)
    for r in flows:
        g[(r['Etype'], r['Proto'])].append(r)
    rows = []
    for (et, pr), recs in g.items():
        m = measures(recs)
        rows.append({'ethertype': name(ETYPE_NAMES, et), 'protocol': name(PROTO_NAMES, pr),
                     'bytes': m['ScaledBytes'], 'packets': m['ScaledPackets'],
                     'unknown_rate_records': m['UnknownRateRecords'],
                     'unknown_rate_bytes': m['UnknownRateBytes']})
    return rows, ['ethertype', 'protocol'], [], lambda x: x['bytes'], None


def _in_out(flows, fin, fout, exporter):
    """Per (exporter,) value: measures of the records with fin = value and
    of those with fout = value."""
    g = collections.defaultdict(lambda: ([], []))
    for r in flows:
        ex = (addr_text(r['SamplerAddress']),) if exporter else ()
        g[ex + (r[fin],)][0].append(r)
        g[ex + (r[fout],)][1].append(r)
    return {k: (measures(a), measures(b)) for k, (a, b) in g.items()}


def q_traffic_by_interface(flows):
    rows = []
    for (ex, ifx), (mi, mo) in _in_out(flows, 'InIf', 'OutIf', True).items():
        rows.append({'exporter': ex, 'if_index': ifx, 'in_bytes': mi['ScaledBytes'],
                     'out_bytes': mo['ScaledBytes'], 'in_packets': mi['ScaledPackets'],
                     'out_packets': mo['ScaledPackets'],
                     'unknown_rate_records': mi['UnknownRateRecords']})
    return rows, ['exporter', 'if_index'], ['exporter'], lambda x: x['in_bytes'] + x['out_bytes'], 50


def q_traffic_by_as(flows):
    rows = []
    for (asn,), (mf, mt) in _in_out(flows, 'SrcAS', 'DstAS', False).items():
        rows.append({'as_number': asn, 'bytes_from': mf['ScaledBytes'], 'bytes_to': mt['ScaledBytes'],
                     'packets_from': mf['ScaledPackets'], 'packets_to': mt['ScaledPackets'],
                     'unknown_rate_records_from': mf['UnknownRateRecords'],
                     'unknown_rate_records_to': mt['UnknownRateRecords']})
    return rows, ['as_number'], [], lambda x: x['bytes_from'] + x['bytes_to'], 50


def q_traffic_by_exporter(flows):
    g = collections.defaultdict(list)
    for r in flows:
        g[addr_text(r['SamplerAddress'])].append(r)
    rows = []
    for ex, recs in g.items():
        m = measures(recs)
        rows.append({'exporter': ex, 'bytes': m['ScaledBytes'], 'packets': m['ScaledPackets'],
                     'records': m['Records'], 'unknown_rate_records': m['UnknownRateRecords'],
                     'unknown_rate_bytes': m['UnknownRateBytes'],
                     'dropped_packets': m['DroppedPackets']})
    return rows, ['exporter'], ['exporter'], lambda x: x['bytes'], None


def q_exporter_records_per_second(flows):
    """Rows are per minute: what must hold is the sum over the minutes of
    records_per_s * 60 per exporter (the test cannot know the minutes)."""
    g = collections.Counter(addr_text(r['SamplerAddress']) for r in flows)
    rows = [{'exporter': k, 'records': v} for k, v in g.items()]
    return rows, ['exporter'], ['exporter'], None, None


def _bucket(size):
    for hi, lo in ((64, 0), (127, 65), (255, 128), (511, 256), (1023, 512), (1518, 1024)):
        if size <= hi:
            return lo, hi
    return 1519, 65535


def q_packet_size_histogram(flows):
    g = collections.defaultdict(lambda: {'packets': 0, 'records': 0, 'unknown_rate_records': 0,
                                         'unknown_rate_packets': 0})
    for r in traffic(flows):
        if r['Packets'] == 0:
            continue
        lo, hi = _bucket(r['Bytes'] // r['Packets'])
        t = g[(lo, hi)]
        t['packets'] += scaled(r, 'Packets')
        t['records'] += 1
        t['unknown_rate_records'] += rate0(r)
        t['unknown_rate_packets'] += r['Packets'] if rate0(r) else 0
    rows = [dict(wrap(v), size_from=k[0], size_to=k[1]) for k, v in g.items()]
    return rows, ['size_from', 'size_to'], [], lambda x: -x['size_from'], None


def q_ttl_histogram(flows):
    g = collections.defaultdict(lambda: {'packets': 0, 'records': 0, 'unknown_rate_records': 0,
                                         'unknown_rate_packets': 0})
    for r in traffic(flows):
        t = g[r['IPTTL']]
        t['packets'] += scaled(r, 'Packets')
        t['records'] += 1
        t['unknown_rate_records'] += rate0(r)
        t['unknown_rate_packets'] += r['Packets'] if rate0(r) else 0
    rows = [dict(wrap(v), ttl=k) for k, v in g.items()]
    return rows, ['ttl'], [], lambda x: -x['ttl'], None


def query_files():
    return sorted(f for f in os.listdir(QUERIES) if f.endswith('.sql'))


def query_sql(fname, database='netmeta'):
    """The query text, ready to send (trailing ';' cut, database swapped)."""
    sql = open(os.path.join(QUERIES, fname), encoding='utf-8').read().strip()
    sql = sql.rstrip(';').strip()
    if database != 'netmeta':
        sql = sql.replace('netmeta.', database + '.')
    return sql


def compare_query(fname, got, flows):
    """-> list of problems (empty: the query answered what it must)."""
    fn = globals().get('q_' + fname[:-4])
    if fn is None:
        return ['no expectation for %s in tests/clickhouse/chexpect.py' % fname]
    want, keys, addr_keys, order, limit = fn(flows)
    if fname == 'exporter_records_per_second.sql':
        tot = collections.Counter()
        for r in got:
            tot[addr_key(r['exporter'])] += r['records_per_s'] * 60
        exp = {addr_key(w['exporter']): w['records'] for w in want}
        bad = {k: (round(tot.get(k, 0), 3), exp.get(k)) for k in set(tot) | set(exp)
               if abs(tot.get(k, 0) - exp.get(k, 0)) > 1e-6}
        return ['records per exporter (sum of records_per_s * 60, want): %s' % bad] if bad else []

    def key(row):
        return tuple(addr_key(row[k]) if k in addr_keys else row[k] for k in keys)

    by_key = {key(w): w for w in want}
    want_sorted = sorted(want, key=lambda w: -order(w))
    if limit is not None:
        want_sorted = want_sorted[:limit]
    problems = []
    if len(got) != len(want_sorted):
        problems.append('%d rows, want %d' % (len(got), len(want_sorted)))
    for row in got:
        w = by_key.get(key(row))
        if w is None:
            problems.append('unexpected row %s' % row)
            continue
        diff = {k: (row[k], w[k]) for k in w if k in row and k not in keys and row[k] != w[k]}
        missing = [k for k in w if k not in row]
        if diff or missing:
            problems.append('row %s: differs (got, want) %s%s' % (key(row), diff,
                            ' missing columns %s' % missing if missing else ''))
    got_order = [order(r) for r in got if key(r) in by_key]
    if not problems and got_order != [order(w) for w in want_sorted]:
        problems.append('order: got %s, want %s' % (got_order[:10], [order(w) for w in want_sorted][:10]))
    return problems[:8]
