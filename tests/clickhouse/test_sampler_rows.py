#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
The packet sampler's records in current ClickHouse (issue 14): Type SAMPLER
rows through the current schema's views and rollups, in chDB.

netmeta runs with a DPDK mirror port (net_pcap replaying generated traffic,
1-in-10) and two sinks: JSON lines (what the records are) and the rotating
protobuf files (zstd, length-delimited FlowMessage: the bytes the Kafka
sink sends, `format: protobuf`). The current schema is created in chDB as
clickhouse/apply installs it, up to the step that swaps each Kafka table in
for the Null stand-in its views were created on; the files are read with
ClickHouse's own Protobuf reader (format_schema flow.proto:FlowMessage,
the Kafka table's columns) and inserted into the stand-in, which fires the
views as a consumed message does.
Checked: every record a row, Type 'SAMPLER', every field of flows_raw
equal to the JSON record (SamplePool, SampleDrops and SamplingRate
included), per protocol sum(Bytes * SamplingRate) = sum of Bytes x N of
the records, and the rollups against flows_raw and the records.

  test_sampler_rows.py NETMETA

Exit: 0 pass, 1 failure, 77 skipped (no chDB, no DPDK backend).
"""

import glob
import os
import random
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'dataplane'))
import chdblib  # noqa: E402
import chcheck  # noqa: E402
import chexpect  # noqa: E402
import chlib  # noqa: E402
from chlib import log  # noqa: E402
import dplib  # noqa: E402

DB = 'nm_sampler'
RATE = 10
AGENT = '192.0.2.78'


def frames(n):
    rnd = random.Random(1410)
    out = []
    for i in range(n):
        k = i % 5
        s4, d4 = '10.%d.%d.%d' % (i % 3, i % 200, 1 + i % 250), '198.51.100.%d' % (1 + i % 20)
        s6, d6 = '2001:db8::%x' % (1 + i % 300), '2001:db8:2::%x' % (1 + i % 20)
        pay = bytes(rnd.randrange(0, 1200))
        if k == 0:
            fr = dplib.eth(dplib.tcp4(s4, d4, 1024 + i % 3000, 443, pay))
        elif k == 1:
            fr = dplib.eth(dplib.udp4(s4, d4, 2000 + i % 3000, 53, pay))
        elif k == 2:
            fr = dplib.eth(dplib.icmp4(s4, d4, payload=pay[:200]))
        elif k == 3:
            fr = dplib.eth(dplib.tcp6(s6, d6, 3000 + i % 3000, 80, pay), 0x86dd)
        else:
            fr = dplib.vlan(dplib.eth(dplib.udp6(s6, d6, 4000 + i % 3000, 123, pay), 0x86dd), 42)
        out.append(fr)
    return out


def kafka_columns(stmt):
    """The columns of a Kafka table's CREATE: [(name, type)]."""
    m = re.search(r'\(\n(.*?)\n\)', stmt, re.S)
    return [tuple(line.strip().rstrip(',').split(None, 1)) for line in m.group(1).split('\n')
            if line.strip() and not line.strip().startswith('--')]


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    chdblib.with_chdb()
    netmeta = os.path.abspath(argv[1])
    why = dplib.dpdk_usable(netmeta)
    if why:
        chlib.skip('netmeta has no usable DPDK backend: %s' % why)
    ck = chlib.Checks()
    work = tempfile.mkdtemp(prefix='nm-chs-')
    ch = None
    try:
        fr = frames(6000)
        pcap = os.path.join(work, 'mirror.pcap')
        dplib.write_pcap(pcap, fr)
        fdir = os.path.join(work, 'files')
        os.makedirs(fdir)
        cfg = {'backend': 'dpdk', 'workers': 1,
               'ports': [{'device': 'net_pcap0,rx_pcap=' + pcap, 'role': 'mirror',
                          'sampling_rate': RATE, 'if_index': 5}],
               'sampler': {'agent_address': AGENT, 'seed': 77},
               'sinks': [{'type': 'json', 'path': os.path.join(work, 'samp.json')},
                         {'type': 'file', 'path': fdir}]}
        nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0-1'), exit_idle=1,
                           tag='samp').run(180)
        flows = nm.records
        ck.eq(nm.rc, 0, 'netmeta exits 0')
        ck.check(len(flows) > 6000 / RATE / 2 and all(r.get('Type') == 'SAMPLER' for r in flows),
                 '%d SAMPLER records from %d mirrored frames at 1-in-%d' % (len(flows), len(fr), RATE))
        pbs = sorted(glob.glob(os.path.join(fdir, 'flows-*.pb.zst')))
        ck.check(bool(pbs), '%d protobuf files from the file sink' % len(pbs))

        schemas = os.path.join(work, 'format_schemas')
        os.makedirs(schemas)
        shutil.copy(os.path.join(chlib.ROOT, 'proto', 'flow.proto'), schemas)
        ch = chdblib.Chdb(os.path.join(work, 'chdb'), schemas)
        log('chDB: ClickHouse %s in process' % ch.version)
        stmts = chdblib.schema_statements(['--schema', 'current', '--database', DB, '--brokers',
                                           '127.0.0.1:9', '--group', 'none'])
        # apply's install creates each Kafka table's Null stand-in, the views on
        # it, then swaps in the Kafka table: stop before the swap
        kcols = [kafka_columns(s) for k, n, s in stmts if k == 'kafka' and n == 'flows_queue'][0]
        stmts = [(k, n, s) for k, n, s in stmts if k not in ('drop', 'kafka')]
        problems, _ = chdblib.apply_schema(ch, stmts)
        if ck.check(not problems, 'the current schema, its Kafka tables left as the Null '
                    'stand-ins apply creates for their views, creates', '\n'.join(problems)):
            check_rows(ck, ch, pbs, flows, kcols)
    finally:
        if ch is not None:
            ch.close()
        rc = ck.finish()
        if rc == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log('work directory kept: ' + work)
    return rc


def check_rows(ck, ch, pbs, flows, kcols):
    """The protobuf files, read as the Kafka table reads its messages, into
    the stand-in (its _error stays empty); the rows against the records."""
    struct = ', '.join('%s %s' % c for c in kcols)
    names = ', '.join(c[0] for c in kcols)
    for p in pbs:
        ch.query("INSERT INTO %s.flows_queue (%s) SELECT %s FROM file('%s', 'Protobuf', '%s') "
                 "SETTINGS format_schema = 'flow.proto:FlowMessage'"
                 % (DB, names, names, p, struct.replace("'", "\\'")), fmt=None)

    n = int(ch.scalar('SELECT count() FROM %s.flows_raw' % DB))
    ck.eq(n, len(flows), 'flows_raw: one row per record')
    types = ch.query('SELECT toString(Type) AS t, count() AS n FROM %s.flows_raw GROUP BY t' % DB)
    ck.eq({r['t']: r['n'] for r in types}, {'SAMPLER': len(flows)}, 'every row of Type SAMPLER')
    addr = {'SrcAddr', 'DstAddr', 'SamplerAddress', 'NextHop', 'SrcAddrEncap', 'DstAddrEncap',
            'BgpNextHop', 'PostNatSrcAddr', 'PostNatDstAddr', 'AgentAddress'}
    chcheck.compare_rows(ck, 'flows_raw (every field, SamplePool and SampleDrops included)',
                         flows, chcheck.select_raw(ch, 'flows_raw', DB), addr)
    got = ch.query('SELECT max(SamplePool) AS pool, max(SampleDrops) AS drops, '
                   'min(SamplingRate) AS lo, max(SamplingRate) AS hi FROM %s.flows_raw' % DB)[0]
    ck.eq((got['pool'], got['drops'], got['lo'], got['hi']),
          (max(r.get('SamplePool', 0) for r in flows), max(r.get('SampleDrops', 0) for r in flows),
           RATE, RATE), 'SamplePool, SampleDrops and SamplingRate stored as the records say')
    got = ch.query('SELECT Proto, count() AS n, sum(Bytes * SamplingRate) AS b, '
                   'sum(Packets * SamplingRate) AS p FROM %s.flows_raw GROUP BY Proto' % DB)
    ck.eq({r['Proto']: (r['n'], r['b'], r['p']) for r in got}, chexpect.per_proto(flows),
          'per Proto: rows, sum(Bytes * N), sum(Packets * N) = the records\'')
    scaled = sum(r['Bytes'] * RATE for r in flows)
    roll = int(ch.scalar('SELECT sum(ScaledBytes) FROM %s.flows_1m_proto' % DB))
    ck.eq(roll, scaled, 'flows_1m_proto: ScaledBytes = sum of Bytes x %d of the records' % RATE)
    chcheck.check_rollups(ck, ch, flows, DB)


if __name__ == '__main__':
    sys.exit(main(sys.argv))
