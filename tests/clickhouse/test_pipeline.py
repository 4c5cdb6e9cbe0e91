#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
End to end on the real systems, both ClickHouse versions fed by one real
Apache Kafka broker (scripts/kafka: Kafka 4, KRaft, 1 broker, started once
for the whole file):

  collector (DPDK net_pcap replay) --kafka0, Protobuf--> flows-L, counters-L
                                                         -> chDB: ClickHouse 26.x in
                                                            process, schema current.sql
                                   --kafka1, JSON------> jflows-L, jcounters-L
                                                         -> Debian's clickhouse-server
                                                            18.16, schema clickhouse-18.16.sql

Both schemas are applied as clickhouse/apply gives them (to 18.16 by
`apply --url`, to chDB statement by statement from `apply --print`), and
both engines read the topics through their own Kafka table engine. For a
generated capture (netmeta-gen: rates known and unknown) and, when
SHARED_DIR/corpus/CATALOG.md exists, every corpus capture in one pcap:

  - the collector delivers every record netmeta-decode gives, to both sinks;
  - an independent consumer (kcat) finds each of netmeta-decode's records
    exactly once in each of the four topics (every field but the receive
    clock; duplicates counted);
  - on each engine: flows_raw and interface_counters hold one row per
    record, every column equal to netmeta-decode's; per protocol records,
    sum(Bytes * SamplingRate), sum(Packets * SamplingRate); each rollup
    agrees with flows_raw and netmeta-decode; every operator query of
    clickhouse/queries/ returns the rows it must;
  - the two engines against each other: every column of every row of
    flows_raw and interface_counters equal (receive times included: the same
    records), the per-protocol sums equal, every query the same answer;
  - bad input (generated capture), written by another producer before the
    collector's messages: in the Protobuf topic JSON text and a truncated
    frame (chDB: kafka_handle_error_mode 'stream', one kafka_errors row
    each with its offset and bytes); in the JSON topic a Protobuf record, a
    line of text and a JSON object of another schema (18.16: the server's
    input_format_allow_errors_ratio 1 and kafka_row_delimiter skip the
    first two, the views' WHERE Type != '' the third). Consumption goes on
    past them on both engines and no row comes from them.
At the end chDB's Kafka tables are dropped and its session directory is
opened again by another process: the stored rows are still there.

  test_pipeline.py NETMETA DECODE GEN SHARED_DIR

chDB runs under the python3 on PATH that has `chdb` (chdblib.with_chdb);
without it, or without 18.16 (not root, not installed), the other engine
runs alone and the output says what was skipped. Exit: 0 pass, 1 failure,
77 skipped (no DPDK backend, no Kafka, neither engine).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'export'))
import chcheck  # noqa: E402
import chdblib  # noqa: E402
import chexpect  # noqa: E402
import chlib  # noqa: E402
import realkafka  # noqa: E402
from chcheck import ADDR  # noqa: E402
from chlib import log  # noqa: E402

BAD_PB = [b'{"SrcAddr": "192.0.2.1", "note": "JSON from another producer, not our Protobuf"}',
          b'\x7f\x08\x01\x10']   # a length-delimited frame claiming 127 bytes, 3 present
BAD_JSON_TEXT = [b'not JSON: a line of text from another producer',
                 b'{"note": "JSON of another producer", "SrcAddr": "192.0.2.1", "Bytes": 7}']
STORED = ('flows_raw', 'flows_1m_if', 'flows_1m_proto', 'flows_1m_as', 'interface_counters',
          'kafka_errors')
KAFKA_OBJECTS = ('flows_queue', 'counters_queue', 'flows_errors_mv', 'counters_errors_mv',
                 'flows_raw_mv', 'interface_counters_mv', 'flows_1m_if_mv', 'flows_1m_proto_mv',
                 'flows_1m_as_mv')


def first_pb_record(decode, pcap):
    """The first record of netmeta-decode --pb, length prefix included: our
    Protobuf, in the topic of JSON."""
    p = subprocess.run([decode, '--pb', pcap], capture_output=True, timeout=120)
    n, i = chlib._varint(p.stdout, 0)
    return p.stdout[:i + n]


def failed(cn, sink):
    return sum(v for k, v in cn.items() if k.startswith(sink + '_failed') and isinstance(v, int))


def setup_old(ck, ch, c, label, db, topic, ctopic):
    rc, out = chlib.run_apply(['--url', ch.url, '--brokers', c.bootstrap, '--database', db,
                               '--topic', topic, '--counters-topic', ctopic,
                               '--group', 'ch18-' + label])
    log('  ' + out.rstrip().replace('\n', '\n  '))
    return ck.check(rc == 0 and 'schema 18.16' in out,
                    '%s/18.16: clickhouse/apply picks the 18.16 schema and applies it' % label)


def setup_cur(ck, ch, c, label, db, topic, ctopic):
    stmts = chdblib.schema_statements(['--schema', 'current', '--database', db, '--brokers',
                                       c.bootstrap, '--topic', topic, '--counters-topic', ctopic,
                                       '--group', 'chdb-' + label])
    problems, quirk = chdblib.apply_schema(ch, stmts)
    ok = ck.check(not problems, '%s/chDB: clickhouse/schema/current.sql applies as it is (%d '
                  'statements)' % (label, len(stmts)), '\n'.join(problems))
    engines = {n: chdblib.table_engine(ch, db, n) for k, n, _ in stmts if k == 'kafka'}
    ck.eq(engines, {'flows_queue': 'Kafka', 'counters_queue': 'Kafka'},
          '%s/chDB: the Kafka tables exist with the Kafka engine' % label)
    if quirk:
        log('  note: chDB answered CREATE of %s with "%s" (LOGICAL_ERROR); the tables exist and '
            'consume (chdblib.py: the registry of streaming tables is shut in chDB)'
            % (', '.join(quirk), chdblib.REGISTRY_ERROR))
    types = {r['name']: r['type'] for r in ch.query(
        "SELECT name, type FROM system.columns WHERE database = '%s' AND table = 'flows_raw'" % db)}
    ck.eq((types.get('SrcAddr'), types.get('Type'), types.get('AsPath')),
          ('IPv6', 'LowCardinality(String)', 'Array(UInt32)'), '%s/chDB: flows_raw stores IPv6, '
          'LowCardinality(String), Array(UInt32) as the schema asks' % label)
    codecs = ch.scalar("SELECT count() FROM system.columns WHERE database = '%s' AND "
                       "compression_codec != ''" % db)
    ttls = ch.scalar("SELECT countIf(engine_full LIKE '%% TTL %%') FROM system.tables WHERE "
                     "database = '%s'" % db)
    ck.check(int(codecs) > 100 and int(ttls) == 6, '%s/chDB: codecs and TTLs in place (%s columns '
             'with a codec, %s tables with a TTL)' % (label, codecs, ttls))
    return ok


def check_engine(ck, ch, name, label, db, flows, ctrs, t0):
    """The rows one engine holds against netmeta-decode. -> figures."""
    p = '%s/%s: ' % (label, name)
    n = chlib.wait_rows(ch, 'SELECT count() FROM %s.flows_raw' % db, len(flows), 180)
    m = chlib.wait_rows(ch, 'SELECT count() FROM %s.interface_counters' % db, len(ctrs), 60)
    secs = time.time() - t0
    log('  %s rows landed %.1f s after the collector started' % (p, secs))
    ck.eq(n, len(flows), p + 'flows_raw rows = records')
    ck.eq(m, len(ctrs), p + 'interface_counters rows = counter records')
    sums = ch.query('SELECT Proto, count() AS n, sum(Bytes * SamplingRate) AS b, '
                    'sum(Packets * SamplingRate) AS p FROM %s.flows_raw GROUP BY Proto' % db)
    sums = {r['Proto']: (r['n'], r['b'], r['p']) for r in sums}
    ck.eq(sums, chexpect.per_proto(flows),
          p + 'per Proto: records, sum(Bytes*SamplingRate), sum(Packets*SamplingRate)')
    raw = chcheck.select_raw(ch, 'flows_raw', db)
    cnt = chcheck.select_raw(ch, 'interface_counters', db)
    chcheck.compare_rows(ck, p + 'flows_raw', flows, raw, ADDR)
    chcheck.compare_rows(ck, p + 'interface_counters', ctrs, cnt, ADDR)
    chcheck.check_rollups(ck, ch, flows, db, p)
    queries = chcheck.check_queries(ck, ch, flows, db, p)
    return {'rows': n, 'seconds': secs, 'sums': sums, 'raw': raw, 'counters': cnt,
            'queries': queries}


def run_capture(ck, engines, c, netmeta, decode, work, label, pcap, bad):
    db = 'nm_' + label
    tp, tpc, tj, tjc = 'flows-' + label, 'counters-' + label, 'jflows-' + label, 'jcounters-' + label
    log('\n== %s: database %s; topics %s, %s (Protobuf), %s, %s (JSON)'
        % (label, db, tp, tpc, tj, tjc))
    for t in (tp, tpc, tj, tjc):
        c.topic(t, 1, 1)
    ready = {}
    if 'chDB' in engines:
        ready['chDB'] = setup_cur(ck, engines['chDB'], c, label, db, tp, tpc)
    if '18.16' in engines:
        ready['18.16'] = setup_old(ck, engines['18.16'], c, label, db, tj, tjc)

    bad_pb, bad_json = [], []
    if bad:
        bad_pb = BAD_PB
        bad_json = [first_pb_record(decode, pcap)] + BAD_JSON_TEXT
        chdblib.produce(c.bootstrap, tp, bad_pb)
        chdblib.produce(c.bootstrap, tj, bad_json)
        log('  written by another producer before the collector: %d messages that are not our '
            'Protobuf to %s, %d that are not our JSON to %s (a Protobuf record, text, a JSON '
            'object of another schema)' % (len(bad_pb), tp, len(bad_json), tj))
    flows, ctrs = chlib.decode(decode, [pcap])
    log('  netmeta-decode: %d flow records (%d with SamplingRate 0), %d counter records'
        % (len(flows), sum(1 for r in flows if r['SamplingRate'] == 0), len(ctrs)))

    t0 = time.time()
    sinks = [chlib.kafka_sink(c.bootstrap, tp, tpc, 'protobuf'),
             chlib.kafka_sink(c.bootstrap, tj, tjc, 'json')]
    rc, err, cn = chlib.run_netmeta(netmeta, work, pcap, c.bootstrap, label, sinks=sinks)
    ck.check(rc == 0, '%s: netmeta exit status %d' % (label, rc), err[-1500:])
    ck.eq(cn.get('RECORDS_SENT'), len(flows), '%s: netmeta RECORDS_SENT = netmeta-decode records'
          % label)
    for s, fmt in (('kafka0', 'Protobuf'), ('kafka1', 'JSON')):
        ck.eq((cn.get(s + '_delivered'), failed(cn, s), cn.get(s + '_spooled', 0),
               cn.get(s + '_identity')), (len(flows) + len(ctrs), 0, 0, 'ok'),
              '%s: %s sink (%s): every record delivered (flows + counters), none failed or '
              'spooled, identity ok' % (label, s, fmt))

    # an independent consumer: each record exactly once in each topic
    fig = {'records': len(flows), 'counters': len(ctrs)}
    for topic, fmt, msg, skip, want, flow in (
            (tp, 'protobuf', 'FlowMessage', len(bad_pb), flows, True),
            (tpc, 'protobuf', 'InterfaceCounters', 0, ctrs, False),
            (tj, 'json', 'FlowMessage', len(bad_json), flows, True),
            (tjc, 'json', 'InterfaceCounters', 0, ctrs, False)):
        got, nmsg = chcheck.topic_records(c.bootstrap, topic, fmt, msg, skip)
        _miss, extra = chcheck.check_topic(ck, '%s: topic %s (kcat, %d Kafka messages)'
                                           % (label, topic, nmsg), got, want, flow)
        fig['in ' + topic.split('-')[0]] = len(got)
        fig.setdefault('extra', 0)
        fig['extra'] += extra

    res = {}
    for name, ch in engines.items():
        if ready.get(name):
            res[name] = check_engine(ck, ch, name, label, db, flows, ctrs, t0)
    if 'chDB' in res:
        ch = engines['chDB']
        # the error rows are written by their own view: on a loaded machine they can land
        # after the good rows, so wait for them (a bounded wait: a missing row still fails)
        t_e = time.time()
        while True:
            errs = ch.query('SELECT Topic, Partition, Offset, Error, hex(RawMessage) AS raw FROM '
                            '%s.kafka_errors ORDER BY Offset' % db)
            if len(errs) >= len(bad_pb) or time.time() - t_e > 90:
                break
            time.sleep(1)
        ck.eq([(e['Topic'], e['Partition'], e['Offset'], e['raw']) for e in errs],
              [(tp, 0, i, b.hex().upper()) for i, b in enumerate(bad_pb)],
              '%s/chDB: kafka_errors: one row per message that is not our Protobuf (topic, '
              'partition, offset, raw bytes)' % label)
        for e in errs:
            log('  chDB kafka_errors: offset %d: %s' % (e['Offset'], e['Error'][:160]))
        if bad:
            ck.check(all(e['Error'] for e in errs), '%s/chDB: each kafka_errors row says what '
                     'was wrong' % label)
        fig['kafka_errors'] = len(errs)
    if '18.16' in res:
        ch = engines['18.16']
        if bad:
            # the foreign JSON object parsed (unknown fields are skipped)
            # and was kept out by the views: nothing of it in any table
            ck.eq(ch.scalar("SELECT count() FROM %s.flows_raw WHERE Type = ''" % db),
                  '0', '%s/18.16: no row from the messages that are not our JSON' % label)
        ck.eq(ch.scalar("SELECT value FROM system.settings WHERE name = "
                        "'input_format_allow_errors_ratio'"), '0',
              '%s/18.16: the user\'s own inserts stay strict (input_format_allow_errors_ratio 0 in '
              'its profile; 1 only in the default_profile the Kafka engine reads with)' % label)

    if len(res) == 2:
        a, b = res['18.16'], res['chDB']
        p = '%s/18.16 = chDB: ' % label
        chcheck.compare_engines(ck, p + 'flows_raw', a['raw'], b['raw'])
        chcheck.compare_engines(ck, p + 'interface_counters', a['counters'], b['counters'])
        ck.eq(a['sums'], b['sums'], p + 'per Proto: records, sum(Bytes*SamplingRate), '
              'sum(Packets*SamplingRate)')
        for f in sorted(set(a['queries']) | set(b['queries'])):
            chcheck.compare_query_engines(ck, p + 'query', f, a['queries'].get(f, []),
                                          b['queries'].get(f, []))
    for name, r in res.items():
        fig[name] = (r['rows'], r['seconds'])
    return db, fig


def persistence(ck, ch, path, dbs):
    """chDB's session directory, opened again by another process, holds
    the stored rows (Kafka tables dropped first: chdblib.py)."""
    counts = {}
    for db in dbs:
        for t in KAFKA_OBJECTS:
            ch.query('DROP TABLE IF EXISTS %s.%s' % (db, t), fmt=None)
        counts[db] = [int(ch.scalar('SELECT count() FROM %s.%s' % (db, t))) for t in STORED]
    ch.close()
    code = ('import json, sys\nfrom chdb import session\ns = session.Session(sys.argv[1])\n'
            'print(json.dumps({db: [int(s.query("SELECT count() FROM %s.%s" % (db, t), "CSV")'
            '.data()) for t in sys.argv[3].split(",")] for db in sys.argv[2].split(",")}))')
    r = subprocess.run([sys.executable, '-c', code, path, ','.join(dbs), ','.join(STORED)],
                       capture_output=True, text=True, timeout=120)
    again = None
    try:
        again = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    ck.check(again == counts, 'chDB: the persistent session, opened again by another process, '
             'holds the same rows (%s): %s' % (', '.join(STORED), again),
             'want %s\n%s' % (counts, r.stderr[-800:]))


def main(argv):
    if len(argv) != 5:
        print(__doc__)
        return 2
    no_chdb = chdblib.with_chdb(optional=True)
    netmeta, decode, gen, shared = (os.path.abspath(a) for a in argv[1:])
    why = chlib.dpdk_usable(netmeta)
    if why:
        chlib.skip('netmeta has no usable DPDK backend: %s' % why)
    no_old = chlib.old_server_missing()
    if no_chdb and no_old:
        chlib.skip('neither ClickHouse can run here: %s; %s' % (no_chdb, no_old))
    ck = chlib.Checks()
    work = tempfile.mkdtemp(prefix='nm-chp-')
    c = None
    engines = {}
    try:
        try:
            c = realkafka.Cluster.start(work, brokers=1)
        except realkafka.Unavailable as e:
            chlib.skip(str(e))
        log('Apache Kafka 4 (1 broker, KRaft) up in %.1f s at %s' % (c.start_seconds, c.bootstrap))
        if no_old:
            log('SKIP 18.16: %s' % no_old)
        else:
            engines['18.16'] = chlib.start_clickhouse(work)
            log('ClickHouse %s server on %s' % (engines['18.16'].version, engines['18.16'].url))
        if no_chdb:
            log('SKIP chDB: %s' % no_chdb)
        else:
            import chdb
            schemas = os.path.join(work, 'format_schemas')
            os.makedirs(schemas)
            shutil.copy(os.path.join(chlib.ROOT, 'proto', 'flow.proto'), schemas)
            path = os.path.join(work, 'chdb')
            engines['chDB'] = chdblib.Chdb(path, schemas)
            log('chDB %s, ClickHouse %s in process, session %s; format schemas in %s (working '
                'directory)' % (chdb.__version__, engines['chDB'].version, path, schemas))
            ck.eq(engines['chDB'].scalar("SELECT count() FROM system.table_engines WHERE name = "
                                         "'Kafka'"), '1', 'chDB has the Kafka table engine')

        caps = [('gen', chcheck.build_gen(gen, work))]
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
            db, fig = run_capture(ck, engines, c, netmeta, decode, work, label, pcap,
                                  bad=label == 'gen')
            done[db] = fig

        if '18.16' in engines:
            errs = [line for line in engines['18.16'].errors().splitlines() if '<Error>' in line]
            ck.check(not errs, '18.16: the server logged no error', '\n'.join(errs[:5]))
        if 'chDB' in engines:
            log('\n== chDB: the session directory opened again (Kafka tables dropped first)')
            ch = engines.pop('chDB')
            persistence(ck, ch, ch.path, list(done))

        log('\n%-7s %8s %8s %9s %9s %8s %12s %15s %15s' % (
            'capture', 'records', 'counters', 'in flows', 'in jflows', 'extra', 'kafka_errors',
            '18.16 rows (s)', 'chDB rows (s)'))
        for db, f in done.items():
            cell = lambda k: '%d (%.1f)' % f[k] if k in f else 'skipped'
            log('%-7s %8d %8d %9d %9d %8d %12s %15s %15s' % (
                db[3:], f['records'], f['counters'], f.get('in flows', 0), f.get('in jflows', 0),
                f['extra'], f.get('kafka_errors', '-'), cell('18.16'), cell('chDB')))
    finally:
        for ch in engines.values():
            if isinstance(ch, chlib.ClickHouse):
                ch.stop()
            else:
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
