#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
The current-ClickHouse schema, run as far as ClickHouse 18.16 can run it.

No current ClickHouse can be installed on this machine, so its schema is
brought down to what 18.16 understands, mechanically and nothing more:
codecs and TTLs cut out, IPv6 -> FixedString(16) (the same 16 bytes),
LowCardinality(String) -> String, and the Kafka tables (Protobuf) become
Null tables with the same columns, which fire their views on INSERT. The
collector's own Protobuf output (netmeta-decode --pb, the encoder the Kafka
sink uses) is then read field by field into those columns the way
ClickHouse's Protobuf format does (by name; an absent field is the column
default; an address must be exactly 16 bytes) and inserted as RowBinary.
So the current schema's views, rollups and the operator queries run on
real records, and the checks of chcheck.py apply:
  flows_raw = netmeta-decode's records, per-protocol sampling sums, the
  rollups against flows_raw and netmeta-decode, every operator query.
What this cannot show: ClickHouse's own Protobuf reader, the IPv6 type,
codecs and TTLs at work (see test_schema.py for what is checked of them).

  test_current.py NETMETA_DECODE NETMETA_GEN SHARED_DIR

Exit: 0 pass, 1 failure, 77 skipped (no ClickHouse).
"""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chexpect  # noqa: E402
import chlib  # noqa: E402
import chcheck  # noqa: E402
from chlib import log  # noqa: E402

DB = 'nm_current'


def downgrade(stmt):
    # a Null table has no _error (the Kafka engine's stream error mode):
    # every row inserted here is a good one
    stmt = stmt.replace('\nWHERE length(_error) = 0', '')
    s = re.sub(r' CODEC\((?:[^()]|\([^()]*\))*\)', '', stmt)
    s = re.sub(r'\nTTL [^\n]*', '', s)
    s = re.sub(r'\bIPv6\b', 'FixedString(16)', s)
    s = s.replace('LowCardinality(String)', 'String').replace('toLowCardinality(', 'toString(')
    s = re.sub(r'ENGINE = Kafka\b.*', 'ENGINE = Null', s, flags=re.S)
    return s


def kafka_columns(stmt):
    m = re.search(r'\(\n(.*?)\n\)', stmt, re.S)
    return [tuple(line.strip().rstrip(',').split(None, 1)) for line in m.group(1).split('\n')]


def pb_rows(pb, fields, enums, columns, now):
    """Protobuf messages -> rows of the Kafka table, as ClickHouse's
    Protobuf format fills them. -> (rows, problems)."""
    ftype = {n: t for n, _, t in fields}
    rows, problems = [], []
    for msg in chlib.pb_stream(pb):
        v = chlib.pb_decode(msg, fields)
        r = {}
        for name, typ in columns:
            t = ftype[name]
            x = v.get(name)
            if t.startswith('enum:'):
                r[name] = enums[t[5:]][x or 0]
            elif t == 'bytes':
                if x is not None and len(x) != 16:
                    problems.append('%s is %d bytes (ClickHouse refuses anything but 16)' % (name, len(x)))
                r[name] = x or bytes(16)
            elif t.startswith('repeated'):
                r[name] = x or []
            elif t == 'string':
                r[name] = x or b''
            else:
                r[name] = x or 0
        r['TimeReceived'], r['TimeReceivedNs'] = now, now * 10**9   # the collector's clock
        rows.append(r)
    return rows, problems


def json_rows(recs, columns, now):
    """The collector's JSON counter records -> Kafka table rows."""
    rows = []
    for c in recs:
        r = {}
        for name, typ in columns:
            x = c[name]
            r[name] = chlib.addr_bytes(x) if typ == 'FixedString(16)' else int(x) if isinstance(x, bool) else x
        r['TimeReceived'], r['TimeReceivedNs'] = now, now * 10**9
        rows.append(r)
    return rows


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    decode, gen, shared = argv[1:]
    ck = chlib.Checks()
    msgs, enums = chlib.read_proto(os.path.join(chlib.ROOT, 'proto', 'flow.proto'))
    with tempfile.TemporaryDirectory(prefix='nm-chc-') as work:
        pcaps = [chcheck.build_gen(gen, work)]
        caps = chlib.corpus_captures(shared)
        if caps:
            pcaps.append(os.path.join(work, 'corpus.pcap'))
            chlib.concat_pcaps(caps, pcaps[-1])
        else:
            log('corpus not found: generated capture only')
        ch = chlib.start_clickhouse(work)
        try:
            log('ClickHouse %s on %s' % (ch.version, ch.url))
            rc, out = chlib.run_apply(['--print', '--schema', 'current', '--database', DB])
            stmts = [(k, n, s) for k, n, s in (
                (c.partition('\n')[0].split()[0], c.partition('\n')[0].split()[1],
                 c.partition('\n')[2].strip().rstrip(';').strip())
                for c in re.split(r'^-- object: ', out, flags=re.M)[1:])]
            bad = []
            for kind, name, s in stmts:
                if '_raw_message' in s:   # dead-letter views: Kafka stream error mode only
                    continue
                try:
                    ch.query(downgrade(s), fmt=None)
                except chlib.QueryError as e:
                    bad.append('%s %s: %s' % (kind, name, e))
            if not ck.check(rc == 0 and not bad, 'the current schema, brought down to 18.16 types '
                            '(Kafka tables as Null tables), creates (%d statements)' % len(stmts),
                            '\n'.join(bad)):
                return ck.finish()
            kcols = {n: kafka_columns(downgrade(s)) for k, n, s in stmts if k == 'kafka'}

            for i, pcap in enumerate(pcaps):
                label = 'gen' if i == 0 else 'corpus'
                for t in ('flows_raw', 'flows_1m_if', 'flows_1m_proto', 'flows_1m_as', 'interface_counters'):
                    ch.query('TRUNCATE TABLE %s.%s' % (DB, t), fmt=None)
                flows, ctrs = chlib.decode(decode, [pcap])
                pb = subprocess.run([decode, '--pb', pcap], capture_output=True, timeout=120).stdout
                now = int(time.time())
                rows, problems = pb_rows(pb, msgs['FlowMessage'], enums, kcols['flows_queue'], now)
                ck.check(not problems, '%s: every address field of the Protobuf output is absent or '
                         '16 bytes' % label, '\n'.join(sorted(set(problems))[:5]))
                ck.eq(len(rows), len(flows), '%s: netmeta-decode --pb gives as many records as --json'
                      % label)
                ch.query('INSERT INTO %s.flows_queue FORMAT RowBinary' % DB,
                         data=chlib.rowbinary(rows, kcols['flows_queue']))
                ch.query('INSERT INTO %s.counters_queue FORMAT RowBinary' % DB,
                         data=chlib.rowbinary(json_rows(ctrs, kcols['counters_queue'], now),
                                              kcols['counters_queue']))
                got = ch.query('SELECT Proto, count() AS n, sum(Bytes * SamplingRate) AS b, '
                               'sum(Packets * SamplingRate) AS p FROM %s.flows_raw GROUP BY Proto' % DB)
                ck.eq({r['Proto']: (r['n'], r['b'], r['p']) for r in got}, chexpect.per_proto(flows),
                      '%s: per Proto: records, sum(Bytes*SamplingRate), sum(Packets*SamplingRate)' % label)
                addr = {'SrcAddr', 'DstAddr', 'SamplerAddress', 'NextHop', 'SrcAddrEncap', 'DstAddrEncap',
                        'BgpNextHop', 'PostNatSrcAddr', 'PostNatDstAddr', 'AgentAddress'}
                chcheck.compare_rows(ck, '%s: flows_raw' % label, flows,
                                     chcheck.select_raw(ch, 'flows_raw', DB), addr)
                chcheck.compare_rows(ck, '%s: interface_counters' % label, ctrs,
                                     chcheck.select_raw(ch, 'interface_counters', DB), addr)
                chcheck.check_rollups(ck, ch, flows, DB)
                chcheck.check_queries(ck, ch, flows, DB)
        finally:
            ch.stop()
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
