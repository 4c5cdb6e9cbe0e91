# SPDX-License-Identifier: BSD-3-Clause
"""
The checks the ClickHouse tests share, on any engine behind chlib's
query()/scalar() interface (18.16 over HTTP, chDB in process): rows against
netmeta-decode's records (every column), rollups against flows_raw and
netmeta-decode, every operator query's answer, the records an independent
consumer finds in a topic, and one engine's answers against another's.
"""

import collections
import ipaddress
import json
import os
import subprocess

import chexpect
import chlib
from chlib import log

# Fields the collector stamps from its own clock (netmeta-decode uses the
# capture's): left out of the row comparison.
RECEIVE_TIME = ('TimeReceived', 'TimeReceivedNs')
SFLOW_TIME = ('TimeFlowStart', 'TimeFlowEnd', 'TimeFlowStartNs', 'TimeFlowEndNs')


def build_gen(gen, work):
    a, b, out = (os.path.join(work, n) for n in ('a.pcap', 'b.pcap', 'gen.pcap'))
    for args, path in ((['--proto', 'all', '--exporters', '3', '--datagrams', '240'], a),
                       (['--proto', 'all', '--exporters', '2', '--datagrams', '8', '--rate', '0',
                         '--seed', '7'], b)):
        p = subprocess.run([gen] + args + ['-o', path], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError('netmeta-gen %s: %s' % (' '.join(args), p.stderr))
    chlib.concat_pcaps([a, b], out)
    return out


def select_raw(ch, table, db='netmeta'):
    """Every row of a table, addresses as text, DateTime as seconds, MACs
    as aa:bb:..: comparable with the collector's JSON."""
    cols = ch.query("SELECT name, type FROM system.columns WHERE database = '%s' AND table = '%s'"
                    % (db, table))
    sel = []
    for c in cols:
        n, t = c['name'], c['type']
        if t in ('FixedString(16)', 'IPv6'):
            sel.append('IPv6NumToString(%s) AS %s' % (n, n))
        elif t == 'DateTime':
            sel.append('toUInt32(%s) AS %s' % (n, n))
        elif n in ('SrcMac', 'DstMac'):
            sel.append('lower(MACNumToString(%s)) AS %s' % (n, n))
        else:
            sel.append(n)
    return ch.query('SELECT %s FROM %s.%s' % (', '.join(sel), db, table))


def norm_row(r, addr_fields):
    out = {}
    for k, v in r.items():
        if k in RECEIVE_TIME or (r.get('Type') == 'SFLOW_5' and k in SFLOW_TIME) or k == 'Type' and v == 'SFLOW_5_COUNTERS':
            continue
        if isinstance(v, bool):
            v = int(v)
        if k in addr_fields:
            v = chlib.addr_key(v)
        if isinstance(v, list):
            v = tuple(v)
        out[k] = v
    return tuple(sorted(out.items()))


def compare_rows(ck, what, want, got, addr_fields):
    a = collections.Counter(norm_row(r, addr_fields) for r in want)
    b = collections.Counter(norm_row(r, addr_fields) for r in got)
    detail = ''
    if a != b:
        miss, extra = a - b, b - a
        lines = ['%d missing, %d unexpected' % (sum(miss.values()), sum(extra.values()))]
        if miss and extra:
            m0, e0 = dict(next(iter(miss))), dict(next(iter(extra)))
            lines.append('first missing vs first unexpected differ in: %s'
                         % {k: (m0.get(k), e0.get(k)) for k in set(m0) | set(e0) if m0.get(k) != e0.get(k)})
        else:
            lines += ['%s' % dict(k) for k in list(miss or extra)[:2]]
        detail = '\n'.join(lines)
    ck.check(a == b, '%s: %d rows equal netmeta-decode\'s records as a multiset '
             '(every column, receive times aside)' % (what, len(want)), detail)


ROLLUP_KEYS = {'flows_1m_if': ['SamplerAddress', 'FlowDirection', 'InIf', 'OutIf'],
               'flows_1m_proto': ['SamplerAddress', 'Etype', 'Proto'],
               'flows_1m_as': ['SamplerAddress', 'SrcAS', 'DstAS']}

RAW_MEASURES = {
    'Records': 'count()',
    'ScaledBytes': 'sumIf(Bytes * SamplingRate, DropReason = 0)',
    'ScaledPackets': 'sumIf(Packets * SamplingRate, DropReason = 0)',
    'UnknownRateRecords': 'countIf(SamplingRate = 0 AND DropReason = 0)',
    'UnknownRateBytes': 'sumIf(Bytes, SamplingRate = 0 AND DropReason = 0)',
    'UnknownRatePackets': 'sumIf(Packets, SamplingRate = 0 AND DropReason = 0)',
    'DroppedPackets': 'sumIf(Packets * SamplingRate, DropReason != 0)',
}


def check_rollups(ck, ch, flows, db='netmeta', label=''):
    want_tot = chexpect.measures(flows)
    for table, keys in ROLLUP_KEYS.items():
        kn = ['Minute'] + keys
        ksel = ', '.join('IPv6NumToString(%s) AS k_%s' % (x, x) if x == 'SamplerAddress'
                         else '%s AS k_%s' % (x, x) for x in kn)
        kk = ', '.join('k_' + x for x in kn)
        ms = ', '.join('sum(%s) AS %s_' % (m, m) for m in RAW_MEASURES)
        roll = ch.query('SELECT %s, %s FROM %s.%s GROUP BY %s ORDER BY %s' % (ksel, ms, db, table, kk, kk))
        ksel_raw = ksel.replace('Minute AS k_Minute', 'toStartOfMinute(TimeReceived) AS k_Minute')
        raw = ch.query('SELECT %s, %s FROM %s.flows_raw GROUP BY %s ORDER BY %s'
                       % (ksel_raw, ', '.join('%s AS %s_' % (e, m) for m, e in RAW_MEASURES.items()),
                          db, kk, kk))
        ck.check(roll == raw, '%s%s agrees with flows_raw grouped by (%s): %d groups, every measure'
                 % (label, table, ', '.join(kn), len(raw)),
                 'rollup %d groups, raw %d; first difference: %s' % (
                     len(roll), len(raw), next(((a, b) for a, b in zip(roll, raw) if a != b), None)))
        tot = ch.query('SELECT %s FROM %s.%s' % (ms, db, table))[0]
        ck.eq({k[:-1]: v for k, v in tot.items()}, want_tot,
              '%s%s totals = netmeta-decode (scaled traffic, unknown rate apart, drops)' % (label, table))


def check_queries(ck, ch, flows, db='netmeta', label=''):
    """Every operator query against netmeta-decode. -> {file: rows}."""
    out = {}
    for f in chexpect.query_files():
        try:
            got = ch.query(chexpect.query_sql(f, db))
        except chlib.QueryError as e:
            ck.check(False, '%squery %s runs' % (label, f), str(e))
            continue
        out[f] = got
        problems = chexpect.compare_query(f, got, flows)
        ck.check(not problems, '%squery %s: %d rows as computed from netmeta-decode'
                 % (label, f, len(got)), '\n'.join(problems))
    return out


ADDR = {'SrcAddr', 'DstAddr', 'SamplerAddress', 'NextHop', 'SrcAddrEncap', 'DstAddrEncap',
        'BgpNextHop', 'PostNatSrcAddr', 'PostNatDstAddr', 'AgentAddress'}
MACS = {'SrcMac', 'DstMac'}
ZERO_ADDR = ('::', '0.0.0.0')


# ---------------------------------------------------------------------------
# what an independent consumer finds in a topic
# ---------------------------------------------------------------------------

def canon(r, flow):
    """A record as the collector's JSON or a decoded Protobuf message ->
    one comparable form: addresses as chlib.addr_key text, MACs as
    aa:bb:cc:dd:ee:ff, the flow type by name, booleans as 0/1, lists as
    tuples, zero values left out (Protobuf leaves them out), and the
    collector's receive-clock fields left out (netmeta-decode stamps the
    capture's time). -> a hashable tuple."""
    out = {}
    for k, v in r.items():
        if isinstance(v, bool):
            v = int(v)
        if k in ADDR:
            v = chlib.addr_key(v if isinstance(v, str) else
                               str(ipaddress.IPv6Address(bytes(v).rjust(16, b'\0'))))
            if v in ZERO_ADDR:
                continue
        elif k in MACS and isinstance(v, int):
            v = ':'.join('%02x' % (v >> s & 0xff) for s in range(40, -1, -8))
        elif k == 'Type' and isinstance(v, int):
            v = FLOW_TYPES.get(v, str(v))
        if isinstance(v, list):
            v = tuple(v)
        if v in (0, '', (), '00:00:00:00:00:00'):
            continue
        out[k] = v
    drop = set(RECEIVE_TIME)
    if not flow:
        drop.add('Type')    # the JSON's "SFLOW_5_COUNTERS", not a wire field
    elif out.get('Type') == 'SFLOW_5':
        drop |= set(SFLOW_TIME)
    return tuple(sorted((k, v) for k, v in out.items() if k not in drop))


_proto = {}
FLOW_TYPES = {}


def proto():
    if not _proto:
        msgs, enums = chlib.read_proto(os.path.join(chlib.ROOT, 'proto', 'flow.proto'))
        _proto.update(msgs)
        FLOW_TYPES.update(enums['FlowType'])
    return _proto


def topic_records(bootstrap, topic, fmt, message, first_offset=0):
    """Every record in a topic, read by kcat (not by the collector's code
    nor ClickHouse's), from first_offset on. fmt 'protobuf': each message
    is length-delimited `message`s; 'json': each message is JSON lines.
    -> (records as dicts, Kafka messages read)."""
    import realkafka
    msgs = [m for m in realkafka.consume(bootstrap, topic) if m.offset >= first_offset]
    fields = proto()[message]
    out = []
    for m in msgs:
        if fmt == 'protobuf':
            out += [chlib.pb_decode(x, fields) for x in chlib.pb_stream(m.value)]
        else:
            out += [json.loads(x) for x in m.value.decode().split('\n') if x.strip()]
    return out, len(msgs)


def check_topic(ck, what, got, want, flow):
    """Exactly once: got and want equal as multisets (every field but the
    receive clock). -> (missing, duplicates or unexpected)."""
    a = collections.Counter(canon(r, flow) for r in want)
    b = collections.Counter(canon(r, flow) for r in got)
    miss, extra = a - b, b - a
    dups = sum(n - a[k] for k, n in b.items() if k in a and n > a[k])
    ck.check(a == b, '%s: %d records, each of netmeta-decode\'s exactly once (%d missing, '
             '%d duplicated, %d unexpected)' % (what, len(got), sum(miss.values()), dups,
                                               sum(extra.values()) - dups),
             '' if a == b else 'first missing: %s\nfirst unexpected: %s'
             % (dict(next(iter(miss))) if miss else None, dict(next(iter(extra))) if extra else None))
    return sum(miss.values()), sum(extra.values())


# ---------------------------------------------------------------------------
# one engine against another
# ---------------------------------------------------------------------------

def _norm_value(v):
    if isinstance(v, str):
        try:
            return chlib.addr_key(v)
        except ValueError:
            return v
    if isinstance(v, list):
        return tuple(v)
    if isinstance(v, float):
        return round(v, 9)
    return v


def row_key(r):
    return tuple(sorted((k, _norm_value(v)) for k, v in r.items()))


def compare_engines(ck, what, a, b):
    """Rows of two engines, as multisets, every column (receive times
    included: both engines read the same records)."""
    ca = collections.Counter(row_key(r) for r in a)
    cb = collections.Counter(row_key(r) for r in b)
    detail = ''
    if ca != cb:
        m, e = ca - cb, cb - ca
        detail = '%d rows only in the first, %d only in the second; first of each: %s / %s' % (
            sum(m.values()), sum(e.values()), dict(next(iter(m))) if m else None,
            dict(next(iter(e))) if e else None)
    ck.check(ca == cb, '%s: %d rows, every column of every row equal' % (what, len(a)), detail)


def compare_query_engines(ck, what, fname, a, b):
    """One operator query's answers on two engines: the same rows in the
    same order, or, where rows tie on the ORDER BY value at a LIMIT, the
    same values in the same order and equal rows for every key both
    returned (each engine's answer was already checked against
    netmeta-decode by check_queries)."""
    ka, kb = [row_key(r) for r in a], [row_key(r) for r in b]
    if ka == kb:
        return ck.check(True, '%s %s: the same %d rows in the same order' % (what, fname, len(a)))
    if sorted(ka) == sorted(kb):
        return ck.check(True, '%s %s: the same %d rows (rows of equal ORDER BY value in another '
                        'order)' % (what, fname, len(a)))
    fn = getattr(chexpect, 'q_' + fname[:-4], None)
    same = False
    if fn is not None and len(a) == len(b):
        _, keys, _addr, order, _limit = fn([])
        if order is not None:
            key = lambda r: tuple(_norm_value(r[k]) for k in keys)
            same = ([order(r) for r in a] == [order(r) for r in b] and
                    all(row_key(x) == row_key(y) for x in a for y in b if key(x) == key(y)))
    return ck.check(same, '%s %s: the same %d rows up to ties at the LIMIT' % (what, fname, len(a)),
                    'first: %s\nsecond: %s' % (a[:3], b[:3]))
