#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
clickhouse/apply against a private ClickHouse 18.16:

  - clear errors: server unreachable (exit 2), bad names (exit 2), a
    statement the server refuses (exit 1, names the statement and quotes
    the server), the other schema family on existing tables (exit 1);
  - the version picks the schema (18.16 here); --dry-run changes nothing;
    a second run changes nothing (idempotent);
  - upgrades: a missing column is added; a changed view, a changed Kafka
    table (and the views reading it) are dropped and created again, and the
    consumer group goes on where it was on a real Apache Kafka 4 broker
    (scripts/kafka, 1 broker): records produced before and after land
    exactly once; a column of another type is reported (exit 1);
  - --format-schemas copies proto/flow.proto byte for byte;
  - --expire drops the partitions older than the TTLs, and only those.

  test_apply.py NETMETA NETMETA_GEN

Exit: 0 pass, 1 failure, 77 skipped (no ClickHouse). Without a DPDK backend
or a Kafka broker the records through the upgrade are left out (said so).
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'export'))
import chlib  # noqa: E402
import realkafka  # noqa: E402
from chlib import log  # noqa: E402


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    netmeta, gen = argv[1:]
    ck = chlib.Checks()
    apply = chlib.run_apply

    rc, out = apply(['--url', 'http://127.0.0.1:1/'])
    ck.check(rc == 2 and 'cannot reach ClickHouse at http://127.0.0.1:1/' in out,
             'unreachable server: exit 2 and says so', out)
    rc, out = apply(['--database', 'a;b', '--url', 'http://127.0.0.1:1/'])
    ck.check(rc == 2 and "--database 'a;b': not a valid name" in out, 'bad database name: exit 2', out)

    with tempfile.TemporaryDirectory(prefix='nm-cha-') as work:
        ch = chlib.start_clickhouse(work)
        kafka = None
        try:
            log('ClickHouse %s on %s' % (ch.version, ch.url))
            why = chlib.dpdk_usable(netmeta)
            if why:
                why = 'netmeta has no usable DPDK backend (%s)' % why
            else:
                try:
                    kafka = realkafka.Cluster.start(work, brokers=1)
                    log('Apache Kafka 4 (1 broker) up in %.1f s at %s' % (kafka.start_seconds,
                                                                        kafka.bootstrap))
                    kafka.topic('flows', 1, 1)
                    kafka.topic('counters', 1, 1)
                except realkafka.Unavailable as e:
                    why = 'no Kafka broker (%s)' % e
            brokers = kafka.bootstrap if kafka else '127.0.0.1:9'
            base = ['--url', ch.url, '--brokers', brokers, '--group', 'nm-apply']

            rc, out = apply(base + ['--dry-run'])
            ck.check(rc == 0 and 'would create table netmeta.flows_raw' in out and
                     ch.scalar("SELECT count() FROM system.databases WHERE name = 'netmeta'") == '0',
                     '--dry-run lists what it would create and creates nothing', out)
            rc, out = apply(base)
            log(out.rstrip())
            ck.check(rc == 0 and 'schema 18.16' in out and 'done: 14 changes' in out,
                     'first run: 18.16 schema picked from the version, 14 objects created', out)
            rc, out = apply(base)
            ck.check(rc == 0 and 'netmeta is up to date (schema 18.16)' in out,
                     'second run: up to date, nothing done', out)

            # records before the upgrade
            pcap = os.path.join(work, 'g.pcap')
            subprocess.run([gen, '--proto', 'all', '--datagrams', '20', '-o', pcap],
                           capture_output=True, timeout=60, check=True)
            n1 = 0
            if why:
                log('  note  %s: no records through the upgrade' % why)
            else:
                rc, err, c = chlib.run_netmeta(netmeta, work, pcap, brokers, 'before')
                n1 = c.get('RECORDS_SENT', 0)
                got = chlib.wait_rows(ch, 'SELECT count() FROM netmeta.flows_raw', n1)
                ck.eq(got, n1, 'records produced before the upgrade land')

            # an upgrade: a column missing, a view and a Kafka table changed
            ch.query('ALTER TABLE netmeta.flows_raw DROP COLUMN PostNatDstPort', fmt=None)
            v = time.time_ns()
            ch.query("INSERT INTO netmeta.schema_applied VALUES ('flows_queue', 'old', '18.16', %d), "
                     "('flows_1m_as_mv', 'old', '18.16', %d)" % (v, v), fmt=None)
            ch.query('OPTIMIZE TABLE netmeta.schema_applied FINAL', fmt=None)
            rc, out = apply(base)
            log(out.rstrip())
            want = ['add column netmeta.flows_raw.PostNatDstPort UInt16',
                    'drop kafka table netmeta.flows_queue (recreated with its views)',
                    'drop view netmeta.flows_1m_if_mv (changed)', 'drop view netmeta.flows_raw_mv (changed)',
                    'create stand-in netmeta.flows_queue', 'create view netmeta.flows_raw_mv',
                    'drop stand-in netmeta.flows_queue', 'create kafka table netmeta.flows_queue']
            ck.check(rc == 0 and all(w in out for w in want) and 'interface_counters_mv' not in out,
                     'upgrade: the column is added; the changed Kafka table is recreated with every '
                     'view reading it, and nothing else', out)
            # the Kafka table stops before any view goes and starts after all are back: a block
            # it reads reaches every view (a view created while it streams misses blocks)
            pos = [out.find(w) for w in want[1:]]
            ck.check(pos == sorted(pos) and
                     max(out.find('create view netmeta.' + v) for v in
                         ('flows_1m_if_mv', 'flows_1m_proto_mv', 'flows_1m_as_mv', 'flows_raw_mv'))
                     < out.find('create kafka table netmeta.flows_queue'),
                     'upgrade: Kafka table dropped first, created last (after every view of it)', out)
            cols = [r['name'] for r in ch.query("SELECT name FROM system.columns WHERE database = "
                                                "'netmeta' AND table = 'flows_raw'")]
            ck.check(cols[cols.index('PostNatSrcPort'):cols.index('PostNatSrcPort') + 2]
                     == ['PostNatSrcPort', 'PostNatDstPort'], 'the column is back in its place')
            rc, out = apply(base)
            ck.check(rc == 0 and 'up to date' in out, 'after the upgrade: up to date', out)
            if not why:
                # The two runs replay the same capture: tell their rows apart
                # by receive time, split on a second boundary between them.
                # The count alone could reach n1 + n2 with a re-read of the
                # first run's rows before the second run's land.
                split = int(time.time()) + 1
                while time.time() < split:
                    time.sleep(0.05)
                rc, err, c = chlib.run_netmeta(netmeta, work, pcap, brokers, 'after')
                n2 = c.get('RECORDS_SENT', 0)
                late = 'SELECT count() FROM netmeta.flows_raw WHERE TimeReceived >= toDateTime(%d)' % split
                chlib.wait_rows(ch, late, n2)
                got = chlib.wait_rows(ch, 'SELECT count() FROM netmeta.flows_raw', n1 + n2)
                runs = (got - int(ch.scalar(late)), int(ch.scalar(late)))
                ck.check(runs == (n1, n2), 'records before and after the upgrade (rows per run): '
                         'each landed exactly once (the consumer group kept its offsets): %s (want %s)'
                         % (runs, (n1, n2)), 'rollup Records %s; the server\'s log:\n%s' % (
                             ch.scalar('SELECT sum(Records) FROM netmeta.flows_1m_proto'),
                             '\n'.join(l for l in ch.errors().splitlines()
                                       if 'Kafka' in l or '<Error>' in l)[-3000:]))
                got = int(ch.scalar('SELECT sum(Records) FROM netmeta.flows_1m_proto'))
                ck.eq(got, n1 + n2, 'the rollup too')

            # a column of another type: reported, left alone
            ch.query('ALTER TABLE netmeta.flows_raw MODIFY COLUMN DstPort UInt32', fmt=None)
            rc, out = apply(base)
            ck.check(rc == 1 and 'netmeta.flows_raw.DstPort is UInt32 on the server, the schema says '
                     'UInt16' in out and 'MODIFY COLUMN DstPort UInt16' in out,
                     'a column of another type: reported with the statement that fixes it, exit 1', out)
            ch.query('ALTER TABLE netmeta.flows_raw MODIFY COLUMN DstPort UInt16', fmt=None)

            # the other schema family on these tables
            rc, out = apply(base + ['--schema', 'current'])
            ck.check(rc == 1 and 'was created by the 18.16 schema' in out and 'migrate' in out,
                     'the current schema over 18.16 tables: refused, exit 1, says what to do', out)

            # current schema on 18.16: the proto is copied, then the server refuses IPv6
            fs = os.path.join(work, 'format_schemas')
            rc, out = apply(base + ['--schema', 'current', '--database', 'nm_cur', '--format-schemas', fs])
            proto = open(os.path.join(chlib.ROOT, 'proto', 'flow.proto'), 'rb').read()
            copied = open(os.path.join(fs, 'flow.proto'), 'rb').read() if os.path.exists(
                os.path.join(fs, 'flow.proto')) else b''
            ck.check(copied == proto, '--format-schemas: flow.proto there is proto/flow.proto, byte for byte')
            ck.check(rc == 1 and 'create table nm_cur.flows_raw failed: Code 62: Syntax error' in out,
                     'a statement the server refuses: exit 1, the statement and the server\'s words', out)

            # --expire
            ch.query("INSERT INTO netmeta.flows_raw (Type, TimeReceived) VALUES ('IPFIX', '2001-02-03 04:05:06')",
                     fmt=None)
            ch.query("INSERT INTO netmeta.flows_1m_proto (Minute, Records) VALUES ('2001-02-03 04:05:00', 1)",
                     fmt=None)
            # rows of this year only: a block the Kafka engine delivers late
            # cannot change what --expire is checked for
            recent = "SELECT count() FROM netmeta.flows_raw WHERE TimeReceived >= toDateTime('2002-01-01 00:00:00')"
            old = "SELECT count() FROM netmeta.flows_raw WHERE TimeReceived < toDateTime('2002-01-01 00:00:00')"
            before = (int(ch.scalar(old)), int(ch.scalar(recent)))
            rc, out = apply(base + ['--expire', '--ttl-days', '7'])
            ck.check(rc == 0 and 'expired netmeta.flows_raw partition 2001-02-03' in out and
                     'expired netmeta.flows_1m_proto partition 200102' in out,
                     '--expire drops the old day and month partitions', out)
            after = (int(ch.scalar(old)), int(ch.scalar(recent)))
            ck.check(before[0] == 1 and after[0] == 0 and after[1] >= before[1],
                     '--expire: only the old rows are gone (old, recent rows: %s before, %s after)'
                     % (before, after))
            rc, out = apply(base + ['--expire'])
            ck.check(rc == 0 and 'nothing to expire' in out, '--expire again: nothing to expire', out)

        finally:
            ch.stop()
            if kafka:
                kafka.stop()
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
