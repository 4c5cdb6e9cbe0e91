#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
End to end on current ClickHouse: collector -> a real Apache Kafka broker
-> chDB (the ClickHouse 26.x engine in process, PyPI `chdb`), reading the
collector's messages with ClickHouse's own Protobuf format and
proto/flow.proto through its own Kafka table engine, as a server does.

clickhouse/schema/current.sql is applied as it is (the statements
`clickhouse/apply --print --schema current` gives: IPv6, LowCardinality,
codecs, TTLs, the Kafka tables with kafka_handle_error_mode 'stream', the
materialized views and rollups) to a persistent chDB session directory.
For a generated capture (netmeta-gen, rates known and unknown) and, when
../shared/corpus exists, the corpus captures in one pcap, each in its own
database and topics:

  - the collector (DPDK net_pcap replay, Kafka sink in Protobuf) delivers
    every record netmeta-decode gives;
  - flows_raw and interface_counters hold one row per record, every column
    of every row equal to netmeta-decode's JSON (receive times aside);
  - per protocol: records, sum(Bytes * SamplingRate), sum(Packets *
    SamplingRate); each rollup agrees with flows_raw and netmeta-decode;
  - every query of clickhouse/queries/ returns the rows it must;
  - bad input (generated capture): two messages that are not our Protobuf
    (JSON text from another producer, a truncated frame) written to the
    topic before the collector's (once the schema is in place: see
    chdblib.py on views created one after another): consumption goes on
    past them, each becomes one row of kafka_errors (its offset and raw
    bytes), and no flow row comes from them.
At the end the Kafka tables are dropped and the session directory is
opened again: the stored rows are still there.

  test_chdb.py NETMETA DECODE GEN SHARED_DIR

Exit: 0 pass, 1 failure, 77 skipped (no chdb, no DPDK backend, no Kafka).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'export'))
import chdblib  # noqa: E402
import chexpect  # noqa: E402
import chlib  # noqa: E402
import realkafka  # noqa: E402
import test_pipeline  # noqa: E402
from chlib import log  # noqa: E402

ADDR = {'SrcAddr', 'DstAddr', 'SamplerAddress', 'NextHop', 'SrcAddrEncap', 'DstAddrEncap',
        'BgpNextHop', 'PostNatSrcAddr', 'PostNatDstAddr', 'AgentAddress'}
BAD = [b'{"SrcAddr": "192.0.2.1", "note": "JSON from another producer, not our Protobuf"}',
       b'\x7f\x08\x01\x10']   # a length-delimited frame claiming 127 bytes, 3 present
STORED = ('flows_raw', 'flows_1m_if', 'flows_1m_proto', 'flows_1m_as', 'interface_counters',
          'kafka_errors')


def run_capture(ck, ch, c, netmeta, decode, work, label, pcap, bad):
    db, topic, ctopic = 'nm_' + label, 'flows-' + label, 'counters-' + label
    log('\n== %s: database %s, topics %s and %s' % (label, db, topic, ctopic))
    c.topic(topic, 1, 1)
    c.topic(ctopic, 1, 1)
    stmts = chdblib.schema_statements(['--schema', 'current', '--database', db, '--brokers',
                                       c.bootstrap, '--topic', topic, '--counters-topic', ctopic,
                                       '--group', 'chdb-' + label])
    problems, quirk = chdblib.apply_schema(ch, stmts)
    ck.check(not problems, '%s: clickhouse/schema/current.sql applies as it is (%d statements)'
             % (label, len(stmts)), '\n'.join(problems))
    engines = {n: chdblib.table_engine(ch, db, n) for k, n, _ in stmts if k == 'kafka'}
    ck.eq(engines, {'flows_queue': 'Kafka', 'counters_queue': 'Kafka'},
          '%s: the Kafka tables exist with the Kafka engine' % label)
    if quirk:
        log('  note: chDB answered CREATE of %s with "%s" (LOGICAL_ERROR); the tables exist and '
            'consume (chdblib.py: the registry of streaming tables is shut in chDB)'
            % (', '.join(quirk), chdblib.REGISTRY_ERROR))
    types = {r['name']: r['type'] for r in ch.query(
        "SELECT name, type FROM system.columns WHERE database = '%s' AND table = 'flows_raw'" % db)}
    ck.eq((types.get('SrcAddr'), types.get('Type'), types.get('AsPath')),
          ('IPv6', 'LowCardinality(String)', 'Array(UInt32)'), '%s: flows_raw stores IPv6, '
          'LowCardinality(String), Array(UInt32) as the schema asks' % label)
    codecs = ch.scalar("SELECT count() FROM system.columns WHERE database = '%s' AND "
                       "compression_codec != ''" % db)
    ttls = ch.scalar("SELECT countIf(engine_full LIKE '%% TTL %%') FROM system.tables WHERE "
                     "database = '%s'" % db)
    log('  %s columns with a codec, %s tables with a TTL' % (codecs, ttls))
    ck.check(int(codecs) > 100 and int(ttls) == 6, '%s: codecs and TTLs in place (%s columns with a '
             'codec, %s tables with a TTL)' % (label, codecs, ttls))

    if bad:
        chdblib.produce(c.bootstrap, topic, BAD)
        log('  %d messages that are not our Protobuf written to %s before the collector\'s '
            '(offsets 0-%d)' % (len(BAD), topic, len(BAD) - 1))
    flows, ctrs = chlib.decode(decode, [pcap])
    log('  netmeta-decode: %d flow records (%d with SamplingRate 0), %d counter records'
        % (len(flows), sum(1 for r in flows if r['SamplingRate'] == 0), len(ctrs)))
    t0 = time.time()
    rc, err, cn = chdblib.run_netmeta_pb(netmeta, work, pcap, c.bootstrap, label, topic, ctopic)
    ck.check(rc == 0, '%s: netmeta exit status %d' % (label, rc), err[-1500:])
    ck.eq(cn.get('RECORDS_SENT'), len(flows), '%s: netmeta RECORDS_SENT = netmeta-decode records' % label)
    ck.eq((cn.get('kafka0_delivered'), cn.get('kafka0_failed', 0)), (len(flows) + len(ctrs), 0),
          '%s: Kafka sink: every record delivered (flows + counters), none failed' % label)
    ck.eq(cn.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % label)
    n = chlib.wait_rows(ch, 'SELECT count() FROM %s.flows_raw' % db, len(flows), 120)
    m = chlib.wait_rows(ch, 'SELECT count() FROM %s.interface_counters' % db, len(ctrs), 60)
    log('  rows landed %.1f s after the collector started' % (time.time() - t0))
    ck.eq(n, len(flows), '%s: flows_raw rows = records' % label)
    ck.eq(m, len(ctrs), '%s: interface_counters rows = counter records' % label)

    got = ch.query('SELECT Proto, count() AS n, sum(Bytes * SamplingRate) AS b, '
                   'sum(Packets * SamplingRate) AS p FROM %s.flows_raw GROUP BY Proto' % db)
    ck.eq({r['Proto']: (r['n'], r['b'], r['p']) for r in got}, chexpect.per_proto(flows),
          '%s: per Proto: records, sum(Bytes*SamplingRate), sum(Packets*SamplingRate)' % label)
    test_pipeline.compare_rows(ck, '%s: flows_raw' % label, flows,
                               test_pipeline.select_raw(ch, 'flows_raw', db), ADDR)
    test_pipeline.compare_rows(ck, '%s: interface_counters' % label, ctrs,
                               test_pipeline.select_raw(ch, 'interface_counters', db), ADDR)
    test_pipeline.check_rollups(ck, ch, flows, db)
    test_pipeline.check_queries(ck, ch, flows, db)

    errs = ch.query('SELECT Topic, Partition, Offset, Error, hex(RawMessage) AS raw FROM %s.kafka_errors '
                    'ORDER BY Offset' % db)
    want = [(topic, 0, i, b.hex().upper()) for i, b in enumerate(BAD)] if bad else []
    ck.eq([(e['Topic'], e['Partition'], e['Offset'], e['raw']) for e in errs], want,
          '%s: kafka_errors: one row per message that is not our Protobuf (topic, partition, '
          'offset, raw bytes)' % label)
    for e in errs:
        log('  kafka_errors: offset %d: %s' % (e['Offset'], e['Error'][:160]))
    if bad:
        ck.check(all(e['Error'] for e in errs), '%s: each kafka_errors row says what was wrong' % label)
    return db, {'records': len(flows), 'counters': len(ctrs), 'errors': len(errs),
                'seconds': time.time() - t0}


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    chdblib.with_chdb()
    netmeta, decode, gen, shared = (os.path.abspath(a) for a in argv[1:])
    why = chlib.dpdk_usable(netmeta)
    if why:
        chlib.skip('netmeta has no usable DPDK backend: %s' % why)
    ck = chlib.Checks()
    work = tempfile.mkdtemp(prefix='nm-chdb-')
    c = ch = None
    try:
        try:
            c = realkafka.Cluster.start(work, brokers=1)
        except realkafka.Unavailable as e:
            chlib.skip(str(e))
        log('Kafka (1 broker, KRaft) up in %.1f s at %s' % (c.start_seconds, c.bootstrap))
        schemas = os.path.join(work, 'format_schemas')
        os.makedirs(schemas)
        shutil.copy(os.path.join(chlib.ROOT, 'proto', 'flow.proto'), schemas)
        import chdb
        path = os.path.join(work, 'chdb')
        ch = chdblib.Chdb(path, schemas)
        log('chDB %s, ClickHouse %s, session %s; format schemas in %s (working directory)'
            % (chdb.__version__, ch.version, path, schemas))
        ck.eq(ch.scalar("SELECT count() FROM system.table_engines WHERE name = 'Kafka'"), '1',
              'chDB has the Kafka table engine')

        caps = [('gen', test_pipeline.build_gen(gen, work))]
        corpus = chlib.corpus_captures(shared)
        if corpus:
            p = os.path.join(work, 'corpus.pcap')
            chlib.concat_pcaps(corpus, p)
            caps.append(('corpus', p))
        else:
            log('SKIP corpus: %s not found (generated capture only)'
                % os.path.normpath(os.path.join(shared, 'corpus', 'CATALOG.md')))
        done = {}
        for label, pcap in caps:
            db, fig = run_capture(ck, ch, c, netmeta, decode, work, label, pcap, bad=label == 'gen')
            done[db] = fig

        log('\n== the session directory opened again (Kafka tables dropped first)')
        counts = {}
        for db in done:
            for t in ('flows_queue', 'counters_queue', 'flows_errors_mv', 'counters_errors_mv',
                      'flows_raw_mv', 'interface_counters_mv', 'flows_1m_if_mv', 'flows_1m_proto_mv',
                      'flows_1m_as_mv'):
                ch.query('DROP TABLE IF EXISTS %s.%s' % (db, t), fmt=None)
            counts[db] = [int(ch.scalar('SELECT count() FROM %s.%s' % (db, t))) for t in STORED]
        ch.close()
        ch = None
        code = ('import json, sys\nfrom chdb import session\ns = session.Session(sys.argv[1])\n'
                'print(json.dumps({db: [int(s.query("SELECT count() FROM %s.%s" % (db, t), "CSV")'
                '.data()) for t in sys.argv[3].split(",")] for db in sys.argv[2].split(",")}))')
        r = subprocess.run([sys.executable, '-c', code, path, ','.join(done), ','.join(STORED)],
                           capture_output=True, text=True, timeout=120)
        again = None
        try:
            import json
            again = json.loads(r.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
        ck.check(again == counts, 'the persistent session, opened again by another process, holds '
                 'the same rows (%s): %s' % (', '.join(STORED), again),
                 'want %s\n%s' % (counts, r.stderr[-800:]))

        log('\n%-8s %8s %9s %12s %10s' % ('capture', 'records', 'counters', 'kafka_errors', 'seconds'))
        for db, f in done.items():
            log('%-8s %8d %9d %12d %10.1f' % (db[3:], f['records'], f['counters'], f['errors'],
                                              f['seconds']))
    finally:
        if ch:
            ch.close()
        if c:
            c.stop()
        if os.environ.get('NM_KEEP_SCRATCH'):
            log('kept ' + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
