#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Suite 'cluster' (CI-sized, ~1 min): the cluster schema on a real
replicated, sharded ClickHouse 18.16 (scripts/cluster's layout without
Kafka and collectors): ZooKeeper and 2 shards x 2 replicas, each server
with its macros and the cluster "netmeta".

  - clickhouse/apply --cluster netmeta creates schema/cluster-18.16.sql on
    every server (exit 0) and a second run changes nothing
  - every stored table is Replicated*MergeTree under
    /clickhouse/tables/{shard}/netmeta/NAME with the server's replica name,
    every Distributed table reads NAME_local of the cluster, every view
    writes into a NAME_local
  - rows written into one replica of each shard reach the other replica
    (ZooKeeper, interserver HTTP), the Distributed table shows the sum over
    shards, and still does with one replica of each shard stopped
  - rollup rows of one exporter in both shards (its partition moved) are
    summed by the operator query traffic_by_exporter through Distributed,
    read from replica 1 of each shard (replication of the rollups)
  - every operator query (clickhouse/queries/*.sql) runs on the Distributed
    tables

The whole layout under load and faults (Kafka, collectors, a shard down
60 s): tests/cluster/run-faults, results in tests/cluster/RESULTS.md.

  test_cluster_schema.py            (exit 0 pass, 1 fail, 77 skipped)
"""

import glob
import importlib.machinery
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
cl = importlib.machinery.SourceFileLoader('cluster', os.path.join(ROOT, 'scripts', 'cluster')).load_module()

FAILED = []


def check(cond, what):
    print('  %s  %s' % ('ok  ' if cond else 'FAIL', what))
    sys.stdout.flush()
    if not cond:
        FAILED.append(what)
    return cond


def free_base(count=60):
    rnd = random.Random(os.getpid() ^ int(time.time()))
    for _ in range(200):
        base = rnd.randrange(30000, 60000 - count)
        ok = True
        for p in range(base, base + count):
            s = socket.socket()
            try:
                s.bind(('127.0.0.1', p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    return None


def main():
    for need, pkg in (('/usr/share/java/zookeeper.jar', 'zookeeper'),
                      (shutil.which('clickhouse-server') or '/usr/sbin/clickhouse-server', 'clickhouse-server'),
                      (shutil.which('java') or '/nonexistent', 'openjdk-17-jre-headless')):
        if not os.path.exists(need):
            print('SKIP: %s is missing (Debian package %s; scripts/install-deps)' % (need, pkg))
            return 77
    base = free_base()
    if base is None:
        print('SKIP: no 60 free TCP ports in a row')
        return 77
    work = tempfile.mkdtemp(prefix='nm-cluster-schema-')
    c = cl.Cluster(work, base, os.path.join(work, 'nobuild'))
    try:
        t0 = time.time()
        c.zk_start()
        for k, _s, _r in c.ch_nodes():
            c.ch_start(k, wait=False)
        for k, _s, _r in c.ch_nodes():
            c.ch_wait(k)
        print('ZooKeeper and 4 servers up in %.1f s' % (time.time() - t0))
        args = ['--brokers', '127.0.0.1:9', '--schema', '18.16', '--cluster', cl.CLUSTER]
        for k, s, r in c.ch_nodes():
            url = 'http://127.0.0.1:%d' % c.ch_http(k)
            p = subprocess.run(['/usr/bin/python3', cl.APPLY, '--url', url] + args, capture_output=True,
                               text=True, timeout=300)
            check(p.returncode == 0, 'apply --cluster on shard %d replica %d: exit %d %s'
                  % (s, r, p.returncode, (p.stderr or '').strip()[-300:]))
        p = subprocess.run(['/usr/bin/python3', cl.APPLY, '--url', 'http://127.0.0.1:%d' % c.ch_http(3)] + args,
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0 and 'up to date' in p.stdout, 'a second apply changes nothing')

        tables = {x['name']: x for x in c.rows(1, "SELECT name, engine, engine_full FROM system.tables "
                                                   "WHERE database = 'netmeta'")}
        stored = sorted(n[:-len('_local')] for n in tables if n.endswith('_local'))
        check(stored == ['flows_1m_as', 'flows_1m_if', 'flows_1m_proto', 'flows_raw', 'interface_counters'],
              'stored tables: %s' % stored)
        for n in stored:
            loc, dist = tables[n + '_local'], tables.get(n, {})
            check(loc['engine'].startswith('Replicated') and
                  "'/clickhouse/tables/{shard}/netmeta/%s', '{replica}'" % n in loc['engine_full'],
                  '%s_local: %s' % (n, loc['engine_full'][:110]))
            check(dist.get('engine') == 'Distributed' and
                  "Distributed('netmeta', 'netmeta', '%s_local'" % n in dist.get('engine_full', ''),
                  '%s: %s' % (n, dist.get('engine_full', '')[:90]))
        views = c.rows(1, "SELECT name, create_table_query AS q FROM system.tables WHERE database = 'netmeta' "
                          "AND engine = 'MaterializedView'")
        check(views and all('_local' in v['q'].split(' AS SELECT')[0] for v in views),
              'every view (%d) writes into a _local table' % len(views))
        reps = c.rows(0, "SELECT table, replica_name, zookeeper_path FROM system.replicas "
                         "WHERE database = 'netmeta' AND table = 'flows_raw_local'")
        check(reps and reps[0]['replica_name'] == 'r0' and reps[0]['zookeeper_path'] ==
              '/clickhouse/tables/0/netmeta/flows_raw', 'shard 0 replica 0: %s' % reps)

        # rows into replica 0 of each shard; replication to replica 1
        want = {0: 300, 1: 200}
        for s, n in want.items():
            c.q(s * cl.REPLICAS, "INSERT INTO netmeta.flows_raw_local (TimeReceived, SamplerAddress, Bytes, "
                                 "Packets, SamplingRate) SELECT toDateTime('2026-12-02 10:00:00') + number, "
                                 "toFixedString(concat(unhex('00000000000000000000FFFF'), unhex(hex(toUInt32("
                                 "3221225985 + %d)))), 16), 1000, 1, 100 FROM numbers(%d)" % (s, n))
        end = time.time() + 120
        got = {}
        while time.time() < end:
            got = {k: int(c.q(k, 'SELECT count() FROM netmeta.flows_raw_local')) for k, _s, _r in c.ch_nodes()}
            if all(got[k] == want[s] for k, s, _r in c.ch_nodes()):
                break
            time.sleep(0.5)
        check(all(got[k] == want[s] for k, s, _r in c.ch_nodes()),
              'each shard\'s rows on both its replicas: %s' % got)
        for k, _s, _r in c.ch_nodes():
            check(int(c.q(k, 'SELECT count() FROM netmeta.flows_raw')) == sum(want.values()),
                  'Distributed through server %d = %d' % (k, sum(want.values())))
        # rollups per shard, summed through Distributed: exporter .1 has rows
        # in both shards (its partition moved), .2 in shard 0 only
        addr = ("toFixedString(concat(unhex('00000000000000000000FFFF'), unhex(hex(toUInt32(%d)))), 16)")
        ins = ('INSERT INTO netmeta.flows_1m_proto_local (Minute, SamplerAddress, Etype, Proto, Records, '
               'ScaledBytes) SELECT toStartOfMinute(now()), %s, 2048, 6, %d, %d')
        c.q(0, ins % (addr % 3221225985, 10, 1000))        # 192.0.2.1
        c.q(0, ins % (addr % 3221225986, 5, 500))          # 192.0.2.2
        c.q(2, ins % (addr % 3221225985, 7, 700))
        end = time.time() + 120
        while time.time() < end:
            if [int(c.q(k, 'SELECT sum(Records) FROM netmeta.flows_1m_proto_local')) for k in (1, 3)] == [15, 7]:
                break
            time.sleep(0.5)
        c.ch_stop_many([0, 2])
        q = open(os.path.join(ROOT, 'clickhouse', 'queries', 'traffic_by_exporter.sql')).read().strip().rstrip(';')
        got = [(x['exporter'], x['records'], x['bytes']) for x in c.rows(1, q)]
        check(got == [('192.0.2.1', 17, 1700), ('192.0.2.2', 5, 500)],
              'traffic_by_exporter through Distributed, replica 1 of each shard, sums the shards\' '
              'rollups: %s' % got)
        check(int(c.q(1, 'SELECT count() FROM netmeta.flows_raw')) == sum(want.values()),
              'Distributed with replica 0 of both shards stopped = %d' % sum(want.values()))
        check(int(c.q(1, 'SELECT sum(Bytes * SamplingRate) FROM netmeta.flows_raw')) == 500 * 1000 * 100,
              'sum over shards of Bytes * SamplingRate')
        for path in sorted(glob.glob(os.path.join(ROOT, 'clickhouse', 'queries', '*.sql'))):
            sql = open(path).read().replace('${database}', 'netmeta').rstrip().rstrip(';')
            try:
                c.q(3, sql)
                ok, why = True, ''
            except cl.QueryError as e:
                ok, why = False, str(e)[:200]
            check(ok, 'query %s on the Distributed tables %s' % (os.path.basename(path), why))
    finally:
        c.ch_stop_many([k for k, _s, _r in c.ch_nodes()])
        c._stop_dir(c.zk_dir())
        if not FAILED:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print('kept %s' % work)
    print('%d failed' % len(FAILED))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
