#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
End to end on Debian's ClickHouse 18.16: captures replayed through the
collector (DPDK net_pcap vdev) into the mock Kafka broker (`format: json`),
read by ClickHouse through the schema clickhouse/apply picks for 18.16.
Everything ClickHouse answers is compared with netmeta-decode's records of
the same capture:

  - flows_raw holds one row per record, and every column round-trips
    (the rows as a multiset equal netmeta-decode's, receive times aside);
  - per protocol: records, sum(Bytes * SamplingRate), sum(Packets *
    SamplingRate); interface counters likewise;
  - each rollup agrees with flows_raw, and its measures (scaled traffic,
    unknown-rate records counted apart, drops) with netmeta-decode;
  - every query of clickhouse/queries/ returns the rows it must.

  test_pipeline.py gen    NETMETA DECODE GEN MOCK SHARED_DIR
      netmeta-gen --proto all (3 exporters, rate 1000) followed by a small
      capture whose rates are 0 (unknown), so both kinds of record land.
  test_pipeline.py corpus NETMETA DECODE GEN MOCK SHARED_DIR
      every capture of SHARED_DIR/corpus/CATALOG.md in one pcap.

Exit: 0 pass, 1 failure, 77 skipped (no DPDK backend, no ClickHouse, no
corpus).
"""

import collections
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chexpect  # noqa: E402
import chlib  # noqa: E402
from chlib import log  # noqa: E402

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


def check_rollups(ck, ch, flows, db='netmeta'):
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
        ck.check(roll == raw, '%s agrees with flows_raw grouped by (%s): %d groups, every measure'
                 % (table, ', '.join(kn), len(raw)),
                 'rollup %d groups, raw %d; first difference: %s' % (
                     len(roll), len(raw), next(((a, b) for a, b in zip(roll, raw) if a != b), None)))
        tot = ch.query('SELECT %s FROM %s.%s' % (ms, db, table))[0]
        ck.eq({k[:-1]: v for k, v in tot.items()}, want_tot,
              '%s totals = netmeta-decode (scaled traffic, unknown rate apart, drops)' % table)


def check_queries(ck, ch, flows, db='netmeta'):
    for f in chexpect.query_files():
        try:
            got = ch.query(chexpect.query_sql(f, db))
        except chlib.QueryError as e:
            ck.check(False, 'query %s runs' % f, str(e))
            continue
        problems = chexpect.compare_query(f, got, flows)
        ck.check(not problems, 'query %s: %d rows as computed from netmeta-decode' % (f, len(got)),
                 '\n'.join(problems))


def main(argv):
    if len(argv) != 7 or argv[1] not in ('gen', 'corpus'):
        print(__doc__)
        return 2
    mode, netmeta, decode, gen, mock_exe, shared = argv[1:]
    why = chlib.dpdk_usable(netmeta)
    if why:
        chlib.skip('netmeta has no usable DPDK backend: %s' % why)
    if mode == 'corpus':
        caps = chlib.corpus_captures(shared)
        if caps is None:
            chlib.skip('%s not found: corpus run skipped'
                       % os.path.normpath(os.path.join(shared, 'corpus', 'CATALOG.md')))
    ck = chlib.Checks()
    with tempfile.TemporaryDirectory(prefix='nm-ch-') as work:
        if mode == 'gen':
            pcap = build_gen(gen, work)
        else:
            pcap = os.path.join(work, 'corpus.pcap')
            chlib.concat_pcaps(caps, pcap)
        flows, ctrs = chlib.decode(decode, [pcap])
        log('%s: %d flow records (%d with SamplingRate 0, %d sFlow discards), %d counter records, '
            'from netmeta-decode' % (mode, len(flows), sum(1 for r in flows if r['SamplingRate'] == 0),
                                     sum(1 for r in flows if r.get('DropReason')), len(ctrs)))
        ch = chlib.start_clickhouse(work)
        mock = None
        try:
            log('ClickHouse %s on %s' % (ch.version, ch.url))
            mock = chlib.Mock(mock_exe)
            rc, out = chlib.run_apply(['--url', ch.url, '--brokers', mock.bootstrap,
                                       '--group', 'nm-test-' + mode])
            log(out.rstrip())
            if not ck.check(rc == 0 and 'schema 18.16' in out,
                            'clickhouse/apply picks the 18.16 schema and applies it'):
                return ck.finish()
            t0 = time.time()
            rc, err, c = chlib.run_netmeta(netmeta, work, pcap, mock.bootstrap, mode)
            ck.check(rc == 0, 'netmeta exits 0', err[-1500:])
            ck.eq(c.get('RECORDS_SENT'), len(flows), 'netmeta RECORDS_SENT = netmeta-decode records')
            ck.eq((c.get('kafka0_delivered'), c.get('kafka0_failed', 0)), (len(flows) + len(ctrs), 0),
                  'Kafka sink: every record delivered (flows + counters), none failed')
            n = chlib.wait_rows(ch, 'SELECT count() FROM netmeta.flows_raw', len(flows))
            m = chlib.wait_rows(ch, 'SELECT count() FROM netmeta.interface_counters', len(ctrs))
            log('rows landed %.1f s after the collector started' % (time.time() - t0))
            ck.eq(n, len(flows), 'flows_raw rows = records')
            ck.eq(m, len(ctrs), 'interface_counters rows = counter records')

            got = ch.query('SELECT Proto, count() AS n, sum(Bytes * SamplingRate) AS b, '
                           'sum(Packets * SamplingRate) AS p FROM netmeta.flows_raw GROUP BY Proto')
            ck.eq({r['Proto']: (r['n'], r['b'], r['p']) for r in got}, chexpect.per_proto(flows),
                  'per Proto: records, sum(Bytes*SamplingRate), sum(Packets*SamplingRate)')
            got = ch.query('SELECT Type, count() AS n, sum(Bytes * SamplingRate) AS b FROM '
                           'netmeta.flows_raw GROUP BY Type')
            want = collections.defaultdict(lambda: [0, 0])
            for r in flows:
                want[r['Type']][0] += 1
                want[r['Type']][1] += chlib.scaled(r, 'Bytes')
            ck.eq({r['Type']: [r['n'], r['b']] for r in got}, dict(want),
                  'per Type: records, sum(Bytes*SamplingRate)')
            got = ch.query('SELECT sum(InOctets) AS i, sum(OutOctets) AS o, '
                           'sum(InUcastPkts + OutUcastPkts) AS u FROM netmeta.interface_counters')[0]
            ck.eq(got, {'i': sum(r['InOctets'] for r in ctrs), 'o': sum(r['OutOctets'] for r in ctrs),
                        'u': sum(r['InUcastPkts'] + r['OutUcastPkts'] for r in ctrs)},
                  'interface counters: octet and packet sums')

            addr = {'SrcAddr', 'DstAddr', 'SamplerAddress', 'NextHop', 'SrcAddrEncap', 'DstAddrEncap',
                    'BgpNextHop', 'PostNatSrcAddr', 'PostNatDstAddr', 'AgentAddress'}
            compare_rows(ck, 'flows_raw', flows, select_raw(ch, 'flows_raw'), addr)
            compare_rows(ck, 'interface_counters', ctrs, select_raw(ch, 'interface_counters'), addr)
            check_rollups(ck, ch, flows)
            check_queries(ck, ch, flows)
            if mode == 'gen':
                ck.check(any(r['SamplingRate'] == 0 for r in flows) and
                         any(r['SamplingRate'] for r in flows),
                         'the capture has records of known and of unknown rate')
            errs = [line for line in ch.errors().splitlines() if '<Error>' in line]
            ck.check(not errs, 'the server logged no error', '\n'.join(errs[:5]))
        finally:
            if mock:
                mock.stop()
            ch.stop()
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
